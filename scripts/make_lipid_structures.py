"""All-atom CHARMM36 membrane patches with POPG and cholesterol (CHL1), for training.

OpenMM ships one-frame CHARMM36 bilayer patches (``openmm/app/data/POPE.pdb`` ...,
128 lipids, TIP3P water) but none with POPG or cholesterol. This script builds

* ``popg_pope``: OpenMM's POPE patch with a fraction (default half, per leaflet) of the
  POPE turned into POPG, neutralised with Na+ (CHARMM ``SOD``);
* ``chl1_popc``: OpenMM's POPC patch with some POPC (default 20 per leaflet, ~31 mol%)
  replaced by cholesterol;

relaxes each with OpenMM and CHARMM36 (``charmm36.xml`` + ``charmm36/water.xml``) and
writes ``OUT/<name>.pdb`` (CHARMM36 atom and residue names, 4-letter residue names,
CONECT for the lipids) and ``OUT/<name>.dcd`` (the frames; frame 0 is the PDB), plus
``OUT/<name>.json`` with the build and validation numbers.

Construction
------------
* POPE -> POPG: the ethanolamine (N, HN1-3) goes; C12 keeps its place, C13 goes along
  the old C12-N bond (1.53 Å), OC2 along one of the old C12 hydrogens (the other stays
  H12A), chosen so that the head-group C12 is R (``--popg-head``): CHARMM36's POPG as
  CHARMM-GUI builds it (all 55 POPG of MDAnalysisTests' YiiP membrane are R, by RDKit's CIP
  labels). A racemic head group (``--popg-head racemic``, R and S alternately, as in the
  commercial lipid) cannot be told apart from the CG beads: the model would learn the average
  of the two (the first lipid datasets were built so). OC3, HO2, HO3 and the C13
  hydrogens are placed from ideal internal coordinates. The head-group rotamer (which of
  C12's three positions C13 takes, and the C11-C12-C13-OC3 torsion on a 15° grid) is, by
  default, the one whose new heavy atoms are farthest from the neighbouring lipids
  (``--popg-rotamer clearest``, ties broken at random) or, with ``--popg-rotamer random``,
  drawn uniformly among those keeping 2.5 Å from them.
* POPC -> CHL1: cholesterol comes from ``examples/chl1.pdb`` (RDKit/MMFF conformer with
  CHARMM36 names, see ``scripts/make_example_structures.py``). It replaces a POPC:
  long axis along the bilayer normal, O3 at the height of the lipid's glycerol C2,
  centred on the lipid's chains, spun about the normal to the least-clashing angle.
  Replaced lipids are spread out (lateral distance >= ``--chl1-spacing``) .
* Waters that overlap the new atoms are removed; the water slab is trimmed to
  ``--water-margin`` Å beyond the mean phosphate plane of each leaflet (cheaper MD).

Relaxation
----------
CHARMM36 with PME, ``--cutoff`` (default 1.0 nm, potential switch from cutoff-0.2 nm),
HBonds constraints, rigid TIP3P. OpenMM builds CHARMM's LJ as a CustomNonbondedForce
with NBFIX tables, which is ~4x slower on the CPU platform; the script moves LJ into the
NonbondedForce (Lorentz-Berthelot, which CHARMM uses for every type pair without NBFIX)
and keeps the NBFIX pairs present in the system (here Na+ with phosphate / carbonyl
oxygens) as a small CustomNonbondedForce correction restricted to those atoms, so the
energy is unchanged (checked: ``energy_conversion_error_kJmol`` in the json). Cholesterol is
first fitted as a rigid body into the hole (spin, tilt <= ~20 deg, shifts; fewest contacts
below 3.4 Å), but some overlaps with the neighbours' chains remain (~10 heavy-atom contacts
below 3 Å per sterol, none below ~1 Å): the minimiser resolves them. Then energy
minimisation (``--min-iter``), warm-up (``--warmup-steps`` at 1 fs, as many at 2 fs), NPT
equilibration (``--equil-ps``; MonteCarloMembraneBarostat, 1 bar, zero surface tension,
303.15 K, Langevin 1/ps) and the production frames every ``--interval-ps``. Default time
step 4 fs with hydrogen mass repartitioning (H 3.024 Da, HBonds constraints); this leaves
the configurational ensemble unchanged and doubles the sampled time per CPU second; use
``--no-hmr --dt-fs 2`` for plain 2 fs.

The json also holds the validation: bond-length ranges, closest non-bonded heavy-atom
pairs, P z-ranges per leaflet (relative to the mid-plane), P-P thickness, lipids that
changed leaflet, cholesterol O3 depth and rings pierced by other molecules' bonds.

The OpenMM platform is the fastest that works (``--platform auto``: CUDA > HIP > CPU >
Reference; the json records it); on the CPU platform only ``--threads`` threads are used
(default 1). With the defaults the two systems took ~31 min on one heavily shared core (~4-6
MD steps/s for ~24k atoms); ``--frames`` sets the cost, and ``--max-minutes`` caps the wall
time per system (fewer frames when the next would not fit; the json's ``frames`` says how many:
used on a lent GPU, where five membranes side by side on one H200 ran ~400-590 steps/s each).
MD repeats to the bit only on the same platform and thread count.

    python scripts/make_lipid_structures.py -o /tmp/w/lipid_extra
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import openmm as mm  # noqa: E402
import openmm.app as app  # noqa: E402
import openmm.unit as unit  # noqa: E402

from herobm.refine.openmm_platform import platform_properties, select_platform  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(app.__file__).parent / "data"
WATER = "HOH"

# ---------------------------------------------------------------------------------------------
# Templates and I/O
# ---------------------------------------------------------------------------------------------


def charmm_templates(names) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """Atom names (template order) and bonds of CHARMM36 residues from OpenMM's XML."""
    out = {}
    for path in (DATA / "charmm36.xml", DATA / "charmm36" / "water.xml"):
        for _, el in ET.iterparse(path):
            if el.tag == "Residue" and el.get("name") in names and el.get("name") not in out:
                out[el.get("name")] = ([a.get("name") for a in el.findall("Atom")],
                                       [(b.get("atomName1"), b.get("atomName2")) for b in el.findall("Bond")])
    missing = set(names) - set(out)
    if missing:
        raise KeyError(f"no CHARMM36 template for {sorted(missing)}")
    return out


