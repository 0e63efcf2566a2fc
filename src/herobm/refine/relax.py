"""Backbone relaxation: the network's N, CA, C, O, OXT and CB moved the least toward ideal geometry.

The network places every backbone atom on its own; the bonds and angles between them come out
scattered (on adenylate kinase's Martini 3 CG, bond RMSD 0.22 Å and angle RMSD 13° over all heavy
atoms). Relaxation minimises, over the backbone atoms of every protein residue,

    E = Σ_bonds w_b (d - d0)² + Σ_angles w_a (d13 - d13_0)² + w_x Σ_atoms |x - x_network|²

where the angles enter as the distance between their outer atoms (``d13_0`` from the ideal bond
lengths and angle, law of cosines) and the ideal values are :class:`BackboneGeometry`'s (Engh &
Huber): N–CA, CA–C, C–O (C–O/C–OXT at a C-terminus), C–N(+1); N–CA–C (Gly its own), CA–C–O,
CA–C–N(+1), O–C–N(+1), C–N(+1)–CA(+1) (Pro its own), O–C–OXT; and ω through the two distances
across the planar peptide unit, CA(i)–CA(i+1) and O(i)–CA(i+1), trans or cis as the input's
CA–CA distance says (:data:`CIS_CA_CA_PRO`, :data:`CIS_CA_CA_OTHER`); and, where given, CB with
CA–CB, N–CA–CB and C–CA–CB (Pro its own N–CA–CB). The atoms of one peptide unit share each
other's errors, so the relaxed backbone is both more regular and closer to the truth than the
network's (Martini 3 model, six held-out MD peptides: heavy / backbone RMSD 0.512 / 0.313 ->
0.490 / 0.290 Å; docs/backmap.md). The rest of the side chain is not moved: relaxing it too costs
accuracy (the network hedges between rotamers there), and holding CB fixed pulls the backbone
toward it (0.379 Å). Atoms the input fixes (``fixed``: the Cα of a Cα trace) stay where they are.

Positions in Å; weights in Å⁻² (``w = 1/σ²``: σ 0.1 Å for bonds, 0.18 Å for the 1–3 distances
and the two across each peptide unit, 1 Å for the pull to the network's positions).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from ..errors import InputError
from ..metrics.geometry import signed_volumes
from .backbone import BackboneGeometry, ideal_peptide_unit

__all__ = ["CIS_CA_CA_OTHER", "CIS_CA_CA_PRO", "backbone_restraints", "relax_backbone"]

# Å: a peptide bond counts as cis where the input's CA(i)-CA(i+1) is under these (cis ~2.9, trans
# 3.8 Å): halfway before a proline, where ~5 % of peptide bonds are cis; only near the cis distance
# before other residues (~0.03 % cis), where the network's hedging between rotamers shortens it too
CIS_CA_CA_PRO = 3.3
CIS_CA_CA_OTHER = 3.0


def _d13(a: float, b: float, angle_deg: float) -> float:
    """Distance between the outer atoms of bonds ``a`` and ``b`` (Å) meeting at ``angle_deg``."""
    return math.sqrt(a * a + b * b - 2.0 * a * b * math.cos(math.radians(angle_deg)))


def _across_unit(g: BackboneGeometry, pro: bool, cis: bool) -> tuple[float, float]:
    """(CA(i)–CA(i+1), O(i)–CA(i+1)) in Å across the ideal planar peptide unit, trans or cis."""
    pts, ca_ca = ideal_peptide_unit(g, cis, pro)
    return ca_ca, float(np.linalg.norm(pts[1] - np.array([ca_ca, 0.0])))


def backbone_restraints(
    index: np.ndarray, residue_next: np.ndarray, resnames, geometry: BackboneGeometry = BackboneGeometry(),
    cis: np.ndarray | None = None,
    cb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ideal distances of the protein backbone: ``(pairs (P, 2) atom indices, d0 (P,) Å, is_bond (P,))``.

    ``index``: (R, 5) atom indices of N, CA, C, O, OXT per residue, -1 where absent
    (:func:`herobm.refine.backbone.backbone_indices`); a residue takes part when it has N, CA
    and C. ``residue_next``: (R,) bonded next residue or -1. ``resnames``: (R,) names (Gly,
    Pro). A residue with OXT and no next residue is a C-terminal carboxylate. ``cis``: (R,) bool,
    the peptide bond to the next residue is cis (None: all trans); it sets the two distances across
    the planar unit, CA(i)–CA(i+1) and O(i)–CA(i+1), which hold ω. ``cb``: (R,) atom index of each
    residue's CB (-1: none): adds CA–CB, N–CA–CB and C–CA–CB (Pro its own N–CA–CB).
    """
    g = geometry
    idx = np.asarray(index, dtype=np.int64)
    R = len(idx)
    nxt = np.asarray(residue_next, dtype=np.int64).reshape(R)
    names = np.asarray(resnames).astype(str).reshape(R)
    N, CA, C, O, OXT = idx.T
    ok = (idx[:, :3] >= 0).all(axis=1)
    link = ok & (nxt >= 0)
    link[link] = ok[nxt[link]]
    term = ok & ~link & (OXT >= 0)
    has_o = ok & (O >= 0)
    gly = names == "GLY"
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = []

    def add(sel: np.ndarray, a: np.ndarray, b: np.ndarray, d0, bond: bool) -> None:
        d = np.broadcast_to(np.asarray(d0, dtype=np.float64), sel.shape)
        rows.append((a[sel], b[sel], d[sel], bond))

    add(ok, N, CA, g.n_ca, True)
    add(ok, CA, C, g.ca_c, True)
    add(ok, N, C, np.where(gly, _d13(g.n_ca, g.ca_c, g.n_ca_c_gly), _d13(g.n_ca, g.ca_c, g.n_ca_c)), False)
    c_o = np.where(term, g.c_oxt, g.c_o)
    add(has_o, C, O, c_o, True)
    add(has_o, CA, O, np.where(term, _d13(g.ca_c, g.c_oxt, g.ca_c_o_term), _d13(g.ca_c, g.c_o, g.ca_c_o)), False)
    add(term, C, OXT, g.c_oxt, True)
    add(term, CA, OXT, _d13(g.ca_c, g.c_oxt, g.ca_c_o_term), False)
    add(term & has_o, O, OXT, _d13(g.c_oxt, g.c_oxt, g.o_c_oxt), False)
    j = np.where(link, nxt, 0)
    N2, CA2 = N[j], CA[j]
    add(link, C, N2, g.c_n, True)
    add(link, CA, N2, _d13(g.ca_c, g.c_n, g.ca_c_n), False)
    pro = names[j] == "PRO"
    add(link, C, CA2, np.where(pro, _d13(g.c_n, g.n_ca, g.c_n_ca_pro), _d13(g.c_n, g.n_ca, g.c_n_ca)), False)
    add(link & has_o, O, N2, _d13(g.c_o, g.c_n, g.o_c_n), False)
    if cb is not None:
        CB = np.asarray(cb, dtype=np.int64).reshape(R)
        has_cb = ok & (CB >= 0)
        add(has_cb, CA, CB, g.ca_cb, True)
        add(has_cb, N, CB, np.where(names == "PRO", _d13(g.n_ca, g.ca_cb, g.n_ca_cb_pro), _d13(g.n_ca, g.ca_cb, g.n_ca_cb)),
            False)
        add(has_cb, C, CB, _d13(g.ca_c, g.ca_cb, g.c_ca_cb), False)
    is_cis = np.zeros(R, dtype=bool) if cis is None else np.asarray(cis, dtype=bool).reshape(R)
    across = np.array([[_across_unit(g, p, c) for c in (False, True)] for p in (False, True)])  # [pro, cis, pair]
    add(link, CA, CA2, across[pro.astype(int), is_cis.astype(int), 0], False)
    add(link & has_o, O, CA2, across[pro.astype(int), is_cis.astype(int), 1], False)
    pairs = np.concatenate([np.stack([a, b], axis=1) for a, b, _, _ in rows]).reshape(-1, 2)
    d0 = np.concatenate([d for _, _, d, _ in rows])
    is_bond = np.concatenate([np.full(len(a), bond) for a, _, _, bond in rows])
    return pairs, d0, is_bond


