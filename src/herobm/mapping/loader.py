"""Reading and writing mapping files and mapping sets (folders of them)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

from ..errors import MappingSyntaxError
from .grammar import format_atom_line, parse_atom_line
from .molecule import MoleculeMapping
from .mset import MappingSet
from .validate import WEIGHTINGS

__all__ = [
    "load_molecule",
    "molecule_from_text",
    "dump_molecule",
    "load_mapping_set",
    "shipped_sets",
    "BEAD_TYPES_FILE",
    "SETTINGS_FILE",
]

BEAD_TYPES_FILE = "bead_types.yaml"
SETTINGS_FILE = "settings.yaml"
_TOP_KEYS = {"molecule", "aliases", "atoms", "bonds", "description", "weighting"}
_SETTINGS_KEYS = {"name", "description", "weighting"}


def _compose(text: str, source: str):
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise MappingSyntaxError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _scalar(node, source: str, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise MappingSyntaxError(f"{source}:{node.start_mark.line + 1}: {what} must be a single value")
    return node.value


def molecule_from_text(text: str, source: str = "<string>") -> MoleculeMapping:
    """Parse the YAML text of one molecule mapping; errors name ``source``, line and atom."""
    root = _compose(text, source)
    if root is None:
        raise MappingSyntaxError(f"{source}: empty mapping file")
    if not isinstance(root, yaml.MappingNode):
        raise MappingSyntaxError(f"{source}:1: expected 'molecule:' and 'atoms:' keys")
    top: dict[str, yaml.Node] = {}
    for knode, vnode in root.value:
        key = _scalar(knode, source, "a key")
        if key not in _TOP_KEYS:
            raise MappingSyntaxError(
                f"{source}:{knode.start_mark.line + 1}: unknown key '{key}' (allowed: {', '.join(sorted(_TOP_KEYS))})"
            )
        if key in top:
            raise MappingSyntaxError(f"{source}:{knode.start_mark.line + 1}: key '{key}' given twice")
        top[key] = vnode
    if "molecule" not in top:
        raise MappingSyntaxError(f"{source}: missing 'molecule:' (the residue name)")
    if "atoms" not in top or not isinstance(top["atoms"], yaml.MappingNode) or not top["atoms"].value:
        raise MappingSyntaxError(f"{source}: missing or empty 'atoms:' section")
    name = _scalar(top["molecule"], source, "molecule").strip()
    aliases: tuple[str, ...] = ()
    if "aliases" in top:
        node = top["aliases"]
        if isinstance(node, yaml.SequenceNode):
            aliases = tuple(_scalar(n, source, "an alias").strip() for n in node.value)
        else:
            aliases = tuple(a.strip() for a in _scalar(node, source, "aliases").split(",") if a.strip())
    bonds: list[tuple[str, str]] = []
    if "bonds" in top:
        node = top["bonds"]
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items is None:
            raise MappingSyntaxError(f"{source}:{node.start_mark.line + 1}: 'bonds:' must be a list of 'ATOM ATOM' pairs")
        for item in items:
            pair = _scalar(item, source, "a bond").split()
            if len(pair) != 2:
                raise MappingSyntaxError(
                    f"{source}:{item.start_mark.line + 1}: bond '{item.value}' must name two atoms (e.g. 'CA CB', 'C +N')"
                )
            bonds.append((pair[0], pair[1]))
    atoms, lines = [], []
    for knode, vnode in top["atoms"].value:
        line_no = knode.start_mark.line + 1
        key = _scalar(knode, source, "an atom name")
        value = _scalar(vnode, source, f"the beads of atom {key}") if vnode is not None else ""
        try:
            atoms.append(parse_atom_line(key, value))
        except ValueError as exc:
            raise MappingSyntaxError(f"{source}:{line_no} (atom {key}): {exc}") from None
        lines.append(line_no)
    weighting = None
    if "weighting" in top:
        weighting = _scalar(top["weighting"], source, "weighting").strip()
        if weighting not in WEIGHTINGS:
            raise MappingSyntaxError(
                f"{source}:{top['weighting'].start_mark.line + 1}: weighting must be one of "
                f"{', '.join(WEIGHTINGS)}, got '{weighting}'"
            )
    return MoleculeMapping(
        name=name, atoms=tuple(atoms), aliases=aliases, source=source, lines=tuple(lines), bonds=tuple(bonds),
        weighting=weighting,
    )


def load_molecule(path: str | os.PathLike) -> MoleculeMapping:
    """Read one molecule mapping file (YAML)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise MappingSyntaxError(f"{path}: cannot read mapping file ({exc.strerror})") from None
    return molecule_from_text(text, str(path))


