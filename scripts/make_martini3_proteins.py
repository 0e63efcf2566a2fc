"""Generate the protein mappings (amino acids, ACE/NME caps) of the ``martini3`` mapping set.

usage: python scripts/make_martini3_proteins.py

Writes one YAML file per residue type into ``src/herobm/mapping/data/martini3/``
(``ala.yaml`` ... ``val.yaml``, the protonation variants ``hse.yaml``, ``hsp.yaml``,
``cyx.yaml``, ``aspp.yaml``, ``glup.yaml``, ``lyn.yaml``, the caps ``ace.yaml`` and
``nme.yaml``) and ``settings.yaml``, then adds the bead types of these files with
``update_bead_types`` (existing numbers, e.g. those of the lipid files in the same
folder, are kept; variants share their parent's types). It never touches other
files. The output is deterministic for a given vermouth / OpenMM version.

Sources
-------
* Bead definitions: vermouth's ``martini3001`` mappings (the data martinize2 uses),
  CHARMM side: ``vermouth/data/mappings/martini3001/<res>.charmm36.map`` plus the
  modifications martinize2 applies to a CHARMM structure
  (``modifications.charmm36.mapping``): ``N-ter`` / ``C-ter`` / ``COOH-ter`` for the
  terminal atoms and ``LYS-HZ3`` for lysine (vermouth's CHARMM LYS block has no HZ
  atoms, so martinize2 maps every charged lysine through that modification, which also
  puts HE1/HE2 into the SC2 centre). Weights and ``!`` flags are copied exactly; when
  vermouth's AMBER mapping of the residue says something else, the file says so in a
  comment and the CHARMM mapping is kept.
* Bead order: vermouth's target block (``BB SC1 SC2 ...``), which is the order of
  martinize2's output (TYR: SC3 = CD2/CE2 before SC4 = CZ/OH, although tyr.charmm36.map
  lists CZ first). Lines are grouped by bead so that beads appear in that order; inside
  a bead they keep the order of the .map file. A protonation variant uses its parent's
  order, so that beads sharing a bead type have the same atom in every rebuild slot.
* Bonds: vermouth's CHARMM blocks (+ the modification and terminal atoms). They give
  the hierarchy labels (``auto_label`` with ``roots={'BB': 'CA'}``: CA level 1, N and C
  level 2, O and the optional OXT level 3 on C; side-chain beads rooted at their graph
  centre) and the ``bonds:`` template of each file (heavy atoms, plus the peptide link
  ``C +N``).
  Every heavy atom is rebuilt in every bead it is in; hydrogens are mapped (they count
  in the bead centres) but not rebuilt.
* Atom names: first column AMBER (LEaP / PDB names, from OpenMM's
  ``amber14/protein.ff14SB.xml``), second CHARMM (vermouth's CHARMM blocks), where they
  differ; then other spellings: GROMACS ports (vermouth's AMBER blocks, OPLS, GROMOS),
  CHARMM terminal names (OT1/OT2, HT1-HT3, PROP's HN1/HN2), GROMACS terminal names
  (OC1/OC2, O1/O2) and old-PDB names with the digit first (``1HD1``, ``2HB``).
  Hydrogens on one heavy atom are paired by identical name first (AMBER HB2 = CHARMM
  HB2, AMBER HB3 = CHARMM HB1), so that every name appears on exactly one line of a
  file and a residue matches the same way whatever convention (or mix) it uses.
* Caps: ACE and NME are molecules of their own with one bead ``BB`` holding every
  atom of the cap (weights 1, as vermouth's NCAP-ter/CCAP-ter modifications give
  them). martinize2 instead folds the cap atoms into the BB bead of the neighbouring
  residue, so around caps herobm's beads differ from martinize2's.
"""

from __future__ import annotations

import os
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import openmm.app
import vermouth
import vermouth.forcefield
import vermouth.map_input

from herobm.mapping import AtomLine, BeadMembership, MoleculeMapping, dump_molecule, molecule_from_text
from herobm.mapping.bead_types import update_bead_types
from herobm.mapping.label import auto_label, is_hydrogen_name

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "herobm" / "mapping" / "data" / "martini3"
FF14SB = Path(os.path.dirname(openmm.app.__file__)) / "data" / "amber14" / "protein.ff14SB.xml"

