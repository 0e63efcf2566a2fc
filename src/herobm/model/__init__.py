"""The equivariant network: configuration, bead graphs, the HEroBM model, chunked inference."""

from .config import ModelConfig
from .graph import Graph, edge_flags, neighbour_list
from .network import HEroBMNet

__all__ = ["Graph", "HEroBMNet", "ModelConfig", "edge_flags", "neighbour_list"]
