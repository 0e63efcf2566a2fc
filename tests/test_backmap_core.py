"""CG files back to all-atom files: with true vectors (an oracle in place of the network)
the rebuilt heavy atoms equal the original ones, for proteins, lipids and the CA set."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysisTests.datafiles import GRO_MEMPROT, PDB_helix

from herobm import InputError, load_mapping_set, map_structure
from herobm.backmap import backmap_with_predictor as backmap
from herobm.reconstruct import slot_vectors


def oracle_factory(original, mset):
    """Predictor that returns the true vectors of ``original`` (an AtomGroup)."""

    def factory(system):
        residues = original.residues
        pos = np.zeros((system.n_atoms, 3))
        for k, (r, name) in enumerate(zip(system.atom_residue, system.atom_name)):
            m = next(x for x in mset.molecules if x.name == system.residue_molecule[r])
            names = m.atoms[m.atom_index(name)].names
            atoms = residues[r].atoms
            hit = [a for a in atoms if a.name in names]
            assert hit, f"{name} not in residue {r}"
            pos[k] = hit[0].position

        def predict(bead_pos, box):
            return slot_vectors(system.slot_bead, system.slot_index, system.slot_level, system.slot_anchor,
                                system.slot_atom, pos, bead_pos, mset.max_slots)

        factory.truth = pos
        return predict

    return factory


@pytest.mark.parametrize(
    "source, selection, mapping",
    [(PDB_helix, "protein", "martini3"), (PDB_helix, "protein", "ca"), (GRO_MEMPROT, "resname POPG", "martini3")],
)
def test_oracle_round_trip_through_files(tmp_path, source, selection, mapping):
    mset = load_mapping_set(mapping)
    u = mda.Universe(source)
    original = u.select_atoms(selection)
    original.write(str(tmp_path / "aa.pdb"))
    map_structure(tmp_path / "aa.pdb", mset, tmp_path / "cg.pdb")
    factory = oracle_factory(mda.Universe(str(tmp_path / "aa.pdb")).atoms, mset)
    report = backmap(tmp_path / "cg.pdb", factory, mset, tmp_path / "out.pdb")
    out = mda.Universe(str(tmp_path / "out.pdb"))
    assert len(out.atoms) == report.n_atoms and len(out.residues) == len(original.residues)
    assert np.abs(out.atoms.positions - factory.truth).max() < 2e-3  # PDB keeps 0.001 Å
    heavy = original.select_atoms("not name H*")
    assert report.n_atoms == len(heavy)
    assert set(out.atoms.elements) <= {"C", "N", "O", "S", "P"}  # CA is the alpha carbon, not calcium


def test_missing_bead_and_unknown_names(tmp_path):
    mset = load_mapping_set("martini3")
    map_structure(PDB_helix, mset, tmp_path / "cg.pdb", selection="protein")
    u = mda.Universe(str(tmp_path / "cg.pdb"))
    u.select_atoms("not (resid 3 and name SC1)").write(str(tmp_path / "missing.pdb"))
    with pytest.raises(InputError, match=r"residue \w+ 3.*missing bead\(s\) SC1"):
        backmap(tmp_path / "missing.pdb", lambda s: None, mset, tmp_path / "o.pdb")
    u.atoms[1].name = "SCX"
    u.atoms.write(str(tmp_path / "odd.pdb"))
    with pytest.raises(InputError, match=r"unknown bead name\(s\) SCX"):
        backmap(tmp_path / "odd.pdb", lambda s: None, mset, tmp_path / "o.pdb")


def test_refine_options_are_checked():
    """A negative or non-finite restraint is refused; the CLI default is the library's."""
    from herobm.backmap import DEFAULT_RESTRAINT, RefineOptions
    from herobm.cli.backmap import backmap_cmd

    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="restraint must be a finite number >= 0"):
            RefineOptions(minimize=True, restraint=bad)
    opt = next(p for p in backmap_cmd.params if p.name == "restraint")
    assert opt.default == DEFAULT_RESTRAINT == RefineOptions().restraint


def test_runaway_model_output_is_refused(tmp_path):
    """A predictor that throws one atom 1,000 nm away (as an over-fitted lipid model once did
    on YiiP) gives an error naming the residue and atom, and no output file."""
    mset = load_mapping_set("martini3")
    original = mda.Universe(GRO_MEMPROT).select_atoms("resname POPG")
    original.write(str(tmp_path / "aa.pdb"))
    map_structure(tmp_path / "aa.pdb", mset, tmp_path / "cg.pdb")
    factory = oracle_factory(mda.Universe(str(tmp_path / "aa.pdb")).atoms, mset)

    def runaway(system):
        predict = factory(system)

        def wrong(bead_pos, box):
            v = predict(bead_pos, box)
            v[3, 1] += 10_000.0  # bead 3 (a glycerol bead of the first POPG), its second atom
            return v

        return wrong

    with pytest.raises(InputError, match=r"frame 0 .*placed atom \w+ of residue POPG \d+ 1\.\d+e\+04 Å from its bead"):
        backmap(tmp_path / "cg.pdb", runaway, mset, tmp_path / "out.pdb")
    assert not (tmp_path / "out.pdb").exists()
