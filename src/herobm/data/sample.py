"""One training sample (system, frame) as plain numpy arrays, computed from stored atoms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import dihedrals
from ..reconstruct import slot_vectors
from .store import DatasetReader, TopologyArrays

__all__ = ["Sample", "make_sample", "backbone_dihedrals"]


@dataclass
class Sample:
    """Arrays of one frame. Atom indices refer to ``atom_pos`` (rebuilt atoms, 0..A-1).

    Shapes: B beads, N vector channels per bead, A rebuilt atoms, S slots, R residues.
    """

    bead_pos: np.ndarray  # (B, 3) Å
    bead_type: np.ndarray  # (B,)
    bead_residue: np.ndarray  # (B,)
    vectors: np.ndarray  # (B, N, 3) Å, true vectors (zero where no slot)
    vector_mask: np.ndarray  # (B, N) bool
    atom_pos: np.ndarray  # (A, 3) Å
    slot_bead: np.ndarray  # (S,)
    slot_index: np.ndarray
    slot_level: np.ndarray
    slot_anchor: np.ndarray  # slot index, -1 for levels 0/1
    slot_atom: np.ndarray  # 0..A-1
    slot_weight: np.ndarray
    bonds: np.ndarray  # (nb, 2)
    angles: np.ndarray  # (na, 3)
    residue_next: np.ndarray  # (R,)
    residue_bead: np.ndarray  # (R,) backbone bead or -1
    phi_psi: np.ndarray  # (R, 2) radians, NaN where undefined
    box: np.ndarray  # (6,)


def backbone_dihedrals(x: np.ndarray, backbone: np.ndarray, residue_next: np.ndarray) -> np.ndarray:
    """(R, 2) φ, ψ in radians from N/CA/C indices (R, 3) into ``x``; NaN where a
    residue has no bonded neighbour or no backbone."""
    R = len(backbone)
    out = np.full((R, 2), np.nan)
    prev = np.full(R, -1, dtype=np.int64)
    has_next = np.flatnonzero(residue_next >= 0)
    prev[residue_next[has_next]] = has_next
    ok_bb = (backbone >= 0).all(axis=1)
    n, ca, c = backbone[:, 0], backbone[:, 1], backbone[:, 2]
    i = np.flatnonzero(ok_bb & (prev >= 0))
    i = i[ok_bb[prev[i]]]
    if len(i):
        out[i, 0] = dihedrals(x[c[prev[i]]], x[n[i]], x[ca[i]], x[c[i]])
    j = np.flatnonzero(ok_bb & (residue_next >= 0))
    j = j[ok_bb[residue_next[j]]]
    if len(j):
        out[j, 1] = dihedrals(x[n[j]], x[ca[j]], x[c[j]], x[n[residue_next[j]]])
    return out


def make_sample(topo: TopologyArrays, positions: np.ndarray, box: np.ndarray, n_channels: int) -> Sample:
    """Bead positions, true vectors and geometry targets of one frame (positions in Å)."""
    x = np.asarray(positions, dtype=np.float64)
    beads = np.asarray(topo.cg_matrix @ x)
    vec = slot_vectors(
        topo["slot_bead"], topo["slot_index"], topo["slot_level"], topo["slot_anchor"], topo["slot_atom"],
        x, beads, n_channels,
    )
    mask = np.zeros(vec.shape[:2], dtype=bool)
    mask[topo["slot_bead"], topo["slot_index"]] = True
    rebuilt = topo["rebuilt_atoms"]
    to_rebuilt = np.full(len(x), -1, dtype=np.int64)
    to_rebuilt[rebuilt] = np.arange(len(rebuilt))
    return Sample(
        bead_pos=beads,
        bead_type=topo["bead_type"],
        bead_residue=topo["bead_residue"],
        vectors=vec,
        vector_mask=mask,
        atom_pos=x[rebuilt],
        slot_bead=topo["slot_bead"],
        slot_index=topo["slot_index"],
        slot_level=topo["slot_level"],
        slot_anchor=topo["slot_anchor"],
        slot_atom=to_rebuilt[topo["slot_atom"]],
        slot_weight=topo["slot_weight"],
        bonds=to_rebuilt[topo["bonds"]],
        angles=to_rebuilt[topo["angles"]],
        residue_next=topo["residue_next"],
        residue_bead=topo["residue_bead"],
        phi_psi=backbone_dihedrals(x, topo["residue_backbone"], topo["residue_next"]),
        box=np.asarray(box, dtype=np.float64),
    )


def read_sample(reader: DatasetReader, system: str, frame: int) -> Sample:
    """Sample ``frame`` of ``system`` from a dataset folder."""
    return make_sample(
        reader.topology(system), reader.positions(system)[frame], reader.boxes(system)[frame],
        max(reader.mapping.max_slots, 1),
    )
