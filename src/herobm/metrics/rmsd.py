"""Positional deviations of matched atoms: RMSD (optionally minimum-image),
Kabsch superposition and the swap of chemically symmetric side-chain atoms.

All functions take ``(n, 3)`` float arrays in Å of atoms already matched
(row ``i`` of the prediction is row ``i`` of the reference).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "SYMMETRIC_ATOMS",
    "displacements",
    "rmsd",
    "kabsch",
    "superpose",
    "symmetry_groups",
    "symmetric_permutation",
]

# atoms that chemistry cannot tell apart, per residue (canonical names); the
# pairs of one residue swap together (a ring flip moves CD1/CD2 and CE1/CE2).
# LEU CD1/CD2 and VAL CG1/CG2 are prochiral, not equivalent, but are swapped too
# as is customary for backmapping and docking RMSDs.
SYMMETRIC_ATOMS: dict[str, tuple[tuple[str, str], ...]] = {
    "ASP": (("OD1", "OD2"),),
    "GLU": (("OE1", "OE2"),),
    "PHE": (("CD1", "CD2"), ("CE1", "CE2")),
    "TYR": (("CD1", "CD2"), ("CE1", "CE2")),
    "ARG": (("NH1", "NH2"),),
    "LEU": (("CD1", "CD2"),),
    "VAL": (("CG1", "CG2"),),
}


def _box_ok(box) -> bool:
    return box is not None and np.all(np.asarray(box)[:3] > 0)


def displacements(pred: np.ndarray, ref: np.ndarray, box: np.ndarray | None = None) -> np.ndarray:
    """``pred - ref`` (n, 3); with a box ``[lx, ly, lz, α, β, γ]`` the minimum image,
    so an atom written one box vector away still counts as in place."""
    d = np.asarray(pred, dtype=np.float64) - np.asarray(ref, dtype=np.float64)
    if _box_ok(box) and len(d):
        from MDAnalysis.lib.distances import minimize_vectors

        d = minimize_vectors(d, np.asarray(box, dtype=np.float64))
    return d


def rmsd(pred: np.ndarray, ref: np.ndarray, box: np.ndarray | None = None, mask: np.ndarray | None = None) -> float | None:
    """Root-mean-square deviation (Å) of matched atoms, no superposition; over
    ``mask`` when given. ``None`` when no atom is selected."""
    d = displacements(pred, ref, box)
    if mask is not None:
        d = d[np.asarray(mask, dtype=bool)]
    if len(d) == 0:
        return None
    return float(np.sqrt((d * d).sum(-1).mean()))


def kabsch(mobile: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``R`` (3, 3, proper) and translation ``t`` minimising
    ``|mobile @ R.T + t - target|`` (least squares, optionally weighted)."""
    mobile = np.asarray(mobile, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    w = np.ones(len(mobile)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    cm, ct = w @ mobile, w @ target
    H = ((mobile - cm) * w[:, None]).T @ (target - ct)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    D = np.diag([1.0, 1.0, d])
    R = Vt.T @ D @ U.T
    return R, ct - cm @ R.T


def superpose(mobile: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``mobile`` moved onto ``target`` by the optimal rigid motion (Kabsch)."""
    R, t = kabsch(mobile, target, weights)
    return np.asarray(mobile, dtype=np.float64) @ R.T + t


def symmetry_groups(
    residue: Sequence[int], names: Sequence[str], resnames: Sequence[str],
    table: dict[str, tuple[tuple[str, str], ...]] = SYMMETRIC_ATOMS,
) -> np.ndarray:
    """(G, P, 2) atom indices of the swappable pairs of every residue whose type
    is in ``table`` and has all those atoms (P = most pairs of a residue, padded
    with -1). ``residue[i]`` is atom ``i``'s residue, ``resnames[r]`` the residue's
    canonical name, ``names[i]`` the atom's canonical name."""
    index: dict[tuple[int, str], int] = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(residue, names))}
    width = max((len(v) for v in table.values()), default=1)
    groups = []
    for r in sorted(set(int(x) for x in residue)):
        pairs = table.get(str(resnames[r]))
        if not pairs:
            continue
        idx = [(index.get((r, a), -1), index.get((r, b), -1)) for a, b in pairs]
        if any(i < 0 or j < 0 for i, j in idx):
            continue
        groups.append(idx + [(-1, -1)] * (width - len(idx)))
    return np.asarray(groups, dtype=np.int64).reshape(-1, width, 2)


def symmetric_permutation(pred: np.ndarray, ref: np.ndarray, groups: np.ndarray, box=None) -> np.ndarray:
    """Permutation ``perm`` of the prediction's atoms such that ``pred[perm]``
    takes, in every symmetry group, the assignment (as is / all pairs swapped)
    closer to the reference in squared deviation."""
    n = len(pred)
    perm = np.arange(n)
    groups = np.asarray(groups, dtype=np.int64)
    if groups.size == 0:
        return perm
    a, b = groups[..., 0], groups[..., 1]
    valid = a >= 0
    ai, bi = np.where(valid, a, 0), np.where(valid, b, 0)

    def sq(i, j):
        d = displacements(pred[i.ravel()], ref[j.ravel()], box)
        return (d * d).sum(-1).reshape(i.shape)

    keep = np.where(valid, sq(ai, ai) + sq(bi, bi), 0.0).sum(1)
    swap = np.where(valid, sq(bi, ai) + sq(ai, bi), 0.0).sum(1)
    flip = swap < keep - 1e-12
    fa, fb = a[flip][valid[flip]], b[flip][valid[flip]]
    perm[fa] = fb
    perm[fb] = fa
    return perm
