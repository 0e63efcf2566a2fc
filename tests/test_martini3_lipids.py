"""Lipid, sterol and ion mappings of the martini3 set (scripts/make_martini3_lipids.py)."""

import importlib.util
import os
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pytest
import yaml

from herobm.mapper import check_mapping, map_structure
from herobm.mapping import load_mapping_set
from herobm.mapping.label import is_hydrogen_name

openmm_app = pytest.importorskip("openmm.app")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SET_DIR = ROOT / "src" / "herobm" / "mapping" / "data" / "martini3"
OPENMM_DATA = Path(os.path.dirname(openmm_app.__file__)) / "data"
LIPIDS = ["POPC", "POPE", "POPG", "DOPC", "DPPC", "DMPC", "DLPC", "DLPE", "CHL1"]
# OpenMM's lipid patches (openmm/app/data/NAME.pdb); each must resolve to molecule NAME
# although its residue name is truncated (POP, DOP, DLP, ...)
PATCHES = ["POPC", "POPE", "DOPC", "DPPC", "DMPC", "DLPC", "DLPE"]


@pytest.fixture(scope="module")
def mset():
    return load_mapping_set("martini3")


def _assert_ok(report, molecules):
    assert report.issues == ()
    assert report.ok, report.summary()
    assert report.max_error < 1e-4  # issue #3: exact rebuild from true vectors
    assert sorted(m.molecule for m in report.molecules) == sorted(molecules)
    for m in report.molecules:
        assert m.n_mapped == m.n_atoms


@pytest.mark.parametrize("patch", PATCHES)
def test_openmm_lipid_patch_round_trip(patch):
    path = OPENMM_DATA / f"{patch}.pdb"
    report = check_mapping(path, "martini3", selection="not resname HOH")
    # the patch writes a 3-letter residue name (POP for POPC and POPE, DLP for DLPC and
    # DLPE); the mapping whose atom names fit wins
    _assert_ok(report, [patch])
    (row,) = report.molecules
    assert row.n_residues == 128
    # every heavy atom is rebuilt, no hydrogen is
    u = mda.Universe(str(path))
    lipid = u.select_atoms("not resname HOH")
    assert row.n_rebuilt == int((lipid.masses > 1.5).sum())


def test_memprot_yiip_system():
    from MDAnalysisTests.datafiles import GRO_MEMPROT

    proteins_present = (SET_DIR / "ala.yaml").is_file()
    selection = "all" if proteins_present else "not protein"
    report = check_mapping(GRO_MEMPROT, "martini3", selection=selection)
    assert report.issues == (), report.summary()
    assert report.ok and report.max_error < 1e-4
    names = {m.molecule: m for m in report.molecules}
    assert names["POPE"].n_residues == 221 and names["POPG"].n_residues == 55
    assert names["ZNM"].n_residues == 8 and names["ZNM"].n_rebuilt == 56  # zinc + 6 dummies each
    assert sum(m.n_atoms - m.n_mapped for m in report.molecules) == 0


def test_memprot_zinc_beads_sit_on_zinc(tmp_path):
    from MDAnalysisTests.datafiles import GRO_MEMPROT

    out = tmp_path / "cg.gro"
    map_structure(GRO_MEMPROT, "martini3", out, selection="resname ZNM")
    u = mda.Universe(GRO_MEMPROT)
    cg = mda.Universe(str(out))
    assert list(cg.atoms.names) == ["ZN"] * 8
    np.testing.assert_allclose(cg.atoms.positions, u.select_atoms("name ZND").positions, atol=1e-3)


def test_lipid_beads_are_centres_of_geometry(tmp_path):
    """Lipid beads sit on the plain centre of all their atoms, hydrogens included (the
    Martini 3 convention); protein beads of the same set stay mass-weighted."""
    from MDAnalysisTests.datafiles import GRO_MEMPROT

    u = mda.Universe(GRO_MEMPROT)
    out = tmp_path / "cg.gro"
    map_structure(GRO_MEMPROT, "martini3", out, selection="resid 7 8 or (resname POPE and resid 297)")
    cg = mda.Universe(str(out))
    pope = u.select_atoms("resname POPE and resid 297")
    po4 = cg.select_atoms("resname POPE and name PO4")
    members = pope.select_atoms("name P O11 O12 O13 O14")
    assert len(po4) == 1
    np.testing.assert_allclose(po4.positions[0], members.positions.mean(0), atol=6e-3)  # GRO: 0.01 Å
    nh3 = cg.select_atoms("resname POPE and name NH3").positions[0]
    head = pope.select_atoms("name N HN1 HN2 HN3 C12 H12A H12B C11 H11A H11B")
    np.testing.assert_allclose(nh3, head.positions.mean(0), atol=6e-3)
    assert np.linalg.norm(nh3 - head.center_of_mass()) > 0.05  # hydrogens weigh as much as N or C here
    mset = load_mapping_set("martini3")
    if (SET_DIR / "ala.yaml").is_file():
        assert mset.weighting == "mass"
        assert {mset.weighting_of(m) for m in mset.molecules if m.name in ("ALA", "GLY", "LYS")} == {"mass"}
    assert {mset.weighting_of(m) for m in mset.molecules if m.name in LIPIDS} == {"geometric"}


