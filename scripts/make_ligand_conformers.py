"""Training data for the example small-molecule model: conformers of (S)-ibuprofen.

Writes OUT/ibuprofen_conf.pdb (topology, atom names of examples/ibuprofen.pdb) and
OUT/ibuprofen_conf.dcd (one frame per conformer): RDKit ETKDGv3 conformers from a fixed
seed, each MMFF94-minimised, randomly rotated and translated (the model is equivariant,
but varied frames keep the tests of that honest). Needs RDKit (see
scripts/make_example_structures.py)::

    python scripts/make_ligand_conformers.py -o corpus/ligand --n 300
    herobm dataset build corpus/ligand/ibuprofen_conf.pdb,corpus/ligand/ibuprofen_conf.dcd -m example \\
        -o datasets/example-ligand --split train=0.9,val=0.1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import MDAnalysis as mda
import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).parent))
from make_example_structures import IBUPROFEN_SMILES, ibuprofen_names  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--n", type=int, default=300, help="conformers")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    mol = Chem.AddHs(Chem.MolFromSmiles(IBUPROFEN_SMILES))
    params = AllChem.ETKDGv3()
    params.randomSeed = a.seed
    params.pruneRmsThresh = 0.1
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=a.n, params=params))
    AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=2000)
    Chem.AssignStereochemistryFrom3D(mol, confId=ids[0])
    names = ibuprofen_names(mol)
    rng = np.random.default_rng(a.seed)
    u = mda.Universe.empty(mol.GetNumAtoms(), n_residues=1, atom_resindex=np.zeros(mol.GetNumAtoms(), int),
                           trajectory=True)
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("resnames", ["IBP"])
    u.add_TopologyAttr("resids", [1])
    u.add_TopologyAttr("elements", [at.GetSymbol() for at in mol.GetAtoms()])
    u.add_TopologyAttr("bonds", [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()])
    frames = []
    for cid in ids:
        x = mol.GetConformer(cid).GetPositions()
        rot = Rotation.random(random_state=rng).as_matrix()
        frames.append((x - x.mean(0)) @ rot.T + rng.uniform(-5, 5, 3))
    u.atoms.positions = frames[0]
    u.atoms.write(str(out / "ibuprofen_conf.pdb"))
    with mda.Writer(str(out / "ibuprofen_conf.dcd"), len(u.atoms)) as w:
        for f in frames:
            u.atoms.positions = f
            w.write(u.atoms)
    print(f"wrote {out / 'ibuprofen_conf.pdb'} and .dcd: {len(frames)} conformers")


if __name__ == "__main__":
    main()