SETTINGS = """\
# Martini 3 mapping set: proteins (martinize2 / vermouth martini3001), lipids, sterols, ions.
name: martini3
description: Martini 3 (proteins as martinize2 maps them, lipids, cholesterol, ions)
weighting: mass
"""


@dataclass(frozen=True)
class Residue:
    """One molecule file: where its data come from."""

    name: str  # molecule name (CHARMM residue name) and file name
    charmm: str  # vermouth CHARMM block / martini3001 mapping
    amber: str | None  # vermouth AMBER mapping to compare with
    leap: str  # OpenMM ff14SB residue template (AMBER names)
    aliases: tuple[str, ...] = ()
    parent: str | None = None  # shares the parent's bead types
    mods: tuple[str, ...] = ()  # vermouth CHARMM modifications martinize2 always applies
    drop: tuple[str, ...] = ()  # CHARMM atoms the variant does not have
    notes: tuple[str, ...] = ()


RESIDUES = [
    Residue("ALA", "ALA", "ALA", "ALA"),
    Residue("ARG", "ARG", "ARG", "ARG"),
    Residue("ASN", "ASN", "ASN", "ASN"),
    Residue("ASP", "ASP", "ASP", "ASP"),
    Residue(
        "ASPP", "ASPP", "ASH", "ASH", ("ASH", "ASPH", "ASP"), parent="ASP",
        notes=("Also answers to ASP, so that an ASP residue carrying HD2 is mapped (HD2 then "
               "counts 0, as in aspp.charmm36.map; martinize2's ASP-HD2 modification would "
               "count it 1).",),
    ),
    Residue("CYS", "CYS", "CYS", "CYS", ("CYSH",)),
    Residue(
        "CYX", "CYS", None, "CYX", ("CYS2", "CYM"), parent="CYS", drop=("HG1",),
        notes=("Disulfide-bonded (or deprotonated) cysteine: the CYS mapping without HG; "
               "vermouth has no separate CYX mapping.",),
    ),
    Residue("GLN", "GLN", "GLN", "GLN"),
    Residue("GLU", "GLU", "GLU", "GLU"),
    Residue(
        "GLUP", "GLUP", "GLH", "GLH", ("GLH", "GLUH", "GLU"), parent="GLU",
        notes=("Also answers to GLU, so that a GLU residue carrying HE2 is mapped (HE2 then "
               "counts 0, as in glup.charmm36.map; martinize2's GLU-HE2 modification would "
               "count it 1).",),
    ),
    Residue("GLY", "GLY", "GLY", "GLY"),
    Residue("HSD", "HSD", "HID", "HID", ("HID", "HIS", "HISD", "HISA")),
    Residue("HSE", "HSE", "HIE", "HIE", ("HIE", "HIS", "HISE", "HISB"), parent="HSD"),
    Residue("HSP", "HSP", "HIP", "HIP", ("HIP", "HSH", "HISH", "HIS"), parent="HSD"),
    Residue("ILE", "ILE", "ILE", "ILE"),
    Residue("LEU", "LEU", "LEU", "LEU"),
    Residue("LYS", "LYS", "LYS", "LYS", ("LYSH",), mods=("LYS-HZ3",)),
    Residue(
        "LYN", "LSN", "LYN", "LYN", ("LSN", "LYSN"), parent="LYS",
        notes=("Neutral lysine, from lsn.charmm36.map: HE1/HE2 do not count here, while "
               "they do in LYS (LYS-HZ3 modification).",),
    ),
    Residue("MET", "MET", "MET", "MET"),
    Residue("PHE", "PHE", "PHE", "PHE"),
    Residue("PRO", "PRO", "PRO", "PRO"),
    Residue("SER", "SER", "SER", "SER"),
    Residue("THR", "THR", "THR", "THR"),
    Residue(
        "TRP", "TRP", "TRP", "TRP",
        notes=("HB2 is in SC2 (excluded from its centre) while HB1 is in SC1: kept as "
               "vermouth has it (trp.charmm36.map and trp.amber.map agree).",),
    ),
    Residue("TYR", "TYR", "TYR", "TYR"),
    Residue("VAL", "VAL", "VAL", "VAL"),
]
SHARE = {r.name: r.parent for r in RESIDUES if r.parent}

