"""Backbone relaxation toward ideal geometry (herobm.refine.relax)."""

import functools
import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import PDB_rama

from herobm.errors import InputError
from herobm.metrics.geometry import signed_volumes
from herobm.refine.backbone import BackboneGeometry, backbone_indices
from herobm.refine.relax import backbone_restraints, relax_backbone
from herobm.testing import random_orthogonal


@functools.lru_cache(maxsize=1)
def _load():
    """Chain A of 19HC (crystal, 292 residues), heavy atoms: names, residue of each atom,
    residue names, positions (Å), (R, 5) backbone indices and the bonded next residue."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(PDB_rama)
    a = u.select_atoms("segid A and protein and not name H* and not altloc B")
    res = a.resindices - a.resindices.min()
    resnames = a.residues.resnames.astype(str)
    idx = backbone_indices(a.names, res, len(resnames))
    x = a.positions.astype(np.float64)
    c, n = idx[:-1, 2], idx[1:, 0]
    nxt = np.full(len(resnames), -1)
    nxt[:-1] = np.where(np.linalg.norm(x[c] - x[n], axis=1) < 2.0, np.arange(1, len(resnames)), -1)
    return a.names.astype(str), res, resnames, x, idx, nxt


def _chain():
    """A fresh copy of :func:`_load`'s arrays (tests may change them)."""
    return tuple(np.array(v, copy=True) for v in _load())


def _deviation(x, pairs, d0):
    return np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1) - d0


def _cis(x, idx, nxt):
    """(R,) bool: the peptide bond to the next residue is cis (CA-CA under 3.3 Å)."""
    link = np.flatnonzero(nxt >= 0)
    cis = np.zeros(len(idx), dtype=bool)
    cis[link] = np.linalg.norm(x[idx[link, 1]] - x[idx[nxt[link], 1]], axis=1) < 3.3
    return cis


def test_restraints_of_a_real_chain():
    names, res, resnames, x, idx, nxt = _chain()
    pairs, d0, is_bond = backbone_restraints(idx, nxt, resnames, cis=_cis(x, idx, nxt))
    R, links = len(resnames), int((nxt >= 0).sum())
    term = 1  # the last residue has OXT
    # per residue 5 (N-CA, CA-C, N..C, C-O, CA..O), per link 6 (C-N, CA..N, C..CA, O..N and across
    # the planar unit CA..CA, O..CA), the carboxylate 3 more
    assert len(pairs) == 5 * R + 6 * links + 3 * term
    assert is_bond.sum() == 3 * R + links + term
    # a crystal backbone is near ideal: the bond lengths within 0.1 Å, the 1-3 distances within 0.25 Å
    dev = _deviation(x, pairs, d0)
    assert np.abs(dev[is_bond]).max() < 0.1 and np.abs(dev[~is_bond]).max() < 0.25
    assert np.sqrt(np.mean(dev[is_bond] ** 2)) < 0.03
    # no bond across a chain break, and Pro / Gly have their own angles
    g = BackboneGeometry()
    broken = np.flatnonzero(nxt < 0)[:-1]
    for r in broken:
        assert not ((pairs[:, 0] == idx[r, 2]) & (pairs[:, 1] == idx[r + 1, 0])).any()
    gly = np.flatnonzero(resnames == "GLY")[0]
    k = np.flatnonzero((pairs[:, 0] == idx[gly, 0]) & (pairs[:, 1] == idx[gly, 2]))
    expected = np.sqrt(g.n_ca ** 2 + g.ca_c ** 2 - 2 * g.n_ca * g.ca_c * np.cos(np.radians(g.n_ca_c_gly)))
    assert d0[k] == pytest.approx([expected])


def test_cis_peptides_keep_their_distance_across_the_unit():
    """A cis peptide bond (given, or judged from the input's CA-CA under 3.3 Å) is held at the cis
    CA-CA distance (~2.8 Å), a trans one at 3.80 Å; 19HC's crystal has both kinds."""
    names, res, resnames, x, idx, nxt = _chain()
    link = np.flatnonzero(nxt >= 0)
    cis = _cis(x, idx, nxt)
    assert cis.sum() >= 1 and (~cis[link]).sum() > 200
    pairs, d0, _ = backbone_restraints(idx, nxt, resnames, cis=cis)
    for r in link:
        k = np.flatnonzero((pairs[:, 0] == idx[r, 1]) & (pairs[:, 1] == idx[nxt[r], 1]))
        assert d0[k] == pytest.approx([2.78 if cis[r] else 3.80], abs=0.03)
    ncoo = np.unique(idx[:, [0, 2, 3, 4]][idx[:, [0, 2, 3, 4]] >= 0])  # CA as they are: cis judged right
    noisy = x.copy()
    noisy[ncoo] += np.random.default_rng(2).normal(0.0, 0.15, (len(ncoo), 3))
    y = relax_backbone(noisy, idx, nxt, resnames)
    after = np.linalg.norm(y[idx[link, 1]] - y[idx[nxt[link], 1]], axis=1)
    assert np.all((after < 3.0) == cis[link]) and np.abs(after[~cis[link]] - 3.80).max() < 0.05


