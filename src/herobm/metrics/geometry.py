"""Stereochemistry of a predicted structure: bond lengths and angles against the
reference, clashes, chirality, cis peptides and Ramachandran outliers.

Pure functions on numpy arrays (Å, degrees). A ``box`` argument is an
MDAnalysis box ``[lx, ly, lz, α, β, γ]`` (or ``None``); with a box, vectors
between bonded atoms and contact distances use the minimum image, so molecules
split across the periodic boundary are measured whole.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse

from ..geometry import dihedrals
from .matching import is_amino_acid

__all__ = [
    "COVALENT_RADII",
    "guess_bonds",
    "exclusion_matrix",
    "bond_rmsd",
    "angle_rmsd_deg",
    "count_clashes",
    "signed_volumes",
    "chirality_centers",
    "equivalence_classes",
    "stereocentres",
    "inverted_centres",
    "chirality_errors",
    "torsion_deg",
    "backbone_torsions",
    "count_cis",
    "RAMA_REGIONS",
    "rama_allowed",
    "rama_outlier_fraction",
]

# single-bond covalent radii (Å), Cordero et al. 2008
COVALENT_RADII = {
    "H": 0.31, "C": 0.76, "N": 0.71, "O": 0.66, "F": 0.57, "P": 1.07, "S": 1.05, "CL": 1.02, "BR": 1.20,
    "I": 1.39, "SE": 1.20, "B": 0.84, "SI": 1.11, "FE": 1.32, "ZN": 1.22, "MG": 1.41, "CA": 1.76,
    "NA": 1.66, "K": 2.03, "MN": 1.39, "CU": 1.32, "CO": 1.26, "NI": 1.24,
}
BOND_TOLERANCE = 0.45  # Å added to the sum of covalent radii


def _box_ok(box) -> bool:
    return box is not None and np.all(np.asarray(box)[:3] > 0)


def _mic(v: np.ndarray, box) -> np.ndarray:
    """Minimum-image vectors (any leading shape) when a box is given."""
    v = np.asarray(v, dtype=np.float64)
    if not _box_ok(box) or v.size == 0:
        return v
    from MDAnalysis.lib.distances import minimize_vectors

    return minimize_vectors(v.reshape(-1, 3), np.asarray(box, dtype=np.float64)).reshape(v.shape)


def guess_bonds(x: np.ndarray, elements: Sequence[str], box=None, skip: np.ndarray | None = None,
                tolerance: float = BOND_TOLERANCE) -> np.ndarray:
    """(n_bonds, 2) atom pairs closer than the sum of their covalent radii plus
    ``tolerance`` (0.45 Å: a disulfide at 2.05 Å is bonded, a hydrogen bond
    N...O at 2.7 Å is not). Atoms with ``skip`` set (e.g. ions) get no bond."""
    x = np.asarray(x, dtype=np.float64)
    radii = np.array([COVALENT_RADII.get(str(e).upper(), 0.77) for e in elements])
    if len(x) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    from MDAnalysis.lib.distances import self_capped_distance

    live = radii if skip is None else radii[~np.asarray(skip, dtype=bool)]
    if len(live) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    cutoff = 2 * live.max() + tolerance
    pairs, d = self_capped_distance(x.astype(np.float32), cutoff, box=np.asarray(box, np.float32) if _box_ok(box) else None)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ok = (d < radii[pairs[:, 0]] + radii[pairs[:, 1]] + tolerance) & (d > 0.4)
    if skip is not None:
        skip = np.asarray(skip, dtype=bool)
        ok &= ~skip[pairs[:, 0]] & ~skip[pairs[:, 1]]
    out = np.sort(pairs[ok], axis=1)
    return out[np.lexsort((out[:, 1], out[:, 0]))] if len(out) else out


def exclusion_matrix(bonds: np.ndarray, n_atoms: int, depth: int = 3) -> sparse.csr_matrix:
    """Boolean (n, n) matrix of atom pairs at most ``depth`` bonds apart (1-2, 1-3,
    1-4 for depth 3), the diagonal included."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    A = sparse.coo_matrix((np.ones(len(bonds), dtype=np.int32), (bonds[:, 0], bonds[:, 1])), shape=(n_atoms, n_atoms))
    A = ((A + A.T) > 0).astype(np.int32).tocsr()
    reach = sparse.identity(n_atoms, dtype=np.int32, format="csr")
    step = reach
    for _ in range(depth):
        step = ((step @ A) > 0).astype(np.int32)
        reach = ((reach + step) > 0).astype(np.int32)
    return reach.astype(bool).tocsr()


