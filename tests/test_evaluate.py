"""``herobm evaluate`` and herobm.metrics on small hand-made structures with known answers.

The protein is residues 1-40 and 214 (C terminus, OT1/OT2) of adenylate kinase
(MDAnalysisTests adk_open.pdb: CHARMM names, no element column); each test
moves a few atoms and checks the metric it should change.
"""

from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np
import pytest

mda = pytest.importorskip("MDAnalysis")
datafiles = pytest.importorskip("MDAnalysisTests.datafiles")

from herobm.errors import InputError  # noqa: E402
from herobm.evaluate import evaluate  # noqa: E402
from herobm.metrics import distributions as dist  # noqa: E402
from herobm.metrics import geometry as geo  # noqa: E402
from herobm.metrics import lipids as lip  # noqa: E402
from herobm.metrics.matching import pair_residues, SequenceMismatch  # noqa: E402
from herobm.metrics.rmsd import kabsch, rmsd, symmetric_permutation, symmetry_groups  # noqa: E402

warnings.filterwarnings("ignore", module="MDAnalysis")

# the JSON report, spelled out (not imported) so that a renamed key fails here
FRAME_KEYS = ["rmsd_backbone", "rmsd_sidechain", "rmsd_heavy", "bond_rmsd", "angle_rmsd_deg", "clashes_2.0",
              "clashes_2.5", "chirality_errors", "cis_peptides", "rama_outliers"]
REPORT_KEYS = set(FRAME_KEYS) | {f"{k}_std" for k in FRAME_KEYS} | {
    "kl_phi_psi", "kl_chi1", "kl_chi2", "rmsd_lipid_heavy", "rmsd_lipid_heavy_std", "rdf_lipid", "n_frames",
    "n_atoms_compared", "n_atoms_missing"}


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mda.Universe(str(path))


