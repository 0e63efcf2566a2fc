"""herobm: backmapping coarse-grained structures to all-atom ones with an
E(3)-equivariant graph neural network."""

__version__ = "0.1.0.dev0"

from .errors import HerobmError, InputError, MappingError, MappingSyntaxError  # noqa: E402
from .mapping import MappingSet, load_mapping_set  # noqa: E402
from .mapper import check_mapping, map_structure  # noqa: E402

__all__ = [
    "__version__",
    "HerobmError",
    "InputError",
    "MappingError",
    "MappingSyntaxError",
    "MappingSet",
    "load_mapping_set",
    "map_structure",
    "check_mapping",
]
