"""The network is E(3)-equivariant, permutation-equivariant and strictly local, so chunked
inference equals whole-system inference."""

from pathlib import Path

import numpy as np
import pytest
import torch
from MDAnalysisTests.datafiles import PDB_helix

import MDAnalysis as mda
from herobm.coarse_grain import bead_positions
from herobm.errors import InputError
from herobm.mapping import load_mapping_set
from herobm.model import Graph, HEroBMNet, ModelConfig, edge_flags, neighbour_list
from herobm.model.chunking import forward_chunked, spatial_chunks
from herobm.model.graph import EDGE_NEXT, EDGE_PREV, sequence_flag
from herobm.system import map_atoms
from herobm.testing import assert_equivariant


def make_graph(pos, types, cutoff, box=None, residues=None, nxt=None, dtype=torch.float64):
    ei, sh = neighbour_list(pos, cutoff, box)
    residues = np.arange(len(pos)) if residues is None else residues
    nxt = np.full(residues.max() + 1, -1) if nxt is None else nxt
    return Graph(torch.tensor(pos, dtype=dtype), torch.as_tensor(types), torch.as_tensor(ei),
                 torch.tensor(sh, dtype=dtype), torch.as_tensor(edge_flags(ei, residues, nxt)))


def helix_beads(mapping: str):
    """(mapping set, bead system, bead positions) of a real helical peptide, with residue links."""
    mset = load_mapping_set(mapping)
    u = mda.Universe(PDB_helix)
    system = map_atoms(u.select_atoms("protein"), mset)
    pos = bead_positions(system, u.select_atoms("protein").positions)
    return mset, system, pos


@pytest.fixture(scope="module")
def helix():
    """Martini 3 beads of a real helical peptide."""
    return helix_beads("martini3")


