"""Turn a training checkpoint into a shipped model: src/herobm/models/data/NAME.pt.

Drops the optimizer/scheduler state, records what the model was trained on (bead types
of the dataset's training split, when the checkpoint does not have them) and an
``info`` dict shown by ``herobm models``. ``--member CKPT`` (repeatable) adds networks
trained for the same mapping set (e.g. other seeds): the shipped model averages their
outputs (herobm.model.Ensemble).

    python scripts/ship_model.py martini3-protein runs/m3prot/best.pt --dataset datasets/m3prot \
        --description "Martini 3 proteins" --hardware "2 CPU cores" --recipe docs/models.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from herobm.data.store import DatasetReader
from herobm.errors import InputError
from herobm.models import MODELS_DIR
from herobm.train.checkpoint import build_model, load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("checkpoint")
    ap.add_argument("--dataset", help="dataset the model was trained on (for its bead types)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--description", default="")
    ap.add_argument("--hardware", default="")
    ap.add_argument("--recipe", default="")
    ap.add_argument("--scores", default="", help="JSON or text with measured scores")
    ap.add_argument("--out", default=str(MODELS_DIR))
    ap.add_argument("--optimize-backbone", action="store_true",
                    help="recommend backbone optimisation: herobm backmap applies it unless told otherwise")
    ap.add_argument("--member", action="append", default=[], metavar="CKPT",
                    help="another checkpoint of the same mapping set whose outputs are averaged in (repeatable)")
    a = ap.parse_args()
    ckpt = load_checkpoint(a.checkpoint)
    members = []
    for path in a.member:
        m = load_checkpoint(path)
        if m["mapping_files"] != ckpt["mapping_files"] or m["bead_types"] != ckpt["bead_types"]:
            raise SystemExit(f"--member {path}: trained with other mapping files than {a.checkpoint}")
        members.append({"model_config": m["model_config"], "model_state": m["model_state"],
                        "train_config": m["train_config"], "epoch": m.get("epoch"),
                        "best_metric": m.get("best_metric"), "metric_name": m.get("metric_name")})
    if members:
        ckpt["ensemble"] = members
        try:
            build_model(ckpt)  # the members must read the same graph
        except InputError as exc:
            raise SystemExit(str(exc)) from None
    if a.dataset:
        reader = DatasetReader(a.dataset)
        types = sorted({int(t) for rec in reader.split(a.split) for t in np.unique(reader.topology(rec.name)["bead_type"])})
        ckpt["trained_bead_types"] = types
    if "trained_bead_types" not in ckpt:
        raise SystemExit("the checkpoint has no trained_bead_types: give --dataset")
    ckpt["optimizer_state"] = None
    ckpt["scheduler_state"] = None
    info = dict(ckpt.get("info") or {})
    first_data = ckpt["train_config"].get("dataset")

    def network(e) -> str:
        """One network of trained_on; a member trained on another dataset than the first says which."""
        text = f"seed {e['train_config'].get('seed')} epoch {e.get('epoch')}, best {e.get('metric_name')} {e.get('best_metric')}"
        if e["train_config"].get("init_from"):
            text += f", fine-tuned from network {e['train_config'].get('init_member', 0)} of {e['train_config']['init_from']}"
        other = e["train_config"].get("dataset")
        if other != first_data:
            print(f"note: a member was trained on {other}, not on {first_data}", file=sys.stderr)
            text += f" (trained on {other})"
        return text

    # the dataset the networks were trained on; --dataset may be another one that only gives the bead types
    trained = Path(first_data).name if first_data else (Path(a.dataset).name if a.dataset else "?")
    where = f"{trained} ({a.split} split"
    if a.dataset and Path(a.dataset).name != trained:
        where += f"; bead types of {Path(a.dataset).name}"
    info.update({"name": a.name, "description": a.description,
                 "trained_on": f"{where}), " + "; ".join(network(e) for e in [ckpt, *members])})
    if members:
        info["ensemble"] = f"{1 + len(members)} networks, outputs averaged"
    info["optimize_backbone"] = bool(a.optimize_backbone)
    if a.hardware:
        info["hardware"] = a.hardware
    if a.recipe:
        info["recipe"] = a.recipe
    if a.scores:
        try:
            info["scores"] = json.loads(a.scores)
        except json.JSONDecodeError:
            info["scores"] = a.scores
    ckpt["info"] = info
    out = Path(a.out) / f"{a.name}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), {len(ckpt['trained_bead_types'])} trained bead types")


if __name__ == "__main__":
    main()