class Residue:
    __slots__ = ("name", "names", "xyz", "elements")

    def __init__(self, name, names, xyz, elements):
        self.name, self.names, self.xyz, self.elements = name, list(names), np.asarray(xyz, float), list(elements)

    def pos(self, atom):
        return self.xyz[self.names.index(atom)]


def element_of(name: str) -> str:
    if name in ("SOD",):
        return "Na"
    return name[0]


def read_pdb(path: Path) -> tuple[list[Residue], np.ndarray]:
    """Residues (atoms in file order) and the orthorhombic box (Å) of a PDB file."""
    residues, box, key, cur = [], None, None, None
    for line in open(path):
        if line.startswith("CRYST1"):
            box = np.array([float(line[6:15]), float(line[15:24]), float(line[24:33])])
        elif line.startswith(("ATOM", "HETATM")):
            k = (line[17:21].strip(), line[21], line[22:27])
            if k != key:
                key = k
                cur = Residue(k[0], [], np.zeros((0, 3)), [])
                residues.append(cur)
                cur.xyz = []
            name = line[12:16].strip()
            cur.names.append(name)
            cur.xyz.append([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            el = line[76:78].strip() or element_of(name)
            cur.elements.append(el[0].upper() + el[1:].lower())
    for r in residues:
        r.xyz = np.asarray(r.xyz, float)
    return residues, box


def write_pdb(path: Path, residues: list[Residue], xyz: np.ndarray, box: np.ndarray, bonds, title: str) -> None:
    """PDB with 4-letter residue names in columns 18-21 (as CHARMM/GROMACS write them) and
    CONECT records for the non-water bonds."""
    lines = [f"REMARK   1 {title}", "CRYST1%9.3f%9.3f%9.3f  90.00  90.00  90.00 P 1           1" % tuple(box)]
    i = 0
    for ir, r in enumerate(residues):
        for name, el in zip(r.names, r.elements):
            field = name if len(name) == 4 else f" {name:<3}"
            x, y, z = xyz[i]
            i += 1
            lines.append(f"HETATM{i % 100000:5d} {field} {r.name:<4}A{(ir + 1) % 10000:4d}    "
                         f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {el.upper():>2}")
    lines.append("TER")
    partners: dict[int, list[int]] = {}
    for a, b in bonds:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    for a in sorted(partners):
        ps = sorted(partners[a])
        for k in range(0, len(ps), 4):
            lines.append("CONECT" + "".join(f"{j + 1:5d}" for j in [a] + ps[k:k + 4]))
    lines.append("END")
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------


def unit_vec(v):
    return v / np.linalg.norm(v)


def nerf(a, b, c, bond, angle_deg, torsion_deg):
    """Position of d with |cd| = bond, angle bcd and torsion abcd (degrees)."""
    ang, tor = math.radians(angle_deg), math.radians(torsion_deg)
    bc = unit_vec(c - b)
    n = unit_vec(np.cross(b - a, bc))
    m = np.cross(n, bc)
    d2 = np.array([-bond * math.cos(ang), bond * math.sin(ang) * math.cos(tor), bond * math.sin(ang) * math.sin(tor)])
    return c + d2[0] * bc + d2[1] * m + d2[2] * n


def rotation(axis, angle):
    axis = unit_vec(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def align(u, v):
    """Rotation matrix taking unit vector u onto unit vector v."""
    u, v = unit_vec(u), unit_vec(v)
    c = float(np.dot(u, v))
    if c > 1 - 1e-9:
        return np.eye(3)
    if c < -1 + 1e-9:
        p = np.cross(u, [1, 0, 0] if abs(u[0]) < 0.9 else [0, 1, 0])
        return rotation(p, math.pi)
    return rotation(np.cross(u, v), math.acos(c))


def min_image(d, box):
    return d - box * np.round(d / box)


def min_dist(points, others, box):
    if len(others) == 0 or len(points) == 0:
        return np.inf
    d = min_image(points[:, None, :] - others[None, :, :], box)
    return float(np.sqrt((d ** 2).sum(-1)).min())


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def is_lipid(r: Residue) -> bool:
    return r.name not in (WATER, "SOD", "CLA")


def heavy_xyz(residues):
    pts = [r.xyz[[e != "H" for e in r.elements]] for r in residues]
    return np.concatenate(pts) if pts else np.zeros((0, 3))


def head_handedness(c11, c12, c13, oc2) -> str:
    """CIP label of the POPG head-group C12 (OC2 > C11 > C13 > H): 'R' when
    det[C11 - C12, C13 - C12, OC2 - C12] < 0 (checked with RDKit's labels on YiiP's POPG)."""
    return "R" if np.linalg.det(np.array([c11 - c12, c13 - c12, oc2 - c12])) < 0 else "S"


HEAD_CLEARANCE = 2.5  # Å: a head-group rotamer "does not clash" when its new heavy atoms keep this far


def pope_to_popg(res: Residue, template_names, rng, handedness: str, neighbours: np.ndarray, box,
                 rotamer: str = "clearest") -> Residue:
    """A POPG residue (template atom order) from a POPE residue, head-group C12 ``handedness``
    'R' or 'S'; see the module docstring. ``rotamer`` (which of C12's three positions C13
    takes, and the C11-C12-C13-OC3 torsion on a 15° grid): 'clearest' takes the one whose new
    heavy atoms are farthest from the other heavy atoms (ties broken at random); 'random'
    draws uniformly among those that keep ``HEAD_CLEARANCE`` Å (the clearest one when none
    does)."""
    if rotamer not in ("clearest", "random"):
        raise ValueError(f"rotamer must be 'clearest' or 'random', not {rotamer!r}")
    X = dict(zip(res.names, res.xyz))
    new = {k: v for k, v in X.items() if k not in ("N", "HN1", "HN2", "HN3", "H12A", "H12B")}
    c11, c12 = X["C11"], X["C12"]
    # the three substituent directions of C12 besides C11 (C13, OC2, H); a cyclic reassignment
    # keeps the handedness, so only the order decides it
    dirs = [X["N"], X["H12A"], X["H12B"]]
    if head_handedness(c11, c12, dirs[0], dirs[1]) != handedness:
        dirs = [X["N"], X["H12B"], X["H12A"]]
    own = np.array([v for k, v in new.items() if k not in ("C11", "C12") and not k.startswith("H")])
    env = np.concatenate([neighbours, own]) if len(neighbours) else own
    best, clear = None, []
    for shift in range(3):
        d_c13, d_oc2, d_h = (dirs[(shift + k) % 3] for k in range(3))
        c13 = c12 + 1.53 * unit_vec(d_c13 - c12)
        oc2 = c12 + 1.43 * unit_vec(d_oc2 - c12)
        h12 = c12 + 1.10 * unit_vec(d_h - c12)
        base = min_dist(np.array([c13, oc2]), env, box)
        for t1 in np.arange(-180.0, 180.0, 15.0):
            oc3 = nerf(c11, c12, c13, 1.43, 111.0, t1)
            score = min(base, min_dist(oc3[None], env, box), float(np.linalg.norm(oc3 - oc2)) + 0.2)
            if score >= HEAD_CLEARANCE:
                clear.append((score, c13, oc2, h12, oc3))
            score += 0.15 * rng.random()  # break ties at random
            if best is None or score > best[0]:
                best = (score, c13, oc2, h12, oc3)
    if rotamer == "random" and clear:
        best = clear[int(rng.integers(len(clear)))]
    _, c13, oc2, h12, oc3 = best
    new.update(C13=c13, OC2=oc2, H12A=h12, OC3=oc3)
    new["H13A"] = nerf(oc3, c12, c13, 1.10, 109.5, 120.0)
    new["H13B"] = nerf(oc3, c12, c13, 1.10, 109.5, -120.0)
    new["HO3"] = nerf(c12, c13, oc3, 0.96, 108.0, rng.choice([60.0, 180.0, -60.0]) + rng.normal(0, 10))
    new["HO2"] = nerf(c11, c12, oc2, 0.96, 108.0, rng.choice([60.0, 180.0, -60.0]) + rng.normal(0, 10))
    return Residue("POPG", template_names, np.array([new[n] for n in template_names]),
                   [element_of(n) for n in template_names])


def spread_pick(points_xy, k, spacing, box_xy, rng, avoid=(), avoid_dist=7.0):
    """Up to k indices of points_xy, greedily at random, pairwise (periodic) >= spacing apart
    and >= avoid_dist from the points ``avoid``."""
    order = rng.permutation(len(points_xy))
    chosen = []
    for i in order:
        if any(np.linalg.norm(min_image(points_xy[i] - q, box_xy)) < avoid_dist for q in avoid):
            continue
        if all(np.linalg.norm(min_image(points_xy[i] - points_xy[j], box_xy)) >= spacing for j in chosen):
            chosen.append(i)
            if len(chosen) == k:
                break
    return chosen


def place_cholesterol(chl: Residue, lipid: Residue, side: int, env_heavy: np.ndarray, box, rng) -> tuple[Residue, dict]:
    """Cholesterol in place of ``lipid`` (leaflet ``side`` = +1 upper, -1 lower)."""
    heavy = np.array([e != "H" for e in chl.elements])
    x = chl.xyz - chl.xyz[heavy].mean(0)
    # long axis: principal axis of the heavy atoms, pointing to O3
    w, v = np.linalg.eigh(np.cov(x[heavy].T))
    axis = v[:, -1]
    if np.dot(chl.pos("O3") - chl.xyz[heavy].mean(0), axis) < 0:
        axis = -axis
    x = x @ align(axis, np.array([0.0, 0.0, float(side)])).T
    chains = [i for i, n in enumerate(lipid.names) if n[0] == "C" and (n.startswith("C2") or n.startswith("C3"))
              and len(n) >= 3 and n not in ("C2", "C3")]
    centre_xy = lipid.xyz[chains, :2].mean(0)
    z_o3 = lipid.pos("C2")[2]
    o3 = chl.names.index("O3")
    from scipy.optimize import minimize
    from scipy.spatial import cKDTree

    site = np.array([centre_xy[0], centre_xy[1], z_o3])
    env = site + min_image(env_heavy - site, box)
    env = env[np.linalg.norm(env - site, axis=1) < 30.0]
    tree = cKDTree(env)

    def pose(p):
        y = x @ rotation([0, 0, 1], p[0]).T
        tilt = np.array([p[1], p[2], 0.0])
        if np.linalg.norm(tilt) > 1e-9:
            y = y @ rotation(tilt, np.linalg.norm(tilt)).T
        y[:, :2] += centre_xy + p[3:5] - y[heavy, :2].mean(0)
        y[:, 2] += z_o3 + p[5] - y[o3, 2]
        return y

    def cost(p):
        y = pose(p)
        d, _ = tree.query(y[heavy], k=6, distance_upper_bound=3.4)
        d = d[np.isfinite(d)]
        tilt = math.hypot(p[1], p[2])
        return float(((3.4 - d) ** 2).sum()) + 2.0 * float(p[3] ** 2 + p[4] ** 2 + p[5] ** 2) \
            + 50.0 * max(0.0, tilt - 0.35) ** 2

    # grid over the spin, then a local rigid-body fit (spin, tilt, lateral and vertical shift)
    starts = sorted((cost(np.array([a, 0, 0, 0, 0, 0.0])), a) for a in np.arange(0, 2 * math.pi, math.pi / 18))
    best = None
    for _, a in starts[:3]:
        r = minimize(cost, np.array([a, 0, 0, 0, 0, 0.0]), method="Powell",
                     options={"maxfev": 1500, "xtol": 1e-3, "ftol": 1e-4})
        if best is None or r.fun < best[0]:
            best = (r.fun, r.x)
    y = pose(best[1])
    d, _ = tree.query(y[heavy], k=1)
    best = ((int((tree.query_ball_point(y[heavy], 3.0, return_length=True)).sum()), -float(d.min())), y)
    out = Residue("CHL1", chl.names, best[1], chl.elements)
    return out, {"close_contacts_below_3A": best[0][0], "min_heavy_dist": -best[0][1]}


def trim_and_recentre(residues, box, margin, zc=None):
    """Keep waters within ``margin`` Å beyond the mean phosphate plane of each leaflet, and
    put the bilayer centre in the middle of a new, shorter box."""
    pz = np.array([r.pos("P")[2] for r in residues if is_lipid(r) and "P" in r.names])
    zc = float(pz.mean()) if zc is None else zc
    half = float(np.abs(pz - zc).mean()) + margin
    new_box = box.copy()
    new_box[2] = min(box[2], 2 * half + 2.5)
    shift = new_box[2] / 2 - zc
    kept = []
    for r in residues:
        if r.name == WATER:
            dz = r.xyz[0, 2] - zc
            dz -= box[2] * round(dz / box[2])
            if abs(dz) > half:
                continue
            r.xyz = r.xyz.copy()
            r.xyz[:, 2] += (zc + dz) - r.xyz[0, 2] + shift
        else:
            r.xyz = r.xyz + np.array([0.0, 0.0, shift])
        kept.append(r)
    return kept, new_box


def remove_clashing_waters(residues, new_atoms_heavy, new_atoms_h, box, cut_heavy=2.6, cut_h=2.0):
    keep, removed = [], 0
    for r in residues:
        if r.name == WATER:
            o = r.xyz[:1]
            if min_dist(o, new_atoms_heavy, box) < cut_heavy or min_dist(o, new_atoms_h, box) < cut_h:
                removed += 1
                continue
        keep.append(r)
    return keep, removed


def add_sodium(residues, n, box, rng, zc, min_depth, spacing=5.0):
    """Replace n waters far from the bilayer centre by SOD, >= spacing Å apart."""
    waters = [i for i, r in enumerate(residues) if r.name == WATER]
    depth = np.array([abs(min_image(np.array([0, 0, residues[i].xyz[0, 2] - zc]), box)[2]) for i in waters])
    cand = [waters[k] for k in rng.permutation(len(waters)) if depth[k] >= min_depth]
    chosen, pts = [], []
    for i in cand:
        p = residues[i].xyz[0]
        if all(np.linalg.norm(min_image(p - q, box)) >= spacing for q in pts):
            chosen.append(i)
            pts.append(p)
            if len(chosen) == n:
                break
    if len(chosen) < n:
        raise RuntimeError(f"could place only {len(chosen)} of {n} Na+")
    ions = [Residue("SOD", ["SOD"], residues[i].xyz[:1].copy(), ["Na"]) for i in chosen]
    drop = set(chosen)
    kept = [r for i, r in enumerate(residues) if i not in drop]
    # ions after the waters
    return kept + ions


def build_popg_pope(args, rng, templates):
    residues, box = read_pdb(DATA / "POPE.pdb")
    for r in residues:
        if is_lipid(r):
            r.name = "POPE"
    lipids = [i for i, r in enumerate(residues) if is_lipid(r)]
    pz = np.array([residues[i].pos("P")[2] for i in lipids])
    zc = float(pz.mean())
    new_heavy, new_h, picks = [], [], []
    for side in (1, -1):
        idx = [lipids[k] for k in range(len(lipids)) if (pz[k] - zc) * side > 0]
        n = int(round(args.popg_fraction * len(idx)))
        picks += list(rng.choice(idx, size=n, replace=False))
    names = templates["POPG"][0]
    for k, i in enumerate(sorted(picks)):
        head = residues[i].pos("P")
        near = [r for j, r in enumerate(residues) if j != i and is_lipid(r)
                and np.linalg.norm(min_image(r.pos("P") - head, box)) < 14.0]
        hand = args.popg_head if args.popg_head != "racemic" else "RS"[k % 2]
        residues[i] = pope_to_popg(residues[i], names, rng, hand, heavy_xyz(near), box, args.popg_rotamer)
        new = residues[i]
        sel = [n in ("C13", "OC2", "OC3", "HO2", "HO3", "H13A", "H13B", "H12A") for n in new.names]
        for n_, x, s in zip(new.names, new.xyz, sel):
            if s:
                (new_h if n_.startswith("H") else new_heavy).append(x)
    residues, removed = remove_clashing_waters(residues, np.array(new_heavy), np.array(new_h), box)
    residues, box = trim_and_recentre(residues, box, args.water_margin, zc)
    zc_new = box[2] / 2
    residues = add_sodium(residues, len(picks), box, rng, zc_new, min_depth=float(np.abs(pz - zc).mean()) + 4.0)
    info = {"source": "openmm/app/data/POPE.pdb", "popg": len(picks), "waters_removed_for_clashes": removed,
            "popg_head_chirality": "C12 alternately R/S (racemic)" if args.popg_head == "racemic"
            else f"C12 {args.popg_head}", "popg_head_rotamer": args.popg_rotamer}
    return residues, box, info


def build_chl1_popc(args, rng, templates):
    residues, box = read_pdb(DATA / "POPC.pdb")
    for r in residues:
        if is_lipid(r):
            r.name = "POPC"
    chl, _ = read_pdb(ROOT / "examples" / "chl1.pdb")
    chl = chl[0]
    order = templates["CHL1"][0]
    assert sorted(order) == sorted(chl.names), "examples/chl1.pdb does not match the CHARMM36 CHL1 template"
    chl = Residue("CHL1", order, np.array([chl.pos(n) for n in order]), [element_of(n) for n in order])
    lipids = [i for i, r in enumerate(residues) if is_lipid(r)]
    pz = np.array([residues[i].pos("P")[2] for i in lipids])
    zc = float(pz.mean())
    picks, taken_xy = [], []
    for side in (1, -1):
        idx = [lipids[k] for k in range(len(lipids)) if (pz[k] - zc) * side > 0]
        xy = np.array([residues[i].xyz[:, :2].mean(0) for i in idx])
        spacing = args.chl1_spacing
        while True:
            # sterols of the two leaflets meet at the mid-plane: keep them laterally apart too
            got = spread_pick(xy, args.chl1_per_leaflet, spacing, box[:2], rng, avoid=taken_xy)
            if len(got) == args.chl1_per_leaflet or spacing < 5:
                break
            spacing -= 0.5
        picks += [(idx[g], side) for g in got]
        taken_xy += [xy[g] for g in got]
    picked = {i for i, _ in picks}
    placed, stats = {}, []
    for i, side in picks:
        site = residues[i].xyz.mean(0)
        env = [r for j, r in enumerate(residues) if is_lipid(r) and j not in picked
               and np.linalg.norm(min_image(r.xyz.mean(0) - site, box)[:2]) < 22.0]
        env += [c for c in placed.values()]
        c, st = place_cholesterol(chl, residues[i], side, heavy_xyz(env), box, rng)
        placed[i] = c
        stats.append(st)
    for i, c in placed.items():
        residues[i] = c
    new = list(placed.values())
    nh = np.concatenate([c.xyz[[e != "H" for e in c.elements]] for c in new])
    hh = np.concatenate([c.xyz[[e == "H" for e in c.elements]] for c in new])
    residues, removed = remove_clashing_waters(residues, nh, hh, box)
    residues, box = trim_and_recentre(residues, box, args.water_margin, zc)
    info = {"source": "openmm/app/data/POPC.pdb", "chl1": len(placed), "waters_removed_for_clashes": removed,
            "chl1_close_contacts_below_3A_at_insertion": int(sum(s["close_contacts_below_3A"] for s in stats)),
            "chl1_min_heavy_dist_at_insertion": float(min(s["min_heavy_dist"] for s in stats))}
    return residues, box, info


# ---------------------------------------------------------------------------------------------
# OpenMM
# ---------------------------------------------------------------------------------------------


def make_topology(residues, box, templates):
    top = app.Topology()
    chain = top.addChain("A")
    atoms, bonds = [], []
    for r in residues:
        res = top.addResidue(r.name, chain)
        local = {}
        for n, el in zip(r.names, r.elements):
            a = top.addAtom(n, app.Element.getBySymbol(el), res)
            local[n] = a
            atoms.append(a)
        if r.name == WATER:
            pairs = [("O", "H1"), ("O", "H2")]
        elif r.name in templates:
            pairs = templates[r.name][1]
        else:
            pairs = []
        for a, b in pairs:
            top.addBond(local[a], local[b])
            if r.name != WATER:
                bonds.append((local[a].index, local[b].index))
    top.setPeriodicBoxVectors(np.diag(box / 10.0) * unit.nanometer)
    return top, bonds


def lj_to_nonbonded(system: mm.System) -> dict:
    """Move CHARMM's tabulated LJ (CustomNonbondedForce) into the NonbondedForce with
    Lorentz-Berthelot rules; keep the NBFIX pairs present as a restricted correction."""
    forces = system.getForces()
    cnb_i = [i for i, f in enumerate(forces) if isinstance(f, mm.CustomNonbondedForce)
             and f.getNumTabulatedFunctions() == 2]
    if not cnb_i:
        return {"converted": False}
    cnb = forces[cnb_i[0]]
    nb = [f for f in forces if isinstance(f, mm.NonbondedForce)][0]
    nx, ny, va = cnb.getTabulatedFunction(0).getFunctionParameters()
    _, _, vb = cnb.getTabulatedFunction(1).getFunctionParameters()
    A = np.array(va).reshape(ny, nx)
    B = np.array(vb).reshape(ny, nx)
    ptype = np.array([int(cnb.getParticleParameters(i)[0]) for i in range(system.getNumParticles())])
    sig = np.full(nx, 0.1)
    eps = np.zeros(nx)
    for t in set(ptype.tolist()):
        a, b = A[t, t], B[t, t]
        if a > 0 and b > 0:
            sig[t] = (a / b) ** (1 / 6)
            eps[t] = b * b / (4 * a)
    for i in range(system.getNumParticles()):
        q, _, _ = nb.getParticleParameters(i)
        nb.setParticleParameters(i, q, sig[ptype[i]], eps[ptype[i]])
    nb.setUseSwitchingFunction(cnb.getUseSwitchingFunction())
    nb.setSwitchingDistance(cnb.getSwitchingDistance())
    nb.setUseDispersionCorrection(cnb.getUseLongRangeCorrection())
    # NBFIX pairs among the types present
    present = sorted(set(ptype.tolist()))
    fixes = []
    for ii, t1 in enumerate(present):
        for t2 in present[ii:]:
            s, e = (sig[t1] + sig[t2]) / 2, math.sqrt(eps[t1] * eps[t2])
            a_lb, b_lb = 4 * e * s ** 12, 4 * e * s ** 6
            if not (np.isclose(A[t1, t2], a_lb, rtol=1e-6, atol=1e-12) and np.isclose(B[t1, t2], b_lb, rtol=1e-6, atol=1e-12)):
                fixes.append((t1, t2, A[t1, t2] - a_lb, B[t1, t2] - b_lb))
    # read everything needed from the old force before removing it (removal frees it)
    exclusions = [tuple(cnb.getExclusionParticles(k)) for k in range(cnb.getNumExclusions())]
    cutoff, use_switch, switch = cnb.getCutoffDistance(), cnb.getUseSwitchingFunction(), cnb.getSwitchingDistance()
    system.removeForce(cnb_i[0])
    if fixes:
        types = sorted({t for f in fixes for t in f[:2]})
        loc = {t: k for k, t in enumerate(types)}
        n = len(types) + 1  # last: "other"
        dA = np.zeros((n, n))
        dB = np.zeros((n, n))
        for t1, t2, da, db in fixes:
            for p, q in ((loc[t1], loc[t2]), (loc[t2], loc[t1])):
                dA[p, q], dB[p, q] = da, db
        corr = mm.CustomNonbondedForce("dA(ftype1, ftype2)/r^12 - dB(ftype1, ftype2)/r^6")
        corr.addTabulatedFunction("dA", mm.Discrete2DFunction(n, n, dA.T.ravel().tolist()))
        corr.addTabulatedFunction("dB", mm.Discrete2DFunction(n, n, dB.T.ravel().tolist()))
        corr.addPerParticleParameter("ftype")
        for i in range(system.getNumParticles()):
            corr.addParticle([float(loc.get(int(ptype[i]), n - 1))])
        corr.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
        corr.setCutoffDistance(cutoff)
        corr.setUseSwitchingFunction(use_switch)
        corr.setSwitchingDistance(switch)
        for a, b in exclusions:
            corr.addExclusion(a, b)
        for t1, t2, _, _ in fixes:
            g1 = set(np.flatnonzero(ptype == t1).tolist())
            g2 = set(np.flatnonzero(ptype == t2).tolist())
            corr.addInteractionGroup(g1, g2)
        system.addForce(corr)
    return {"converted": True, "nbfix_pairs_present": len(fixes)}


def energy(sim) -> float:
    return sim.context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def residue_index(residues) -> tuple[np.ndarray, np.ndarray]:
    """(residue index of every atom, first atom of every residue and the atom count at the end),
    atoms in the order the residues list them."""
    sizes = [len(r.names) for r in residues]
    return np.repeat(np.arange(len(residues)), sizes), np.cumsum([0] + sizes)


def validate(residues, frames, boxes, bonds) -> dict:
    from scipy.spatial import cKDTree

    elements = [e for r in residues for e in r.elements]
    heavy = np.array([e != "H" for e in elements])
    res_of, starts = residue_index(residues)
    water = np.array([residues[k].name == WATER for k in res_of])
    bonded = set()
    adj: dict[int, set] = {}
    for a, b in bonds:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    for a, nbs in adj.items():
        for b in nbs:
            bonded.add((min(a, b), max(a, b)))
            for c in adj[b]:
                if c != a:
                    bonded.add((min(a, c), max(a, c)))  # 1-3
    b = np.array(bonds)
    bh = heavy[b[:, 0]] & heavy[b[:, 1]]
    lip_P = [(k, r.names.index("P")) for k, r in enumerate(residues) if "P" in r.names]
    p_idx = np.array([starts[k] + j for k, j in lip_P])
    chl = [k for k, r in enumerate(residues) if r.name == "CHL1"]
    o3_idx = np.array([starts[k] + residues[k].names.index("O3") for k in chl], dtype=int)
    out = {"frames": len(frames), "min_nonbonded_heavy_dist": [], "min_intermolecular_heavy_dist": [],
           "bond_heavy_min": [], "bond_heavy_max": [], "bond_H_min": [], "bond_H_max": [],
           "P_z_upper": [], "P_z_lower": [], "thickness_PP": [], "flipped_lipids": [], "chl1_o3_depth": [],
           "box": []}
    sel = np.flatnonzero(heavy)
    n_all = len(elements)
    bonded_codes = np.array(sorted(a * n_all + c for a, c in bonded), dtype=np.int64)
    ref_side = None
    for xyz, box in zip(frames, boxes):
        w = np.mod(xyz[sel], box)
        tree = cKDTree(w, boxsize=box)
        pairs = tree.query_pairs(3.0, output_type="ndarray")
        i, j = sel[pairs[:, 0]], sel[pairs[:, 1]]
        lo_, hi_ = np.minimum(i, j), np.maximum(i, j)
        d_all = np.linalg.norm(min_image(xyz[i] - xyz[j], box), axis=1)
        keep = ~np.isin(lo_.astype(np.int64) * n_all + hi_, bonded_codes)
        keep &= ~(water[i] & water[j] & (res_of[i] == res_of[j]))
        nb_d = d_all[keep]
        inter = res_of[i] != res_of[j]
        out["min_nonbonded_heavy_dist"].append(float(nb_d.min()) if len(nb_d) else 3.0)
        out["min_intermolecular_heavy_dist"].append(float(d_all[inter].min()) if inter.any() else 3.0)
        out["pairs_below_0.9A"] = out.get("pairs_below_0.9A", 0) + int((nb_d < 0.9).sum())
        bl = np.linalg.norm(xyz[b[:, 0]] - xyz[b[:, 1]], axis=1)
        out["bond_heavy_min"].append(float(bl[bh].min()))
        out["bond_heavy_max"].append(float(bl[bh].max()))
        out["bond_H_min"].append(float(bl[~bh].min()))
        out["bond_H_max"].append(float(bl[~bh].max()))
        pz = xyz[p_idx, 2]
        zc = float(pz.mean())
        side = pz > zc
        if ref_side is None:
            ref_side = side
        up, lo = pz[side], pz[~side]
        out["P_z_upper"].append([round(float(up.min() - zc), 2), round(float(up.max() - zc), 2)])
        out["P_z_lower"].append([round(float(lo.min() - zc), 2), round(float(lo.max() - zc), 2)])
        out["thickness_PP"].append(round(float(up.mean() - lo.mean()), 2))
        out["flipped_lipids"].append(int((side != ref_side).sum()))
        if len(o3_idx):
            out["chl1_o3_depth"].append(round(float(np.abs(xyz[o3_idx, 2] - zc).mean()), 2))
        out["box"].append([round(float(x), 2) for x in box])
    if chl:
        out["chl1_ring_threading"] = ring_threading(residues, frames[-1], boxes[-1], starts, chl, heavy, res_of, bonds)
    return out


def ring_threading(residues, xyz, box, starts, chl, heavy, res_of, bonds) -> int:
    """Bonds of other molecules that pierce one of cholesterol's rings (last frame)."""
    rings = [["C1", "C2", "C3", "C4", "C5", "C10"], ["C5", "C6", "C7", "C8", "C9", "C10"],
             ["C8", "C9", "C11", "C12", "C13", "C14"], ["C13", "C14", "C15", "C16", "C17"]]
    b = np.array(bonds)
    count = 0
    for k in chl:
        r = residues[k]
        for ring in rings:
            idx = [starts[k] + r.names.index(n) for n in ring]
            p = xyz[idx]
            c = p.mean(0)
            nrm = unit_vec(np.cross(p[1] - p[0], p[2] - p[0]) + np.cross(p[3] - p[2], p[4] - p[2]))
            d0 = min_image(xyz[b[:, 0]] - c, box)
            d1 = d0 + min_image(xyz[b[:, 1]] - xyz[b[:, 0]], box)
            near = (np.linalg.norm(d0, axis=1) < 4.0) & (res_of[b[:, 0]] != k)
            for u, v in zip(d0[near], d1[near]):
                su, sv = np.dot(u, nrm), np.dot(v, nrm)
                if su * sv < 0:
                    x = u + (v - u) * su / (su - sv)
                    if np.linalg.norm(x) < 1.1:
                        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def closest_contact(residues, box) -> tuple[float, str]:
    """The shortest (periodic) distance in Å between atoms of two different residues, hydrogens
    included, and that pair as text; (inf, "") when no two such atoms are within 1 Å. Hydrogens
    can land on each other, and the cholesterol fit leaves heavy atoms as close as 1.1 Å (the
    minimiser takes those apart)."""
    from scipy.spatial import cKDTree

    xyz = np.concatenate([r.xyz for r in residues])
    rid, start = residue_index(residues)
    pairs = cKDTree(np.mod(xyz, box), boxsize=box).query_pairs(1.0, output_type="ndarray")
    pairs = pairs[rid[pairs[:, 0]] != rid[pairs[:, 1]]]
    if not len(pairs):
        return math.inf, ""
    d = np.linalg.norm(min_image(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], box), axis=1)
    k = int(np.argmin(d))

    def label(i):
        j = int(rid[i])
        return f"{residues[j].name} {j + 1} {residues[j].names[i - start[j]]}"

    return float(d[k]), f"{label(pairs[k, 0])} - {label(pairs[k, 1])}"


def check_minimised(name: str, seed: int, e_min: float, residues, box) -> None:
    """Raise a clear error when the minimised energy (kJ/mol) is not that of a relaxed solvated
    membrane (negative): atoms of the built membrane overlap too closely for the minimiser, and
    MD from there ends in NaN coordinates."""
    if math.isfinite(e_min) and e_min < 0.0:
        return
    d, pair = closest_contact(residues, box)
    where = f"closest atoms {pair} at {d:.2f} Å" if pair else "no atoms within 1 Å"
    raise RuntimeError(f"[{name}] seed {seed}: energy {e_min:.3g} kJ/mol after minimisation; the built "
                       f"membrane has overlapping atoms ({where}): try another --seed")


def system_rng(seed: int, name: str) -> np.random.Generator:
    """The random generator that builds system ``name`` for ``--seed seed``: each system has its
    own stream, so building one system does not change another's membrane."""
    return np.random.default_rng(seed + sum(map(ord, name)))


def run_system(name, builder, args, templates, outdir: Path) -> dict:
    t0 = time.time()
    rng = system_rng(args.seed, name)
    residues, box, info = builder(args, rng, templates)
    top, bonds = make_topology(residues, box, templates)
    xyz0 = np.concatenate([r.xyz for r in residues])
    counts = {}
    for r in residues:
        counts[r.name] = counts.get(r.name, 0) + 1
    print(f"[{name}] built: {counts}, {len(xyz0)} atoms, box {np.round(box, 2).tolist()} Å", flush=True)
    ff = app.ForceField("charmm36.xml", "charmm36/water.xml")
    kw = dict(nonbondedMethod=app.PME, nonbondedCutoff=args.cutoff * unit.nanometer,
              switchDistance=(args.cutoff - 0.2) * unit.nanometer, constraints=app.HBonds, rigidWater=True)
    # the CHARMM36 file has look-alike templates (CLOL has CHL1's graph): name ours
    kw["residueTemplates"] = {res: res.name for res in top.residues() if res.name in templates and res.name != "SOD"}
    if args.hmr:
        kw["hydrogenMass"] = 3.024 * unit.amu
    system = ff.createSystem(top, **kw)
    platform = select_platform(args.platform)
    props = {"Threads": str(args.threads)} if platform.getName() == "CPU" else platform_properties(platform.getName())
    pos = xyz0 / 10.0
    # energy of the original (CustomNonbondedForce) system, for the conversion check
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), platform, props)
    ctx.setPositions(pos)
    e_ref = ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    del ctx
    conv = lj_to_nonbonded(system)
    system.addForce(mm.MonteCarloMembraneBarostat(1.0 * unit.bar, 0.0, args.temperature * unit.kelvin,
                                                  mm.MonteCarloMembraneBarostat.XYIsotropic,
                                                  mm.MonteCarloMembraneBarostat.ZFree, 50))
    integ = mm.LangevinMiddleIntegrator(args.temperature * unit.kelvin, 1.0 / unit.picosecond, 0.001 * unit.picosecond)
    sim = app.Simulation(top, system, integ, platform, props)
    sim.context.setPositions(pos)
    e_conv = energy(sim)
    conv["energy_conversion_error_kJmol"] = e_conv - e_ref
    print(f"[{name}] initial energy {e_ref:.1f} (CHARMM LJ tables) / {e_conv:.1f} kJ/mol (converted), "
          f"{conv}; setup {time.time() - t0:.0f} s", flush=True)
    t = time.time()
    tol = 10.0 * unit.kilojoule_per_mole / unit.nanometer
    sim.minimizeEnergy(tolerance=tol, maxIterations=args.min_iter)
    e_min = energy(sim)
    print(f"[{name}] minimised: {e_min:.1f} kJ/mol ({time.time() - t:.0f} s)", flush=True)
    check_minimised(name, args.seed, e_min, residues, box)
    sim.context.setVelocitiesToTemperature(args.temperature * unit.kelvin, int(rng.integers(1 << 30)))
    t = time.time()
    sim.step(args.warmup_steps)  # 1 fs
    integ.setStepSize(0.002 * unit.picosecond)
    sim.step(args.warmup_steps)  # then 2 fs
    integ.setStepSize(args.dt_fs * 0.001 * unit.picosecond)
    n_eq = int(round(args.equil_ps * 1000 / args.dt_fs))
    sim.step(n_eq)
    e_eq = energy(sim)
    steps_per_s = (2 * args.warmup_steps + n_eq) / max(time.time() - t, 1e-9)
    print(f"[{name}] equilibrated {args.equil_ps} ps: {e_eq:.1f} kJ/mol ({time.time() - t:.0f} s, "
          f"{steps_per_s:.1f} steps/s)", flush=True)
    interval = int(round(args.interval_ps * 1000 / args.dt_fs))
    frames, boxes, energies = [], [], []
    dcd_path = outdir / f"{name}.dcd"
    with open(dcd_path, "wb") as fh:
        dcd = app.DCDFile(fh, top, args.dt_fs * 0.001 * unit.picosecond, firstStep=0, interval=interval)
        t_frame = time.time()
        for k in range(args.frames):
            if k:
                # a wall-clock budget (a GPU lease, say): stop before a frame that would not fit
                per_frame = time.time() - t_frame if k > 1 else 0.0
                if args.max_minutes and time.time() - t0 + per_frame > 60.0 * args.max_minutes:
                    print(f"[{name}] --max-minutes {args.max_minutes}: stopping after {k} frames", flush=True)
                    break
                t_frame = time.time()
                sim.step(interval)
            st = sim.context.getState(getPositions=True, getEnergy=True)
            x = st.getPositions(asNumpy=True).value_in_unit(unit.angstrom)
            bv = st.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.angstrom)
            e = st.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
            if not np.all(np.isfinite(x)) or not math.isfinite(e):
                raise RuntimeError(f"non-finite state at frame {k}")
            dcd.writeModel(st.getPositions(), periodicBoxVectors=st.getPeriodicBoxVectors())
            frames.append(np.array(x))
            boxes.append(np.diag(np.array(bv)))
            energies.append(e)
            print(f"[{name}] frame {k}: E {e:.1f} kJ/mol, box {np.round(boxes[-1], 2).tolist()} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    write_pdb(outdir / f"{name}.pdb", residues, frames[0], boxes[0], bonds,
              f"{name}: CHARMM36 all-atom bilayer, frame 0 of {name}.dcd; scripts/make_lipid_structures.py")
    val = validate(residues, frames, boxes, bonds)
    report = {"name": name, "counts": counts, "atoms": int(len(xyz0)), **info, **conv,
              "energy_initial_kJmol": e_ref, "energy_minimised_kJmol": e_min, "energy_equilibrated_kJmol": e_eq,
              "energy_frames_kJmol": energies, "frames": len(frames), "time_between_frames_ps": args.interval_ps,
              "md": {"dt_fs": args.dt_fs, "hmr": args.hmr, "cutoff_nm": args.cutoff, "equil_ps": args.equil_ps,
                     "warmup_steps_1fs": args.warmup_steps, "temperature_K": args.temperature,
                     "ensemble": "NPT, MonteCarloMembraneBarostat XYIsotropic/ZFree, 1 bar, 0 surface tension"},
              "platform": platform.getName(), "steps_per_s": steps_per_s, "seconds": time.time() - t0,
              "validation": val}
    (outdir / f"{name}.json").write_text(json.dumps(report, indent=1))
    print(f"[{name}] done in {time.time() - t0:.0f} s; validation: "
          f"min nonbonded heavy {min(val['min_nonbonded_heavy_dist']):.2f} Å, "
          f"bonds heavy {min(val['bond_heavy_min']):.2f}-{max(val['bond_heavy_max']):.2f} Å, "
          f"P-P thickness {val['thickness_PP']}, flipped {max(val['flipped_lipids'])}"
          + (f", CHL1 ring threading {val['chl1_ring_threading']}" if "chl1_ring_threading" in val else ""),
          flush=True)
    return report


