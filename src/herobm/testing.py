"""Assertions shared by the tests of any bead model (equivariance, locality)."""

from __future__ import annotations

import numpy as np
import torch
from e3nn import o3

from .model.graph import Graph

__all__ = ["random_orthogonal", "transform_graph", "assert_equivariant"]


def random_orthogonal(seed: int, reflect: bool = False) -> torch.Tensor:
    """A random 3x3 rotation (times -1 when ``reflect``), float64."""
    torch.manual_seed(seed)
    R = o3.rand_matrix().to(torch.float64)
    return -R if reflect else R


def transform_graph(graph: Graph, R: torch.Tensor, t: torch.Tensor) -> Graph:
    """Apply x -> R x + t to positions (and R to periodic shifts)."""
    R = R.to(graph.pos.dtype)
    return Graph(graph.pos @ R.T + t.to(graph.pos.dtype), graph.bead_type, graph.edge_index,
                 graph.edge_shift.to(graph.pos.dtype) @ R.T, graph.edge_flag)


def assert_equivariant(model, graph: Graph, tol: float = 1e-5, seeds=(0, 1, 2)) -> None:
    """Rotation, reflection and translation: vectors rotate, cos(φ/ψ) stay, sin(φ/ψ)
    flip sign under reflection (reflections only for ``symmetry="E3"`` models).
    Raises AssertionError with the largest deviation."""
    ref = model(graph)
    reflections = (False, True) if model.cfg.symmetry == "E3" else (False,)
    for seed in seeds:
        for reflect in reflections:
            R = random_orthogonal(seed, reflect)
            t = torch.randn(3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 10
            out = model(transform_graph(graph, R, t))
            want_v = ref["vectors"] @ R.T.to(ref["vectors"].dtype)
            dv = (out["vectors"] - want_v).abs().max().item()
            sign = -1.0 if reflect else 1.0
            dc = (out["dihedrals"][..., 0] - ref["dihedrals"][..., 0]).abs().max().item()
            ds = (out["dihedrals"][..., 1] - sign * ref["dihedrals"][..., 1]).abs().max().item()
            assert max(dv, dc, ds) < tol, f"not equivariant (seed {seed}, reflect {reflect}): {dv:.2e} {dc:.2e} {ds:.2e}"
