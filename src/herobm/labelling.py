"""Label bare mapping files from a real structure (``herobm mapping label``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import yaml

from .errors import InputError
from .io import load_universe
from .mapping import MoleculeMapping, bead_key, dump_molecule, load_molecule
from .mapping.label import auto_label
from .mapping.loader import BEAD_TYPES_FILE, SETTINGS_FILE

__all__ = ["label_from_residue", "label_folder"]


def label_from_residue(m: MoleculeMapping, residue, overwrite: bool = False) -> MoleculeMapping:
    """Label ``m`` using one MDAnalysis residue: its bonds (topology, else guessed
    from distances), positions (Å) and masses; hydrogens are atoms lighter than 1.5 u."""
    atoms = residue.atoms
    try:
        bonds = atoms.intra_bonds if hasattr(atoms, "bonds") and len(atoms.intra_bonds) else None
    except Exception:
        bonds = None
    if bonds is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atoms.guess_bonds()
        bonds = atoms.intra_bonds
    names = atoms.names
    pairs = [(names[a.index - atoms[0].index], names[b.index - atoms[0].index]) for a, b in (bd.atoms for bd in bonds)]
    positions = {n: p for n, p in zip(names, atoms.positions.astype(float))}
    masses = {n: float(w) for n, w in zip(names, atoms.masses)}
    hydrogens = {n for n, w in zip(names, atoms.masses) if w < 1.5}
    return auto_label(m, pairs, positions=positions, masses=masses, hydrogens=hydrogens, overwrite=overwrite)


def label_folder(
    structure: str | os.PathLike,
    folder: str | os.PathLike,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Iterator[tuple[Path, MoleculeMapping]]:
    """Label every molecule file in ``folder`` from its first residue in ``structure``.

    Writes to ``output`` (default: in place) and adds a ``bead_types.yaml`` when
    the folder has none. Yields (path written, labelled mapping).
    """
    folder = Path(folder)
    out = Path(output) if output else folder
    out.mkdir(parents=True, exist_ok=True)
    u = load_universe(structure)
    files = sorted(p for p in folder.glob("*.yaml") if p.name not in (BEAD_TYPES_FILE, SETTINGS_FILE))
    if not files:
        raise InputError(f"{folder}: no mapping files (*.yaml) to label")
    labelled = []
    for path in files:
        m = load_molecule(path)
        residue = next((r for r in u.residues if r.resname in m.resnames), None)
        if residue is None:
            raise InputError(f"{structure}: no residue named {'/'.join(m.resnames)} to label {path} from")
        match = m.match(tuple(residue.atoms.names))
        if match.missing_required:
            raise InputError(
                f"{structure}: residue {residue.resname} {residue.resid} lacks atom(s) "
                f"{', '.join(match.missing_required)} of {path}"
            )
        lm = label_from_residue(m, residue, overwrite=overwrite)
        target = out / path.name
        target.write_text(dump_molecule(lm, header=f"Hierarchy labelled by herobm mapping label from {Path(structure).name}"))
        labelled.append(lm)
        yield target, lm
    types_path = out / BEAD_TYPES_FILE
    if not types_path.exists():
        table = {}
        for lm in labelled:
            for b in lm.beads:
                table[bead_key(lm.name, b)] = len(table)
        types_path.write_text(yaml.safe_dump(table, sort_keys=False))
