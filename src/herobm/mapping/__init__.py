"""Mapping layer: which atoms make each bead, with which weights, rebuilt in which order."""

from ..errors import MappingError, MappingSyntaxError
from .grammar import AtomLine, BeadMembership, HierarchyLabel, parse_atom_line, parse_label
from .loader import dump_molecule, load_mapping_set, load_molecule, molecule_from_text, shipped_sets
from .molecule import MoleculeMapping, ResidueMatch, Slot
from .mset import MappingSet, bead_key

__all__ = [
    "AtomLine",
    "BeadMembership",
    "HierarchyLabel",
    "MappingError",
    "MappingSet",
    "MappingSyntaxError",
    "MoleculeMapping",
    "ResidueMatch",
    "Slot",
    "bead_key",
    "dump_molecule",
    "load_mapping_set",
    "load_molecule",
    "molecule_from_text",
    "parse_atom_line",
    "parse_label",
    "shipped_sets",
]
