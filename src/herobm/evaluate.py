"""Evaluate a backmapped (predicted) all-atom structure or trajectory against the
ground truth: load both, match their heavy atoms, compute the metrics of
:mod:`herobm.metrics` per frame, and report mean ± standard deviation.

Conventions (see docs/evaluate.md):

* hydrogens are ignored everywhere; only heavy atoms are matched and compared;
* atoms are matched by chain, residue and atom name; atom-name spellings that a
  mapping set lists on one line (AMBER ``CD1`` / CHARMM ``CD`` of ILE, ``OXT`` /
  ``OT2``...) are the same atom; residue-name spellings of one amino acid
  (HSD/HIE/HIS, ASH/ASP...) are the same residue;
* chains pair by identifier, or by order when the identifiers differ but their
  numbers agree; residues pair by position when the residue-name sequences agree
  (so a prediction numbered with an offset still matches), else by resid when
  the prediction's resids are a subset of the reference's; different sequences
  are an error;
* reference atoms without a partner in the prediction are counted in
  ``n_atoms_missing`` and listed in the notes, never silently dropped;
* no superposition by default (backmapping keeps the CG frame); deviations use
  the minimum image when the reference has a periodic box. ``fit=True``
  superposes each predicted frame on its reference frame (Kabsch, all compared
  atoms) first.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .geometry import angles_from_bonds
from .io import atomic_output, load_universe, select_atoms
from .mapping import MappingSet, load_mapping_set
from .metrics import distributions as dist
from .metrics import geometry as geo
from .metrics import lipids as lip
from .metrics.matching import (
    BACKBONE_NAMES,
    SequenceMismatch,
    canonical_resname,
    element_of,
    is_amino_acid,
    is_hydrogen,
    is_ion,
    match_atom_names,
    pair_residues,
)
from .metrics.rmsd import displacements, rmsd, superpose, symmetric_permutation, symmetry_groups

__all__ = ["evaluate", "EvaluationResult", "match_structures", "MatchedAtoms", "DEFAULT_SELECTION", "METRIC_KEYS",
           "FRAME_KEYS"]

WATER_RESNAMES = "SOL WAT HOH TIP3 TIP3P TIP4 TIP4P TIP5P SPC SPCE T3P T4P T4E PW W"
DEFAULT_SELECTION = f"not resname {WATER_RESNAMES}"
CLASH_CUTOFFS = (2.0, 2.5)

# per-frame metrics: reported as mean over frames plus "<key>_std"
FRAME_KEYS = (
    "rmsd_backbone", "rmsd_sidechain", "rmsd_heavy", "bond_rmsd", "angle_rmsd_deg",
    "clashes_2.0", "clashes_2.5", "chirality_errors", "cis_peptides", "rama_outliers",
)
# every key of the report, in order (FRAME_KEYS and rmsd_lipid_heavy also get "<key>_std")
METRIC_KEYS = FRAME_KEYS + (
    "kl_phi_psi", "kl_chi1", "kl_chi2", "rmsd_lipid_heavy", "rdf_lipid", "n_frames", "n_atoms_compared",
    "n_atoms_missing",
)
UNITS = {
    "rmsd_backbone": "Å", "rmsd_sidechain": "Å", "rmsd_heavy": "Å", "bond_rmsd": "Å", "angle_rmsd_deg": "°",
    "rama_outliers": "(fraction)", "kl_phi_psi": "nats", "kl_chi1": "nats", "kl_chi2": "nats",
    "rmsd_lipid_heavy": "Å", "rdf_lipid": "Å (∫|Δg| dr)",
}
LIPID_BEADS = ("PO4", "ROH")  # beads that make a mapping-set molecule a lipid or sterol


@lru_cache(maxsize=8)
def _shipped_set(name: str) -> MappingSet:
    return load_mapping_set(name)


def _mapping_set(mapping) -> MappingSet | None:
    if mapping is None or isinstance(mapping, MappingSet):
        return mapping
    return _shipped_set(str(mapping))


# --------------------------------------------------------------------- matching
@dataclass
class MatchedAtoms:
    """Heavy atoms of the reference paired with the prediction's (row i = row i)."""

    ref: Any  # AtomGroup (M)
    pred: Any  # AtomGroup (M)
    names: np.ndarray  # (M,) canonical atom names
    residue: np.ndarray  # (M,) index into the reference residues below
    res_resname: list[str]  # (R,) canonical residue names
    res_rawname: list[str]  # (R,) residue names as in the reference
    res_label: list[str]  # (R,) "chain:RESNAMEresid", e.g. "A:THR31"
    res_chain: list[str]  # (R,)
    ref_heavy: Any  # AtomGroup: every heavy atom of the reference selection
    ref_pos: np.ndarray  # (M,) index of each matched atom in ref_heavy
    ref_elements: np.ndarray  # elements of ref_heavy
    ref_single: np.ndarray  # ref_heavy atoms alone in their residue (ions)
    missing: list[str]
    extra: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def n_compared(self) -> int:
        return len(self.ref_pos)


