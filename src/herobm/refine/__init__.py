"""Refinement of backmapped structures (optional; needs OpenMM and pdbfixer).

Steps, one module each, all positions in Å:

* :mod:`.backbone` - ideal backbone geometry and target φ/ψ for proteins (torch, CA fixed)
* :mod:`.relax` - the network's backbone moved the least toward ideal bonds and angles
* :mod:`.branches`, :mod:`.chirality`, :mod:`.clashes` - collapsed side-chain branches, inverted
  stereocentres, side chains in clashes
* :mod:`.hydrogens` - missing heavy atoms and hydrogens (pdbfixer, OpenMM templates)
* :mod:`.minimize` - energy minimisation (OpenMM Amber14, L-BFGS, CUDA when available)
* :mod:`.pipeline` - the steps chained for a backmapped frame or a structure file

See docs/refinement.md.
"""

from .backbone import BackboneGeometry, backbone_indices, backbone_report, carbonyl_directions, optimize_backbone
from .hydrogens import PROTONATION, Protonated, RefinementWarning, add_hydrogens
from .minimize import Minimized, minimize
from .pipeline import RefineReport, refine_frame, refine_structure
from .openmm_platform import select_platform
from .topology import Structure, read_structure, topology_from_system, write_structure

__all__ = [
    "BackboneGeometry",
    "backbone_indices",
    "backbone_report",
    "carbonyl_directions",
    "optimize_backbone",
    "PROTONATION",
    "Protonated",
    "RefinementWarning",
    "add_hydrogens",
    "Minimized",
    "minimize",
    "RefineReport",
    "refine_frame",
    "refine_structure",
    "select_platform",
    "Structure",
    "read_structure",
    "topology_from_system",
    "write_structure",
]