SYSTEMS = {"popg_pope": build_popg_pope, "chl1_popc": build_chl1_popc}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    p.add_argument("--frames", type=int, default=6, help="frames per system (frame 0 = after equilibration)")
    p.add_argument("--interval-ps", type=float, default=2.0, help="time between frames")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-time budget per system: fewer frames are written when the next would not fit")
    p.add_argument("--equil-ps", type=float, default=1.0, help="NPT equilibration before frame 0 (after warm-up)")
    p.add_argument("--warmup-steps", type=int, default=200, help="1 fs steps, then as many 2 fs steps, after minimisation")
    p.add_argument("--dt-fs", type=float, default=4.0)
    p.add_argument("--hmr", action=argparse.BooleanOptionalAction, default=True,
                   help="hydrogen mass repartitioning (H 3.024 Da), needed for --dt-fs 4")
    p.add_argument("--min-iter", type=int, default=150, help="minimiser iterations")
    p.add_argument("--cutoff", type=float, default=1.0, help="nonbonded cutoff (nm); switch from cutoff-0.2")
    p.add_argument("--temperature", type=float, default=303.15)
    p.add_argument("--water-margin", type=float, default=12.0,
                   help="keep water up to this far (Å) beyond each leaflet's mean phosphate plane")
    p.add_argument("--popg-fraction", type=float, default=0.5, help="fraction of POPE (per leaflet) made POPG")
    p.add_argument("--popg-head", choices=("R", "S", "racemic"), default="R",
                   help="configuration of the POPG head-group C12 (R: CHARMM36 as CHARMM-GUI builds it)")
    p.add_argument("--popg-rotamer", choices=("clearest", "random"), default="clearest",
                   help="POPG head-group torsions: the rotamer farthest from the neighbours, or one drawn "
                        "at random among those that do not clash")
    p.add_argument("--chl1-per-leaflet", type=int, default=20)
    p.add_argument("--chl1-spacing", type=float, default=11.0, help="lateral distance (Å) between replaced POPC")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--platform", default="auto",
                   help="OpenMM platform; auto: CUDA > HIP > CPU > Reference, the first that works")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (CPU platform only)")
    args = p.parse_args(argv)
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    templates = charmm_templates({"POPE", "POPC", "POPG", "CHL1", "SOD"})
    t0 = time.time()
    reports = [run_system(n, SYSTEMS[n], args, templates, outdir) for n in args.systems]
    summary = {r["name"]: {"counts": r["counts"], "frames": r["frames"], "seconds": round(r["seconds"], 1)}
               for r in reports}
    summary["total_seconds"] = round(time.time() - t0, 1)
    summary["command"] = " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))
    (outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
