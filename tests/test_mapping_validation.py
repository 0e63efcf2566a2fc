"""Bad mapping files fail with a message naming file, line and atom."""

import pytest

from herobm.mapping import MappingError, MappingSyntaxError, load_mapping_set, load_molecule, molecule_from_text

GOOD = """\
molecule: SER
atoms:
  N:     BB   P2AA
  CA:    BB   P1A
  C:     BB   P2AB
  O:     BB   P3BA
  CB:    SC1  P1A
  OG:    SC1  P2AA
"""


def with_line(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    "text, pattern",
    [
        (with_line("O:     BB   P3BA", "O:     BB   P3CA"), r"ser\.yaml:6 \(atom O\): anchor 'C' .*does not exist"),
        (with_line("O:     BB   P3BA", "O:     BB   Q3BA"), r"ser\.yaml:6 \(atom O\): unknown token 'Q3BA'"),
        (with_line("OG:    SC1  P2AA", "N:     SC1  P2AA"), r"ser\.yaml:8 \(atom N\): duplicate atom N"),
        (with_line("C:     BB   P2AB", "C:     BB   P2AA"), r"ser\.yaml:5 \(atom C\): hierarchy label P2AA repeats"),
        (with_line("CB:    SC1  P1A\n  OG:    SC1  P2AA", "CB:    SC1  P2AA\n  OG:    SC1  P3AA"), r"bead SC1 .*none at level 0 or 1"),
        (with_line("CB:    SC1  P1A\n  OG:    SC1  P2AA", "CB:    SC1  P0A\n  OG:    SC1  P1A"), r"ser\.yaml:7 \(atom CB\): level-0 atom must sit on bead SC1"),
        (with_line("CB:    SC1  P1A\n  OG:    SC1  P2AA", "CB:    SC1  P1A !\n  OG:    SC1  P2AA !"), r"bead SC1 of SER has no atom that contributes"),
        (with_line("CB:    SC1  P1A", "CB:    SC1,BB  P1A,- 1/2,1/4"), r"ser\.yaml:7 \(atom CB\): weights of a shared atom must sum to 1"),
        (with_line("N:     BB   P2AA", "N:     BB   P2AA\n  N2:    BB   P2AC CM\n  N3:    BB   P2AD CM"), r"two CM atoms"),
        ("molecule: SER\n", r"missing or empty 'atoms:'"),
        ("", r"empty mapping file"),
        ("molecule: SER\natoms: [1, 2\n", r"not valid YAML"),
        ("molecule: SER\nresidue: X\natoms:\n  CA: BB P1A\n", r"unknown key 'residue'"),
        (GOOD.replace("atoms:", "weighting: heavy\natoms:"), r"ser\.yaml:2: weighting must be one of mass, geometric, got 'heavy'"),
    ],
)
def test_bad_mapping_files(text, pattern):
    with pytest.raises((MappingSyntaxError, MappingError), match=pattern):
        molecule_from_text(text, "ser.yaml")


def test_required_atom_on_optional_anchor():
    text = GOOD.replace("C:     BB   P2AB", "C:     BB   P2AB ?")
    with pytest.raises(MappingError, match=r"ser\.yaml:6 \(atom O\): required atom is anchored on optional atom C"):
        molecule_from_text(text, "ser.yaml")


def test_missing_file(tmp_path):
    with pytest.raises(MappingSyntaxError, match="cannot read mapping file"):
        load_molecule(tmp_path / "nope.yaml")


def test_unknown_mapping_name():
    with pytest.raises(MappingSyntaxError, match=r"unknown mapping 'martini9'.*shipped"):
        load_mapping_set("martini9")


def _write_set(folder, types: str, extra: dict | None = None):
    folder.mkdir()
    (folder / "ser.yaml").write_text(GOOD)
    (folder / "bead_types.yaml").write_text(types)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def test_set_needs_every_bead_type(tmp_path):
    f = _write_set(tmp_path / "s", "SER_BB: 0\n")
    with pytest.raises(MappingError, match=r"bead SC1 of SER .*no entry 'SER_SC1'"):
        load_mapping_set(f)


def test_set_rejects_stale_types(tmp_path):
    f = _write_set(tmp_path / "s", "SER_BB: 0\nSER_SC1: 1\nTHR_SC1: 2\n")
    with pytest.raises(MappingError, match="THR_SC1"):
        load_mapping_set(f)


def test_shared_type_needs_same_layout(tmp_path):
    f = _write_set(tmp_path / "s", "SER_BB: 0\nSER_SC1: 1\n")
    (f / "bead_types.yaml").write_text("SER_BB: 0\nSER_SC1: 0\n")
    with pytest.raises(MappingError, match="shared by SER_BB and SER_SC1"):
        load_mapping_set(f)


def test_duplicate_molecule(tmp_path):
    f = _write_set(tmp_path / "s", "SER_BB: 0\nSER_SC1: 1\n", {"ser2.yaml": GOOD})
    with pytest.raises(MappingError, match="molecule SER is defined twice"):
        load_mapping_set(f)


def test_molecule_weighting_overrides_the_set(tmp_path):
    """A molecule's own ``weighting:`` wins over settings.yaml and survives dump -> parse."""
    from herobm.mapping import dump_molecule

    text = GOOD.replace("atoms:", "weighting: geometric\natoms:")
    f = _write_set(tmp_path / "s", "SER_BB: 0\nSER_SC1: 1\nALA_BB: 2\n", {"ala.yaml": "molecule: ALA\natoms:\n  CA: BB P1A\n"})
    (f / "ser.yaml").write_text(text)
    s = load_mapping_set(f)
    ser, ala = (s.match(r, n).molecule for r, n in (("SER", ["N", "CA", "C", "O", "CB", "OG"]), ("ALA", ["CA"])))
    assert s.weighting == "mass" and s.weighting_of(ser) == "geometric" and s.weighting_of(ala) == "mass"
    again = molecule_from_text(dump_molecule(ser), "again.yaml")
    assert again.weighting == "geometric" and again.atoms == ser.atoms


def test_valid_set_loads(tmp_path):
    f = _write_set(tmp_path / "s", "SER_BB: 0\nSER_SC1: 1\n", {"settings.yaml": "weighting: geometric\n"})
    s = load_mapping_set(f)
    assert s.weighting == "geometric" and s.max_slots == 4 and s.n_bead_types == 2
    assert s.match("SER", ["N", "CA", "C", "O", "CB", "OG"]).molecule.name == "SER"
    assert s.match("XYZ", ["CA"]) is None
