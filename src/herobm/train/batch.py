"""Training samples -> model input: per-frame graphs, chunks of large frames, batches by bead count.

A :class:`Batch` is the disjoint union of the graphs of several *pieces*. A piece is a
whole frame or, for a frame with more than ``max_beads`` beads, a residue-whole spatial
chunk of it (:func:`herobm.model.chunking.spatial_chunks`). A chunk's graph keeps only
the edges centred on its *core* beads; the other beads of the chunk (the halo) enter only
as neighbours, exactly as in :func:`herobm.model.chunking.subgraph`. Because the network
is strictly local, the outputs of core beads equal the whole-frame outputs, and only
atoms rebuilt entirely from core beads count in the loss (``atom_weight``).

Batching is by number of beads (:class:`BeadBatchSampler`): every training *step* is a
list of frames with at most ``max_beads`` beads in total, or one frame larger than that,
whose chunks are packed into micro-batches of at most ``max_beads`` core beads each
(the training loop accumulates gradients over them, so one step sees the whole frame with
memory bounded by ``max_beads``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import numpy as np
import torch

from ..data.sample import read_sample
from ..data.store import DatasetReader
from ..errors import InputError
from ..model.chunking import spatial_chunks
from ..model.graph import Graph, edge_flags, neighbour_list
from ..reconstruct import RebuildIndex

__all__ = [
    "FrameData",
    "FrameSource",
    "Piece",
    "Batch",
    "make_frame",
    "make_batch",
    "merge_frames",
    "frame_pieces",
    "pack_sizes",
    "BeadBatchSampler",
    "StepDataset",
    "frame_sizes",
    "is_heavy",
]


def is_heavy(names: Sequence[str]) -> np.ndarray:
    """True for atom names that are not hydrogens (``H*``, ``1HB``, ``2HG1`` ...)."""
    return np.array([not str(n).lstrip("0123456789").upper().startswith("H") for n in names], dtype=bool)


@dataclass
class FrameData:
    """Everything the batcher needs from one frame, as numpy arrays (indices within the frame).

    Shapes: B beads, N vector channels, A rebuilt atoms, S slots, E directed edges.
    """

    key: tuple[str, int]
    bead_pos: np.ndarray  # (B, 3) float64, Å
    bead_type: np.ndarray  # (B,) int64
    bead_residue: np.ndarray  # (B,) int64
    residue_next: np.ndarray  # (R,) int64, bonded next residue or -1
    edge_index: np.ndarray  # (2, E) int64, centre first
    edge_shift: np.ndarray  # (E, 3) float64, Å
    edge_flag: np.ndarray  # (E,) int64
    vectors: np.ndarray  # (B, N, 3) true vectors
    vector_mask: np.ndarray  # (B, N) bool
    dihedrals: np.ndarray  # (B, 2) φ, ψ radians at backbone beads, NaN elsewhere / undefined
    atom_pos: np.ndarray  # (A, 3)
    atom_heavy: np.ndarray  # (A,) bool
    slot_bead: np.ndarray
    slot_index: np.ndarray
    slot_level: np.ndarray
    slot_anchor: np.ndarray  # slot index within the frame, -1 for levels 0/1
    slot_atom: np.ndarray  # 0..A-1
    slot_weight: np.ndarray
    bonds: np.ndarray  # (nb, 2)
    angles: np.ndarray  # (na, 3)
    atom_loss_weight: np.ndarray | None = None  # (A,) weight in the position loss (train.atom_weights); None: 1

    @property
    def n_beads(self) -> int:
        return len(self.bead_pos)

    @property
    def n_atoms(self) -> int:
        return len(self.atom_pos)


def make_frame(reader: DatasetReader, system: str, frame: int, cutoff: float, sequence_range: int = 1,
               atom_weights: dict[str, float] | None = None) -> FrameData:
    """Read one frame of a dataset and build its neighbour list at ``cutoff`` Å (edge flags
    up to ``sequence_range`` residues along the chain). ``atom_weights``: position-loss weight
    per rebuilt atom name (others 1)."""
    s = read_sample(reader, system, frame)
    topo = reader.topology(system)
    names = topo["atom_name"][topo["rebuilt_atoms"]]
    box = np.asarray(s.box, dtype=np.float64)
    try:
        ei, shift = neighbour_list(s.bead_pos, cutoff, box if np.all(box[:3] > 0) else None)
    except ValueError as exc:
        raise InputError(f"{reader.folder} {system} frame {frame}: {exc}") from None
    flags = edge_flags(ei, np.asarray(s.bead_residue), np.asarray(s.residue_next), sequence_range)
    dih = np.full((len(s.bead_pos), 2), np.nan)
    rb = np.asarray(s.residue_bead)
    ok = rb >= 0
    dih[rb[ok]] = s.phi_psi[ok]
    i64 = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return FrameData(
        key=(system, int(frame)),
        bead_pos=np.asarray(s.bead_pos, dtype=np.float64),
        bead_type=i64(s.bead_type),
        bead_residue=i64(s.bead_residue),
        residue_next=i64(s.residue_next),
        edge_index=i64(ei),
        edge_shift=np.asarray(shift, dtype=np.float64),
        edge_flag=i64(flags),
        vectors=np.asarray(s.vectors, dtype=np.float64),
        vector_mask=np.asarray(s.vector_mask, dtype=bool),
        dihedrals=dih,
        atom_pos=np.asarray(s.atom_pos, dtype=np.float64),
        atom_heavy=is_heavy(names),
        slot_bead=i64(s.slot_bead),
        slot_index=i64(s.slot_index),
        slot_level=i64(s.slot_level),
        slot_anchor=i64(s.slot_anchor),
        slot_atom=i64(s.slot_atom),
        slot_weight=np.asarray(s.slot_weight, dtype=np.float64),
        bonds=i64(s.bonds).reshape(-1, 2),
        angles=i64(s.angles).reshape(-1, 3),
        atom_loss_weight=(np.array([atom_weights.get(str(n), 1.0) for n in names], dtype=np.float64)
                          if atom_weights else None),
    )


def merge_frames(frames: Sequence[FrameData], cutoff: float, box: np.ndarray | None = None,
                 rotations: Sequence[np.ndarray] | None = None, translations: Sequence[np.ndarray] | None = None,
                 key: tuple[str, int] = ("merged", 0), sequence_range: int = 1) -> FrameData:
    """One system from several frames (each optionally rotated about its bead centroid and
    translated), with residues, slots and atoms renumbered and the neighbour list rebuilt
    at ``cutoff`` (in ``box`` when given). Used to make large test and benchmark systems."""
    parts = []
    for k, f in enumerate(frames):
        R = np.eye(3) if rotations is None else np.asarray(rotations[k], dtype=np.float64)
        if np.linalg.det(R) < 0:
            raise ValueError("merge_frames: rotations must be proper (a reflection flips φ/ψ)")
        T = np.zeros(3) if translations is None else np.asarray(translations[k], dtype=np.float64)
        c = f.bead_pos.mean(0)

        def move(x):
            return (x - c) @ R.T + c + T

        parts.append((f, move(f.bead_pos), move(f.atom_pos), f.vectors @ R.T))
    nb = np.cumsum([0] + [f.n_beads for f in frames])
    na = np.cumsum([0] + [f.n_atoms for f in frames])
    ns = np.cumsum([0] + [len(f.slot_bead) for f in frames])
    nr = np.cumsum([0] + [len(f.residue_next) for f in frames])

    def cat(get, off=None, keep_negative=False):
        xs = []
        for k, (f, *_) in enumerate(parts):
            x = get(k, f)
            if off is not None:
                x = np.where(x >= 0, x + off[k], x) if keep_negative else x + off[k]
            xs.append(x)
        return np.concatenate(xs)

    bead_pos = cat(lambda k, f: parts[k][1])
    bead_residue = cat(lambda k, f: f.bead_residue, nr)
    residue_next = cat(lambda k, f: f.residue_next, nr, keep_negative=True)
    ei, shift = neighbour_list(bead_pos, cutoff, box)
    return FrameData(
        key=key,
        bead_pos=bead_pos,
        bead_type=cat(lambda k, f: f.bead_type),
        bead_residue=bead_residue,
        residue_next=residue_next,
        edge_index=ei,
        edge_shift=shift,
        edge_flag=edge_flags(ei, bead_residue, residue_next, sequence_range),
        vectors=cat(lambda k, f: parts[k][3]),
        vector_mask=cat(lambda k, f: f.vector_mask),
        dihedrals=cat(lambda k, f: f.dihedrals),
        atom_pos=cat(lambda k, f: parts[k][2]),
        atom_heavy=cat(lambda k, f: f.atom_heavy),
        slot_bead=cat(lambda k, f: f.slot_bead, nb),
        slot_index=cat(lambda k, f: f.slot_index),
        slot_level=cat(lambda k, f: f.slot_level),
        slot_anchor=cat(lambda k, f: f.slot_anchor, ns, keep_negative=True),
        slot_atom=cat(lambda k, f: f.slot_atom, na),
        slot_weight=cat(lambda k, f: f.slot_weight),
        bonds=cat(lambda k, f: f.bonds, na).reshape(-1, 2),
        angles=cat(lambda k, f: f.angles, na).reshape(-1, 3),
    )


class FrameSource:
    """Frames of a dataset with their neighbour lists, kept in an LRU cache of at most
    ``cache_beads`` beads in total (0 disables the cache); edge flags up to
    ``sequence_range`` residues along the chain (the model's ``sequence_range``)."""

    def __init__(self, reader: DatasetReader | str, cutoff: float, cache_beads: int = 1_000_000,
                 sequence_range: int = 1, atom_weights: dict[str, float] | None = None):
        self.reader = reader if isinstance(reader, DatasetReader) else DatasetReader(reader)
        self.cutoff = float(cutoff)
        self.sequence_range = int(sequence_range)
        self.atom_weights = dict(atom_weights or {})
        self.cache_beads = int(cache_beads)
        self._cache: OrderedDict[tuple[str, int], FrameData] = OrderedDict()
        self._cached_beads = 0

    def __getitem__(self, key: tuple[str, int]) -> FrameData:
        key = (key[0], int(key[1]))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        fd = make_frame(self.reader, key[0], key[1], self.cutoff, self.sequence_range, self.atom_weights)
        if self.cache_beads > 0 and fd.n_beads <= self.cache_beads:
            self._cache[key] = fd
            self._cached_beads += fd.n_beads
            while self._cached_beads > self.cache_beads:
                _, old = self._cache.popitem(last=False)
                self._cached_beads -= old.n_beads
        return fd

    def __getstate__(self):  # DataLoader workers start with an empty cache
        d = dict(self.__dict__)
        d["_cache"], d["_cached_beads"] = OrderedDict(), 0
        return d


@dataclass
class Piece:
    """A frame, or the chunk of it whose outputs count (``core`` bead indices; None = all)."""

    frame: FrameData
    core: np.ndarray | None = None

    @property
    def n_core(self) -> int:
        return self.frame.n_beads if self.core is None else len(self.core)


def _move_index(index: RebuildIndex, device) -> RebuildIndex:
    return replace(
        index, **{k: getattr(index, k).to(device) for k in
                  ("slot_bead", "slot_index", "slot_level", "slot_anchor", "slot_atom", "slot_weight")}
    )


@dataclass
class Batch:
    """Model input and loss targets of several pieces (node, slot and atom indices offset).

    ``atom_weight`` is the position-loss weight of atoms that count in the loss (rebuilt from
    core beads only; 1 unless ``train.atom_weights`` names the atom) and 0 for the others;
    bonds and angles list only counted atoms; ``vector_mask`` and ``dihedral_mask`` are False
    on halo beads.
    """

    graph: Graph
    index: RebuildIndex
    atom_pos: torch.Tensor  # (A, 3) target positions, Å
    atom_weight: torch.Tensor  # (A,) > 0: counts in the loss, with this weight in the position term
    atom_heavy: torch.Tensor  # (A,) bool
    bonds: torch.Tensor  # (nb, 2) long
    angles: torch.Tensor  # (na, 3) long
    vectors: torch.Tensor  # (B, N, 3) true vectors
    vector_mask: torch.Tensor  # (B, N) bool
    dihedrals: torch.Tensor  # (B, 2) true φ, ψ (radians; 0 where masked)
    dihedral_mask: torch.Tensor  # (B, 2) bool
    core_mask: torch.Tensor  # (B,) bool, beads whose outputs count
    keys: list = field(default_factory=list)  # (system, frame, n_core) of every piece

    @property
    def atom_mask(self) -> torch.Tensor:
        return self.atom_weight > 0

    @property
    def n_nodes(self) -> int:
        return self.graph.n_nodes

    @property
    def n_core(self) -> int:
        return int(self.core_mask.sum())

    def with_bead_noise(self, sigma: float) -> "Batch":
        """This batch with every bead moved by Gaussian noise of ``sigma`` Å per axis (torch's
        global generator, on the batch's device); targets are unchanged, edges are kept."""
        if sigma <= 0:
            return self
        pos = self.graph.pos
        noisy = pos + sigma * torch.randn(pos.shape, dtype=pos.dtype, device=pos.device)
        return replace(self, graph=replace(self.graph, pos=noisy))

    def to(self, device) -> "Batch":
        kw = {
            k: getattr(self, k).to(device)
            for k in ("atom_pos", "atom_weight", "atom_heavy", "bonds", "angles", "vectors", "vector_mask",
                      "dihedrals", "dihedral_mask", "core_mask")
        }
        return Batch(graph=self.graph.to(device), index=_move_index(self.index, device), keys=self.keys, **kw)


def _piece_arrays(p: Piece) -> dict:
    """Index arrays of one piece, renumbered locally (nodes, slots, atoms)."""
    f = p.frame
    B = f.n_beads
    if p.core is None:
        in_core = np.ones(B, dtype=bool)
        nodes = np.arange(B)
        emask = np.ones(f.edge_index.shape[1], dtype=bool)
    else:
        core = np.asarray(p.core, dtype=np.int64)
        in_core = np.zeros(B, dtype=bool)
        in_core[core] = True
        emask = in_core[f.edge_index[0]]
        # same node set and order as chunking.subgraph
        nodes = np.unique(np.concatenate([core, f.edge_index[1, emask]]))
    relabel = np.full(B, -1, dtype=np.int64)
    relabel[nodes] = np.arange(len(nodes))
    ei = relabel[f.edge_index[:, emask]]

    smask = in_core[f.slot_bead]
    slot_ids = np.flatnonzero(smask)
    slot_relabel = np.full(len(f.slot_bead), -1, dtype=np.int64)
    slot_relabel[slot_ids] = np.arange(len(slot_ids))
    anchor = f.slot_anchor[slot_ids]
    if np.any((anchor >= 0) & (slot_relabel[np.maximum(anchor, 0)] < 0)):
        raise InputError(f"{f.key}: a slot is anchored on a slot of another bead outside the chunk")
    anchor = np.where(anchor >= 0, slot_relabel[np.maximum(anchor, 0)], -1)

    atoms = np.unique(f.slot_atom[slot_ids])
    atom_relabel = np.full(f.n_atoms, -1, dtype=np.int64)
    atom_relabel[atoms] = np.arange(len(atoms))
    # an atom counts when every slot that rebuilds it belongs to a core bead
    total = np.bincount(f.slot_atom, minlength=f.n_atoms)
    inside = np.bincount(f.slot_atom[slot_ids], minlength=f.n_atoms)
    counted_all = (total == inside) & (total > 0)
    counted = counted_all[atoms]
    bonds = f.bonds[counted_all[f.bonds].all(axis=1)] if len(f.bonds) else f.bonds
    angles = f.angles[counted_all[f.angles].all(axis=1)] if len(f.angles) else f.angles

    dih = f.dihedrals[nodes]
    dmask = ~np.isnan(dih) & in_core[nodes][:, None]
    return dict(
        pos=f.bead_pos[nodes],
        bead_type=f.bead_type[nodes],
        edge_index=ei,
        edge_shift=f.edge_shift[emask],
        edge_flag=f.edge_flag[emask],
        slot_bead=relabel[f.slot_bead[slot_ids]],
        slot_index=f.slot_index[slot_ids],
        slot_level=f.slot_level[slot_ids],
        slot_anchor=anchor,
        slot_atom=atom_relabel[f.slot_atom[slot_ids]],
        slot_weight=f.slot_weight[slot_ids],
        atom_pos=f.atom_pos[atoms],
        atom_weight=counted * (1.0 if f.atom_loss_weight is None else f.atom_loss_weight[atoms]),
        atom_heavy=f.atom_heavy[atoms],
        bonds=atom_relabel[bonds].reshape(-1, 2),
        angles=atom_relabel[angles].reshape(-1, 3),
        vectors=f.vectors[nodes],
        vector_mask=f.vector_mask[nodes] & in_core[nodes][:, None],
        dihedrals=np.where(dmask, np.nan_to_num(dih), 0.0),
        dihedral_mask=dmask,
        core_mask=in_core[nodes],
    )


def make_batch(pieces: Sequence[Piece], dtype: torch.dtype = torch.float32, device=None) -> Batch:
    """Disjoint union of pieces: node, slot and atom indices offset piece by piece."""
    if not pieces:
        raise ValueError("make_batch needs at least one piece")
    parts = [_piece_arrays(p) for p in pieces]
    n_nodes = np.cumsum([0] + [len(a["pos"]) for a in parts])
    n_slots = np.cumsum([0] + [len(a["slot_bead"]) for a in parts])
    n_atoms = np.cumsum([0] + [len(a["atom_pos"]) for a in parts])

    def cat(key, offset=None, axis=0):
        xs = []
        for k, a in enumerate(parts):
            x = a[key]
            if offset is not None:
                off = offset[k]
                x = np.where(x >= 0, x + off, x) if key == "slot_anchor" else x + off
            xs.append(x)
        return np.concatenate(xs, axis=axis)

    ei = cat("edge_index", n_nodes, axis=1)
    index = RebuildIndex.from_arrays(
        cat("slot_bead", n_nodes), cat("slot_index"), cat("slot_level"), cat("slot_anchor", n_slots),
        cat("slot_atom", n_atoms), cat("slot_weight"), device=device,
    )
    if index.n_atoms != n_atoms[-1]:  # every atom has a slot, so RebuildIndex keeps the numbering
        raise AssertionError("atoms without slots in a batch")

    def t(x, dt=dtype):
        return torch.as_tensor(np.ascontiguousarray(x), dtype=dt, device=device)

    graph = Graph(
        pos=t(cat("pos")),
        bead_type=t(cat("bead_type"), torch.long),
        edge_index=t(ei, torch.long),
        edge_shift=t(cat("edge_shift")),
        edge_flag=t(cat("edge_flag"), torch.long),
    )
    return Batch(
        graph=graph,
        index=index,
        atom_pos=t(cat("atom_pos")),
        atom_weight=t(cat("atom_weight")),
        atom_heavy=t(cat("atom_heavy"), torch.bool),
        bonds=t(cat("bonds", n_atoms).reshape(-1, 2), torch.long),
        angles=t(cat("angles", n_atoms).reshape(-1, 3), torch.long),
        vectors=t(cat("vectors")),
        vector_mask=t(cat("vector_mask"), torch.bool),
        dihedrals=t(cat("dihedrals")),
        dihedral_mask=t(cat("dihedral_mask"), torch.bool),
        core_mask=t(cat("core_mask"), torch.bool),
        keys=[(p.frame.key[0], p.frame.key[1], p.n_core) for p in pieces],
    )


def frame_pieces(frame: FrameData, max_beads: int) -> list[Piece]:
    """The frame itself if it has at most ``max_beads`` beads, else its residue-whole chunks."""
    if frame.n_beads <= max_beads:
        return [Piece(frame)]
    chunks = spatial_chunks(frame.bead_pos, max_beads, groups=frame.bead_residue)
    return [Piece(frame, c) for c in chunks]


def pack_sizes(sizes: Sequence[int], max_size: int) -> list[list[int]]:
    """Greedy packing in the given order: consecutive items while the sum stays <= max_size
    (an item larger than ``max_size`` gets a group of its own)."""
    groups: list[list[int]] = []
    cur: list[int] = []
    total = 0
    for i, n in enumerate(sizes):
        if cur and total + n > max_size:
            groups.append(cur)
            cur, total = [], 0
        cur.append(i)
        total += n
    if cur:
        groups.append(cur)
    return groups


class BeadBatchSampler:
    """Training steps of at most ``max_beads`` beads, frames shuffled per epoch from ``seed``.

    Each step is a list of indices into ``sizes`` (beads per frame): whole frames packed
    greedily up to ``max_beads``, or a single frame larger than that (chunked later).
    With ``world_size > 1`` every rank gets every ``world_size``-th step; with ``pad``
    the step list is first padded (repeating steps) so that all ranks get the same count.
    """

    def __init__(self, sizes: Sequence[int], max_beads: int, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1, pad: bool = True):
        if max_beads < 1:
            raise InputError(f"max_beads must be positive, got {max_beads}")
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.max_beads = int(max_beads)
        self.shuffle, self.seed = shuffle, int(seed)
        self.rank, self.world_size, self.pad = int(rank), int(world_size), pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def all_steps(self, epoch: int | None = None) -> list[list[int]]:
        """Steps of every rank for ``epoch`` (the same on all ranks)."""
        epoch = self.epoch if epoch is None else epoch
        order = np.arange(len(self.sizes))
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.sizes))
        steps = [[int(order[i]) for i in g] for g in pack_sizes(self.sizes[order], self.max_beads)]
        if self.pad and self.world_size > 1 and steps:
            steps += steps[: (-len(steps)) % self.world_size]
        return steps

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.all_steps()[self.rank :: self.world_size])

    def __len__(self) -> int:
        return len(self.all_steps()[self.rank :: self.world_size])


