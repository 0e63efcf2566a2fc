"""Metrics comparing a predicted (backmapped) all-atom structure with the ground truth.

Pure functions on numpy arrays of matched atoms (Å, degrees):

* :mod:`.matching` - residue-name equivalence, residue and atom pairing;
* :mod:`.rmsd` - RMSD, Kabsch superposition, symmetric side-chain atom swap;
* :mod:`.geometry` - bonds, angles, clashes, chirality, cis peptides, Ramachandran;
* :mod:`.distributions` - χ1/χ2 definitions, KL divergence of torsion histograms;
* :mod:`.lipids` - per-lipid-type RMSD, head-group and tail-end RDFs.

:func:`herobm.evaluate.evaluate` applies them to two structures or trajectories.
"""

from . import distributions, geometry, lipids, matching, rmsd

__all__ = ["distributions", "geometry", "lipids", "matching", "rmsd"]
