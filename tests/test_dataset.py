"""``herobm dataset build | info`` on real structures and trajectories."""

import json

import MDAnalysis as mda
import numpy as np
import pytest
import torch
from MDAnalysis.analysis.dihedrals import Ramachandran
from MDAnalysisTests.datafiles import DCD, PSF, PDB_small, PDB_helix

from herobm.data import DatasetReader, InputSpec, build_dataset, read_sample
from herobm import InputError
from herobm.data.build import assign_splits
from herobm.geometry import bond_angles, bond_lengths
from herobm.reconstruct import RebuildIndex, rebuild_atoms


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    report = build_dataset(
        [InputSpec(PSF, (DCD,)), InputSpec(PDB_small), InputSpec(PDB_helix)], "martini3", out,
        frames="0:6", split={"train": 0.34, "val": 0.33, "test": 0.33}, seed=3,
    )
    return out, report


def test_layout_and_splits(dataset):
    out, report = dataset
    meta = json.loads((out / "dataset.json").read_text())
    assert [s["n_frames"] for s in meta["systems"]] == [6, 1, 1]
    assert sorted(s["split"] for s in meta["systems"]) == ["test", "train", "val"]
    assert "bonds from topology" in report.notes[0] and "bonds from templates" in report.notes[1]
    ds = DatasetReader(out)
    assert ds.positions(ds.systems[0].name).shape[0] == 6
    assert ds.mapping.name == "martini3"


def test_positions_are_the_input(dataset):
    out, _ = dataset
    ds = DatasetReader(out)
    rec = ds.systems[0]
    topo = ds.topology(rec.name)
    u = mda.Universe(PSF, DCD)
    u.trajectory[4]
    want = u.atoms.positions[topo["atom_input_index"]]
    assert np.abs(ds.positions(rec.name)[4] - want).max() < 1e-4


@pytest.mark.parametrize("k", [0, 1, 2])
def test_sample_round_trip_and_geometry(dataset, k):
    out, _ = dataset
    ds = DatasetReader(out)
    rec = ds.systems[k]
    s = read_sample(ds, rec.name, 0)
    index = RebuildIndex.from_arrays(s.slot_bead, s.slot_index, s.slot_level, s.slot_anchor, s.slot_atom, s.slot_weight)
    rebuilt = rebuild_atoms(torch.as_tensor(s.bead_pos), torch.as_tensor(s.vectors), index).numpy()
    assert np.abs(rebuilt - s.atom_pos).max() < 1e-4
    # bonds and angles are chemical, not distance guesses
    lengths = bond_lengths(s.atom_pos, s.bonds)
    assert 1.1 < lengths.min() and lengths.max() < 2.0
    ang = np.degrees(bond_angles(s.atom_pos, s.angles))
    assert 80 < ang.min() and ang.max() < 140  # MET C-S-C dips near 90° in the adk DCD
    assert s.vector_mask.sum() == len(s.slot_bead)
    n_res = rec.n_residues
    assert len(s.bonds) > 4.5 * n_res and len(s.angles) > 6 * n_res  # Ala-rich helix: ~5 bonds per residue


def test_phi_psi_match_mdanalysis(dataset):
    out, _ = dataset
    ds = DatasetReader(out)
    name = [s.name for s in ds.systems if "adk_open" in s.source[0]][0]
    s = read_sample(ds, name, 0)
    rama = Ramachandran(mda.Universe(PDB_small).select_atoms("protein")).run()
    want = np.radians(rama.results.angles[0])  # residues 2..n-1
    got = s.phi_psi[1:-1]
    diff = np.angle(np.exp(1j * (got - want)))
    assert np.abs(diff).max() < 1e-3
    assert np.isnan(s.phi_psi[0, 0]) and np.isnan(s.phi_psi[-1, 1])


def test_split_assignment_reproducible():
    names = [f"s{i}" for i in range(20)]
    a = assign_splits(names, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=1)
    b = assign_splits(list(reversed(names)), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=1)
    c = assign_splits(names, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=2)
    assert a == b and a != c
    assert sorted(a.values()).count("train") == 16 and list(a.values()).count("val") == 2


def test_info(dataset, cli):
    out, _ = dataset
    result = cli("dataset", "info", out, "--cutoff", "8")
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "mean neighbours within 8 A" in result.output
    assert "MET_BB" in result.output


def test_cli_build_errors(tmp_path, cli):
    result = cli("dataset", "build", PDB_small, "-o", tmp_path / "d", "--split", "train=0.5,val=0.1")
    assert result.exit_code == 1 and "sum to 1" in result.output
    result = cli("dataset", "build", PDB_small, PSF, "--traj", DCD, "-o", tmp_path / "d")
    assert result.exit_code == 1 and "single INPUT" in result.output


def test_overlapping_copies_are_refused(tmp_path):
    """6QYR as MDAnalysisTests ships it holds 15 copies of a tetrapeptide on top of each other
    in one frame: building a dataset from it names two overlapping residues instead of
    teaching a model from impossible neighbourhoods."""
    from MDAnalysisTests.datafiles import MMTF_NOCRYST

    with pytest.raises(InputError, match=r"6QYR.*different residues closer than 0.5 Å, e.g. [A-Z]+ \d+"):
        build_dataset([InputSpec(MMTF_NOCRYST)], "martini3", tmp_path / "d", selection="protein and not resname DAL")
