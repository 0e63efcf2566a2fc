"""Datasets of the shipped models from a corpus (``herobm dataset corpus``), one per model:

* ``martini3-protein``: every protein/peptide input of the corpus, Martini 3 set;
* ``ca-protein``: the same inputs, Cα set, with eight folded chains (``CA_FOLDED_VALIDATION``)
  moved to the validation split next to the manifest's peptides;
* ``martini3-lipids``: OpenMM's lipid patches plus the membranes of
  ``scripts/make_lipid_structures.py`` (``--lipids DIR``: its *.pdb with same-named *.dcd), Martini 3 set;
* ``example-ligand``: ibuprofen conformers of ``scripts/make_ligand_conformers.py`` (``--ligand DIR``).

Splits follow the corpus manifest (whole inputs); lipid and ligand inputs all go to ``train``
(each lipid type has one source only; these models are judged on held-out systems instead)::

    python scripts/build_model_datasets.py --corpus corpus/ --lipids corpus/lipids --ligand corpus/ligand -o datasets/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from herobm.data.build import InputSpec, build_dataset
from herobm.data.corpus import build_corpus_dataset, read_manifest


# Folded single chains of MDAnalysisTests' DSSP set that validate the Cα model: the manifest's
# validation peptides are short and floppy, a poor stand-in for the folded proteins a Cα trace
# usually comes from (model selection on them preferred the wrong epochs). The Martini 3
# protein model keeps the manifest split it was trained with.
CA_FOLDED_VALIDATION = ("dssp_1eteA", "dssp_1h4aX", "dssp_2a2lA", "dssp_2qdlA",
                        "dssp_3ejfA", "dssp_3gfsA", "dssp_3nbkA", "dssp_3nzmA")


def _extra(folder: str | None) -> list[tuple[str, list[str]]]:
    if not folder:
        return []
    out = []
    for pdb in sorted(Path(folder).glob("*.pdb")):
        dcd = pdb.with_suffix(".dcd")
        out.append((str(pdb), [str(dcd)] if dcd.exists() else []))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--lipids", help="folder of extra all-atom membranes (PDB + DCD)")
    ap.add_argument("--ligand", help="folder with ibuprofen_conf.pdb/.dcd")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--only", default="martini3-protein,ca-protein,martini3-lipids,example-ligand")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    out = Path(a.output)
    entries = read_manifest(a.corpus)
    proteins = [e for e in entries if e.kind != "openmm-lipid"]
    lipids = [e for e in entries if e.kind == "openmm-lipid"]
    only = set(a.only.split(","))
    if "martini3-protein" in only:
        print(build_corpus_dataset(proteins, "martini3", out / "martini3-protein", workers=a.workers).summary())
    if "ca-protein" in only:
        missing = set(CA_FOLDED_VALIDATION) - {e.name for e in proteins}
        if missing:
            raise SystemExit(f"corpus {a.corpus} lacks the Cα validation chain(s) {', '.join(sorted(missing))}")
        ca_inputs = [dataclasses.replace(e, split="val") if e.name in CA_FOLDED_VALIDATION else e for e in proteins]
        print(build_corpus_dataset(ca_inputs, "ca", out / "ca-protein", workers=a.workers).summary())
    if "martini3-lipids" in only:
        extra = _extra(a.lipids)
        inputs = [InputSpec(e.topology, tuple(e.trajectories)) for e in lipids] + [InputSpec(t, tuple(tr)) for t, tr in extra]
        split = {str(Path(e.topology)): "train" for e in lipids}
        for t, _ in extra:  # every lipid type is needed in training: no validation split
            split[str(Path(t))] = "train"
        split_file = out / "martini3-lipids.splits.json"
        out.mkdir(parents=True, exist_ok=True)
        split_file.write_text(json.dumps(split, indent=1))
        print(build_dataset(inputs, "martini3", out / "martini3-lipids", split_file=split_file, workers=a.workers).summary())
    if "example-ligand" in only and a.ligand:
        d = Path(a.ligand)
        spec = InputSpec(str(d / "ibuprofen_conf.pdb"), (str(d / "ibuprofen_conf.dcd"),))
        print(build_dataset([spec], "example", out / "example-ligand", split={"train": 1.0}).summary())


if __name__ == "__main__":
    main()
