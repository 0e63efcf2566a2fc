"""Side chains that overlap other atoms turned about their χ bonds until they do not.

Where a network cannot tell a rotamer (a Cα trace says little about χ1), its squared-error
training puts the side chain between its possible places, and two such side chains can sit
inside each other: adenylate kinase from its Cα trace had 28 heavy-atom pairs closer than 2 Å
(Phe against Arg, Asp inside His, Arg inside Met; docs/refinement.md). Minimisation removes
them, at the cost of hydrogens and a force field; a structure written without it keeps them.

A clash is a pair of heavy atoms closer than ``cutoff`` (:data:`CLASH`) that are at least four
bonds apart (as :func:`herobm.metrics.geometry.count_clashes` counts them with 1-2, 1-3 and 1-4
pairs left out, from the system's bonds: mapping templates and peptide links, plus disulfides).
Amino acids with a side-chain atom in a clash
are taken in order of how many clashes they have; each side chain is turned about its χ bonds
(:data:`CHI_AXES`: χ1 and χ2 on a 30° grid together, deeper ones each alone), and the pose
with the fewest clashes is kept if it has fewer than the side chain as it was, ties broken by
fewer pairs closer than ``clear`` and then by the smallest move. Rotations about bonds keep
every bond length, angle and stereocentre; the atoms that turn are those bonded beyond the χ
bond, hydrogens with their atoms. Proline (its ring closes on N), cysteines in disulfides,
glycine, alanine and every CB stay. Positions in Å.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..metrics.geometry import exclusion_matrix
from ..metrics.matching import canonical_resname

__all__ = ["CHI_AXES", "CLASH", "CLEAR", "clashing_side_chains", "relieve_clashes"]

_CHI1 = ("CA", "CB")
# residue -> the χ bonds (axis atoms) of its side chain, from Cα outward
CHI_AXES: dict[str, tuple[tuple[str, str], ...]] = {
    **{r: (_CHI1,) for r in ("SER", "CYS", "THR", "VAL")},
    "ILE": (_CHI1, ("CB", "CG1")),
    **{r: (_CHI1, ("CB", "CG")) for r in ("LEU", "ASP", "ASN", "HIS", "PHE", "TYR", "TRP")},
    "MET": (_CHI1, ("CB", "CG"), ("CG", "SD")),
    **{r: (_CHI1, ("CB", "CG"), ("CG", "CD")) for r in ("GLU", "GLN")},
    "LYS": (_CHI1, ("CB", "CG"), ("CG", "CD"), ("CD", "CE")),
    "ARG": (_CHI1, ("CB", "CG"), ("CG", "CD"), ("CD", "NE")),
}
GRID = np.radians(np.arange(-180.0, 180.0, 30.0))  # turns tried about each χ bond
_BACKBONE = frozenset({"N", "CA", "C", "O", "OXT", "OT1", "OT2", "OC1", "OC2", "O1", "O2"})
DISULFIDE = 2.5  # Å: Cys SG pairs this close are bonded (mapping templates bond within residues)
# Å: heavy atoms this close clash (what herobm evaluate counts as clashes_2.0); among poses with as
# few clashes, fewer pairs within CLEAR win. Chosen on 26 held-out structures (docs/refinement.md):
# Cα model heavy RMSD 1.312 -> 1.302 Å, clashes 1036 -> 174; Martini 3 model unchanged (0.470 Å),
# clashes 22 -> 3. 2.5 Å helped the Cα model more (1.291 Å) but cost the Martini 3 model 0.021 Å: its
# side chains sit on their beads, and 30° turns are too coarse for contacts of 2.0-2.5 Å.
CLASH = 2.0
CLEAR = 2.5
# Å: a turn may move the centre of an input bead this much at most (the Martini 3 model's own
# bead centres are ~0.1-0.3 Å off; a χ flip of a whole side chain moves its bead by 1-3 Å)
MAX_CENTRE_SHIFT = 0.5


_AMINO = frozenset(CHI_AXES) | {"GLY", "ALA", "PRO"}


def _adjacency(bonds: np.ndarray, n: int) -> list[list[int]]:
    """Bonded neighbours of each of ``n`` atoms."""
    adj: list[list[int]] = [[] for _ in range(n)]
    for i, j in bonds:
        adj[int(i)].append(int(j))
        adj[int(j)].append(int(i))
    return adj


def _beyond(adj: list[list[int]], axis: tuple[int, int], residue: set[int]) -> list[int] | None:
    """Atoms that turn about the bond ``axis`` = (a, b): every atom bonded on b's side of it (b left
    out: it stays on the axis). None where that side reaches a again (a ring: proline's CB-CG) or
    leaves the ``residue`` (a disulfide): turning would break a bond."""
    a, b = axis
    seen, stack = {b}, [b]
    while stack:
        u = stack.pop()
        for j in adj[u]:
            if j == a:
                if u == b:
                    continue  # the axis itself
                return None
            if j in seen:
                continue
            if j not in residue:
                return None
            seen.add(j)
            stack.append(j)
    seen.discard(b)
    return sorted(seen)


def _rotations(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(k, 3, 3) rotations by ``angles`` (rad) about the unit ``axis``."""
    return Rotation.from_rotvec(angles[:, None] * axis[None]).as_matrix()


@dataclass(frozen=True)
class _Bonded:
    """Atoms of a system as the clash search reads them."""

    names: np.ndarray  # (A,) atom names
    res: np.ndarray  # (A,) residue index of each atom
    rnames: list[str]  # (R,) canonical residue names
    heavy: np.ndarray  # indices of the heavy atoms
    is_heavy: np.ndarray  # (A,) bool
    side: np.ndarray  # (A,) bool: heavy side-chain atoms of amino acids
    near: object  # (A, A) sparse: pairs up to three bonds apart (never clash)
    adj: list[list[int]]  # bonded neighbours, disulfides included

    def counted(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Which atom pairs (i, j) are at least four bonds apart, so may clash."""
        return ~np.asarray(self.near[i, j]).ravel() if len(i) else np.zeros(0, dtype=bool)

    def clashing(self, x: np.ndarray, cutoff: float) -> list[int]:
        """Residues with χ bonds that have a side-chain atom in a clash at ``x``, most clashes first."""
        pairs = cKDTree(x[self.heavy]).query_pairs(cutoff, output_type="ndarray")
        if not len(pairs):
            return []
        i, j = self.heavy[pairs[:, 0]], self.heavy[pairs[:, 1]]
        keep = self.counted(i, j)
        i, j = i[keep], j[keep]
        counts: dict[int, int] = {}
        for a in np.concatenate([i[self.side[i]], j[self.side[j]]]):
            r = int(self.res[a])
            if self.rnames[r] in CHI_AXES:
                counts[r] = counts.get(r, 0) + 1
        return sorted(counts, key=lambda r: (-counts[r], r))


def _bonded(atom_name, atom_residue, residue_name, x: np.ndarray, bonds: np.ndarray) -> _Bonded:
    """The atoms' bond graph with Cys SG pairs within :data:`DISULFIDE` Å of each other bonded."""
    names = np.asarray(atom_name).astype(str)
    res = np.asarray(atom_residue, dtype=np.int64)
    rnames = [canonical_resname(str(r)) for r in residue_name]
    heavy = np.flatnonzero(~np.char.startswith(names, "H"))
    is_heavy = np.zeros(len(names), dtype=bool)
    is_heavy[heavy] = True
    side = is_heavy & ~np.isin(names, list(_BACKBONE)) & np.isin([rnames[r] for r in res], list(_AMINO))
    sg = np.flatnonzero(names == "SG")
    if len(sg) > 1:
        bonds = np.concatenate([bonds, sg[cKDTree(x[sg]).query_pairs(DISULFIDE, output_type="ndarray")]])
    return _Bonded(names, res, rnames, heavy, is_heavy, side, exclusion_matrix(bonds, len(names)),
                   _adjacency(bonds, len(names)))


def _labels(g: _Bonded, residues, residue_id) -> list[str]:
    """``ARG 12``-style labels of residue indices: name, ``residue_id`` or else position from 1."""
    ids = np.arange(1, len(g.rnames) + 1) if residue_id is None else np.asarray(residue_id)
    return [f"{g.rnames[r]} {ids[r]}" for r in sorted(residues)]


def clashing_side_chains(atom_name, atom_residue, residue_name, positions: np.ndarray, bonds: np.ndarray,
                         cutoff: float = CLASH, residue_id=None) -> list[str]:
    """Labels (``ARG 12``) of the amino acids with χ bonds whose side chain has a heavy atom closer
    than ``cutoff`` Å to another heavy atom at least four bonds away (the clashes
    :func:`relieve_clashes` works on; its arguments). Empty without bonds."""
    x = np.asarray(positions, dtype=np.float64)
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if not len(bonds):
        return []
    g = _bonded(atom_name, atom_residue, residue_name, x, bonds)
    return _labels(g, g.clashing(x, cutoff), residue_id)


def relieve_clashes(atom_name, atom_residue, residue_name, positions: np.ndarray, bonds: np.ndarray,
                    cutoff: float = CLASH,
                    clear: float = CLEAR, residue_id=None, max_rounds: int = 3,
                    centres=None, max_centre_shift: float = MAX_CENTRE_SHIFT) -> tuple[np.ndarray, list[str]]:
    """(positions with clashing side chains turned about their χ bonds, labels like ``ARG 12`` of the
    side chains moved: residue name, ``residue_id`` or else position from 1). ``bonds``: (n, 2) atom
    indices (a system's ``bonds``; Cys SG pairs within :data:`DISULFIDE` Å are added); pairs up to
    three bonds apart never clash (:func:`herobm.metrics.geometry.exclusion_matrix`), and without
    bonds nothing is done. Atoms turn with the χ bond they are bonded beyond; a χ bond in a ring
    or whose far side is bonded to another residue (a disulfide) does not turn. ``cutoff``: heavy
    atoms closer than this (Å) clash; ``clear``: among poses with as few clashes, fewer pairs
    closer than this win. ``atom_residue`` indexes ``residue_name``. Only amino acids move;
    every atom (lipids, ligands) counts as something to clear. ``centres``: (B, A) sparse matrix of
    the input's beads (bead centre = ``centres @ positions``, as :func:`herobm.reconstruct.fit_to_beads`
    reads it); a turn that would leave a bead's centre more than ``max_centre_shift`` Å from where the
    input ``positions`` had it is not taken,
    so side chains the input places (Martini 3 side-chain beads) keep to their beads."""
    x = np.asarray(positions, dtype=np.float64).copy()
    start = x.copy()
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if not len(bonds):
        return x, []
    g = _bonded(atom_name, atom_residue, residue_name, x, bonds)
    names, res, rnames, heavy, is_heavy, counted = g.names, g.res, g.rnames, g.heavy, g.is_heavy, g.counted
    by_res: dict[int, list[int]] = {}  # every atom of each residue, hydrogens too (they turn along)
    for i in range(len(names)):
        by_res.setdefault(int(res[i]), []).append(i)
    moved: list[int] = []

    def score(poses: np.ndarray, mov: np.ndarray, tree: cKDTree, dirty: np.ndarray,
              moved_since: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clashes (< cutoff) and close pairs (< clear) of the moving heavy atoms ``mov`` in each
        of ``poses`` (k, m, 3) with everything else: through ``tree`` (heavy atoms as they were when
        it was built) for the atoms not ``dirty`` since, directly for ``moved_since`` (dirty ones nearby)."""
        k, m = poses.shape[:2]
        flat = poses.reshape(-1, 3)
        hits = tree.query_ball_point(flat, clear)
        rows = np.repeat(np.arange(k * m), [len(h) for h in hits])
        j = heavy[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])] if len(rows) else rows
        fresh = ~dirty[j]
        rows, j = rows[fresh], j[fresh]
        if len(moved_since):
            r2, c2 = np.nonzero(np.linalg.norm(flat[:, None] - x[moved_since][None], axis=-1) < clear)
            rows, j = np.concatenate([rows, r2]), np.concatenate([j, moved_since[c2]])
        n_clash, n_close = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
        i = mov[rows % m]
        keep = ~np.isin(j, mov) & counted(i, j)
        rows, j = rows[keep], j[keep]
        d = np.linalg.norm(flat[rows] - x[j], axis=-1)
        np.add.at(n_close, rows // m, 1)
        np.add.at(n_clash, rows[d < cutoff] // m, 1)
        return n_clash, n_close

    for _ in range(max_rounds):
        todo = g.clashing(x, cutoff)
        if not todo:
            break
        changed = False
        tree = cKDTree(x[heavy])  # once per round; atoms moved since are looked at one by one
        dirty = np.zeros(len(names), dtype=bool)
        for r in todo:
            idx = by_res[r]
            local = {names[i]: i for i in idx}
            axes = [(local[a], local[b]) for a, b in CHI_AXES[rnames[r]] if a in local and b in local]
            sides = [_beyond(g.adj, ax, set(idx)) for ax in axes]
            n_free = next((k for k, side in enumerate(sides) if side is None), len(sides))
            axes, sides = axes[:n_free], sides[:n_free]  # χ bonds up to the first in a ring or cross-link
            if not axes:
                continue
            mov = np.asarray(sides[0], dtype=np.int64)
            if not is_heavy[mov].any():
                continue
            poses = _poses(x, axes, sides, mov)
            pivot = x[axes[0][0]]
            reach = np.linalg.norm(poses - pivot, axis=-1).max() + clear
            since = np.flatnonzero(dirty & is_heavy)
            since = since[np.linalg.norm(x[since] - pivot, axis=-1) < reach]
            scored = is_heavy[mov]
            n_clash, n_close = score(poses[:, scored], mov[scored], tree, dirty, since[~np.isin(since, mov)])
            # rounded, so that equal moves tie (first pose wins) wherever the structure sits in space
            shift = np.round(((poses - x[mov][None]) ** 2).sum(axis=(1, 2)), 6)
            if centres is not None:  # poses that would pull a side chain off its bead are out
                sub_c = centres[:, mov]
                rows = np.flatnonzero(sub_c.getnnz(axis=1))  # the beads these atoms count in
                if len(rows):
                    w = sub_c[rows].toarray()  # (b, m)
                    moved_by = np.einsum("bm,kmd->kbd", w, poses - start[mov][None])  # from the input
                    n_clash = np.where(np.linalg.norm(moved_by, axis=-1).max(axis=1) > max_centre_shift,
                                       np.iinfo(np.int64).max, n_clash)
            best = int(np.lexsort((shift, n_close, n_clash))[0])
            if n_clash[best] < n_clash[0]:  # fewer clashes, or it stays as the network put it
                dirty[mov] = True
                x[mov] = poses[best]
                changed = True
                if r not in moved:
                    moved.append(r)
        if not changed:
            break
    return x, _labels(g, moved, residue_id)


def _poses(x: np.ndarray, axes: list[tuple[int, int]], sides: list[list[int]], mov: np.ndarray) -> np.ndarray:
    """(k, m, 3) positions of the moving atoms ``mov`` (``sides[0]``): first as they are, then χ1
    and χ2 turned together on :data:`GRID`, then each deeper χ alone; ``sides[i]``: the atoms
    beyond ``axes[i]``."""
    pos = {int(a): k for k, a in enumerate(mov)}
    base = x[mov]

    def turn(p: np.ndarray, k_axis: int, angles: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """Poses (len(angles)·len(p), m, 3): each pose in ``p`` turned about ``axes[k_axis]`` (its
        atoms as placed in that pose: ``frame`` gives the pose's copy of the axis atoms)."""
        beyond = [pos[i] for i in sides[k_axis]]
        out = np.repeat(p[None], len(angles), axis=0)  # (g, k, m, 3)
        for k in range(len(p)):
            pa, pb = frame[k]
            u = (pb - pa) / max(np.linalg.norm(pb - pa), 1e-9)
            rot = _rotations(u, angles)  # (g, 3, 3)
            out[:, k, beyond] = np.einsum("gij,nj->gni", rot, p[k, beyond] - pb) + pb
        return out.reshape(-1, *p.shape[1:])

    def axis_atoms(p: np.ndarray, axis: tuple[int, int]) -> np.ndarray:
        """(len(p), 2, 3): the axis atoms as placed in each pose (fixed ones from ``x``)."""
        return np.stack([p[:, pos[a]] if a in pos else np.repeat(x[a][None], len(p), 0) for a in axis], axis=1)

    first = base[None]
    p1 = turn(first, 0, GRID, axis_atoms(first, axes[0]))
    out = [first, p1]
    if len(axes) > 1:
        out.append(turn(p1, 1, GRID, axis_atoms(p1, axes[1])))
        for k in range(2, len(axes)):
            out.append(turn(first, k, GRID, axis_atoms(first, axes[k])))
    return np.concatenate(out)
