"""Training membranes of scripts/make_lipid_structures.py: the POPG head-group configuration."""

import MDAnalysis as mda
import numpy as np
import pytest

pytest.importorskip("openmm")


@pytest.fixture(scope="module")
def mls(load_script):
    return load_script("make_lipid_structures")


def test_yiip_popg_heads_are_all_r(mls):
    """The CHARMM-GUI membrane that MDAnalysisTests ships (YiiP): every POPG head-group C12 is R,
    the configuration the training membranes are built with by default."""
    from MDAnalysisTests.datafiles import GRO_MEMPROT

    u = mda.Universe(GRO_MEMPROT)
    hands = []
    for res in u.select_atoms("resname POPG").residues:
        a = {x.name: x.position.astype(float) for x in res.atoms}
        hands.append(mls.head_handedness(a["C11"], a["C12"], a["C13"], a["OC2"]))
    assert len(hands) == 55 and set(hands) == {"R"}


@pytest.mark.parametrize("hand", ["R", "S"])
def test_pope_to_popg_builds_the_asked_configuration(mls, hand):
    """Every POPE of OpenMM's patch turned into POPG gets the asked head-group handedness,
    whatever the order of its H12A/H12B names; bond lengths at C12 as built."""
    residues, box = mls.read_pdb(mls.DATA / "POPE.pdb")
    names = mls.charmm_templates({"POPG"})["POPG"][0]
    rng = np.random.default_rng(0)
    lipids = [r for r in residues if mls.is_lipid(r)][:12]
    assert len(lipids) == 12
    for r in lipids:
        g = mls.pope_to_popg(r, names, rng, hand, np.zeros((0, 3)), box)
        x = {n: g.pos(n) for n in ("C11", "C12", "C13", "OC2")}
        assert mls.head_handedness(x["C11"], x["C12"], x["C13"], x["OC2"]) == hand
        assert np.linalg.norm(x["C13"] - x["C12"]) == pytest.approx(1.53, abs=1e-6)
        assert np.linalg.norm(x["OC2"] - x["C12"]) == pytest.approx(1.43, abs=1e-6)


def test_membrane_folders_with_the_same_file_names_stay_apart(mls, load_script, tmp_path):
    """build_model_datasets.py --lipids A B: both folders hold popg_pope.pdb; the O13/O14-renamed
    copies of the two must not overwrite each other. A folder without membranes is an error."""
    build = load_script("build_model_datasets")
    text = (mls.DATA / "POPE.pdb").read_text()  # OpenMM's patch: some phosphates need the renaming
    for k, name in enumerate(("a", "b")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "popg_pope.pdb").write_text(f"REMARK   run {name}\n" + text)
    entries = build._extra([str(tmp_path / "a"), str(tmp_path / "b")])
    assert [(k, dcd) for _, dcd, k in entries] == [(0, []), (1, [])]
    fixed = [build.canonical_phosphate_names(t, build._copy_folder(tmp_path / "fixed", k)) for t, _, k in entries]
    assert len(set(fixed)) == 2
    assert [open(f).readline().split()[-1] for f in fixed] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="empty: no \\*.pdb membranes"):
        build._extra([str(tmp_path / "empty")])


def test_random_popg_rotamers_keep_clear_of_the_neighbours(mls):
    """--popg-rotamer random: the head groups differ from the clearest rotamer but every new
    heavy atom (C13, OC2, OC3) keeps HEAD_CLEARANCE from the neighbouring lipids' heavy atoms;
    the handedness is kept. An unknown mode is an error."""
    residues, box = mls.read_pdb(mls.DATA / "POPE.pdb")
    names = mls.charmm_templates({"POPG"})["POPG"][0]
    lipids = [r for r in residues if mls.is_lipid(r)][:10]
    differ = 0
    for r in lipids:
        near = [q for q in residues if q is not r and mls.is_lipid(q)
                and np.linalg.norm(mls.min_image(q.pos("P") - r.pos("P"), box)) < 14.0]
        env = mls.heavy_xyz(near)
        clearest = mls.pope_to_popg(r, names, np.random.default_rng(1), "R", env, box, "clearest")
        g = mls.pope_to_popg(r, names, np.random.default_rng(1), "R", env, box, "random")
        new = np.array([g.pos(n) for n in ("C13", "OC2", "OC3")])
        assert mls.min_dist(new, env, box) >= mls.HEAD_CLEARANCE
        x = {n: g.pos(n) for n in ("C11", "C12", "C13", "OC2")}
        assert mls.head_handedness(x["C11"], x["C12"], x["C13"], x["OC2"]) == "R"
        differ += not np.allclose(g.pos("OC3"), clearest.pos("OC3"))
    assert differ >= 7
    with pytest.raises(ValueError, match="rotamer must be"):
        mls.pope_to_popg(lipids[0], names, np.random.default_rng(0), "R", np.zeros((0, 3)), box, "best")


