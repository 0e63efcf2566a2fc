"""Generate the lipid, sterol and ion mappings of the ``martini3`` mapping set.

usage: python scripts/make_martini3_lipids.py   (after scripts/make_martini3_proteins.py)

Writes one YAML file per molecule into ``src/herobm/mapping/data/martini3/``
(phospholipids ``popc.yaml`` ..., ``chl1.yaml``, ``ion_*.yaml``) and then adds
their bead types with ``update_bead_types`` (append-only: existing numbers,
e.g. those of the protein files in the same folder, are kept). The protein
files share bead types between variants, which only their generator knows, so
this script stops if a protein file has no bead types yet. It never touches
other files. The output is deterministic.

Sources
-------
* Bead definitions: the published Martini 3 lipid mappings (Souza et al.,
  Nat. Methods 2021; the mapping that memback ships in ``maps/all_maps.map``),
  written here as rules on CHARMM36 heavy-atom names: head-group beads,
  PO4/GL1/GL2, and acyl chains cut into beads of four carbons counted from the
  chain end (the first bead takes the rest); a bead holding a double bond is
  named ``D`` instead of ``C``. Every hydrogen goes to the bead of the heavy
  atom it is bonded to. ``tests/test_martini3_lipids.py`` compares the result
  with memback's map atom by atom.
* Cholesterol: the Martini 3 cholesterol of Borges-Araujo et al. (JCTC 2023,
  github.com/Martini-Force-Field-Initiative/M3-Sterol-Parameters), 9 beads.
  ROH, R3, R4, R5 and R6 are virtual sites there (mass 0, built from R1, R2,
  C1 and C2), but the model's atom-to-bead mapping gives each of them an atom
  group, the construction parameters were fitted to those groups' centres and
  CG trajectories contain their positions. So every bead, virtual or not, is an
  ordinary bead here (centre of its atoms) that rebuilds its own atoms: each
  heavy atom of CHL1 belongs to exactly one bead and is rebuilt from it.
* Bonds: OpenMM's CHARMM36 residue templates (``openmm/app/data/charmm36.xml``).
* Hierarchy roots: a real conformation per lipid, so that each bead is rooted
  at the atom nearest its (mass-weighted) centre: OpenMM's lipid patches
  (``openmm/app/data/{POPC,POPE,DOPC,DPPC,DMPC,DLPC,DLPE}.pdb``, residue 1),
  the first POPG of MDAnalysisTests' ``GRO_MEMPROT`` and ``examples/chl1.pdb``
  (see ``scripts/make_example_structures.py``).
* Ions: one bead per ion, on the ion (``P0A CM``); ZNM (the cationic dummy
  zinc of MDAnalysisTests' YiiP system) rebuilds its six dummy atoms DM1..DM6
  at level 1 from the zinc bead.

Residue and atom aliases cover how real files spell the names: 3-letter
residue names (OpenMM's patches write POPC and POPE both as ``POP``, DLPC and
DLPE both as ``DLP``; the mapping whose atom names fit best wins), and
4-character heavy-atom names rotated the old PDB way (``C210`` written
``0C21`` in OpenMM's DOPC/DPPC/DMPC/DLPC/DLPE patches).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
import xml.etree.ElementTree as ET
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import openmm.app
import yaml
from MDAnalysis.lib.distances import minimize_vectors
from MDAnalysisTests.datafiles import GRO_MEMPROT

from herobm.mapping import (
    AtomLine,
    BeadMembership,
    MoleculeMapping,
    bead_key,
    dump_molecule,
    load_molecule,
    molecule_from_text,
)
from herobm.mapping.bead_types import update_bead_types
from herobm.mapping.label import with_template_bonds, auto_label, is_hydrogen_name
from herobm.mapping.loader import BEAD_TYPES_FILE, SETTINGS_FILE

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "herobm" / "mapping" / "data" / "martini3"
OPENMM_DATA = Path(os.path.dirname(openmm.app.__file__)) / "data"
CHARMM36 = OPENMM_DATA / "charmm36.xml"

# ----------------------------------------------------------------- lipids
HEADS = {  # head-group bead(s) before PO4
    "PC": [("NC3", "N C11 C12 C13 C14 C15")],
    "PE": [("NH3", "N C11 C12")],
    "PG": [("GL0", "C11 C12 C13 OC2 OC3")],
}
BACKBONE = [("PO4", "P O11 O12 O13 O14"), ("GL1", "C1 C2 O21 C21 O22"), ("GL2", "C3 O31 C31 O32")]
ACYL = {  # letter: (number of carbons, first carbons of cis double bonds)
    "L": (12, ()),  # lauroyl 12:0
    "M": (14, ()),  # myristoyl 14:0
    "P": (16, ()),  # palmitoyl 16:0
    "O": (18, (9,)),  # oleoyl 18:1 cis-9
}
# name: (head, acyl chain 2 = sn-2 = Martini chain A, acyl chain 3 = sn-1 = chain B,
#        residue aliases, structure for the hierarchy roots)
LIPIDS = {
    "POPC": ("PC", "O", "P", ["POP"], ("openmm", "POPC.pdb")),
    "POPE": ("PE", "O", "P", ["POP"], ("openmm", "POPE.pdb")),
    "POPG": ("PG", "O", "P", ["POP"], ("memprot", "POPG")),
    "DOPC": ("PC", "O", "O", ["DOP"], ("openmm", "DOPC.pdb")),
    "DPPC": ("PC", "P", "P", ["DPP"], ("openmm", "DPPC.pdb")),
    "DMPC": ("PC", "M", "M", ["DMP"], ("openmm", "DMPC.pdb")),
    "DLPC": ("PC", "L", "L", ["DLP"], ("openmm", "DLPC.pdb")),
    "DLPE": ("PE", "L", "L", ["DLP"], ("openmm", "DLPE.pdb")),
}

# ------------------------------------------------------------- cholesterol
CHL1_BEADS = [  # Martini 3 cholesterol; ROH, R3, R4, R5, R6 are virtual sites in the CG model
    ("ROH", "C2 C3 C4 O3"),
    ("R1", "C5 C6 C7 C8"),
    ("R2", "C1 C9 C10"),
    ("R3", "C14 C15 C16"),
    ("R4", "C11 C12 C13"),
    ("R5", "C19"),
    ("R6", "C18"),
    ("C1", "C17 C20 C21 C22"),
    ("C2", "C23 C24 C25 C26 C27"),
]
STEROLS = {"CHL1": (CHL1_BEADS, ["CHOL", "CHL"], ("file", "examples/chl1.pdb"))}

# -------------------------------------------------------------------- ions
# molecule: (bead, atom names, residue aliases, extra atoms rebuilt at level 1 from the ion)
IONS = {
    "NA": ("NA", ("NA", "SOD", "Na+", "NA+"), ["SOD", "Na+", "NA+"], []),
    "CL": ("CL", ("CL", "CLA", "Cl-", "CL-"), ["CLA", "Cl-", "CL-"], []),
    "K": ("K", ("K", "POT", "K+"), ["POT", "K+"], []),
    "CA": ("CA", ("CA", "CAL", "Ca2+"), ["CAL", "Ca2+"], []),
    "MG": ("MG", ("MG", "Mg2+"), ["Mg2+", "MG2"], []),
    "ZN": ("ZN", ("ZN", "Zn2+"), ["ZN2", "Zn2+"], []),
    "ZNM": ("ZN", ("ZND", "ZN"), [], [f"DM{i}" for i in range(1, 7)]),  # cationic dummy zinc
}


def read_templates(names: set[str]) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """``{residue: (atom names in template order, bonds)}`` from OpenMM's CHARMM36."""
    out = {}
    for _, el in ET.iterparse(CHARMM36):
        if el.tag == "Residue" and el.get("name") in names and el.get("name") not in out:
            atoms = [a.get("name") for a in el.findall("Atom")]
            bonds = [(b.get("atomName1"), b.get("atomName2")) for b in el.findall("Bond")]
            out[el.get("name")] = (atoms, bonds)
    missing = names - set(out)
    if missing:
        raise SystemExit(f"{CHARMM36}: no template for {', '.join(sorted(missing))}")
    return out


