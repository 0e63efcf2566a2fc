"""The example small-molecule set (ibuprofen) and the custom-molecule workflow:
bare mapping -> ``herobm mapping label`` -> ``herobm mapping check``; and
``herobm mapping import-vermouth`` for vermouth's small molecules."""

import shutil
from pathlib import Path

import MDAnalysis as mda
import networkx as nx
import numpy as np
import pytest

from herobm.mapper import check_mapping
from herobm.mapping import load_mapping_set, load_molecule
from herobm.mapping.bead_types import update_bead_types
from herobm.mapping.label import is_hydrogen_name
from herobm.mapping.vermouth_import import vermouth_bonds

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
STRUCTURE = EXAMPLES / "ibuprofen.pdb"
BARE = EXAMPLES / "ibuprofen_bare"


def test_shipped_example_set_checks(cli):
    result = cli("mapping", "check", STRUCTURE, "--mapping", "example")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_example_set_contents():
    mset = load_mapping_set("example")
    assert mset.weighting == "geometric"
    (ibp,) = mset.molecules
    assert ibp.name == "IBP" and ibp.beads == ("ISO", "R1", "R2", "R3", "COO")
    c11 = next(a for a in ibp.atoms if a.name == "C11")  # shared atom with explicit weights
    assert [(m.bead, str(m.weight)) for m in c11.beads] == [("R2", "1/3"), ("COO", "2/3")]
    assert all(m.label is not None for m in c11.beads)  # rebuilt from both beads
    for line in ibp.atoms:
        assert line.rebuilt == (not is_hydrogen_name(line.name))


def test_label_bare_mapping_then_check(cli, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(BARE, bare)
    assert all(not a.rebuilt for a in load_molecule(bare / "ibp.yaml").atoms)
    out = tmp_path / "labelled"
    result = cli("mapping", "label", STRUCTURE, "--mapping", bare, "-o", out)
    assert result.exit_code == 0, result.output
    assert "labelled IBP: 15 rebuilt atoms" in result.output
    assert (out / "bead_types.yaml").is_file()
    result = cli("mapping", "check", STRUCTURE, "--mapping", out)
    assert result.exit_code == 0, result.output
    report = check_mapping(STRUCTURE, out)
    assert report.ok and report.issues == () and report.max_error < 1e-4
    # the shipped set is exactly this labelling
    shipped = load_mapping_set("example").molecules[0]
    assert load_molecule(out / "ibp.yaml").atoms == shipped.atoms


def _structure_from_bond_graph(m, bonds, path):
    """A PDB of molecule ``m``: one atom per mapping line, coordinates from a seeded 3-D
    spring layout of the bond graph (any coordinates round-trip exactly)."""
    names = [a.name for a in m.atoms]
    g = nx.Graph()
    g.add_nodes_from(names)
    g.add_edges_from((a, b) for a, b in bonds if a in g and b in g)
    layout = nx.spring_layout(g, dim=3, seed=7)
    u = mda.Universe.empty(len(names), n_residues=1, atom_resindex=np.zeros(len(names), int), trajectory=True)
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("resnames", [m.name])
    u.add_TopologyAttr("resids", [1])
    u.add_TopologyAttr("elements", ["H" if is_hydrogen_name(n) else n[0] for n in names])
    u.atoms.positions = np.array([layout[n] for n in names]) * 4.0
    u.atoms.write(str(path))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["BENZ", "PXYL", "NAFT"])
def test_import_vermouth_loads_and_round_trips(cli, tmp_path, name):
    folder = tmp_path / "set"
    folder.mkdir()
    result = cli("mapping", "import-vermouth", name, "-o", folder / f"{name.lower()}.yaml")
    assert result.exit_code == 0, result.output
    m = load_molecule(folder / f"{name.lower()}.yaml")
    assert m.name == name
    heavy = [a for a in m.atoms if not is_hydrogen_name(a.name)]
    assert heavy and all(a.rebuilt for a in heavy)
    update_bead_types(folder)
    pdb = tmp_path / f"{name}.pdb"
    _structure_from_bond_graph(m, vermouth_bonds(name), pdb)
    report = check_mapping(pdb, folder)
    assert report.issues == (), report.summary()
    assert report.ok and report.max_error < 1e-4
    assert report.molecules[0].n_rebuilt == len(heavy)
