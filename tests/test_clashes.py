"""Side chains turned out of clashes about their χ bonds (herobm.refine.clashes)."""

import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import PDB_small, TPR_xvf, TRR_xvf
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from herobm.metrics.geometry import chirality_centers, exclusion_matrix, signed_volumes
from herobm.metrics.matching import canonical_resname
from herobm.refine.clashes import CHI_AXES, CLASH, clashing_side_chains, relieve_clashes


LONG = ("ARG", "LYS", "GLU", "GLN", "MET", "PHE", "TYR", "TRP", "LEU", "HIS")


@pytest.fixture(scope="module")
def cobrotoxin():
    """Cobrotoxin with its hydrogens and its real bonds (GROMACS topology: four disulfides, prolines)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(TPR_xvf, TRR_xvf)
    p = u.select_atoms("protein")
    index = {a.ix: k for k, a in enumerate(p)}
    bonds = np.array([[index[a.ix] for a in b.atoms] for b in u.bonds if all(a.ix in index for a in b.atoms)])
    res = p.resindices - p.resindices.min()
    return (p.names.astype(str), res, np.asarray(p.residues.resnames), p.positions.astype(np.float64), bonds,
            p.residues.resids)


def _clashes(x, names, bonds, cutoff=CLASH):
    """Heavy-atom pairs closer than ``cutoff`` at least four bonds apart, by the real topology."""
    heavy = np.flatnonzero(~np.char.startswith(names, "H"))
    ex = exclusion_matrix(bonds, len(names))
    pairs = cKDTree(x[heavy]).query_pairs(cutoff, output_type="ndarray")
    i, j = heavy[pairs[:, 0]], heavy[pairs[:, 1]]
    keep = ~np.asarray(ex[i, j]).ravel()
    return set(zip(i[keep].tolist(), j[keep].tolist()))


def test_disulfides_are_bonds_without_being_told(cobrotoxin):
    """Mapping templates bond atoms within residues and along the chain, not across disulfides: with
    the topology's four SG-SG bonds taken out, the bridged SG pairs (2.0 Å) still do not count as
    clashes even at a 2.1 Å cutoff, and nothing moves."""
    names, res, resnames, x, bonds, _ = cobrotoxin
    ss = (names[bonds[:, 0]] == "SG") & (names[bonds[:, 1]] == "SG")
    assert ss.sum() == 4
    d = np.linalg.norm(x[bonds[ss, 0]] - x[bonds[ss, 1]], axis=1)
    assert (d < 2.1).all()
    y, moved = relieve_clashes(names, res, resnames, x, bonds[~ss], cutoff=2.1)
    assert moved == [] and np.array_equal(x, y)


def test_without_bonds_nothing_is_done(cobrotoxin):
    """No topology, no way to tell bonded neighbours from clashes: the positions come back as given."""
    names, res, resnames, x, bonds, resids = cobrotoxin
    bad, _ = _turn(x, names, res, next(k for k, rn in enumerate(resnames) if canonical_resname(rn) == "ARG"), 180)
    y, moved = relieve_clashes(names, res, resnames, bad, np.zeros((0, 2), dtype=np.int64))
    assert moved == [] and np.array_equal(y, bad)


def test_real_structures_are_left_alone(cobrotoxin):
    """Nothing moves in structures without clashes: adenylate kinase (with its hydrogens) and cobrotoxin."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(PDB_small)
        u.guess_TopologyAttrs(to_guess=["bonds"])  # a crystal: distances tell the bonds
    x = u.atoms.positions.astype(np.float64)
    y, moved = relieve_clashes(u.atoms.names, u.atoms.resindices, u.residues.resnames, x, u.bonds.indices)
    assert moved == [] and np.array_equal(x, y)
    names, res, resnames, x, bonds, _ = cobrotoxin
    assert not _clashes(x, names, bonds)
    y, moved = relieve_clashes(names, res, resnames, x, bonds)
    assert moved == [] and np.array_equal(x, y)


def _turn(x, names, res, r, angle):
    """Cobrotoxin with residue r's side chain beyond CB (hydrogens on CB too) turned by ``angle`` (°) about CA-CB."""
    idx = np.flatnonzero(res == r)
    local = {names[i]: i for i in idx}
    ca, cb = x[local["CA"]], x[local["CB"]]
    beyond = [i for i in idx if names[i] not in ("N", "H", "H1", "H2", "H3", "CA", "HA", "C", "O", "OC1", "OC2", "CB")]
    y = x.copy()
    rot = Rotation.from_rotvec(np.radians(angle) * (cb - ca) / np.linalg.norm(cb - ca))
    y[beyond] = rot.apply(x[beyond] - cb) + cb
    return y, beyond