def _write(atoms, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atoms.write(str(path))
    return str(path)


def _heavy(ag):
    return ag.select_atoms("not name H*")


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """(path, Universe) of the reference peptide fragment."""
    d = tmp_path_factory.mktemp("evaluate")
    u = _load(datafiles.PDB_small)
    path = _write(u.select_atoms("resid 1:40 or resid 214"), d / "ref.pdb")
    return path, _load(path)


@pytest.fixture
def pred_from(ref, tmp_path):
    """Write a modified copy of the reference: ``pred_from(edit)`` calls ``edit(universe)``."""

    def make(edit, name="pred.pdb"):
        u = _load(ref[0])
        edit(u)
        return _write(u.atoms, tmp_path / name)

    return make


def _rotation(axis, angle_deg):
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


# ----------------------------------------------------------------- structures
def test_identical_structures_score_zero(ref):
    r = evaluate(ref[0], ref[0]).metrics
    n_heavy = len(_heavy(ref[1].atoms))
    assert r["n_atoms_compared"] == n_heavy and r["n_atoms_missing"] == 0 and r["n_frames"] == 1
    for k in ("rmsd_heavy", "rmsd_backbone", "rmsd_sidechain", "bond_rmsd", "angle_rmsd_deg", "kl_phi_psi",
              "kl_chi1", "kl_chi2"):
        assert r[k] == pytest.approx(0.0, abs=1e-9), k
    assert r["chirality_errors"] == 0 and r["cis_peptides"] == 0 and r["clashes_2.0"] == 0
    assert r["rmsd_lipid_heavy"] == {} and r["rdf_lipid"] == {}


def test_rigidly_rotated_residue_rmsd_by_hand(ref, pred_from):
    R = _rotation([1.0, 2.0, 0.5], 40.0)

    def edit(u):
        res = u.select_atoms("resid 10")
        c = res.select_atoms("name CA").positions[0]
        res.positions = (res.positions - c) @ R.T + c

    result = evaluate(pred_from(edit), ref[0])
    r = result.metrics
    # by hand: each heavy atom of residue 10 moves by |R(x - c) - (x - c)|, the others stay
    heavy = _heavy(ref[1].atoms)
    res = heavy.select_atoms("resid 10")
    c = res.select_atoms("name CA").positions[0].astype(float)
    d = res.positions - c
    moved = np.linalg.norm(d @ R.T - d, axis=1)
    assert r["rmsd_heavy"] == pytest.approx(np.sqrt((moved ** 2).sum() / len(heavy)), abs=2e-3)
    bb = np.isin(res.names, ["N", "CA", "C", "O"])
    n_bb = len(heavy.select_atoms("name N CA C O OT1 OT2"))
    assert r["rmsd_backbone"] == pytest.approx(np.sqrt((moved[bb] ** 2).sum() / n_bb), abs=2e-3)
    assert r["n_atoms_missing"] == 0
    # the same per atom: residue 10's atoms by name, nothing elsewhere
    per_atom = result.series["per_atom_msd"]
    in10 = np.array([re.search(r"[A-Z]10$", label) is not None for label in per_atom["residue"]])
    assert in10.sum() == len(res) and np.allclose(per_atom["msd"][~in10], 0.0, atol=1e-6)
    by_name = dict(zip(per_atom["name"][in10], per_atom["msd"][in10]))
    assert np.allclose([by_name[n] for n in res.names], moved ** 2, atol=2e-3)


def _swap_od(u):
    od1 = u.select_atoms("resid 33 and name OD1")
    od2 = u.select_atoms("resid 33 and name OD2")
    p1, p2 = od1.positions.copy(), od2.positions.copy()
    od1.positions, od2.positions = p2, p1


def test_swapped_asp_oxygens_count_zero_after_symmetry_swap(ref, pred_from):
    pred = pred_from(_swap_od)
    assert evaluate(pred, ref[0]).metrics["rmsd_heavy"] == pytest.approx(0.0, abs=1e-6)
    assert evaluate(pred, ref[0], symmetry=False).metrics["rmsd_heavy"] > 0.05
    # the pure function: pairs of ASP swap, an ARG pair stays when it is already right
    x = np.random.default_rng(0).normal(size=(6, 3)) * 3
    names = ["CG", "OD1", "OD2", "CZ", "NH1", "NH2"]
    groups = symmetry_groups([0, 0, 0, 1, 1, 1], names, ["ASP", "ARG"])
    pred = x[[0, 2, 1, 3, 4, 5]]
    perm = symmetric_permutation(pred, x, groups)
    assert np.allclose(pred[perm], x)
    assert rmsd(pred, x) > 0


def test_planted_clash_counts_exactly_one(ref, pred_from):
    def edit(u):
        sub = _heavy(u.atoms)
        centre = sub.positions.mean(0)
        target = u.select_atoms("resid 29 and name CD").positions[0]
        out = (target - centre) / np.linalg.norm(target - centre)
        u.select_atoms("resid 13 and name NZ").positions = (target + 1.5 * out)[None]

    r = evaluate(pred_from(edit), ref[0]).metrics
    assert r["clashes_2.0"] == 1
    assert r["clashes_2.5"] == 1


def test_clash_pairs_within_three_bonds_are_excluded():
    # a chain 0-1-2-3-4: 0..3 are 1-4 (excluded), 0..4 is 1-5 (counted)
    x = np.array([[0, 0, 0], [1.5, 0, 0], [3, 0, 0], [1.0, 0.5, 0], [0.0, 1.0, 0]], dtype=float)
    bonds = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    excl = geo.exclusion_matrix(bonds, 5)
    assert excl[0, 3] and not excl[0, 4]
    assert geo.count_clashes(x, [2.0], excl) == [1]  # only the 0..4 pair at 1.0 Å


def test_mirrored_side_chain_is_one_chirality_error(ref, pred_from):
    def edit(u):
        res = u.select_atoms("resid 8")  # ALA: one stereocentre (CA)
        n, ca, c = (res.select_atoms(f"name {a}").positions[0] for a in ("N", "CA", "C"))
        normal = np.cross(n - ca, c - ca)
        normal /= np.linalg.norm(normal)
        side = res.select_atoms("name CB HB*")
        d = (side.positions - ca) @ normal
        side.positions = side.positions - 2 * d[:, None] * normal

    r = evaluate(pred_from(edit), ref[0]).metrics
    assert r["chirality_errors"] == 1


def test_cis_peptide_counts_one(ref, pred_from):
    def edit(u):
        c = u.select_atoms("resid 10 and name C").positions[0]
        n = u.select_atoms("resid 11 and name N").positions[0]
        quad = np.array([u.select_atoms(f"resid {r} and name {a}").positions[0]
                         for r, a in ((10, "CA"), (10, "C"), (11, "N"), (11, "CA"))])
        omega = geo.torsion_deg(quad, np.array([[0, 1, 2, 3]]))[0]
        R = _rotation(n - c, -omega)  # about C->N: bring ω to 0
        down = u.select_atoms("resid 11:40 and not (resid 11 and name N)")
        down.positions = (down.positions - n) @ R.T + n

    r = evaluate(pred_from(edit), ref[0]).metrics
    assert r["cis_peptides"] == 1


def test_kl_of_identical_distributions_is_zero():
    a = np.random.default_rng(1).uniform(-180, 180, 500)
    b = np.random.default_rng(2).normal(-60, 10, 500)
    assert dist.kl_angles(a, a) == 0.0
    assert dist.kl_phi_psi(a, b, a, b) == 0.0
    assert dist.kl_angles(b, a) > 0.5
    assert dist.kl_angles(np.zeros(0), a) is None


def test_charmm_names_match_amber_names_fully(ref, pred_from):
    amber = {"HN": "H", "HT1": "H1", "HT2": "H2", "HT3": "H3", "OT1": "O", "OT2": "OXT"}

    def to_amber(u):
        names = []
        for a in u.atoms:
            n = amber.get(a.name, a.name)
            if a.resname == "ILE" and n == "CD":
                n = "CD1"
            names.append(n)
        u.atoms.names = names

    pred = pred_from(to_amber)
    assert "CD1" in set(_load(pred).select_atoms("resname ILE").names)
    r = evaluate(pred, ref[0]).metrics
    assert r["n_atoms_missing"] == 0
    assert r["n_atoms_compared"] == len(_heavy(ref[1].atoms))
    assert r["rmsd_heavy"] == pytest.approx(0.0, abs=1e-9)
    # without the aliases ILE CD/CD1 and OT1/OT2 vs O/OXT do not pair
    n_ile = len(ref[1].select_atoms("resname ILE").residues)
    assert evaluate(pred, ref[0], mapping=None).metrics["n_atoms_missing"] == n_ile + 2


def test_fit_removes_a_global_rotation(ref, pred_from):
    R = _rotation([0.3, -1.0, 0.4], 25.0)

    def edit(u):
        x = u.atoms.positions
        u.atoms.positions = (x - x.mean(0)) @ R.T + x.mean(0) + np.array([3.0, -2.0, 1.0])

    pred = pred_from(edit)
    assert evaluate(pred, ref[0]).metrics["rmsd_heavy"] > 2.0
    r = evaluate(pred, ref[0], fit=True).metrics
    assert r["rmsd_heavy"] == pytest.approx(0.0, abs=2e-3)
    assert r["bond_rmsd"] == pytest.approx(0.0, abs=2e-3)
    Rf, _ = kabsch(np.eye(3), np.eye(3) @ R.T)
    assert np.allclose(Rf, R, atol=1e-9)


def test_resid_offset_pairs_by_order_and_missing_atoms_are_counted(ref, pred_from):
    def edit(u):
        u.residues.resids = u.residues.resids + 100

    r = evaluate(pred_from(edit), ref[0])
    assert r.metrics["n_atoms_missing"] == 0 and r.metrics["rmsd_heavy"] == pytest.approx(0.0, abs=1e-9)
    assert any("offset +100" in n for n in r.notes)

    u = _load(ref[0])
    pred = _write(u.select_atoms("not (resid 5 and name CD1)"), ref[0].replace("ref.pdb", "pred_missing.pdb"))
    r = evaluate(pred, ref[0])
    assert r.metrics["n_atoms_missing"] == 1
    assert r.metrics["n_atoms_compared"] == len(_heavy(ref[1].atoms)) - 1
    assert any("LEU5:CD1" in n for n in r.notes)


def test_residue_pairing_rules():
    assert pair_residues([(1, "HSD"), (2, "ALA")], [(11, "HIE"), (12, "ALA")]).mode == "order"
    assert pair_residues([(1, "ALA"), (2, "GLY"), (3, "ALA")], [(1, "ALA"), (3, "ALA")]).pairs == ((0, 0), (2, 1))
    with pytest.raises(SequenceMismatch, match="different sequences"):
        pair_residues([(1, "ALA"), (2, "GLY")], [(1, "ALA"), (2, "SER")])


def test_ion_spellings_pair_and_dummy_sites_are_not_missing(tmp_path):
    """YiiP's CHARMM zinc (ZNM: ZND + dummy sites DM1-DM6) against zinc as herobm writes it
    (amber14's ZN): the eight ions pair, the 48 dummy sites are named in a note, not missing."""
    assert pair_residues([(1, "SOD"), (2, "CLA"), (3, "ZNM")], [(1, "NA"), (2, "CL"), (3, "ZN")]).mode == "resid"
    u = _load(datafiles.GRO_MEMPROT)
    zn = u.select_atoms("resname ZNM")
    ref = _write(zn, tmp_path / "zn_ref.gro")
    ion = zn.select_atoms("name ZND")
    pred = mda.Merge(ion)
    pred.residues.resnames = ["ZN"] * len(ion)
    pred.atoms.names = ["ZN"] * len(ion)
    shift = np.zeros((len(ion), 3))
    shift[0] = [0.0, 0.0, 2.0]  # one ion 2 Å off: RMSD sqrt(4 / 8)
    pred.atoms.positions = ion.positions + shift
    r = evaluate(_write(pred.atoms, tmp_path / "zn_pred.pdb"), ref)
    assert len(ion) == 8 and len(zn) == 56
    assert r.metrics["n_atoms_compared"] == 8 and r.metrics["n_atoms_missing"] == 0
    assert r.metrics["rmsd_heavy"] == pytest.approx(np.sqrt(4 / 8), abs=2e-3)
    assert any("48 dummy site(s)" in n and "ZNM" in n and "DM1" in n for n in r.notes)


def test_rama_regions():
    assert geo.rama_allowed([-60, -120, 60], [-45, 130, 40], ["general"] * 3).all()
    assert not geo.rama_allowed([60.0], [-120.0], ["general"])[0]
    assert geo.rama_allowed([80.0], [-170.0], ["GLY"])[0]
    assert not geo.rama_allowed([60.0], [40.0], ["PRO"])[0]
    assert geo.rama_outlier_fraction([-60.0, 60.0], [-45.0, -120.0], ["general", "general"]) == 0.5


# ------------------------------------------------------------------ CLI, trajectories
def test_cli_writes_json_with_exact_keys(ref, pred_from, cli, tmp_path):
    pred = pred_from(_swap_od)
    out = tmp_path / "m.json"
    res = cli("evaluate", pred, ref[0], "--json", out, "--plots", tmp_path / "plots")
    assert res.exit_code == 0, res.output
    assert "rmsd_heavy" in res.output
    data = json.loads(out.read_text())
    assert set(data) == REPORT_KEYS
    assert data["n_frames"] == 1 and data["rmsd_heavy"] == pytest.approx(0.0, abs=1e-6)
    assert {p.name for p in (tmp_path / "plots").iterdir()} >= {"ramachandran.png", "chi.png", "per_residue_rmsd.png"}


def test_trajectories_give_mean_and_std(ref, tmp_path, cli):
    u = _load(ref[0])
    rng = np.random.default_rng(3)
    x0 = u.atoms.positions.copy()
    ref_traj, pred_traj = tmp_path / "ref.dcd", tmp_path / "pred.dcd"
    with mda.Writer(str(ref_traj), u.atoms.n_atoms) as wr, mda.Writer(str(pred_traj), u.atoms.n_atoms) as wp:
        for k in range(3):
            u.atoms.positions = x0 + rng.normal(scale=0.05, size=x0.shape)
            wr.write(u.atoms)
            u.atoms.positions = u.atoms.positions + rng.normal(scale=0.1 * (k + 1), size=x0.shape)
            wp.write(u.atoms)
    out = tmp_path / "t.json"
    res = cli("evaluate", ref[0], ref[0], "--traj-pred", pred_traj, "--traj-ref", ref_traj, "--json", out)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data) == REPORT_KEYS
    assert data["n_frames"] == 3
    assert data["rmsd_heavy"] == pytest.approx(np.sqrt(3) * 0.1 * np.mean([1, 2, 3]), rel=0.1)
    assert data["rmsd_heavy_std"] > 0.05 and data["bond_rmsd_std"] > 0
    # a single-frame reference against every predicted frame
    r = evaluate(ref[0], ref[0], traj_pred=[str(pred_traj)]).metrics
    assert r["n_frames"] == 3


