"""Lipid metrics: heavy-atom RMSD per lipid type and the comparison of radial
distribution functions of head-group and tail-end atoms.

RDFs are computed with :class:`MDAnalysis.analysis.rdf.InterRDF` (periodic box
required); everything else works on numpy arrays.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .matching import is_amino_acid
from .rmsd import displacements

__all__ = [
    "is_lipid",
    "per_type_rmsd",
    "tail_terminal_carbons",
    "compute_rdf",
    "rdf_difference",
    "RDF_BINS",
    "RDF_RMAX",
]

RDF_BINS = 75
RDF_RMAX = 15.0  # Å; reduced to just under half the shortest box edge when needed
MIN_LIPID_HEAVY = 30


def is_lipid(resname: str, elements: Sequence[str], known: frozenset[str] | set[str] = frozenset()) -> bool:
    """A residue is a lipid when its name is ``known`` (e.g. the lipid and sterol
    molecules of a mapping set and their aliases), or when it is no amino acid,
    has a phosphorus and at least 30 heavy atoms (phospholipids under other names)."""
    if str(resname) in known:
        return True
    if is_amino_acid(resname):
        return False
    elements = [str(e).upper() for e in elements]
    return "P" in elements and len(elements) >= MIN_LIPID_HEAVY


def per_type_rmsd(pred: np.ndarray, ref: np.ndarray, labels: Sequence[str], box=None) -> dict[str, float]:
    """RMSD (Å) over the atoms of each label (e.g. lipid residue name; '' = none),
    no superposition."""
    labels = np.asarray(labels, dtype=object)
    d2 = (displacements(pred, ref, box) ** 2).sum(-1)
    out = {}
    for lab in sorted({str(x) for x in labels if x}):
        m = labels == lab
        out[lab] = float(np.sqrt(d2[m].mean()))
    return out


def tail_terminal_carbons(bonds: np.ndarray, elements: Sequence[str], atoms: Sequence[int]) -> np.ndarray:
    """Terminal carbons of aliphatic chains among ``atoms``: carbons bonded to
    exactly one heavy atom, itself a carbon with exactly two heavy neighbours,
    both carbons (a CH3 at the end of a CH2 chain). Choline methyls (bonded to
    N) and sterol methyls (on branched carbons) are not tail ends.
    ``bonds`` are heavy-atom bonds (indices into ``elements``)."""
    n = len(elements)
    el = np.asarray([str(e).upper() for e in elements], dtype=object)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in np.asarray(bonds, dtype=np.int64).reshape(-1, 2):
        nbrs[i].append(int(j))
        nbrs[j].append(int(i))
    out = []
    for a in atoms:
        if el[a] != "C" or len(nbrs[a]) != 1:
            continue
        b = nbrs[a][0]
        if el[b] == "C" and len(nbrs[b]) == 2 and all(el[k] == "C" for k in nbrs[b]):
            out.append(int(a))
    return np.asarray(out, dtype=np.int64)


def compute_rdf(atomgroup, rmax: float = RDF_RMAX, nbins: int = RDF_BINS) -> tuple[np.ndarray, np.ndarray]:
    """g(r) of an atom group with itself over all frames of its trajectory
    (self pairs excluded): (bin centres in Å, g)."""
    from MDAnalysis.analysis.rdf import InterRDF

    rdf = InterRDF(atomgroup, atomgroup, nbins=nbins, range=(0.0, float(rmax)), exclusion_block=(1, 1))
    rdf.run()
    return np.asarray(rdf.results.bins, dtype=np.float64), np.asarray(rdf.results.rdf, dtype=np.float64)


def rdf_difference(r: np.ndarray, g_pred: np.ndarray, g_ref: np.ndarray) -> float:
    """Integrated absolute difference ∫|g_pred(r) - g_ref(r)| dr (Å; 0 when identical)."""
    r = np.asarray(r, dtype=np.float64)
    diff = np.abs(np.asarray(g_pred, dtype=np.float64) - np.asarray(g_ref, dtype=np.float64))
    dr = r[1] - r[0] if len(r) > 1 else 0.0
    return float(diff.sum() * dr)
