"""One molecule type's mapping: atoms, beads, weights and rebuild hierarchy."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from .grammar import AtomLine, HierarchyLabel

__all__ = ["Slot", "MoleculeMapping", "ResidueMatch"]


@dataclass(frozen=True)
class Slot:
    """A rebuilt atom inside one bead: the network predicts one vector per slot.

    ``anchor`` is the index of the anchor slot in the same bead, or -1 when the
    atom is placed from the bead position (levels 0 and 1).
    ``weight`` combines the positions of an atom rebuilt from several beads.
    """

    atom: int  # index into MoleculeMapping.atoms
    level: int
    anchor: int
    weight: float


@dataclass(frozen=True)
class ResidueMatch:
    """How the atoms of one residue were matched to a molecule mapping.

    ``atom_line[i]`` is the mapping line of residue atom ``i`` or -1 when no
    line covers that atom.
    """

    molecule: "MoleculeMapping"
    column: int
    atom_line: tuple[int, ...]
    missing_required: tuple[str, ...]
    missing_optional: tuple[str, ...]
    unmapped: tuple[str, ...]

    @property
    def score(self) -> tuple[int, int, int]:
        """Higher is better: complete first, then fewest unmapped, then most matched."""
        matched = sum(1 for x in self.atom_line if x >= 0)
        return (-len(self.missing_required), -len(self.unmapped), matched)


@dataclass(frozen=True)
class MoleculeMapping:
    """A validated mapping of one molecule type (residue name).

    Build it with :func:`herobm.mapping.load_molecule` (from YAML) or directly
    from parsed :class:`AtomLine` objects; the constructor validates.
    """

    name: str
    atoms: tuple[AtomLine, ...]
    aliases: tuple[str, ...] = ()
    source: str = "<memory>"
    lines: tuple[int, ...] = field(default=(), compare=False)  # file line of each atom
    # residue template bonds as atom-name pairs; "+N" / "-C" name an atom of the
    # next / previous residue (links such as the peptide bond)
    bonds: tuple[tuple[str, str], ...] = ()
    # bead centre weighting of this molecule ("mass" | "geometric"); None: the set's
    weighting: str | None = None

    def __post_init__(self) -> None:
        from .validate import validate_molecule

        validate_molecule(self)

    # ------------------------------------------------------------------ beads
    @cached_property
    def beads(self) -> tuple[str, ...]:
        """Bead names in order of first appearance."""
        seen: dict[str, None] = {}
        for line in self.atoms:
            for m in line.beads:
                seen.setdefault(m.bead, None)
        return tuple(seen)

    @cached_property
    def resnames(self) -> tuple[str, ...]:
        """Residue names this mapping answers to (its name first)."""
        return (self.name,) + tuple(a for a in self.aliases if a != self.name)

    def where(self, atom: int) -> str:
        """'file:line (atom NAME)' for messages."""
        line = self.lines[atom] if atom < len(self.lines) else "?"
        return f"{self.source}:{line} (atom {self.atoms[atom].name})"

    @cached_property
    def members(self) -> dict[str, tuple[tuple[int, int], ...]]:
        """bead -> ((atom index, membership index in that atom's line), ...)."""
        out: dict[str, list[tuple[int, int]]] = {b: [] for b in self.beads}
        for i, line in enumerate(self.atoms):
            for k, m in enumerate(line.beads):
                out[m.bead].append((i, k))
        return {b: tuple(v) for b, v in out.items()}

    def membership_weight(self, atom: int, k: int) -> Fraction:
        """Share of atom ``atom`` in the centre of its ``k``-th bead: the explicit weight,
        else an equal split over the beads where it is not excluded ('!' beads get 0)."""
        line = self.atoms[atom]
        mem = line.beads[k]
        if mem.excluded:
            return Fraction(0)
        if mem.weight is not None:
            return mem.weight
        return Fraction(1, sum(1 for b in line.beads if not b.excluded))

    @cached_property
    def centre_weights(self) -> dict[str, tuple[tuple[int, float], ...]]:
        """bead -> ((atom index, weight before mass weighting), ...).

        A bead with a ``CM`` atom sits on it; ``!`` atoms weigh zero.
        """
        out = {}
        for bead, mem in self.members.items():
            cm = [a for a, k in mem if self.atoms[a].beads[k].is_cm]
            if cm:
                out[bead] = tuple((a, 1.0 if a == cm[0] else 0.0) for a, _ in mem)
            else:
                out[bead] = tuple((a, float(self.membership_weight(a, k))) for a, k in mem)
        return out

    @cached_property
    def slots(self) -> dict[str, tuple[Slot, ...]]:
        """bead -> rebuilt atoms ordered by (level, id); anchors index into the tuple."""
        out = {}
        for bead, mem in self.members.items():
            labelled = []
            for a, k in mem:
                lab = self.atoms[a].beads[k].label
                if lab is not None:
                    labelled.append((lab, a, k))
            labelled.sort(key=lambda t: (t[0].level, len(t[0].id), t[0].id))
            pos = {(lab.level, lab.id): j for j, (lab, _, _) in enumerate(labelled)}
            slots = []
            for lab, a, k in labelled:
                anchor = -1 if lab.level <= 1 else pos[(lab.level - 1, lab.anchor)]
                slots.append(Slot(atom=a, level=lab.level, anchor=anchor, weight=self._rebuild_weight(a, k)))
            out[bead] = tuple(slots)
        return out

    def _rebuild_weight(self, atom: int, k: int) -> float:
        line = self.atoms[atom]
        labelled = [j for j, m in enumerate(line.beads) if m.label is not None]
        total = sum(self.membership_weight(atom, j) for j in labelled)
        if total == 0:  # rebuilt only from beads it is excluded from: equal split
            return 1.0 / len(labelled)
        return float(self.membership_weight(atom, k) / total)

    def atom_index(self, name: str) -> int:
        """Index of the line that lists ``name`` (any naming column), -1 if none."""
        for i, line in enumerate(self.atoms):
            if name in line.names:
                return i
        return -1

    def label(self, atom: int, bead: str) -> HierarchyLabel | None:
        for m in self.atoms[atom].beads:
            if m.bead == bead:
                return m.label
        return None

    @cached_property
    def n_columns(self) -> int:
        """Number of naming conventions (alias columns) in the file."""
        return max(len(line.names) for line in self.atoms)

    def names_in_column(self, column: int) -> tuple[str | None, ...]:
        """Atom names under one naming convention (None where a line has no such column)."""
        return tuple(line.names[column] if column < len(line.names) else None for line in self.atoms)

    def display_name(self, atom: int, column: int) -> str:
        names = self.atoms[atom].names
        return names[column] if column < len(names) else names[0]

    @cached_property
    def _column_index(self) -> tuple[dict[str, int], ...]:
        # only lines that name the atom differently per convention tell conventions apart
        return tuple(
            {n: i for i, n in enumerate(self.names_in_column(c)) if n is not None and len(self.atoms[i].names) > 1}
            for c in range(self.n_columns)
        )

    @cached_property
    def _any_index(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, list[int]] = {}
        for i, line in enumerate(self.atoms):
            for n in line.names:
                out.setdefault(n, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    # --------------------------------------------------------------- matching
    def match(self, atom_names: list[str] | tuple[str, ...]) -> ResidueMatch:
        """Match a residue's atom names to this mapping.

        The naming column (convention) that explains most names is preferred;
        a name not in that column falls back to any line that lists it and is
        still free. Each mapping line takes at most one residue atom.
        """
        names_set = set(atom_names)
        scores = [len(names_set & index.keys()) for index in self._column_index]
        column = max(range(len(scores)), key=lambda c: (scores[c], -c))
        index = self._column_index[column]
        taken: set[int] = set()
        lines = [-1] * len(atom_names)
        for k, n in enumerate(atom_names):
            i = index.get(n, -1)
            if i >= 0 and i not in taken:
                lines[k] = i
                taken.add(i)
        for k, n in enumerate(atom_names):
            if lines[k] >= 0:
                continue
            for i in self._any_index.get(n, ()):
                if i not in taken:
                    lines[k] = i
                    taken.add(i)
                    break
        missing_req = tuple(
            self.display_name(i, column)
            for i, l in enumerate(self.atoms)
            if i not in taken and l.rebuilt and not l.optional
        )
        missing_opt = tuple(
            self.display_name(i, column)
            for i, l in enumerate(self.atoms)
            if i not in taken and not (l.rebuilt and not l.optional)
        )
        unmapped = tuple(n for n, x in zip(atom_names, lines) if x < 0)
        return ResidueMatch(self, column, tuple(lines), missing_req, missing_opt, unmapped)
