"""Score Cα models on the folded chains of a dataset's validation split (docs/models.md), and on
other held-out structure files (``--structures``).

Each chain's Cα atoms are backmapped and compared with the chain's heavy atoms by ``herobm
evaluate`` (no superposition, symmetric side-chain atoms matched). ``--mode``: ``raw`` (the
network output: ``--no-optimize-backbone --no-relax-backbone --no-fix-side-chains``), ``relax``
(``--no-optimize-backbone``: the backbone relaxed with Cα held, side chains fixed) or ``optimize``
(``--optimize-backbone``). Printed per model: the backbone RMSD over all chains pooled (and of N,
C, O alone) and the mean of the chains' heavy-atom RMSD. This is how the Cα recipes and the
model's default are compared and selected; adenylate kinase is not used.

    python benchmarks/ca_validation.py --dataset WORK/datasets/ca-protein runs/a/best.pt \
        src/herobm/models/data/ca-protein.pt src/herobm/models/data/ca-protein.pt:0
    python benchmarks/ca_validation.py --structures WORK/extra-structures --mode relax \
        src/herobm/models/data/ca-protein.pt      # scripts/fetch_extra_structures.py's 19 files

``CKPT:k`` scores network k of an ensemble checkpoint alone; ``A+B+C`` averages the networks
of several checkpoints (as ``scripts/ship_model.py --member`` would ship them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import torch

from herobm.backmap import RAW_OUTPUT, backmap
from herobm.errors import InputError
from herobm.evaluate import evaluate
from herobm.train.checkpoint import load_checkpoint, network_entries

NETWORK_KEYS = ("model_config", "model_state", "train_config", "epoch", "best_metric", "metric_name")


def validation_chains(dataset: Path, pattern: str) -> list[Path]:
    """The corpus inputs of the dataset's validation split whose path contains ``pattern``."""
    splits = json.loads((dataset / "corpus_splits.json").read_text())
    return sorted(Path(p) for p, split in splits.items() if split == "val" and pattern in p)


def model_file(spec: str, folder: Path) -> Path:
    """A checkpoint file for ``spec``: a path, ``PATH:k`` (network k alone) or ``A+B`` (averaged)."""
    if Path(spec).exists():
        return Path(spec)
    entries = []
    for part in spec.split("+"):
        path, _, member = part.partition(":") if not Path(part).exists() else (part, "", "")
        base = load_checkpoint(path)
        nets = network_entries(base)
        chosen = [nets[int(member)]] if member else nets
        entries += [{k: n.get(k) for k in NETWORK_KEYS} for n in chosen]
    out = {k: v for k, v in base.items() if k != "ensemble"}
    out.update(entries[0])
    if len(entries) > 1:
        out["ensemble"] = entries[1:]
    path = folder / f"model{abs(hash(spec))}.pt"
    torch.save(out, path)
    return path


def prepare(chain: Path, folder: Path) -> tuple[Path, Path]:
    """(Cα trace, heavy-atom reference) PDB files of the protein of ``chain``."""
    u = mda.Universe(str(chain))
    protein = u.select_atoms("protein and not name H* and not altloc B C")
    stem = chain.name.split(".")[0]
    ref, ca = folder / f"{stem}_ref.pdb", folder / f"{stem}_ca.pdb"
    protein.write(str(ref))
    protein.select_atoms("name CA").write(str(ca))
    return ca, ref


MODES = {"raw": RAW_OUTPUT, "relax": dict(optimize_backbone=False), "optimize": dict(optimize_backbone=True)}


def structure_files(paths: list[Path]) -> list[Path]:
    """The PDB / mmCIF files given, folders expanded (sorted)."""
    out = []
    for p in paths:
        out += sorted(f for f in p.iterdir() if f.suffix in (".pdb", ".cif", ".gz")) if p.is_dir() else [p]
    return out


def score(model: Path, chains: list[tuple[str, Path, Path]], folder: Path, mode: str) -> dict:
    """Backmap every chain with ``model`` in ``mode`` (:data:`MODES`) and pool the backbone deviations."""
    sq: dict[str, list[float]] = {"backbone": [], "N": [], "C": [], "O": []}
    heavy = []
    per_chain = {}
    for name, ca, ref in chains:
        out = folder / f"{name}_{model.stem}.pdb"
        try:
            backmap(str(ca), str(model), str(out), device="auto", **MODES[mode])
            res = evaluate(str(out), str(ref))
        except InputError as exc:  # e.g. insertion codes: left out, and said so
            print(f"{name}: left out ({exc})", flush=True)
            continue
        per_atom = res.series["per_atom_msd"]
        d2, names = per_atom["msd"], per_atom["name"]
        for atom in ("N", "C", "O"):
            sq[atom] += list(d2[names == atom])
        sq["backbone"] += list(d2[np.isin(names, ("N", "CA", "C", "O"))])
        heavy.append(res.metrics["rmsd_heavy"])
        per_chain[name] = (res.metrics["rmsd_backbone"], res.metrics["rmsd_heavy"])
    out = {k: float(np.sqrt(np.mean(v))) for k, v in sq.items()}
    out["heavy_mean"] = float(np.mean(heavy))
    out["chains"] = per_chain
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="checkpoint, CKPT:k (network k) or A+B (averaged)")
    ap.add_argument("--dataset", type=Path, help="a Cα dataset folder (its corpus_splits.json)")
    ap.add_argument("--pattern", default="/dssp/", help="which validation inputs are the folded chains")
    ap.add_argument("--structures", nargs="+", type=Path, default=[],
                    help="more held-out structure files or folders (e.g. scripts/fetch_extra_structures.py's)")
    ap.add_argument("--mode", choices=sorted(MODES), default="raw")
    ap.add_argument("--optimize-backbone", action="store_true", help="the same as --mode optimize")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    a = ap.parse_args(argv)
    mode = "optimize" if a.optimize_backbone else a.mode
    files = validation_chains(a.dataset, a.pattern) if a.dataset else []
    if a.dataset and not files:
        sys.exit(f"Error: no validation input of {a.dataset} matches '{a.pattern}'")
    files += structure_files(a.structures)
    if not files:
        sys.exit("Error: give --dataset and/or --structures")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chains = [(f.name.split(".")[0], *prepare(f, folder)) for f in files]
        print(f"{len(chains)} chains: {', '.join(c[0] for c in chains)}")
        for spec in a.models:
            r = score(model_file(spec, folder), chains, folder, mode)
            results[spec] = r
            print(f"{spec} ({mode}): backbone {r['backbone']:.3f} (N {r['N']:.3f} / C {r['C']:.3f} / O {r['O']:.3f}) Å, "
                  f"heavy (mean over chains) {r['heavy_mean']:.3f} Å", flush=True)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