def test_bad_inputs_name_the_file(ref, pred_from, cli, tmp_path):
    res = cli("evaluate", tmp_path / "nope.pdb", ref[0])
    assert res.exit_code == 1 and "nope.pdb" in res.output

    def mutate(u):
        u.select_atoms("resid 8").residues.resnames = ["GLY"]

    pred = pred_from(mutate, "mutant.pdb")
    res = cli("evaluate", pred, ref[0])
    assert res.exit_code == 1
    assert "mutant.pdb" in res.output and "different sequences" in res.output
    with pytest.raises(InputError, match="ref.pdb.*matches no atoms"):
        evaluate(ref[0], ref[0], selection="resname XYZ")
    with pytest.raises(InputError, match="frame"):
        ref_traj = tmp_path / "two.dcd"
        u = _load(ref[0])
        with mda.Writer(str(ref_traj), u.atoms.n_atoms) as w:
            w.write(u.atoms)
            w.write(u.atoms)
        pred_traj = tmp_path / "three.dcd"
        with mda.Writer(str(pred_traj), u.atoms.n_atoms) as w:
            for _ in range(3):
                w.write(u.atoms)
        evaluate(ref[0], ref[0], traj_pred=[str(pred_traj)], traj_ref=[str(ref_traj)])


def test_nothing_in_common_is_an_error(ref, tmp_path):
    u = _load(datafiles.PDB_small)
    other = _write(u.select_atoms("resid 100:110"), tmp_path / "other.pdb")
    with pytest.raises(InputError, match="other.pdb"):
        evaluate(other, ref[0])


