"""Force field for refinement, residue templates by heavy atoms, and dummy templates for
residues the force field does not know.

Default: OpenMM's Amber14 (``amber14-all.xml``: ff14SB proteins, OL15/OL3 nucleic
acids and Lipid17 lipids, which in OpenMM carry whole-lipid templates named POPC, POPE,
POPG, CHL1, ... with CHARMM36 atom names, the names herobm's Martini 3 lipid mappings
rebuild) plus ``amber14/tip3p.xml`` (water and ions). One force field for proteins
and membranes, so a membrane protein is parameterised consistently.

Residues without a template are not dropped: :class:`DummyTemplates` turns each into
uncharged, weakly repulsive dummy atoms that :func:`herobm.refine.minimize.minimize`
keeps fixed (zero mass).
"""

from __future__ import annotations

from collections import defaultdict

__all__ = [
    "DEFAULT_FORCEFIELD",
    "RESIDUE_ALIASES",
    "load_forcefield",
    "TemplateIndex",
    "DummyTemplates",
    "add_template_bonds",
]

DEFAULT_FORCEFIELD = ("amber14-all.xml", "amber14/tip3p.xml")

# residue names written by CHARMM/GROMACS/Martini tools -> force-field template names
RESIDUE_ALIASES = {"POP": "POPC", "CHOL": "CHL1", "CHL": "CHL1"}

DUMMY_PREFIX = "herobm-dummy-"
DUMMY_SIGMA_NM = 0.30
DUMMY_EPSILON = 0.1  # kJ/mol: soft, only keeps neighbours from passing through


def load_forcefield(files=DEFAULT_FORCEFIELD):
    """A fresh ``openmm.app.ForceField`` (fresh because dummy templates get registered in it)."""
    from openmm import app

    return app.ForceField(*files)


def _is_h(el) -> bool:
    return el is not None and el.symbol == "H"


class TemplateIndex:
    """Force-field residue templates looked up by residue name (or alias) and by the set of
    heavy-atom names, for residues OpenMM's hydrogen definitions do not cover (lipids,
    sterols, ligands with templates)."""

    def __init__(self, forcefield):
        self.ff = forcefield
        self.by_heavy: dict[frozenset, list[str]] = defaultdict(list)
        for name, t in forcefield._templates.items():
            heavy = frozenset(a.name for a in t.atoms if not _is_h(a.element))
            if heavy:
                self.by_heavy[heavy].append(name)

    @staticmethod
    def _heavy(t) -> frozenset:
        return frozenset(a.name for a in t.atoms if not _is_h(a.element))

    def find(self, residue):
        """The template whose heavy-atom names equal the residue's: by name/alias first,
        else the only template with that heavy-atom set. None if none or ambiguous."""
        heavy = frozenset(a.name for a in residue.atoms() if not _is_h(a.element))
        if not heavy:
            return None
        for name in (residue.name, RESIDUE_ALIASES.get(residue.name)):
            t = self.ff._templates.get(name) if name else None
            if t is not None and self._heavy(t) == heavy:
                return t
        cands = self.by_heavy.get(heavy, [])
        if len(cands) == 1:
            return self.ff._templates[cands[0]]
        return None

    @staticmethod
    def hydrogens(template) -> list[tuple[str, str]]:
        """(hydrogen name, parent name) pairs of a template."""
        out = []
        for i, j in template.bonds:
            a, b = template.atoms[i], template.atoms[j]
            if _is_h(a.element) and not _is_h(b.element):
                out.append((a.name, b.name))
            elif _is_h(b.element) and not _is_h(a.element):
                out.append((b.name, a.name))
        return out


def add_template_bonds(topology, index: TemplateIndex) -> list[str]:
    """Bond residues that have atoms but no internal bond (e.g. lipids read from a PDB
    without CONECT records) from their template, by atom name. Returns residue names bonded."""
    internal = defaultdict(int)
    for a, b in topology.bonds():
        if a.residue is b.residue:
            internal[a.residue.index] += 1
    done = []
    for res in topology.residues():
        atoms = list(res.atoms())
        if len(atoms) < 2 or internal[res.index]:
            continue
        t = index.find(res)
        if t is None:
            continue
        by_name = {a.name: a for a in atoms}
        for i, j in t.bonds:
            a, b = by_name.get(t.atoms[i].name), by_name.get(t.atoms[j].name)
            if a is not None and b is not None:
                topology.addBond(a, b)
        done.append(res.name)
    return done


class DummyTemplates:
    """OpenMM template generator: a residue no template matches gets a template of its own
    atoms (as they are, bonds included) with uncharged dummy types (σ 0.30 nm, ε 0.1 kJ/mol),
    so ``createSystem`` succeeds and the residue stays in the system. :meth:`matched`
    lists the residues that got such templates, to be named in warnings and fixed in place.

    Works with force fields whose nonbonded terms are a ``NonbondedForce`` (Amber), plus a
    ``LennardJonesForce`` (CHARMM36); others (AMOEBA, implicit solvent) are not supported.
    """

    def __init__(self):
        self.residues: list = []  # residues the generator was called for
        self._count = 0

    def install(self, forcefield) -> "DummyTemplates":
        forcefield.registerTemplateGenerator(self)
        return self

    def matched(self, forcefield, topology) -> list:
        """Residues of ``topology`` that match a dummy template: those the generator was
        called for and every later residue identical to one of them."""
        if not self.residues:
            return []
        # ForceField.getMatchingTemplates would raise on residues that only match through
        # patches (CHARMM termini); dummy templates always match directly
        bonded = forcefield._buildBondedToAtomList(topology)
        out = []
        for r in topology.residues():
            t, _ = forcefield._getResidueTemplateMatches(r, bonded)
            if t is not None and t.name.startswith(DUMMY_PREFIX):
                out.append(r)
        return out

    def _type(self, forcefield, el) -> str:
        from openmm.app.forcefield import LennardJonesGenerator, NonbondedGenerator

        sym = el.symbol if el is not None else "X"
        name = f"herobm-dummy-{sym}"
        if name not in forcefield._atomTypes:
            params = {"name": name, "class": name, "mass": el.mass._value if el is not None else 12.0}
            if el is not None:
                params["element"] = sym
            forcefield.registerAtomType(params)
            gens = [g for g in forcefield._forces if isinstance(g, NonbondedGenerator)]
            if not gens:
                raise ValueError("dummy templates need a force field with a NonbondedForce")
            gens[0].registerAtom({"type": name, "charge": 0.0, "sigma": DUMMY_SIGMA_NM, "epsilon": DUMMY_EPSILON})
            for lj in (g for g in forcefield._forces if isinstance(g, LennardJonesGenerator)):  # CHARMM36
                lj.registerLennardJones({"type": name, "sigma": DUMMY_SIGMA_NM, "epsilon": DUMMY_EPSILON})
        return name

    def __call__(self, forcefield, residue) -> bool:
        from openmm.app import ForceField

        self._count += 1
        t = ForceField._TemplateData(f"{DUMMY_PREFIX}{residue.name}-{self._count}")
        index = {}
        for k, a in enumerate(residue.atoms()):
            t.addAtom(ForceField._TemplateAtomData(a.name, self._type(forcefield, a.element), a.element, {"charge": 0.0}))
            index[a] = k
        # templates are matched by their bond graph: copy the residue's, external bonds too
        for a, b in residue.internal_bonds():
            t.addBond(index[a], index[b])
        for a, b in residue.external_bonds():
            if a in index:
                t.addExternalBond(index[a])
            elif b in index:
                t.addExternalBond(index[b])
        forcefield.registerResidueTemplate(t)
        self.residues.append(residue)
        return True
