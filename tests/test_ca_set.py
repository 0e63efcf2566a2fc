"""The ``ca`` mapping set: one bead per residue on the C-alpha atom (scripts/make_ca_set.py)."""

from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import GRO, PRM, TRJ, PDB_small

from herobm.mapper import check_mapping, map_structure
from herobm.mapping import load_mapping_set
from herobm.mapping.label import is_hydrogen_name

ROOT = Path(__file__).resolve().parents[1]
MARTINI3 = ROOT / "src" / "herobm" / "mapping" / "data" / "martini3"
STANDARD = "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL".split()
VARIANTS = "HSD HSE HSP HID HIE HIP CYX ASH ASPP GLH GLUP LYN LSN ACE NME".split()


@pytest.fixture(scope="module")
def mset():
    return load_mapping_set("ca")


def test_set_covers_amino_acids_variants_and_caps(mset):
    for resname in STANDARD + VARIANTS:
        assert mset.covers(resname), resname
    assert mset.weighting == "mass"
    # protonation variants share their parent's bead type
    types = {m.name: mset.bead_type(m, "CA") for m in mset.molecules}
    assert types["HSD"] == types["HSE"] == types["HSP"]
    assert types["ASPP"] == types["ASP"] and types["GLUP"] == types["GLU"]
    assert types["LYN"] == types["LYS"] and types["CYX"] == types["CYS"]
    assert len(set(types.values())) == mset.n_bead_types


def test_one_bead_on_ca_heavy_atoms_rebuilt_hydrogens_excluded(mset):
    for m in mset.molecules:
        assert m.beads == ("CA",), m.name
        centre = "CH3" if m.name in ("ACE", "NME") else "CA"
        for line in m.atoms:
            (mem,) = line.beads
            if line.name == centre:
                assert mem.is_cm and mem.label.level == 0, m.name
            elif is_hydrogen_name(line.name):
                assert mem.excluded and mem.label is None, (m.name, line.name)
            else:
                assert mem.label is not None and mem.label.level >= 1, (m.name, line.name)
        if centre == "CA":
            level1 = {m.atoms[s.atom].name for s in m.slots["CA"] if s.level == 1}
            assert level1 == ({"N", "C"} if m.name == "GLY" else {"N", "C", "CB"}), m.name


def test_map_writes_beads_exactly_on_ca(tmp_path):
    out = tmp_path / "ca.pdb"
    report = map_structure(PDB_small, "ca", out)
    assert report.issues == ()
    u = mda.Universe(PDB_small)
    ca = u.select_atoms("name CA")
    cg = mda.Universe(str(out))
    assert report.n_beads == len(cg.atoms) == len(ca) == len(u.residues)
    assert set(cg.atoms.names) == {"CA"}
    assert list(cg.atoms.resnames) == list(ca.resnames)
    assert list(cg.atoms.resids) == list(ca.resids)
    np.testing.assert_array_equal(cg.atoms.positions, ca.positions)


def test_calpha_trace_is_valid_cg_input(tmp_path, mset):
    """A plain C-alpha trace names every bead of this set: residue name + bead CA."""
    trace = tmp_path / "trace.pdb"
    mda.Universe(PDB_small).select_atoms("name CA").write(str(trace))
    cg = mda.Universe(str(trace))
    for atom in cg.atoms:
        candidates = mset.by_resname[atom.resname]
        assert all(atom.name in m.beads for m in candidates)
        assert len({mset.bead_type(m, atom.name) for m in candidates}) == 1  # variants share
    # and it is what mapping the all-atom structure gives
    out = tmp_path / "mapped.pdb"
    map_structure(PDB_small, "ca", out)
    np.testing.assert_array_equal(mda.Universe(str(out)).atoms.positions, cg.atoms.positions)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((PDB_small, None), id="charmm-adk"),
        pytest.param((GRO, None), id="gromacs-oplsaa-adk"),
        pytest.param((PRM, TRJ), id="amber-prmtop"),
    ],
)
def test_check_passes_on_full_atom_proteins(args):
    structure, traj = args
    report = check_mapping(structure, "ca", selection="protein", traj=traj)
    assert report.issues == (), report.summary()
    assert report.ok and report.max_error < 1e-4
    assert all(m.n_mapped == m.n_atoms for m in report.molecules)


def test_same_residues_and_names_as_martini3_proteins(mset):
    """Residues, aliases and atom names follow the martini3 protein files."""
    if not (MARTINI3 / "ala.yaml").is_file():
        pytest.skip("martini3 protein files not generated")
    m3 = load_mapping_set("martini3")
    proteins = [m for m in m3.molecules if m.name in ("ACE", "NME") or {"N", "CA", "C"} <= {a.name for a in m.atoms}]
    ca = {m.name: m for m in mset.molecules}
    assert sorted(ca) == sorted(m.name for m in proteins)
    for p in proteins:
        c = ca[p.name]
        assert c.aliases == p.aliases
        assert [(a.names, a.optional) for a in c.atoms] == [(a.names, a.optional) for a in p.atoms], p.name
