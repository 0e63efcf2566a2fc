"""``herobm dataset info``: what a dataset holds."""

from __future__ import annotations

from collections import Counter

import numpy as np
from MDAnalysis.lib.distances import self_capped_distance

from .store import DatasetReader

__all__ = ["mean_neighbours", "dataset_info"]


def mean_neighbours(positions: np.ndarray, cutoff: float, box: np.ndarray | None) -> float:
    """Mean number of other beads within ``cutoff`` Å of each bead (periodic if ``box``)."""
    box = box if box is not None and np.all(box[:3] > 0) else None
    pairs = self_capped_distance(positions.astype(np.float32), cutoff, box=box, return_distances=False)
    return 2.0 * len(pairs) / max(len(positions), 1)


def dataset_info(folder: str, cutoff: float = 10.0, sample_frames: int = 20) -> str:
    """A printable summary of a dataset folder."""
    ds = DatasetReader(folder)
    lines = [f"dataset {folder}: mapping {ds.meta['mapping']}, seed {ds.meta['seed']}, created {ds.meta['created']}"]
    for split in sorted({s.split for s in ds.systems}):
        sel = ds.split(split)
        lines.append(
            f"  {split:<6} {len(sel):>5} systems {sum(s.n_frames for s in sel):>8} frames "
            f"{sum(s.n_beads * s.n_frames for s in sel):>10} bead-frames "
            f"{sum(s.n_residues * s.n_frames for s in sel):>9} residue-frames"
        )
    types: Counter = Counter()
    slots: dict[int, int] = {}
    for s in ds.systems:
        topo = ds.topology(s.name)
        types.update(topo["bead_type"].tolist())
        per_bead = np.bincount(topo["slot_bead"], minlength=len(topo["bead_type"]))
        for t, n in zip(topo["bead_type"], per_bead):
            slots[int(t)] = int(n)
    names = {v: k for k, v in sorted(ds.mapping.bead_types.items(), key=lambda kv: -kv[1])}
    lines.append(f"  bead types present: {len(types)} of {ds.mapping.n_bead_types}")
    lines.append(f"  rebuilt atoms per bead: mean {np.mean(list(slots.values())):.2f}, max {max(slots.values())}")
    for t, n in sorted(types.items()):
        lines.append(f"    type {t:>3} {names.get(t, '?'):<12} beads {n:>7}  atoms/bead {slots[t]}")
    rng = np.random.default_rng(0)
    frames = list(ds.frames())
    pick = [frames[i] for i in rng.choice(len(frames), size=min(sample_frames, len(frames)), replace=False)]
    counts = []
    for name, f in pick:
        topo = ds.topology(name)
        beads = np.asarray(topo.cg_matrix @ np.asarray(ds.positions(name)[f], dtype=np.float64))
        counts.append(mean_neighbours(beads, cutoff, np.asarray(ds.boxes(name)[f])))
    lines.append(f"  mean neighbours within {cutoff:g} A: {np.mean(counts):.1f} (over {len(pick)} frames)")
    return "\n".join(lines)
