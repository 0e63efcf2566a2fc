"""Grammar of one atom line in a herobm / CGmap mapping file.

A line of the ``atoms:`` section reads::

    ATOM[,ALIAS...]: BEAD[,BEAD2...] [TOKEN[,TOKEN2...]] ...

Every token group after the bead list holds one entry per bead (comma
separated, an empty entry or ``-`` meaning "nothing for this bead"):

``P{level}{anchor}{id}``
    hierarchy label. Level 0: the atom sits on the bead; level 1: it hangs off
    the bead position (``P1A``: level 1, id ``A``); level >= 2: it hangs off the
    atom of the level above whose id is ``anchor`` (``P2AB``: level 2, anchor
    ``A``, id ``B``). Ids longer than one letter are written with a colon,
    ``P2AB:C`` (anchor ``AB``, id ``C``).
``CM``
    the bead sits on this atom.
``!``
    the atom belongs to the bead but is excluded from the bead centre
    (a lone ``!`` applies to every bead of the line).
``1/3`` or ``0.5``
    the atom's weight in that bead (an atom shared by several beads splits
    its weight equally when none is given; given weights must sum to 1).
``?``
    atom-level flag: the atom is optional (present only in some instances of
    the molecule, e.g. a terminal OXT). Atoms without a hierarchy label
    (normally hydrogens) are always optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import MappingSyntaxError

__all__ = [
    "MappingSyntaxError",
    "HierarchyLabel",
    "BeadMembership",
    "AtomLine",
    "parse_label",
    "parse_atom_line",
    "format_atom_line",
]

_LABEL_RE = re.compile(r"^P(\d+)([A-Z]+)(?::([A-Z]+))?$")
_FRACTION_RE = re.compile(r"^\d+/\d+$")
_DECIMAL_RE = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9'*+_\-]+$")


@dataclass(frozen=True)
class HierarchyLabel:
    """Place of an atom in its bead's rebuild hierarchy.

    ``anchor`` is ``None`` for levels 0 and 1 (they are placed from the bead).
    """

    level: int
    id: str
    anchor: str | None = None

    def __str__(self) -> str:
        if self.level <= 1:
            return f"P{self.level}{self.id}"
        if len(self.anchor) == 1 and len(self.id) == 1:
            return f"P{self.level}{self.anchor}{self.id}"
        return f"P{self.level}{self.anchor}:{self.id}"


@dataclass(frozen=True)
class BeadMembership:
    """One (atom, bead) pair of a mapping line."""

    bead: str
    label: HierarchyLabel | None = None
    weight: Fraction | None = None  # explicit weight, None = default split
    is_cm: bool = False
    excluded: bool = False  # the "!" flag


@dataclass(frozen=True)
class AtomLine:
    """A parsed line: the atom's names (first one canonical) and its beads."""

    names: tuple[str, ...]
    beads: tuple[BeadMembership, ...]
    optional: bool = False

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def rebuilt(self) -> bool:
        """True when the atom has a hierarchy label in at least one bead."""
        return any(b.label is not None for b in self.beads)


def parse_label(text: str) -> HierarchyLabel:
    """Parse ``P{level}{anchor}{id}``; raises ``ValueError`` with the reason."""
    m = _LABEL_RE.match(text)
    if m is None:
        raise ValueError(f"'{text}' is not a hierarchy label (expected e.g. P1A, P2AB, P3AB:C)")
    level = int(m.group(1))
    letters, explicit_id = m.group(2), m.group(3)
    if level <= 1:
        if explicit_id is not None:
            raise ValueError(f"'{text}': a level-{level} label has no anchor (write P{level}{letters})")
        return HierarchyLabel(level=level, id=letters)
    if explicit_id is not None:
        return HierarchyLabel(level=level, id=explicit_id, anchor=letters)
    if len(letters) != 2:
        raise ValueError(
            f"'{text}' is ambiguous: with ids longer than one letter write P{level}ANCHOR:ID"
        )
    return HierarchyLabel(level=level, id=letters[1], anchor=letters[0])


def _parse_weight(text: str) -> Fraction:
    if _FRACTION_RE.match(text):
        num, den = text.split("/")
        if int(den) == 0:
            raise ValueError(f"weight '{text}' divides by zero")
        return Fraction(int(num), int(den))
    if _DECIMAL_RE.match(text):
        return Fraction(text).limit_denominator(10**6)
    raise ValueError(f"unknown token '{text}'")


