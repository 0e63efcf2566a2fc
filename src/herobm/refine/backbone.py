"""Protein backbone optimisation on heavy atoms (run before hydrogens are added).

One backbone bead per residue fixes its Cα; the network places N, C and O around it
and predicts φ/ψ. This step makes the backbone geometry ideal and, where targets are
given, moves φ/ψ toward them, moving only N, C, O (and OXT) - every Cα and every
other atom stays where it is. Vectorised over residues (torch, float64), steepest
descent with an adaptive step:

1. **geometry**: each peptide unit C(i), O(i), N(i+1) is put on the ideal planar unit
   (stretched along the axis to the actual Cα–Cα distance) and turned about its
   Cα(i)–Cα(i+1) axis to fit the input C, N and O; the units are turned to fix N–Cα–C
   (keeping their φ/ψ), then flat-bottom harmonic terms pull bonds (N–Cα, Cα–C, C–O,
   C–N(+1)), angles (N–Cα–C, Cα–C–N, C–N–Cα, Cα–C–O, O–C–N) and ω (Cα–C–N–Cα, trans =
   180°; cis where asked) into their allowed ranges (ideal ± tolerance, Engh & Huber
   values, see :class:`BackboneGeometry`);
2. **peptide planes**: each unit is rotated rigidly about its Cα(i)–Cα(i+1) axis, which
   keeps every bond, angle and ω of the unit, toward the target φ/ψ (``1 - cos`` terms,
   the N–Cα–C angle restrained) and, more weakly, toward the φ/ψ of the units as fitted to
   the input atoms in step 1 (``plane_fit_weight``: where a network predicts ψ(i) and
   φ(i+1) that no single turn of the unit can satisfy, its own C, N, O break the tie): a
   grid scan per plane (planes two apart are independent, so half of them at a time), then
   gradient steps;
3. **geometry + φ/ψ**: the terms of step 1 with both ``1 - cos`` φ/ψ terms added.

Carbonyl O from the Cα trace: the C=O of peptide unit i points, in real proteins,
along the cross product of the two Cα–Cα vectors that meet at Cα(i+1),
(Cα(i+1) − Cα(i)) × (Cα(i+2) − Cα(i+1)) - the binormal of the trace, perpendicular to
the unit's own Cα–Cα axis (mean cosine with the true direction 0.97 in a helix, ~0.7
in sheet proteins, measured on MDAnalysisTests structures). :func:`carbonyl_directions`
gives it; with ``o_init="ca"`` every unit is oriented by it instead of by the input
atoms (for a poor network backbone). With the default ``o_init="input"``, an O that is
not finite is placed from its fitted unit.

Units: positions in Å; angles in radians in arrays (φ/ψ targets: radians, NaN = no
target); tolerances in :class:`BackboneGeometry` in Å and degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError

__all__ = ["BackboneGeometry", "backbone_indices", "carbonyl_directions", "backbone_report", "optimize_backbone"]


@dataclass(frozen=True)
class BackboneGeometry:
    """Ideal backbone values (Engh & Huber 1991/2001), flat-bottom half-widths and the
    widths (σ) that scale violations beyond them. Lengths in Å, angles in degrees."""

    n_ca: float = 1.458
    ca_c: float = 1.525
    c_n: float = 1.329
    c_o: float = 1.231
    c_oxt: float = 1.25
    n_ca_c: float = 111.2
    n_ca_c_gly: float = 113.1
    ca_c_n: float = 116.2
    c_n_ca: float = 121.7
    c_n_ca_pro: float = 122.6
    ca_c_o: float = 120.1
    o_c_n: float = 122.7
    ca_c_o_term: float = 118.0  # C-terminal carboxylate: Cα–C–O, Cα–C–OXT
    o_c_oxt: float = 124.0
    ca_cb: float = 1.530  # CB: used by the relaxation (herobm.refine.relax), not by optimize_backbone
    n_ca_cb: float = 110.5
    n_ca_cb_pro: float = 103.0
    c_ca_cb: float = 110.1
    bond_tol: float = 0.01
    angle_tol: float = 1.5
    omega_tol: float = 5.0
    bond_sigma: float = 0.02
    angle_sigma: float = 2.0
    omega_sigma: float = 5.0


def backbone_indices(atom_names, atom_residue, n_residues: int | None = None) -> np.ndarray:
    """(R, 5) atom indices of N, CA, C, O, OXT per residue (-1 where absent), from per-atom
    names and residue indices (e.g. a BeadSystem's ``atom_name``/``atom_residue``)."""
    res = np.asarray(atom_residue, dtype=np.int64)
    R = int(n_residues if n_residues is not None else (res.max() + 1 if len(res) else 0))
    out = np.full((R, 5), -1, dtype=np.int64)
    col = {"N": 0, "CA": 1, "C": 2, "O": 3, "OXT": 4}
    for k, name in enumerate(np.asarray(atom_names).astype(str)):
        j = col.get(name)
        if j is not None and out[res[k], j] < 0:
            out[res[k], j] = k
    return out


def carbonyl_directions(ca: np.ndarray, residue_next: np.ndarray) -> np.ndarray:
    """(R, 3) unit vectors along which the C=O of residue i points, from the Cα trace:
    (Cα(j) − Cα(i)) × (Cα(k) − Cα(j)) with j = next(i), k = next(j); NaN where i has no
    next-but-one residue. ``ca``: (R, 3) Å."""
    ca = np.asarray(ca, dtype=np.float64)
    nxt = np.asarray(residue_next, dtype=np.int64)
    out = np.full(ca.shape, np.nan)
    i = np.flatnonzero(nxt >= 0)
    i = i[nxt[nxt[i]] >= 0]
    if len(i):
        j = nxt[i]
        k = nxt[j]
        v = np.cross(ca[j] - ca[i], ca[k] - ca[j])
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        ok = norm[:, 0] > 1e-6
        out[i[ok]] = v[ok] / norm[ok]
    return out


# ---------------------------------------------------------------- torch geometry


def _dist(y, idx):
    return (y[..., idx[:, 0], :] - y[..., idx[:, 1], :]).norm(dim=-1)


def _angle(y, idx):
    u = y[..., idx[:, 0], :] - y[..., idx[:, 1], :]
    v = y[..., idx[:, 2], :] - y[..., idx[:, 1], :]
    return torch.atan2(torch.linalg.cross(u, v).norm(dim=-1).clamp_min(1e-12), (u * v).sum(-1))


def _dihedral(y, idx):
    p0, p1, p2, p3 = (y[..., idx[:, k], :] for k in range(4))
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1n = b1 / b1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    v = b0 - (b0 * b1n).sum(-1, keepdim=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdim=True) * b1n
    x = (v * w).sum(-1)
    yy = (torch.linalg.cross(b1n, v) * w).sum(-1)
    return torch.atan2(yy, x)


def _wrap(a):
    return torch.remainder(a + math.pi, 2 * math.pi) - math.pi


def _flat(dev, tol):
    return torch.relu(dev.abs() - tol)


@dataclass
class _Terms:
    bonds: torch.Tensor  # (nb, 2) compact indices
    bond_ref: torch.Tensor
    angles: torch.Tensor  # (na, 3)
    angle_ref: torch.Tensor  # radians
    omegas: torch.Tensor  # (no, 4)
    omega_ref: torch.Tensor
    dih: torch.Tensor  # (nd, 4) φ/ψ with targets
    dih_ref: torch.Tensor
    dih_res: torch.Tensor  # (nd,) residue of each φ/ψ term
    tau: torch.Tensor  # (nt, 3) N–CA–C
    tau_ref: torch.Tensor
    tau_res: torch.Tensor
    g: BackboneGeometry
    keep_dih: torch.Tensor  # (nk, 4) every φ/ψ that exists
    keep_res: torch.Tensor


def _geometry_energy(y, t: _Terms):
    g = t.g
    e = ((_flat(_dist(y, t.bonds) - t.bond_ref, g.bond_tol) / g.bond_sigma) ** 2).sum(-1)
    e = e + ((_flat(_angle(y, t.angles) - t.angle_ref, math.radians(g.angle_tol)) / math.radians(g.angle_sigma)) ** 2).sum(-1)
    if len(t.omegas):
        dev = _wrap(_dihedral(y, t.omegas) - t.omega_ref)
        e = e + ((_flat(dev, math.radians(g.omega_tol)) / math.radians(g.omega_sigma)) ** 2).sum(-1)
    return e


def _dihedral_energy_per_res(y, t: _Terms, weight: float, n_res: int):
    """(..., R) φ/ψ term per residue: weight * (1 - cos(x - target))."""
    shape = y.shape[:-2] + (n_res,)
    out = torch.zeros(shape, dtype=y.dtype, device=y.device)
    if len(t.dih):
        e = weight * (1 - torch.cos(_dihedral(y, t.dih) - t.dih_ref))
        out = out.index_add(-1, t.dih_res, e)
    return out


def _tau_energy_per_res(y, t: _Terms, n_res: int):
    g = t.g
    e = (_flat(_angle(y, t.tau) - t.tau_ref, math.radians(g.angle_tol)) / math.radians(g.angle_sigma)) ** 2
    out = torch.zeros(y.shape[:-2] + (n_res,), dtype=y.dtype, device=y.device)
    return out.index_add(-1, t.tau_res, e)


def _descend(energy, y0, free, max_steps: int, max_move: float = 0.05, gtol: float = 1e-6, rtol: float = 1e-4, window: int = 50):
    """Steepest descent on the rows of ``y0`` where ``free`` (0/1 column), with
    Barzilai-Borwein step lengths and a non-monotone safeguard (a step may not raise
    the energy above the highest of the last 10; otherwise it is shortened). Moves are
    capped at ``max_move`` per row and step. Stops when the gradient is below ``gtol``,
    the energy is ~0, or ``window`` accepted steps lowered it by less than ``rtol``
    (relative). Returns the lowest-energy point seen."""

    def eval_(z):
        z = z.detach().requires_grad_(True)
        e = energy(z)
        (g,) = torch.autograd.grad(e, z)
        return e.detach(), g * free

    y = y0.detach().clone()
    e, g = eval_(y)
    best_y, best_e = y, e.item()
    history = [e.item()]
    lr = 1e-4
    for _ in range(max_steps):
        if best_e < 1e-10 or g.abs().max().item() < gtol:
            break
        d = lr * g
        m = d.norm(dim=-1).max()
        if m > max_move:
            d = d * (max_move / m)
        y_new = y - d
        e_new, g_new = eval_(y_new)
        if not torch.isfinite(e_new) or e_new.item() > max(history[-10:]):
            lr *= 0.25
            if lr < 1e-16:
                break
            continue
        s = (y_new - y).reshape(-1)
        dg = (g_new - g).reshape(-1)
        sy = torch.dot(s, dg).item()
        lr = torch.dot(s, s).item() / sy if sy > 1e-20 else lr * 2.0
        y, e, g = y_new, e_new, g_new
        history.append(e.item())
        if e.item() < best_e:
            best_y, best_e = y, e.item()
        if len(history) > window:
            before = min(history[:-window])
            if before - best_e <= rtol * best_e + 1e-9:
                break
    return best_y.detach()


def _rotate(y, ca_a, axis, atoms, theta):
    """Rotate atoms (P, k) of each plane about the axis through ca_a (P,) along axis (P, 3)
    by theta (..., P). Returns a new tensor."""
    p = y[..., atoms, :] - y[..., ca_a, :][..., None, :]  # (..., P, k, 3)
    u = axis[:, None, :].expand_as(p)
    c = torch.cos(theta)[..., None, None]
    s = torch.sin(theta)[..., None, None]
    rot = p * c + torch.linalg.cross(u, p) * s + u * (u * p).sum(-1, keepdim=True) * (1 - c)
    out = y.expand(rot.shape[:-3] + y.shape[-2:]).clone()
    out[..., atoms, :] = rot + y[..., ca_a, :][..., None, :]
    return out


def ideal_peptide_unit(g: BackboneGeometry, cis: bool, pro: bool = False) -> tuple[np.ndarray, float]:
    """Ideal planar peptide unit: (3, 2) coordinates of C, O, N(+1) along / across the
    Cα(i)->Cα(i+1) axis (Cα(i) at the origin) and the Cα–Cα distance, Å; ``pro``: the next
    residue is a proline (its own C–N–Cα angle)."""
    rad = np.radians

    def turn(v, ang):
        c_, s_ = np.cos(ang), np.sin(ang)
        return np.array([c_ * v[0] - s_ * v[1], s_ * v[0] + c_ * v[1]])

    ca = np.zeros(2)
    cc = np.array([g.ca_c, 0.0])
    nn = cc + g.c_n * turn(np.array([-1.0, 0.0]), -rad(g.ca_c_n))  # angle CA-C-N
    oo = cc + g.c_o * turn(np.array([-1.0, 0.0]), rad(g.ca_c_o))  # other side of C
    w = (cc - nn) / np.linalg.norm(cc - nn)
    side_ca = np.sign(np.cross(nn - cc, ca - cc))
    best = None
    for sgn in (1.0, -1.0):
        caj = nn + g.n_ca * turn(w, sgn * rad(g.c_n_ca_pro if pro else g.c_n_ca))
        same = np.sign(np.cross(nn - cc, caj - cc)) == side_ca
        if same == cis:
            best = caj
    e1 = best / np.linalg.norm(best)
    e2 = np.array([-e1[1], e1[0]])
    pts = np.stack([cc, oo, nn])
    return np.stack([pts @ e1, pts @ e2], axis=1), float(np.linalg.norm(best))


def _place_planes(x, bb, nxt, d, use_o, from_trace, cis, g: BackboneGeometry) -> None:
    """Put C(i), O(i), N(next) of every bonded pair on the ideal planar unit (stretched
    along the axis to the actual Cα–Cα distance), turned about the Cα–Cα axis to best fit
    the input C and N (and O where ``use_o``); where ``from_trace`` and the Cα-trace
    direction ``d`` is defined, the turn puts the C=O along ``d`` instead. In place."""
    i = np.flatnonzero(nxt >= 0)
    if not len(i):
        return
    j = nxt[i]
    cai, caj = x[bb[i, 1]], x[bb[j, 1]]
    axis = caj - cai
    dist = np.linalg.norm(axis, axis=1)
    e1 = axis / dist[:, None]
    ref = np.where(np.abs(e1[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    u = ref - (ref * e1).sum(1, keepdims=True) * e1
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(e1, u)
    for is_cis in (False, True):
        sel = cis[i] == is_cis
        if not sel.any():
            continue
        ab, d0 = ideal_peptide_unit(g, is_cis)
        ii, jj = i[sel], j[sel]
        q = np.stack([x[bb[ii, 2]], x[np.maximum(bb[ii, 3], 0)], x[bb[jj, 0]]], axis=1) - cai[sel][:, None, :]
        w = np.broadcast_to(ab[:, 1], (len(ii), 3)).copy()  # across-axis coordinate = weight
        has_o = (bb[ii, 3] >= 0) & use_o[ii]
        w[~has_o, 1] = 0.0
        q = np.nan_to_num(q)
        su = (w * np.einsum("pkc,pc->pk", q, u[sel])).sum(1)
        sv = (w * np.einsum("pkc,pc->pk", q, v[sel])).sum(1)
        theta = np.arctan2(sv, su)
        e2 = np.cos(theta)[:, None] * u[sel] + np.sin(theta)[:, None] * v[sel]
        from_d = from_trace[ii] & np.isfinite(d[ii]).all(axis=1)
        e2[from_d] = np.sign(ab[1, 1]) * d[ii[from_d]]
        a_ = ab[:, 0][None, :] * (dist[sel] / d0)[:, None]  # (P, 3) stretched along the axis
        pos = cai[sel][:, None, :] + a_[..., None] * e1[sel][:, None, :] + ab[:, 1][None, :, None] * e2[:, None, :]
        x[bb[ii, 2]] = pos[:, 0]
        o_ok = bb[ii, 3] >= 0
        x[bb[ii[o_ok], 3]] = pos[o_ok, 1]
        x[bb[jj, 0]] = pos[:, 2]


def backbone_report(positions: np.ndarray, index: np.ndarray, residue_next: np.ndarray) -> dict[str, np.ndarray]:
    """Backbone geometry of every residue: bond lengths (Å) ``n_ca``, ``ca_c``, ``c_o``,
    ``c_n`` (to the next residue), angles (degrees) ``n_ca_c``, ``ca_c_n``, ``c_n_ca``
    (at the next residue's N), ``ca_c_o``, ``o_c_n``, dihedrals (degrees) ``omega``,
    ``phi``, ``psi``; (R,) arrays, NaN where undefined. ``index``: (R, >=4) N, CA, C, O."""
    x = torch.as_tensor(np.asarray(positions, dtype=np.float64))
    idx = np.asarray(index, dtype=np.int64)
    nxt = np.asarray(residue_next, dtype=np.int64)
    R = len(idx)
    prv = np.full(R, -1, dtype=np.int64)
    has = np.flatnonzero(nxt >= 0)
    prv[nxt[has]] = has
    n, ca, c, o = idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3]
    nn = np.where(nxt >= 0, n[np.maximum(nxt, 0)], -1)
    can = np.where(nxt >= 0, ca[np.maximum(nxt, 0)], -1)
    cp = np.where(prv >= 0, c[np.maximum(prv, 0)], -1)
    out = {}

    def fill(key, cols, fn, deg):
        a = np.stack(cols, axis=1)
        ok = (a >= 0).all(axis=1)
        v = np.full(R, np.nan)
        if ok.any():
            val = fn(x, torch.as_tensor(a[ok])).numpy()
            v[ok] = np.degrees(val) if deg else val
        out[key] = v

    fill("n_ca", [n, ca], _dist, False)
    fill("ca_c", [ca, c], _dist, False)
    fill("c_o", [c, o], _dist, False)
    fill("c_n", [c, nn], _dist, False)
    fill("n_ca_c", [n, ca, c], _angle, True)
    fill("ca_c_n", [ca, c, nn], _angle, True)
    fill("c_n_ca", [c, nn, can], _angle, True)
    fill("ca_c_o", [ca, c, o], _angle, True)
    fill("o_c_n", [o, c, nn], _angle, True)
    fill("omega", [ca, c, nn, can], _dihedral, True)
    fill("phi", [cp, n, ca, c], _dihedral, True)
    fill("psi", [n, ca, c, nn], _dihedral, True)
    return out


def optimize_backbone(
    positions: np.ndarray,
    n: np.ndarray,
    ca: np.ndarray,
    c: np.ndarray,
    o: np.ndarray,
    residue_next: np.ndarray,
    phi: np.ndarray | None = None,
    psi: np.ndarray | None = None,
    *,
    oxt: np.ndarray | None = None,
    resnames=None,
    cis: np.ndarray | None = None,
    geometry: BackboneGeometry = BackboneGeometry(),
    o_init: str = "input",
    dihedral_weight: float = 10.0,
    plane_fit_weight: float = 3.0,
    max_steps: int = 2000,
    plane_sweeps: int = 3,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Optimised positions (A, 3) Å: only N, C, O (and OXT) of protein residues move.

    ``n``, ``ca``, ``c``, ``o`` (and ``oxt``): (R,) atom indices into ``positions``,
    -1 where absent (a residue takes part when it has N, CA and C). ``residue_next``:
    (R,) bonded next residue or -1. ``phi``/``psi``: (R,) target dihedrals in radians,
    NaN = no target (None: none). ``resnames``: (R,) names, for the Gly N–Cα–C and Pro
    C–N–Cα ideal angles. ``cis``: (R,) bool, peptide bond i -> next(i) is cis.
    ``o_init``: ``"input"`` (units fitted to the input C, N, O; an O that is not finite
    is placed from its unit) or ``"ca"`` (units turned so that C=O lies along
    :func:`carbonyl_directions`, where defined). ``dihedral_weight`` and
    ``plane_fit_weight``: weights of the ``1 - cos`` terms toward the φ/ψ targets and toward
    the φ/ψ of the units as first fitted (3 chosen on the Cα model's validation chains: backbone
    0.354 -> 0.342 Å against 0; docs/models.md).
    """
    x = np.array(positions, dtype=np.float64).reshape(-1, 3)
    R = len(ca)
    cols = [np.asarray(a, dtype=np.int64).reshape(R) for a in (n, ca, c, o)]
    cols.append(np.full(R, -1, dtype=np.int64) if oxt is None else np.asarray(oxt, dtype=np.int64).reshape(R))
    bb = np.stack(cols, axis=1)  # (R, 5)
    nxt = np.asarray(residue_next, dtype=np.int64).reshape(R)
    ok = (bb[:, :3] >= 0).all(axis=1)
    if not ok.any():
        return x
    for col, name in ((0, "N"), (1, "CA"), (2, "C")):
        bad = ok & ~np.isfinite(x[np.maximum(bb[:, col], 0)]).all(axis=1)
        if bad.any():
            raise InputError(f"optimize_backbone: {name} of residue(s) {np.flatnonzero(bad)[:10].tolist()} is not finite")
    bb[~ok] = -1
    link = (nxt >= 0) & ok
    link[link] = ok[nxt[link]]
    nxt = np.where(link, nxt, -1)
    prv = np.full(R, -1, dtype=np.int64)
    prv[nxt[nxt >= 0]] = np.flatnonzero(nxt >= 0)
    g = geometry
    names = np.asarray(resnames).astype(str) if resnames is not None else np.full(R, "")
    cis = np.zeros(R, dtype=bool) if cis is None else np.asarray(cis, dtype=bool).reshape(R)

    if o_init not in ("input", "ca"):
        raise InputError(f"optimize_backbone: o_init must be 'input' or 'ca', not {o_init!r}")
    has_o = bb[:, 3] >= 0
    o_finite = has_o & np.isfinite(x[np.maximum(bb[:, 3], 0)]).all(axis=1)
    ca_pos = np.where(ok[:, None], x[np.maximum(bb[:, 1], 0)], np.nan)
    d = carbonyl_directions(ca_pos, nxt)
    # 1a. ideal peptide planes between bonded Cα pairs, turned about the Cα–Cα axis to fit
    # the input C, N and (where finite) O, or with "ca" to put C=O along the Cα-trace direction
    _place_planes(x, bb, nxt, d, o_finite, np.full(R, o_init == "ca"), cis, g)
    # O of a last residue without a finite position: in the N–CA–C plane, away from N
    rest = has_o & (nxt < 0) & ~np.isfinite(x[np.maximum(bb[:, 3], 0)]).all(axis=1)
    if rest.any():
        cpos, capos, npos = x[bb[rest, 2]], x[bb[rest, 1]], x[bb[rest, 0]]
        u = cpos - capos
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        w = npos - capos
        w -= (w * u).sum(1, keepdims=True) * u
        w /= np.linalg.norm(w, axis=1, keepdims=True).clip(1e-9)
        x[bb[rest, 3]] = cpos + g.c_o * (0.5 * u - 0.866 * w)
    if oxt is not None:
        oxt_bad = (bb[:, 4] >= 0) & ~np.isfinite(x[np.maximum(bb[:, 4], 0)]).all(axis=1)
        if oxt_bad.any():
            raise InputError(f"optimize_backbone: OXT of residue(s) {np.flatnonzero(oxt_bad)[:10].tolist()} is not finite")

    # compact arrays: the backbone atoms only
    atoms = np.unique(bb[bb >= 0])
    cmap = np.full(len(x), -1, dtype=np.int64)
    cmap[atoms] = np.arange(len(atoms))
    cb = np.where(bb >= 0, cmap[np.maximum(bb, 0)], -1)  # (R, 5) compact
    N_, CA_, C_, O_, OXT_ = (cb[:, k] for k in range(5))
    i_link = np.flatnonzero(nxt >= 0)
    j_link = nxt[i_link]

    bonds, bref, angles, aref, omegas, oref = [], [], [], [], [], []

    def add_bonds(a, b, ref):
        m = (a >= 0) & (b >= 0)
        bonds.append(np.stack([a[m], b[m]], 1))
        bref.append(np.broadcast_to(np.asarray(ref, dtype=float), a.shape)[m])

    def add_angles(a, b, cc, ref):
        m = (a >= 0) & (b >= 0) & (cc >= 0)
        angles.append(np.stack([a[m], b[m], cc[m]], 1))
        aref.append(np.radians(np.broadcast_to(np.asarray(ref, dtype=float), a.shape)[m]))

    r_ok = np.flatnonzero(ok)
    term = np.zeros(R, dtype=bool)
    term[r_ok] = nxt[r_ok] < 0
    add_bonds(N_[r_ok], CA_[r_ok], g.n_ca)
    add_bonds(CA_[r_ok], C_[r_ok], g.ca_c)
    add_bonds(C_[r_ok], O_[r_ok], g.c_o)
    add_bonds(C_[r_ok], OXT_[r_ok], g.c_oxt)
    add_bonds(C_[i_link], N_[j_link], g.c_n)
    tau_ref = np.where(names == "GLY", g.n_ca_c_gly, g.n_ca_c)
    add_angles(N_[r_ok], CA_[r_ok], C_[r_ok], tau_ref[r_ok])
    add_angles(CA_[r_ok], C_[r_ok], O_[r_ok], np.where(term[r_ok], g.ca_c_o_term, g.ca_c_o))
    add_angles(CA_[r_ok], C_[r_ok], OXT_[r_ok], g.ca_c_o_term)
    add_angles(O_[r_ok], C_[r_ok], OXT_[r_ok], g.o_c_oxt)
    add_angles(CA_[i_link], C_[i_link], N_[j_link], g.ca_c_n)
    add_angles(O_[i_link], C_[i_link], N_[j_link], g.o_c_n)
    add_angles(C_[i_link], N_[j_link], CA_[j_link], np.where(names[j_link] == "PRO", g.c_n_ca_pro, g.c_n_ca))
    if len(i_link):
        omegas.append(np.stack([CA_[i_link], C_[i_link], N_[j_link], CA_[j_link]], 1))
        oref.append(np.where(cis[i_link], 0.0, math.pi))

    # φ/ψ terms with targets
    tphi = np.full(R, np.nan) if phi is None else np.asarray(phi, dtype=np.float64).reshape(R)
    tpsi = np.full(R, np.nan) if psi is None else np.asarray(psi, dtype=np.float64).reshape(R)
    dih, dref, dres = [], [], []
    r = np.flatnonzero(ok & (prv >= 0) & np.isfinite(tphi))
    if len(r):
        dih.append(np.stack([C_[prv[r]], N_[r], CA_[r], C_[r]], 1))
        dref.append(tphi[r])
        dres.append(r)
    r = np.flatnonzero(ok & (nxt >= 0) & np.isfinite(tpsi))
    if len(r):
        dih.append(np.stack([N_[r], CA_[r], C_[r], N_[nxt[r]]], 1))
        dref.append(tpsi[r])
        dres.append(r)

    kdih, kres = [], []
    r = np.flatnonzero(ok & (prv >= 0))
    kdih.append(np.stack([C_[prv[r]], N_[r], CA_[r], C_[r]], 1).reshape(-1, 4))
    kres.append(r)
    r = np.flatnonzero(ok & (nxt >= 0))
    kdih.append(np.stack([N_[r], CA_[r], C_[r], N_[nxt[r]]], 1).reshape(-1, 4))
    kres.append(r)

    dev = torch.device(device)

    def T(parts, width, dtype=torch.long):
        parts = [p for p in parts if len(p)]
        if not parts:
            return torch.zeros((0, width) if width else (0,), dtype=dtype, device=dev)
        return torch.as_tensor(np.concatenate(parts), dtype=dtype, device=dev)

    t = _Terms(
        bonds=T(bonds, 2), bond_ref=T(bref, 0, torch.float64),
        angles=T(angles, 3), angle_ref=T(aref, 0, torch.float64),
        omegas=T(omegas, 4), omega_ref=T(oref, 0, torch.float64),
        dih=T(dih, 4), dih_ref=T(dref, 0, torch.float64), dih_res=T(dres, 0),
        tau=torch.as_tensor(np.stack([N_[r_ok], CA_[r_ok], C_[r_ok]], 1), device=dev),
        tau_ref=torch.as_tensor(np.radians(tau_ref[r_ok]), device=dev),
        tau_res=torch.as_tensor(r_ok, device=dev), g=g,
        keep_dih=T(kdih, 4), keep_res=T(kres, 0),
    )
    y = torch.as_tensor(x[atoms], device=dev)
    free = torch.ones((len(atoms), 1), dtype=torch.float64, device=dev)
    free[torch.as_tensor(CA_[r_ok], device=dev)] = 0.0

    # plane rotations: C(i), O(i), N(next) turned rigidly about the Cα(i)–Cα(next) axis
    pa_t = torch.as_tensor(CA_[i_link], device=dev)
    pb_t = torch.as_tensor(CA_[j_link], device=dev)
    atoms_t = torch.as_tensor(np.stack([C_[i_link], np.where(O_[i_link] >= 0, O_[i_link], C_[i_link]), N_[j_link]], 1), device=dev)
    i_t = torch.as_tensor(i_link, device=dev)
    j_t = torch.as_tensor(j_link, device=dev)
    P = len(i_link)

    def axis_of(z):
        a = z[pb_t] - z[pa_t]
        return a / a.norm(dim=-1, keepdim=True)

    def turn_planes(z, res_loss, steps):
        """Plane angles by steepest descent on sum(res_loss), from the current planes."""
        if not P:
            return z
        axis = axis_of(z)
        theta = _descend(lambda th: res_loss(_rotate(z, pa_t, axis, atoms_t, th[:, 0])).sum(),
                         torch.zeros((P, 1), dtype=torch.float64, device=dev),
                         torch.ones((P, 1), dtype=torch.float64, device=dev), steps, max_move=0.1, rtol=1e-3)
        return _rotate(z, pa_t, axis, atoms_t, theta[:, 0])

    # φ/ψ of the ideal planes as placed: kept (softly) while the planes are turned to fix τ
    keep = _Terms(**{**t.__dict__})
    if len(t.keep_dih):
        keep.dih = t.keep_dih
        keep.dih_res = t.keep_res
        keep.dih_ref = _dihedral(y, t.keep_dih).detach()

    def tau_loss(z):
        return _tau_energy_per_res(z, t, R) + _dihedral_energy_per_res(z, keep, dihedral_weight, R)

    def target_loss(z):
        return (_dihedral_energy_per_res(z, t, dihedral_weight, R) + _tau_energy_per_res(z, t, R)
                + _dihedral_energy_per_res(z, keep, plane_fit_weight, R))

    # 1. geometry, Cα fixed: ideal planes (above), turned to fix N–Cα–C, then all terms
    y = turn_planes(y, tau_loss, 300)
    y = _descend(lambda z: _geometry_energy(z, t), y, free, max_steps, rtol=1e-3)

    if len(t.dih) and P:
        # 2. peptide planes turned toward the φ/ψ targets: a grid scan per plane (planes two
        # apart along a chain share no residue, so half of them are scanned at once), then descent
        pos = np.full(R, -1, dtype=np.int64)
        for s0 in np.flatnonzero(ok & (prv < 0)):
            k, r_ = 0, s0
            while r_ >= 0 and pos[r_] < 0:
                pos[r_] = k
                k += 1
                r_ = nxt[r_]
        parity = pos[i_link] % 2
        grid = torch.linspace(-math.pi, math.pi, 73, dtype=torch.float64, device=dev)[:-1]
        grid = torch.cat([torch.zeros(1, dtype=torch.float64, device=dev), grid])
        axis = axis_of(y)
        for _ in range(plane_sweeps):
            for par in (0, 1):
                sel = torch.as_tensor(parity == par, device=dev).to(torch.float64)
                if not sel.any():
                    continue
                trial = _rotate(y, pa_t, axis, atoms_t, grid[:, None] * sel[None, :])  # (K, M, 3)
                loss = target_loss(trial)  # (K, R)
                best = (loss[:, i_t] + loss[:, j_t]).argmin(dim=0)
                y = _rotate(y, pa_t, axis, atoms_t, grid[best] * sel)
        y = turn_planes(y, target_loss, 500)

        # 3. geometry and φ/ψ together
        def full_energy(z):
            return (_geometry_energy(z, t) + _dihedral_energy_per_res(z, t, dihedral_weight, R).sum(-1)
                    + _dihedral_energy_per_res(z, keep, plane_fit_weight, R).sum(-1))

        y = _descend(full_energy, y, free, max_steps, rtol=1e-3)

    x[atoms] = y.cpu().numpy()
    return x
