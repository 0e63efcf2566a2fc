"""The training corpus: benchmark exclusion, generated peptides, manifest, CLI."""

import json
import shutil
from collections import Counter
from pathlib import Path

import MDAnalysis as mda
import MDAnalysisTests
import MDAnalysisTests.datafiles as df
import numpy as np
import pytest

from herobm.data import DatasetReader
from herobm.data.corpus import (
    AMINO_ACIDS,
    BENCHMARK_DATAFILES,
    MDATESTS_SOURCES,
    build_corpus_dataset,
    build_peptide,
    choose_platform,
    generate_peptides,
    is_benchmark,
    mdatests_inputs,
    openmm_inputs,
    plan_peptides,
    read_manifest,
    write_manifest,
)
from herobm.errors import InputError
from herobm.mapper import check_mapping

DATA = Path(MDAnalysisTests.__file__).parent / "data"
STANDARD = set("ALA ARG ASN ASP CYS GLN GLU GLY HID HIE HIP ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL ACE NME".split())


# --- the benchmark is never used ---------------------------------------------------------------


def test_every_benchmark_file_is_recognised():
    names = [n for n in BENCHMARK_DATAFILES if isinstance(getattr(df, n, None), str)]
    assert {"PSF", "DCD", "PDB_small", "PDB_closed", "GRO", "XTC", "GRO_MEMPROT", "XTC_MEMPROT"} <= set(names)
    for n in names:
        assert is_benchmark(getattr(df, n), content=False), n
    by_name = [p for p in DATA.rglob("*") if p.is_file() and ("adk" in p.name.lower() or "yiip" in p.name.lower())]
    assert len(by_name) > 20
    assert all(is_benchmark(p, content=False) for p in by_name)


def test_benchmark_recognised_by_content(tmp_path):
    # adk without its name: PDB id in the header
    renamed = tmp_path / "protein.pdb"
    shutil.copy(df.PDB_small, renamed)
    assert is_benchmark(renamed)
    assert not is_benchmark(renamed, content=False)
    # adk without name or header: sequence
    bare = tmp_path / "bare.pdb"
    bare.write_text("".join(l for l in open(df.PDB_small) if l.startswith(("ATOM", "HETATM", "END"))))
    assert is_benchmark(bare)
    # YiiP renamed: sequence
    mem = tmp_path / "membrane.gro.gz"
    shutil.copy(df.GRO_MEMPROT, mem)
    assert is_benchmark(mem)
    assert not is_benchmark(df.PDB_helix)


def test_no_corpus_input_is_benchmark():
    assert not any(s.topology in BENCHMARK_DATAFILES or set(s.trajectories) & set(BENCHMARK_DATAFILES)
                   for s in MDATESTS_SOURCES)
    entries = mdatests_inputs() + openmm_inputs()
    assert len(entries) > 40
    kinds = Counter(e.kind for e in entries)
    assert kinds["openmm-lipid"] == 7 and kinds["openmm-protein"] == 1 and kinds["mdatests"] > 30
    for e in entries:
        assert not is_benchmark(e.topology), e.topology  # name, datafile, header and sequence
        for t in e.trajectories:
            assert not is_benchmark(t), t
    # a benchmark file slipped into the sources would raise
    from herobm.data import corpus

    bad = corpus._Source("oops", "PDB_closed")
    orig = corpus.MDATESTS_SOURCES
    try:
        corpus.MDATESTS_SOURCES = (bad,)
        with pytest.raises(InputError, match="benchmark"):
            corpus.mdatests_inputs()
    finally:
        corpus.MDATESTS_SOURCES = orig


# --- generated peptides --------------------------------------------------------------------------


def test_plans_are_reproducible_and_balanced():
    a = plan_peptides(6, (5, 9), seed=3)
    assert a == plan_peptides(6, (5, 9), seed=3)
    assert [p.sequence for p in a] != [p.sequence for p in plan_peptides(6, (5, 9), seed=4)]
    assert all(5 <= len(p.sequence) <= 9 for p in a)
    assert {p.mode for p in plan_peptides(5, (4, 4), 0)} == {"helix", "strand", "ppii", "coil", "mixed"}
    counts = Counter("".join(p.sequence for p in plan_peptides(40, (10, 10), seed=1)))
    assert set(counts) == set(AMINO_ACIDS) and set(counts.values()) == {20}
    # the built structure is the same from the same plan
    t1, x1 = build_peptide(a[0])
    t2, x2 = build_peptide(plan_peptides(6, (5, 9), seed=3)[0])
    assert np.array_equal(x1, x2)
    assert [r.name for r in t1.residues()] == [r.name for r in t2.residues()]


