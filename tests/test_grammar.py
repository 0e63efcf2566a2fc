"""Mapping-file grammar: tokens, labels, weights, formatting round trip."""

from fractions import Fraction

import pytest

from herobm.mapping import HierarchyLabel, MappingSyntaxError, dump_molecule, molecule_from_text, parse_atom_line, parse_label
from herobm.mapping.label import label_ids

SER = """\
molecule: SER
atoms:
  N:        BB   P2AA
  H,HN:     BB
  CA:       BB   P1A
  HA:       BB   !
  C:        BB   P2AB
  O,OT1:    BB   P3BA
  OXT,OT2:  BB   P3BB  ?
  CB:       SC1  P1A
  OG:       SC1  P2AA
  HG,HG1:   SC1
"""


@pytest.mark.parametrize(
    "text, level, anchor, ident",
    [("P1A", 1, None, "A"), ("P0A", 0, None, "A"), ("P2AB", 2, "A", "B"), ("P3BA", 3, "B", "A"), ("P2AB:C", 2, "AB", "C"), ("P12Z:AA", 12, "Z", "AA")],
)
def test_parse_label(text, level, anchor, ident):
    lab = parse_label(text)
    assert (lab.level, lab.anchor, lab.id) == (level, anchor, ident)
    assert str(lab) == text


@pytest.mark.parametrize("text", ["P2ABC", "P1A:B", "PA", "P2a", "Q1A", "P"])
def test_bad_labels(text):
    with pytest.raises(ValueError):
        parse_label(text)


def test_shared_atom_line():
    line = parse_atom_line("CD1", "SC1,SC2 P2AB,P2AA 1/3,2/3")
    assert [b.bead for b in line.beads] == ["SC1", "SC2"]
    assert [b.weight for b in line.beads] == [Fraction(1, 3), Fraction(2, 3)]
    assert line.beads[0].label == HierarchyLabel(2, "B", "A")
    assert line.rebuilt and not line.optional


def test_decimal_weights_and_flags():
    line = parse_atom_line("C1", "R1,R2 P1A,- 0.25,0.75")
    assert line.beads[1].label is None and line.beads[1].weight == Fraction(3, 4)
    line = parse_atom_line("HA", "BB !")
    assert line.beads[0].excluded and not line.rebuilt
    line = parse_atom_line("ZN", "ZN P0A CM")
    assert line.beads[0].is_cm


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("CD1", "SC1,SC2 P2AB,P2AA 1/3,1/3", "sum to 1"),
        ("CD1", "SC1,SC2 P2AB 1/2,1/2", "has 1 entry"),
        ("CD1", "SC1,SC2 P2AB,P2AA 1/3", "has 1 entry"),
        ("CA", "BB P1A XYZ", "unknown token 'XYZ'"),
        ("CA", "BB P1A P1B", "two hierarchy labels"),
        ("CA", "BB CM !", "both CM and excluded"),
        ("CA", "", "no bead"),
        ("CA", "BB,BB", "bead repeated"),
        ("C A", "BB", "bad atom name"),
        ("CA", "BB 1/0", "divides by zero"),
    ],
)
def test_bad_lines(key, value, message):
    with pytest.raises(ValueError, match=message):
        parse_atom_line(key, value)


def test_dump_round_trip():
    m = molecule_from_text(SER, "ser.yaml")
    again = molecule_from_text(dump_molecule(m), "again.yaml")
    assert again.atoms == m.atoms
    assert m.beads == ("BB", "SC1")
    # slots sorted by level then id, anchors point inside the bead
    bb = m.slots["BB"]
    assert [m.atoms[s.atom].name for s in bb] == ["CA", "N", "C", "O", "OXT"]
    assert [s.anchor for s in bb] == [-1, 0, 0, 2, 2]


def test_matching_uses_naming_columns():
    m = molecule_from_text(SER, "ser.yaml")
    charmm = m.match(["N", "HN", "CA", "HA", "CB", "OG", "HG1", "C", "OT1", "OT2"])
    assert charmm.column == 1 and not charmm.unmapped and not charmm.missing_required
    amber = m.match(["N", "H", "CA", "HA", "CB", "OG", "HG", "C", "O"])
    assert amber.column == 0 and not amber.unmapped and "OXT" in amber.missing_optional
    mixed = m.match(["N", "HN", "CA", "HA", "CB", "OG", "HG1", "C", "O"])  # CHARMM, not terminal
    assert not mixed.unmapped and not mixed.missing_required
    broken = m.match(["N", "CA", "C", "O", "XX"])
    assert broken.unmapped == ("XX",) and set(broken.missing_required) == {"CB", "OG"}


def test_label_ids_extend_past_z():
    ids = label_ids(28)
    assert ids[:3] == ["A", "B", "C"] and ids[25:] == ["Z", "AA", "AB"]