# ---------------------------------------------------------------------- lipids
POPC = os.path.join(os.path.dirname(pytest.importorskip("openmm.app").__file__), "data", "POPC.pdb")


@pytest.fixture(scope="module")
def popc(tmp_path_factory):
    d = tmp_path_factory.mktemp("popc")
    u = _load(POPC)
    ref = _write(u.select_atoms("resname POP"), d / "popc_ref.pdb")
    u2 = _load(ref)
    heavy = _heavy(u2.atoms)
    noise = np.random.default_rng(4).normal(scale=0.2, size=(len(heavy), 3))
    heavy.positions = heavy.positions + noise
    pred = _write(u2.atoms, d / "popc_pred.pdb")
    return ref, pred, noise


def test_lipid_rmsd_and_rdf_on_popc_patch(popc):
    ref, pred, noise = popc
    same = evaluate(ref, ref).metrics
    assert set(same["rmsd_lipid_heavy"]) == {"POP"} and same["rmsd_lipid_heavy"]["POP"] == pytest.approx(0.0, abs=1e-9)
    assert set(same["rdf_lipid"]) == {"P-P", "tail-tail"}
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in same["rdf_lipid"].values())
    assert same["chirality_errors"] == 0 and same["rama_outliers"] is None  # lipids have stereocentres too

    r = evaluate(pred, ref).metrics
    expected = np.sqrt((noise ** 2).sum(1).mean())
    assert r["rmsd_lipid_heavy"]["POP"] == pytest.approx(expected, abs=2e-3)
    assert r["rmsd_heavy"] == pytest.approx(expected, abs=2e-3)
    assert all(v > 0 for v in r["rdf_lipid"].values())
    assert r["bond_rmsd"] > 0.1 and r["n_atoms_missing"] == 0