def tail_beads(chain: int, acyl: str) -> list[tuple[str, str]]:
    """Beads of acyl chain ``chain`` (2 -> A, 3 -> B): carbons C{chain}2..C{chain}n in
    groups of four from the chain end; the first group takes what is left."""
    n, double = ACYL[acyl]
    carbons = list(range(2, n + 1))
    k = round(len(carbons) / 4)
    sizes = [len(carbons) - 4 * (k - 1)] + [4] * (k - 1)
    letter = {2: "A", 3: "B"}[chain]
    beads, start = [], 0
    for i, size in enumerate(sizes):
        group = carbons[start : start + size]
        start += size
        kind = "D" if any(d in group and d + 1 in group for d in double) else "C"
        beads.append((f"{kind}{i + 1}{letter}", " ".join(f"C{chain}{c}" for c in group)))
    return beads


def lipid_beads(head: str, sn2: str, sn1: str) -> list[tuple[str, str]]:
    return HEADS[head] + BACKBONE + tail_beads(2, sn2) + tail_beads(3, sn1)


def rotated(name: str) -> str | None:
    """Old-PDB spelling of a 4-character name ending in a digit (``C210`` -> ``0C21``)."""
    return name[-1] + name[:-1] if len(name) == 4 and name[-1].isdigit() else None


