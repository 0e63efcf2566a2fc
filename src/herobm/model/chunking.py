"""Cut a bead system into spatial chunks and run the network chunk by chunk.

The network is strictly local: a bead's output depends only on the edges
centred on it (its neighbours within one cutoff). A chunk therefore needs its
core beads, the edges centred on them and the positions/types of their
neighbours (the halo); the core outputs equal whole-system outputs, and memory
is bounded by the chunk size.
"""

from __future__ import annotations

import numpy as np
import torch

from .graph import Graph

__all__ = ["spatial_chunks", "subgraph", "forward_chunked"]


def spatial_chunks(pos: np.ndarray, max_beads: int, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Split beads into chunks of at most ``max_beads`` by recursive bisection along the
    longest extent. ``groups`` (e.g. residue of each bead) are kept whole: a group larger
    than ``max_beads`` becomes a chunk of its own."""
    pos = np.asarray(pos, dtype=np.float64)
    if groups is None:
        groups = np.arange(len(pos))
    uniq, inv = np.unique(groups, return_inverse=True)
    counts = np.bincount(inv)
    centroid = np.zeros((len(uniq), 3))
    np.add.at(centroid, inv, pos)
    centroid /= counts[:, None]
    members = np.split(np.argsort(inv, kind="stable"), np.cumsum(counts)[:-1])

    out: list[np.ndarray] = []
    stack = [np.arange(len(uniq))]
    while stack:
        g = stack.pop()
        if counts[g].sum() <= max_beads or len(g) == 1:
            out.append(np.sort(np.concatenate([members[k] for k in g])))
            continue
        c = centroid[g]
        axis = int(np.argmax(c.max(0) - c.min(0)))
        order = g[np.argsort(c[:, axis], kind="stable")]
        half = np.searchsorted(np.cumsum(counts[order]), counts[g].sum() / 2)
        half = min(max(int(half), 1), len(order) - 1)
        stack += [order[half:], order[:half]]
    return out


def subgraph(graph: Graph, core: torch.Tensor) -> tuple[Graph, torch.Tensor]:
    """The graph a chunk needs: edges centred on ``core`` beads and their neighbours.
    Returns the subgraph and the positions of the core beads in it."""
    n = graph.n_nodes
    in_core = torch.zeros(n, dtype=torch.bool, device=graph.pos.device)
    in_core[core] = True
    emask = in_core[graph.edge_index[0]]
    ei = graph.edge_index[:, emask]
    nodes = torch.unique(torch.cat([core, ei[1]]))
    relabel = torch.full((n,), -1, dtype=torch.long, device=graph.pos.device)
    relabel[nodes] = torch.arange(len(nodes), device=graph.pos.device)
    sub = Graph(
        pos=graph.pos[nodes],
        bead_type=graph.bead_type[nodes],
        edge_index=relabel[ei],
        edge_shift=graph.edge_shift[emask],
        edge_flag=graph.edge_flag[emask],
    )
    return sub, relabel[core]


@torch.no_grad()
def forward_chunked(model, graph: Graph, chunks: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Run ``model`` chunk by chunk; returns the same dict as ``model(graph)``."""
    out: dict[str, torch.Tensor] = {}
    for chunk in chunks:
        core = torch.as_tensor(chunk, dtype=torch.long, device=graph.pos.device)
        sub, where = subgraph(graph, core)
        res = model(sub)
        for k, v in res.items():
            if k not in out:
                out[k] = torch.zeros((graph.n_nodes,) + tuple(v.shape[1:]), dtype=v.dtype, device=v.device)
            out[k][core] = v[where]
    return out