def _identity(x):
    return x


class StepDataset(torch.utils.data.Dataset):
    """Step (list of frame indices from a :class:`BeadBatchSampler`) -> micro-batches.

    Whole frames of a step form one batch; a frame larger than ``max_beads`` becomes
    its chunks, packed into batches of at most ``max_beads`` core beads.
    """

    def __init__(self, source: FrameSource, frames: Sequence[tuple[str, int]], max_beads: int,
                 dtype: torch.dtype = torch.float32):
        self.source, self.frames = source, list(frames)
        self.max_beads, self.dtype = int(max_beads), dtype

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, step) -> list[Batch]:
        if isinstance(step, (int, np.integer)):
            step = [int(step)]
        frames = [self.source[self.frames[i]] for i in step]
        pieces = [p for f in frames for p in frame_pieces(f, self.max_beads)]
        if len(pieces) == len(frames):
            return [make_batch(pieces, self.dtype)]
        groups = pack_sizes([p.n_core for p in pieces], self.max_beads)
        return [make_batch([pieces[i] for i in g], self.dtype) for g in groups]

    def loader(self, sampler: BeadBatchSampler, num_workers: int = 0):
        """A DataLoader yielding the micro-batch lists of ``sampler``'s steps (frames are
        read and graphs built in ``num_workers`` processes when > 0)."""
        return torch.utils.data.DataLoader(
            self, sampler=sampler, batch_size=None, collate_fn=_identity, num_workers=num_workers,
            persistent_workers=num_workers > 0,
        )


def micro_batches_per_epoch(reader: DatasetReader, frames: Sequence[tuple[str, int]], steps: Sequence[Sequence[int]],
                            max_beads: int) -> int:
    """Optimizer steps of one epoch with ``train.chunk_steps``: one per step of whole frames,
    and for a frame larger than ``max_beads`` as many as its residue-whole spatial chunks pack
    into (the same :func:`spatial_chunks` / :func:`pack_sizes` as :class:`StepDataset`).
    ``steps``: indices into ``frames`` (:meth:`BeadBatchSampler.all_steps`)."""
    sizes = frame_sizes(reader, frames)
    total = 0
    for step in steps:
        if len(step) != 1 or sizes[step[0]] <= max_beads:
            total += 1
            continue
        s = read_sample(reader, *frames[step[0]])
        chunks = spatial_chunks(s.bead_pos, max_beads, groups=np.asarray(s.bead_residue))
        total += len(pack_sizes([len(c) for c in chunks], max_beads))
    return total


def frame_sizes(reader: DatasetReader, frames: Sequence[tuple[str, int]]) -> list[int]:
    """Beads per frame (from the dataset's system records)."""
    n = {s.name: s.n_beads for s in reader.systems}
    return [n[s] for s, _ in frames]