def relax_backbone(
    positions: np.ndarray,
    index: np.ndarray,
    residue_next: np.ndarray,
    resnames,
    *,
    fixed: np.ndarray | None = None,
    cis: np.ndarray | None = None,
    cb: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    geometry: BackboneGeometry = BackboneGeometry(),
    bond_weight: float = 100.0,
    angle_weight: float = 30.0,
    restraint: float = 1.0,
    max_iter: int = 50,
    tol: float = 1e-4,
) -> np.ndarray:
    """Relaxed positions (A, 3) Å: only backbone atoms (``index``, see :func:`backbone_restraints`) move.

    Minimises the energy of the module docstring by Gauss-Newton steps (sparse solves, float64)
    until no atom moves more than ``tol`` Å (at most ``max_iter`` steps). ``fixed``: atom indices
    (or an (A,) bool mask) that do not move. ``cis``: (R,) bool per peptide bond to the next residue
    (None: cis where the input's CA(i)–CA(i+1) is under :data:`CIS_CA_CA_PRO` (3.3 Å) before a
    proline, :data:`CIS_CA_CA_OTHER` (3.0 Å) before another residue). ``cb``: (R,) CB atom index
    per residue (-1: none), relaxed with the backbone; without it CA moves under a CB that does not,
    which can invert Cα (19HC mapped to Martini 3: 8 more inverted), so give it for proteins.
    ``keep``: (Q, 5) rows ``[residue, centre, a, b, d]`` of stereocentres ordered so that the
    natural handedness has a positive signed volume (as
    :func:`herobm.metrics.geometry.chirality_centers` gives them; None: each CA with N, C, CB)
    that the relaxation must not invert; where one natural in the input comes out inverted, that
    residue's CB is left out and the solve repeated (distances alone would let a CB through the
    N–CA–C plane). Weights in Å⁻²: ``bond_weight`` on the bond lengths, ``angle_weight`` on the
    1–3 distances and the two across each peptide unit, ``restraint`` on the displacement.
    Raises :class:`herobm.errors.InputError` if a backbone atom is not finite.
    """
    x = np.array(positions, dtype=np.float64).reshape(-1, 3)
    idx = np.asarray(index, dtype=np.int64)
    if cis is None:  # as the input has it: cis CA-CA ~2.9 Å, trans ~3.8 Å
        nxt = np.asarray(residue_next, dtype=np.int64).reshape(len(idx))
        a, b = idx[:, 1], np.where(nxt >= 0, idx[np.maximum(nxt, 0), 1], -1)
        both = (a >= 0) & (b >= 0)
        cis = np.zeros(len(idx), dtype=bool)
        pro = np.asarray(resnames).astype(str).reshape(len(idx))[np.maximum(nxt, 0)] == "PRO"
        limit = np.where(pro, CIS_CA_CA_PRO, CIS_CA_CA_OTHER)
        cis[both] = np.linalg.norm(x[a[both]] - x[b[both]], axis=1) < limit[both]
    # CB is held by distances only, which a mirror image satisfies too, and moving it can invert a
    # stereocentre at CB: where a centre natural in the input comes out inverted, that residue's CB is
    # left out and the solve repeated
    cb = np.full(len(idx), -1, dtype=np.int64) if cb is None else np.asarray(cb, dtype=np.int64).copy()
    if keep is None:
        has = (idx[:, :3] >= 0).all(axis=1) & (cb >= 0)
        keep = np.stack([np.flatnonzero(has), idx[has, 1], idx[has, 0], idx[has, 2], cb[has]], axis=1)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1, 5)
    before = signed_volumes(x, keep[:, 1:])
    while True:
        y = _solve(x, backbone_restraints(index, residue_next, resnames, geometry, cis, cb), fixed, bond_weight,
                   angle_weight, restraint, max_iter, tol)
        turned = (before > 0) & (signed_volumes(y, keep[:, 1:]) <= 0) & (cb[keep[:, 0]] >= 0)
        if not turned.any():
            return y
        cb[keep[turned, 0]] = -1


