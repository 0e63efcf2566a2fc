"""The ``map`` and ``mapping check`` jobs: all-atom files in, CG files or a report out."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from .coarse_grain import bead_positions, check_finite, make_residues_whole
from .errors import InputError
from .io import load_universe, make_universe, parse_frames, select_atoms, write_frames
from .mapping import MappingSet, load_mapping_set
from .reconstruct import RebuildIndex, rebuild_atoms, true_vectors
from .system import MappedSystem, ResidueIssue, map_atoms

__all__ = ["MapReport", "CheckReport", "map_structure", "check_mapping", "cg_universe"]

TRAJECTORY_FORMATS = (".xtc", ".trr", ".dcd")


def _resolve(mapping: str | os.PathLike | MappingSet) -> MappingSet:
    return mapping if isinstance(mapping, MappingSet) else load_mapping_set(mapping)


def _raise_if_strict(issues: tuple[ResidueIssue, ...], strict: bool) -> None:
    if strict and issues:
        shown = "; ".join(str(i) for i in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        raise InputError(f"--strict: {shown}{more}")


@dataclass
class MapReport:
    """What ``map_structure`` did: counts per molecule and the residue issues."""

    n_atoms_in: int
    n_beads: int
    n_frames: int
    molecules: Counter
    issues: tuple[ResidueIssue, ...] = ()
    outputs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        mols = ", ".join(f"{k} x{v}" for k, v in sorted(self.molecules.items()))
        lines = [
            f"mapped {self.n_atoms_in} atoms to {self.n_beads} beads in {self.n_frames} frame(s)",
            f"molecules: {mols}",
        ]
        lines += [f"warning: {i}" for i in self.issues]
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


def cg_universe(system: MappedSystem):
    """An MDAnalysis Universe of the beads (names, residue names/ids, chains)."""
    return make_universe(
        system.bead_name,
        system.bead_resname,
        system.bead_resid,
        system.bead_chain,
        system.bead_residue,
        types=system.bead_name,
    )


def map_structure(
    input: str | os.PathLike,
    mapping: str | os.PathLike | MappingSet,
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    selection: str = "all",
    frames: str | None = None,
    strict: bool = False,
    progress: bool = False,
) -> MapReport:
    """Coarse-grain an all-atom structure (and trajectory) with a mapping set.

    Writes the CG structure of the first selected frame to ``output`` (.pdb/.gro)
    and, with ``traj_out`` (.xtc/.trr/.dcd), every selected frame. Residues no
    mapping covers, atoms no line covers and missing atoms are reported; with
    ``strict`` they are an error. Coordinates in Å.
    """
    mset = _resolve(mapping)
    out_ext = os.path.splitext(str(output))[1].lower()
    if out_ext not in (".pdb", ".gro", ".cif", ".pqr"):
        raise InputError(f"{output}: output must be .pdb or .gro")
    if traj_out is not None and os.path.splitext(str(traj_out))[1].lower() not in TRAJECTORY_FORMATS:
        raise InputError(f"{traj_out}: trajectory output must be one of {', '.join(TRAJECTORY_FORMATS)}")
    u = load_universe(input, traj)
    atoms = select_atoms(u, selection, str(input))
    system = map_atoms(atoms, mset)
    _raise_if_strict(system.issues, strict)
    frame_ids = parse_frames(frames, len(u.trajectory))
    cg = cg_universe(system)
    cgm = system.cg_matrix()

    def beads_of_current_frame() -> np.ndarray:
        pos = atoms.positions.astype(np.float64)
        check_finite(pos, atoms, f"{input} frame {u.trajectory.ts.frame}")
        whole = make_residues_whole(system, pos, u.dimensions)
        return np.asarray(cgm @ whole)

    outputs = write_frames(u, cg, beads_of_current_frame, frame_ids, output, traj_out, progress, desc="mapping")
    molecules = Counter(system.bead_molecule[np.unique(system.bead_residue, return_index=True)[1]])
    return MapReport(len(atoms), system.n_beads, len(frame_ids) if traj_out else 1, molecules, system.issues, outputs)


@dataclass
class MoleculeCheck:
    """Coverage and round trip of one molecule type in the checked input."""

    molecule: str
    n_residues: int
    n_atoms: int
    n_mapped: int
    n_rebuilt: int
    max_error: float  # Å


@dataclass
class CheckReport:
    """Result of :func:`check_mapping`; ``ok`` when everything is mapped and rebuilt exactly."""

    molecules: list[MoleculeCheck]
    issues: tuple[ResidueIssue, ...]
    max_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return not self.issues and self.max_error <= self.tolerance

    def summary(self) -> str:
        head = f"{'molecule':<10} {'residues':>8} {'atoms':>7} {'mapped':>7} {'unmapped':>8} {'rebuilt':>7} {'max err/A':>10}"
        rows = [head]
        for m in self.molecules:
            rows.append(
                f"{m.molecule:<10} {m.n_residues:>8} {m.n_atoms:>7} {m.n_mapped:>7} "
                f"{m.n_atoms - m.n_mapped:>8} {m.n_rebuilt:>7} {m.max_error:>10.2e}"
            )
        rows += [f"problem: {i}" for i in self.issues]
        rows.append(f"round-trip max error: {self.max_error:.3e} A")
        rows.append("OK" if self.ok else "FAILED")
        return "\n".join(rows)


def round_trip_error(system: MappedSystem, positions: np.ndarray, box=None) -> np.ndarray:
    """Per-atom deviation (Å) of atoms rebuilt from their true vectors (oracle round trip).

    Returns an array over ``system.rebuilt_atoms``.
    """
    whole = make_residues_whole(system, positions.astype(np.float64), box)
    beads = np.asarray(system.cg_matrix() @ whole)
    vec = true_vectors(system, whole, beads)
    index = RebuildIndex.from_system(system)
    rebuilt = rebuild_atoms(torch.as_tensor(beads), torch.as_tensor(vec), index).numpy()
    return np.linalg.norm(rebuilt - whole[system.rebuilt_atoms], axis=1)


def check_mapping(
    input: str | os.PathLike,
    mapping: str | os.PathLike | MappingSet,
    selection: str = "all",
    traj: list[str] | str | None = None,
    frame: int = 0,
    tolerance: float = 1e-3,
) -> CheckReport:
    """Coverage and oracle round trip of a mapping set on a real structure.

    For every molecule type: residues, atoms, mapped atoms, rebuilt atoms, and
    the largest deviation (Å) between original atoms and atoms rebuilt level by
    level from their true vectors.
    """
    mset = _resolve(mapping)
    u = load_universe(input, traj)
    atoms = select_atoms(u, selection, str(input))
    u.trajectory[frame]
    system = map_atoms(atoms, mset)
    pos = atoms.positions.astype(np.float64)
    check_finite(pos, atoms, str(input))
    err = round_trip_error(system, pos, u.dimensions)
    err_of_atom = np.zeros(system.n_input_atoms)
    err_of_atom[system.rebuilt_atoms] = err
    res_mol = np.empty(len(system.residue_ref_atom), dtype=object)
    res_mol[system.bead_residue] = system.bead_molecule
    atom_mol = np.where(system.atom_residue >= 0, res_mol[np.maximum(system.atom_residue, 0)], None)
    mapped = system.atom_matched
    rebuilt = np.zeros(system.n_input_atoms, dtype=bool)
    rebuilt[system.slot_atom] = True
    rows = []
    for mol in sorted(set(res_mol)):
        sel = atom_mol == mol
        rows.append(
            MoleculeCheck(
                molecule=mol,
                n_residues=int((res_mol == mol).sum()),
                n_atoms=int(sel.sum()),
                n_mapped=int((mapped & sel).sum()),
                n_rebuilt=int((rebuilt & sel).sum()),
                max_error=float(err_of_atom[sel].max()) if sel.any() else 0.0,
            )
        )
    return CheckReport(rows, system.issues, float(err.max()) if len(err) else 0.0, tolerance)