def test_cholesterol_round_trip():
    report = check_mapping(ROOT / "examples" / "chl1.pdb", "martini3")
    _assert_ok(report, ["CHL1"])
    assert report.molecules[0].n_rebuilt == 28  # every heavy atom, virtual-site beads included


def test_cholesterol_every_heavy_atom_in_one_bead(mset):
    (chl,) = mset.by_resname["CHOL"]
    assert chl.name == "CHL1" and chl.beads == ("ROH", "R1", "R2", "R3", "R4", "R5", "R6", "C1", "C2")
    for line in chl.atoms:
        assert len(line.beads) == 1
        assert line.rebuilt == (not is_hydrogen_name(line.name))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ions(tmp_path):
    names = [("NA", "NA"), ("SOD", "SOD"), ("CL", "CL"), ("CLA", "CLA"), ("K", "K"), ("POT", "POT"),
             ("CA", "CA"), ("CAL", "CAL"), ("MG", "MG"), ("ZN", "ZN2")]
    u = mda.Universe.empty(len(names), n_residues=len(names), atom_resindex=np.arange(len(names)), trajectory=True)
    u.add_TopologyAttr("names", [a for a, _ in names])
    u.add_TopologyAttr("resnames", [r for _, r in names])
    u.add_TopologyAttr("resids", np.arange(1, len(names) + 1))
    u.atoms.positions = np.arange(3 * len(names), dtype=float).reshape(-1, 3) * 2.0
    path = tmp_path / "ions.pdb"
    u.atoms.write(str(path))
    report = check_mapping(path, "martini3")
    assert report.ok and report.issues == (), report.summary()
    out = tmp_path / "cg.pdb"
    map_structure(path, "martini3", out)
    cg = mda.Universe(str(out))
    assert list(cg.atoms.names) == ["NA", "NA", "CL", "CL", "K", "K", "CA", "CA", "MG", "ZN"]
    np.testing.assert_allclose(cg.atoms.positions, u.atoms.positions, atol=1e-3)


def _published_heavy_atoms():
    return yaml.safe_load((DATA / "martini3_lipid_beads.yaml").read_text())


@pytest.mark.parametrize("lipid", LIPIDS)
def test_beads_match_published_mapping(mset, lipid):
    """Heavy atoms per bead (and bead order) equal the published Martini 3 mapping."""
    (m,) = [x for x in mset.molecules if x.name == lipid]
    table = _published_heavy_atoms()[lipid]
    assert list(m.beads) == list(table)
    for bead, heavy in table.items():
        ours = sorted(m.atoms[a].name for a, _ in m.members[bead] if not is_hydrogen_name(m.atoms[a].name))
        assert ours == sorted(heavy.split()), bead


def _memback_maps():
    spec = importlib.util.find_spec("memback")
    path = Path(spec.origin).parent / "data" / "maps" / "all_maps.map"
    maps, current = {}, None
    for raw in path.read_text().splitlines():
        line = raw.split(";")[0].strip()
        if not line:
            continue
        if line.startswith("["):
            current = maps.setdefault(line.strip("[] "), {})
            continue
        bead, _type, *rest = line.split()
        if rest and rest[0].lstrip("+-").replace(".", "", 1).isdigit():  # optional charge
            rest = rest[1:]
        current[bead] = rest
    return maps


@pytest.mark.skipif(importlib.util.find_spec("memback") is None, reason="memback not installed")
@pytest.mark.parametrize("lipid", LIPIDS)
def test_beads_equal_memback_map(mset, lipid):
    """Every atom (hydrogens included) is in the bead memback's all_maps.map puts it in."""
    theirs = _memback_maps()[lipid]
    (m,) = [x for x in mset.molecules if x.name == lipid]
    assert list(m.beads) == list(theirs)
    for bead, atoms in theirs.items():
        assert sorted(m.atoms[a].name for a, _ in m.members[bead]) == sorted(atoms), bead


def test_aliases_and_rotated_names(mset):
    assert {m.name for m in mset.by_resname["POP"]} >= {"POPC", "POPE", "POPG"}
    assert {m.name for m in mset.by_resname["DLP"]} == {"DLPC", "DLPE"}
    (dopc,) = [x for x in mset.molecules if x.name == "DOPC"]
    match = dopc.match(["C210", "0C31", "N"])
    assert match.atom_line[0] >= 0 and match.atom_line[1] >= 0
    assert dopc.atoms[match.atom_line[1]].name == "C310"
