"""File input/output through MDAnalysis: reading inputs with clear errors, writing
CG structures and trajectories atomically, frame selections."""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator

import MDAnalysis as mda
import numpy as np

from .errors import InputError

__all__ = ["load_universe", "select_atoms", "parse_frames", "atomic_output", "make_universe", "write_frames", "write_stream", "STRUCTURE_FORMATS"]

STRUCTURE_FORMATS = (".pdb", ".gro", ".cif", ".pqr", ".crd")


def load_universe(topology: str | os.PathLike, trajectory: list[str] | str | None = None) -> mda.Universe:
    """Open a structure (and optional trajectory files) with MDAnalysis.

    Missing, empty or unreadable files raise :class:`InputError` naming the file.
    """
    paths = [Path(topology)] + [Path(t) for t in ([trajectory] if isinstance(trajectory, str) else trajectory or [])]
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_file() and p.stat().st_size == 0:
            raise InputError(f"{p}: file is empty")
    traj = [str(p) for p in paths[1:]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            u = mda.Universe(str(paths[0]), *traj) if traj else mda.Universe(str(paths[0]))
    except Exception as exc:  # MDAnalysis raises many types for unreadable files
        raise InputError(f"{paths[0] if not traj else ', '.join(map(str, paths))}: cannot read ({exc})") from None
    if len(u.atoms) == 0:
        raise InputError(f"{paths[0]}: contains no atoms")
    if len(u.trajectory) == 0:
        raise InputError(f"{', '.join(traj) or paths[0]}: trajectory has no frames")
    return u


def select_atoms(u: mda.Universe, selection: str, source: str = "input"):
    """Apply an MDAnalysis selection; a bad or empty selection raises :class:`InputError`."""
    try:
        atoms = u.select_atoms(selection)
    except Exception as exc:
        raise InputError(f"bad selection '{selection}': {exc}") from None
    if len(atoms) == 0:
        raise InputError(f"{source}: selection '{selection}' matches no atoms")
    return atoms


def parse_frames(spec: str | None, n_frames: int) -> range:
    """``START:STOP:STEP`` (Python slice rules, any part optional) -> frame indices."""
    if spec is None or spec == "":
        return range(n_frames)
    parts = spec.split(":")
    if len(parts) > 3:
        raise InputError(f"--frames '{spec}': expected START:STOP:STEP")
    try:
        vals = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
    except ValueError:
        raise InputError(f"--frames '{spec}': START, STOP and STEP must be integers") from None
    if len(parts) == 1 and vals[0] is not None:  # a single frame
        vals = [vals[0], vals[0] + 1 if vals[0] != -1 else None, None]
    if vals[2] == 0:
        raise InputError(f"--frames '{spec}': STEP cannot be 0")
    frames = range(n_frames)[slice(*vals)]
    if len(frames) == 0:
        raise InputError(f"--frames '{spec}' selects no frame of {n_frames}")
    return frames


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; move it into place only on success,
    so an interrupted run never leaves a truncated file that looks complete."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError(f"{path}: output folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def make_universe(
    names: np.ndarray,
    resnames: np.ndarray,
    resids: np.ndarray,
    chains: np.ndarray,
    residue_of_atom: np.ndarray,
    types: np.ndarray | None = None,
) -> mda.Universe:
    """An empty-coordinate Universe with the given atom and residue identity (one
    segment per chain), ready to receive positions and be written by MDAnalysis."""
    n_atoms = len(names)
    res_idx = np.asarray(residue_of_atom, dtype=np.int64)
    n_res = int(res_idx.max()) + 1 if n_atoms else 0
    first = np.zeros(n_res, dtype=np.int64)
    first[res_idx[::-1]] = np.arange(n_atoms)[::-1]
    res_chain = np.asarray(chains)[first]
    seg_names, seg_of_res = np.unique(res_chain, return_inverse=True)
    u = mda.Universe.empty(
        n_atoms, n_residues=n_res, n_segments=len(seg_names), atom_resindex=res_idx,
        residue_segindex=seg_of_res, trajectory=True,
    )
    u.add_TopologyAttr("names", np.asarray(names, dtype=object))
    u.add_TopologyAttr("types", np.asarray(types if types is not None else names, dtype=object))
    u.add_TopologyAttr("resnames", np.asarray(resnames, dtype=object)[first])
    u.add_TopologyAttr("resids", np.asarray(resids)[first])
    u.add_TopologyAttr("segids", np.asarray(seg_names, dtype=object))
    # PDB chain identifiers have one character; longer labels (segids) stay in segids only
    u.add_TopologyAttr("chainIDs", np.asarray([c if len(c) == 1 else "" for c in chains], dtype=object))
    return u


@contextlib.contextmanager
def _quiet_writer() -> Iterator[None]:
    """MDAnalysis writers warn about every attribute a built topology lacks (altLocs, icodes,
    occupancies, ...) and about a missing box; those defaults are what we want."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found no information for attr", category=UserWarning)
        warnings.filterwarnings("ignore", message="Unit cell dimensions not found", category=UserWarning)
        yield


def write_stream(
    target: mda.Universe,
    frames: Iterable[tuple[np.ndarray, np.ndarray | None]],
    output: str | os.PathLike,
    traj_out: str | os.PathLike | None = None,
    n_frames: int | None = None,
    progress: bool = False,
    desc: str = "frames",
    structure_writer: Callable[[str, np.ndarray, np.ndarray | None], None] | None = None,
) -> list[str]:
    """Write ``target`` at each (positions (Å), box) of ``frames``: the first to ``output``,
    all of them to ``traj_out`` when given, streaming (one frame in memory) and atomically
    (files appear only when complete). ``structure_writer(path, positions, box)`` writes
    the structure file instead of MDAnalysis. Returns the paths written."""
    from tqdm.auto import tqdm

    def load(item) -> None:
        pos, box = item
        target.atoms.positions = pos
        target.dimensions = box

    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise InputError("no frames to write") from None
    load(first)
    with atomic_output(output) as tmp, _quiet_writer():
        if structure_writer is not None:
            structure_writer(tmp, first[0], first[1])
        else:
            target.atoms.write(tmp)
    written = [str(output)]
    if traj_out is not None:
        bar = tqdm(total=n_frames, desc=desc, unit="frame", disable=not progress)
        with atomic_output(traj_out) as tmp, _quiet_writer(), mda.Writer(tmp, n_atoms=len(target.atoms)) as writer:
            writer.write(target.atoms)
            bar.update(1)
            for item in it:
                load(item)
                writer.write(target.atoms)
                bar.update(1)
        bar.close()
        written.append(str(traj_out))
    return written


def write_frames(
    source: mda.Universe,
    target: mda.Universe,
    positions: Callable[[], np.ndarray],
    frame_ids: range,
    output: str | os.PathLike,
    traj_out: str | os.PathLike | None = None,
    progress: bool = False,
    desc: str = "frames",
) -> list[str]:
    """Write ``target`` with ``positions()`` (Å) computed at each frame of ``source``:
    the first frame to ``output``, all of them to ``traj_out`` when given, streaming
    and atomically. Boxes follow ``source``. Returns the paths written."""

    def frames():
        for f in frame_ids if traj_out is not None else frame_ids[:1]:
            source.trajectory[f]
            yield positions(), source.dimensions

    return write_stream(target, frames(), output, traj_out, len(frame_ids), progress, desc)
