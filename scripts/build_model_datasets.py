"""Datasets of the shipped models from a corpus (``herobm dataset corpus``), one per model:

* ``martini3-protein``: every protein/peptide input of the corpus, Martini 3 set;
* ``ca-protein``: the same inputs, Cα set, with eight folded chains (``CA_FOLDED_VALIDATION``)
  moved to the validation split next to the manifest's peptides, plus (``--extra-structures DIR``)
  the folded structures of ``scripts/fetch_extra_structures.py`` in its training split;
* ``ca-protein-xray``: the part of ``ca-protein`` that is experimental structures (single PDB
  entries, :data:`EXPERIMENTAL`; no MD frames, no built peptides), the same validation chains: the
  Cα model's second stage, which fine-tunes each network on structures like the ones a Cα trace
  usually comes from (docs/models.md, session 21);
* ``martini3-lipids``: OpenMM's lipid patches plus the membranes of
  ``scripts/make_lipid_structures.py`` (``--lipids DIR [DIR ...]``: their *.pdb with same-named *.dcd), Martini 3 set;
* ``example-ligand``: ibuprofen conformers of ``scripts/make_ligand_conformers.py`` (``--ligand DIR``).

The lipid topologies are read through :func:`canonical_phosphate_names`: in OpenMM's patches
(and so in membranes built from them) 0-16 % of the lipids carry the phosphate oxygens O13/O14
under each other's names, which the network cannot tell from the CG beads (label noise).

Splits follow the corpus manifest (whole inputs). Lipid inputs all go to ``train`` (each lipid
type has one source only), except the membranes of ``--lipids-val``: an independent
``make_lipid_structures.py`` run (other seed: other lipids turned into POPG / cholesterol,
longer equilibration), the lipid model's validation split. Ligand inputs all go to ``train``::

    python scripts/build_model_datasets.py --corpus corpus/ --lipids corpus/lipids \
        --lipids-val corpus/lipids-val --ligand corpus/ligand -o datasets/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import warnings
from pathlib import Path

import MDAnalysis as mda
import numpy as np

from herobm.data.build import InputSpec, build_dataset
from herobm.data.corpus import CorpusInput, build_corpus_dataset, read_manifest


# Folded single chains of MDAnalysisTests' DSSP set that validate the Cα model: the manifest's
# validation peptides are short and floppy, a poor stand-in for the folded proteins a Cα trace
# usually comes from (model selection on them preferred the wrong epochs). The Martini 3
# protein model keeps the manifest split it was trained with.
CA_FOLDED_VALIDATION = ("dssp_1eteA", "dssp_1h4aX", "dssp_2a2lA", "dssp_2qdlA",
                        "dssp_3ejfA", "dssp_3gfsA", "dssp_3nbkA", "dssp_3nzmA")


# MDAnalysisTests files that are one experimental PDB entry each (X-ray, cryo-EM; 2LYZ as a
# GROMACS run input): the Cα model's second training stage. Left out as not experimental: the
# villin and amyloid-beta MD frames, built helices and capped peptides, a NAMD test system.
EXPERIMENTAL = ("DSSP", "MMCIF", "PDB_rama", "PDB_icodes", "PQR_icodes", "CONECT", "PDB_full", "merge_protein",
                "PDB_CHECK_RIGHTHAND_PA", "MMTF_skinny", "MMTF_skinny2", "PDB_CRYOEM_BOX", "TPR2024_4")


def experimental_inputs(proteins: list[CorpusInput]) -> list[CorpusInput]:
    """The corpus inputs of ``ca-protein-xray``: single-frame MDAnalysisTests files of
    :data:`EXPERIMENTAL`, the :data:`CA_FOLDED_VALIDATION` chains in the validation split."""
    return [dataclasses.replace(e, split="val") if e.name in CA_FOLDED_VALIDATION else e
            for e in proteins if e.kind == "mdatests" and e.info.get("frames") == 1
            and e.info.get("datafile") in EXPERIMENTAL]


def canonical_phosphate_names(topology: str, out_dir: Path) -> str:
    """``topology`` (PDB), or a copy in ``out_dir`` with O13/O14 renamed where needed, so that
    every phosphate has det[O13-P, O14-P, O11-P] < 0 (CHARMM36 naming, as CHARMM-GUI writes it:
    all 276 YiiP lipids). Only the 4-column name fields change: atom order, and so any
    trajectory of the topology, stays valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(topology)
    swap: set[int] = set()
    for res in u.residues:
        at = {a.name: a for a in res.atoms}
        if not all(n in at for n in ("P", "O11", "O13", "O14")):
            continue
        p, o11, o13, o14 = (at[n].position.astype(float) for n in ("P", "O11", "O13", "O14"))
        if np.dot(np.cross(o13 - p, o14 - p), o11 - p) > 0:
            swap |= {at["O13"].index, at["O14"].index}
    if not swap:
        return topology
    lines = Path(topology).read_text().splitlines(keepends=True)
    k = 0
    for i, line in enumerate(lines):
        if line.startswith(("ATOM  ", "HETATM")):
            if k in swap:
                name = line[12:16]
                lines[i] = line[:12] + (name.replace("O13", "O14") if "O13" in name else name.replace("O14", "O13")) + line[16:]
            k += 1
    if k != len(u.atoms):
        raise SystemExit(f"{topology}: {k} ATOM/HETATM records for {len(u.atoms)} atoms; cannot rename in place")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / Path(topology).name
    target.write_text("".join(lines))
    print(f"{topology}: O13/O14 renamed in {len(swap) // 2} lipid(s) -> {target}")
    return str(target)