def test_inverted_lipid_glycerol_is_one_chirality_error(popc, tmp_path):
    """Reflecting one POPC's glycerol C2 through the plane of C1, C3, O21 (the mirror image
    of that centre) is counted; nothing else changes."""
    ref = popc[0]
    u = _load(ref)
    res = u.select_atoms("resname POP").residues[5].atoms
    c2, c1, c3, o21 = (res.select_atoms(f"name {n}")[0] for n in ("C2", "C1", "C3", "O21"))
    n = np.cross(c3.position - c1.position, o21.position - c1.position)
    n /= np.linalg.norm(n)
    c2.position = c2.position - 2 * np.dot(c2.position - c1.position, n) * n
    r = evaluate(_write(u.atoms, tmp_path / "mirrored.pdb"), ref)
    assert r.metrics["chirality_errors"] == 1
    named = [n for n in r.notes if "stereocentre(s) inverted" in n]
    assert len(named) == 1 and named[0].endswith(f"POP{c2.resid}:C2")


def test_stereocentres_of_popc_are_its_glycerol_carbons():
    """From the bonds alone: the only tetrahedral carbons with four different substituents in
    a POPC bilayer are the 128 glycerol C2 (the phosphate P has two equivalent oxygens, the
    choline N is no carbon, the double bond is flat)."""
    h = _heavy(_load(POPC).select_atoms("resname POP"))
    x = h.positions.astype(np.float64)
    bonds = geo.guess_bonds(x, [n[0] for n in h.names])
    q = geo.stereocentres(bonds, [n[0] for n in h.names], x)
    assert len(q) == 128 and set(h.names[q[:, 0]]) == {"C2"}


