"""On-disk dataset layout: one folder per input system, frames in memory-mapped arrays.

::

    DIR/
      dataset.json          systems, frame counts, split of every system, seed, mapping name
      mapping/              the mapping set's files, so the dataset is self-contained
      systems/NAME/
        topology.npz        static index arrays (beads, slots, bonds, angles, torsions, residues)
        positions.npy       (F, n_stored_atoms, 3) float32, residues made whole, Å
        boxes.npy           (F, 6) float32, MDAnalysis box [lx, ly, lz, α, β, γ] (zeros: no box)

Why this layout: the topology of a system never changes between frames, so it is stored once;
frames are appended to a ``.npy`` opened with ``numpy.lib.format.open_memmap``, so a trajectory
streams to disk frame by frame and a reader maps the file instead of loading it. A dataset of
100,000 frames of a 5,000-bead system (about 50,000 stored atoms, 600 kB per frame) is a 60 GB
file that is written and read with a few MB of memory. Bead positions and target vectors are
not stored: they are a sparse product and a subtraction away from the atom positions, computed
when a sample is read, so there is one source of truth.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..mapping import MappingSet, load_mapping_set

__all__ = ["FORMAT_VERSION", "SystemRecord", "TopologyArrays", "DatasetReader", "write_mapping_copy"]

FORMAT_VERSION = 1
TOPOLOGY_KEYS = (
    "atom_input_index",  # (n_store,) index of each stored atom in the input selection
    "atom_name",  # (n_store,) str
    "bead_type", "bead_name", "bead_resname", "bead_resid", "bead_chain", "bead_residue",  # (B,)
    "cg_bead", "cg_atom", "cg_weight",  # (E,)
    "slot_bead", "slot_index", "slot_level", "slot_anchor", "slot_atom", "slot_weight",  # (S,)
    "rebuilt_atoms",  # (A,) stored-atom indices of rebuilt atoms, sorted
    "bonds", "angles", "torsions",  # among rebuilt atoms, stored-atom indices
    "residue_next", "residue_backbone", "residue_bead",  # (R,), (R, 3), (R,)
)


@dataclass(frozen=True)
class SystemRecord:
    """One input system of a dataset as listed in ``dataset.json``."""

    name: str
    source: list[str]
    n_frames: int
    n_beads: int
    n_atoms: int
    n_residues: int
    split: str


class TopologyArrays(dict):
    """The arrays of ``topology.npz`` with a few derived views."""

    @cached_property
    def cg_matrix(self) -> sparse.csr_matrix:
        """(B, n_stored) sparse matrix: bead positions = matrix @ stored atom positions."""
        n_beads = len(self["bead_type"])
        return sparse.csr_matrix(
            (self["cg_weight"], (self["cg_bead"], self["cg_atom"])), shape=(n_beads, len(self["atom_input_index"]))
        )


class DatasetReader:
    """Read a dataset folder lazily: frames come from memory-mapped files."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = self.folder / "dataset.json"
        if not meta.is_file():
            raise InputError(f"{self.folder}: not a herobm dataset (no dataset.json)")
        self.meta = json.loads(meta.read_text())
        if self.meta.get("format") != FORMAT_VERSION:
            raise InputError(f"{meta}: dataset format {self.meta.get('format')} is not {FORMAT_VERSION}")
        self.systems = [SystemRecord(**s) for s in self.meta["systems"]]
        self._topologies: dict[str, TopologyArrays] = {}

    @cached_property
    def mapping(self) -> MappingSet:
        return load_mapping_set(self.folder / "mapping")

    def split(self, name: str) -> list[SystemRecord]:
        return [s for s in self.systems if s.split == name]

    def topology(self, system: str) -> TopologyArrays:
        if system not in self._topologies:
            with np.load(self.folder / "systems" / system / "topology.npz", allow_pickle=False) as z:
                self._topologies[system] = TopologyArrays({k: z[k] for k in z.files})
        return self._topologies[system]

    def positions(self, system: str) -> np.ndarray:
        """(F, n_stored, 3) float32 memory map of a system's frames."""
        return np.load(self.folder / "systems" / system / "positions.npy", mmap_mode="r")

    def boxes(self, system: str) -> np.ndarray:
        return np.load(self.folder / "systems" / system / "boxes.npy", mmap_mode="r")

    def frames(self, split: str | None = None):
        """Yield (system name, frame index) over a split (or everything)."""
        for s in self.systems if split is None else self.split(split):
            for f in range(s.n_frames):
                yield s.name, f


def write_mapping_copy(mset: MappingSet, folder: Path) -> None:
    """Copy the set's files into ``folder`` (the dataset keeps its own mapping)."""
    src = Path(mset.source)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for p in src.glob("*.yaml"):
        shutil.copy2(p, folder / p.name)
