"""benchmarks/lipid_regions.py: per-region lipid RMSD on OpenMM's POPE patch with known errors."""

import os

import MDAnalysis as mda
import numpy as np
import pytest

openmm_app = pytest.importorskip("openmm.app")
POPE_PDB = os.path.join(os.path.dirname(openmm_app.__file__), "data", "POPE.pdb")


@pytest.fixture(scope="module")
def lr(load_script):
    return load_script("lipid_regions", "benchmarks")


def test_regions_of_charmm_names(lr):
    assert [lr.region_of(n) for n in ("P", "O11", "N", "C12", "OC3")] == ["head"] * 5
    assert [lr.region_of(n) for n in ("C1", "C2", "C3", "O22", "C21", "C31", "O32")] == ["glycerol"] * 7
    assert [lr.region_of(n) for n in ("C22", "C29", "C218", "C32", "C316")] == ["sn2", "sn2", "sn2", "sn1", "sn1"]


def test_known_displacements_land_in_their_regions(lr, tmp_path):
    """O32 moved 0.9 Å and C316 1.5 Å in every lipid: glycerol RMSD 0.9/√9, sn-1 1.5/√15, the other
    regions 0, and the shares add up to the squared total. A missing atom is an error naming it."""
    ref = mda.Universe(POPE_PDB)
    pred = mda.Universe(POPE_PDB)
    pred.select_atoms("name O32").positions += [0.9, 0.0, 0.0]
    pred.select_atoms("name C316").positions += [0.0, 1.5, 0.0]
    rn = str(ref.select_atoms("name P").residues[0].resname)
    s = lr.summarise(*lr.match_atoms(ref, pred, [rn]))[rn]
    reg = s["regions"]
    assert reg["glycerol"]["rmsd"] == pytest.approx(0.9 / 3.0, abs=1e-4)
    assert reg["sn1"]["rmsd"] == pytest.approx(1.5 / np.sqrt(15), abs=1e-4)
    assert reg["head"]["rmsd"] == pytest.approx(0.0, abs=1e-4) and reg["sn2"]["rmsd"] == pytest.approx(0.0, abs=1e-4)
    assert sum(r["msd_share"] for r in reg.values()) == pytest.approx(s["rmsd"] ** 2, rel=1e-6)
    assert s["worst"][0][0] == "C316" and s["worst"][1][0] == "O32"
    pred.select_atoms("name C316").residues[0].atoms.select_atoms("name C316").names = ["CXX"]
    with pytest.raises(SystemExit, match=f"{rn} 1 C316"):
        lr.match_atoms(ref, pred, [rn])