def test_noisy_backbone_relaxes_to_ideal_and_closer_to_the_truth():
    """The crystal backbone shaken by 0.2 Å per coordinate (0.35 Å per atom): relaxed, the bonds
    are within 0.01 Å (RMS) of ideal and every backbone atom type is a quarter or more closer to the crystal than the
    shaken one; the side chains do not move."""
    names, res, resnames, x, idx, nxt = _chain()
    bb = np.unique(idx[idx >= 0])
    noisy = x.copy()
    noisy[bb] += np.random.default_rng(0).normal(0.0, 0.2, (len(bb), 3))
    y = relax_backbone(noisy, idx, nxt, resnames, cis=_cis(x, idx, nxt))  # noisy CA-CA would misjudge some
    pairs, d0, is_bond = backbone_restraints(idx, nxt, resnames, cis=_cis(x, idx, nxt))
    assert np.sqrt(np.mean(_deviation(noisy, pairs, d0)[is_bond] ** 2)) > 0.25
    assert np.sqrt(np.mean(_deviation(y, pairs, d0)[is_bond] ** 2)) < 0.01
    for col, name in enumerate(("N", "CA", "C", "O")):
        atoms = idx[:, col]
        before = np.sqrt(np.mean(np.sum((noisy[atoms] - x[atoms]) ** 2, axis=1)))
        after = np.sqrt(np.mean(np.sum((y[atoms] - x[atoms]) ** 2, axis=1)))
        assert after < 0.75 * before, name
    side = np.setdiff1d(np.arange(len(x)), bb)
    assert np.array_equal(y[side], noisy[side])


def test_cb_joins_with_its_bond_and_angles():
    """With CB given, CA-CB and the two angles at CA are restrained too: a shaken CB comes back to
    1.53 Å from CA and closer to the crystal, except where that would invert its CA (then it
    stays); without it CB does not move."""
    names, res, resnames, x, idx, nxt = _chain()
    cb = np.full(len(resnames), -1)
    is_cb = np.flatnonzero(names == "CB")
    cb[res[is_cb]] = is_cb
    assert (cb >= 0).sum() == (resnames != "GLY").sum()
    pairs, d0, is_bond = backbone_restraints(idx, nxt, resnames, cis=_cis(x, idx, nxt), cb=cb)
    plain, _, _ = backbone_restraints(idx, nxt, resnames, cis=_cis(x, idx, nxt))
    assert len(pairs) == len(plain) + 3 * (cb >= 0).sum()
    moved = np.unique(np.concatenate([idx[idx >= 0], cb[cb >= 0]]))
    noisy = x.copy()
    noisy[moved] += np.random.default_rng(3).normal(0.0, 0.2, (len(moved), 3))
    y = relax_backbone(noisy, idx, nxt, resnames, cis=_cis(x, idx, nxt), cb=cb)
    has = np.flatnonzero(cb >= 0)
    quads = np.stack([idx[has, 1], idx[has, 0], idx[has, 2], cb[has]], axis=1)
    # no CA natural in the shaken input comes out inverted: a CB that would have gone through the
    # N-CA-C plane was left where it was (the shaken input has inverted ones; they may come out right)
    natural_in = signed_volumes(noisy, quads) > 0
    assert (~natural_in).any() and np.all(signed_volumes(y, quads)[natural_in] > 0)
    kept = has[~np.all(y[cb[has]] == noisy[cb[has]], axis=1)]
    assert len(kept) > 0.9 * len(has)
    ca_cb = np.linalg.norm(y[idx[kept, 1]] - y[cb[kept]], axis=1)
    assert np.sqrt(np.mean((ca_cb - 1.53) ** 2)) < 0.01
    err = {k: np.sqrt(np.mean(np.sum((z[cb[kept]] - x[cb[kept]]) ** 2, axis=1))) for k, z in (("noisy", noisy), ("relaxed", y))}
    assert err["relaxed"] < 0.8 * err["noisy"]
    has = cb >= 0
    y0 = relax_backbone(noisy, idx, nxt, resnames, cis=_cis(x, idx, nxt))
    assert np.array_equal(y0[cb[has]], noisy[cb[has]])


def test_fixed_atoms_stay_and_the_result_is_rotation_equivariant():
    names, res, resnames, x, idx, nxt = _chain()
    bb = np.unique(idx[idx >= 0])
    noisy = x.copy()
    noisy[bb] += np.random.default_rng(1).normal(0.0, 0.15, (len(bb), 3))
    ca = idx[:, 1]
    y = relax_backbone(noisy, idx, nxt, resnames, fixed=ca, tol=1e-8)
    assert np.array_equal(y[ca], noisy[ca])
    assert not np.allclose(y[idx[:, 0]], noisy[idx[:, 0]])
    R = random_orthogonal(3).numpy().astype(np.float64)
    t = np.array([10.0, -4.0, 7.5])
    y_rot = relax_backbone(noisy @ R.T + t, idx, nxt, resnames, fixed=ca, tol=1e-8)
    assert np.abs(y_rot - (y @ R.T + t)).max() < 1e-5


def test_non_finite_backbone_atom_is_named():
    names, res, resnames, x, idx, nxt = _chain()
    x[idx[5, 2]] = np.nan
    with pytest.raises(InputError, match=rf"backbone atom\(s\) \[{idx[5, 2]}\]"):
        relax_backbone(x, idx, nxt, resnames)