def _chain_key(atoms) -> np.ndarray:
    seg = np.asarray([str(s).strip() for s in atoms.segids], dtype=object)
    if hasattr(atoms, "chainIDs"):
        ch = np.asarray([str(c).strip() for c in atoms.chainIDs], dtype=object)
        return np.where(ch != "", ch, seg)
    return seg


def _elements(atoms) -> list[str]:
    try:
        return [str(e) for e in atoms.elements]
    except Exception:  # NoDataError: no element column
        return [""] * len(atoms)


def _heavy(sel, label: str, selection: str):
    h = sel[~is_hydrogen(sel.names, _elements(sel))]
    if len(h) == 0:
        raise InputError(f"{label}: selection '{selection}' has no heavy atoms")
    return h


def _residues(heavy) -> list[dict]:
    """Residues of a heavy-atom group in file order: dict(chain, resid, resname, idx=positions in heavy)."""
    resix = heavy.resindices
    chains = _chain_key(heavy)
    _, first, inverse = np.unique(resix, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    atom_rank = rank[inverse]
    members = np.argsort(atom_rank, kind="stable")
    bounds = np.searchsorted(atom_rank[members], np.arange(len(order) + 1))
    names, resids, resnames = heavy.names, heavy.resids, heavy.resnames
    out = []
    for k in range(len(order)):
        idx = members[bounds[k]:bounds[k + 1]]
        i0 = idx[0]
        out.append({"chain": str(chains[i0]), "resid": int(resids[i0]), "resname": str(resnames[i0]),
                    "idx": idx, "names": [str(n) for n in names[idx]]})
    return out


def _by_chain(residues: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for k, r in enumerate(residues):
        out.setdefault(r["chain"], []).append(k)
    return out


def match_structures(u_pred, u_ref, selection: str = DEFAULT_SELECTION, mapping="martini3",
                     pred_label: str = "prediction", ref_label: str = "reference") -> MatchedAtoms:
    """Pair the heavy atoms of the prediction with the reference's (see module doc).

    Raises :class:`InputError` naming the file for an empty selection, different
    chains or sequences, and when no atom is in common."""
    mset = _mapping_set(mapping)
    ref_heavy = _heavy(select_atoms(u_ref, selection, source=ref_label), ref_label, selection)
    pred_heavy = _heavy(select_atoms(u_pred, selection, source=pred_label), pred_label, selection)
    ref_res, pred_res = _residues(ref_heavy), _residues(pred_heavy)
    ref_chains, pred_chains = _by_chain(ref_res), _by_chain(pred_res)
    notes: list[str] = []

    rk, pk = list(ref_chains), list(pred_chains)
    if set(pk) <= set(rk):
        chain_pairs = [(c, c) for c in rk if c in pred_chains]
    elif len(rk) == len(pk):
        chain_pairs = list(zip(rk, pk))
        notes.append("chains paired by order: " + ", ".join(f"{r or '-'}<->{p or '-'}" for r, p in chain_pairs))
    elif len(rk) == 1 or len(pk) == 1:
        # one side without chain information (e.g. a .gro file): pair the residue
        # lists as a whole, in file order
        # (file order, not chain by chain: PDB writers reuse the 26 letters, e.g. one
        # chain per lipid, so a letter's residues need not be contiguous)
        ref_chains = {"*": list(range(len(ref_res)))}
        pred_chains = {"*": list(range(len(pred_res)))}
        chain_pairs = [("*", "*")]
        notes.append(f"chains {', '.join(c or '-' for c in rk)} (reference) vs {', '.join(c or '-' for c in pk)} "
                     f"(prediction): residues paired over the whole selection in file order")
    else:
        raise InputError(
            f"{pred_label}: chains {', '.join(c or '-' for c in pk)} do not match the chains "
            f"{', '.join(c or '-' for c in rk)} of {ref_label} (chains pair by identifier, or by order when "
            f"their numbers agree)"
        )

    aliases = {}
    if mset is not None:
        aliases = {k: tuple(m.name for m in v) for k, v in mset.by_resname.items()}
    res_pairs: list[tuple[int, int]] = []
    for rc, pc in chain_pairs:
        rl, pl = ref_chains[rc], pred_chains[pc]
        try:
            pairing = pair_residues([(ref_res[k]["resid"], ref_res[k]["resname"]) for k in rl],
                                    [(pred_res[k]["resid"], pred_res[k]["resname"]) for k in pl], aliases)
        except SequenceMismatch as exc:
            where = f" (chain {rc})" if rc else ""
            raise InputError(f"{pred_label}: {exc}{where}; reference {ref_label} (compare the same molecules, "
                             f"e.g. --selection protein)") from None
        if pairing.mode == "order":
            off = {pred_res[pl[j]]["resid"] - ref_res[rl[i]]["resid"] for i, j in pairing.pairs}
            shift = f"offset {off.pop():+d}" if len(off) == 1 else "resids differ"
            notes.append(f"chain {rc or '-'}: residues paired by position ({shift}; same sequence)")
        elif pairing.mode == "resid-subset":
            notes.append(f"chain {rc or '-'}: residues paired by resid ({len(rl) - len(pl)} reference residue(s) "
                         f"absent from the prediction)")
        res_pairs.extend((rl[i], pl[j]) for i, j in pairing.pairs)

    cache: dict[tuple, list[tuple[int, int, str]]] = {}

    def pair_atoms(rr: dict, pr: dict) -> list[tuple[int, int, str]]:
        key = (rr["resname"], tuple(rr["names"]), pr["resname"], tuple(pr["names"]))
        if key in cache:
            return cache[key]
        rl = pl = ln = None
        if mset is not None:
            name = next((n for n in (rr["resname"], pr["resname"], canonical_resname(rr["resname"]))
                         if n in mset.by_resname), None)
            if name is not None:
                mol = mset.match(name, rr["names"]).molecule
                rl = mol.match(rr["names"]).atom_line
                pl = mol.match(pr["names"]).atom_line
                ln = [a.names[0] for a in mol.atoms]
        cache[key] = match_atom_names(rr["names"], pr["names"], rl, pl, ln)
        return cache[key]

    ref_pos, pred_pos, names, residue, missing, extra, sites = [], [], [], [], [], [], []
    paired_ref = {}
    for r, p in res_pairs:
        paired_ref[r] = p
    for r, rr in enumerate(ref_res):
        label = f"{rr['chain'] or '-'}:{rr['resname']}{rr['resid']}"
        if r not in paired_ref:
            missing.extend(f"{label}:{n}" for n in rr["names"])
            continue
        pr = pred_res[paired_ref[r]]
        pairs = pair_atoms(rr, pr)
        got_r = {i for i, _, _ in pairs}
        got_p = {j for _, j, _ in pairs}
        left = [f"{label}:{n}" for i, n in enumerate(rr["names"]) if i not in got_r]
        if pairs and is_ion(rr["resname"]):
            sites.extend(left)  # an ion model's dummy sites (CHARMM ZNM: DM1-DM6), not atoms
        else:
            missing.extend(left)
        extra.extend(f"{label}:{n}" for j, n in enumerate(pr["names"]) if j not in got_p)
        for i, j, cn in pairs:
            ref_pos.append(rr["idx"][i])
            pred_pos.append(pr["idx"][j])
            names.append(cn)
            residue.append(r)
    paired_pred = set(paired_ref.values())
    for k, pr in enumerate(pred_res):
        if k not in paired_pred:
            extra.extend(f"{pr['chain'] or '-'}:{pr['resname']}{pr['resid']}:{n}" for n in pr["names"])
    if not ref_pos:
        raise InputError(f"{pred_label}: no heavy atom in common with {ref_label} (selection '{selection}')")
    if sites:
        notes.append(f"{len(sites)} dummy site(s) of ion residues in the reference not compared "
                     f"(the ion itself is): " + ", ".join(sites[:6]) + (" ..." if len(sites) > 6 else ""))

    ref_pos_a = np.asarray(ref_pos, dtype=np.int64)
    pred_pos_a = np.asarray(pred_pos, dtype=np.int64)
    sizes = np.zeros(len(ref_heavy), dtype=np.int64)
    for rr in ref_res:
        sizes[rr["idx"]] = len(rr["idx"])
    single = sizes == 1
    raw_el = _elements(ref_heavy)
    elements = np.asarray([element_of(n, e, s) for n, e, s in zip(ref_heavy.names, raw_el, single)], dtype=object)
    return MatchedAtoms(
        ref=ref_heavy[ref_pos_a], pred=pred_heavy[pred_pos_a], names=np.asarray(names, dtype=object),
        residue=np.asarray(residue, dtype=np.int64), res_resname=[canonical_resname(r["resname"]) for r in ref_res],
        res_rawname=[r["resname"] for r in ref_res],
        res_label=[f"{r['chain'] or '-'}:{r['resname']}{r['resid']}" for r in ref_res],
        res_chain=[r["chain"] for r in ref_res], ref_heavy=ref_heavy, ref_pos=ref_pos_a, ref_elements=elements,
        ref_single=single, missing=missing, extra=extra, notes=notes,
    )


# ------------------------------------------------------------------ reference bonds
def reference_bonds(m: MatchedAtoms, box=None) -> tuple[np.ndarray, str]:
    """Heavy-atom bonds of the reference selection (indices into ``m.ref_heavy``):
    the topology's when every heavy atom of a multi-atom residue has one, else
    guessed from the reference coordinates (covalent radii + 0.45 Å, ions left out)."""
    heavy = m.ref_heavy
    u = heavy.universe
    n = len(heavy)
    try:
        topo = np.asarray(u.bonds.indices, dtype=np.int64).reshape(-1, 2)
    except Exception:  # no bond information
        topo = np.zeros((0, 2), dtype=np.int64)
    if len(topo):
        lookup = np.full(u.atoms.n_atoms, -1, dtype=np.int64)
        lookup[heavy.indices] = np.arange(n)
        b = lookup[topo]
        b = b[(b >= 0).all(1)]
        has = np.zeros(n, dtype=bool)
        has[b.ravel()] = True
        if len(b) and np.all(has | m.ref_single):
            b = np.sort(b, axis=1)
            return np.unique(b, axis=0), "topology"
    x = heavy.positions.astype(np.float64)
    return geo.guess_bonds(x, m.ref_elements, box=box, skip=m.ref_single), "guessed"


# ----------------------------------------------------------------------- result
@dataclass
class EvaluationResult:
    """Metrics (``metrics``: the JSON report), notes on matching, and the series behind the plots;
    ``series["per_atom_msd"]`` holds every compared atom's residue label, canonical name and
    squared deviation in Å² (after symmetric matching, averaged over the frames)."""

    metrics: dict[str, Any]
    notes: list[str]
    series: dict[str, Any]
    baseline: dict[str, Any]
    pred: str
    ref: str

    def summary(self) -> str:
        m = self.metrics
        lines = [f"herobm evaluate: {self.pred} vs {self.ref} ({m['n_frames']} frame(s), "
                 f"{m['n_atoms_compared']} heavy atoms compared, {m['n_atoms_missing']} missing)"]

        def fmt(v):
            if v is None:
                return "n/a"
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            return f"{v:.4g}" if isinstance(v, float) else str(v)

        for k in METRIC_KEYS:
            if k in ("n_frames", "n_atoms_compared", "n_atoms_missing"):
                continue
            v = m[k]
            unit = UNITS.get(k, "")
            if isinstance(v, dict):
                if not v:
                    lines.append(f"  {k:<22} n/a")
                    continue
                std = m.get(f"{k}_std") or {}
                for sub, val in v.items():
                    s = f" ± {fmt(std[sub])}" if sub in std and m["n_frames"] > 1 else ""
                    lines.append(f"  {k + '[' + sub + ']':<22} {fmt(val)}{s} {unit}".rstrip())
                continue
            s = f" ± {fmt(m[k + '_std'])}" if f"{k}_std" in m and m["n_frames"] > 1 and v is not None else ""
            base = self.baseline.get(k)
            b = f"   (reference itself: {fmt(base)})" if base is not None else ""
            lines.append(f"  {k:<22} {fmt(v)}{s} {unit if v is not None else ''}".rstrip() + b)
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def write_json(self, path: str | os.PathLike) -> None:
        with atomic_output(path) as tmp:
            with open(tmp, "w") as fh:
                json.dump(self.metrics, fh, indent=2, allow_nan=True)
                fh.write("\n")


def _mean_std(values: list) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    a = np.asarray(vals, dtype=np.float64)
    return float(a.mean()), float(a.std())


def _box(ts):
    d = ts.dimensions
    if d is None or not np.all(np.asarray(d)[:3] > 0):
        return None
    return np.asarray(d, dtype=np.float64)


# ---------------------------------------------------------------------- the job
def evaluate(
    pred: str | os.PathLike,
    ref: str | os.PathLike,
    traj_pred: list[str] | str | None = None,
    traj_ref: list[str] | str | None = None,
    selection: str = DEFAULT_SELECTION,
    fit: bool = False,
    symmetry: bool = True,
    mapping: str | MappingSet | None = "martini3",
    plots: str | os.PathLike | None = None,
) -> EvaluationResult:
    """Compare PRED (structure + optional trajectory) with REF; see docs/evaluate.md.

    Frames pair one to one when both have the same number; a single-frame REF
    is compared with every PRED frame. ``symmetry=False`` keeps symmetric
    side-chain atoms (ASP OD1/OD2, ...) as named instead of taking the better
    assignment. ``mapping`` (a mapping set) supplies atom-name aliases and the
    lipid residue names; ``None`` matches names exactly.
    """
    pred_label = ", ".join([str(pred)] + [str(t) for t in ([traj_pred] if isinstance(traj_pred, str) else traj_pred or [])])
    ref_label = ", ".join([str(ref)] + [str(t) for t in ([traj_ref] if isinstance(traj_ref, str) else traj_ref or [])])
    u_pred = load_universe(pred, traj_pred)
    u_ref = load_universe(ref, traj_ref)
    n_pred, n_ref = len(u_pred.trajectory), len(u_ref.trajectory)
    if n_pred == n_ref:
        frame_pairs = [(i, i) for i in range(n_pred)]
    elif n_ref == 1:
        frame_pairs = [(i, 0) for i in range(n_pred)]
    else:
        raise InputError(
            f"{pred_label}: {n_pred} frame(s) but {ref_label} has {n_ref}; give the same number of frames "
            f"or a single-frame reference"
        )

    mset = _mapping_set(mapping)
    m = match_structures(u_pred, u_ref, selection, mset, str(pred), str(ref))
    notes = list(m.notes)
    M = m.n_compared
    R = len(m.res_resname)
    u_ref.trajectory[0]
    box_ref0 = _box(u_ref.trajectory.ts)

    # ---- static tables (reference topology, residue tables)
    bonds_h, bond_source = reference_bonds(m, box_ref0)
    notes.append(f"bonds: {'from the reference topology' if bond_source == 'topology' else 'guessed on the reference'} "
                 f"({len(bonds_h)} heavy-atom bonds)")
    excl = geo.exclusion_matrix(bonds_h, len(m.ref_heavy), depth=3)
    excl_m = excl[m.ref_pos][:, m.ref_pos]
    to_m = np.full(len(m.ref_heavy), -1, dtype=np.int64)
    to_m[m.ref_pos] = np.arange(M)
    mb = to_m[bonds_h] if len(bonds_h) else np.zeros((0, 2), dtype=np.int64)
    mbonds = mb[(mb >= 0).all(1)] if len(mb) else mb
    mangles = angles_from_bonds(mbonds, M) if len(mbonds) else np.zeros((0, 3), dtype=np.int64)

    res_is_aa = np.array([is_amino_acid(r) for r in m.res_resname], dtype=bool)
    atom_aa = res_is_aa[m.residue]
    is_bb = np.array([n in BACKBONE_NAMES for n in m.names], dtype=bool)
    bb_mask, sc_mask = atom_aa & is_bb, atom_aa & ~is_bb
    groups = symmetry_groups(m.residue, m.names, m.res_resname) if symmetry else np.zeros((0, 1, 2), dtype=np.int64)
    u_ref.trajectory[0]
    x_ref0 = m.ref.positions.astype(np.float64)
    # stereocentres of every molecule, found on the reference's whole heavy-atom graph
    # and kept where the prediction has all four atoms
    chiral = geo.stereocentres(bonds_h, m.ref_elements, m.ref_heavy.positions.astype(np.float64), box_ref0)
    chiral = to_m[chiral] if len(chiral) else chiral
    chiral = chiral[(chiral >= 0).all(1)] if len(chiral) else chiral
    bt = geo.backbone_torsions(m.residue, m.names, m.res_resname, m.res_chain, x_ref0, box_ref0)
    chi1_q, _ = dist.chi_quads(m.residue, m.names, m.res_resname, dist.CHI1)
    chi2_q, chi2_r = dist.chi_quads(m.residue, m.names, m.res_resname, dist.CHI2)
    chi2_sym = np.array([m.res_resname[r] in dist.CHI2_SYMMETRIC for r in chi2_r], dtype=bool)

    known_lipids = set()
    if mset is not None:
        for mol in mset.molecules:
            if any(b in LIPID_BEADS for b in mol.beads):
                known_lipids.update(mol.resnames)
    order = np.argsort(m.residue, kind="stable")
    bounds = np.searchsorted(m.residue[order], np.arange(R + 1))
    el_sorted = m.ref_elements[m.ref_pos[order]]
    heavy_el_by_res = {r: list(el_sorted[bounds[r]:bounds[r + 1]]) for r in range(R)}
    res_is_lipid = np.array([lip.is_lipid(m.res_rawname[r], heavy_el_by_res[r], known_lipids)
                             or lip.is_lipid(m.res_resname[r], heavy_el_by_res[r], known_lipids) for r in range(R)],
                            dtype=bool)
    lipid_atom = res_is_lipid[m.residue]
    lipid_labels = np.where(lipid_atom, np.asarray(m.res_rawname, dtype=object)[m.residue], "")

    # ---- per frame
    per_frame: dict[str, list] = {k: [] for k in FRAME_KEYS}
    lipid_frames: list[dict[str, float]] = []
    atom_sq = np.zeros(M)  # squared deviation of every matched atom, summed over frames
    pred_ang = {"phi": [], "psi": [], "kind": [], "chi1": [], "chi2": []}
    ref_ang = {"phi": [], "psi": [], "kind": [], "chi1": [], "chi2": []}
    base: dict[str, list] = {"clashes_2.0": [], "clashes_2.5": [], "cis_peptides": [], "rama_outliers": []}
    n_swapped = 0
    inverted_any = np.zeros(len(chiral), dtype=bool)  # stereocentres inverted in some frame
    last_ref = -1
    x_ref = box_ref = None
    for ip, ir in frame_pairs:
        if ir != last_ref:
            u_ref.trajectory[ir]
            x_ref = m.ref.positions.astype(np.float64)
            box_ref = _box(u_ref.trajectory.ts)
            last_ref = ir
            phi_r = geo.torsion_deg(x_ref, bt["phi"], box_ref)
            psi_r = geo.torsion_deg(x_ref, bt["psi"], box_ref)
            ref_ang["kind"].append(bt["rama_kind"])
            ref_ang["phi"].append(phi_r)
            ref_ang["psi"].append(psi_r)
            ref_ang["chi1"].append(geo.torsion_deg(x_ref, chi1_q, box_ref))
            ref_ang["chi2"].append(dist.fold_symmetric(geo.torsion_deg(x_ref, chi2_q, box_ref), chi2_sym))
            c = geo.count_clashes(x_ref, CLASH_CUTOFFS, excl_m, box_ref)
            base["clashes_2.0"].append(c[0])
            base["clashes_2.5"].append(c[1])
            base["cis_peptides"].append(geo.count_cis(geo.torsion_deg(x_ref, bt["omega"], box_ref))
                                        if len(bt["omega"]) else None)
            base["rama_outliers"].append(geo.rama_outlier_fraction(phi_r, psi_r, bt["rama_kind"]))
        u_pred.trajectory[ip]
        x_raw = m.pred.positions.astype(np.float64)
        box_pred = _box(u_pred.trajectory.ts)
        if box_pred is None:
            box_pred = box_ref
        box_disp = None if fit else box_ref

        x_cmp = superpose(x_raw, x_ref) if fit else x_raw
        perm = symmetric_permutation(x_cmp, x_ref, groups, box_disp)
        if np.any(perm != np.arange(M)):
            n_swapped += int((perm != np.arange(M)).sum()) // 2
            x_cmp = superpose(x_raw[perm], x_ref) if fit else x_cmp[perm]
        x_int = x_raw[perm]  # the prediction's own frame, symmetric atoms relabelled

        per_frame["rmsd_heavy"].append(rmsd(x_cmp, x_ref, box_disp))
        per_frame["rmsd_backbone"].append(rmsd(x_cmp, x_ref, box_disp, bb_mask))
        per_frame["rmsd_sidechain"].append(rmsd(x_cmp, x_ref, box_disp, sc_mask))
        atom_sq += (displacements(x_cmp, x_ref, box_disp) ** 2).sum(-1)
        if lipid_atom.any():
            lipid_frames.append(lip.per_type_rmsd(x_cmp[lipid_atom], x_ref[lipid_atom], lipid_labels[lipid_atom],
                                                  box_disp))
        per_frame["bond_rmsd"].append(geo.bond_rmsd(x_int, x_ref, mbonds, box_pred, box_ref))
        a = geo.angle_rmsd_deg(x_int, x_ref, mangles, box_pred, box_ref)
        per_frame["angle_rmsd_deg"].append(a)
        c = geo.count_clashes(x_int, CLASH_CUTOFFS, excl_m, box_pred)
        per_frame["clashes_2.0"].append(c[0])
        per_frame["clashes_2.5"].append(c[1])
        inverted = geo.inverted_centres(x_int, x_ref, chiral, box_pred, box_ref)
        inverted_any |= inverted
        per_frame["chirality_errors"].append(int(inverted.sum()) if len(chiral) else None)
        omega = geo.torsion_deg(x_int, bt["omega"], box_pred)
        per_frame["cis_peptides"].append(geo.count_cis(omega) if len(bt["omega"]) else None)
        phi = geo.torsion_deg(x_int, bt["phi"], box_pred)
        psi = geo.torsion_deg(x_int, bt["psi"], box_pred)
        per_frame["rama_outliers"].append(geo.rama_outlier_fraction(phi, psi, bt["rama_kind"]))
        pred_ang["kind"].append(bt["rama_kind"])
        pred_ang["phi"].append(phi)
        pred_ang["psi"].append(psi)
        pred_ang["chi1"].append(geo.torsion_deg(x_int, chi1_q, box_pred))
        pred_ang["chi2"].append(dist.fold_symmetric(geo.torsion_deg(x_int, chi2_q, box_pred), chi2_sym))

    cat = lambda d: {k: np.concatenate(v) if v else np.zeros(0) for k, v in d.items()}  # noqa: E731
    pa, ra = cat(pred_ang), cat(ref_ang)

    metrics: dict[str, Any] = {}
    for k in FRAME_KEYS:
        mean, std = _mean_std(per_frame[k])
        metrics[k] = mean
        metrics[f"{k}_std"] = std
    metrics["kl_phi_psi"] = dist.kl_phi_psi(pa["phi"], pa["psi"], ra["phi"], ra["psi"])
    metrics["kl_chi1"] = dist.kl_angles(pa["chi1"], ra["chi1"])
    metrics["kl_chi2"] = dist.kl_angles(pa["chi2"], ra["chi2"])
    lip_mean, lip_std = {}, {}
    for name in sorted({k for f in lipid_frames for k in f}):
        lip_mean[name], lip_std[name] = _mean_std([f.get(name) for f in lipid_frames])
    metrics["rmsd_lipid_heavy"] = lip_mean
    metrics["rmsd_lipid_heavy_std"] = lip_std
    rdf_scores, rdf_curves = _lipid_rdfs(m, bonds_h, to_m, lipid_atom, u_pred, u_ref, box_ref0, notes)
    metrics["rdf_lipid"] = rdf_scores
    metrics["n_frames"] = len(frame_pairs)
    metrics["n_atoms_compared"] = int(M)
    metrics["n_atoms_missing"] = len(m.missing)

    if m.missing:
        notes.append(f"{len(m.missing)} reference heavy atom(s) missing from the prediction: "
                     + ", ".join(m.missing[:12]) + (" ..." if len(m.missing) > 12 else ""))
    if m.extra:
        notes.append(f"{len(m.extra)} predicted heavy atom(s) without a reference partner (not compared): "
                     + ", ".join(m.extra[:12]) + (" ..." if len(m.extra) > 12 else ""))
    if inverted_any.any():
        where = [f"{m.res_label[m.residue[c]]}:{m.names[c]}" for c in chiral[inverted_any, 0]]
        notes.append(f"{len(where)} stereocentre(s) inverted (in at least one frame): {', '.join(where[:12])}"
                     + (f" and {len(where) - 12} more" if len(where) > 12 else ""))
    if symmetry and n_swapped:
        notes.append(f"{n_swapped} symmetric atom pair(s) swapped to the better match (summed over frames)")
    if fit:
        notes.append("each predicted frame superposed on its reference frame (Kabsch) before the RMSDs")

    baseline = {k: _mean_std(v)[0] for k, v in base.items()}
    atom_msd = atom_sq / max(len(frame_pairs), 1)
    res_n = np.bincount(m.residue, minlength=R)
    res_sq = np.bincount(m.residue, weights=atom_msd, minlength=R)
    per_res = np.where(res_n > 0, np.sqrt(res_sq / np.maximum(res_n, 1)), np.nan)
    series = {"per_residue_rmsd": (m.res_label, per_res),
              "per_atom_msd": {"residue": [m.res_label[r] for r in m.residue], "name": m.names.copy(),
                               "msd": atom_msd},
              "pred_angles": pa, "ref_angles": ra, "rdf": rdf_curves}
    result = EvaluationResult(metrics=metrics, notes=notes, series=series, baseline=baseline, pred=str(pred), ref=str(ref))
    if plots is not None:
        write_plots(result, plots)
    return result


def _lipid_rdfs(m: MatchedAtoms, bonds_h, to_m, lipid_atom, u_pred, u_ref, box_ref, notes) -> tuple[dict, dict]:
    """Head-group (P-P) and tail-end RDFs of PRED and REF over all frames;
    score = ∫|g_pred - g_ref| dr."""
    if not lipid_atom.any():
        return {}, {}
    if box_ref is None:
        notes.append("rdf_lipid: the reference has no periodic box; RDFs skipped")
        return {}, {}
    lipid_heavy = np.flatnonzero(to_m >= 0)
    lipid_heavy = lipid_heavy[lipid_atom[to_m[lipid_heavy]]]
    groups = {
        "P-P": to_m[lipid_heavy[m.ref_elements[lipid_heavy] == "P"]],
        "tail-tail": to_m[lip.tail_terminal_carbons(bonds_h, m.ref_elements, lipid_heavy)],
    }
    rmax = min(lip.RDF_RMAX, 0.49 * float(np.min(box_ref[:3])))
    if _box(u_pred.trajectory.ts) is None:
        from MDAnalysis.transformations.boxdimensions import set_dimensions

        u_pred.trajectory.add_transformations(set_dimensions(box_ref))
        notes.append("rdf_lipid: the prediction has no box; the reference's is used")
    scores, curves = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, idx in groups.items():
            if len(idx) < 2:
                continue
            r, g_ref = lip.compute_rdf(m.ref[idx], rmax)
            _, g_pred = lip.compute_rdf(m.pred[idx], rmax)
            scores[name] = lip.rdf_difference(r, g_pred, g_ref)
            curves[name] = (r, g_pred, g_ref)
    return scores, curves


# ------------------------------------------------------------------------ plots
def write_plots(result: EvaluationResult, folder: str | os.PathLike) -> list[Path]:
    """PNG figures (matplotlib, Agg): ramachandran.png, chi.png, per_residue_rmsd.png,
    rdf_lipid.png (those with data). Returns the written paths."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the plot folder ({exc.strerror or exc})") from None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    written = []
    pa, ra = result.series["pred_angles"], result.series["ref_angles"]

    def save(fig, name):
        p = folder / name
        fig.tight_layout()
        fig.savefig(p, dpi=120)
        plt.close(fig)
        written.append(p)

    if len(pa["phi"]) or len(ra["phi"]):
        fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
        for ax, ang, title in ((axes[0], ra, "REF"), (axes[1], pa, "PRED")):
            for a, b, c, d in geo.RAMA_REGIONS["general"]:
                ax.add_patch(plt.Rectangle((a, c), b - a, d - c, fill=True, alpha=0.12, color="tab:green", lw=0))
            kind = ang["kind"]
            bad = ~geo.rama_allowed(ang["phi"], ang["psi"], kind) if len(kind) else np.zeros(0, dtype=bool)
            for k, colour in (("general", "tab:blue"), ("GLY", "tab:orange"), ("PRO", "tab:purple")):
                sel = kind == k
                if sel.any():
                    ax.scatter(ang["phi"][sel], ang["psi"][sel], s=4, alpha=0.6, color=colour, label=k)
            if bad.any():
                ax.scatter(ang["phi"][bad], ang["psi"][bad], s=30, facecolors="none", edgecolors="red",
                           label=f"outlier ({int(bad.sum())})")
            ax.legend(loc="lower right", fontsize=7)
            ax.set(xlim=(-180, 180), ylim=(-180, 180), xlabel="φ (°)", title=f"{title} ({len(ang['phi'])} points)")
        axes[0].set_ylabel("ψ (°)")
        save(fig, "ramachandran.png")
    if len(pa["chi1"]) or len(ra["chi1"]):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        bins = np.linspace(-180, 180, dist.DEFAULT_BINS + 1)
        for ax, key in zip(axes, ("chi1", "chi2")):
            ax.hist(ra[key], bins=bins, density=True, alpha=0.35, color="tab:blue", label="REF")
            ax.hist(pa[key], bins=bins, density=True, histtype="step", lw=2, color="tab:orange", label="PRED")
            ax.set(xlabel=f"χ{key[-1]} (°)", ylabel="density", xlim=(-180, 180))
            ax.legend()
        save(fig, "chi.png")
    labels, values = result.series["per_residue_rmsd"]
    if len(values):
        fig, ax = plt.subplots(figsize=(max(6, min(30, len(values) * 0.08)), 4))
        ax.bar(np.arange(len(values)), np.nan_to_num(values), width=1.0)
        ax.set(xlabel="residue (reference order)", ylabel="heavy-atom RMSD (Å)", xlim=(-0.5, len(values) - 0.5))
        if len(values) <= 60:
            ax.set_xticks(np.arange(len(values)))
            ax.set_xticklabels(labels, rotation=90, fontsize=6)
        save(fig, "per_residue_rmsd.png")
    curves = result.series["rdf"]
    if curves:
        fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
        for ax, (name, (r, gp, gr)) in zip(axes[0], curves.items()):
            ax.plot(r, gr, label="REF", lw=2)
            ax.plot(r, gp, label="PRED", lw=1.5, ls="--")
            ax.set(xlabel="r (Å)", ylabel="g(r)", title=name)
            ax.legend()
        save(fig, "rdf_lipid.png")
    return written
