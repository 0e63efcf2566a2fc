"""Distributions of torsion angles: side-chain χ1/χ2 definitions and the
Kullback-Leibler divergence of a prediction's histograms from the reference's.

Angles are in degrees (-180..180); histograms are periodic-free (fixed bins
over the full circle), so a bin is a bin whatever the wrap.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .matching import is_amino_acid

__all__ = [
    "CHI1",
    "CHI2",
    "CHI2_SYMMETRIC",
    "chi_quads",
    "fold_symmetric",
    "angle_histogram",
    "kl_divergence",
    "kl_angles",
    "kl_phi_psi",
]

# side-chain torsions by residue (canonical names, IUPAC-IUB 1970)
CHI1 = {
    "ARG": ("N", "CA", "CB", "CG"), "ASN": ("N", "CA", "CB", "CG"), "ASP": ("N", "CA", "CB", "CG"),
    "CYS": ("N", "CA", "CB", "SG"), "GLN": ("N", "CA", "CB", "CG"), "GLU": ("N", "CA", "CB", "CG"),
    "HIS": ("N", "CA", "CB", "CG"), "ILE": ("N", "CA", "CB", "CG1"), "LEU": ("N", "CA", "CB", "CG"),
    "LYS": ("N", "CA", "CB", "CG"), "MET": ("N", "CA", "CB", "CG"), "PHE": ("N", "CA", "CB", "CG"),
    "PRO": ("N", "CA", "CB", "CG"), "SER": ("N", "CA", "CB", "OG"), "THR": ("N", "CA", "CB", "OG1"),
    "TRP": ("N", "CA", "CB", "CG"), "TYR": ("N", "CA", "CB", "CG"), "VAL": ("N", "CA", "CB", "CG1"),
}
CHI2 = {
    "ARG": ("CA", "CB", "CG", "CD"), "ASN": ("CA", "CB", "CG", "OD1"), "ASP": ("CA", "CB", "CG", "OD1"),
    "GLN": ("CA", "CB", "CG", "CD"), "GLU": ("CA", "CB", "CG", "CD"), "HIS": ("CA", "CB", "CG", "ND1"),
    "ILE": ("CA", "CB", "CG1", "CD1"), "LEU": ("CA", "CB", "CG", "CD1"), "LYS": ("CA", "CB", "CG", "CD"),
    "MET": ("CA", "CB", "CG", "SD"), "PHE": ("CA", "CB", "CG", "CD1"), "PRO": ("CA", "CB", "CG", "CD"),
    "TRP": ("CA", "CB", "CG", "CD1"), "TYR": ("CA", "CB", "CG", "CD1"),
}
# χ2 of these is defined only modulo 180° (OD1/OD2, CD1/CD2 are equivalent):
# folded into [-90, 90) before histogramming
CHI2_SYMMETRIC = frozenset({"ASP", "PHE", "TYR"})

DEFAULT_BINS = 36  # 10° bins
DEFAULT_PSEUDO = 1e-6  # pseudo-probability added to every bin


def chi_quads(residue: Sequence[int], names: Sequence[str], resnames: Sequence[str],
              table: dict[str, tuple[str, str, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) atom quads of one χ angle for every residue that has all four atoms,
    and (n,) its residue index."""
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(residue, names))}
    quads, res = [], []
    for r in sorted(set(int(x) for x in residue)):
        rn = str(resnames[r])
        if not is_amino_acid(rn) or rn not in table:
            continue
        q = [index.get((r, a), -1) for a in table[rn]]
        if min(q) >= 0:
            quads.append(q)
            res.append(r)
    return np.asarray(quads, dtype=np.int64).reshape(-1, 4), np.asarray(res, dtype=np.int64)


def fold_symmetric(angles_deg: np.ndarray, symmetric: np.ndarray) -> np.ndarray:
    """Angles of π-symmetric torsions folded into [-90, 90)."""
    a = np.asarray(angles_deg, dtype=np.float64).copy()
    s = np.asarray(symmetric, dtype=bool)
    a[s] = (a[s] + 90.0) % 180.0 - 90.0
    return a


def angle_histogram(*angles_deg: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Counts of 1-D or 2-D (one array per dimension) angles in ``bins`` equal bins
    over [-180, 180] per dimension."""
    edges = np.linspace(-180.0, 180.0, bins + 1)
    data = np.stack([np.asarray(a, dtype=np.float64).ravel() for a in angles_deg], axis=1)
    h, _ = np.histogramdd(data, bins=[edges] * len(angles_deg))
    return h


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, pseudo: float = DEFAULT_PSEUDO) -> float | None:
    """KL(P ‖ Q) = Σ p log(p / q) in nats, from histogram counts.

    Each histogram is normalised, ``pseudo`` is added to every bin and it is
    normalised again, so an empty bin of Q costs a finite amount. Identical
    histograms give exactly 0. ``None`` when either histogram is empty.
    """
    p = np.asarray(p_counts, dtype=np.float64).ravel()
    q = np.asarray(q_counts, dtype=np.float64).ravel()
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    p = p / p.sum() + pseudo
    q = q / q.sum() + pseudo
    p /= p.sum()
    q /= q.sum()
    return float(max(0.0, np.sum(p * np.log(p / q))))


def kl_angles(pred_deg: np.ndarray, ref_deg: np.ndarray, bins: int = DEFAULT_BINS, pseudo: float = DEFAULT_PSEUDO) -> float | None:
    """KL(REF ‖ PRED) of 1-D angle histograms: how badly the prediction's
    distribution covers the reference's (large when PRED misses populated REF bins)."""
    if len(np.asarray(pred_deg)) == 0 or len(np.asarray(ref_deg)) == 0:
        return None
    return kl_divergence(angle_histogram(ref_deg, bins=bins), angle_histogram(pred_deg, bins=bins), pseudo)


def kl_phi_psi(pred_phi: np.ndarray, pred_psi: np.ndarray, ref_phi: np.ndarray, ref_psi: np.ndarray,
               bins: int = DEFAULT_BINS, pseudo: float = DEFAULT_PSEUDO) -> float | None:
    """KL(REF ‖ PRED) of 2-D (φ, ψ) histograms (``bins`` x ``bins``)."""
    if len(np.asarray(pred_phi)) == 0 or len(np.asarray(ref_phi)) == 0:
        return None
    return kl_divergence(angle_histogram(ref_phi, ref_psi, bins=bins), angle_histogram(pred_phi, pred_psi, bins=bins), pseudo)
