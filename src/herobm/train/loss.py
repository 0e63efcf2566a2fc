"""Training loss: rebuilt-atom MSE + bond/angle hinges + backbone dihedral term.

Every term is a *sum* over its items divided by a normaliser (the number of items), so
that the micro-batches of one step (chunks of a large frame) can share the step's
normalisers and their losses add up to the loss of the whole step::

    loss = w_pos   * Σ_a w_a |x̂_a - x_a|² / Σ_a w_a                               (Å²)
         + w_bond  * mean_bonds  relu(| |x̂_i - x̂_j| - |x_i - x_j| | - bond_tol)²  (Å²)
         + w_angle * mean_angles relu(|θ̂ - θ| - angle_tol)²                       (rad²)
         + w_dih   * [mean_φ (1 - cos(φ̂ - φ)) + mean_ψ (1 - cos(ψ̂ - ψ))]
         + w_vec   * Σ |v̂ - v|² / (number of true vectors)                         (Å², off by default)

``w_a`` is :attr:`Batch.atom_weight` (atoms rebuilt from core beads only: 1, or the weight
``train.atom_weights`` gives their name); the heavy-atom RMSD reported for logging is the
unweighted RMSD of those atoms' non-hydrogens.
The hinges are squared, so their gradient vanishes continuously at the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..reconstruct import rebuild_atoms
from .batch import Batch

__all__ = ["LossConfig", "TERMS", "loss_sums", "batch_counts", "step_counts", "combine", "compute_loss", "Accumulator"]

# term -> name of its normaliser
TERMS = {"position": "n_atoms", "bond": "n_bonds", "angle": "n_angles", "phi": "n_phi", "psi": "n_psi",
         "vector": "n_vectors", "heavy": "n_heavy"}


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and tolerances (tolerances in Å and degrees)."""

    w_position: float = 1.0
    w_bond: float = 5.0
    bond_tolerance: float = 0.02  # Å
    w_angle: float = 5.0
    angle_tolerance: float = 2.0  # degrees
    w_dihedral: float = 1.0
    w_vector: float = 0.0


def _norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last axis with a finite gradient at zero."""
    return torch.sqrt((x * x).sum(-1) + 1e-12)


def _angle(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Angle between vectors (radians), via atan2 (finite gradients at 0 and π)."""
    return torch.atan2(_norm(torch.linalg.cross(u, v, dim=-1)), (u * v).sum(-1))


def batch_counts(batch: Batch) -> dict[str, float]:
    """Normalisers of one batch (number of counted atoms, bonds, angles, φ, ψ, vectors)."""
    w = batch.atom_weight
    return {
        "n_atoms": float(w.sum()),
        "n_heavy": float(((w > 0) & batch.atom_heavy).sum()),
        "n_bonds": float(len(batch.bonds)),
        "n_angles": float(len(batch.angles)),
        "n_phi": float(batch.dihedral_mask[:, 0].sum()),
        "n_psi": float(batch.dihedral_mask[:, 1].sum()),
        "n_vectors": float(batch.vector_mask.sum()),
    }


def step_counts(batches: Sequence[Batch]) -> dict[str, float]:
    """Normalisers of a step made of several micro-batches."""
    out: dict[str, float] = {}
    for b in batches:
        for k, v in batch_counts(b).items():
            out[k] = out.get(k, 0.0) + v
    return out


