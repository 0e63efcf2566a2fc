"""Convert Martini mappings shipped by vermouth (martinize2's data) into herobm files.

vermouth stores, for every atom, the beads it contributes to with a weight
(0 for atoms written ``!BEAD``), and the bond graph of the all-atom residue in
its force-field blocks. Both carry over: weights give our weights and ``!``
flags, the bond graph gives the hierarchy labels (:func:`auto_label`).
"""

from __future__ import annotations

import os
from fractions import Fraction
from functools import lru_cache

from ..errors import MappingError
from .grammar import AtomLine, BeadMembership
from .label import auto_label
from .molecule import MoleculeMapping

__all__ = ["vermouth_mappings", "vermouth_molecule", "vermouth_bonds", "import_vermouth"]


@lru_cache(maxsize=None)
def vermouth_mappings(ff_from: str, ff_to: str) -> dict:
    """``{molecule name: vermouth Mapping}`` for one force-field pair (needs vermouth)."""
    try:
        import vermouth
        import vermouth.forcefield
        import vermouth.map_input
    except ImportError as exc:  # pragma: no cover - vermouth is a dependency
        raise MappingError("importing vermouth mappings needs the 'vermouth' package") from exc
    data = vermouth.DATA_PATH
    ffs = vermouth.forcefield.find_force_fields(os.path.join(data, "force_fields"))
    maps = vermouth.map_input.read_mapping_directory(os.path.join(data, "mappings"), ffs)
    if ff_from not in maps or ff_to not in maps[ff_from]:
        raise MappingError(f"vermouth has no mappings from '{ff_from}' to '{ff_to}'")
    return {k: v for k, v in maps[ff_from][ff_to].items() if isinstance(k, str)}


def _get(name: str, ff_from: str, ff_to: str):
    maps = vermouth_mappings(ff_from, ff_to)
    if name not in maps:
        raise MappingError(
            f"vermouth has no {ff_from} -> {ff_to} mapping for '{name}' "
            f"(it has: {', '.join(sorted(maps))})"
        )
    return maps[name]


def vermouth_bonds(name: str, ff_from: str = "charmm", ff_to: str = "martini3001") -> list[tuple[str, str]]:
    """Bonds of the all-atom residue, as atom-name pairs, from vermouth's force field."""
    vm = _get(name, ff_from, ff_to)
    g = vm.block_from
    return [(g.nodes[a].get("atomname", a), g.nodes[b].get("atomname", b)) for a, b in g.edges]


def vermouth_molecule(name: str, ff_from: str = "charmm", ff_to: str = "martini3001") -> MoleculeMapping:
    """The unlabelled herobm mapping of one vermouth molecule (weights and ``!`` flags)."""
    vm = _get(name, ff_from, ff_to)
    bead_order = {b: i for i, b in enumerate(vm.block_to.nodes)}
    atoms = []
    for atom, beads in vm.mapping.items():
        atom_name = vm.block_from.nodes[atom].get("atomname", atom) if atom in vm.block_from.nodes else atom
        items = sorted(beads.items(), key=lambda kv: bead_order.get(kv[0], len(bead_order)))
        positive = [w for _, w in items if w > 0]
        equal = len(set(round(w, 9) for w in positive)) <= 1
        members = []
        for bead, w in items:
            bead_name = vm.block_to.nodes[bead].get("atomname", bead) if bead in vm.block_to.nodes else bead
            weight = None
            # explicit weights also when some beads are '!': the default equal split would
            # count the excluded beads ('X SC1 !SC2' must weigh 1 in SC1, not 1/2)
            if len(items) > 1 and w > 0 and (not equal or len(positive) < len(items)):
                weight = Fraction(w / sum(positive)).limit_denominator(100)
            members.append(BeadMembership(bead=str(bead_name), excluded=(w == 0), weight=weight))
        atoms.append(AtomLine(names=(str(atom_name),), beads=tuple(members)))
    return MoleculeMapping(name=name, atoms=tuple(atoms), source=f"vermouth:{ff_from}->{ff_to}:{name}")


def import_vermouth(
    name: str, ff_from: str = "charmm", ff_to: str = "martini3001", roots: dict[str, str] | None = None
) -> MoleculeMapping:
    """A labelled herobm mapping of a vermouth molecule (e.g. ``BENZ``, ``PHE``)."""
    return auto_label(vermouth_molecule(name, ff_from, ff_to), vermouth_bonds(name, ff_from, ff_to), roots=roots)