def canonical(name: str, known: set[str]) -> str:
    """Template name of a structure's atom name (undoes the old-PDB rotation)."""
    if name in known:
        return name
    unrot = name[1:] + name[0]
    return unrot if name[0].isdigit() and unrot in known else name


def assign_atoms(template_atoms, bonds, heavy_beads, molecule: str) -> dict[str, str]:
    """atom -> bead: heavy atoms from ``heavy_beads``, each hydrogen with its heavy atom."""
    bead_of = {}
    for bead, atoms in heavy_beads:
        for a in atoms.split():
            if a not in template_atoms:
                raise SystemExit(f"{molecule}: atom {a} of bead {bead} is not in the CHARMM36 template")
            if a in bead_of:
                raise SystemExit(f"{molecule}: atom {a} in beads {bead_of[a]} and {bead}")
            bead_of[a] = bead
    for a in template_atoms:
        if a in bead_of:
            continue
        if not is_hydrogen_name(a):
            raise SystemExit(f"{molecule}: heavy atom {a} is in no bead")
        partners = [y for x, y in bonds if x == a] + [x for x, y in bonds if y == a]
        heavy = [p for p in partners if not is_hydrogen_name(p)]
        if len(heavy) != 1:
            raise SystemExit(f"{molecule}: hydrogen {a} is bonded to {heavy}")
        bead_of[a] = bead_of[heavy[0]]
    return bead_of


def reference_residue(source: tuple[str, str]):
    """(atom names, positions in Å, masses) of one real residue, made whole across the box."""
    kind, what = source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "openmm":
            u = mda.Universe(str(OPENMM_DATA / what))
            res = u.select_atoms("not resname HOH").residues[0]
        elif kind == "memprot":
            u = mda.Universe(GRO_MEMPROT)
            res = u.select_atoms(f"resname {what}").residues[0]
        else:
            u = mda.Universe(str(ROOT / what))
            res = u.residues[0]
    pos = res.atoms.positions.astype(np.float64)
    if u.dimensions is not None and np.all(u.dimensions[:3] > 1.0):
        d = minimize_vectors((pos - pos[0]).astype(np.float32), u.dimensions.astype(np.float32))
        pos = pos[0] + d
    return res.atoms.names, pos, res.atoms.masses.astype(float)


def build_molecule(name, aliases, heavy_beads, template, source) -> tuple[MoleculeMapping, str]:
    atoms_t, bonds = template
    bead_of = assign_atoms(atoms_t, bonds, heavy_beads, name)
    order = {b: i for i, (b, _) in enumerate(heavy_beads)}
    lines = []
    for a in sorted(atoms_t, key=lambda a: (order[bead_of[a]], atoms_t.index(a))):
        alt = rotated(a) if not is_hydrogen_name(a) else None
        names = (a, alt) if alt and alt not in atoms_t else (a,)
        lines.append(AtomLine(names=names, beads=(BeadMembership(bead=bead_of[a]),)))
    m = MoleculeMapping(name=name, atoms=tuple(lines), aliases=tuple(aliases), source=f"{name} (generated)")
    known = set(atoms_t)
    names, pos, masses = reference_residue(source)
    canon = [canonical(n, known) for n in names]
    if sorted(canon) != sorted(atoms_t):
        raise SystemExit(f"{name}: reference residue atoms differ from the CHARMM36 template: "
                         f"{sorted(set(canon) ^ set(atoms_t))}")
    m = auto_label(
        m,
        bonds,
        positions=dict(zip(canon, pos)),
        masses=dict(zip(canon, masses)),
    )
    m = with_template_bonds(m, bonds)
    where = {"openmm": "OpenMM's {}", "memprot": "the first {} of MDAnalysisTests GRO_MEMPROT", "file": "{}"}
    return m, where[source[0]].format(source[1])


