"""``herobm dataset build``: all-atom structures/trajectories -> training samples on disk."""

from __future__ import annotations

import json
import os
import random
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import __version__
from ..coarse_grain import check_finite, make_residues_whole
from ..errors import InputError
from ..geometry import angles_from_bonds, torsions_from_bonds
from ..io import load_universe, parse_frames, select_atoms
from ..model.graph import neighbour_list
from ..mapping import MappingSet, load_mapping_set
from ..system import MappedSystem, map_atoms
from .store import FORMAT_VERSION, SystemRecord, write_mapping_copy

__all__ = ["InputSpec", "BuildReport", "parse_input_spec", "parse_split", "assign_splits", "build_dataset"]


@dataclass(frozen=True)
class InputSpec:
    """One input system: a topology/structure file and optional trajectory files."""

    topology: str
    trajectories: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return ",".join((self.topology,) + self.trajectories)


def parse_input_spec(text: str) -> InputSpec:
    """``TOP`` or ``TOP,TRAJ1,TRAJ2`` -> InputSpec."""
    parts = [p for p in text.split(",") if p]
    if not parts:
        raise InputError(f"empty input '{text}'")
    return InputSpec(parts[0], tuple(parts[1:]))


def parse_split(text: str) -> dict[str, float]:
    """``train=0.8,val=0.1,test=0.1`` -> fractions summing to 1."""
    out: dict[str, float] = {}
    for item in text.split(","):
        if "=" not in item:
            raise InputError(f"--split '{text}': expected NAME=FRACTION items")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise InputError(f"--split '{text}': '{v}' is not a number") from None
    if any(v < 0 for v in out.values()) or abs(sum(out.values()) - 1) > 1e-6:
        raise InputError(f"--split '{text}': fractions must be >= 0 and sum to 1")
    return out


def assign_splits(names: list[str], fractions: dict[str, float], seed: int) -> dict[str, str]:
    """Assign whole systems to splits, reproducibly from ``seed``.

    Systems are shuffled, then each split takes ``round(fraction * n)`` of them
    (every split with a positive fraction gets at least one while systems last;
    the largest split absorbs rounding).
    """
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n = len(order)
    counts = {k: int(round(f * n)) for k, f in fractions.items()}
    for k, f in fractions.items():
        if f > 0 and counts[k] == 0 and n >= sum(1 for x in fractions.values() if x > 0):
            counts[k] = 1
    biggest = max(fractions, key=fractions.get)
    counts[biggest] += n - sum(counts.values())
    out, i = {}, 0
    for k in fractions:
        for name in order[i : i + max(counts[k], 0)]:
            out[name] = k
        i += max(counts[k], 0)
    return out


def _complete_residue_selection(atoms, system: MappedSystem):
    """Atoms of residues that are mapped and have all required atoms."""
    r = system.atom_residue
    keep = (r >= 0) & system.residue_complete[np.maximum(r, 0)]
    return atoms[keep]


def _topology_bonds(atoms, system: MappedSystem) -> np.ndarray | None:
    """Bonds from the input topology, if it has them for every rebuilt atom."""
    try:
        bonds = atoms.intra_bonds
    except Exception:
        return None
    if len(bonds) == 0:
        return None
    idx = bonds.to_indices()
    local = np.full(atoms.universe.atoms.n_atoms, -1, dtype=np.int64)
    local[atoms.indices] = np.arange(len(atoms))
    pairs = local[idx]
    pairs = pairs[(pairs >= 0).all(axis=1)]
    covered = np.zeros(len(atoms), dtype=bool)
    covered[pairs.ravel()] = True
    if not covered[system.rebuilt_atoms].all():
        return None
    return pairs


def _safe_name(k: int, spec: InputSpec) -> str:
    stem = Path(spec.topology).name.split(".")[0]
    if spec.trajectories:
        stem += "_" + Path(spec.trajectories[0]).name.split(".")[0]
    return f"{k:04d}_{re.sub(r'[^A-Za-z0-9_-]', '_', stem)}"


@dataclass
class _Job:
    spec: InputSpec
    name: str
    mapping_dir: str
    out_dir: str
    frames: str | None
    selection: str
    progress: bool


