"""A mapping set: the molecule mappings of one CG model plus its bead-type table."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .molecule import MoleculeMapping, ResidueMatch, Slot
from .validate import WEIGHTINGS, MappingError

__all__ = ["MappingSet", "bead_key"]


def bead_key(molecule: str, bead: str) -> str:
    """Key of a bead in the bead-type table: ``MOLECULE_BEAD``."""
    return f"{molecule}_{bead}"


@dataclass(frozen=True)
class MappingSet:
    """Molecule mappings + explicit bead-type order (``bead_types``) + centre weighting.

    ``weighting='mass'`` places a bead at the mass-weighted centre of its atoms
    (as martinize2 does for Martini 3); ``'geometric'`` at their plain centre.
    A molecule file's own ``weighting:`` overrides the set's for that molecule
    (:meth:`weighting_of`).
    """

    name: str
    molecules: tuple[MoleculeMapping, ...]
    bead_types: dict[str, int]
    weighting: str = "mass"
    source: str = "<memory>"
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise MappingError(f"{self.source}: weighting must be one of {WEIGHTINGS}, got '{self.weighting}'")
        seen: dict[str, str] = {}
        for m in self.molecules:
            if m.name in seen:
                raise MappingError(f"{self.source}: molecule {m.name} is defined twice ({seen[m.name]}, {m.source})")
            seen[m.name] = m.source
            for b in m.beads:
                key = bead_key(m.name, b)
                if key not in self.bead_types:
                    raise MappingError(
                        f"{self.source}: bead {b} of {m.name} ({m.source}) has no entry '{key}' in bead_types.yaml"
                    )
        known = {bead_key(m.name, b) for m in self.molecules for b in m.beads}
        stale = sorted(set(self.bead_types) - known)
        if stale:
            raise MappingError(
                f"{self.source}: bead_types.yaml lists beads no molecule defines: {', '.join(stale[:10])}"
            )
        # beads that share a type must be rebuilt the same way (same network output slots)
        layout: dict[int, tuple[str, tuple]] = {}
        for m in self.molecules:
            for b in m.beads:
                t = self.bead_types[bead_key(m.name, b)]
                sig = self._slot_signature(m, b)
                if t in layout and layout[t][1] != sig:
                    raise MappingError(
                        f"{self.source}: bead type {t} is shared by {layout[t][0]} and {bead_key(m.name, b)} "
                        f"but their rebuilt atoms differ; give them different types"
                    )
                layout.setdefault(t, (bead_key(m.name, b), sig))

    def weighting_of(self, molecule: MoleculeMapping) -> str:
        """Bead centre weighting of ``molecule``: its own ``weighting:``, else the set's."""
        return molecule.weighting or self.weighting

    @staticmethod
    def _slot_signature(m: MoleculeMapping, bead: str) -> tuple:
        return tuple((s.level, s.anchor) for s in m.slots[bead])

    # ----------------------------------------------------------------- lookup
    @cached_property
    def by_resname(self) -> dict[str, tuple[MoleculeMapping, ...]]:
        """residue name -> molecule mappings answering to it (own name before aliases)."""
        out: dict[str, list[MoleculeMapping]] = {}
        for m in self.molecules:
            out.setdefault(m.name, []).insert(0, m)
        for m in self.molecules:
            for a in m.aliases:
                if m not in out.setdefault(a, []):
                    out[a].append(m)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def n_bead_types(self) -> int:
        return max(self.bead_types.values()) + 1

    @cached_property
    def max_slots(self) -> int:
        """Largest number of rebuilt atoms in any bead (network vectors per bead)."""
        return max((len(s) for m in self.molecules for s in m.slots.values()), default=0)

    def slots(self, molecule: MoleculeMapping, bead: str) -> tuple[Slot, ...]:
        return molecule.slots[bead]

    def bead_type(self, molecule: MoleculeMapping, bead: str) -> int:
        return self.bead_types[bead_key(molecule.name, bead)]

    def covers(self, resname: str) -> bool:
        return resname in self.by_resname

    def match(self, resname: str, atom_names: list[str] | tuple[str, ...]) -> ResidueMatch | None:
        """Best molecule mapping for a residue, by name and then by atom names; ``None``
        when no mapping answers to ``resname``."""
        candidates = self.by_resname.get(resname)
        if not candidates:
            return None
        matches = [m.match(atom_names) for m in candidates]
        # own-name mappings come first, so max() keeps them on ties
        return max(matches, key=lambda r: r.score)
