"""Ensembles: several networks for the same mapping set, their outputs averaged.

Networks trained alike from other seeds make partly independent errors; the mean of their
vectors is more accurate than any one of them (docs/models.md). The members must read the
same graph (cutoff, edge flags, bead types, vector slots); their sizes may differ. The mean
of equivariant outputs is equivariant, and each member is local, so chunked inference
(:mod:`herobm.model.chunking`) still equals whole-system inference.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import nn

from ..errors import InputError
from .graph import Graph
from .network import HEroBMNet

__all__ = ["Ensemble", "GRAPH_FIELDS"]

GRAPH_FIELDS = ("cutoff", "sequence_range", "n_bead_types", "n_vectors")  # what builds the input graph


class Ensemble(nn.Module):
    """Mean of the members' ``vectors`` (Å) and circular mean of their (cos, sin) dihedrals."""

    def __init__(self, members: Sequence[HEroBMNet]):
        super().__init__()
        if not members:
            raise InputError("an ensemble needs at least one network")
        first = members[0].cfg
        for k, m in enumerate(members[1:], start=1):
            for f in GRAPH_FIELDS:
                if getattr(m.cfg, f) != getattr(first, f):
                    raise InputError(f"ensemble member {k}: {f} {getattr(m.cfg, f)} differs from member 0's "
                                     f"{getattr(first, f)} (members must read the same graph)")
        self.members = nn.ModuleList(members)
        # what callers read from ``cfg``: the graph fields (common to all members) and the
        # symmetry of the mean (E3 only if every member is; an SE3 member makes it SE3)
        symmetry = "E3" if all(m.cfg.symmetry == "E3" for m in members) else "SE3"
        self.cfg = dataclasses.replace(first, symmetry=symmetry)

    def forward(self, graph: Graph) -> dict[str, torch.Tensor]:
        """Returns ``vectors`` (B, n_vectors, 3) in Å and ``dihedrals`` (B, 2, 2) on the unit circle."""
        outs = [m(graph) for m in self.members]
        vectors = torch.stack([o["vectors"] for o in outs]).mean(0)
        dih = torch.stack([o["dihedrals"] for o in outs]).mean(0)
        dih = dih / dih.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return {"vectors": vectors, "dihedrals": dih}
