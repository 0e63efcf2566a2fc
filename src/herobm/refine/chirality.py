"""Stereocentres of known handedness put right before hydrogens are added (after which a
minimiser cannot invert them): Cα of every L-amino acid, Cβ of Thr and Ile, the glycerol
C2 of the CHARMM36 glycerophospholipids and the head-group C12 of POPG
(:data:`herobm.metrics.geometry.CHIRAL_CENTRES`).

An inverted centre lies on the wrong side of the plane of its three heavy neighbours
(N, C, Cβ for Cα): it is reflected through that plane, the smallest move that puts it
right (a few tenths of an Å when the network was nearly right). Positions in Å.
The sign convention is :func:`herobm.metrics.geometry.signed_volumes` (positive for the
natural configurations, checked on real structures in the tests).
"""

from __future__ import annotations

import numpy as np

from ..metrics.geometry import chirality_centers, signed_volumes

__all__ = ["fix_chirality", "inverted_stereocentres"]

# hydrogens on a centre move with it (when present, e.g. after minimisation)
HYDROGENS = {"CA": ("HA",), "CB": ("HB",), "C2": ("HS",), "C12": ("H12A",)}


def _inverted(atom_name, atom_residue, residue_name, x: np.ndarray):
    """(names, residue per atom, residue names, quads of the inverted known centres)."""
    names = np.asarray(atom_name).astype(str)
    res = np.asarray(atom_residue, dtype=np.int64)
    resnames = np.asarray(residue_name).astype(str)
    quads = chirality_centers(res, names, resnames)
    if len(quads):
        quads = quads[signed_volumes(x, quads) < 0]
    return names, res, resnames, quads


def inverted_stereocentres(atom_name, atom_residue, residue_name, positions: np.ndarray,
                           residue_id=None) -> list[str]:
    """Labels (``POPG 532 C12``: residue name, ``residue_id`` or else position from 1, atom) of
    the stereocentres of known handedness that are inverted in ``positions`` (Å); nothing moves."""
    names, res, resnames, bad = _inverted(atom_name, atom_residue, residue_name,
                                          np.asarray(positions, dtype=np.float64))
    ids = np.arange(1, len(resnames) + 1) if residue_id is None else np.asarray(residue_id)
    return [f"{resnames[res[c]]} {ids[res[c]]} {names[c]}" for c in bad[:, 0]]


def fix_chirality(atom_name, atom_residue, residue_name, positions: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(positions with inverted stereocentres corrected, labels of the corrected centres
    like ``ALA 12 CA`` or ``POPG 40 C12``). D-residue names are not special-cased: every
    amino acid is made L (the network is trained on L proteins)."""
    x = np.asarray(positions, dtype=np.float64).copy()
    names, res, resnames, bad = _inverted(atom_name, atom_residue, residue_name, x)
    if not len(bad):
        return x, []
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(res, names))}
    fixed = []
    for c, a, b, d in bad:
        # the centre is on the wrong side of the plane of its three heavy neighbours:
        # reflect it through that plane (the smallest move that inverts the centre)
        n = np.cross(x[b] - x[a], x[d] - x[a])
        n /= max(np.linalg.norm(n), 1e-9)
        r = int(res[c])
        for k in [c] + [i for i in (index.get((r, h)) for h in HYDROGENS.get(names[c], ())) if i is not None]:
            x[k] = x[k] - 2.0 * np.dot(x[k] - x[a], n) * n
        fixed.append(f"{resnames[r]} {r + 1} {names[c]}")
    return x, fixed
