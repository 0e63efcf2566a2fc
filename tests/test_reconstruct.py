"""Level-by-level rebuild: agrees with a plain loop, is differentiable, combines
shared atoms by weight, and reproduces real structures from their true vectors."""

import numpy as np
import pytest
import torch

from herobm.io import make_universe
from herobm.mapping import load_mapping_set
from herobm.reconstruct import RebuildIndex, rebuild_atoms, true_vectors
from herobm.system import map_atoms

PHE_LIKE = """\
molecule: PHX
atoms:
  N:    BB       P2AA
  CA:   BB       P1A
  C:    BB       P2AB
  O:    BB       P3BA
  CB:   SC1      P2AA
  CG:   SC1      P1A
  CD1:  SC1,SC2  P2AB,P2AA  1/3,2/3
  CE1:  SC2      P1A
  CZ:   SC2,SC3  P2AB,P2AA
  CE2:  SC3      P1A
  CD2:  SC1,SC3  P2AC,P2AB  1/3,2/3
  ZN:   SC4      P0A  CM
  HZ:   SC4      !
"""
NAMES = ["N", "CA", "C", "O", "CB", "CG", "CD1", "CE1", "CZ", "CE2", "CD2", "ZN", "HZ"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phx")
    (folder / "phx.yaml").write_text(PHE_LIKE)
    (folder / "bead_types.yaml").write_text("PHX_BB: 0\nPHX_SC1: 1\nPHX_SC2: 2\nPHX_SC3: 3\nPHX_SC4: 4\n")
    mset = load_mapping_set(folder)
    n_res = 3
    names = NAMES * n_res
    res = np.repeat(np.arange(n_res), len(NAMES))
    u = make_universe(np.array(names), np.array(["PHX"] * len(names)), res + 1, np.array(["A"] * len(names)), res)
    u.add_TopologyAttr("masses", np.array([14.0, 12.0, 12.0, 16.0] + [12.0] * 7 + [65.4, 1.0] * 1).tolist() * n_res)
    return map_atoms(u.atoms, mset)


def loop_rebuild(system, beads, vectors):
    """Reference: one slot at a time, anchors resolved by recursion."""
    slot_pos = {}

    def pos(s):
        if s not in slot_pos:
            b, j, lvl, anc = (system.slot_bead[s], system.slot_index[s], system.slot_level[s], system.slot_anchor[s])
            if lvl == 0:
                slot_pos[s] = beads[b]
            elif lvl == 1:
                slot_pos[s] = beads[b] + vectors[b, j]
            else:
                slot_pos[s] = pos(anc) + vectors[b, j]
        return slot_pos[s]

    out = {}
    for s in range(system.n_slots):
        a = system.slot_atom[s]
        acc, w = out.get(a, (0.0, 0.0))
        out[a] = (acc + system.slot_weight[s] * pos(s), w + system.slot_weight[s])
    return np.stack([out[a][0] / out[a][1] for a in system.rebuilt_atoms])


def test_index_shapes(system):
    assert system.n_beads == 15 and system.mapping.max_slots == 4
    # CD1 is rebuilt from SC1 and SC2 with weights 1/3 and 2/3
    cd1 = [s for s in range(system.n_slots) if system.slot_atom[s] == 6]
    assert sorted(np.round(system.slot_weight[cd1], 6)) == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert np.allclose(np.asarray(system.cg_matrix().sum(axis=1)).ravel(), 1.0)


@pytest.mark.parametrize("device", DEVICES)
def test_matches_loop(system, device):
    rng = np.random.default_rng(0)
    beads = rng.normal(size=(system.n_beads, 3)) * 5
    vectors = rng.normal(size=(system.n_beads, system.mapping.max_slots, 3))
    index = RebuildIndex.from_system(system, device=device)
    got = rebuild_atoms(torch.tensor(beads, device=device), torch.tensor(vectors, device=device), index)
    want = loop_rebuild(system, beads, vectors)
    assert got.shape == (len(system.rebuilt_atoms), 3)
    assert np.abs(got.cpu().numpy() - want).max() < 1e-12
    # the ZN atom (level 0, CM) sits exactly on its bead
    zn = list(system.rebuilt_atoms).index(11)
    sc4 = int(np.flatnonzero((system.bead_name == "SC4"))[0])
    assert np.allclose(got[zn].cpu().numpy(), beads[sc4])


def test_true_vectors_round_trip(system):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(system.n_input_atoms, 3)) * 3
    beads = np.asarray(system.cg_matrix() @ x)
    # the CM flag puts SC4 exactly on ZN, so its level-0 rebuild is exact too
    assert np.allclose(beads[system.bead_name == "SC4"], x[11::13])
    vec = true_vectors(system, x, beads)
    out = rebuild_atoms(torch.tensor(beads), torch.tensor(vec), RebuildIndex.from_system(system)).numpy()
    assert np.abs(out - x[system.rebuilt_atoms]).max() < 1e-12


def test_gradients_flow(system):
    rng = np.random.default_rng(2)
    beads = torch.tensor(rng.normal(size=(system.n_beads, 3)), requires_grad=True)
    vectors = torch.tensor(rng.normal(size=(system.n_beads, system.mapping.max_slots, 3)), requires_grad=True)
    index = RebuildIndex.from_system(system)
    assert torch.autograd.gradcheck(lambda b, v: rebuild_atoms(b, v, index), (beads, vectors))


def test_fit_to_beads_is_a_projection_toward_the_truth():
    """A real protein (heavy atoms), its Martini 3 beads, and a noisy copy: the fit puts every
    bead centre back exactly, leaves the true structure where it is and never moves the noisy
    copy away from it (the truth coarse-grains to the same beads)."""
    import MDAnalysis as mda
    from MDAnalysisTests.datafiles import PDB_small

    from herobm.coarse_grain import bead_positions
    from herobm.reconstruct import fit_to_beads

    u = mda.Universe(PDB_small)
    heavy = u.select_atoms("protein and not name H*")
    system = map_atoms(heavy, load_mapping_set("martini3"))
    x = heavy.positions.astype(np.float64)
    beads = bead_positions(system, x)
    args = (system.cg_bead, system.cg_atom, system.cg_weight)
    assert np.abs(fit_to_beads(x, beads, *args) - x).max() < 1e-9
    rng = np.random.default_rng(0)
    for scale in (0.1, 0.5, 1.5):
        noisy = x + rng.normal(scale=scale, size=x.shape)
        fitted = fit_to_beads(noisy, beads, *args)
        assert np.abs(bead_positions(system, fitted) - beads).max() < 1e-9
        before = np.sqrt(((noisy - x) ** 2).sum(1).mean())
        after = np.sqrt(((fitted - x) ** 2).sum(1).mean())
        assert after < before and after > 0.5 * before  # closer, but the fit only fixes bead centres