# terminal atoms: (AMBER/PDB name, other spellings); martinize2 maps them to BB with weight 1
# (vermouth modifications N-ter, C-ter, COOH-ter, checked below)
N_TER = [("H1", ("HT1",)), ("H2", ("HT2",)), ("H3", ("HT3",))]  # NH3+ (CHARMM NTER/GLYP/NNEU)
N_TER_PRO = [("H1", ("HN1", "HT1")), ("H2", ("HN2", "HT2")), ("H3", ("HT3",))]  # CHARMM PROP, AMBER NPRO
C_TER_O = ("OT1", "OC1", "O1")  # other names of O at the C terminus (CHARMM, GROMACS, GROMOS)
C_TER_OXT = ("OXT", ("OT2", "OC2", "O2"))
C_TER_H = ("HXT", ("HO",))  # protonated C terminus (PDB HXT, vermouth COOH-ter HO)

CAPS = {  # molecule: (atom lines (AMBER name, other spellings), bonds); PDB names the NME carbon C
    "ACE": (
        [("CH3",), ("HH31", "H1"), ("HH32", "H2"), ("HH33", "H3"), ("C",), ("O",)],
        [("CH3", "C"), ("C", "O"), ("CH3", "HH31"), ("CH3", "HH32"), ("CH3", "HH33")],
    ),
    "NME": (
        [("N",), ("H", "HN"), ("CH3", "C"), ("HH31", "H1"), ("HH32", "H2"), ("HH33", "H3")],
        [("N", "CH3"), ("N", "H"), ("CH3", "HH31"), ("CH3", "HH32"), ("CH3", "HH33")],
    ),
}


# ------------------------------------------------------------------ vermouth data
def load_vermouth():
    data = vermouth.DATA_PATH
    ffs = vermouth.forcefield.find_force_fields(os.path.join(data, "force_fields"))
    maps = vermouth.map_input.read_mapping_directory(os.path.join(data, "mappings"), ffs)
    return ffs, maps


def mapping_weights(vm) -> dict[str, dict[str, float]]:
    """``{atom name: {bead name: weight}}`` of a vermouth Mapping, in file order."""
    out = {}
    for atom, beads in vm.mapping.items():
        aname = vm.block_from.nodes[atom].get("atomname", atom) if atom in vm.block_from.nodes else atom
        out[str(aname)] = {
            str(vm.block_to.nodes[b].get("atomname", b) if b in vm.block_to.nodes else b): float(w)
            for b, w in beads.items()
        }
    return out


def raw_map_atoms(filename: str) -> list[str]:
    """Atom names listed in the ``[ atoms ]`` section of a vermouth martini3001 .map file."""
    path = Path(vermouth.DATA_PATH) / "mappings" / "martini3001" / filename
    names, section = [], None
    for line in path.read_text().splitlines():
        line = line.split(";")[0].strip()
        if line.startswith("["):
            section = line.strip("[] ").lower()
        elif line and section == "atoms":
            names.append(line.split()[1])
    return names


def bead_order(vm) -> list[str]:
    return [str(vm.block_to.nodes[b].get("atomname", b)) for b in vm.block_to.nodes]


def block_graph(block) -> tuple[list[str], list[tuple[str, str]]]:
    names = [block.nodes[n]["atomname"] for n in block.nodes]
    bonds = [(block.nodes[a]["atomname"], block.nodes[b]["atomname"]) for a, b in block.edges]
    return names, bonds


def read_leap() -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """``{residue: (atom names, bonds)}`` of OpenMM's ff14SB templates (AMBER / PDB names)."""
    out = {}
    for res in ET.parse(FF14SB).getroot().iter("Residue"):
        atoms = [a.get("name") for a in res.findall("Atom")]
        bonds = [(b.get("atomName1"), b.get("atomName2")) for b in res.findall("Bond")]
        out[res.get("name")] = (atoms, bonds)
    return out


