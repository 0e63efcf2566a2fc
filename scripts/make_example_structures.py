"""Write the small all-atom example structures in examples/ from SMILES (needs RDKit).

* ``examples/ibuprofen.pdb``: (S)-ibuprofen, residue IBP, hand-chosen atom names
  (heavy atoms C1..C13, O1, O2; hydrogens named after their heavy atom), used by
  the ``example`` mapping set and ``docs/custom-molecules.md``.
* ``examples/chl1.pdb``: cholesterol with CHARMM36 atom names (residue CHL1),
  named by matching the bond graph of the SMILES molecule to OpenMM's CHARMM36
  CHL1 template. ``scripts/make_martini3_lipids.py`` uses it to root the
  cholesterol beads; the tests round-trip it.

One conformer each: RDKit ETKDGv3 with a fixed seed, then MMFF94 minimisation,
so the output is reproducible for a given RDKit version (written in a REMARK).
RDKit is not a herobm dependency; use a throwaway environment::

    python -m venv /tmp/rdkit-env
    /tmp/rdkit-env/bin/pip install rdkit networkx openmm
    /tmp/rdkit-env/bin/python scripts/make_example_structures.py
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import openmm.app
import rdkit
from rdkit import Chem
from rdkit.Chem import AllChem

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240607

# (S)-ibuprofen (dexibuprofen); heavy atoms in SMILES order get the names below
IBUPROFEN_SMILES = "CC(C)CC1=CC=C(C=C1)[C@H](C)C(=O)O"
IBUPROFEN_HEAVY = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11", "C12", "C13", "O1", "O2"]
# cholesterol, PubChem CID 5997 isomeric SMILES
CHOLESTEROL_SMILES = "C[C@H](CCCC(C)C)[C@H]1CC[C@@H]2[C@@]1(CC[C@H]3[C@H]2CC=C4[C@@]3(CC[C@@H](C4)O)C)C"


def conformer(smiles: str) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise RuntimeError(f"embedding failed for {smiles}")
    AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
    return mol


def ibuprofen_names(mol: Chem.Mol) -> list[str]:
    """Heavy atoms by SMILES order; each hydrogen after its heavy atom: H<n> for one,
    H<n>A, H<n>B, ... for several (HO2 for the acid hydrogen)."""
    names = [""] * mol.GetNumAtoms()
    for i, n in enumerate(IBUPROFEN_HEAVY):
        names[i] = n
    for heavy in range(len(IBUPROFEN_HEAVY)):
        hs = [nb.GetIdx() for nb in mol.GetAtomWithIdx(heavy).GetNeighbors() if nb.GetAtomicNum() == 1]
        base = names[heavy]
        for k, h in enumerate(hs):
            if base.startswith("O"):
                names[h] = "H" + base
            elif len(hs) == 1:
                names[h] = "H" + base[1:]
            else:
                names[h] = "H" + base[1:] + "ABC"[k]
    assert all(names) and len(set(names)) == len(names)
    return names


def charmm_template(resname: str) -> nx.Graph:
    path = os.path.join(os.path.dirname(openmm.app.__file__), "data", "charmm36.xml")
    for _, el in ET.iterparse(path):
        if el.tag == "Residue" and el.get("name") == resname:
            g = nx.Graph()
            for a in el.findall("Atom"):
                g.add_node(a.get("name"), element=a.get("name")[0])
            g.add_edges_from((b.get("atomName1"), b.get("atomName2")) for b in el.findall("Bond"))
            return g
    raise KeyError(resname)


def template_names(mol: Chem.Mol, resname: str) -> list[str]:
    """Name the atoms of ``mol`` after the CHARMM36 template by graph isomorphism."""
    g = nx.Graph()
    for a in mol.GetAtoms():
        g.add_node(a.GetIdx(), element=a.GetSymbol())
    g.add_edges_from((b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds())
    t = charmm_template(resname)
    gm = nx.algorithms.isomorphism.GraphMatcher(g, t, node_match=lambda x, y: x["element"] == y["element"])
    match = next(gm.isomorphisms_iter(), None)
    if match is None:
        raise RuntimeError(f"SMILES molecule does not match the CHARMM36 {resname} template")
    return [match[i] for i in range(mol.GetNumAtoms())]


def write_pdb(mol: Chem.Mol, names: list[str], resname: str, path: Path, title: str, order=None) -> None:
    """HETATM records (in ``order``, default the molecule's) with elements and CONECT bonds."""
    order = list(range(mol.GetNumAtoms())) if order is None else list(order)
    serial = {idx: k for k, idx in enumerate(order, start=1)}
    pos = mol.GetConformer().GetPositions()
    lines = [
        f"REMARK   1 {title}",
        f"REMARK   1 written by scripts/make_example_structures.py (RDKit {rdkit.__version__}, "
        f"ETKDGv3 seed {SEED}, MMFF94)",
    ]
    for i, idx in enumerate(order, start=1):
        a, name, xyz = mol.GetAtomWithIdx(idx), names[idx], pos[idx]
        el = a.GetSymbol()
        field = name if len(name) == 4 else f" {name:<3}"
        lines.append(
            f"HETATM{i:5d} {field}{'':1}{resname:<4}A{1:4d}    {xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}"
            f"  1.00  0.00          {el:>2}"
        )
    for idx in order:
        partners = sorted(serial[nb.GetIdx()] for nb in mol.GetAtomWithIdx(idx).GetNeighbors())
        lines.append("CONECT" + "".join(f"{j:5d}" for j in [serial[idx]] + partners))
    lines.append("END")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({mol.GetNumAtoms()} atoms)")


def main() -> None:
    ibu = conformer(IBUPROFEN_SMILES)
    Chem.AssignStereochemistryFrom3D(ibu)
    cip = ibu.GetAtomWithIdx(10).GetPropsAsDict().get("_CIPCode")
    assert cip == "S", f"expected (S)-ibuprofen, got {cip}"
    title = "(S)-ibuprofen " + IBUPROFEN_SMILES
    write_pdb(ibu, ibuprofen_names(ibu), "IBP", ROOT / "examples" / "ibuprofen.pdb", title)
    chl = conformer(CHOLESTEROL_SMILES)
    names = template_names(chl, "CHL1")
    rank = {n: k for k, n in enumerate(charmm_template("CHL1").nodes)}  # template atom order
    order = sorted(range(len(names)), key=lambda i: rank[names[i]])
    write_pdb(chl, names, "CHL1", ROOT / "examples" / "chl1.pdb", "cholesterol, CHARMM36 names", order)


if __name__ == "__main__":
    main()