def _extra(folders: list[str] | None) -> list[tuple[str, list[str], int]]:
    """(PDB, [its DCD], index of its folder) of every *.pdb in ``folders``."""
    out = []
    for k, folder in enumerate(folders or []):
        pdbs = sorted(Path(folder).glob("*.pdb"))
        if not pdbs:
            raise SystemExit(f"{folder}: no *.pdb membranes (scripts/make_lipid_structures.py -o {folder})")
        for pdb in pdbs:
            dcd = pdb.with_suffix(".dcd")
            out.append((str(pdb), [str(dcd)] if dcd.exists() else [], k))
    return out


def _copy_folder(base: Path, k: int) -> Path:
    """Where the name-fixed copies of the k-th membrane folder go (folders hold the same file
    names: popg_pope.pdb ...)."""
    return base if k == 0 else base / f"run{k}"


def extra_structures(folder: str | None) -> list[CorpusInput]:
    """The structures listed in ``folder``/sources.json (``scripts/fetch_extra_structures.py``), as
    training inputs; [] without a folder."""
    if not folder:
        return []
    listing = Path(folder) / "sources.json"
    if not listing.is_file():
        raise SystemExit(f"{listing} not found: write the folder with scripts/fetch_extra_structures.py")
    out = []
    for rec in json.loads(listing.read_text()):
        path = Path(folder) / rec["file"]
        if not path.is_file():
            raise SystemExit(f"{path} (listed in {listing}) not found")
        out.append(CorpusInput(str(path.resolve()), (), "pypi-sdist", path.stem, "train", {"package": rec["package"]}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--lipids", nargs="+", help="folder(s) of extra all-atom membranes (PDB + DCD)")
    ap.add_argument("--lipids-val", nargs="+", help="folder(s) of validation membranes (PDB + DCD): "
                    "other make_lipid_structures.py runs (other --seed, longer --equil-ps)")
    ap.add_argument("--ligand", help="folder with ibuprofen_conf.pdb/.dcd")
    ap.add_argument("--extra-structures", help="folder of scripts/fetch_extra_structures.py: more folded "
                    "proteins for the ca-protein training split")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--only", default="martini3-protein,ca-protein,ca-protein-xray,martini3-lipids,example-ligand")
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
        ca_inputs += extra_structures(a.extra_structures)
        print(build_corpus_dataset(ca_inputs, "ca", out / "ca-protein", workers=a.workers).summary())
    if "ca-protein-xray" in only:
        xray = experimental_inputs(proteins)
        print(build_corpus_dataset(xray, "ca", out / "ca-protein-xray", workers=a.workers).summary())
    if "martini3-lipids" in only:
        fixed = out / "martini3-lipids.inputs"
        sources = [(e.topology, list(e.trajectories), 0) for e in lipids] + _extra(a.lipids)
        inputs = [InputSpec(canonical_phosphate_names(t, _copy_folder(fixed, k)), tuple(tr)) for t, tr, k in sources]
        # every lipid type is needed in training; validation: membranes of an independent MD run
        split = {str(Path(i.topology)): "train" for i in inputs}
        for t, tr, k in _extra(a.lipids_val):
            inputs.append(InputSpec(canonical_phosphate_names(t, _copy_folder(fixed / "val", k)), tuple(tr)))
            split[inputs[-1].topology] = "val"
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
