"""Checks that make a molecule mapping usable for coarse-graining and rebuilding.

Every error names the file, the line and the atom. Cycles in the hierarchy
cannot be written in this grammar: an anchor is always an atom of the level
directly above in the same bead, so levels strictly decrease along any chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MappingError

if TYPE_CHECKING:  # pragma: no cover
    from .molecule import MoleculeMapping

__all__ = ["MappingError", "WEIGHTINGS", "validate_molecule"]

# bead centres: mass-weighted or plain (geometric) average of the bead's atoms
WEIGHTINGS = ("mass", "geometric")


def validate_molecule(m: "MoleculeMapping") -> None:
    """Raise :class:`MappingError` for the first problem found in ``m``."""
    if not m.atoms:
        raise MappingError(f"{m.source}: molecule {m.name} has no atoms")
    if m.weighting is not None and m.weighting not in WEIGHTINGS:
        raise MappingError(
            f"{m.source}: molecule {m.name}: weighting must be one of {', '.join(WEIGHTINGS)}, got '{m.weighting}'"
        )

    # duplicate atom names, per naming column
    for c in range(m.n_columns):
        seen: dict[str, int] = {}
        for i, name in enumerate(m.names_in_column(c)):
            if name is None:
                continue
            if name in seen:
                raise MappingError(
                    f"{m.where(i)}: duplicate atom {name} in molecule {m.name} "
                    f"(also at line {m.lines[seen[name]] if seen[name] < len(m.lines) else '?'})"
                )
            seen[name] = i

    for a, b in m.bonds:
        for name in (a, b):
            if name[:1] in "+-":
                continue
            if m.atom_index(name) < 0:
                raise MappingError(f"{m.source}: bond {a}-{b} of {m.name} names atom {name}, which has no line")
        if a[:1] in "+-" and b[:1] in "+-":
            raise MappingError(f"{m.source}: bond {a}-{b} of {m.name} joins two other residues")

    for bead, members in m.members.items():
        # hierarchy ids unique per level, anchors exist one level up
        ids: dict[tuple[int, str], int] = {}
        cms = []
        for a, k in members:
            mem = m.atoms[a].beads[k]
            if mem.is_cm:
                cms.append(a)
            lab = mem.label
            if lab is None:
                continue
            key = (lab.level, lab.id)
            if key in ids:
                raise MappingError(
                    f"{m.where(a)}: hierarchy label {lab} repeats the one of atom "
                    f"{m.atoms[ids[key]].name} in bead {bead} of {m.name}"
                )
            ids[key] = a
        if len(cms) > 1:
            raise MappingError(
                f"{m.where(cms[1])}: bead {bead} of {m.name} has two CM atoms "
                f"({m.atoms[cms[0]].name}, {m.atoms[cms[1]].name})"
            )
        labelled_levels = {lvl for lvl, _ in ids}
        if labelled_levels and not (labelled_levels & {0, 1}):
            raise MappingError(
                f"{m.source}: bead {bead} of {m.name} has rebuilt atoms but none at level 0 or 1, "
                f"so nothing anchors it to the bead position"
            )
        for a, k in members:
            lab = m.atoms[a].beads[k].label
            if lab is None or lab.level <= 1:
                continue
            if (lab.level - 1, lab.anchor) not in ids:
                raise MappingError(
                    f"{m.where(a)}: anchor '{lab.anchor}' of label {lab} does not exist in bead "
                    f"{bead} of {m.name} (no level-{lab.level - 1} atom with id {lab.anchor})"
                )
            anchor_atom = ids[(lab.level - 1, lab.anchor)]
            if m.atoms[anchor_atom].optional and not m.atoms[a].optional:
                raise MappingError(
                    f"{m.where(a)}: required atom is anchored on optional atom "
                    f"{m.atoms[anchor_atom].name} in bead {bead} of {m.name}"
                )
        weights = m.centre_weights[bead]
        if sum(w for _, w in weights) <= 0:
            raise MappingError(
                f"{m.source}: bead {bead} of {m.name} has no atom that contributes to its centre "
                f"(every atom is excluded with '!')"
            )
        for a, k in members:
            lab = m.atoms[a].beads[k].label
            if lab is not None and lab.level == 0:
                contributors = [x for x, w in weights if w > 0]
                if contributors != [a]:
                    raise MappingError(
                        f"{m.where(a)}: level-0 atom must sit on bead {bead} of {m.name}: "
                        f"mark it CM or make it the only atom in the bead centre"
                    )