# ------------------------------------------------------------ graph correspondence
def neighbours(bonds) -> dict[str, set[str]]:
    adj: dict[str, set[str]] = {}
    for a, b in bonds:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    return adj


def correspond(ref_atoms, ref_bonds, other_atoms, other_bonds) -> dict[str, str]:
    """ref atom name -> other atom name: heavy atoms by name, then by their bonded heavy
    atoms (ILE CD = CD1); hydrogens by parent heavy atom, identical names first."""
    ra, oa = neighbours(ref_bonds), neighbours(other_bonds)
    r_heavy = [a for a in ref_atoms if not is_hydrogen_name(a)]
    o_heavy = [a for a in other_atoms if not is_hydrogen_name(a)]
    out = {a: a for a in r_heavy if a in o_heavy}
    changed = True
    while changed:
        changed = False
        for a in r_heavy:
            if a in out:
                continue
            mapped = {out[n] for n in ra.get(a, ()) if n in out}
            cands = [b for b in o_heavy if b not in out.values() and mapped and
                     mapped <= oa.get(b, set()) and len([n for n in oa.get(b, ()) if not is_hydrogen_name(n)]) ==
                     len([n for n in ra.get(a, ()) if not is_hydrogen_name(n)])]
            if len(cands) == 1:
                out[a] = cands[0]
                changed = True
    for a in r_heavy:
        if a not in out:
            continue
        rh = [h for h in ref_atoms if is_hydrogen_name(h) and h in ra.get(a, ())]
        oh = [h for h in other_atoms if is_hydrogen_name(h) and h in oa.get(out[a], ())]
        same = [h for h in rh if h in oh]
        for h in same:
            out[h] = h
        for r, o in zip(sorted(h for h in rh if h not in same), sorted(h for h in oh if h not in same)):
            out[r] = o
    return out


def rotated(name: str) -> str | None:
    """Old-PDB spelling of a hydrogen name ending in a digit (``HD11`` -> ``1HD1``, ``HB2`` -> ``2HB``)."""
    if is_hydrogen_name(name) and len(name) >= 2 and name[-1].isdigit() and not name[0].isdigit():
        return name[-1] + name[:-1]
    return None


# ----------------------------------------------------------------- atom lines
@dataclass
class Line:
    names: list[str]  # AMBER, CHARMM, GROMACS name (duplicates removed); also written rotated
    beads: dict[str, float]  # bead -> vermouth weight (0 = '!')
    optional: bool = False
    key: str = ""  # CHARMM name (vermouth), for bookkeeping
    extra: list[str] = field(default_factory=list)  # further spellings, not rotated

    def names_out(self) -> tuple[str, ...]:
        out: list[str] = []
        for n in self.names + self.extra:
            if n and n not in out:
                out.append(n)
        for n in self.names:
            r = rotated(n) if n else None
            if r and r not in out:
                out.append(r)
        return tuple(out)


def atom_line(line: Line, order: list[str]) -> AtomLine:
    items = sorted(line.beads.items(), key=lambda kv: order.index(kv[0]))
    positive = [w for _, w in items if w > 0]
    members = []
    for bead, w in items:
        weight = None
        if len(items) > 1 and w > 0 and len(set(round(x, 9) for x in positive)) > 1:
            weight = Fraction(w / sum(positive)).limit_denominator(100)
        elif len(items) > 1 and w > 0 and len(positive) < len(items):
            weight = Fraction(1, len(positive))  # shared with a '!' bead: weights are explicit
        members.append(BeadMembership(bead=bead, excluded=(w == 0), weight=weight))
    return AtomLine(names=line.names_out(), beads=tuple(members), optional=line.optional)


def mod_weight(maps, mod: str, atom: str) -> dict[str, float]:
    return mapping_weights(maps["charmm"]["martini3001"][(mod,)])[atom]