def test_stereocentres_from_bonds_are_the_amino_acid_table(ref):
    """On the adenylate-kinase fragment the bond-graph search finds exactly the tabulated
    centres (Cα of non-glycines, Cβ of Thr and Ile): the valine and leucine methyls, the
    arginine NH1/NH2 and the carboxylate oxygens are recognised as equivalent."""
    h = _heavy(ref[1].atoms)
    x = h.positions.astype(np.float64)
    elements = [n[0] for n in h.names]
    q = geo.stereocentres(geo.guess_bonds(x, elements), elements, x)
    _, res = np.unique(h.resindices, return_inverse=True)
    table = geo.chirality_centers(res, h.names, [r.resname for r in h.residues])
    assert len(table) > 30 and sorted(q[:, 0]) == sorted(table[:, 0])


@pytest.mark.parametrize("name, centres", [
    ("chl1.pdb", ["C10", "C13", "C14", "C17", "C20", "C3", "C8", "C9"]),  # cholesterol's eight
    ("ibuprofen.pdb", ["C11"]),  # the one of (S)-ibuprofen
])
def test_stereocentres_of_shipped_example_molecules(name, centres):
    path = os.path.join(os.path.dirname(__file__), "..", "examples", name)
    h = _heavy(_load(path).atoms)
    x = h.positions.astype(np.float64)
    elements = [n[0] for n in h.names]
    q = geo.stereocentres(geo.guess_bonds(x, elements), elements, x)
    assert sorted(h.names[q[:, 0]]) == centres


def test_equivalence_classes_split_only_what_differs():
    # isobutanol's carbon skeleton C0(-C1)(-C2)-C3-O4: the two methyls C1, C2 are equivalent
    bonds = np.array([[0, 1], [0, 2], [0, 3], [3, 4]])
    cls = geo.equivalence_classes(bonds, ["C", "C", "C", "C", "O"])
    assert cls[1] == cls[2] and len(set(cls.tolist())) == 4


def test_reused_pdb_chain_letters_pair_in_file_order(popc, tmp_path):
    """A PDB writer that gives each lipid its own chain reuses the 26 letters (A..Z, A..):
    against a reference without chains the residues still pair in file order."""
    ref = popc[0]
    u = _load(ref)
    letters = [chr(ord("A") + k % 26) for k in range(len(u.residues))]
    u.add_TopologyAttr("chainIDs", [letters[a.residue.ix] for a in u.atoms])
    pred = _write(u.atoms, tmp_path / "chains.pdb")
    gro = _write(_load(ref).atoms, tmp_path / "ref.gro")
    r = evaluate(pred, gro)
    assert r.metrics["n_atoms_missing"] == 0 and r.metrics["rmsd_heavy"] < 0.01


def test_tail_ends_of_popc_are_the_two_chain_methyls():
    u = _load(POPC)
    res = _heavy(u.select_atoms("resid 1 and resname POP"))
    idx = {a.index: k for k, a in enumerate(res)}
    bonds = np.array([(idx[b[0].index], idx[b[1].index]) for b in res.bonds
                      if b[0].index in idx and b[1].index in idx])
    elements = [a.element for a in res]
    ends = lip.tail_terminal_carbons(bonds, elements, range(len(res)))
    assert sorted(res.names[ends]) == ["C218", "C316"]


def test_gro_prediction_without_chains_pairs_with_pdb(ref, tmp_path):
    gro = _write(_load(ref[0]).atoms, tmp_path / "pred.gro")
    r = evaluate(gro, ref[0])
    assert r.metrics["n_atoms_missing"] == 0
    assert r.metrics["rmsd_heavy"] < 0.01  # GRO keeps 0.01 Å
    assert any("chains" in n for n in r.notes)


def test_coincident_atoms_give_a_defined_angle():
    """Two predicted atoms on top of each other: the angle is π/2 (an error), not NaN."""
    from herobm.geometry import bond_angles

    x = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    ang = bond_angles(x, np.array([[0, 1, 2]]))
    assert np.isfinite(ang).all() and np.isclose(ang[0], np.pi / 2)