def extract_system(job: _Job) -> tuple[SystemRecord | None, list[str]]:
    """Write one system folder; returns its record (None if nothing usable) and notes."""
    mset = load_mapping_set(job.mapping_dir)
    notes: list[str] = []
    u = load_universe(job.spec.topology, list(job.spec.trajectories) or None)
    atoms = select_atoms(u, job.selection, job.spec.label)
    u.trajectory[0]
    try:
        system = map_atoms(atoms, mset)
    except InputError as exc:
        return None, [f"{job.spec.label}: skipped ({exc})"]
    unknown = sorted({i.resname for i in system.issues_of("unknown")})
    if unknown:
        notes.append(f"{job.spec.label}: residues without mapping left out: {', '.join(unknown)}")
    missing = system.issues_of("missing")
    if missing:
        notes.append(f"{job.spec.label}: {len(missing)} incomplete residue(s) left out (e.g. {missing[0]})")
        atoms = _complete_residue_selection(atoms, system)
        if len(atoms) == 0:
            return None, notes + [f"{job.spec.label}: no complete residue"]
        system = map_atoms(atoms, mset)
    bonds = _topology_bonds(atoms, system)
    bond_source = "topology"
    if bonds is None:
        bonds, bond_source = system.bonds, "templates"
    rebuilt = system.rebuilt_atoms
    lonely = np.setdiff1d(rebuilt, bonds.ravel()) if len(rebuilt) > 1 else np.array([], dtype=np.int64)
    # single-atom molecules (ions) have no bonds by nature
    multi = np.bincount(system.atom_residue[rebuilt], minlength=system.n_residues)[system.atom_residue[lonely]] > 1
    if multi.any():
        a = atoms[int(lonely[multi][0])]
        raise InputError(
            f"{job.spec.label}: atom {a.name} of {a.resname} {a.resid} has no bond: the input has no "
            f"topology bonds and the mapping of {a.resname} no 'bonds:' template"
        )
    stored = np.union1d(system.cg_atom, system.slot_atom)
    remap = np.full(system.n_input_atoms, -1, dtype=np.int64)
    remap[stored] = np.arange(len(stored))
    in_rebuilt = np.zeros(system.n_input_atoms, dtype=bool)
    in_rebuilt[rebuilt] = True
    bonds = bonds[in_rebuilt[bonds].all(axis=1)]
    angles = angles_from_bonds(bonds, system.n_input_atoms)
    torsions = torsions_from_bonds(bonds, system.n_input_atoms)

    def rm(x):
        x = np.asarray(x, dtype=np.int64)
        return np.where(x >= 0, remap[np.maximum(x, 0)], -1)

    topo = {
        "atom_input_index": stored,
        "atom_name": np.asarray(atoms.names)[stored].astype(str),
        "bead_type": system.bead_type,
        "bead_name": system.bead_name.astype(str),
        "bead_resname": system.bead_resname.astype(str),
        "bead_resid": system.bead_resid,
        "bead_chain": system.bead_chain.astype(str),
        "bead_residue": system.bead_residue,
        "cg_bead": system.cg_bead,
        "cg_atom": rm(system.cg_atom),
        "cg_weight": system.cg_weight,
        "slot_bead": system.slot_bead,
        "slot_index": system.slot_index,
        "slot_level": system.slot_level,
        "slot_anchor": system.slot_anchor,
        "slot_atom": rm(system.slot_atom),
        "slot_weight": system.slot_weight,
        "rebuilt_atoms": rm(rebuilt),
        "bonds": rm(bonds).reshape(-1, 2),
        "angles": rm(angles).reshape(-1, 3),
        "torsions": rm(torsions).reshape(-1, 4),
        "residue_next": system.residue_next,
        "residue_backbone": rm(system.residue_backbone).reshape(-1, 3),
        "residue_bead": system.residue_bead,
    }
    folder = Path(job.out_dir) / "systems" / job.name
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "topology.npz", **topo)
    frame_ids = parse_frames(job.frames, len(u.trajectory))
    pos_path, box_path = folder / "positions.npy", folder / "boxes.npy"
    positions = np.lib.format.open_memmap(pos_path, mode="w+", dtype=np.float32, shape=(len(frame_ids), len(stored), 3))
    boxes = np.lib.format.open_memmap(box_path, mode="w+", dtype=np.float32, shape=(len(frame_ids), 6))
    from tqdm.auto import tqdm

    for k, f in enumerate(tqdm(frame_ids, desc=job.name, unit="frame", disable=not job.progress, leave=False)):
        u.trajectory[f]
        x = atoms.positions.astype(np.float64)
        check_finite(x, atoms, f"{job.spec.label} frame {f}")
        box = u.dimensions
        whole = make_residues_whole(system, x, box)
        check_no_overlap(system, np.asarray(system.cg_matrix() @ whole), box, f"{job.spec.label} frame {f}")
        positions[k] = whole[stored]
        boxes[k] = box if box is not None else 0.0
    positions.flush()
    boxes.flush()
    del positions, boxes
    notes.append(f"{job.spec.label}: {len(frame_ids)} frame(s), {system.n_beads} beads, bonds from {bond_source}")
    record = SystemRecord(
        name=job.name, source=[job.spec.topology, *job.spec.trajectories], n_frames=len(frame_ids),
        n_beads=system.n_beads, n_atoms=int(len(rebuilt)), n_residues=system.n_residues, split="",
    )
    return record, notes