def bond_rmsd(pred: np.ndarray, ref: np.ndarray, bonds: np.ndarray, box_pred=None, box_ref=None) -> float | None:
    """RMS difference (Å) between the prediction's and the reference's lengths of the same bonds."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(bonds) == 0:
        return None
    lp = np.linalg.norm(_mic(pred[bonds[:, 1]] - pred[bonds[:, 0]], box_pred), axis=-1)
    lr = np.linalg.norm(_mic(ref[bonds[:, 1]] - ref[bonds[:, 0]], box_ref), axis=-1)
    return float(np.sqrt(np.mean((lp - lr) ** 2)))


def _angles(x: np.ndarray, triplets: np.ndarray, box) -> np.ndarray:
    u = _mic(x[triplets[:, 0]] - x[triplets[:, 1]], box)
    v = _mic(x[triplets[:, 2]] - x[triplets[:, 1]], box)
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_rmsd_deg(pred: np.ndarray, ref: np.ndarray, angles: np.ndarray, box_pred=None, box_ref=None) -> float | None:
    """RMS difference (degrees) between the prediction's and the reference's bond angles i-j-k."""
    angles = np.asarray(angles, dtype=np.int64).reshape(-1, 3)
    if len(angles) == 0:
        return None
    return float(np.sqrt(np.mean((_angles(pred, angles, box_pred) - _angles(ref, angles, box_ref)) ** 2)))


def count_clashes(x: np.ndarray, cutoffs: Sequence[float], excluded: sparse.spmatrix | None = None, box=None) -> list[int]:
    """Number of atom pairs closer than each cutoff (Å), leaving out the pairs
    marked in ``excluded`` (see :func:`exclusion_matrix`)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 or not len(cutoffs):
        return [0 for _ in cutoffs]
    from MDAnalysis.lib.distances import self_capped_distance

    pairs, d = self_capped_distance(x.astype(np.float32), float(max(cutoffs)),
                                    box=np.asarray(box, np.float32) if _box_ok(box) else None)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    d = np.asarray(d, dtype=np.float64)
    if excluded is not None and len(pairs):
        excl = np.asarray(excluded[pairs[:, 0], pairs[:, 1]]).ravel().astype(bool)
        pairs, d = pairs[~excl], d[~excl]
    return [int((d < c).sum()) for c in cutoffs]


