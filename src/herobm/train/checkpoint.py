"""Self-contained checkpoints: weights, configs and the mapping set's files, plain types only.

A checkpoint is ``torch.save`` of a dict of plain Python types and tensors, so it loads
with ``torch.load(..., weights_only=True)`` (no pickled code)::

    format, herobm_version, torch_version
    model_state        state_dict of HEroBMNet
    model_config       ModelConfig.to_dict() (n_bead_types / n_vectors included)
    train_config       TrainConfig.to_dict()
    mapping_name       name of the mapping set
    mapping_files      {file name: text} of every file of the mapping set's folder
    bead_types         {MOLECULE_BEAD: type index} (the network's bead-type order)
    trained_bead_types sorted type indices present in the training split (what the model
                       has learned; molecules with other types are not covered). Optional.
    info               free-form {key: plain value} (shipped models: name, description,
                       training data and hardware, measured scores). Optional.
    ensemble           [{model_config, model_state, ...}] further networks whose outputs are
                       averaged with this one's (herobm.model.Ensemble; scripts/ship_model.py
                       --member). Optional; without it the checkpoint is one network.
    epoch, best_metric, best_epoch, bad_epochs, metric_name
    optimizer_state, scheduler_state   (for --resume)

The mapping set is recreated from ``mapping_files`` alone: the files it was trained with
may be gone or changed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .. import __version__
from ..errors import InputError
from ..mapping import MappingSet, load_mapping_set
from ..model.config import ModelConfig
from ..model.ensemble import Ensemble
from ..model.network import HEroBMNet

__all__ = ["CHECKPOINT_FORMAT", "mapping_files", "save_checkpoint", "load_checkpoint", "restore_mapping",
           "load_model", "resolve_device", "network_entries"]

CHECKPOINT_FORMAT = 1


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    device = (device or "auto").lower()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    try:
        return torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device '{device}' (use auto, cpu or cuda)") from None


def mapping_files(mapping: MappingSet) -> dict[str, str]:
    """``{file name: text}`` of every file in the mapping set's folder."""
    folder = Path(mapping.source)
    if not folder.is_dir():
        raise InputError(f"mapping set '{mapping.name}' has no folder on disk ({mapping.source})")
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}


def save_checkpoint(path: str | Path, model: torch.nn.Module, model_config: ModelConfig, train_config: dict,
                    mapping: MappingSet | dict, epoch: int, optimizer=None, scheduler=None,
                    best_metric: float | None = None, best_epoch: int | None = None, bad_epochs: int = 0,
                    metric_name: str = "val_loss", files: dict[str, str] | None = None,
                    trained_bead_types: list[int] | None = None, info: dict | None = None) -> Path:
    """Write a checkpoint (atomically: temporary file, then rename)."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    if files is None:
        files = mapping_files(mapping)
    state = {
        "format": CHECKPOINT_FORMAT,
        "herobm_version": __version__,
        "torch_version": str(torch.__version__),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": model_config.to_dict(),
        "train_config": dict(train_config),
        "mapping_name": mapping.name,
        "mapping_files": dict(files),
        "bead_types": dict(mapping.bead_types),
        "epoch": int(epoch),
        "best_metric": None if best_metric is None else float(best_metric),
        "best_epoch": None if best_epoch is None else int(best_epoch),
        "bad_epochs": int(bad_epochs),
        "metric_name": metric_name,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
    }
    if trained_bead_types is not None:
        state["trained_bead_types"] = sorted(int(t) for t in trained_bead_types)
    if info:
        state["info"] = dict(info)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint dict (``weights_only=True``: plain types and tensors only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file
        raise InputError(f"{path}: not a herobm checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a herobm checkpoint of format {CHECKPOINT_FORMAT}")
    return ckpt


def restore_mapping(ckpt: dict, folder: str | Path | None = None) -> MappingSet:
    """The mapping set stored in a checkpoint. Files are written to ``folder``/<name> (kept)
    or, by default, to a temporary folder that is removed once the set is loaded."""

    def load(root: Path) -> MappingSet:
        target = root / ckpt["mapping_name"]
        target.mkdir(parents=True, exist_ok=True)
        for name, text in ckpt["mapping_files"].items():
            if Path(name).name != name:
                raise InputError(f"checkpoint mapping file name '{name}' is not a plain file name")
            (target / name).write_text(text, encoding="utf-8")
        mset = load_mapping_set(target)
        if dict(mset.bead_types) != dict(ckpt["bead_types"]):
            raise InputError("checkpoint: the stored mapping files do not give the stored bead-type order")
        return mset

    if folder is not None:
        return load(Path(folder))
    with tempfile.TemporaryDirectory(prefix="herobm-mapping-") as tmp:
        return load(Path(tmp))


def network_entries(ckpt: dict) -> list[dict]:
    """The networks of a checkpoint dict, each a dict with ``model_config`` and
    ``model_state``: the checkpoint itself first, then its ``ensemble`` members."""
    return [ckpt, *ckpt.get("ensemble", [])]


def build_model(ckpt: dict, device="cpu", dtype: torch.dtype | None = None) -> HEroBMNet | Ensemble:
    """The network of a checkpoint dict (an :class:`Ensemble` when it lists ``ensemble``
    members), weights loaded, in eval mode."""
    nets = []
    for entry in network_entries(ckpt):
        net = HEroBMNet(ModelConfig.from_dict(entry["model_config"]))
        net.load_state_dict(entry["model_state"])
        nets.append(net)
    model = nets[0] if len(nets) == 1 else Ensemble(nets)
    if dtype is None:
        dtype = torch.float64 if ckpt.get("train_config", {}).get("dtype") == "float64" else torch.float32
    return model.to(device=resolve_device(device), dtype=dtype).eval()


def load_model(path: str | Path, device="auto", mapping_folder: str | Path | None = None,
               dtype: torch.dtype | None = None) -> tuple[HEroBMNet | Ensemble, MappingSet]:
    """(model in eval mode on ``device``, mapping set) from a checkpoint file alone.

    The mapping set is rebuilt from the files stored in the checkpoint (in a temporary
    folder unless ``mapping_folder`` is given, where they are written and kept)."""
    ckpt = load_checkpoint(path)
    return build_model(ckpt, device, dtype), restore_mapping(ckpt, mapping_folder)