def atom_rank(atoms: list[str], bonds, reference: list[str]) -> dict[str, float]:
    """Position of every atom: its place in ``reference``; an atom not there goes right after
    the atom it is bonded to (a hydrogen after its heavy atom)."""
    rank = {a: float(i) for i, a in enumerate(reference) if a in atoms}
    adj = neighbours(bonds)
    for k, a in enumerate(a for a in atoms if a not in rank):
        anchors = [rank[n] for n in adj.get(a, ()) if n in rank]
        rank[a] = (max(anchors) if anchors else len(reference)) + 0.001 * (k + 1)
    return rank


def build_residue(res: Residue, ffs, maps, leap, parent_order=None) -> tuple[MoleculeMapping, list[str], list[str]]:
    cmaps = maps["charmm"]["martini3001"]
    vm = cmaps[res.charmm]
    order = bead_order(vm)
    weights = mapping_weights(vm)
    c_atoms, c_bonds = block_graph(ffs["charmm"].blocks[res.charmm])
    # martinize2 maps the residue through these modifications: their weights win
    for mod in res.mods:
        mvm = cmaps[(mod,)]
        for atom, w in mapping_weights(mvm).items():
            weights[atom] = w
        m_atoms, m_bonds = block_graph(mvm.block_from)
        c_atoms += [a for a in m_atoms if a not in c_atoms]
        c_bonds += [b for b in m_bonds if b not in c_bonds and b[::-1] not in c_bonds]
    for a in res.drop:
        weights.pop(a)
        c_atoms.remove(a)
        c_bonds = [b for b in c_bonds if a not in b]
    unknown = set(weights) - set(c_atoms)
    for a in unknown:  # names in the .map that the CHARMM block lacks: vermouth ignores them
        weights.pop(a)
    missing = [a for a in c_atoms if a not in weights]
    if missing:
        raise SystemExit(f"{res.name}: CHARMM atoms {missing} are in no bead")
    for a, w in weights.items():
        if len(w) == 1 and list(w.values())[0] not in (0.0, 1.0):
            raise SystemExit(f"{res.name}: atom {a} has weight {w} in a single bead")

    l_atoms, l_bonds = leap[res.leap]
    to_leap = correspond(c_atoms, c_bonds, l_atoms, l_bonds)
    amber_names: dict[str, str] = {}
    comments: list[str] = []
    if res.amber:
        avm = maps["amber"]["martini3001"][res.amber]
        a_atoms, a_bonds = block_graph(ffs["amber"].blocks[res.amber])
        amber_names = correspond(c_atoms, c_bonds, a_atoms, a_bonds)
        aw = mapping_weights(avm)
        listed = raw_map_atoms(f"{res.amber.lower()}.amber.map")
        diffs = []
        for a in c_atoms:
            mine = {b: round(w, 6) for b, w in weights[a].items()}
            other_name = amber_names.get(a)
            other = aw.get(other_name) if other_name else None
            theirs = {b: round(w, 6) for b, w in other.items()} if other is not None else None
            if theirs == mine:
                continue
            shown = a if to_leap.get(a, a) == a else f"{to_leap[a]}/{a}"
            if theirs is not None:
                diffs.append(f"{shown}: CHARMM {fmt_w(mine)}, AMBER {fmt_w(theirs)}")
            elif other_name and other_name not in listed and a in listed:
                diffs.append(f"{shown}: CHARMM {fmt_w(mine)}; the AMBER map lists it as {a}, a name vermouth's "
                             f"AMBER block does not have ({other_name}), so martinize2 -from amber leaves it out")
            else:
                diffs.append(f"{shown}: CHARMM {fmt_w(mine)}, AMBER not mapped")
        if diffs:
            comments.append(f"vermouth's AMBER mapping ({res.amber.lower()}.amber.map) differs; the CHARMM "
                            f"mapping is kept:")
            comments += [f"- {d}" for d in diffs]
    lines = []
    for a in c_atoms:
        names = [to_leap.get(a, ""), a, amber_names.get(a, "")]
        lines.append(Line(names=names, beads=weights[a], key=a))
    # terminal atoms (vermouth modifications N-ter, C-ter, COOH-ter map them to BB, weight 1)
    for mod, atom in (("N-ter", "HN2"), ("N-ter", "HN3"), ("C-ter", "OXT"), ("COOH-ter", "HO")):
        if mod_weight(maps, mod, atom) != {"BB": 1}:
            raise SystemExit(f"vermouth modification {mod} no longer maps {atom} to BB with weight 1")
    by_key = {ln.key: ln for ln in lines}
    by_key["O"].extra += list(C_TER_O)
    n_ter = N_TER_PRO if res.name == "PRO" else N_TER
    lines += [Line(names=[n], extra=list(x), beads={"BB": 1.0}, optional=True, key=n) for n, x in n_ter]
    for n, x in (C_TER_OXT, C_TER_H):
        lines.append(Line(names=[n], extra=list(x), beads={"BB": 1.0}, optional=True, key=n))
    bonds = list(c_bonds) + [("C", "OXT"), ("OXT", "HXT")] + [("N", n) for n, _ in n_ter]
    # group by bead (first bead of the line in target order), inside a bead keep the order of
    # vermouth's .map file (a variant: its parent's order, so that shared bead types have the
    # same atom in every slot); terminal atoms follow their backbone neighbours
    reference = parent_order if parent_order is not None else list(weights)
    position = atom_rank(c_atoms, c_bonds, reference)
    after_h = "HN" if "HN" in position else "N"
    position.update({n: position[after_h] + 0.1 * (k + 1) for k, (n, _) in enumerate(n_ter)})
    position.update({"OXT": position["O"] + 0.1, "HXT": position["O"] + 0.2})
    lines.sort(key=lambda ln: (min(order.index(b) for b in ln.beads), position[ln.key]))
    check_unique(res.name, lines)
    atoms = tuple(atom_line(ln, order) for ln in lines)
    template = template_bonds(lines, bonds) + [("C", "+N")]
    m = MoleculeMapping(name=res.name, atoms=atoms, aliases=res.aliases, source=f"<{res.name}>", bonds=tuple(template))
    m = auto_label(m, bonds, roots={"BB": "CA"})
    if tuple(m.beads) != tuple(order):
        raise SystemExit(f"{res.name}: bead order {m.beads} is not vermouth's {order}")
    notes = list(res.notes) + comments
    return m, notes, [ln.key for ln in lines]


