"""Bead graphs: neighbour lists within a cutoff (periodic boxes included) and edge flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from MDAnalysis.lib.distances import self_capped_distance, transform_RtoS, triclinic_vectors

__all__ = [
    "Graph", "neighbour_list", "edge_flags", "n_edge_flags", "sequence_flag",
    "EDGE_SAME", "EDGE_NEXT", "EDGE_PREV", "EDGE_OTHER",
]

# edge categories fed to the network: bead j relative to centre bead i. With a sequence
# range k > 1, flags 2s / 2s+1 mark the residue s bonds further along / back the chain (s <= k).
EDGE_OTHER, EDGE_SAME, EDGE_NEXT, EDGE_PREV = 0, 1, 2, 3


def sequence_flag(s: int) -> int:
    """Edge flag of the residue ``s`` bonds along (s > 0) or back (s < 0) the chain from the
    centre's: 2|s| or 2|s| + 1 (s = ±1 gives EDGE_NEXT / EDGE_PREV)."""
    if s == 0:
        raise ValueError("sequence_flag: s must not be 0 (the centre's own residue is EDGE_SAME)")
    return 2 * abs(s) + (s < 0)


def n_edge_flags(sequence_range: int = 1) -> int:
    """Number of edge categories for a sequence range (1: other, same, next, previous)."""
    return 2 + 2 * sequence_range


@dataclass
class Graph:
    """A bead graph as torch tensors. Edges are directed, centre first:
    ``edge_index[0]`` is the bead whose output the edge feeds."""

    pos: torch.Tensor  # (B, 3) Å
    bead_type: torch.Tensor  # (B,) long
    edge_index: torch.Tensor  # (2, E) long
    edge_shift: torch.Tensor  # (E, 3) Å, periodic image shift: vec = pos[j] - pos[i] + shift
    edge_flag: torch.Tensor  # (E,) long, EDGE_*

    def to(self, device) -> "Graph":
        return Graph(*(getattr(self, f).to(device) for f in ("pos", "bead_type", "edge_index", "edge_shift", "edge_flag")))

    @property
    def n_nodes(self) -> int:
        return self.pos.shape[0]


def neighbour_list(pos: np.ndarray, cutoff: float, box: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, closer than ``cutoff`` Å (minimum image when a
    box ``[lx, ly, lz, α, β, γ]`` is given). Returns (2, E) indices and (E, 3) shifts such
    that ``pos[j] - pos[i] + shift`` is the minimum-image vector."""
    pos = np.asarray(pos, dtype=np.float64)
    use_box = box is not None and np.all(np.asarray(box[:3]) > 0)
    if use_box and cutoff >= 0.5 * float(np.min(np.asarray(box[:3]))):
        raise ValueError(f"cutoff {cutoff} Å is not smaller than half the box ({box[:3]})")
    pairs = self_capped_distance(
        pos.astype(np.float32), cutoff, box=np.asarray(box, dtype=np.float32) if use_box else None,
        return_distances=False,
    )
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = pos[j] - pos[i]
    shift = np.zeros_like(d)
    if use_box:
        tv = triclinic_vectors(np.asarray(box, dtype=np.float64))
        frac = transform_RtoS(d.astype(np.float64), np.asarray(box, dtype=np.float64)).astype(np.float64)
        shift = -np.round(frac) @ tv
        # triclinic rounding can miss the true minimum image: keep only edges within cutoff
        ok = np.linalg.norm(d + shift, axis=1) < cutoff
        i, j, shift = i[ok], j[ok], shift[ok]
    order = np.lexsort((j, i))
    return np.stack([i[order], j[order]]), shift[order]


def edge_flags(edge_index: np.ndarray, bead_residue: np.ndarray, residue_next: np.ndarray,
               sequence_range: int = 1) -> np.ndarray:
    """EDGE_SAME within a residue, EDGE_NEXT / EDGE_PREV to the bonded next / previous
    residue, EDGE_OTHER otherwise. With ``sequence_range`` k > 1 also ``2s`` / ``2s + 1``
    for the residue s <= k bonds along / back the chain (the nearest count wins in rings)."""
    if sequence_range < 1:
        raise ValueError(f"sequence_range must be >= 1, got {sequence_range}")
    ri = bead_residue[edge_index[0]]
    rj = bead_residue[edge_index[1]]
    nxt = np.asarray(residue_next, dtype=np.int64)
    out = np.full(edge_index.shape[1], EDGE_OTHER, dtype=np.int64)
    out[ri == rj] = EDGE_SAME
    ahead, behind = ri.copy(), rj.copy()  # walk from i forwards (finds j ahead) and from j forwards (i ahead)
    for s in range(1, sequence_range + 1):
        ahead = np.where(ahead >= 0, nxt[np.maximum(ahead, 0)], -1)
        behind = np.where(behind >= 0, nxt[np.maximum(behind, 0)], -1)
        out[(out == EDGE_OTHER) & (ahead == rj)] = sequence_flag(s)
        out[(out == EDGE_OTHER) & (behind == ri)] = sequence_flag(-s)
    return out
