"""Bond-graph and internal-coordinate helpers on plain arrays (Å, radians)."""

from __future__ import annotations

import numpy as np

__all__ = ["neighbour_table", "angles_from_bonds", "torsions_from_bonds", "dihedrals", "bond_lengths", "bond_angles"]


def neighbour_table(bonds: np.ndarray, n_atoms: int) -> np.ndarray:
    """(n_atoms, max_degree) bonded neighbours of every atom, padded with -1."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    src = np.concatenate([bonds[:, 0], bonds[:, 1]])
    dst = np.concatenate([bonds[:, 1], bonds[:, 0]])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    deg = np.bincount(src, minlength=n_atoms)
    width = int(deg.max()) if len(deg) and deg.max() > 0 else 1
    table = np.full((n_atoms, width), -1, dtype=np.int64)
    first = np.r_[0, np.cumsum(deg)[:-1]]
    col = np.arange(len(src)) - first[src]
    table[src, col] = dst
    return table


def angles_from_bonds(bonds: np.ndarray, n_atoms: int) -> np.ndarray:
    """(n_angles, 3) atom triplets i-j-k with i < k, both bonded to j."""
    table = neighbour_table(bonds, n_atoms)
    w = table.shape[1]
    a, b = np.triu_indices(w, k=1)
    i, k = table[:, a], table[:, b]  # (n_atoms, n_pairs)
    j = np.broadcast_to(np.arange(n_atoms)[:, None], i.shape)
    ok = (i >= 0) & (k >= 0)
    tri = np.stack([np.minimum(i, k)[ok], j[ok], np.maximum(i, k)[ok]], axis=1)
    return tri.reshape(-1, 3)


def torsions_from_bonds(bonds: np.ndarray, n_atoms: int) -> np.ndarray:
    """(n_torsions, 4) proper torsions i-j-k-l along every bond j-k (i != k, l != j, i != l)."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    table = neighbour_table(bonds, n_atoms)
    j, k = bonds[:, 0], bonds[:, 1]
    i = table[j][:, :, None]  # (nb, w, 1)
    l = table[k][:, None, :]  # (nb, 1, w)
    jj = np.broadcast_to(j[:, None, None], (len(j), table.shape[1], table.shape[1]))
    kk = np.broadcast_to(k[:, None, None], jj.shape)
    ii = np.broadcast_to(i, jj.shape)
    ll = np.broadcast_to(l, jj.shape)
    ok = (ii >= 0) & (ll >= 0) & (ii != kk) & (ll != jj) & (ii != ll)
    return np.stack([ii[ok], jj[ok], kk[ok], ll[ok]], axis=1).reshape(-1, 4)


def bond_lengths(x: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Lengths (Å) of bonds (n, 2) in coordinates x (n_atoms, 3)."""
    return np.linalg.norm(x[bonds[:, 0]] - x[bonds[:, 1]], axis=-1)


def bond_angles(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Angles (radians) i-j-k for triplets (n, 3). An angle with coincident atoms (a
    zero-length arm) is undefined and reported as π/2, so it counts as an error instead
    of turning every statistic into NaN."""
    u = x[angles[:, 0]] - x[angles[:, 1]]
    v = x[angles[:, 2]] - x[angles[:, 1]]
    norm = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cos = (u * v).sum(-1) / np.maximum(norm, 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def dihedrals(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> np.ndarray:
    """IUPAC dihedral angles (radians, -π..π) of point quadruplets, vectorised over leading axes."""
    b0 = p0 - p1
    b1 = p2 - p1
    b2 = p3 - p2
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - (b0 * b1n).sum(-1, keepdims=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdims=True) * b1n
    x = (v * w).sum(-1)
    y = (np.cross(b1n, v) * w).sum(-1)
    return np.arctan2(y, x)
