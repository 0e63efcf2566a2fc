"""The equivariant network: configuration, bead graphs, the HEroBM model, ensembles, chunked inference."""

from .config import ModelConfig
from .ensemble import Ensemble
from .graph import Graph, edge_flags, neighbour_list
from .network import HEroBMNet

__all__ = ["Ensemble", "Graph", "HEroBMNet", "ModelConfig", "edge_flags", "neighbour_list"]