def _classify(entry: str) -> str:
    if entry in ("", "-"):
        return "empty"
    if entry == "CM":
        return "cm"
    if entry == "!":
        return "excl"
    if entry.startswith("P") and entry[1:2].isdigit():
        return "label"
    if _FRACTION_RE.match(entry) or _DECIMAL_RE.match(entry):
        return "weight"
    return "unknown"


def parse_atom_line(key: str, value: str) -> AtomLine:
    """Parse one ``ATOM[,ALIAS]: BEAD[,BEAD2] tokens`` entry.

    Raises ``ValueError`` with a message that names the offending token; the
    loader adds file, line and atom.
    """
    names = tuple(n.strip() for n in str(key).split(","))
    if not names or any(not n or not _NAME_RE.match(n) for n in names):
        raise ValueError(f"bad atom name(s) '{key}'")
    if len(set(names)) != len(names):
        raise ValueError(f"atom name repeated in '{key}'")
    if value is None or not str(value).strip():
        raise ValueError("no bead given")
    tokens = str(value).split()
    beads = [b.strip() for b in tokens[0].split(",")]
    if any(not b or not _NAME_RE.match(b) for b in beads):
        raise ValueError(f"bad bead list '{tokens[0]}'")
    if len(set(beads)) != len(beads):
        raise ValueError(f"bead repeated in '{tokens[0]}'")
    n = len(beads)
    labels: list[HierarchyLabel | None] = [None] * n
    weights: list[Fraction | None] = [None] * n
    cm = [False] * n
    excl = [False] * n
    optional = False
    for token in tokens[1:]:
        if token == "?":
            optional = True
            continue
        if token == "!":
            excl = [True] * n
            continue
        entries = token.split(",")
        if len(entries) != n:
            raise ValueError(
                f"token '{token}' has {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} "
                f"but the atom is in {n} bead(s) ({','.join(beads)})"
            )
        for i, entry in enumerate(entries):
            kind = _classify(entry)
            if kind == "empty":
                continue
            if kind == "unknown":
                raise ValueError(f"unknown token '{entry}'")
            if kind == "cm":
                cm[i] = True
            elif kind == "excl":
                excl[i] = True
            elif kind == "label":
                if labels[i] is not None:
                    raise ValueError(f"two hierarchy labels for bead {beads[i]}")
                labels[i] = parse_label(entry)
            else:
                if weights[i] is not None:
                    raise ValueError(f"two weights for bead {beads[i]}")
                weights[i] = _parse_weight(entry)
    for i in range(n):
        if cm[i] and excl[i]:
            raise ValueError(f"atom is both CM and excluded ('!') in bead {beads[i]}")
        if weights[i] is not None and weights[i] <= 0:
            raise ValueError(f"weight for bead {beads[i]} must be positive (use '!' to exclude)")
    given = [w for w in weights if w is not None]
    counted = [i for i in range(n) if not excl[i]]
    if n > 1 and given:
        if any(weights[i] is None for i in counted):
            raise ValueError(f"shared atom: give a weight for every bead ({','.join(beads)}) or none")
        total = sum(weights[i] for i in counted)
        if total != 1:
            raise ValueError(
                f"weights of a shared atom must sum to 1, got "
                f"{' + '.join(str(weights[i]) for i in counted)} = {total}"
            )
    members = tuple(
        BeadMembership(bead=beads[i], label=labels[i], weight=weights[i], is_cm=cm[i], excluded=excl[i])
        for i in range(n)
    )
    return AtomLine(names=names, beads=members, optional=optional)


def _format_weight(w: Fraction) -> str:
    return str(w) if w.denominator != 1 else str(w.numerator)


def format_atom_line(line: AtomLine) -> tuple[str, str]:
    """Inverse of :func:`parse_atom_line`: returns ``(key, value)`` strings."""
    key = ",".join(line.names)
    parts = [",".join(b.bead for b in line.beads)]
    if any(b.label for b in line.beads):
        parts.append(",".join(str(b.label) if b.label else "-" for b in line.beads))
    if any(b.is_cm for b in line.beads):
        parts.append(",".join("CM" if b.is_cm else "-" for b in line.beads))
    if all(b.excluded for b in line.beads):
        parts.append("!")
    elif any(b.excluded for b in line.beads):
        parts.append(",".join("!" if b.excluded else "-" for b in line.beads))
    if any(b.weight is not None for b in line.beads):
        parts.append(",".join(_format_weight(b.weight) if b.weight is not None else "-" for b in line.beads))
    if line.optional:
        parts.append("?")
    return key, " ".join(parts)
