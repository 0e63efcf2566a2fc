"""The non-learned floor: mean vectors per (bead type, slot) in a local bead frame.

Fits :class:`herobm.baseline.MeanVectorBaseline` on the ``train`` split of a dataset
(e.g. the corpus recipe of docs/corpus.md) and reports heavy-atom RMSD (Å) of the
rebuilt atoms on the benchmark structures, which are never in the corpus:
adenylate kinase (PDB_small, PDB_closed) and the lipids of the YiiP system.

usage: python benchmarks/baseline.py DATASET [--max-frames N]
"""

from __future__ import annotations

import argparse
import time

import MDAnalysis as mda
import numpy as np
import torch
from MDAnalysisTests.datafiles import GRO_MEMPROT, PDB_closed, PDB_small

from herobm.baseline import MeanVectorBaseline, frame_partners
from herobm.coarse_grain import bead_positions
from herobm.data import DatasetReader, read_sample
from herobm.reconstruct import RebuildIndex, rebuild_atoms, true_vectors
from herobm.system import map_atoms


def fit(ds: DatasetReader, max_frames: int) -> MeanVectorBaseline:
    mset = ds.mapping
    base = MeanVectorBaseline.empty(mset.n_bead_types, mset.max_slots)
    frames = list(ds.frames("train"))
    rng = np.random.default_rng(0)
    if len(frames) > max_frames:
        frames = [frames[i] for i in sorted(rng.choice(len(frames), max_frames, replace=False))]
    for name, f in frames:
        s = read_sample(ds, name, f)
        partners = frame_partners(s.bead_residue, s.residue_next, s.residue_bead)
        base.add(s.bead_pos, s.bead_type, s.vectors, s.vector_mask, partners)
    return base


def score(base: MeanVectorBaseline, mset, path: str, selection: str) -> tuple[float, float, int]:
    u = mda.Universe(path)
    atoms = u.select_atoms(selection)
    system = map_atoms(atoms, mset)
    x = atoms.positions.astype(float)
    beads = bead_positions(system, x, u.dimensions)
    partners = frame_partners(system.bead_residue, system.residue_next, system.residue_bead)
    pred = base.predict(beads, system.bead_type, partners)
    index = RebuildIndex.from_system(system)
    got = rebuild_atoms(torch.tensor(beads), torch.tensor(pred), index).numpy()
    from herobm.coarse_grain import make_residues_whole

    truth = make_residues_whole(system, x, u.dimensions)[system.rebuilt_atoms]
    zero = rebuild_atoms(torch.tensor(beads), torch.zeros_like(torch.tensor(pred)), index).numpy()
    rmsd = float(np.sqrt(((got - truth) ** 2).sum(1).mean()))
    rmsd0 = float(np.sqrt(((zero - truth) ** 2).sum(1).mean()))
    return rmsd, rmsd0, len(truth)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset")
    p.add_argument("--max-frames", type=int, default=2000)
    a = p.parse_args()
    ds = DatasetReader(a.dataset)
    t0 = time.perf_counter()
    base = fit(ds, a.max_frames)
    print(f"fitted on {a.dataset} (train split, up to {a.max_frames} frames) in {time.perf_counter() - t0:.1f} s")
    print("| structure | atoms | baseline heavy RMSD (Å) | all vectors zero (Å) |")
    print("|---|---|---|---|")
    for label, path, sel in [
        ("adenylate kinase open (PDB_small)", PDB_small, "protein"),
        ("adenylate kinase closed (PDB_closed)", PDB_closed, "protein"),
        ("YiiP lipids (GRO_MEMPROT, POPE/POPG)", GRO_MEMPROT, "resname POPE POPG"),
    ]:
        r, r0, n = score(base, ds.mapping, path, sel)
        print(f"| {label} | {n} | {r:.2f} | {r0:.2f} |")


if __name__ == "__main__":
    main()
