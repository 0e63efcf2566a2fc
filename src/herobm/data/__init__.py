"""Training data: extraction of samples from all-atom inputs, on-disk storage, reading."""

from .build import BuildReport, InputSpec, build_dataset, parse_input_spec, parse_split
from .sample import Sample, make_sample, read_sample
from .store import DatasetReader

__all__ = [
    "BuildReport",
    "DatasetReader",
    "InputSpec",
    "Sample",
    "build_dataset",
    "make_sample",
    "parse_input_spec",
    "parse_split",
    "read_sample",
]