def template_bonds(lines: list[Line], bonds) -> list[tuple[str, str]]:
    """The bonds between heavy atoms by first (AMBER) names, in line order, for the
    ``bonds:`` section (hydrogens are not rebuilt, their bonds are left out)."""
    index = {n: i for i, ln in enumerate(lines) for n in ln.names_out()}
    index.update({ln.key: i for i, ln in enumerate(lines)})
    pairs = set()
    for a, b in bonds:
        if a not in index or b not in index:
            raise SystemExit(f"bond {a}-{b}: atom without a line")
        if not (is_hydrogen_name(a) or is_hydrogen_name(b)):
            pairs.add(tuple(sorted((index[a], index[b]))))
    return [(lines[i].names_out()[0], lines[j].names_out()[0]) for i, j in sorted(pairs)]


def fmt_w(w: dict[str, float] | None) -> str:
    if not w:
        return "-"
    return " ".join(f"{'!' if v == 0 else ''}{b}{'' if v in (0, 1) else f'={v:.3g}'}" for b, v in w.items())


def check_unique(name: str, lines: list[Line]) -> None:
    seen: dict[str, str] = {}
    for ln in lines:
        for n in ln.names_out():
            if n in seen:
                raise SystemExit(f"{name}: atom name {n} on two lines ({seen[n]}, {ln.key})")
            seen[n] = ln.key


def build_cap(name: str) -> MoleculeMapping:
    spec, bonds = CAPS[name]
    lines = [Line(names=list(names), beads={"BB": 1.0}, key=names[0]) for names in spec]
    check_unique(name, lines)
    template = template_bonds(lines, bonds) + ([("C", "+N")] if name == "ACE" else [])
    m = MoleculeMapping(
        name=name, atoms=tuple(atom_line(ln, ["BB"]) for ln in lines), source=f"<{name}>", bonds=tuple(template)
    )
    return auto_label(m, bonds)


