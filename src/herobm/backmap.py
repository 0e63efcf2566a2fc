"""``herobm backmap``: CG structures/trajectories in, all-atom structures/trajectories out.

Data flow: CG file -> :func:`herobm.cg_system.map_beads` (arrays) -> bead graph ->
network vectors (chunk by chunk, bounded memory) -> :func:`rebuild_atoms` -> file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .cg_system import BeadSystem, map_beads
from .coarse_grain import check_finite
from .errors import InputError
from .io import load_universe, make_universe, parse_frames, select_atoms, write_frames
from .mapping import MappingSet
from .model.chunking import forward_chunked, spatial_chunks
from .model.graph import Graph, edge_flags, neighbour_list
from .reconstruct import RebuildIndex, rebuild_atoms
from .train.checkpoint import resolve_device

__all__ = ["VectorPredictor", "model_predictor", "rebuild_frame", "aa_universe", "BackmapReport", "backmap", "backmap_with_predictor"]

# bead positions (B, 3) Å and box -> vectors (B, N, 3) Å
VectorPredictor = Callable[[np.ndarray, np.ndarray | None], np.ndarray]

STRUCTURE_OUT = (".pdb", ".gro", ".cif")
TRAJ_OUT = (".xtc", ".dcd", ".trr")


def model_predictor(model, system: BeadSystem, max_beads: int = 5000, device: torch.device | str = "cpu") -> VectorPredictor:
    """A predictor running ``model`` on spatial chunks of at most ``max_beads`` beads."""
    device = torch.device(device)
    dtype = next(model.parameters()).dtype
    cutoff = model.cfg.cutoff

    def predict(bead_pos: np.ndarray, box: np.ndarray | None) -> np.ndarray:
        ei, shift = neighbour_list(bead_pos, cutoff, box)
        flags = edge_flags(ei, system.bead_residue, system.residue_next)
        graph = Graph(
            torch.as_tensor(bead_pos, dtype=dtype), torch.as_tensor(system.bead_type), torch.as_tensor(ei),
            torch.as_tensor(shift, dtype=dtype), torch.as_tensor(flags),
        ).to(device)
        chunks = spatial_chunks(bead_pos, max_beads, system.bead_residue)
        out = forward_chunked(model, graph, chunks)
        return out["vectors"].double().cpu().numpy()

    return predict


def rebuild_frame(system: BeadSystem, bead_pos: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(A, 3) all-atom positions (Å) of one frame from bead positions and vectors."""
    index = RebuildIndex.from_arrays(
        system.slot_bead, system.slot_index, system.slot_level, system.slot_anchor, system.slot_atom,
        system.slot_weight,
    )
    with torch.no_grad():
        x = rebuild_atoms(torch.as_tensor(bead_pos, dtype=torch.float64), torch.as_tensor(vectors, dtype=torch.float64), index)
    return x.numpy()


def aa_universe(system: BeadSystem):
    """An MDAnalysis Universe of the output atoms (names, residues, chains, elements)."""
    r = system.atom_residue
    u = make_universe(
        system.atom_name, system.residue_name[r], system.residue_id[r], system.residue_chain[r], r,
        types=system.atom_element,
    )
    u.add_TopologyAttr("elements", np.asarray(system.atom_element, dtype=object))
    return u


@dataclass
class BackmapReport:
    """What :func:`backmap` did."""

    n_beads: int
    n_atoms: int
    n_frames: int
    notes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = list(self.notes)
        lines.append(f"backmapped {self.n_beads} beads to {self.n_atoms} atoms in {self.n_frames} frame(s)")
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


def backmap(
    input: str | os.PathLike,
    model: str | os.PathLike,
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    frames: str | None = None,
    selection: str = "all",
    strict: bool = False,
    max_beads_per_chunk: int = 5000,
    device: str = "auto",
    progress: bool = False,
) -> BackmapReport:
    """Backmap a CG structure (and trajectory) with a trained model checkpoint.

    ``model`` is a checkpoint path (see ``herobm train``); its stored mapping set
    decides which residues are covered. Residues it does not cover are skipped with a
    note (``strict``: an error). The network runs on spatial chunks of at most
    ``max_beads_per_chunk`` beads (plus their neighbours), on CUDA when available.
    """
    from .train.checkpoint import load_model

    dev = resolve_device(device)
    net, mset = load_model(model, device=dev)
    return backmap_with_predictor(
        input, lambda system: model_predictor(net, system, max_beads_per_chunk, dev), mset, output,
        traj=traj, traj_out=traj_out, frames=frames, selection=selection, strict=strict, progress=progress,
    )


def backmap_with_predictor(
    input: str | os.PathLike,
    predictor_factory: Callable[[BeadSystem], VectorPredictor],
    mapping: MappingSet,
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    frames: str | None = None,
    selection: str = "all",
    strict: bool = False,
    progress: bool = False,
) -> BackmapReport:
    """Backmap a CG structure (and trajectory) with vectors from ``predictor_factory(system)``.

    Writes the first selected frame to ``output`` and, with ``traj_out``, every selected
    frame, streaming (one frame in memory at a time; files appear only when complete).
    """
    ext = os.path.splitext(str(output))[1].lower()
    if ext not in STRUCTURE_OUT:
        raise InputError(f"{output}: output must be one of {', '.join(STRUCTURE_OUT)}")
    if traj_out is not None and os.path.splitext(str(traj_out))[1].lower() not in TRAJ_OUT:
        raise InputError(f"{traj_out}: trajectory output must be one of {', '.join(TRAJ_OUT)}")
    u = load_universe(input, traj)
    beads = select_atoms(u, selection, str(input))
    system, notes = map_beads(beads, mapping, skip_unknown=not strict)
    predict = predictor_factory(system)
    aa = aa_universe(system)
    frame_ids = parse_frames(frames, len(u.trajectory))

    def current() -> np.ndarray:
        pos = beads.positions.astype(np.float64)
        check_finite(pos, beads, f"{input} frame {u.trajectory.ts.frame}")
        bead_pos = pos[system.bead_input_index]
        box = u.dimensions if u.dimensions is not None and np.all(u.dimensions[:3] > 0) else None
        return rebuild_frame(system, bead_pos, predict(bead_pos, box))

    outputs = write_frames(u, aa, current, frame_ids, output, traj_out, progress, desc="backmapping")
    return BackmapReport(system.n_beads, system.n_atoms, len(frame_ids) if traj_out else 1, notes, outputs)
