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
every bond length, angle and stereocentre; hydrogens turn with their atoms. Proline (its ring
closes on N), glycine, alanine and every CB stay. Positions in Å.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..metrics.geometry import exclusion_matrix
from ..metrics.matching import canonical_resname

__all__ = ["CHI_AXES", "CLASH", "CLEAR", "relieve_clashes"]

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
_GREEK = {"B": 1, "G": 2, "D": 3, "E": 4, "Z": 5, "H": 6}  # side-chain atom name -> bonds from CA
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


def _greek(name: str) -> int:
    """Bonds from CA of a side-chain atom by its name's second letter (CB 1, CG1 2, NZ 5); 0 if none."""
    return _GREEK.get(name[1], 0) if len(name) >= 2 else 0


def _moving(names: np.ndarray, idx: list[int], axis_end: str) -> list[int]:
    """Atoms of a residue (``idx``) that turn about the χ bond ending at ``axis_end``: the heavy
    side-chain atoms farther from CA, and the hydrogens on those and on ``axis_end`` itself."""
    r = _greek(axis_end)
    heavy = [i for i in idx if not names[i].startswith("H") and names[i] not in _BACKBONE]
    out = [i for i in heavy if _greek(names[i]) > r]
    turning = {names[i] for i in out} | {axis_end}
    for i in idx:
        if names[i].startswith("H"):  # its heavy atom: the longest name whose tail starts the H's (HG21 -> CG2)
            tails = [names[j] for j in heavy if names[i][1:].startswith(names[j][1:])]
            if tails and max(tails, key=len) in turning:
                out.append(i)
    return out


def _rotations(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(k, 3, 3) rotations by ``angles`` (rad) about the unit ``axis``."""
    return Rotation.from_rotvec(angles[:, None] * axis[None]).as_matrix()


def relieve_clashes(atom_name, atom_residue, residue_name, positions: np.ndarray, bonds: np.ndarray,
                    cutoff: float = CLASH,
                    clear: float = CLEAR, residue_id=None, max_rounds: int = 3,
                    centres=None, max_centre_shift: float = MAX_CENTRE_SHIFT) -> tuple[np.ndarray, list[str]]:
    """(positions with clashing side chains turned about their χ bonds, labels like ``ARG 12`` of the
    side chains moved: residue name, ``residue_id`` or else position from 1). ``bonds``: (n, 2) atom
    indices (a system's ``bonds``; Cys SG pairs within :data:`DISULFIDE` Å are added); pairs up to
    three bonds apart never clash (:func:`herobm.metrics.geometry.exclusion_matrix`), and without
    bonds nothing is done. ``cutoff``: heavy atoms closer than this (Å) clash; ``clear``: among poses with as few clashes, fewer pairs
    closer than this win. ``atom_residue`` indexes ``residue_name``. Only amino acids move;
    every atom (lipids, ligands) counts as something to clear. ``centres``: (B, A) sparse matrix of
    the input's beads (bead centre = ``centres @ positions``, as :func:`herobm.reconstruct.fit_to_beads`
    reads it); a turn that would leave a bead's centre more than ``max_centre_shift`` Å from where the
    input ``positions`` had it is not taken,
    so side chains the input places (Martini 3 side-chain beads) keep to their beads."""
    x = np.asarray(positions, dtype=np.float64).copy()
    start = x.copy()
    names = np.asarray(atom_name).astype(str)
    res = np.asarray(atom_residue, dtype=np.int64)
    rnames = [canonical_resname(str(r)) for r in residue_name]
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if not len(bonds):
        return x, []
    heavy = np.flatnonzero(~np.char.startswith(names, "H"))
    is_heavy = np.zeros(len(names), dtype=bool)
    is_heavy[heavy] = True
    side = is_heavy & ~np.isin(names, list(_BACKBONE)) & np.isin([rnames[r] for r in res], list(_AMINO))
    sg = np.flatnonzero(names == "SG")
    if len(sg) > 1:
        bonds = np.concatenate([bonds, sg[cKDTree(x[sg]).query_pairs(DISULFIDE, output_type="ndarray")]])
    near = exclusion_matrix(bonds, len(names))  # 1-2, 1-3 and 1-4 pairs

    def counted(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Which atom pairs (i, j) are at least four bonds apart, so may clash."""
        return ~np.asarray(near[i, j]).ravel() if len(i) else np.zeros(0, dtype=bool)
    by_res: dict[int, list[int]] = {}  # every atom of each residue, hydrogens too (they turn along)
    for i in range(len(names)):
        by_res.setdefault(int(res[i]), []).append(i)
    ids = np.arange(1, len(rnames) + 1) if residue_id is None else np.asarray(residue_id)
    moved: list[int] = []

    def clashing_residues() -> list[int]:
        tree = cKDTree(x[heavy])
        pairs = tree.query_pairs(cutoff, output_type="ndarray")
        if not len(pairs):
            return []
        i, j = heavy[pairs[:, 0]], heavy[pairs[:, 1]]
        keep = counted(i, j)
        i, j = i[keep], j[keep]
        atoms = np.concatenate([i[side[i]], j[side[j]]])
        counts: dict[int, int] = {}
        for a in atoms:
            r = int(res[a])
            if rnames[r] in CHI_AXES:
                counts[r] = counts.get(r, 0) + 1
        return sorted(counts, key=lambda r: (-counts[r], r))

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
        todo = clashing_residues()
        if not todo:
            break
        changed = False
        tree = cKDTree(x[heavy])  # once per round; atoms moved since are looked at one by one
        dirty = np.zeros(len(names), dtype=bool)
        for r in todo:
            idx = by_res[r]
            local = {names[i]: i for i in idx}
            axes = [(local[a], local[b]) for a, b in CHI_AXES[rnames[r]] if a in local and b in local]
            if not axes:
                continue
            mov = np.asarray(_moving(names, idx, names[axes[0][1]]), dtype=np.int64)
            if not is_heavy[mov].any():
                continue
            poses = _poses(x, names, idx, axes, mov)
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
                rows = np.flatnonzero(np.diff(sub_c.indptr)) if sub_c.format == "csr" else np.unique(sub_c.nonzero()[0])
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
    return x, [f"{rnames[r]} {ids[r]}" for r in sorted(moved)]


def _poses(x: np.ndarray, names: np.ndarray, idx: list[int], axes: list[tuple[int, int]], mov: np.ndarray) -> np.ndarray:
    """(k, m, 3) positions of the moving atoms ``mov``: first as they are, then χ1 and χ2 turned
    together on :data:`GRID`, then each deeper χ alone."""
    pos = {int(a): k for k, a in enumerate(mov)}
    base = x[mov]

    def turn(p: np.ndarray, axis: tuple[int, int], angles: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """Poses (len(angles)·len(p), m, 3): each pose in ``p`` turned about ``axis`` (its atoms
        as placed in that pose: ``frame`` gives the pose's copy of the axis atoms)."""
        a, b = axis
        beyond = [pos[i] for i in _moving(names, idx, names[b]) if i in pos]
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
    p1 = turn(first, axes[0], GRID, axis_atoms(first, axes[0]))
    out = [first, p1]
    if len(axes) > 1:
        out.append(turn(p1, axes[1], GRID, axis_atoms(p1, axes[1])))
        for ax in axes[2:]:
            out.append(turn(first, ax, GRID, axis_atoms(first, ax)))
    return np.concatenate(out)
