"""Collapsed side-chain branches are spread to tetrahedral geometry (herobm.refine.branches)."""

import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import PDB_small

from herobm.geometry import bond_angles
from herobm.metrics.geometry import chirality_centers, signed_volumes
from herobm.refine.branches import BRANCHES, TETRAHEDRAL, spread_branches


def _arrays():
    """Adenylate kinase with its hydrogens (CHARMM names: ILE CD, HG11 ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(PDB_small)
    a = u.atoms
    return a.names.astype(str), a.resindices.copy(), np.asarray([r.resname for r in u.residues]), \
        a.positions.astype(np.float64)


def _branch_index(names, res, resnames):
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(res, names))}
    return np.array([[index[(r, a)] for a in BRANCHES[rn]] for r, rn in enumerate(resnames) if rn in BRANCHES])


def _angle(x, a, c, b):
    """Angle a-c-b in degrees (index arrays or single indices)."""
    return np.degrees(bond_angles(x, np.stack(np.broadcast_arrays(a, c, b), -1).reshape(-1, 3))).squeeze()


def test_real_structure_is_left_alone():
    names, res, resnames, x = _arrays()
    q = _branch_index(names, res, resnames)
    assert len(q) == 11 + 14 + 16 + 19  # THR, ILE, LEU, VAL of adenylate kinase
    y, spread = spread_branches(names, res, resnames, x)
    assert spread == [] and np.array_equal(x, y)


def test_collapsed_branches_are_spread_back_near_the_truth():
    """Both children of every branch pulled to 0.4 Å of each other, 0.9 Å from the centre
    (what the Cα model writes for THR): spread, they are at the tetrahedral angles and the
    standard bond lengths, every stereocentre natural, within 0.3 Å of where they were, and
    what hangs off them (ILE CD, the hydrogens) went along unchanged in shape; nothing else moved."""
    names, res, resnames, x = _arrays()
    q = _branch_index(names, res, resnames)
    bad = x.copy()
    subtrees = []
    for c, p, b, d in q:
        mid = 0.5 * (x[b] + x[d]) - x[c]
        half = 0.2 * (x[b] - x[d]) / np.linalg.norm(x[b] - x[d])
        for atom, sign in ((b, 1.0), (d, -1.0)):
            new = x[c] + 0.9 * mid / np.linalg.norm(mid) + sign * half
            r = res[atom]
            moving = [i for i in np.flatnonzero(res == r)
                      if i == atom or names[i].startswith("H" + names[atom][1:])
                      or (resnames[r] == "ILE" and names[atom] == "CG1" and names[i] in ("CD", "HD1", "HD2", "HD3"))]
            bad[moving] += new - x[atom]
            subtrees.append(moving)
    assert (_angle(bad, q[:, 2], q[:, 0], q[:, 3]) < 40).all()
    y, spread = spread_branches(names, res, resnames, bad)
    assert len(spread) == len(q) and spread[0].endswith(" CB") and any(s.startswith("LEU") for s in spread)
    _, named = spread_branches(names, res, resnames, bad, residue_id=np.arange(len(resnames)) + 100)
    assert named == [f"{rn} {int(k) + 99} {c}" for rn, k, c in (lab.split() for lab in spread)]
    for k in (2, 3):
        assert np.allclose(_angle(y, q[:, 1], q[:, 0], q[:, k]), TETRAHEDRAL, atol=1e-6)
        lengths = np.linalg.norm(y[q[:, k]] - y[q[:, 0]], axis=1)
        expected = np.where(np.char.startswith(names[q[:, k]], "O"), 1.43, 1.53)
        assert np.allclose(lengths, expected, atol=1e-9)
    assert np.allclose(_angle(y, q[:, 2], q[:, 0], q[:, 3]), TETRAHEDRAL, atol=1e-6)
    quads = chirality_centers(res, names, resnames)
    assert (signed_volumes(y, quads) > 0).all()
    moved = np.linalg.norm(y - x, axis=1)
    assert moved[q[:, 2:]].max() < 0.3  # the real branches are a few degrees off tetrahedral
    for group in subtrees:  # each child and what hangs off it moved as one rigid piece
        g = np.asarray(group)
        d_bad = np.linalg.norm(bad[g][:, None] - bad[g][None], axis=-1)
        assert np.allclose(np.linalg.norm(y[g][:, None] - y[g][None], axis=-1), d_bad, atol=1e-9)
    assert max(len(g) for g in subtrees) == 7  # ILE CG1 with HG11, HG12, CD, HD1-3
    untouched = np.ones(len(x), bool)
    untouched[np.concatenate(subtrees)] = False
    assert np.array_equal(y[untouched], x[untouched])


def test_spreading_turns_with_the_structure():
    """Rotating the input rotates the output (the construction uses no fixed axis)."""
    names, res, resnames, x = _arrays()
    q = _branch_index(names, res, resnames)
    bad = x.copy()
    bad[q[:, 3]] = x[q[:, 2]] + 0.3  # children nearly on top of each other
    y, spread = spread_branches(names, res, resnames, bad)
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0.0, 0.0, 1.0]])
    R = R @ np.array([[1.0, 0.0, 0.0], [0.0, np.cos(1.1), -np.sin(1.1)], [0.0, np.sin(1.1), np.cos(1.1)]])
    t = np.array([3.0, -7.0, 12.0])
    y_rot, spread_rot = spread_branches(names, res, resnames, bad @ R.T + t)
    assert spread_rot == spread and len(spread) == len(q)
    assert np.allclose(y_rot, y @ R.T + t, atol=1e-6)


@pytest.mark.parametrize("min_angle, expected", [(20.0, 0), (60.0, 1)])
def test_only_branches_below_the_angle_move(min_angle, expected):
    names, res, resnames, x = _arrays()
    q = _branch_index(names, res, resnames)
    c, p, b, d = q[0]
    ub = (x[b] - x[c]) / np.linalg.norm(x[b] - x[c])
    w = x[d] - x[c] - np.dot(x[d] - x[c], ub) * ub
    w /= np.linalg.norm(w)
    bad = x.copy()  # child d turned in the plane of the pair to 45° from child b
    bad[d] = x[c] + np.linalg.norm(x[d] - x[c]) * (np.cos(np.radians(45.0)) * ub + np.sin(np.radians(45.0)) * w)
    assert _angle(bad, b, c, d) == pytest.approx(45.0)
    _, spread = spread_branches(names, res, resnames, bad, min_angle=min_angle)
    assert len(spread) == expected



def test_child_on_its_centre_is_spread():
    """A child placed exactly on its branch point has no angle to judge (bond_angles gives 90°):
    it still counts as collapsed and comes back at bond length and the tetrahedral angles, with
    its hydrogens moved along; a child short of half a bond likewise."""
    names, res, resnames, x = _arrays()
    q = _branch_index(names, res, resnames)
    thr = [k for k in q if resnames[res[k[0]]] == "THR"]
    (c, p, b, d), (c2, p2, b2, d2) = thr[0], thr[1]
    bad = x.copy()
    hyd = [i for i in np.flatnonzero(res == res[b]) if names[i] == "HG1"]
    bad[[b] + hyd] += x[c] - x[b]  # OG1 (and its hydrogen, rigidly) moved onto CB
    bad[b2] = x[c2] + 0.5 * (x[b2] - x[c2]) / np.linalg.norm(x[b2] - x[c2])  # 0.5 Å: too short
    assert np.linalg.norm(bad[b] - bad[c]) == 0.0
    y, spread = spread_branches(names, res, resnames, bad)
    assert len(spread) == 2 and all(s.startswith("THR") for s in spread)
    for cc, pp, bb, dd in ((c, p, b, d), (c2, p2, b2, d2)):
        assert np.linalg.norm(y[bb] - y[cc]) == pytest.approx(1.43)
        assert _angle(y, bb, cc, dd) == pytest.approx(TETRAHEDRAL, abs=1e-6)
        assert _angle(y, pp, cc, bb) == pytest.approx(TETRAHEDRAL, abs=1e-6)
    assert np.allclose(y[hyd] - y[b], x[hyd] - x[b])
    assert np.isfinite(y).all()
