"""The training loop: epochs of bead-budget steps, validation, checkpoints, logs, DDP.

One *step* is one optimizer update on a list of frames with at most ``max_beads`` beads
(or one larger frame, whose chunks are micro-batches with accumulated gradients; every
micro-batch shares the step's loss normalisers, so the gradient is the whole frame's).

Multi-process: under ``torchrun`` (``WORLD_SIZE > 1``) the process group is initialised
(NCCL on CUDA, gloo on CPU), the model is wrapped in DistributedDataParallel, each rank
takes every ``world_size``-th step, metrics are summed over ranks, and only rank 0
writes checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import math
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.store import DatasetReader
from ..errors import InputError
from ..model.config import ModelConfig
from ..model.network import HEroBMNet
from ..models import resolve_model
from .batch import BeadBatchSampler, FrameSource, StepDataset, frame_sizes, micro_batches_per_epoch
from .checkpoint import load_checkpoint, mapping_files, network_entries, resolve_device, save_checkpoint
from .config import RunConfig, TrainConfig, load_run_config
from .loss import Accumulator, batch_counts, combine, loss_sums, step_counts

__all__ = ["train", "TrainResult", "LRSchedule", "METRIC_COLUMNS"]

log = logging.getLogger(__name__)

_PARTS = ("loss", "position", "bond", "angle", "dihedral", "vector", "rmsd_heavy")
METRIC_COLUMNS = (
    ["epoch", "lr"] + [f"train_{p}" for p in _PARTS] + [f"val_{p}" for p in _PARTS] + ["seconds"]
)


@dataclass
class TrainResult:
    """What :func:`train` did."""

    output: Path
    best_checkpoint: Path
    last_checkpoint: Path
    metrics: Path
    plot: Path | None
    best_metric: float
    best_epoch: int
    last_epoch: int
    stopped_early: bool
    metric_name: str
    history: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # decisions taken during the run (time budget)

    def summary(self) -> str:
        last = self.history[-1] if self.history else {}
        rmsd = last.get("val_rmsd_heavy", last.get("train_rmsd_heavy"))
        lines = [
            f"epochs run: {self.last_epoch}" + (" (stopped early)" if self.stopped_early else ""),
            f"best {self.metric_name}: {self.best_metric:.5g} at epoch {self.best_epoch}",
            *self.notes,
        ]
        if rmsd is not None and rmsd == rmsd:
            lines.append(f"last heavy-atom RMSD: {rmsd:.4f} A")
        lines.append(f"wrote {self.best_checkpoint}, {self.last_checkpoint}, {self.metrics}"
                     + (f", {self.plot}" if self.plot else ""))
        return "\n".join(lines)


class LRSchedule:
    """Learning rate per step: ``cosine`` (linear warm-up, then cosine to ``lr_min`` over
    ``total_steps``), ``plateau`` (× ``factor`` after ``patience`` epochs without
    improvement, not below ``lr_min``) or ``constant`` (after warm-up). Plain-type state."""

    def __init__(self, optimizer, cfg: TrainConfig, total_steps: int):
        self.optimizer, self.cfg = optimizer, cfg
        self.total_steps = max(int(total_steps), 1)
        self.step_count = 0
        self.plateau_lr = cfg.lr
        self.best = math.inf
        self.bad_epochs = 0
        self._apply()

    @property
    def lr(self) -> float:
        c = self.cfg
        t = self.step_count
        if c.lr_schedule == "plateau":
            return self.plateau_lr
        if c.warmup_steps and t < c.warmup_steps:
            return c.lr * (t + 1) / c.warmup_steps
        if c.lr_schedule == "constant":
            return c.lr
        span = max(self.total_steps - c.warmup_steps, 1)
        x = min(max(t - c.warmup_steps, 0) / span, 1.0)
        return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * x))

    def _apply(self) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr

    def step_batch(self) -> None:
        self.step_count += 1
        self._apply()

    def step_epoch(self, metric: float) -> None:
        if self.cfg.lr_schedule != "plateau" or not math.isfinite(metric):
            return
        if metric < self.best:
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.plateau_patience:
                self.plateau_lr = max(self.plateau_lr * self.cfg.plateau_factor, self.cfg.lr_min)
                self.bad_epochs = 0
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "total_steps": self.total_steps, "plateau_lr": self.plateau_lr,
                "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])  # the horizon (total_steps) follows the current config
        self.plateau_lr = float(state["plateau_lr"])
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self._apply()


@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def _init_distributed(device: torch.device) -> tuple[_Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
        owns = True
    return _Dist(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, owns_group=owns), device


def _all_reduce(vec: torch.Tensor, d: _Dist, device: torch.device) -> torch.Tensor:
    if not d.active:
        return vec
    import torch.distributed as dist

    v = vec.to(device)
    dist.all_reduce(v)
    return v.cpu()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _pick(frames: list, cap: int | None, seed: int) -> list:
    if cap is None or len(frames) <= cap:
        return frames
    idx = np.sort(np.random.default_rng(seed).choice(len(frames), cap, replace=False))
    return [frames[i] for i in idx]


def _run_epoch(model, loader, lcfg, device, optimizer=None, schedule=None, grad_clip=0.0, bar=None,
               ddp=None, chunk_steps: bool = False, bead_noise: float = 0.0) -> tuple[Accumulator, int]:
    """One pass; trains when ``optimizer`` is given (one optimizer step per loader step, or per
    micro-batch with ``chunk_steps``; input beads moved by ``bead_noise`` Å of Gaussian noise).
    Returns metrics and skipped steps."""
    acc = Accumulator()
    skipped = 0
    training = optimizer is not None
    params = [p for p in model.parameters() if p.requires_grad]
    for n_step, micro_batches in enumerate(loader):
        for step in ([b] for b in micro_batches) if chunk_steps else [micro_batches]:
            counts = step_counts(step)
            if training:
                optimizer.zero_grad(set_to_none=True)
            for k, batch in enumerate(step):
                batch = batch.to(device)
                if training:
                    batch = batch.with_bead_noise(bead_noise)
                sync = ddp is None or k == len(step) - 1
                ctx = contextlib.nullcontext() if sync or not training else ddp.no_sync()
                with ctx, torch.set_grad_enabled(training):
                    out = model(batch.graph)
                    sums = loss_sums(out, batch, lcfg)
                    if training:
                        combine(sums, counts, lcfg).backward()
                acc.add({k2: v.detach() for k2, v in sums.items()}, batch_counts(batch))
            if training:
                norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
                if torch.isfinite(norm):
                    optimizer.step()
                else:  # identical on all ranks: gradients are already averaged
                    skipped += 1
                    optimizer.zero_grad(set_to_none=True)
                schedule.step_batch()
        if bar is not None:
            bar.update(1)
            if n_step % 10 == 0:
                bar.set_postfix(loss=f"{float(combine(acc.sums, acc.counts, lcfg)):.4g}")
    return acc, skipped


def _write_metrics(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=METRIC_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in METRIC_COLUMNS})


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics.csv as dicts of floats (epoch as int)."""
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: (int(v) if k == "epoch" else (float(v) if v not in ("", None) else math.nan))
                         for k, v in r.items()})
    return rows


