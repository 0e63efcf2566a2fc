"""``herobm map``: real structures and trajectories in, CG files out; bad input gets
a clear error naming the file, residue or atom."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.lib.distances import minimize_vectors
from MDAnalysisTests.datafiles import DCD, GRO, PDB_small, PSF

from herobm import InputError, load_mapping_set, map_structure
from herobm.coarse_grain import bead_positions
from herobm.system import map_atoms


@pytest.fixture(scope="module")
def martini3():
    return load_mapping_set("martini3")


def test_map_pdb_writes_martini_names(tmp_path, cli):
    out = tmp_path / "cg.pdb"
    result = cli("map", PDB_small, "-o", out)
    assert result.exit_code == 0, result.output
    assert "mapped 3341 atoms to" in result.output
    u = mda.Universe(str(out))
    assert list(u.residues[0].atoms.names) == ["BB", "SC1"]  # MET
    assert list(u.residues[1].atoms.names) == ["BB", "SC1", "SC2"]  # ARG
    assert u.residues[0].resname == "MET" and len(u.residues) == 214
    assert np.allclose(u.dimensions, mda.Universe(PDB_small).dimensions, atol=1e-3)


def test_map_trajectory_to_xtc(tmp_path, martini3):
    out, xtc = tmp_path / "cg.gro", tmp_path / "cg.xtc"
    report = map_structure(PSF, martini3, out, traj=DCD, traj_out=xtc, frames="0:50:10")
    assert report.n_frames == 5
    cg = mda.Universe(str(out), str(xtc))
    aa = mda.Universe(PSF, DCD)
    system = map_atoms(aa.atoms, martini3)
    assert len(cg.trajectory) == 5 and len(cg.atoms) == system.n_beads
    for k, frame in enumerate(range(0, 50, 10)):
        aa.trajectory[frame]
        cg.trajectory[k]
        want = bead_positions(system, aa.atoms.positions, aa.dimensions)
        assert np.abs(cg.atoms.positions - want).max() < 6e-3  # XTC keeps 0.01 Å


def test_broken_residues_are_made_whole(tmp_path, martini3):
    """Wrapping every atom into the (triclinic) box splits residues; beads must not move
    except by whole lattice vectors."""
    u = mda.Universe(PDB_small)
    system = map_atoms(u.atoms, martini3)
    ref = bead_positions(system, u.atoms.positions, u.dimensions)
    u.atoms.translate([35.0, -20.0, 10.0])
    u.atoms.wrap(compound="atoms")
    shifted = bead_positions(system, u.atoms.positions, u.dimensions)
    moved = shifted - ref - np.array([35.0, -20.0, 10.0])
    d = minimize_vectors(moved.astype(np.float32), u.dimensions)
    assert np.abs(d).max() < 1e-3
    # and the wrap really split residues (otherwise the test proves nothing)
    naive = bead_positions(system, u.atoms.positions, None)
    assert np.abs(naive - shifted).max() > 5.0


def test_gro_and_selection(tmp_path, martini3):
    out = tmp_path / "cg.gro"
    report = map_structure(GRO, martini3, out, selection="protein")
    u = mda.Universe(str(out))
    assert report.molecules.total() == 214 and len(u.atoms) == report.n_beads


# ------------------------------------------------------------------ bad input
def _edited_pdb(tmp_path, edit):
    u = mda.Universe(PDB_small)
    edit(u)
    path = tmp_path / "edited.pdb"
    u.atoms.write(str(path))
    return path


def test_unknown_residue_reported_and_strict(tmp_path, cli):
    def rename(u):
        u.residues[4].resname = "XYZ"

    path = _edited_pdb(tmp_path, rename)
    result = cli("map", path, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 0
    assert "residue XYZ 5" in result.output and "no mapping for residue name XYZ" in result.output
    result = cli("map", path, "-o", tmp_path / "cg2.pdb", "--strict")
    assert result.exit_code == 1 and "residue XYZ 5" in result.output
    assert not (tmp_path / "cg2.pdb").exists()


def test_missing_atom_reported_and_strict(tmp_path, cli):
    u = mda.Universe(PDB_small)
    keep = u.select_atoms("not (resid 3 and name CB)")
    path = tmp_path / "missing.pdb"
    keep.write(str(path))
    resname = u.residues[2].resname
    result = cli("map", path, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 0 and f"residue {resname} 3" in result.output and "missing atom(s) CB" in result.output
    result = cli("map", path, "-o", tmp_path / "cg.pdb", "--strict")
    assert result.exit_code == 1 and "missing atom(s) CB" in result.output


def test_unmapped_atom_reported(tmp_path, cli):
    def rename(u):
        u.residues[1].atoms[3].name = "QQ1"

    result = cli("map", _edited_pdb(tmp_path, rename), "-o", tmp_path / "cg.pdb")
    assert "not covered by the mapping: QQ1" in result.output


def test_empty_and_corrupt_files(tmp_path, cli):
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    result = cli("map", empty, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "empty.pdb: file is empty" in result.output
    corrupt = tmp_path / "corrupt.gro"
    corrupt.write_text("this is not\na gro file\n")
    result = cli("map", corrupt, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "corrupt.gro: cannot read" in result.output
    result = cli("map", tmp_path / "absent.pdb", "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "absent.pdb: no such file" in result.output


def test_nan_coordinates(tmp_path, martini3):
    lines = open(PDB_small).read().splitlines(keepends=True)
    k = next(i for i, l in enumerate(lines) if l.startswith("ATOM") and l[12:16].strip() == "CB")
    lines[k] = lines[k][:30] + "     nan" + lines[k][38:]
    path = tmp_path / "nan.pdb"
    path.write_text("".join(lines))
    resname, resid = lines[k][17:20], int(lines[k][22:26])
    with pytest.raises(InputError, match=rf"nan\.pdb frame 0: atom CB of residue {resname} {resid} has non-finite"):
        map_structure(path, martini3, tmp_path / "cg.pdb")


def test_no_residue_covered(tmp_path, cli):
    result = cli("map", PDB_small, "-m", "ca", "-o", tmp_path / "x.pdb", "--selection", "name CA and resid 1")
    assert result.exit_code == 0  # sanity: a covered residue works
    water = tmp_path / "water.gro"
    mda.Universe(GRO).select_atoms("resname SOL").residues[:3].atoms.write(str(water))
    result = cli("map", water, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "no residue of the input is covered" in result.output and "SOL" in result.output


def test_unknown_mapping_and_bad_mapping_file(tmp_path, cli):
    result = cli("map", PDB_small, "-m", "martini9", "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "unknown mapping 'martini9'" in result.output
    folder = tmp_path / "myset"
    folder.mkdir()
    (folder / "met.yaml").write_text("molecule: MET\natoms:\n  N: BB P2AA\n  CA: BB P1A X7\n")
    (folder / "bead_types.yaml").write_text("MET_BB: 0\n")
    result = cli("map", PDB_small, "-m", folder, "-o", tmp_path / "cg.pdb")
    assert result.exit_code == 1 and "met.yaml:4 (atom CA): unknown token 'X7'" in result.output


def test_bad_frames_and_outputs(tmp_path, cli):
    result = cli("map", PSF, "--traj", DCD, "-o", tmp_path / "cg.pdb", "--traj-out", tmp_path / "t.xtc", "--frames", "0:10:0")
    assert result.exit_code == 1 and "STEP cannot be 0" in result.output
    result = cli("map", PDB_small, "-o", tmp_path / "cg.txt")
    assert result.exit_code == 1 and "output must be .pdb or .gro" in result.output
    result = cli("map", PDB_small, "-o", tmp_path / "cg.pdb", "--selection", "resname NOPE")
    assert result.exit_code == 1 and "matches no atoms" in result.output


def test_atoms_without_element_get_a_mass(martini3):
    """1ahsA (MDAnalysisTests' DSSP set) leaves the element column blank for some side-chain
    atoms, so MDAnalysis gives them mass 0; their element comes from the atom name."""
    import glob
    import os

    import MDAnalysisTests

    path = glob.glob(os.path.join(os.path.dirname(MDAnalysisTests.__file__), "data", "dssp", "1ahsA.pdb.gz"))[0]
    u = mda.Universe(path, format="PDB")
    tyr = u.select_atoms("resname TYR and resid 129")
    assert (tyr.masses == 0).any()  # the data really lacks them
    system = map_atoms(u.select_atoms("protein"), martini3)
    beads = system.bead_resid == 129
    sc2 = np.flatnonzero(beads & (system.bead_name == "SC2"))[0]
    w = system.cg_weight[system.cg_bead == sc2]
    assert np.allclose(sorted(w), [0.5, 0.5], atol=0.05)  # CD1 + CE1 (+ no H), equal carbons