def _solve(x: np.ndarray, restraints: tuple[np.ndarray, np.ndarray, np.ndarray], fixed, bond_weight: float,
           angle_weight: float, restraint: float, max_iter: int, tol: float) -> np.ndarray:
    """Gauss-Newton minimisation of :func:`relax_backbone`'s energy; a copy of ``x`` (A, 3) Å."""
    x = x.copy()
    pairs, d0, is_bond = restraints
    if len(pairs) == 0:
        return x
    if not (restraint > 0 and bond_weight >= 0 and angle_weight >= 0):
        raise InputError(f"relax_backbone: restraint must be > 0 and weights >= 0 (got {restraint}, "
                         f"{bond_weight}, {angle_weight})")
    atoms = np.unique(pairs)
    bad = atoms[~np.isfinite(x[atoms]).all(axis=1)]
    if len(bad):
        raise InputError(f"relax_backbone: backbone atom(s) {bad[:10].tolist()} have non-finite positions")
    free = np.ones(len(x), dtype=bool)
    if fixed is not None:
        fixed = np.asarray(fixed)
        free[fixed if fixed.dtype != bool else np.flatnonzero(fixed)] = False
    atoms = atoms[free[atoms]]  # the unknowns; fixed atoms enter as constants
    if len(atoms) == 0:
        return x
    col = np.full(len(x), -1, dtype=np.int64)
    col[atoms] = np.arange(len(atoms))
    i, j = pairs[:, 0], pairs[:, 1]
    w = np.where(is_bond, bond_weight, angle_weight)
    x0 = x[atoms].copy()
    n = 3 * len(atoms)

    def energy(y: np.ndarray) -> float:
        d = np.linalg.norm(y[i] - y[j], axis=1)
        return float(np.sum(w * (d - d0) ** 2) + restraint * np.sum((y[atoms] - x0) ** 2))

    e = energy(x)
    for _ in range(max_iter):
        v = x[i] - x[j]
        d = np.linalg.norm(v, axis=1)
        u = v / np.maximum(d, 1e-9)[:, None]
        # Gauss-Newton on E: (J^T W J + restraint I) step = -(J^T W (d - d0) + restraint (x - x0)),
        # halved until E decreases
        rows, cols, vals = [], [], []
        for a, sign in ((i, 1.0), (j, -1.0)):
            ok = col[a] >= 0
            for k in range(3):
                rows.append(np.flatnonzero(ok))
                cols.append(3 * col[a[ok]] + k)
                vals.append(sign * u[ok, k])
        J = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(d), n))
        A = (J.T @ sparse.diags(w) @ J + restraint * sparse.identity(n)).tocsc()
        g = J.T @ (w * (d - d0)) + restraint * (x[atoms] - x0).ravel()
        step = -spsolve(A, g).reshape(-1, 3)
        for _ in range(30):
            y = x.copy()
            y[atoms] += step
            e_new = energy(y)
            if e_new <= e:
                break
            step *= 0.5
        else:
            break
        x, e = y, e_new
        if np.abs(step).max() < tol:
            break
    return x