def plot_losses(rows: list[dict], path: str | Path) -> Path | None:
    """Loss curves (train/val total, log scale) and validation heavy-atom RMSD -> PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        warnings.warn("matplotlib is not installed: no loss plot")
        return None
    ep = [r["epoch"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        y = [r.get(key, math.nan) for r in rows]
        if any(v == v for v in y):
            a1.plot(ep, y, marker="o", ms=3, label=label)
    a1.set_yscale("log")
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a1.legend()
    for key, label in (("train_rmsd_heavy", "train"), ("val_rmsd_heavy", "validation")):
        y = [r.get(key, math.nan) for r in rows]
        if any(v == v for v in y):
            a2.plot(ep, y, marker="o", ms=3, label=label)
    a2.set_xlabel("epoch")
    a2.set_ylabel("heavy-atom RMSD (Å)")
    a2.set_yscale("log")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def train(config: str | Path | RunConfig | dict, device: str | torch.device = "auto",
          resume: str | Path | None = None, overrides: tuple[str, ...] | list[str] = (),
          progress: bool | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a HEroBM network as the run config says; see the module docstring.

    ``config`` is a YAML path (with ``overrides`` like ``train.epochs=5``), a dict with
    ``model``/``train`` sections or a :class:`RunConfig`. ``resume`` continues from a
    checkpoint (normally ``last.pt``): weights, optimizer, LR schedule, epoch, best metric.
    ``stop_after`` ends this call after that many epochs (the LR schedule still spans
    ``train.epochs``), for time-limited jobs that continue with ``resume``.
    """
    run = load_run_config(config, overrides)
    tc = run.train
    if not tc.dataset:
        raise InputError("train.dataset is not set")
    dev = resolve_device(device)
    dist_info, dev = _init_distributed(dev)
    prev_threads = torch.get_num_threads()
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    try:
        return _train(run, dev, dist_info, resume, tc.progress if progress is None else progress, stop_after)
    finally:
        torch.set_num_threads(prev_threads)
        if dist_info.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def budget_epochs(budget_s: float, elapsed_s: float, epoch_s: float) -> int:
    """Further epochs of ``epoch_s`` seconds that fit in what is left of ``budget_s`` after
    ``elapsed_s`` (seconds), with 5 % kept back for the last checkpoint; at least 0."""
    if epoch_s <= 0:
        return 0
    return max(int((0.95 * budget_s - elapsed_s) // epoch_s), 0)


def _check_same_network(ckpt: dict, entry: dict, mcfg, mapping, what: str) -> None:
    """InputError (starting with ``what``) unless the checkpoint network ``entry`` has this
    run's model config and the checkpoint the dataset's bead types. Options newer than the
    checkpoint are read at their defaults, as when the checkpoint is loaded for backmapping."""
    try:
        saved = ModelConfig.from_dict(entry["model_config"]).to_dict()
    except InputError as exc:  # e.g. saved by a newer herobm with options this one lacks
        raise InputError(f"{what}: {exc}") from None
    if saved != mcfg.to_dict():
        diff = {k: (v, saved.get(k)) for k, v in mcfg.to_dict().items() if saved.get(k) != v}
        raise InputError(f"{what}: its model config differs from this run's "
                         f"(option: (this run, checkpoint) {diff})")
    if dict(ckpt["bead_types"]) != dict(mapping.bead_types):
        raise InputError(f"{what}: the dataset's bead types differ from the checkpoint's "
                         "(use a dataset built with the checkpoint's mapping set)")


def _initial_weights(init_from: str, member: int, mcfg, mapping) -> dict:
    """The weights of network ``member`` of a checkpoint file or shipped model, checked
    against this run's model config and the dataset's bead types (``train.init_from``)."""
    what = f"train.init_from {init_from}"
    ckpt = load_checkpoint(resolve_model(init_from))
    entries = network_entries(ckpt)
    if member >= len(entries):
        raise InputError(f"{what}: holds {len(entries)} network(s); train.init_member {member} is not one of "
                         f"0..{len(entries) - 1}")
    _check_same_network(ckpt, entries[member], mcfg, mapping, what)
    return entries[member]["model_state"]


def _train(run: RunConfig, dev: torch.device, d: _Dist, resume, progress: bool, stop_after: int | None) -> TrainResult:
    from tqdm.auto import tqdm

    tc = run.train
    lcfg = tc.loss
    dtype = tc.torch_dtype
    _seed_everything(tc.seed)
    reader = DatasetReader(tc.dataset)
    mapping = reader.mapping
    files = mapping_files(mapping)
    mcfg = run.model_config(mapping.n_bead_types, max(mapping.max_slots, 1))

    train_frames = _pick(list(reader.frames(tc.train_split)), tc.max_train_frames, tc.seed)
    val_frames = _pick(list(reader.frames(tc.val_split)), tc.max_val_frames, tc.seed + 1)
    if not train_frames:
        raise InputError(f"{tc.dataset}: no frames in split '{tc.train_split}'")
    metric_name = "val_loss" if val_frames else "train_loss"
    if not val_frames and d.main:
        warnings.warn(f"{tc.dataset}: no frames in split '{tc.val_split}'; monitoring the training loss")

    trained_types = sorted({int(t) for rec in reader.split(tc.train_split)
                            for t in np.unique(reader.topology(rec.name)["bead_type"])})
    source = FrameSource(reader, mcfg.cutoff, tc.cache_beads, mcfg.sequence_range, tc.atom_weights)
    train_ds = StepDataset(source, train_frames, tc.max_beads, dtype)
    val_ds = StepDataset(source, val_frames, tc.max_beads, dtype)
    train_sampler = BeadBatchSampler(frame_sizes(reader, train_frames), tc.max_beads, shuffle=True, seed=tc.seed,
                                     rank=d.rank, world_size=d.world_size, pad=True)
    val_sampler = BeadBatchSampler(frame_sizes(reader, val_frames), tc.max_beads, shuffle=False,
                                   rank=d.rank, world_size=d.world_size, pad=False)
    train_loader = train_ds.loader(train_sampler, tc.num_workers)
    val_loader = val_ds.loader(val_sampler, tc.num_workers) if val_frames else None

    model = HEroBMNet(mcfg)
    if tc.init_from and resume is None:
        model.load_state_dict(_initial_weights(tc.init_from, tc.init_member, mcfg, mapping))
        if d.main:
            log.info("initial weights: network %d of %s", tc.init_member, tc.init_from)
    model = model.to(device=dev, dtype=dtype)
    ddp = None
    if d.active:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None,
                                      find_unused_parameters=True)
    net = ddp if ddp is not None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    if tc.chunk_steps and d.active:
        raise InputError("train.chunk_steps needs a single process (ranks would disagree on the step count)")
    steps_per_epoch = len(train_sampler)
    if tc.chunk_steps:  # one optimizer step per micro-batch: the spatial chunks of each large frame, counted
        steps_per_epoch = micro_batches_per_epoch(reader, train_frames, train_sampler.all_steps(1), tc.max_beads)
    schedule = LRSchedule(optimizer, tc, steps_per_epoch * tc.epochs)

    out = Path(tc.output)
    best_path, last_path, metrics_path, plot_path = (out / n for n in ("best.pt", "last.pt", "metrics.csv", "loss.png"))
    start_epoch, best, best_epoch, bad_epochs, rows = 1, math.inf, 0, 0, []
    if resume is not None:
        ckpt = load_checkpoint(resume, map_location=dev)
        if ckpt.get("ensemble"):
            raise InputError(f"--resume {resume}: an ensemble of {1 + len(ckpt['ensemble'])} networks; "
                             "resume from one member's own training checkpoint")
        _check_same_network(ckpt, ckpt, mcfg, mapping, f"--resume {resume}")
        model.load_state_dict(ckpt["model_state"])
        if ckpt.get("optimizer_state"):
            optimizer.load_state_dict(ckpt["optimizer_state"])
        if ckpt.get("scheduler_state"):
            schedule.load_state_dict(ckpt["scheduler_state"])
        start_epoch = int(ckpt["epoch"]) + 1
        best = ckpt["best_metric"] if ckpt.get("best_metric") is not None else math.inf
        best_epoch = int(ckpt.get("best_epoch") or 0)
        bad_epochs = int(ckpt.get("bad_epochs", 0))
        prev = Path(resume).parent / "metrics.csv"
        if prev.is_file():
            rows = [r for r in read_metrics(prev) if r["epoch"] < start_epoch]
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        _write_metrics(metrics_path, rows)

    show = progress and d.main
    epoch_bar = tqdm(total=tc.epochs, initial=start_epoch - 1, desc="epochs", unit="epoch", disable=not show)
    stopped_early = False
    notes: list[str] = []
    last_epoch = start_epoch - 1
    end_epoch = tc.epochs if stop_after is None else min(tc.epochs, start_epoch - 1 + int(stop_after))
    ceiling = end_epoch  # time_budget_min may lower end_epoch, never raise it above this
    call_start = time.perf_counter()
    epoch = start_epoch
    while epoch <= end_epoch:
        t0 = time.perf_counter()
        train_sampler.set_epoch(epoch)
        model.train()
        bar = tqdm(total=len(train_sampler), desc=f"epoch {epoch}", unit="step", leave=False, disable=not show)
        lr = schedule.lr
        acc, skipped = _run_epoch(net, train_loader, lcfg, dev, optimizer, schedule, tc.grad_clip, bar, ddp,
                                  tc.chunk_steps, tc.bead_noise)
        bar.close()
        acc.load_vector(_all_reduce(acc.vector(), d, dev))
        if skipped and d.main:
            warnings.warn(f"epoch {epoch}: {skipped} step(s) with non-finite gradients skipped")
        row = {"epoch": epoch, "lr": lr, **{f"train_{k}": v for k, v in acc.result(lcfg).items()}}
        if val_loader is not None:
            model.eval()
            vacc, _ = _run_epoch(model, val_loader, lcfg, dev)
            vacc.load_vector(_all_reduce(vacc.vector(), d, dev))
            row.update({f"val_{k}": v for k, v in vacc.result(lcfg).items()})
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        if epoch < start_epoch + 2:  # the LR horizon from what the first epochs measured
            if tc.time_budget_min is not None:
                fit = budget_epochs(tc.time_budget_min * 60.0, time.perf_counter() - call_start,
                                    float(_all_reduce(torch.tensor([row["seconds"]]), d, dev)[0]) / d.world_size)
                if min(epoch + fit, ceiling) != end_epoch:  # the run (and its LR schedule) ends where time runs out
                    end_epoch = min(epoch + fit, ceiling)   # (epoch 1 fills the neighbour cache: epoch 2 may allow more)
                    tc = dataclasses.replace(tc, epochs=end_epoch)
                    epoch_bar.total = end_epoch
                    note = (f"train.time_budget_min {tc.time_budget_min:g}: {end_epoch} epochs "
                            f"({row['seconds']:.1f} s for epoch {epoch})")
                    notes.append(note)
                    if d.main:
                        log.info(note)
            schedule.total_steps = max(steps_per_epoch * tc.epochs, 1)
        metric = row[metric_name]
        if not math.isfinite(metric):
            raise InputError(f"epoch {epoch}: {metric_name} is {metric}; lower train.lr or check the dataset")
        schedule.step_epoch(metric)
        improved = metric < best
        if improved:
            best, best_epoch, bad_epochs = metric, epoch, 0
        else:
            bad_epochs += 1
        last_epoch = epoch
        if d.main:
            common = dict(model=model, model_config=mcfg, train_config=tc.to_dict(), mapping=mapping, epoch=epoch,
                          optimizer=optimizer, scheduler=schedule, best_metric=best, best_epoch=best_epoch,
                          bad_epochs=bad_epochs, metric_name=metric_name, files=files,
                          trained_bead_types=trained_types)
            save_checkpoint(last_path, **common)
            if improved:
                save_checkpoint(best_path, **common)
            _write_metrics(metrics_path, rows)
            epoch_bar.update(1)
            epoch_bar.set_postfix({metric_name: f"{metric:.4g}",
                                   "rmsd": f"{row.get('val_rmsd_heavy', row['train_rmsd_heavy']):.3f}"})
        if tc.patience and bad_epochs >= tc.patience:
            stopped_early = True
            break
        epoch += 1
    epoch_bar.close()
    plot = None
    if d.main and rows:
        plot = plot_losses(rows, plot_path)
    if d.active:
        import torch.distributed as dist

        dist.barrier()
    return TrainResult(
        output=out, best_checkpoint=best_path, last_checkpoint=last_path, metrics=metrics_path, plot=plot,
        best_metric=best, best_epoch=best_epoch, last_epoch=last_epoch, stopped_early=stopped_early,
        metric_name=metric_name, history=rows, notes=notes,
    )
