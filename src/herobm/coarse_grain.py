"""Coarse-graining: atom positions (Å) -> bead positions (Å) with a MappedSystem."""

from __future__ import annotations

import numpy as np
from MDAnalysis.lib.distances import minimize_vectors

from .errors import InputError
from .system import MappedSystem

__all__ = ["check_finite", "make_residues_whole", "bead_positions"]


def check_finite(positions: np.ndarray, atoms, what: str = "input") -> None:
    """Raise :class:`InputError` naming the first atom whose coordinates are NaN/inf."""
    bad = ~np.isfinite(positions).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        a = atoms[i]
        raise InputError(
            f"{what}: atom {a.name} of residue {a.resname} {a.resid} has non-finite coordinates "
            f"({int(bad.sum())} atom(s) in all)"
        )


def _valid_box(box) -> bool:
    return box is not None and np.all(np.asarray(box[:3]) > 0) and np.all(np.asarray(box[3:]) > 0)


def unwrap_to(positions: np.ndarray, ref: np.ndarray, box) -> np.ndarray:
    """Positions (N, 3) Å with point i moved to the periodic image nearest point ``ref[i]``
    (which must itself stay put, e.g. the first point of its group). No box: unchanged."""
    out = np.asarray(positions, dtype=np.float64)
    return nearest_image(out, out[np.asarray(ref, dtype=np.int64)], box)


def nearest_image(points: np.ndarray, anchors: np.ndarray, box) -> np.ndarray:
    """(N, 3) images of ``points`` nearest to ``anchors`` (N, 3), Å. No box: ``points``."""
    points = np.asarray(points, dtype=np.float64)
    if not _valid_box(box):
        return points.copy()
    d = minimize_vectors((points - anchors).astype(np.float32), np.asarray(box, dtype=np.float32))
    return anchors + d


def make_residues_whole(system: MappedSystem, positions: np.ndarray, box) -> np.ndarray:
    """Return positions with every mapped residue in one periodic image.

    Each atom is moved to the image nearest its residue's first mapped atom
    (triclinic boxes included). Unmapped atoms are left where they are.
    ``box`` is MDAnalysis ``[lx, ly, lz, alpha, beta, gamma]`` or None.
    """
    if not _valid_box(box):
        return positions
    out = positions.astype(np.float64, copy=True)
    mapped = np.flatnonzero(system.atom_residue >= 0)
    ref = system.residue_ref_atom[system.atom_residue[mapped]]
    out[mapped] = nearest_image(out[mapped], out[ref], box)
    return out


def bead_positions(system: MappedSystem, positions: np.ndarray, box=None) -> np.ndarray:
    """(B, 3) bead positions in Å: weighted centres of each bead's atoms.

    ``positions`` are the (n_input, 3) atom positions; with a periodic ``box``
    residues are made whole first.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (system.n_input_atoms, 3):
        raise InputError(
            f"expected coordinates for {system.n_input_atoms} atoms, got array of shape {positions.shape}"
        )
    whole = make_residues_whole(system, positions, box)
    return np.asarray(system.cg_matrix() @ whole)