def test_a_side_chain_turned_into_another_is_turned_out(cobrotoxin):
    """Each long side chain of cobrotoxin turned about χ1 into a deep clash (< 1.5 Å) with another
    residue, alone: the step turns that side chain or the one it hit (never backbone, never CB)
    until no pair is closer than the cutoff; every bond length (hydrogens' too) and stereocentre
    stays as it was."""
    names, res, resnames, x, bonds, resids = cobrotoxin
    bl = np.linalg.norm(x[bonds[:, 0]] - x[bonds[:, 1]], axis=1)
    quads = chirality_centers(res, names, resnames)
    tried = 0
    for r, rn in enumerate(resnames):
        if canonical_resname(rn) not in LONG:
            continue
        for angle in range(30, 360, 30):
            bad, _ = _turn(x, names, res, r, angle)
            deep = [p for p in _clashes(bad, names, bonds, 1.5) if res[p[0]] != res[p[1]]]
            if deep:
                break
        else:
            continue
        tried += 1
        y, moved = relieve_clashes(names, res, resnames, bad, bonds, residue_id=resids)
        involved = {int(res[a]) for p in deep for a in p}
        assert 1 <= len(moved) <= len(involved)
        assert set(moved) <= {f"{canonical_resname(resnames[k])} {resids[k]}" for k in involved}
        assert not _clashes(y, names, bonds)
        changed = np.flatnonzero(np.abs(y - bad).max(axis=1) > 0)
        assert set(res[changed]) <= involved
        assert not np.isin(names[changed], ["N", "H", "CA", "HA", "C", "O", "OC1", "OC2", "CB"]).any()
        np.testing.assert_allclose(np.linalg.norm(y[bonds[:, 0]] - y[bonds[:, 1]], axis=1), bl, atol=1e-9)
        assert np.array_equal(np.sign(signed_volumes(y, quads)), np.sign(signed_volumes(x, quads)))
    assert tried >= 5


def test_clashes_of_two_side_chains_and_labels(cobrotoxin):
    """Two long side chains far apart in the chain turned into clashes with different residues at
    once: both clashes are relieved; moved side chains are named by residue id (or by position
    from 1 without ids)."""
    names, res, resnames, x, bonds, resids = cobrotoxin
    bad, chosen, involved = x.copy(), [], set()
    for r, rn in enumerate(resnames):
        if canonical_resname(rn) not in LONG or len(chosen) == 2 or any(abs(r - c) < 10 for c in chosen):
            continue
        for angle in range(30, 360, 30):
            y, _ = _turn(bad, names, res, r, angle)
            hit = {int(res[a]) for p in _clashes(y, names, bonds, 1.8) for a in p
                   if res[p[0]] != res[p[1]] and r in (res[p[0]], res[p[1]])}
            if hit and not hit & involved:
                bad, chosen, involved = y, chosen + [r], involved | hit
                break
    assert len(chosen) == 2
    assert len(_clashes(bad, names, bonds)) >= 2
    y, moved = relieve_clashes(names, res, resnames, bad, bonds, residue_id=resids)
    assert not _clashes(y, names, bonds)
    assert 2 <= len(moved) and set(moved) <= {f"{canonical_resname(resnames[k])} {resids[k]}" for k in involved}
    _, by_position = relieve_clashes(names, res, resnames, bad, bonds)
    position = {int(i): k + 1 for k, i in enumerate(resids)}
    assert by_position == [f"{n} {position[int(i)]}" for n, i in (m.split() for m in moved)]


def test_rotated_and_moved_input_gives_the_same_side_chains(cobrotoxin):
    """The step commutes with rotation and translation: a clash made in cobrotoxin, relieved in place
    and after a random rotation and a 300 Å shift, ends in the same structure (rotated and shifted)."""
    names, res, resnames, x, bonds, _ = cobrotoxin
    r = next(k for k, rn in enumerate(resnames) if canonical_resname(rn) == "ARG")
    bad = next(y for a in range(30, 360, 30) for y in [_turn(x, names, res, r, a)[0]]
               if any(res[p[0]] != res[p[1]] for p in _clashes(y, names, bonds, 1.8)))
    y, moved = relieve_clashes(names, res, resnames, bad, bonds)
    assert moved
    rot = Rotation.random(random_state=3)
    shift = np.array([300.0, -250.0, 120.0])
    y2, moved2 = relieve_clashes(names, res, resnames, rot.apply(bad) + shift, bonds)
    assert moved2 == moved
    np.testing.assert_allclose(y2, rot.apply(y) + shift, atol=1e-6)