def model_for(mset, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(n_bead_types=mset.n_bead_types, n_vectors=mset.max_slots, mul=4, latent_dim=16, **kw)
    return HEroBMNet(cfg).to(torch.float64).eval()


@pytest.mark.parametrize("correlation", [2, 3])
@pytest.mark.parametrize("vector_length", ["free", "learned"])
def test_e3_equivariance(helix, correlation, vector_length):
    mset, system, pos = helix
    model = model_for(mset, correlation=correlation, vector_length=vector_length)
    g = make_graph(pos, system.bead_type, model.cfg.cutoff, residues=system.bead_residue, nxt=system.residue_next)
    with torch.no_grad():
        assert_equivariant(model, g, tol=1e-5)
        out = model(g)
    assert out["vectors"].shape == (system.n_beads, mset.max_slots, 3)
    assert out["vectors"].abs().max() > 0 and torch.isfinite(out["vectors"]).all()


def test_se3_head_rotates_but_can_tell_mirror_images(helix):
    """symmetry='SE3' (with a per-type head): rotations and translations still rotate the vectors,
    but a mirror image need not give the mirrored output (the head reads cross products), which
    is what lets a model learn L-amino acids from a mirror-symmetric Cα neighbourhood."""
    mset, system, pos = helix
    model = model_for(mset, symmetry="SE3", typed_head=True)
    with torch.no_grad():
        model.type_mix.normal_()  # trained weights are not zero
    g = make_graph(pos, system.bead_type, model.cfg.cutoff, residues=system.bead_residue, nxt=system.residue_next)
    with torch.no_grad():
        assert_equivariant(model, g, tol=1e-5)
        ref = model(g)
        mirror = model(make_graph(-pos, system.bead_type, model.cfg.cutoff, residues=system.bead_residue,
                                  nxt=system.residue_next))
    # the E3 answer to a mirrored input would be -vectors; SE3 differs from it
    assert (mirror["vectors"] + ref["vectors"]).abs().max() > 1e-3
    chiral = model_for(mset, symmetry="SE3", chiral_latent=True)
    with torch.no_grad():
        assert_equivariant(chiral, g, tol=1e-5)
    e3 = model_for(mset, typed_head=True)
    with torch.no_grad():
        e3.type_mix.normal_()
        assert_equivariant(e3, g, tol=1e-5)  # the per-type head alone keeps reflections


def test_model_options_are_checked():
    with pytest.raises(InputError, match="symmetry"):
        ModelConfig(n_bead_types=3, n_vectors=2, symmetry="SO3")
    with pytest.raises(InputError, match="chiral_latent needs symmetry: SE3"):
        ModelConfig(n_bead_types=3, n_vectors=2, chiral_latent=True)
    with pytest.raises(InputError, match="typed_head"):
        ModelConfig.from_dict({"n_bead_types": 3, "n_vectors": 2, "typed_head": "yes"})
    with pytest.raises(InputError, match="sequence_range"):
        ModelConfig(n_bead_types=3, n_vectors=2, sequence_range=0)


def test_sequence_range_flags_follow_the_chain(helix):
    """Flags 2s / 2s+1 mark the residue s bonds ahead / behind, checked against residue
    numbers of a real single-chain helix (consecutive residues are bonded there)."""
    mset, system, pos = helix
    res, nxt = system.bead_residue, system.residue_next
    assert np.all(nxt[:-1] == np.arange(1, len(nxt)))  # one unbroken chain
    ei, _ = neighbour_list(pos, 12.0)
    sep = res[ei[1]] - res[ei[0]]
    f1 = edge_flags(ei, res, nxt)
    f3 = edge_flags(ei, res, nxt, sequence_range=3)
    expect = np.where(sep == 0, 1, 0)
    for s in (1, 2, 3):
        expect[sep == s], expect[sep == -s] = 2 * s, 2 * s + 1
    assert np.array_equal(f3, expect)
    assert set(np.unique(f3)) == set(range(8))
    assert np.array_equal(f1, np.where(np.abs(sep) > 1, 0, expect))  # range 1: as before
    # a chain break: nothing is counted across it
    broken = nxt.copy()
    broken[5] = -1
    fb = edge_flags(ei, res, broken, sequence_range=3)
    ri, rj = res[ei[0]], res[ei[1]]
    across = (np.minimum(ri, rj) <= 5) & (np.maximum(ri, rj) >= 6)
    assert np.all(fb[across] == 0) and np.array_equal(fb[~across], f3[~across])
    with pytest.raises(ValueError, match="sequence_range"):
        edge_flags(ei, res, nxt, sequence_range=0)
    # the rule as one function (chain_geometry reads i±1, i±2 through it)
    assert [sequence_flag(s) for s in (1, -1, 2, -2, 3, -3)] == [EDGE_NEXT, EDGE_PREV, 4, 5, 6, 7]
    with pytest.raises(ValueError, match="EDGE_SAME"):
        sequence_flag(0)


def test_sequence_range_model_is_equivariant(helix):
    mset, system, pos = helix
    model = model_for(mset, symmetry="SE3", typed_head=True, sequence_range=3)
    ei, sh = neighbour_list(pos, 8.0)
    flags = edge_flags(ei, system.bead_residue, system.residue_next, 3)
    g = Graph(torch.tensor(pos), torch.as_tensor(system.bead_type), torch.as_tensor(ei), torch.tensor(sh),
              torch.as_tensor(flags))
    with torch.no_grad():
        assert_equivariant(model, g)


def test_permutation_equivariance(helix):
    mset, system, pos = helix
    model = model_for(mset)
    perm = np.random.default_rng(0).permutation(system.n_beads)
    inv = np.argsort(perm)
    g = make_graph(pos, system.bead_type, 8.0, residues=system.bead_residue, nxt=system.residue_next)
    res_perm = system.bead_residue[perm]
    gp = make_graph(pos[perm], system.bead_type[perm], 8.0, residues=res_perm, nxt=system.residue_next)
    with torch.no_grad():
        a, b = model(g), model(gp)
    assert (a["vectors"][perm] - b["vectors"]).abs().max() < 1e-10
    assert (a["dihedrals"] - b["dihedrals"][inv]).abs().max() < 1e-10


def test_locality(helix):
    """Moving a bead from just outside one bead's cutoff to far away changes nothing there;
    moving it inside does change it."""
    mset, system, pos = helix
    model = model_for(mset)
    cutoff = model.cfg.cutoff
    d = np.linalg.norm(pos - pos[0], axis=1)
    k = int(np.flatnonzero(d > cutoff + 0.5)[0])
    with torch.no_grad():
        base = model(make_graph(pos, system.bead_type, cutoff))
        moved = pos.copy()
        moved[k] += (pos[k] - pos[0]) / d[k] * 30.0  # further away, still outside
        far = model(make_graph(moved, system.bead_type, cutoff))
        assert (far["vectors"][0] - base["vectors"][0]).abs().max() == 0
        near = pos.copy()
        near[k] = pos[0] + (pos[k] - pos[0]) / d[k] * (cutoff - 2.0)
        inside = model(make_graph(near, system.bead_type, cutoff))
        assert (inside["vectors"][0] - base["vectors"][0]).abs().max() > 1e-6


def test_chunked_equals_whole_on_20000_beads(helix):
    """A periodic 20,000-bead system (tiled copies of the helix, random types) cut into
    ~2,000-bead chunks gives the whole-system outputs to 1e-5 Å."""
    mset, system, pos = helix
    # a small network keeps this affordable on 2 cores; locality does not depend on size
    model = model_for(mset, cutoff=5.0, lmax=1, correlation=2, num_layers=2).to(torch.float32)
    rng = np.random.default_rng(1)
    n = 20000
    side = (n / 0.012) ** (1 / 3)
    centres = rng.uniform(0, side, size=(n // system.n_beads + 1, 3))
    tiles = [pos - pos.mean(0) + c for c in centres]
    big = np.concatenate(tiles)[:n] % side
    types = np.tile(system.bead_type, len(tiles))[:n]
    residues = np.concatenate([system.bead_residue + k * system.n_residues for k in range(len(tiles))])[:n]
    box = np.array([side, side, side, 90, 90, 90.0])
    g = make_graph(big, types, model.cfg.cutoff, box=box, residues=residues, dtype=torch.float32)
    with torch.no_grad():
        whole = model(g)
    chunks = spatial_chunks(big, 2000, residues)
    assert len(chunks) >= 10 and max(len(c) for c in chunks) <= 2000
    part = forward_chunked(model, g, chunks)
    assert (whole["vectors"] - part["vectors"]).abs().max() < 1e-5
    assert (whole["dihedrals"] - part["dihedrals"]).abs().max() < 1e-5


def test_periodic_edges_cross_the_box():
    pos = np.array([[0.5, 5, 5], [9.5, 5, 5], [5, 5, 5]])
    ei, sh = neighbour_list(pos, 2.0, np.array([10, 10, 10, 90, 90, 90.0]))
    assert ei.shape[1] == 2
    vec = pos[ei[1]] - pos[ei[0]] + sh
    assert np.allclose(np.abs(vec[:, 0]), 1.0)
    with pytest.raises(ValueError, match="half the box"):
        neighbour_list(pos, 6.0, np.array([10, 10, 10, 90, 90, 90.0]))


def test_ensemble_is_the_members_mean_and_stays_equivariant_and_local(helix, tmp_path):
    """An ensemble returns the mean of its members' vectors and the circular mean of their
    dihedrals, is rotation-equivariant like them, chunks like one network, and round-trips
    through a checkpoint (``ensemble`` entries) to the same outputs."""
    from herobm.model import Ensemble
    from herobm.train.checkpoint import load_checkpoint, load_model, save_checkpoint

    mset, system, pos = helix
    a = model_for(mset, symmetry="SE3", typed_head=True, sequence_range=2)
    b = model_for(mset, symmetry="SE3", typed_head=True, sequence_range=2, num_layers=3)  # another size
    with torch.no_grad():
        a.type_mix.normal_()
        b.type_mix.normal_()
    ens = Ensemble([a, b]).eval()
    g = make_graph(pos, system.bead_type, a.cfg.cutoff, residues=system.bead_residue, nxt=system.residue_next)
    g = Graph(g.pos, g.bead_type, g.edge_index, g.edge_shift,
              torch.as_tensor(edge_flags(g.edge_index.numpy(), system.bead_residue, system.residue_next, 2)))
    with torch.no_grad():
        oa, ob, oe = a(g), b(g), ens(g)
        assert torch.allclose(oe["vectors"], (oa["vectors"] + ob["vectors"]) / 2, atol=1e-12)
        assert (oa["vectors"] - ob["vectors"]).abs().max() > 1e-3  # two different networks
        mean = oa["dihedrals"] + ob["dihedrals"]
        assert torch.allclose(oe["dihedrals"], mean / mean.norm(dim=-1, keepdim=True), atol=1e-12)
        assert torch.allclose(oe["dihedrals"].norm(dim=-1), torch.ones(1, dtype=torch.float64))
        assert_equivariant(ens, g, tol=1e-5)
        part = forward_chunked(ens, g, spatial_chunks(pos, 20, system.bead_residue))
    assert (part["vectors"] - oe["vectors"]).abs().max() < 1e-9

    path = save_checkpoint(tmp_path / "a.pt", a, a.cfg, {"dtype": "float64"}, mset, epoch=1,
                           files={p.name: p.read_text() for p in sorted(Path(mset.source).iterdir()) if p.is_file()})
    ckpt = load_checkpoint(path)
    ckpt["ensemble"] = [{"model_config": b.cfg.to_dict(), "model_state": b.state_dict()}]
    torch.save(ckpt, path)
    again, _ = load_model(path, device="cpu")
    assert isinstance(again, Ensemble) and len(again.members) == 2
    with torch.no_grad():
        assert torch.allclose(again(g)["vectors"], oe["vectors"], atol=1e-10)


def test_ensemble_members_must_read_the_same_graph(helix):
    from herobm.model import Ensemble

    mset, _, _ = helix
    small = dict(lmax=1, num_layers=2, correlation=2)
    with pytest.raises(InputError, match=r"member 1: cutoff 6.0 differs from member 0's 8.0"):
        Ensemble([model_for(mset, **small), model_for(mset, cutoff=6.0, **small)])
    with pytest.raises(InputError, match="sequence_range"):
        Ensemble([model_for(mset, **small), model_for(mset, sequence_range=3, **small)])
    with pytest.raises(InputError, match="at least one"):
        Ensemble([])
    # an E3 member with an SE3 one: the mean is only rotation-equivariant, whichever comes first
    assert Ensemble([model_for(mset, **small), model_for(mset, symmetry="E3", **small)]).cfg.symmetry == "E3"
    for pair in ((dict(symmetry="E3"), dict(symmetry="SE3")), (dict(symmetry="SE3"), dict(symmetry="E3"))):
        assert Ensemble([model_for(mset, **small, **kw) for kw in pair]).cfg.symmetry == "SE3"


@pytest.fixture(scope="module")
def ca_helix():
    """The Cα trace of the same real helix (mapping set 'ca': one bead per residue)."""
    return helix_beads("ca")


def test_chain_geometry_is_the_virtual_angles_and_dihedrals_of_the_trace(ca_helix):
    from MDAnalysis.lib.distances import calc_angles, calc_dihedrals

    from herobm.model.network import chain_geometry

    mset, system, pos = ca_helix
    n = system.n_beads
    assert np.array_equal(system.bead_residue, np.arange(n))
    ei, sh = neighbour_list(pos, 10.0)
    flags = edge_flags(ei, system.bead_residue, system.residue_next, 2)
    vec = torch.tensor(pos)[ei[1]] - torch.tensor(pos)[ei[0]]
    f = chain_geometry(vec, torch.as_tensor(ei[0]), torch.as_tensor(flags), n).numpy()
    assert f.shape == (n, 12)
    i = np.arange(2, n - 2)  # every quantity defined
    assert np.all(f[i, 7:] == 1)
    assert np.allclose(f[i, 0], np.cos(calc_angles(pos[i - 2], pos[i - 1], pos[i])), atol=1e-6)
    assert np.allclose(f[i, 1], np.cos(calc_angles(pos[i - 1], pos[i], pos[i + 1])), atol=1e-6)
    assert np.allclose(f[i, 2], np.cos(calc_angles(pos[i], pos[i + 1], pos[i + 2])), atol=1e-6)
    for col, d in ((3, calc_dihedrals(pos[i - 2], pos[i - 1], pos[i], pos[i + 1])),
                   (5, calc_dihedrals(pos[i - 1], pos[i], pos[i + 1], pos[i + 2]))):
        assert np.allclose(f[i, col], np.cos(d), atol=1e-6) and np.allclose(f[i, col + 1], np.sin(d), atol=1e-6)
    # an α-helix: virtual bond angle ~91°, virtual dihedral ~ +50° (right-handed)
    assert np.all(np.abs(np.degrees(np.arccos(f[i, 1])) - 91) < 6)
    assert np.all(np.abs(np.degrees(np.arctan2(f[i, 6], f[i, 5])) - 50) < 10)
    # chain ends: what needs a missing residue is 0 and flagged undefined
    assert np.array_equal(f[0, 7:], [0, 0, 1, 0, 0]) and np.all(f[0, :2] == 0) and np.all(f[0, 3:7] == 0)
    assert np.array_equal(f[1, 7:], [0, 1, 1, 0, 1]) and f[1, 0] == 0 and np.all(f[1, 3:5] == 0)
    assert np.array_equal(f[n - 1, 7:], [1, 0, 0, 0, 0])
    # a mirror image keeps the cosines and turns the sines over
    fm = chain_geometry(-vec, torch.as_tensor(ei[0]), torch.as_tensor(flags), n).numpy()
    assert np.allclose(fm[:, [0, 1, 2, 3, 5]], f[:, [0, 1, 2, 3, 5]]) and np.allclose(fm[:, [4, 6]], -f[:, [4, 6]])


def test_chain_geometry_model_is_equivariant_and_chunks_exactly(ca_helix):
    from herobm.model.network import N_CHAIN_FEATURES

    mset, system, pos = ca_helix
    model = model_for(mset, symmetry="SE3", typed_head=True, sequence_range=2, chain_geometry=True)
    ei, sh = neighbour_list(pos, model.cfg.cutoff)
    flags = edge_flags(ei, system.bead_residue, system.residue_next, 2)
    g = Graph(torch.tensor(pos), torch.as_tensor(system.bead_type), torch.as_tensor(ei), torch.tensor(sh),
              torch.as_tensor(flags))
    with torch.no_grad():
        assert_equivariant(model, g)
        whole = model(g)
        part = forward_chunked(model, g, spatial_chunks(pos, 4))
        # the features reach the output: the same weights with theirs zeroed give another answer
        model.latent0[0].weight[:, -N_CHAIN_FEATURES:] = 0
        model.chain_self.weight.zero_()
        model.chain_self.bias.zero_()
        assert (model(g)["vectors"] - whole["vectors"]).abs().max() > 1e-4
    assert (whole["vectors"] - part["vectors"]).abs().max() < 1e-10


def test_chain_geometry_needs_se3_and_residues_two_away():
    with pytest.raises(InputError, match="chain_geometry needs symmetry: SE3"):
        ModelConfig(n_bead_types=3, n_vectors=2, sequence_range=2, chain_geometry=True)
    with pytest.raises(InputError, match="sequence_range >= 2"):
        ModelConfig(n_bead_types=3, n_vectors=2, symmetry="SE3", chain_geometry=True)
