"""Inverted stereocentres are put right by reflecting the centre through the plane of its
three heavy neighbours (herobm.refine.chirality)."""

from pathlib import Path

import MDAnalysis as mda
import numpy as np

from herobm.metrics.geometry import chirality_centers, signed_volumes
from herobm.refine.chirality import fix_chirality, inverted_stereocentres

VILLIN = Path(mda.__file__).parents[1] / "MDAnalysisTests" / "data" / "contacts" / "villin_folded.gro.bz2"


def _arrays():
    u = mda.Universe(str(VILLIN)).select_atoms("protein and not name H*")
    _, res = np.unique(u.resindices, return_inverse=True)
    return u.names.astype(str), res, np.asarray([r.resname for r in u.residues]), u.positions.astype(np.float64)


def test_real_l_protein_has_positive_volumes_and_is_left_alone():
    names, res, resnames, x = _arrays()
    quads = chirality_centers(res, names, resnames)
    assert len(quads) > 25 and (signed_volumes(x, quads) > 0).all()
    y, fixed = fix_chirality(names, res, resnames, x)
    assert fixed == [] and np.array_equal(x, y)


def test_inverted_centres_are_restored_exactly():
    names, res, resnames, x = _arrays()
    quads = chirality_centers(res, names, resnames)
    bad = x.copy()
    picked = quads[[0, 5, 11]]
    for c, a, b, d in picked:  # invert three centres by reflecting them through their neighbours' plane
        n = np.cross(x[b] - x[a], x[d] - x[a])
        n /= np.linalg.norm(n)
        bad[c] = x[c] - 2 * np.dot(x[c] - x[a], n) * n
    assert (signed_volumes(bad, quads) < 0).sum() == 3
    y, fixed = fix_chirality(names, res, resnames, bad)
    assert len(fixed) == 3 and all(f.endswith(("CA", "CB")) for f in fixed)
    assert np.abs(y - x).max() < 1e-9 and (signed_volumes(y, quads) > 0).all()


def _pope_patch():
    """OpenMM's POPE bilayer patch (training data of martini3-lipids), heavy atoms and the
    glycerol hydrogen HS, residues named as the martini3 set names them."""
    import openmm.app

    path = Path(openmm.app.__file__).parent / "data" / "POPE.pdb"
    u = mda.Universe(str(path)).select_atoms("resname POP and (not name H* or name HS)")
    _, res = np.unique(u.resindices, return_inverse=True)
    return u.names.astype(str), res, np.full(res.max() + 1, "POPE"), u.positions.astype(np.float64)


def test_lipid_glycerol_centres_are_natural_in_openmm_patch_and_restored():
    """Every glycerol C2 of OpenMM's POPE patch is in the table's natural configuration; three
    inverted ones (C2 and its hydrogen HS reflected) are put back exactly, HS with them."""
    names, res, resnames, x = _pope_patch()
    quads = chirality_centers(res, names, resnames)
    assert len(quads) == 128 and set(names[quads[:, 0]]) == {"C2"}
    assert (signed_volumes(x, quads) > 0).all()
    hs = {int(r): i for i, (r, n) in enumerate(zip(res, names)) if n == "HS"}
    bad = x.copy()
    for c, a, b, d in quads[[3, 40, 99]]:
        n = np.cross(x[b] - x[a], x[d] - x[a])
        n /= np.linalg.norm(n)
        for k in (c, hs[int(res[c])]):
            bad[k] = x[k] - 2 * np.dot(x[k] - x[a], n) * n
    assert (signed_volumes(bad, quads) < 0).sum() == 3
    resids = np.arange(len(resnames)) + 301
    assert inverted_stereocentres(names, res, resnames, bad, resids) == [
        f"POPE {int(res[c]) + 301} C2" for c in quads[[3, 40, 99], 0]]  # named, nothing moved
    y, fixed = fix_chirality(names, res, resnames, bad)
    assert fixed == [f"POPE {int(res[c]) + 1} C2" for c in quads[[3, 40, 99], 0]]
    assert np.abs(y - x).max() < 1e-9 and inverted_stereocentres(names, res, resnames, y) == []