def test_helix_plan_builds_a_helix():
    plan = next(p for p in plan_peptides(30, (8, 8), seed=2) if p.mode == "helix" and "P" not in p.sequence)
    assert set(plan.basins) == {"alpha"}
    top, x = build_peptide(plan)
    ca = x[[a.index for a in top.atoms() if a.name == "CA" and a.residue.name not in ("ACE", "NME")]] * 10
    # i -> i+3 C-alpha distance: ~5 Å in an alpha helix (~10 Å when extended)
    d = np.linalg.norm(ca[3:] - ca[:-3], axis=1)
    assert np.all(d < 6.5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("peptides")
    entries = generate_peptides(out, 2, (4, 4), seed=1, md_steps=30, frames=3, platform="CPU",
                                equilibration_steps=10, cap_fraction=0.5, workers=1)
    return out, entries


def test_tiny_peptides_are_valid(tiny):
    out, entries = tiny
    plans = plan_peptides(2, (4, 4), seed=1, cap_fraction=0.5)
    assert [e.kind for e in entries] == ["peptide-md"] * 2
    for e, plan in zip(entries, plans):
        assert Path(e.topology).parent == out and e.trajectories[0].endswith(".dcd")
        u = mda.Universe(e.topology, *e.trajectories)
        assert len(u.trajectory) == 3
        assert len(u.residues) == plan.n_residues == e.info["residues"]
        assert len(u.select_atoms("name CA").residues) == 4
        assert set(u.residues.resnames) <= STANDARD
        assert len(u.bonds) > len(u.atoms) - 2  # CONECT for every bond
        assert e.info["sequence"] == plan.sequence
        for ts in u.trajectory:
            assert np.isfinite(u.atoms.positions).all()
        report = check_mapping(e.topology, "martini3")
        assert report.ok, report.summary()


def test_peptides_reused_when_unchanged(tiny):
    out, entries = tiny
    again = generate_peptides(out, 2, (4, 4), seed=1, md_steps=30, frames=3, platform="CPU",
                              equilibration_steps=10, cap_fraction=0.5, workers=1)
    assert all(e.info.get("reused") for e in again)
    assert [e.topology for e in again] == [e.topology for e in entries]


def test_manifest_and_dataset(tiny, tmp_path):
    out, entries = tiny
    write_manifest(entries, tmp_path / "corpus.json")
    data = json.loads((tmp_path / "corpus.json").read_text())
    assert isinstance(data, list) and {"topology", "trajectories", "kind", "split"} <= set(data[0])
    back = read_manifest(tmp_path)
    assert [(b.topology, b.trajectories, b.kind, b.split) for b in back] == \
           [(e.topology, e.trajectories, e.kind, e.split) for e in entries]
    report = build_corpus_dataset(tmp_path / "corpus.json", "martini3", tmp_path / "ds")
    assert all("bonds from topology" in n for n in report.notes if "frame(s)" in n)
    ds = DatasetReader(tmp_path / "ds")
    assert [s.n_frames for s in ds.systems] == [3, 3]


def test_platform_choice():
    assert choose_platform().getName() in {"CUDA", "HIP", "OpenCL", "CPU", "Reference"}
    with pytest.raises(InputError, match="not available"):
        choose_platform("NoSuchPlatform")


def test_cli_corpus(cli, tmp_path):
    res = cli("dataset", "corpus", "-o", tmp_path / "c", "--peptides", 2, "--length", "3", "--frames", 2,
              "--md-steps", 4, "--equilibration-steps", 0, "--no-mdatests", "--no-openmm-data",
              "--platform", "CPU", "--val-fraction", 0.5, "--build-dataset", tmp_path / "ds")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert sorted(d["split"] for d in data) == ["train", "val"]
    assert "peptide-md" in res.output and (tmp_path / "ds" / "dataset.json").exists()
    bad = cli("dataset", "corpus", "-o", tmp_path / "d", "--length", "5:2")
    assert bad.exit_code == 1 and "MIN:MAX" in bad.output