def dump_molecule(m: MoleculeMapping, header: str | None = None) -> str:
    """YAML text of a molecule mapping, aligned for reading; round-trips through the parser."""
    out = []
    if header:
        out += [f"# {h}" if h else "#" for h in header.splitlines()]
    out.append(f"molecule: {m.name}")
    if m.aliases:
        out.append(f"aliases: [{', '.join(m.aliases)}]")
    if m.weighting:
        out.append(f"weighting: {m.weighting}")
    out.append("atoms:")
    rows = [format_atom_line(a) for a in m.atoms]
    width = max(len(k) for k, _ in rows) + 1
    out += [f"  {(k + ':').ljust(width)} {v}" for k, v in rows]
    if m.bonds:
        pairs = [f"{a} {b}" for a, b in m.bonds]
        chunks = [", ".join(pairs[k : k + 10]) for k in range(0, len(pairs), 10)]
        out.append("bonds: [" + ",\n         ".join(chunks) + "]")
    return "\n".join(out) + "\n"


def _read_yaml_file(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MappingSyntaxError(f"{path}: not valid YAML ({exc})") from None


def shipped_sets() -> list[str]:
    """Names of the mapping sets shipped inside the package."""
    root = resources.files("herobm.mapping") / "data"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / BEAD_TYPES_FILE).is_file())


def _set_folder(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p
    shipped = resources.files("herobm.mapping") / "data" / str(name_or_path)
    if shipped.is_dir() and (shipped / BEAD_TYPES_FILE).is_file():
        return Path(str(shipped))
    raise MappingSyntaxError(
        f"unknown mapping '{name_or_path}': not a folder and not a shipped set "
        f"(shipped: {', '.join(shipped_sets())})"
    )


def load_mapping_set(name_or_path: str | os.PathLike) -> MappingSet:
    """Load a shipped mapping set by name (``martini3``, ``ca``) or a folder of YAML files.

    The folder holds one ``*.yaml`` per molecule, ``bead_types.yaml`` (``MOL_BEAD: type``,
    the network's stable bead-type order) and optionally ``settings.yaml``
    (``weighting: mass|geometric``).
    """
    folder = _set_folder(name_or_path)
    types_path = folder / BEAD_TYPES_FILE
    if not types_path.is_file():
        raise MappingSyntaxError(f"{folder}: mapping set has no {BEAD_TYPES_FILE}")
    bead_types = _read_yaml_file(types_path)
    if not isinstance(bead_types, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in bead_types.items()
    ):
        raise MappingSyntaxError(f"{types_path}: expected 'MOLECULE_BEAD: non-negative integer' lines")
    settings = {}
    if (folder / SETTINGS_FILE).is_file():
        settings = _read_yaml_file(folder / SETTINGS_FILE) or {}
        if not isinstance(settings, dict) or set(settings) - _SETTINGS_KEYS:
            raise MappingSyntaxError(
                f"{folder / SETTINGS_FILE}: allowed keys are {', '.join(sorted(_SETTINGS_KEYS))}"
            )
    files = sorted(p for p in folder.glob("*.yaml") if p.name not in (BEAD_TYPES_FILE, SETTINGS_FILE))
    if not files:
        raise MappingSyntaxError(f"{folder}: no molecule mapping files (*.yaml)")
    molecules = tuple(load_molecule(p) for p in files)
    return MappingSet(
        name=str(settings.get("name", folder.name)),
        molecules=molecules,
        bead_types=dict(bead_types),
        weighting=str(settings.get("weighting", "mass")),
        source=str(folder),
        description=str(settings.get("description", "")),
    )
