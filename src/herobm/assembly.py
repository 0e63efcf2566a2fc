"""The all-atom output of a backmapping run: atoms and residues of every part (each
model's molecules, water and ions by rule) merged in the input's residue order.

Only identity arrays live here (names, residues, chains, bonds); positions come per
frame from the parts and are put in output order with :attr:`Assembly.order`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["OutputTopology", "Assembly", "merge_parts", "topology_of_system", "topology_of_openmm"]


@dataclass(frozen=True)
class OutputTopology:
    """Atoms (A) and residues (R) of an output structure.

    ``residue_next``: the bonded next residue (-1: none); ``bonds``: (n, 2) atom indices.
    Has the attributes the refinement reads from a :class:`herobm.cg_system.BeadSystem`.
    """

    atom_name: np.ndarray
    atom_element: np.ndarray
    atom_residue: np.ndarray
    residue_name: np.ndarray
    residue_id: np.ndarray
    residue_chain: np.ndarray
    residue_next: np.ndarray
    bonds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def n_atoms(self) -> int:
        return len(self.atom_name)

    @property
    def n_residues(self) -> int:
        return len(self.residue_name)


def topology_of_system(system) -> OutputTopology:
    """The output atoms of a :class:`herobm.cg_system.BeadSystem`."""
    return OutputTopology(
        system.atom_name, system.atom_element, system.atom_residue, system.residue_name, system.residue_id,
        system.residue_chain, system.residue_next, system.bonds,
    )


def topology_of_openmm(top) -> OutputTopology:
    """An OpenMM ``Topology`` (e.g. after hydrogens were added) as an :class:`OutputTopology`."""
    atoms = list(top.atoms())
    residues = list(top.residues())
    nxt = np.full(len(residues), -1, dtype=np.int64)
    return OutputTopology(
        atom_name=np.asarray([a.name for a in atoms]).astype(str),
        atom_element=np.asarray([a.element.symbol if a.element is not None else a.name[:1] for a in atoms]).astype(str),
        atom_residue=np.asarray([a.residue.index for a in atoms], dtype=np.int64),
        residue_name=np.asarray([r.name for r in residues]).astype(str),
        residue_id=np.asarray([int(r.id) if str(r.id).lstrip("-").isdigit() else r.index + 1 for r in residues],
                              dtype=np.int64),
        residue_chain=np.asarray([r.chain.id for r in residues]).astype(str),
        residue_next=nxt,
        bonds=np.asarray([(b[0].index, b[1].index) for b in top.bonds()], dtype=np.int64).reshape(-1, 2),
    )


@dataclass(frozen=True)
class Assembly:
    """The merged output. ``order`` (A,): output atom i is atom ``order[i]`` of the parts'
    atoms concatenated; ``part_atoms``: the parts' atom counts; ``part_residues``: for
    each part, its residues' indices in the merged topology."""

    topology: OutputTopology
    order: np.ndarray
    part_atoms: tuple[int, ...]
    part_residues: tuple[np.ndarray, ...]

    def positions(self, parts: list[np.ndarray]) -> np.ndarray:
        """(A, 3) output positions from the parts' (A_p, 3) positions (Å)."""
        return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in parts])[self.order]


def merge_parts(parts: list[OutputTopology], residue_keys: list[np.ndarray]) -> Assembly:
    """Merge parts, ordering residues by ``residue_keys`` (one (R_p,) array per part, e.g.
    the input index of each residue's first bead; ties keep part order)."""
    if not parts:
        raise ValueError("nothing to merge")
    res_off = np.cumsum([0] + [p.n_residues for p in parts])
    atom_off = np.cumsum([0] + [p.n_atoms for p in parts])
    keys = np.concatenate([np.asarray(k, dtype=np.float64) for k in residue_keys])
    res_order = np.argsort(keys, kind="stable")  # merged residue i = concatenated residue res_order[i]
    new_of_old = np.empty_like(res_order)
    new_of_old[res_order] = np.arange(len(res_order))
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    atom_res_old = np.concatenate([p.atom_residue + res_off[i] for i, p in enumerate(parts)])
    atom_res_new = new_of_old[atom_res_old]
    order = np.argsort(atom_res_new, kind="stable")  # atoms of a residue keep their order
    new_atom_of_old = np.empty_like(order)
    new_atom_of_old[order] = np.arange(len(order))
    nxt_old = np.concatenate([np.where(p.residue_next >= 0, p.residue_next + res_off[i], -1) for i, p in enumerate(parts)])
    nxt = np.where(nxt_old >= 0, new_of_old[np.maximum(nxt_old, 0)], -1)[res_order]
    bonds = np.concatenate([p.bonds.reshape(-1, 2) + atom_off[i] for i, p in enumerate(parts)]).astype(np.int64)
    top = OutputTopology(
        atom_name=cat("atom_name")[order],
        atom_element=cat("atom_element")[order],
        atom_residue=atom_res_new[order],
        residue_name=cat("residue_name")[res_order],
        residue_id=cat("residue_id")[res_order],
        residue_chain=cat("residue_chain")[res_order],
        residue_next=nxt,
        bonds=new_atom_of_old[bonds] if len(bonds) else bonds,
    )
    part_res = tuple(new_of_old[res_off[i]:res_off[i + 1]] for i in range(len(parts)))
    return Assembly(top, order, tuple(int(p.n_atoms) for p in parts), part_res)