MIN_BEAD_DISTANCE = 0.5  # Å; beads of different residues closer than this are overlapping copies


def check_no_overlap(system: MappedSystem, beads: np.ndarray, box, where: str) -> None:
    """Raise :class:`InputError` when beads of two different residues are closer than
    :data:`MIN_BEAD_DISTANCE` (Å): stacked NMR models or alternate locations read as extra
    residues, which would teach a model from impossible neighbourhoods."""
    a, b = neighbour_list(beads, MIN_BEAD_DISTANCE, box)[0]
    other = system.bead_residue[a] != system.bead_residue[b]
    if not other.any():
        return
    i, j = int(a[other][0]), int(b[other][0])

    def name(k: int) -> str:
        return f"{system.bead_resname[k]} {system.bead_resid[k]} {system.bead_chain[k]}".strip() + f" bead {system.bead_name[k]}"

    d = np.linalg.norm(beads[i] - beads[j])
    raise InputError(
        f"{where}: {int(other.sum()) // 2} bead pair(s) of different residues closer than {MIN_BEAD_DISTANCE} Å, "
        f"e.g. {name(i)} and {name(j)} ({d:.2f} Å apart, or their periodic images): overlapping copies "
        "(several models or alternate locations in one frame?); select one copy"
    )


@dataclass
class BuildReport:
    """What ``build_dataset`` wrote."""

    folder: str
    systems: list[SystemRecord]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = list(self.notes)
        for split in sorted({s.split for s in self.systems}):
            sel = [s for s in self.systems if s.split == split]
            lines.append(
                f"{split}: {len(sel)} system(s), {sum(s.n_frames for s in sel)} frames, "
                f"{sum(s.n_residues * s.n_frames for s in sel)} residue-frames"
            )
        lines.append(f"wrote {self.folder} in {self.seconds:.1f} s")
        return "\n".join(lines)


def build_dataset(
    inputs: list[InputSpec],
    mapping: str | os.PathLike | MappingSet,
    output: str | os.PathLike,
    frames: str | None = None,
    selection: str = "all",
    split: dict[str, float] | None = None,
    split_file: str | os.PathLike | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool = False,
) -> BuildReport:
    """Turn all-atom inputs into a dataset folder (see :mod:`herobm.data.store`).

    Residues without a mapping and incomplete residues are left out (and reported);
    whole systems go to one split each, by ``split`` fractions (shuffled with
    ``seed``) or by ``split_file`` (JSON or YAML ``{input path or system name: split}``).
    """
    t0 = time.perf_counter()
    if not inputs:
        raise InputError("no input given")
    mset = mapping if isinstance(mapping, MappingSet) else load_mapping_set(mapping)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    write_mapping_copy(mset, out / "mapping")
    jobs = [
        _Job(spec, _safe_name(k, spec), str(out / "mapping"), str(out), frames, selection, progress and workers == 1)
        for k, spec in enumerate(inputs)
    ]
    from tqdm.auto import tqdm

    if workers > 1:
        with get_context("spawn").Pool(workers) as pool, warnings.catch_warnings():
            results = list(tqdm(pool.imap(extract_system, jobs), total=len(jobs), desc="systems", disable=not progress))
    else:
        results = [extract_system(j) for j in tqdm(jobs, desc="systems", disable=not progress or len(jobs) == 1)]
    records = [r for r, _ in results if r is not None]
    notes = [n for _, ns in results for n in ns]
    if not records:
        raise InputError("no input gave any usable residue:\n" + "\n".join(notes))
    if split_file is not None:
        import yaml

        table = yaml.safe_load(Path(split_file).read_text()) or {}
        by_job = {}
        for job, (rec, _) in zip(jobs, results):
            if rec is None:
                continue
            for key in (job.name, job.spec.topology, Path(job.spec.topology).name, job.spec.label):
                if key in table:
                    by_job[rec.name] = str(table[key])
                    break
            else:
                raise InputError(f"{split_file}: no split given for {job.spec.label}")
        assigned = by_job
    else:
        assigned = assign_splits([r.name for r in records], split or {"train": 0.8, "val": 0.1, "test": 0.1}, seed)
    records = [SystemRecord(**{**asdict(r), "split": assigned[r.name]}) for r in records]
    meta = {
        "format": FORMAT_VERSION,
        "herobm_version": __version__,
        "mapping": mset.name,
        "selection": selection,
        "frames": frames,
        "seed": seed,
        "split": split,
        "split_file": str(split_file) if split_file else None,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "systems": [asdict(r) for r in records],
    }
    (out / "dataset.json").write_text(json.dumps(meta, indent=1))
    return BuildReport(str(out), records, notes, time.perf_counter() - t0)
