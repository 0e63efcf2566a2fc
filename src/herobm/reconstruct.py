"""Rebuild atoms from bead positions and per-bead vectors, level by level.

Slots are processed one hierarchy level at a time (a handful of levels, never
a loop over beads or atoms): level 0 sits on the bead, level 1 adds its vector
to the bead position, deeper levels add theirs to the anchor slot's position.
Atoms rebuilt from several beads are combined with the mapping weights.
Everything is torch, differentiable, on the device of the inputs; memory is
linear in the number of slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.linalg import splu

from .system import MappedSystem

__all__ = ["RebuildIndex", "rebuild_atoms", "true_vectors", "slot_vectors", "fit_to_beads"]


@dataclass(frozen=True)
class RebuildIndex:
    """Slot index arrays as torch tensors, slots sorted by level.

    ``level_bounds[k]:level_bounds[k+1]`` is the slot range of the k-th level
    present; anchors always point into earlier ranges.
    """

    slot_bead: torch.Tensor  # (S,) long
    slot_index: torch.Tensor  # (S,) long, channel within the bead
    slot_level: torch.Tensor  # (S,) long
    slot_anchor: torch.Tensor  # (S,) long, -1 for levels 0/1
    slot_atom: torch.Tensor  # (S,) long, output atom index
    slot_weight: torch.Tensor  # (S,) float
    level_bounds: tuple[int, ...]
    n_atoms: int

    @classmethod
    def from_system(cls, system: MappedSystem, device: torch.device | str | None = None) -> "RebuildIndex":
        """Build from a MappedSystem; output atoms are numbered 0..n_rebuilt-1 in input order
        (``system.rebuilt_atoms`` gives their input indices)."""
        return cls.from_arrays(
            system.slot_bead, system.slot_index, system.slot_level, system.slot_anchor,
            system.slot_atom, system.slot_weight, device=device,
        )

    @classmethod
    def from_arrays(
        cls,
        slot_bead: np.ndarray,
        slot_index: np.ndarray,
        slot_level: np.ndarray,
        slot_anchor: np.ndarray,
        slot_atom: np.ndarray,
        slot_weight: np.ndarray,
        device: torch.device | str | None = None,
    ) -> "RebuildIndex":
        """Build from slot arrays (anchors are slot indices, atoms any integer ids);
        output atoms are the sorted unique ``slot_atom`` values, renumbered from 0."""
        order = np.argsort(slot_level, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        anchor = slot_anchor[order]
        anchor = np.where(anchor >= 0, inverse[np.maximum(anchor, 0)], -1)
        atoms = np.unique(slot_atom)
        atom_out = np.searchsorted(atoms, slot_atom[order])
        levels = slot_level[order]
        bounds = tuple(int(x) for x in np.r_[0, np.flatnonzero(np.diff(levels)) + 1, len(levels)])

        def t(x, dtype=torch.long):
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device)

        return cls(
            slot_bead=t(slot_bead[order]),
            slot_index=t(slot_index[order]),
            slot_level=t(levels),
            slot_anchor=t(anchor),
            slot_atom=t(atom_out),
            slot_weight=t(slot_weight[order], torch.float64),
            level_bounds=bounds,
            n_atoms=len(atoms),
        )


def rebuild_atoms(bead_pos: torch.Tensor, vectors: torch.Tensor, index: RebuildIndex) -> torch.Tensor:
    """Atom positions (n_atoms, 3) from bead positions (B, 3) and vectors (B, N, 3), in Å.

    Level-0 slots ignore their vector (the atom sits on the bead).
    """
    dtype = bead_pos.dtype
    done = bead_pos.new_zeros((0, 3))
    for lo, hi in zip(index.level_bounds[:-1], index.level_bounds[1:]):
        if hi == lo:
            continue
        bead = index.slot_bead[lo:hi]
        level = int(index.slot_level[lo])
        if level == 0:
            pos = bead_pos[bead]
        else:
            vec = vectors[bead, index.slot_index[lo:hi]]
            if level == 1:
                pos = bead_pos[bead] + vec
            else:
                pos = done[index.slot_anchor[lo:hi]] + vec
        done = torch.cat([done, pos], dim=0)
    w = index.slot_weight.to(dtype)
    out = bead_pos.new_zeros((index.n_atoms, 3))
    out = out.index_add(0, index.slot_atom, done * w[:, None])
    norm = bead_pos.new_zeros((index.n_atoms,)).index_add(0, index.slot_atom, w)
    return out / norm[:, None]


def true_vectors(system: MappedSystem, positions: np.ndarray, beads: np.ndarray) -> np.ndarray:
    """(B, N, 3) vectors that rebuild ``positions`` exactly: each slot's atom minus its
    anchor (the bead for level 1; zero for level 0). N = the set's max slots per bead."""
    return slot_vectors(
        system.slot_bead, system.slot_index, system.slot_level, system.slot_anchor, system.slot_atom,
        positions, beads, max(system.mapping.max_slots, 1),
    )


def slot_vectors(
    slot_bead: np.ndarray,
    slot_index: np.ndarray,
    slot_level: np.ndarray,
    slot_anchor: np.ndarray,
    slot_atom: np.ndarray,
    positions: np.ndarray,
    beads: np.ndarray,
    n_channels: int,
) -> np.ndarray:
    """Array form of :func:`true_vectors`: (B, n_channels, 3) true vectors in Å,
    zero where a bead has no slot."""
    out = np.zeros((len(beads), n_channels, 3), dtype=np.float64)
    atom = positions[slot_atom]
    base = np.where(
        (slot_anchor >= 0)[:, None],
        positions[slot_atom[np.maximum(slot_anchor, 0)]],
        beads[slot_bead],
    )
    out[slot_bead, slot_index] = np.where((slot_level == 0)[:, None], 0.0, atom - base)
    return out


def centre_matrix(cg_bead: np.ndarray, cg_atom: np.ndarray, cg_weight: np.ndarray, n_atoms: int) -> sparse.csr_matrix:
    """(B', A) sparse matrix C with ``C @ atoms`` the centres of the beads that have entries (in
    order of bead index): bead k's centre is ``sum(cg_weight * atoms[cg_atom])`` over ``cg_bead == k``."""
    rows, cg_row = np.unique(cg_bead, return_inverse=True)
    return sparse.csr_matrix((cg_weight, (cg_row, cg_atom)), shape=(len(rows), n_atoms))


def fit_to_beads(
    atoms: np.ndarray, beads: np.ndarray, cg_bead: np.ndarray, cg_atom: np.ndarray, cg_weight: np.ndarray
) -> np.ndarray:
    """The smallest move of ``atoms`` (A, 3), Å, that puts every bead centre exactly on ``beads`` (B, 3).

    Bead k's centre is ``sum(cg_weight * atoms[cg_atom])`` over its entries (``cg_bead == k``).
    This is the Euclidean projection onto the structures whose centres are ``beads``. When the
    beads were made from these atoms with these weights, the true structure is one of them, so
    the result is never farther from it (in RMSD over the atoms) than the input. Beads with no
    entry are left free.
    """
    atoms = np.asarray(atoms, dtype=np.float64)
    if len(cg_bead) == 0:
        return atoms.copy()
    C = centre_matrix(cg_bead, cg_atom, cg_weight, len(atoms))
    residual = np.asarray(beads, dtype=np.float64)[np.unique(cg_bead)] - C @ atoms
    lam = splu((C @ C.T).tocsc()).solve(residual)
    return atoms + C.T @ lam
