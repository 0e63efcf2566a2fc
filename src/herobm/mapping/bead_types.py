"""Maintain a set's ``bead_types.yaml``: the explicit, stable bead-type order."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ..errors import MappingSyntaxError
from .loader import BEAD_TYPES_FILE, SETTINGS_FILE, load_molecule
from .mset import bead_key

__all__ = ["update_bead_types"]


def update_bead_types(folder: str | os.PathLike, share: dict[str, str] | None = None) -> dict[str, int]:
    """Add a type for every bead of every molecule file in ``folder`` that has none,
    drop entries of beads no file defines, and keep every existing number.

    ``share`` maps a molecule to another whose bead types it reuses (e.g.
    ``{"HSE": "HSD"}``: HSE_BB gets HSD_BB's type), for variants that a CG
    structure cannot tell apart. New types are numbered after the largest one.
    """
    folder = Path(folder)
    path = folder / BEAD_TYPES_FILE
    table: dict[str, int] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise MappingSyntaxError(f"{path}: expected 'MOLECULE_BEAD: integer' lines")
        table = {str(k): int(v) for k, v in loaded.items()}
    files = sorted(p for p in folder.glob("*.yaml") if p.name not in (BEAD_TYPES_FILE, SETTINGS_FILE))
    molecules = [load_molecule(p) for p in files]
    known = {bead_key(m.name, b) for m in molecules for b in m.beads}
    table = {k: v for k, v in table.items() if k in known}
    share = share or {}
    next_type = max(table.values(), default=-1) + 1
    # parents first, so that shared variants find their parent's numbers
    order = sorted(molecules, key=lambda m: m.name in share)
    for m in order:
        for b in m.beads:
            key = bead_key(m.name, b)
            if key in table:
                continue
            parent = share.get(m.name)
            if parent is not None and bead_key(parent, b) in table:
                table[key] = table[bead_key(parent, b)]
            else:
                table[key] = next_type
                next_type += 1
    ordered = dict(sorted(table.items(), key=lambda kv: (kv[1], kv[0])))
    path.write_text(
        "# Bead type of every MOLECULE_BEAD: the network's one-hot order. Append new beads;\n"
        "# never renumber existing ones (trained models depend on these numbers).\n"
        + yaml.safe_dump(ordered, sort_keys=False)
    )
    return ordered
