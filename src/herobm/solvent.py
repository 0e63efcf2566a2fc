"""Water and ions by rule: no network, no mapping file.

Martini water beads stand for several water molecules (W: 4, SW: 3, TW: 2); their
oxygens are placed on a regular polygon/tetrahedron around the bead, 2.8 Å apart
(the O-O distance of hydrogen-bonded water), randomly oriented per bead and frame.
Ion beads become the ion at the bead position. Hydrogens of water are added by the
refinement (``--hydrogens``) like every other hydrogen. Positions in Å.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["SolventRule", "WATER_RULES", "ION_ELEMENTS", "ION_RULES", "solvent_rule", "water_offsets", "place_solvent"]

OO_DISTANCE = 2.8  # Å


@dataclass(frozen=True)
class SolventRule:
    """One CG bead -> ``count`` molecules of ``resname`` with one atom ``atom`` each."""

    resname: str
    atom: str
    element: str
    count: int


WATER = ("HOH", "O", "O")
# (residue name, bead name) as Martini writes them -> rule; resname None = any
WATER_RULES: dict[tuple[str, str], SolventRule] = {}
for _res, _bead, _n in [("W", "W", 4), ("SOL", "W", 4), ("PW", "W", 4), ("WN", "W", 4), ("SW", "SW", 3), ("TW", "TW", 2),
                        ("W", "SW", 3), ("W", "TW", 2)]:
    WATER_RULES[(_res, _bead)] = SolventRule(*WATER, _n)

# ion atom/bead names as force fields and Martini spell them -> element (the one table of
# ion names in herobm; herobm.cg_system uses it for single-atom molecules too)
ION_ELEMENTS: dict[str, str] = {}
for _el, _names in [("Na", ("NA", "NA+", "SOD", "TNA")), ("Cl", ("CL", "CL-", "CLA", "TCL")),
                    ("K", ("K", "K+", "POT")), ("Ca", ("CA", "CA+", "CA2+", "CAL")), ("Mg", ("MG", "MG2+")),
                    ("Zn", ("ZN", "ZN2+", "ZNM", "ZND")), ("Fe", ("FE",)), ("Mn", ("MN",)), ("Cu", ("CU",)),
                    ("Br", ("BR",)), ("Li", ("LI",)), ("Cs", ("CS",)), ("Rb", ("RB",))]:
    for _n in _names:
        ION_ELEMENTS[_n] = _el
# ion bead -> the ion, with residue and atom named as amber14 names them (NA, CL, ZN, ...)
ION_RULES: dict[str, SolventRule] = {n: SolventRule(el.upper(), el.upper(), el, 1) for n, el in ION_ELEMENTS.items()}
ION_RESNAMES = {"ION", "IONS"}


def solvent_rule(resname: str, bead_names: tuple[str, ...]) -> SolventRule | None:
    """The rule for a one-bead CG residue, or None (not water or an ion).

    Water: (residue, bead) in :data:`WATER_RULES`. Ions: a single bead named like an ion
    (NA, CL, K, CA, MG, ZN and CHARMM/charge-suffixed spellings) whose residue has the
    same name or is ``ION``.
    """
    if len(bead_names) != 1:
        return None
    bead = bead_names[0]
    rule = WATER_RULES.get((resname, bead))
    if rule is not None:
        return rule
    ion = ION_RULES.get(bead.upper())
    if ion is not None and (resname.upper() in ION_RESNAMES or ION_RULES.get(resname.upper()) == ion):
        return ion
    return None


def water_offsets(count: int) -> np.ndarray:
    """(count, 3) unit-free offsets (Å) of ``count`` oxygens around their bead centre:
    a tetrahedron (4), a triangle (3), a pair (2) or the centre (1), neighbours 2.8 Å apart."""
    if count == 1:
        return np.zeros((1, 3))
    if count == 2:
        return np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]]) * OO_DISTANCE
    if count == 3:
        ang = 2 * np.pi * np.arange(3) / 3
        return np.stack([np.cos(ang), np.sin(ang), np.zeros(3)], 1) * OO_DISTANCE / np.sqrt(3)
    if count == 4:
        t = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
        return t * OO_DISTANCE / np.sqrt(8 / 3)
    raise ValueError(f"no water layout for {count} molecules per bead")


def place_solvent(centres: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(sum(counts), 3) atom positions (Å) for beads at ``centres`` (n, 3) standing for
    ``counts`` (n,) molecules each, bead by bead, randomly oriented."""
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 3)
    counts = np.asarray(counts, dtype=np.int64)
    out = np.empty((int(counts.sum()), 3))
    start = np.r_[0, np.cumsum(counts)]
    for c in np.unique(counts):
        beads = np.flatnonzero(counts == c)
        rot = Rotation.random(len(beads), random_state=rng).as_matrix()  # (n, 3, 3), uniform
        pts = centres[beads, None, :] + np.einsum("bij,kj->bki", rot, water_offsets(int(c)))
        idx = start[beads][:, None] + np.arange(c)
        out[idx.ravel()] = pts.reshape(-1, 3)
    return out
