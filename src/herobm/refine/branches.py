"""Collapsed side-chain branches spread to tetrahedral geometry.

Where a network cannot tell a branch's rotamer (a Cα trace says nothing about χ1), its
squared-error training puts the two branch atoms near the mean of their possible places,
that is near each other: THR OG1 and CG2 0.4-0.5 Å apart, LEU CD1 and CD2 0.7-0.9 Å, where a
real sp³ branch has them ~2.5 Å apart (adenylate kinase from its Cα trace, docs/refinement.md).
Minimisation cannot be trusted to separate atoms that sit on top of each other, and a
structure written without it would keep them.

A branch is a centre X with its parent P and two children B, C (:data:`BRANCHES`). When the
angle B-X-C is below ``min_angle``, or B or C is closer than :data:`MIN_ARM` to X (no direction to
measure the angle by), B and C are put at the standard bond length from X
(:data:`BOND_LENGTH`), at the tetrahedral angle from P and from each other, turned about P-X so
that their mid-direction is the network's; at a stereocentre (THR and ILE Cβ) the handedness is
the natural one, else the assignment nearer the network's atoms. Positions in Å, angles in degrees.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import bond_angles
from ..metrics.geometry import CHIRAL_CENTRES
from ..metrics.matching import canonical_resname, element_of

__all__ = ["BRANCHES", "spread_branches"]

# residue -> (centre, parent, child, child): the sp³ branch points of the standard amino acids
BRANCHES: dict[str, tuple[str, str, str, str]] = {
    "THR": ("CB", "CA", "OG1", "CG2"),
    "VAL": ("CB", "CA", "CG1", "CG2"),
    "ILE": ("CB", "CA", "CG1", "CG2"),
    "LEU": ("CG", "CB", "CD1", "CD2"),
}
TETRAHEDRAL = float(np.degrees(np.arccos(-1.0 / 3.0)))  # 109.47°
# bond length (Å) from an sp³ carbon to a child of this element (amber14 equilibrium values, rounded)
BOND_LENGTH = {"C": 1.53, "O": 1.43}
MIN_ARM = 0.7  # Å: a child nearer its centre than half a bond counts as collapsed


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True).clip(1e-9)


def _perpendicular(u: np.ndarray) -> np.ndarray:
    """Some unit vector perpendicular to each row of ``u``."""
    trial = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    return _unit(trial - (trial * u).sum(-1, keepdims=True) * u)


def spread_branches(atom_name, atom_residue, residue_name, positions: np.ndarray,
                    min_angle: float = 60.0, residue_id=None) -> tuple[np.ndarray, list[str]]:
    """(positions with collapsed branches spread, labels like ``LEU 12 CG`` of the branches
    moved: residue name, ``residue_id`` or else position from 1, centre). A branch is collapsed
    when its two children make an angle below ``min_angle`` (°) at the centre or one of them is
    within :data:`MIN_ARM` Å of it; only those two
    children move, each with what hangs off it (ILE CD1, hydrogens). ``atom_residue`` indexes
    ``residue_name``."""
    x = np.asarray(positions, dtype=np.float64).copy()
    names = np.asarray(atom_name).astype(str)
    res = np.asarray(atom_residue, dtype=np.int64)
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(res, names))}
    by_residue: dict[int, list[tuple[str, int]]] = {}
    for (r, n), i in index.items():
        by_residue.setdefault(r, []).append((n, i))
    ids = np.arange(1, len(residue_name) + 1) if residue_id is None else np.asarray(residue_id)
    quads, labels, chiral = [], [], []
    for r in sorted(set(res.tolist())):
        rn = canonical_resname(str(residue_name[r]))
        spec = BRANCHES.get(rn)
        if spec is None:
            continue
        q = [index.get((r, a), -1) for a in spec]
        if min(q) < 0:
            continue
        quads.append(q)
        labels.append(f"{rn} {ids[r]} {spec[0]}")
        # the natural handedness as metrics.geometry states it: [centre, a, b, d] with b, d the children
        chiral.append(any(c == (spec[0], spec[1], spec[2], spec[3]) for c in CHIRAL_CENTRES.get(rn, ())))
    if not quads:
        return x, []
    q = np.asarray(quads, dtype=np.int64)
    arms = np.linalg.norm(x[q[:, 2:]] - x[q[:, :1]], axis=-1)  # (n, 2) Å
    # an arm under half a bond has no direction to judge an angle by (bond_angles gives 90° at 0 Å)
    bad = (np.degrees(bond_angles(x, q[:, [2, 0, 3]])) < min_angle) | (arms.min(axis=1) < MIN_ARM)
    if not bad.any():
        return x, []
    q = q[bad]
    X, P = x[q[:, 0]], x[q[:, 1]]
    vb, vc = x[q[:, 2]] - X, x[q[:, 3]] - X
    chiral = np.asarray(chiral)[bad]
    u = _unit(P - X)
    mid = vb + vc
    w = mid - (mid * u).sum(-1, keepdims=True) * u
    flat = np.linalg.norm(w, axis=-1) < 1e-3  # no mid-direction to keep: any will do
    w[flat] = _perpendicular(u[flat])
    w = _unit(w)
    v = np.cross(u, w)
    theta = np.radians(TETRAHEDRAL)
    # children at the tetrahedral angle from the parent and (azimuths ±60° about P-X) from each other
    side = [np.cos(theta) * u + np.sin(theta) * (0.5 * w + s * np.sqrt(0.75) * v) for s in (1.0, -1.0)]
    # [centre, parent, child at side 0, child at side 1]: the sign metrics.geometry.signed_volumes gives
    first_ok = (u * np.cross(side[0], side[1])).sum(-1) > 0
    old_b, old_c = _unit(vb), _unit(vc)
    as_is = ((side[0] - old_b) ** 2).sum(-1) + ((side[1] - old_c) ** 2).sum(-1)
    swapped = ((side[1] - old_b) ** 2).sum(-1) + ((side[0] - old_c) ** 2).sum(-1)
    take_first = np.where(chiral, first_ok, as_is <= swapped)
    new_b = np.where(take_first[:, None], side[0], side[1])
    new_c = np.where(take_first[:, None], side[1], side[0])
    out = x.copy()
    for k in range(len(q)):
        r = int(res[q[k, 0]])
        rn = canonical_resname(str(residue_name[r]))
        for child, v_old, new in ((q[k, 2], vb[k], new_b[k]), (q[k, 3], vc[k], new_c[k])):
            length = np.linalg.norm(v_old)
            if length > 1e-6:
                rot = Rotation.align_vectors(new[None], v_old[None])[0].as_matrix()  # v_old's direction -> new
            else:  # the child on its centre: no direction to turn, its subtree is only moved
                rot = np.eye(3)
            stretch = BOND_LENGTH[element_of(names[child])] * new - rot @ v_old
            for i in [child] + _descendants(by_residue[r], rn, names[child]):
                out[i] = X[k] + rot @ (x[i] - X[k]) + stretch
    return out, [lab for lab, b in zip(labels, bad) if b]


# heavy atoms that hang off a child (ILE CG1 carries CD1; CHARMM calls it CD)
_HEAVY_BELOW = {("ILE", "CG1"): ("CD1", "CD")}


def _descendants(atoms: list[tuple[str, int]], resname: str, child: str) -> list[int]:
    """Atoms of a residue (``atoms``: its (name, index) pairs) that move with ``child``: heavy
    atoms below it and the hydrogens of all of them (named H + the heavy atom's name without its
    element: CG2 -> HG21 ...)."""
    below = set(_HEAVY_BELOW.get((resname, child), ()))
    prefixes = tuple("H" + n[1:] for n in [child, *below])
    return [i for n, i in atoms if n in below or (n != child and n.startswith(prefixes))]