def loss_sums(out: dict[str, torch.Tensor], batch: Batch, cfg: LossConfig) -> dict[str, torch.Tensor]:
    """Per-term sums (differentiable) of one batch; divide by :func:`batch_counts`."""
    x = batch.atom_pos
    pred = rebuild_atoms(batch.graph.pos, out["vectors"], batch.index)
    w = batch.atom_weight.to(pred.dtype)
    sq = ((pred - x) ** 2).sum(-1)
    counted = (w > 0).to(pred.dtype)  # the logged heavy-atom RMSD is unweighted
    sums = {"position": (w * sq).sum(), "heavy": (counted * batch.atom_heavy * sq).sum().detach()}

    b = batch.bonds
    d_pred = _norm(pred[b[:, 0]] - pred[b[:, 1]])
    d_true = (x[b[:, 0]] - x[b[:, 1]]).norm(dim=-1)
    sums["bond"] = torch.relu((d_pred - d_true).abs() - cfg.bond_tolerance).pow(2).sum()

    a = batch.angles
    t_pred = _angle(pred[a[:, 0]] - pred[a[:, 1]], pred[a[:, 2]] - pred[a[:, 1]])
    t_true = _angle(x[a[:, 0]] - x[a[:, 1]], x[a[:, 2]] - x[a[:, 1]])
    tol = math.radians(cfg.angle_tolerance)
    sums["angle"] = torch.relu((t_pred - t_true).abs() - tol).pow(2).sum()

    dih = out["dihedrals"]  # (B, 2, 2): [φ|ψ] x [cos|sin]
    cos_d = dih[..., 0] * torch.cos(batch.dihedrals) + dih[..., 1] * torch.sin(batch.dihedrals)  # cos(pred - true)
    m = batch.dihedral_mask.to(dih.dtype)
    sums["phi"] = ((1 - cos_d[:, 0]) * m[:, 0]).sum()
    sums["psi"] = ((1 - cos_d[:, 1]) * m[:, 1]).sum()

    vm = batch.vector_mask.to(pred.dtype)
    sums["vector"] = (((out["vectors"] - batch.vectors) ** 2).sum(-1) * vm).sum()
    return sums


def combine(sums: dict[str, torch.Tensor], counts: dict[str, float], cfg: LossConfig):
    """Weighted total from term sums and normalisers (an empty term counts 0)."""

    def mean(term):
        return sums[term] / max(counts[TERMS[term]], 1.0)

    return (
        cfg.w_position * mean("position")
        + cfg.w_bond * mean("bond")
        + cfg.w_angle * mean("angle")
        + cfg.w_dihedral * (mean("phi") + mean("psi"))
        + cfg.w_vector * mean("vector")
    )


def components(sums: dict[str, float], counts: dict[str, float], cfg: LossConfig) -> dict[str, float]:
    """Plain-number logging view: unweighted term means, the total and heavy-atom RMSD (Å)."""

    def mean(term):
        return float(sums[term]) / max(counts[TERMS[term]], 1.0)

    out = {
        "loss": float(combine({k: float(v) for k, v in sums.items()}, counts, cfg)),
        "position": mean("position"),
        "bond": mean("bond"),
        "angle": mean("angle"),
        "dihedral": mean("phi") + mean("psi"),
        "vector": mean("vector"),
        "rmsd_heavy": math.sqrt(max(mean("heavy"), 0.0)),
    }
    return out


def compute_loss(out: dict[str, torch.Tensor], batch: Batch, cfg: LossConfig = LossConfig(),
                 counts: dict[str, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a batch and its logging components (``loss``, ``position`` (Å²), ``bond``,
    ``angle``, ``dihedral``, ``vector``, ``rmsd_heavy`` (Å)). ``counts`` overrides the
    normalisers (the totals of a whole step when the batch is one of its micro-batches)."""
    sums = loss_sums(out, batch, cfg)
    counts = batch_counts(batch) if counts is None else counts
    total = combine(sums, counts, cfg)
    return total, components({k: v.detach() for k, v in sums.items()}, counts, cfg)


class Accumulator:
    """Sums and normalisers over many batches (and ranks), for epoch-level metrics."""

    def __init__(self):
        self.sums: dict[str, float] = {k: 0.0 for k in TERMS}
        self.counts: dict[str, float] = {k: 0.0 for k in TERMS.values()}

    def add(self, sums: dict[str, torch.Tensor | float], counts: dict[str, float] | None = None) -> None:
        keys = list(sums)
        vals = [sums[k] for k in keys]
        if vals and all(isinstance(v, torch.Tensor) for v in vals):
            vals = torch.stack([v.detach().to(torch.float64) for v in vals]).cpu().tolist()  # one device sync
        for k, v in zip(keys, vals):
            self.sums[k] += float(v)
        for k, v in (counts or {}).items():
            self.counts[k] += float(v)

    def vector(self) -> torch.Tensor:
        return torch.tensor([self.sums[k] for k in TERMS] + [self.counts[k] for k in TERMS.values()],
                            dtype=torch.float64)

    def load_vector(self, v: torch.Tensor) -> None:
        n = len(TERMS)
        self.sums = {k: float(x) for k, x in zip(TERMS, v[:n])}
        self.counts = {k: float(x) for k, x in zip(TERMS.values(), v[n:])}

    def result(self, cfg: LossConfig) -> dict[str, float]:
        return components(self.sums, self.counts, cfg)