def signed_volumes(x: np.ndarray, quads: np.ndarray, box=None) -> np.ndarray:
    """Signed volume (Å³) of centre c and neighbours a, b, d (rows ``[c, a, b, d]``):
    ``(a - c) · ((b - c) × (d - c))``. Its sign is the handedness of the centre."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    c = x[quads[:, 0]]
    a = _mic(x[quads[:, 1]] - c, box)
    b = _mic(x[quads[:, 2]] - c, box)
    d = _mic(x[quads[:, 3]] - c, box)
    return (a * np.cross(b, d)).sum(-1)


# stereocentres of known handedness: residue -> (centre, a, b, d), the neighbours ordered
# so that the natural configuration has a positive signed volume. Cα of every non-glycine
# amino acid ("*"), Cβ of L-threonine and L-isoleucine; the glycerol C2 of CHARMM36
# glycerophospholipids (sn-glycero-3-phospho, as in all but 3 of the 896 lipids of OpenMM's
# patches) and the head-group C12 of POPG (R, as CHARMM-GUI builds it and
# scripts/make_lipid_structures.py by default).
_GLYCEROL_C2 = ("C2", "C3", "C1", "O21")
GLYCEROPHOSPHOLIPIDS = ("POPC", "POPE", "POPG", "DOPC", "DPPC", "DMPC", "DLPC", "DLPE")
CHIRAL_CENTRES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "*": (("CA", "N", "C", "CB"),),
    "THR": (("CB", "CA", "OG1", "CG2"),),
    "ILE": (("CB", "CA", "CG1", "CG2"),),
    **{lipid: (_GLYCEROL_C2,) for lipid in GLYCEROPHOSPHOLIPIDS},
    "POPG": (_GLYCEROL_C2, ("C12", "C13", "C11", "OC2")),
}


def chirality_centers(residue: Sequence[int], names: Sequence[str], resnames: Sequence[str]) -> np.ndarray:
    """(n, 4) atom quads ``[centre, a, b, d]`` of the stereocentres in :data:`CHIRAL_CENTRES`
    whose four atoms are present (``resnames[r]`` canonical, per residue); in their natural
    configuration (L-amino acids, the lipids' natural glycerol) the signed volume is positive.
    For the stereocentres of any molecule, found from its bonds, see :func:`stereocentres`."""
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(residue, names))}
    out = []
    for r in sorted(set(int(x) for x in residue)):
        rn = str(resnames[r])
        keys = ("*", rn) if is_amino_acid(rn) and rn != "GLY" else (rn,)
        for key in keys:
            for spec in CHIRAL_CENTRES.get(key, ()):
                q = [index.get((r, a), -1) for a in spec]
                if min(q) >= 0:
                    out.append(q)
    return np.asarray(out, dtype=np.int64).reshape(-1, 4)


def _neighbour_table(bonds: np.ndarray, n: int) -> np.ndarray:
    """(n, max degree) bonded neighbours of each atom, in increasing index, padded with -1."""
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    pairs = np.concatenate([b, b[:, ::-1]])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    degree = np.bincount(pairs[:, 0], minlength=n)
    slot = np.arange(len(pairs)) - np.repeat(np.cumsum(degree) - degree, degree)
    nbr = np.full((n, int(degree.max()) if len(pairs) else 0), -1, dtype=np.int64)
    nbr[pairs[:, 0], slot] = pairs[:, 1]
    return nbr


def equivalence_classes(bonds: np.ndarray, elements: Sequence[str], rounds: int = 12) -> np.ndarray:
    """(n,) class label per atom of a molecular graph: colour refinement (Weisfeiler-Lehman)
    from the elements over ``rounds`` bond shells. Atoms an automorphism swaps (the two
    methyls of a valine, the phosphate O13/O14) always share a label; two atoms with
    different labels differ within ``rounds`` bonds of themselves."""
    el = np.asarray([str(e).upper() for e in elements])
    _, label = np.unique(el, return_inverse=True)
    if len(el) == 0:
        return label.astype(np.int64)
    nbr = _neighbour_table(bonds, len(el))
    for _ in range(rounds):
        shell = np.where(nbr >= 0, label[np.maximum(nbr, 0)], -1)
        key = np.concatenate([label[:, None], np.sort(shell, axis=1)], axis=1)
        _, new = np.unique(key, axis=0, return_inverse=True)
        new = new.ravel()
        if new.max() == label.max():  # no class split: refinement is stable
            break
        label = new
    return label.astype(np.int64)


def stereocentres(bonds: np.ndarray, elements: Sequence[str], x_ref: np.ndarray, box=None,
                  min_volume: float = 1.0) -> np.ndarray:
    """(n, 4) atom quads ``[centre, a, b, d]`` of the tetrahedral carbon stereocentres of a
    heavy-atom graph (``bonds`` (m, 2), ``elements``, reference positions ``x_ref`` in Å):
    carbons with three heavy neighbours (the fourth substituent a hydrogen) or four, whose
    heavy neighbours are pairwise inequivalent (:func:`equivalence_classes`) and which are
    not flat in ``x_ref`` (signed volume ``|V| >= min_volume`` Å³; an sp³ carbon gives
    ~2.6 Å³, an sp² one ~0). ``a, b, d``: the first three neighbours by index.
    Any molecule: the Cα of amino acids, the glycerol C2 of phospholipids, sterols, ligands."""
    el = np.asarray([str(e).upper() for e in elements])
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(el) == 0 or len(b) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    cls = equivalence_classes(b, el)
    nbr = _neighbour_table(b, len(el))
    quads = []
    for c in np.flatnonzero(el == "C"):
        nb = nbr[c][nbr[c] >= 0]
        if len(nb) in (3, 4) and len(set(cls[nb].tolist())) == len(nb):
            quads.append([int(c)] + nb[:3].tolist())
    q = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(q):
        q = q[np.abs(signed_volumes(np.asarray(x_ref, dtype=np.float64), q, box)) >= min_volume]
    return q


def inverted_centres(pred: np.ndarray, ref: np.ndarray, quads: np.ndarray, box_pred=None, box_ref=None,
                     min_volume: float = 0.1) -> np.ndarray:
    """(n,) bool: the stereocentres (rows of ``quads``) whose signed volume in the prediction
    has the opposite sign to the reference's (centres flat in the reference, |V| <
    ``min_volume`` Å³, are never counted)."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(quads) == 0:
        return np.zeros(0, dtype=bool)
    vp = signed_volumes(pred, quads, box_pred)
    vr = signed_volumes(ref, quads, box_ref)
    return (np.sign(vp) != np.sign(vr)) & (np.abs(vr) >= min_volume)