def test_side_chains_on_beads_keep_to_them(cobrotoxin):
    """With a bead on every side chain (centre of the atoms beyond CB, as Martini 3 side-chain beads
    pin them), no turn carries a bead more than 0.5 Å off; for clashes made by turning long side
    chains where the free step moves a bead farther, the pinned step does not, and with the limit
    lifted it does what the free step does."""
    from scipy import sparse

    names, res, resnames, x, bonds, _ = cobrotoxin
    side = ~np.isin(names, ["N", "H", "H1", "H2", "H3", "CA", "HA", "C", "O", "OC1", "OC2", "CB"]) \
        & ~np.char.startswith(names, "H")
    atoms = np.flatnonzero(side)
    rows, bead = np.unique(res[atoms], return_inverse=True)
    counts = np.bincount(bead)
    centres = sparse.csr_matrix((1.0 / counts[bead], (bead, atoms)), shape=(len(rows), len(names)))

    def bead_shift(a, b):
        return np.linalg.norm(centres @ (a - b), axis=1).max()

    bound = 0
    for r, rn in enumerate(resnames):
        if canonical_resname(rn) not in LONG:
            continue
        bad = next((y for a in range(30, 360, 30) for y in [_turn(x, names, res, r, a)[0]]
                    if any(res[p[0]] != res[p[1]] for p in _clashes(y, names, bonds, 1.8))), None)
        if bad is None:
            continue
        pinned, _ = relieve_clashes(names, res, resnames, bad, bonds, centres=centres)
        assert bead_shift(pinned, bad) <= 0.5 + 1e-9
        free, moved_free = relieve_clashes(names, res, resnames, bad, bonds)
        if bead_shift(free, bad) > 0.5:
            bound += 1
            assert not np.allclose(pinned, free)
            loose, moved_loose = relieve_clashes(names, res, resnames, bad, bonds, centres=centres,
                                                       max_centre_shift=50.0)
            assert moved_loose == moved_free and np.allclose(loose, free)
    assert bound >= 2


BACKBONE = ["N", "H", "H1", "H2", "H3", "CA", "HA", "C", "O", "OC1", "OC2", "O1", "O2"]  # O1 O2: its C terminus


def test_clashing_side_chains_are_named(cobrotoxin):
    """clashing_side_chains names the residues with χ bonds that have a heavy side-chain atom in a
    clash (by the real topology), and none in the real structure or without bonds."""
    names, res, resnames, x, bonds, resids = cobrotoxin
    assert clashing_side_chains(names, res, resnames, x, bonds, residue_id=resids) == []
    side = ~np.isin(names, BACKBONE) & ~np.char.startswith(names, "H")
    named = 0
    for r, rn in enumerate(resnames):
        if canonical_resname(rn) not in LONG:
            continue
        bad = next((y for a in range(30, 360, 30) for y in [_turn(x, names, res, r, a)[0]]
                    if any(res[p[0]] != res[p[1]] for p in _clashes(y, names, bonds))), None)
        if bad is None:
            continue
        want = {int(res[a]) for p in _clashes(bad, names, bonds) for a in p
                if side[a] and canonical_resname(resnames[res[a]]) in CHI_AXES}
        got = clashing_side_chains(names, res, resnames, bad, bonds, residue_id=resids)
        assert sorted(got) == sorted(f"{canonical_resname(resnames[k])} {resids[k]}" for k in want)
        assert clashing_side_chains(names, res, resnames, bad, np.zeros((0, 2), dtype=np.int64)) == []
        named += bool(got)
    assert named >= 5


def test_cysteines_in_disulfides_do_not_turn(cobrotoxin):
    """A cysteine of one of cobrotoxin's four disulfides turned about χ1 until its SG clashes with
    atoms no χ turn moves (backbone, CB), its S-S bond (which the topology keeps) stretched: the
    step leaves it, as its far side is bonded to another residue (turning it back would clear the
    clash; a step that went by names alone did)."""
    names, res, resnames, x, bonds, resids = cobrotoxin
    ss = bonds[(names[bonds[:, 0]] == "SG") & (names[bonds[:, 1]] == "SG")]
    fixed = BACKBONE + ["CB"]
    tried = 0
    for sg in ss.ravel():
        r = res[sg]
        for angle in range(10, 360, 10):
            bad, _ = _turn(x, names, res, r, angle)
            hits = [q if p == sg else p for p, q in _clashes(bad, names, bonds) if sg in (p, q)]
            if hits and np.isin(names[hits], fixed).all():
                break
        else:
            continue
        tried += 1
        y, moved = relieve_clashes(names, res, resnames, bad, bonds, residue_id=resids)
        assert moved == [] and np.array_equal(y, bad)
    assert tried >= 2
