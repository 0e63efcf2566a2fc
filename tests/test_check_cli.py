"""``herobm mapping check`` and ``herobm mapping list`` from the command line."""

import re

import MDAnalysis as mda
from MDAnalysisTests.datafiles import PDB_small


def test_check_passes_on_adk(cli):
    result = cli("mapping", "check", PDB_small, "-m", "martini3")
    assert result.exit_code == 0, result.output
    err = float(re.search(r"round-trip max error: (\S+) A", result.output).group(1))
    assert err < 1e-3
    assert re.search(r"^MET\s+6\s+", result.output, re.M)  # 6 MET residues in adk


def test_check_fails_on_unmapped_atom(tmp_path, cli):
    u = mda.Universe(PDB_small)
    u.residues[1].atoms[3].name = "QQ1"
    path = tmp_path / "odd.pdb"
    u.atoms.write(str(path))
    result = cli("mapping", "check", path, "-m", "martini3")
    assert result.exit_code == 1
    assert "not covered by the mapping: QQ1" in result.output and "FAILED" in result.output


def test_list(cli):
    result = cli("mapping", "list")
    assert result.exit_code == 0 and "martini3" in result.output and "ca" in result.output
    result = cli("mapping", "list", "martini3")
    assert re.search(r"^ALA\s+beads BB SC1", result.output, re.M)