def chirality_errors(pred: np.ndarray, ref: np.ndarray, quads: np.ndarray, box_pred=None, box_ref=None,
                     min_volume: float = 0.1) -> int:
    """Number of :func:`inverted_centres`."""
    return int(inverted_centres(pred, ref, quads, box_pred, box_ref, min_volume).sum())


def torsion_deg(x: np.ndarray, quads: np.ndarray, box=None) -> np.ndarray:
    """Dihedral angles (degrees, -180..180) of atom quads (n, 4), IUPAC sign convention."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(quads) == 0:
        return np.zeros(0)
    p0 = x[quads[:, 0]]
    p1 = p0 + _mic(x[quads[:, 1]] - p0, box)
    p2 = p1 + _mic(x[quads[:, 2]] - x[quads[:, 1]], box)
    p3 = p2 + _mic(x[quads[:, 3]] - x[quads[:, 2]], box)
    return np.degrees(dihedrals(p0, p1, p2, p3))


def backbone_torsions(
    residue: Sequence[int], names: Sequence[str], resnames: Sequence[str], res_chain: Sequence[str],
    x_ref: np.ndarray, box=None, max_peptide_bond: float = 2.0,
) -> dict[str, np.ndarray]:
    """Atom quads of the backbone torsions of consecutive amino acids.

    Residues ``r - 1`` and ``r`` are linked when they are in the same chain and
    C(r-1)-N(r) is shorter than ``max_peptide_bond`` in the reference ``x_ref``
    (so chain breaks get no torsion). Returns ``omega`` (n, 4) CA-C-N-CA,
    ``phi``/``psi`` (m, 4) of the residues with both defined, ``rama_residue``
    (m,) their residue index and ``rama_kind`` (m,) 'GLY', 'PRO' or 'general'.
    """
    index = {(int(r), str(n)): i for i, (r, n) in enumerate(zip(residue, names))}
    n_res = len(resnames)
    at = lambda r, a: index.get((r, a), -1) if 0 <= r < n_res else -1  # noqa: E731

    def linked(r0, r1):
        if r0 < 0 or r1 >= n_res or res_chain[r0] != res_chain[r1]:
            return False
        if not (is_amino_acid(resnames[r0]) and is_amino_acid(resnames[r1])):
            return False
        c, n = at(r0, "C"), at(r1, "N")
        if c < 0 or n < 0:
            return False
        return float(np.linalg.norm(_mic(x_ref[n] - x_ref[c], box))) < max_peptide_bond

    omega, phi, psi, rres, kind = [], [], [], [], []
    for r in range(n_res):
        if not is_amino_acid(resnames[r]):
            continue
        n, ca, c = at(r, "N"), at(r, "CA"), at(r, "C")
        if min(n, ca, c) < 0:
            continue
        nxt = linked(r, r + 1)
        if nxt and at(r + 1, "CA") >= 0:
            omega.append([ca, c, at(r + 1, "N"), at(r + 1, "CA")])
        if linked(r - 1, r) and nxt:
            phi.append([at(r - 1, "C"), n, ca, c])
            psi.append([n, ca, c, at(r + 1, "N")])
            rres.append(r)
            rn = str(resnames[r])
            kind.append(rn if rn in ("GLY", "PRO") else "general")
    as4 = lambda q: np.asarray(q, dtype=np.int64).reshape(-1, 4)  # noqa: E731
    return {"omega": as4(omega), "phi": as4(phi), "psi": as4(psi),
            "rama_residue": np.asarray(rres, dtype=np.int64), "rama_kind": np.asarray(kind, dtype=object)}


def count_cis(omega_deg: np.ndarray, tolerance: float = 30.0) -> int:
    """Peptide bonds with ω within ±``tolerance`` degrees of 0 (cis)."""
    return int((np.abs(np.asarray(omega_deg)) <= tolerance).sum())


# Allowed (φ, ψ) regions, degrees, as boxes [φmin, φmax, ψmin, ψmax]. A simple,
# deliberately generous definition drawn from the classical Ramachandran plot
# (and the shapes of Lovell et al. 2003's "allowed" contours), not a density fit:
#   general: β sheet + polyproline II (upper left, wrapping past ψ = ±180 and
#            φ = ±180), right-handed α helix with the bridge region down to ψ = -100
#            and up to ψ = 50, left-handed α helix;
#   PRO:     φ is held near -65 by the ring: α and PPII/β bands for φ in [-110, -40];
#   GLY:     the general regions, their point mirror (φ, ψ) -> (-φ, -ψ) (glycine
#            is achiral) and the extended band |ψ| >= 150 at any φ.
# Residues at chain ends or breaks (φ or ψ undefined) are not counted.
RAMA_REGIONS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "general": (
        (-180.0, -40.0, 50.0, 180.0),    # β / PPII
        (-180.0, -45.0, -180.0, -150.0),  # β, wrapped past ψ = ±180
        (150.0, 180.0, 100.0, 180.0),    # β, wrapped past φ = ±180
        (150.0, 180.0, -180.0, -150.0),
        (-160.0, -20.0, -100.0, 50.0),   # αR and bridge
        (30.0, 100.0, -20.0, 80.0),      # αL
    ),
    "PRO": (
        (-110.0, -40.0, -75.0, 60.0),
        (-110.0, -40.0, 90.0, 180.0),
        (-110.0, -40.0, -180.0, -165.0),
    ),
    "GLY_extra": ((-180.0, 180.0, 150.0, 180.0), (-180.0, 180.0, -180.0, -150.0)),
}


def _in_boxes(phi, psi, boxes) -> np.ndarray:
    ok = np.zeros(np.shape(phi), dtype=bool)
    for a, b, c, d in boxes:
        ok |= (phi >= a) & (phi <= b) & (psi >= c) & (psi <= d)
    return ok


def rama_allowed(phi_deg: np.ndarray, psi_deg: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Whether each (φ, ψ) (degrees) lies in the allowed regions of its residue
    kind ('general', 'GLY' or 'PRO').

    The regions are a documented box definition (:data:`RAMA_REGIONS`), chosen
    over a density estimate from the reference because it needs no statistics:
    a single small reference structure would give a meaningless density.
    general: β/PPII φ ∈ [-180, -40] with ψ ∈ [50, 180] or [-180, -150] (plus the
    wrap φ ∈ [150, 180]), αR + bridge φ ∈ [-160, -20] with ψ ∈ [-100, 50], αL
    φ ∈ [30, 100] with ψ ∈ [-20, 80]. PRO: φ ∈ [-110, -40] with ψ ∈ [-75, 60],
    [90, 180] or [-180, -165]. GLY: the general regions, their mirror
    (-φ, -ψ) and |ψ| >= 150 at any φ. Bounds are inclusive. The adenylate
    kinase crystal structure (4AKE) has no outlier under this definition.
    """
    phi, psi = np.asarray(phi_deg, dtype=np.float64), np.asarray(psi_deg, dtype=np.float64)
    kind = np.asarray(kind, dtype=object)
    general = _in_boxes(phi, psi, RAMA_REGIONS["general"])
    out = general.copy()
    pro = kind == "PRO"
    out[pro] = _in_boxes(phi[pro], psi[pro], RAMA_REGIONS["PRO"])
    gly = kind == "GLY"
    out[gly] = (general[gly] | _in_boxes(-phi[gly], -psi[gly], RAMA_REGIONS["general"])
                | _in_boxes(phi[gly], psi[gly], RAMA_REGIONS["GLY_extra"]))
    return out


def rama_outlier_fraction(phi_deg: np.ndarray, psi_deg: np.ndarray, kind: np.ndarray) -> float | None:
    """Fraction of residues outside :func:`rama_allowed`; ``None`` with no residue."""
    if len(np.asarray(phi_deg)) == 0:
        return None
    return float((~rama_allowed(phi_deg, psi_deg, kind)).mean())
