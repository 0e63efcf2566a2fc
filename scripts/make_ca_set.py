"""Generate the ``ca`` mapping set: one bead per residue, on the C-alpha atom.

usage: python scripts/make_ca_set.py   (after scripts/make_martini3_proteins.py)

Writes ``src/herobm/mapping/data/ca/*.yaml`` (one file per residue type),
``settings.yaml`` and ``bead_types.yaml`` (via ``update_bead_types``: new beads
are appended, existing numbers kept; protonation variants share the type of
their parent residue). The output is deterministic.

Every residue has a single bead ``CA`` that sits on the CA atom (``P0A CM``);
all other heavy atoms are rebuilt from it breadth-first along the bonds (N, C
and CB at level 1, then O, OXT, CG, ...). Hydrogens are mapped with ``!``: they
belong to the bead, so a full-atom protein has no unmapped atom, but they are
not in the bead centre and not rebuilt. A C-alpha trace is therefore valid CG
input (bead ``CA`` of residue ``RES`` = the CA atom of ``RES``).

Residues, atom names and aliases are those of the protein files of the
``martini3`` set (``scripts/make_martini3_proteins.py``), so that both sets
accept the same inputs: the 20 amino acids, the variants HSD/HSE/HSP (HIS is an
alias of all three; the best match wins), CYX, ASPP, GLUP, LYN with their
AMBER/GROMACS residue aliases, the termini (H1-H3/HT1-HT3, OXT/OT2, HO
optional), and the caps ACE and NME (bead ``CA`` on their methyl carbon CH3).
Each atom line keeps the names of the martini3 file: PDB/AMBER first, CHARMM
and other spellings as aliases (``H,HN``).

Bonds for the hierarchy: vermouth's CHARMM blocks
(``vermouth_mappings('charmm', 'martini3001')[NAME].block_from``) plus C-OXT;
for the caps, OpenMM's ff14SB templates. The heavy-atom graph of every residue
is checked to be connected and cross-checked against OpenMM's ff14SB template.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import openmm.app

from herobm.mapping import AtomLine, BeadMembership, MoleculeMapping, dump_molecule, load_molecule, molecule_from_text
from herobm.mapping.bead_types import update_bead_types
from herobm.mapping.label import auto_label, is_hydrogen_name, with_template_bonds
from herobm.mapping.loader import BEAD_TYPES_FILE, SETTINGS_FILE
from herobm.mapping.vermouth_import import vermouth_mappings

ROOT = Path(__file__).resolve().parents[1]
MARTINI3 = ROOT / "src" / "herobm" / "mapping" / "data" / "martini3"
OUT = ROOT / "src" / "herobm" / "mapping" / "data" / "ca"
FF14SB = Path(os.path.dirname(openmm.app.__file__)) / "data" / "amber14" / "protein.ff14SB.xml"

CAPS = {"ACE", "NME"}  # bead on CH3
VERMOUTH_BLOCK = {"CYX": "CYS", "LYN": "LSN"}  # vermouth CHARMM block of a molecule, if named differently
FF14SB_TEMPLATE = {"HSD": "HID", "HSE": "HIE", "HSP": "HIP", "ASPP": "ASH", "GLUP": "GLH"}
SHARE = {"HSE": "HSD", "HSP": "HSD", "CYX": "CYS", "ASPP": "ASP", "GLUP": "GLU", "LYN": "LYS"}
SETTINGS = """\
# Settings of the 'ca' mapping set (written by scripts/make_ca_set.py).
name: ca
description: one bead per residue on the C-alpha atom; all heavy atoms rebuilt from it
weighting: mass
"""


def protein_molecules() -> list[MoleculeMapping]:
    """The amino acids (lines named N, CA and C) and caps of the martini3 set."""
    out = []
    for p in sorted(MARTINI3.glob("*.yaml")):
        if p.name in (BEAD_TYPES_FILE, SETTINGS_FILE):
            continue
        m = load_molecule(p)
        first = {line.name for line in m.atoms}
        if m.name in CAPS or {"N", "CA", "C"} <= first:
            out.append(m)
    if not out:
        raise SystemExit(f"{MARTINI3}: no protein files; run scripts/make_martini3_proteins.py first")
    return out


def ff14sb() -> dict[str, list[tuple[str, str]]]:
    out = {}
    for r in ET.parse(FF14SB).getroot().iter("Residue"):
        out.setdefault(r.get("name"), [(b.get("atomName1"), b.get("atomName2")) for b in r.findall("Bond")])
    return out


def heavy_graph(m: MoleculeMapping, bonds) -> set[frozenset]:
    """Heavy-atom bonds of ``bonds`` (names in any column of ``m``) as sets of line indices."""
    index = {}
    for i, line in enumerate(m.atoms):
        for n in line.names:
            index.setdefault(n, i)
    out = set()
    for a, b in bonds:
        if a in index and b in index and not is_hydrogen_name(a) and not is_hydrogen_name(b):
            out.add(frozenset((index[a], index[b])))
    return out


def bonds_for(m: MoleculeMapping, amber: dict) -> list[tuple[str, str]]:
    template = amber[FF14SB_TEMPLATE.get(m.name, m.name)]
    if m.name in CAPS:
        return template
    block = vermouth_mappings("charmm", "martini3001")[VERMOUTH_BLOCK.get(m.name, m.name)].block_from
    bonds = [(block.nodes[a].get("atomname", a), block.nodes[b].get("atomname", b)) for a, b in block.edges]
    bonds.append(("C", "OXT"))
    if heavy_graph(m, bonds) != heavy_graph(m, template + [("C", "OXT")]):
        raise SystemExit(f"{m.name}: vermouth's CHARMM bonds differ from OpenMM's ff14SB template")
    return bonds


def ca_molecule(m: MoleculeMapping, bonds) -> MoleculeMapping:
    centre = "CH3" if m.name in CAPS else "CA"
    heavy = [i for i, line in enumerate(m.atoms) if not is_hydrogen_name(line.name)]
    # connected heavy-atom graph: everything hangs off the centre
    edges = heavy_graph(m, bonds)
    reach, todo = set(), [next(i for i in heavy if m.atoms[i].name == centre)]
    while todo:
        u = todo.pop()
        reach.add(u)
        todo += [v for e in edges if u in e for v in e if v not in reach]
    if reach != set(heavy):
        lost = [m.atoms[i].name for i in sorted(set(heavy) - reach)]
        raise SystemExit(f"{m.name}: heavy atoms {lost} not bonded to {centre}")
    atoms = []
    for i, line in enumerate(m.atoms):
        if i in heavy:
            mem = BeadMembership(bead="CA", is_cm=line.name == centre)
        else:
            mem = BeadMembership(bead="CA", excluded=True)
        atoms.append(AtomLine(names=line.names, beads=(mem,), optional=line.optional))
    ca = MoleculeMapping(name=m.name, atoms=tuple(atoms), aliases=m.aliases, source=f"{m.name} (generated)")
    ca = auto_label(ca, bonds)  # the CM atom is level 0, the rest breadth-first
    links = {"ACE": (("C", "+N"),), "NME": (("N", "-C"),)}.get(m.name, (("C", "+N"),))
    return with_template_bonds(ca, bonds, links)


def main() -> None:
    amber = ff14sb()
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for src in protein_molecules():
        m = ca_molecule(src, bonds_for(src, amber))
        header = (
            f"{m.name}: 'ca' set, one bead CA on the "
            + ("methyl carbon CH3 of this cap" if m.name in CAPS else "C-alpha atom")
            + "; every heavy atom rebuilt from it.\n"
            "Generated by scripts/make_ca_set.py from the martini3 protein file "
            "(same names, aliases, variants): do not edit by hand.\n"
            "Hydrogens are mapped with '!' (not in the bead centre) and not rebuilt."
        )
        text = dump_molecule(m, header=header)
        again = molecule_from_text(text, m.name)
        assert again.atoms == m.atoms and again.aliases == m.aliases, f"{m.name} does not round-trip"
        path = OUT / f"{m.name.lower()}.yaml"
        path.write_text(text)
        written.append(path)
    (OUT / SETTINGS_FILE).write_text(SETTINGS)
    table = update_bead_types(OUT, share=SHARE)
    print(
        f"wrote {len(written)} molecule files, {SETTINGS_FILE} and {BEAD_TYPES_FILE} "
        f"({len(table)} beads, {len(set(table.values()))} types) to {OUT.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