@pytest.mark.parametrize("hand", ["R", "S"])
def test_built_popg_head_matches_the_natural_table_entry(mls, hand):
    """The refinement's table of known stereocentres (herobm.metrics.geometry.CHIRAL_CENTRES)
    calls R-POPG's C12 natural (positive volume) and S-POPG's inverted."""
    from herobm.metrics.geometry import chirality_centers, signed_volumes

    residues, box = mls.read_pdb(mls.DATA / "POPE.pdb")
    names = mls.charmm_templates({"POPG"})["POPG"][0]
    r = [r for r in residues if mls.is_lipid(r)][0]
    g = mls.pope_to_popg(r, names, np.random.default_rng(0), hand, np.zeros((0, 3)), box)
    atoms = ("C11", "C12", "C13", "OC2")
    x = np.array([g.pos(n) for n in atoms])
    quads = chirality_centers(np.zeros(4, dtype=int), atoms, ["POPG"])
    assert len(quads) == 1
    assert (signed_volumes(x, quads)[0] > 0) == (hand == "R")


@pytest.fixture(scope="module")
def chl1_popc_seed25(mls):
    """The cholesterol / POPC membrane as `--seed 25` builds it (before minimisation), with its
    CHARMM36 templates."""
    import argparse

    args = argparse.Namespace(chl1_per_leaflet=20, chl1_spacing=11.0, water_margin=12.0, seed=25)
    templates = mls.charmm_templates({"POPC", "CHL1"})
    residues, box, _ = mls.build_chl1_popc(args, mls.system_rng(25, "chl1_popc"), templates)
    return residues, box, templates


def test_overlapping_build_is_named_before_md(mls, chl1_popc_seed25):
    """A cholesterol membrane whose build puts two hydrogens 0.07 Å apart (chl1_popc, seed 25: on
    a GPU the minimiser left 1.6e18 kJ/mol and MD stopped with NaN coordinates) is reported with the
    seed and the overlapping pair; a relaxed (negative) energy passes."""
    residues, box, _ = chl1_popc_seed25
    d, pair = mls.closest_contact(residues, box)
    assert d == pytest.approx(0.07, abs=0.01)
    assert "CHL1" in pair and "POPC" in pair and " H9" in pair and " H8R" in pair
    mls.check_minimised("chl1_popc", 25, -1.77e5, residues, box)
    with pytest.raises(RuntimeError, match=r"chl1_popc\] seed 25: energy 1\.6e\+18 .*H9.*0\.07 Å.*another --seed"):
        mls.check_minimised("chl1_popc", 25, 1.6e18, residues, box)
    with pytest.raises(RuntimeError, match="energy nan"):
        mls.check_minimised("chl1_popc", 25, float("nan"), residues, box)


def test_validation_of_a_built_membrane(mls, chl1_popc_seed25):
    """The checks written next to every run's frames, on the built cholesterol membrane: 2 x 20
    cholesterols each in its leaflet, CHARMM bond lengths, no lipid flipped or threaded through a
    ring, and the builder's closest heavy-atom contact (a POPC tail carbon 1.12 Å from a cholesterol
    ring carbon, which minimisation takes apart)."""
    residues, box, templates = chl1_popc_seed25
    _, bonds = mls.make_topology(residues, box, templates)
    res_of, starts = mls.residue_index(residues)
    xyz = np.concatenate([r.xyz for r in residues])
    assert len(res_of) == starts[-1] == len(xyz)
    assert [residues[k].names[0] for k in res_of[starts[:-1]]] == [r.names[0] for r in residues]
    v = mls.validate(residues, [xyz], [box], bonds)
    assert v["frames"] == 1 and v["flipped_lipids"] == [0] and v["chl1_ring_threading"] == 0
    assert v["pairs_below_0.9A"] == 0
    assert v["min_intermolecular_heavy_dist"][0] == pytest.approx(1.12, abs=0.01)
    assert 1.2 < v["bond_heavy_min"][0] < v["bond_heavy_max"][0] < 1.65
    assert 0.95 < v["bond_H_min"][0] < v["bond_H_max"][0] < 1.15
    assert 34.0 < v["thickness_PP"][0] < 40.0  # POPC P-P
    assert 12.0 < v["chl1_o3_depth"][0] < 20.0
    assert sum(r.name == "CHL1" for r in residues) == 40
