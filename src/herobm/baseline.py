"""A non-learned floor for every model: mean vectors in a local bead frame.

For every (bead type, slot) the training set gives the mean of the true vector
expressed in a frame built from two neighbouring beads; prediction rotates that
mean back. The frame of a bead uses, in this order of preference, the backbone
beads of the previous and next residue and the other beads of its own residue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["frame_partners", "local_frames", "MeanVectorBaseline"]


def frame_partners(bead_residue: np.ndarray, residue_next: np.ndarray, residue_bead: np.ndarray) -> np.ndarray:
    """(B, 2) indices of the two beads that define each bead's frame, -1 if missing."""
    B = len(bead_residue)
    R = len(residue_next)
    prev = np.full(R, -1, dtype=np.int64)
    has_next = np.flatnonzero(residue_next >= 0)
    prev[residue_next[has_next]] = has_next
    by_res: dict[int, list[int]] = {}
    for b, r in enumerate(bead_residue):
        by_res.setdefault(int(r), []).append(b)
    out = np.full((B, 2), -1, dtype=np.int64)
    for b, r in enumerate(bead_residue):
        cand = []
        p, n = prev[r], residue_next[r]
        if p >= 0 and residue_bead[p] >= 0:
            cand.append(int(residue_bead[p]))
        if n >= 0 and residue_bead[n] >= 0:
            cand.append(int(residue_bead[n]))
        cand += [x for x in by_res[int(r)] if x != b]
        cand = cand[:2]
        out[b, : len(cand)] = cand
    return out


def local_frames(bead_pos: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """(B, 3, 3) rotation matrices (columns e1, e2, e3) from partner beads; identity
    where a bead has fewer than two partners or they are collinear with it."""
    B = len(bead_pos)
    frames = np.broadcast_to(np.eye(3), (B, 3, 3)).copy()
    ok = (partners >= 0).all(axis=1)
    if not ok.any():
        return frames
    b = bead_pos[ok]
    u1 = bead_pos[partners[ok, 0]] - b
    u2 = bead_pos[partners[ok, 1]] - b
    e1 = u1 / np.linalg.norm(u1, axis=1, keepdims=True)
    e2 = u2 - (u2 * e1).sum(1, keepdims=True) * e1
    n2 = np.linalg.norm(e2, axis=1, keepdims=True)
    good = n2[:, 0] > 1e-6
    e2 = e2 / np.where(n2 > 1e-6, n2, 1.0)
    e3 = np.cross(e1, e2)
    m = np.stack([e1, e2, e3], axis=2)
    idx = np.flatnonzero(ok)[good]
    frames[idx] = m[good]
    return frames


@dataclass
class MeanVectorBaseline:
    """Mean true vector per (bead type, slot) in the local bead frame."""

    mean: np.ndarray  # (n_types, N, 3) Å, local frame
    count: np.ndarray  # (n_types, N)

    @classmethod
    def empty(cls, n_types: int, n_channels: int) -> "MeanVectorBaseline":
        return cls(np.zeros((n_types, n_channels, 3)), np.zeros((n_types, n_channels)))

    def add(self, bead_pos, bead_type, vectors, mask, partners) -> None:
        """Accumulate one sample's true vectors (B, N, 3) into the running means."""
        R = local_frames(bead_pos, partners)
        local = np.einsum("bji,bnj->bni", R, vectors)  # R^T v
        t = np.broadcast_to(bead_type[:, None], mask.shape)[mask]
        n = np.broadcast_to(np.arange(mask.shape[1])[None, :], mask.shape)[mask]
        total = self.mean * self.count[..., None]
        np.add.at(total, (t, n), local[mask])
        np.add.at(self.count, (t, n), 1)
        self.mean = total / np.maximum(self.count, 1)[..., None]

    def predict(self, bead_pos, bead_type, partners) -> np.ndarray:
        """(B, N, 3) predicted vectors in Å."""
        R = local_frames(bead_pos, partners)
        return np.einsum("bij,bnj->bni", R, self.mean[bead_type])
