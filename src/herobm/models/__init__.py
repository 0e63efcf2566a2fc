"""Shipped pretrained models: listing (``herobm models``), lookup by name, and automatic
choice of models for the molecules of a CG input.

A shipped model is a self-contained checkpoint (see :mod:`herobm.train.checkpoint`) in
this package's ``data/`` folder, named ``NAME.pt``; its ``info`` dict says what it is
(description, training data, hardware, measured scores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["ModelInfo", "MODELS_DIR", "PRIORITY", "available_models", "resolve_model", "model_info", "auto_models"]

MODELS_DIR = Path(__file__).parent / "data"
# tried in this order when choosing models automatically (the default model first)
PRIORITY = ("martini3-protein", "martini3-lipids", "ca-protein", "example-ligand")


@dataclass(frozen=True)
class ModelInfo:
    """What a checkpoint covers: residue names it was trained on (with their bead names)."""

    name: str
    path: Path
    mapping: str
    description: str
    covers: dict[str, tuple[tuple[str, ...], ...]]  # residue name -> bead-name sets it covers
    info: dict = field(default_factory=dict)

    def covers_residue(self, resname: str, bead_names: tuple[str, ...]) -> bool:
        return any(sorted(b) == sorted(bead_names) for b in self.covers.get(resname, ()))


@lru_cache(maxsize=32)
def _info_cached(path: str, mtime: float) -> ModelInfo:
    from ..train.checkpoint import load_checkpoint, restore_mapping

    ckpt = load_checkpoint(path)
    mset = restore_mapping(ckpt)
    trained = ckpt.get("trained_bead_types")
    covers: dict[str, list[tuple[str, ...]]] = {}
    for m in mset.molecules:
        if trained is not None and not all(mset.bead_type(m, b) in set(trained) for b in m.beads):
            continue
        for rn in m.resnames:
            covers.setdefault(rn, []).append(tuple(m.beads))
    info = dict(ckpt.get("info") or {})
    return ModelInfo(info.get("name", Path(path).stem), Path(path), mset.name, info.get("description", ""),
                     {k: tuple(v) for k, v in covers.items()}, info)


def model_info(path: str | os.PathLike) -> ModelInfo:
    """:class:`ModelInfo` of a checkpoint file."""
    p = Path(path)
    return _info_cached(str(p.resolve()), p.stat().st_mtime)


def available_models() -> list[ModelInfo]:
    """The shipped models, in :data:`PRIORITY` order (others after, by name)."""
    found = {p.stem: p for p in sorted(MODELS_DIR.glob("*.pt"))}
    names = [n for n in PRIORITY if n in found] + sorted(n for n in found if n not in PRIORITY)
    return [model_info(found[n]) for n in names]


def resolve_model(model: str | os.PathLike) -> Path:
    """A checkpoint path from a path or a shipped model name."""
    p = Path(model)
    if p.is_file():
        return p
    shipped = MODELS_DIR / f"{model}.pt"
    if shipped.is_file():
        return shipped
    names = ", ".join(m.name for m in available_models()) or "none shipped"
    if p.suffix or os.sep in str(model):
        raise InputError(f"{model}: no such checkpoint file (shipped models: {names})")
    raise InputError(f"unknown model '{model}' (shipped models: {names}; or give a checkpoint path)")


def auto_models(input: str | os.PathLike, traj=None, selection: str = "all") -> list[str]:
    """Shipped models covering the residues of a CG input, in :data:`PRIORITY` order;
    each residue counts for the first model covering it. Water and ions need none."""
    from ..io import load_universe, select_atoms
    from ..solvent import solvent_rule

    u = load_universe(input, traj)
    beads = select_atoms(u, selection, str(input))
    names = np.asarray(beads.names).astype(str)
    resindex = np.asarray(beads.resindices)
    starts = np.flatnonzero(np.r_[True, resindex[1:] != resindex[:-1]])
    ends = np.r_[starts[1:], len(beads)]
    resnames = np.asarray(beads.resnames).astype(str)  # once: per-residue access rebuilds the array
    kinds = {(resnames[s], tuple(names[s:e])) for s, e in zip(starts, ends)}
    kinds = {k for k in kinds if solvent_rule(*k) is None}
    chosen: list[str] = []
    models = available_models()
    for m in models:
        hit = {k for k in kinds if m.covers_residue(*k)}
        if hit:
            chosen.append(m.name)
            kinds -= hit
    if not chosen:
        shown = ", ".join(f"{r} ({' '.join(b)})" for r, b in sorted(kinds)[:5])
        raise InputError(f"{input}: no shipped model covers its residues (e.g. {shown}); "
                         f"shipped: {', '.join(m.name for m in models) or 'none'}. Give --model.")
    return [str(MODELS_DIR / f"{n}.pt") if (MODELS_DIR / f"{n}.pt").is_file() else n for n in chosen]
