"""Exceptions herobm raises for bad input; each message names the file, residue or atom."""

from __future__ import annotations

__all__ = ["HerobmError", "MappingSyntaxError", "MappingError", "InputError"]


class HerobmError(Exception):
    """Base class: the CLI prints these as one-line errors, without a traceback."""


class MappingSyntaxError(HerobmError, ValueError):
    """A mapping file that cannot be read; the message names file, line and atom."""


class MappingError(MappingSyntaxError):
    """A mapping that parses but cannot work (bad hierarchy, weights, names)."""


class InputError(HerobmError, ValueError):
    """A structure or trajectory that cannot be mapped as asked."""