# ------------------------------------------------------------------------ output
HEADER = """\
{name}: Martini 3 protein mapping, generated by scripts/make_martini3_proteins.py
from vermouth {version} ({source}): do not edit by hand.
Atom names: AMBER (LEaP/PDB), CHARMM where it differs, then other spellings
(GROMACS/OPLS/GROMOS, terminal names, old-PDB '1HD1'); each name is on one line only.
Terminal atoms (H1-H3/HT1-HT3, OXT/OT2, HXT/HO) are optional; OXT is rebuilt from BB."""


def check_labels(m: MoleculeMapping) -> None:
    """BB: CA level 1, N and C level 2, O (and OXT) level 3 on C; every heavy atom rebuilt."""
    names = {line.names[0]: i for i, line in enumerate(m.atoms)}
    if "CA" in names:
        lab = {a: m.label(names[a], "BB") for a in ("CA", "N", "C", "O", "OXT")}
        assert lab["CA"].level == 1, (m.name, lab)
        assert lab["N"].level == 2 and lab["N"].anchor == lab["CA"].id, (m.name, lab)
        assert lab["C"].level == 2 and lab["C"].anchor == lab["CA"].id, (m.name, lab)
        for o in ("O", "OXT"):
            assert lab[o].level == 3 and lab[o].anchor == lab["C"].id, (m.name, lab)
    for i, line in enumerate(m.atoms):
        heavy = not is_hydrogen_name(line.names[0])
        for mem in line.beads:
            assert (mem.label is not None) == heavy, (m.name, line.names, mem)


def slot_atoms(m: MoleculeMapping, bead: str) -> list[tuple[str, int, int]]:
    """(CHARMM name, level, anchor) of every rebuild slot of a bead."""
    return [(m.atoms[s.atom].names[min(1, len(m.atoms[s.atom].names) - 1)], s.level, s.anchor) for s in m.slots[bead]]


def check_same_slots(variant: MoleculeMapping, parent: MoleculeMapping) -> None:
    """A variant shares its parent's bead types: same beads, same atom in every slot."""
    assert variant.beads == parent.beads, (variant.name, parent.name)
    for b in parent.beads:
        assert slot_atoms(variant, b) == slot_atoms(parent, b), (variant.name, b)


def main() -> None:
    ffs, maps = load_vermouth()
    leap = read_leap()
    OUT.mkdir(parents=True, exist_ok=True)
    written, orders = {}, {}
    for res in RESIDUES:  # parents come before their variants
        m, notes, orders[res.name] = build_residue(res, ffs, maps, leap, orders.get(res.parent))
        source = f"{res.charmm.lower()}.charmm36.map" + "".join(f" + {mod}" for mod in res.mods)
        header = HEADER.format(name=res.name, version=vermouth.__version__, source=source)
        for note in notes:
            indent = "  " if note.startswith("- ") else ""
            header += "\n" + "\n".join(textwrap.wrap(note, 96, subsequent_indent=indent))
        written[res.name] = (m, header)
    for cap in CAPS:
        m = build_cap(cap)
        header = (
            f"{cap} cap: one bead BB with every atom of the cap (weights 1, as vermouth's NCAP-ter /\n"
            f"CCAP-ter modifications count them). Generated by scripts/make_martini3_proteins.py: do not\n"
            f"edit by hand. martinize2 does not make a cap bead: it folds the cap atoms into the BB\n"
            f"bead of the neighbouring residue."
        )
        written[cap] = (m, header)
    for variant, parent in SHARE.items():
        check_same_slots(written[variant][0], written[parent][0])
    for name, (m, header) in written.items():
        check_labels(m)
        text = dump_molecule(m, header=header)
        path = OUT / f"{name.lower()}.yaml"
        back = molecule_from_text(text, str(path))
        assert back.atoms == m.atoms and back.aliases == m.aliases and back.bonds == m.bonds, name
        path.write_text(text)
    (OUT / "settings.yaml").write_text(SETTINGS)
    table = update_bead_types(OUT, share=SHARE)
    mine = {k: v for k, v in table.items() if k.split("_")[0] in written}
    print(f"wrote {len(written)} molecule files; {len(mine)} protein beads, {len(set(mine.values()))} types")


if __name__ == "__main__":
    main()