def ion_molecule(name: str) -> MoleculeMapping:
    bead, atom_names, aliases, extra = IONS[name]
    lines = [AtomLine(names=atom_names, beads=(BeadMembership(bead=bead, is_cm=True),))]
    lines += [AtomLine(names=(x,), beads=(BeadMembership(bead=bead),)) for x in extra]
    m = MoleculeMapping(name=name, atoms=tuple(lines), aliases=tuple(aliases), source=f"{name} (generated)")
    # no bonds: the ion is level 0 (its CM), every extra atom a level-1 piece of its own
    m = auto_label(m, [], hydrogens=set())
    # template bonds: a dummy-atom ion (ZNM) holds its dummies on the central atom
    return with_template_bonds(m, [(atom_names[0], x) for x in extra], hydrogens=set())


# Lipid and sterol beads sit on the plain centre of all their atoms, hydrogens included:
# the Martini 3 parametrisation convention and memback's training data. Measured with the
# lipid model: docs/models.md. (The protein files keep the set's mass weighting.)
GEOMETRIC_NOTE = ("Bead centres: centres of geometry of all atoms, hydrogens included (weighting: geometric);\n"
                  "hydrogens are not rebuilt. Bead roots: the heavy atom nearest the mass-weighted centre.")


def write(m: MoleculeMapping, filename: str, header: str) -> Path:
    text = dump_molecule(m, header=header)
    again = molecule_from_text(text, filename)
    assert (again.atoms, again.aliases, again.bonds, again.weighting) == (m.atoms, m.aliases, m.bonds, m.weighting), \
        f"{filename} does not round-trip"
    path = OUT / filename
    path.write_text(text)
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    templates = read_templates(set(LIPIDS) | set(STEROLS))
    written = []
    for name, (head, sn2, sn1, aliases, source) in LIPIDS.items():
        m, ref = build_molecule(name, aliases, lipid_beads(head, sn2, sn1), templates[name], source)
        written.append(write(replace(m, weighting="geometric"), f"{name.lower()}.yaml", (
            f"{name}: Martini 3 lipid mapping (Souza et al. 2021; as in memback's all_maps.map), CHARMM36 names.\n"
            f"Generated by scripts/make_martini3_lipids.py: do not edit by hand.\n"
            f"Bonds from OpenMM's CHARMM36 template {name}; bead roots from {ref}.\n"
            f"{GEOMETRIC_NOTE}")))
    for name, (beads, aliases, source) in STEROLS.items():
        m, ref = build_molecule(name, aliases, beads, templates[name], source)
        written.append(write(replace(m, weighting="geometric"), f"{name.lower()}.yaml", (
            f"{name}: Martini 3 cholesterol (Borges-Araujo et al., JCTC 2023), CHARMM36 names.\n"
            f"Generated by scripts/make_martini3_lipids.py: do not edit by hand.\n"
            f"ROH, R3, R4, R5 and R6 are virtual sites in the CG model; here every bead is the\n"
            f"centre of its atoms and rebuilds them, so that each heavy atom is rebuilt from one bead.\n"
            f"Bonds from OpenMM's CHARMM36 template {name}; bead roots from {ref}.\n"
            f"{GEOMETRIC_NOTE}")))
    for name in IONS:
        m = ion_molecule(name)
        extra = " and the dummy atoms DM1..DM6 (level 1)" if IONS[name][3] else ""
        written.append(write(m, f"ion_{name.lower()}.yaml", (
            f"{name} ion: one bead on the ion (level 0, CM){extra}.\n"
            f"Generated by scripts/make_martini3_lipids.py: do not edit by hand.")))
    # The protein files in this folder share bead types between variants, which only
    # their own generator knows: let it number its beads first.
    types_path = OUT / BEAD_TYPES_FILE
    known = set(yaml.safe_load(types_path.read_text()) or {}) if types_path.exists() else set()
    for p in sorted(OUT.glob("*.yaml")):
        if p in written or p.name in (BEAD_TYPES_FILE, SETTINGS_FILE):
            continue
        other = load_molecule(p)
        if any(bead_key(other.name, b) not in known for b in other.beads):
            raise SystemExit(
                f"{p.name} has beads without a type in {BEAD_TYPES_FILE}; run the generator of that file "
                f"(scripts/make_martini3_proteins.py) first, then this one again"
            )
    table = update_bead_types(OUT)
    for p in written:
        print(f"wrote {p.relative_to(ROOT)}")
    print(f"{OUT.relative_to(ROOT)}/bead_types.yaml: {len(table)} beads")


if __name__ == "__main__":
    main()
