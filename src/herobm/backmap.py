"""``herobm backmap``: CG structures/trajectories in, all-atom structures/trajectories out.

Data flow: CG file -> residues assigned to models (each model's mapping set and the bead
types it was trained on decide what it covers; water and ions by rule) ->
:func:`herobm.cg_system.map_beads` per model (arrays) -> bead graph -> network vectors
(chunk by chunk, bounded memory) -> :func:`rebuild_atoms` -> parts merged in input
order (:mod:`herobm.assembly`) -> optional refinement (:mod:`herobm.refine`) -> file.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import warnings
from types import MappingProxyType
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .assembly import Assembly, OutputTopology, merge_parts, topology_of_openmm, topology_of_system
from .cg_system import BeadSystem, map_beads
from .coarse_grain import check_finite, nearest_image, unwrap_to
from .errors import InputError
from .io import load_universe, make_universe, parse_frames, select_atoms, write_stream
from .mapping import MappingSet
from .model.chunking import forward_chunked, spatial_chunks
from .model.graph import Graph, edge_flags, neighbour_list
from .reconstruct import RebuildIndex, fit_to_beads, rebuild_atoms
from .solvent import SolventRule, place_solvent, solvent_rule
from .train.checkpoint import resolve_device

__all__ = ["VectorPredictor", "ModelSpec", "RefineOptions", "model_predictor", "checkpoint_spec", "rebuild_frame",
           "aa_universe", "BackmapReport", "backmap", "backmap_with_predictor", "backmap_with_specs", "RAW_OUTPUT"]

# keyword arguments of backmap() that leave every step after the network out (the CLI's
# --no-optimize-backbone --no-relax-backbone --no-fix-side-chains): the network's atoms as they
# are, the "raw" rows of the benchmarks. A new default step after the network belongs here.
RAW_OUTPUT = MappingProxyType({"optimize_backbone": False, "relax_backbone": False, "fix_side_chains": False})

# bead positions (B, 3) Å and box -> vectors (B, N, 3) Å, or {"vectors": ..., "dihedrals": (B, 2, 2)}
VectorPredictor = Callable[[np.ndarray, np.ndarray | None], "np.ndarray | dict"]

STRUCTURE_OUT = (".pdb", ".gro", ".cif")
TRAJ_OUT = (".xtc", ".dcd", ".trr")


def model_predictor(model, system: BeadSystem, max_beads: int = 5000, device: torch.device | str = "cpu") -> VectorPredictor:
    """A predictor running ``model`` on spatial chunks of at most ``max_beads`` beads;
    returns ``{"vectors": (B, N, 3) Å, "dihedrals": (B, 2, 2) [φ|ψ] x [cos|sin]}``."""
    device = torch.device(device)
    dtype = next(model.parameters()).dtype
    cutoff = model.cfg.cutoff

    def predict(bead_pos: np.ndarray, box: np.ndarray | None) -> dict:
        ei, shift = neighbour_list(bead_pos, cutoff, box)
        flags = edge_flags(ei, system.bead_residue, system.residue_next, model.cfg.sequence_range)
        graph = Graph(
            torch.as_tensor(bead_pos, dtype=dtype), torch.as_tensor(system.bead_type), torch.as_tensor(ei),
            torch.as_tensor(shift, dtype=dtype), torch.as_tensor(flags),
        ).to(device)
        chunks = spatial_chunks(bead_pos, max_beads, system.bead_residue)
        with torch.no_grad():
            out = forward_chunked(model, graph, chunks)
        return {k: v.double().cpu().numpy() for k, v in out.items()}

    return predict


def rebuild_frame(system: BeadSystem, bead_pos: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(A, 3) all-atom positions (Å) of one frame from bead positions and vectors."""
    index = RebuildIndex.from_arrays(
        system.slot_bead, system.slot_index, system.slot_level, system.slot_anchor, system.slot_atom,
        system.slot_weight,
    )
    with torch.no_grad():
        x = rebuild_atoms(torch.as_tensor(bead_pos, dtype=torch.float64), torch.as_tensor(vectors, dtype=torch.float64), index)
    return x.numpy()


def aa_universe(system: BeadSystem | OutputTopology):
    """An MDAnalysis Universe of the output atoms (names, residues, chains, elements)."""
    r = system.atom_residue
    u = make_universe(
        system.atom_name, system.residue_name[r], system.residue_id[r], system.residue_chain[r], r,
        types=system.atom_element,
    )
    u.add_TopologyAttr("elements", np.asarray(system.atom_element, dtype=object))
    return u


# --- models -------------------------------------------------------------------------


@dataclass
class ModelSpec:
    """A model as backmapping sees it: its mapping set, the bead types it was trained on
    (None: all of the set) and a factory turning a :class:`BeadSystem` into a predictor."""

    name: str
    mapping: MappingSet
    predictor_factory: Callable[[BeadSystem], VectorPredictor]
    trained_types: frozenset[int] | None = None
    optimize_backbone: bool = False  # the model's recommended default (checkpoint info)

    def covers(self, molecule) -> bool:
        """Whether every bead type of ``molecule`` (a MoleculeMapping of this set) was trained."""
        if self.trained_types is None:
            return True
        return all(self.mapping.bead_type(molecule, b) in self.trained_types for b in molecule.beads)


def checkpoint_spec(model: str | os.PathLike, device: str | torch.device = "auto", max_beads: int = 5000) -> ModelSpec:
    """A :class:`ModelSpec` from a checkpoint path or a shipped model name (``herobm models``)."""
    from .models import resolve_model
    from .train.checkpoint import build_model, load_checkpoint, restore_mapping

    path = resolve_model(model)
    dev = resolve_device(device)
    ckpt = load_checkpoint(path)
    net = build_model(ckpt, dev)
    mset = restore_mapping(ckpt)
    types = ckpt.get("trained_bead_types")
    info = ckpt.get("info") or {}
    name = info.get("name") or Path(path).stem
    return ModelSpec(name, mset, lambda system: model_predictor(net, system, max_beads, dev),
                     frozenset(int(t) for t in types) if types is not None else None,
                     optimize_backbone=bool(info.get("optimize_backbone", False)))


# --- planning: which residue goes where ---------------------------------------------


@dataclass
class _ModelPart:
    spec: ModelSpec
    system: BeadSystem
    beads: np.ndarray  # (B,) bead index in the input selection, system bead order
    predict: VectorPredictor
    first: np.ndarray  # (B,) part index of the first bead of each bead's residue (to make residues whole)
    res_first: np.ndarray  # (R,) part index of each residue's first bead (to make chains whole)


@dataclass
class _SolventPart:
    beads: np.ndarray  # (n,) bead index in the input selection
    counts: np.ndarray  # (n,) molecules per bead


@dataclass
class _Plan:
    models: list[_ModelPart]
    solvent: _SolventPart | None
    assembly: Assembly
    notes: list[str]
    n_beads: int


def _residue_label(resname: str, names: tuple[str, ...]) -> str:
    return f"{resname} ({' '.join(names)})"


def _plan(beads, specs: list[ModelSpec], strict: bool, where: str) -> _Plan:
    """Assign every CG residue of ``beads`` to a model or a solvent rule; build the parts."""
    if len(beads) == 0:
        raise InputError(f"{where}: the selection contains no beads")
    names = np.asarray(beads.names).astype(str)
    resindex = np.asarray(beads.resindices)
    starts = np.flatnonzero(np.r_[True, resindex[1:] != resindex[:-1]])
    ends = np.r_[starts[1:], len(beads)]
    resnames = np.asarray(beads.resnames).astype(str)
    owner = np.full(len(beads), -2, dtype=np.int64)  # model index, -1 solvent, -2 none
    solvent_rules: dict[int, SolventRule] = {}
    uncovered: Counter = Counter()
    untrained: Counter = Counter()
    examples: dict[str, str] = {}
    n_exact, mismatch = 0, None
    for s, e in zip(starts, ends):
        resname, bead_names = resnames[s], tuple(names[s:e])
        rule = solvent_rule(resname, bead_names)
        if rule is not None:
            owner[s:e] = -1
            solvent_rules[int(s)] = rule
            continue
        fallback = chosen = -1
        for k, spec in enumerate(specs):
            cands = spec.mapping.by_resname.get(resname)
            if not cands:
                continue
            m = next((c for c in cands if sorted(c.beads) == sorted(bead_names)), None)
            if m is None:
                fallback = k if fallback < 0 else fallback
                continue
            if spec.covers(m):
                chosen = k
                break
            untrained[resname] += 1
        if chosen >= 0:
            n_exact += 1
        elif fallback >= 0 and not untrained[resname]:
            chosen = fallback  # bead names do not fit: map_beads names what is wrong
            if mismatch is None:
                expected = " / ".join(" ".join(c.beads) for c in specs[fallback].mapping.by_resname[resname])
                mismatch = (f"residue {resname} {beads[s].resid} has beads {' '.join(bead_names)}; "
                            f"model {specs[fallback].name} (mapping set {specs[fallback].mapping.name}) expects {expected}")
        if chosen >= 0:
            owner[s:e] = chosen
        else:
            uncovered[resname] += 1
            examples.setdefault(resname, _residue_label(resname, bead_names))
    if n_exact == 0 and mismatch is not None:
        raise InputError(f"{where}: no residue is covered by the model(s) "
                         f"{', '.join(f'{sp.name} (mapping set {sp.mapping.name})' for sp in specs)}: e.g. {mismatch}. "
                         "Is it a CG file for another mapping?")
    notes: list[str] = []
    if uncovered:
        listed = ", ".join(f"{r} ({n} residue{'s' if n > 1 else ''})" for r, n in uncovered.most_common())
        model_names = ", ".join(f"{s.name} (mapping set {s.mapping.name})" for s in specs) or "none"
        msg = f"{where}: molecule type(s) no model covers: {listed}; models: {model_names}"
        if strict:
            raise InputError(msg)
        if (owner == -2).all():
            shown = "; ".join(list(examples.values())[:5])
            raise InputError(f"{where}: no residue is covered by the model(s) {model_names}; "
                             f"the input has e.g. {shown}. Is it a CG file for another mapping?")
        notes.append(msg.replace("molecule type(s) no model covers", "skipped molecule type(s) no model covers"))
        warnings.warn(notes[-1], stacklevel=3)

    parts_top: list[OutputTopology] = []
    keys: list[np.ndarray] = []
    model_parts: list[_ModelPart] = []
    for k, spec in enumerate(specs):
        sel = np.flatnonzero(owner == k)
        if not len(sel):
            continue
        system, sys_notes = map_beads(beads[sel], spec.mapping)
        notes += sys_notes
        gidx = sel[system.bead_input_index]
        key = np.full(len(system.residue_name), np.inf)
        np.minimum.at(key, system.bead_residue, gidx.astype(np.float64))
        first_of_res = np.full(len(system.residue_name), len(gidx), dtype=np.int64)
        np.minimum.at(first_of_res, system.bead_residue, np.arange(len(gidx)))
        model_parts.append(_ModelPart(spec, system, gidx, spec.predictor_factory(system),
                                      first_of_res[system.bead_residue], first_of_res))
        parts_top.append(topology_of_system(system))
        keys.append(key)
    solvent = None
    if solvent_rules:
        sbeads = np.asarray(sorted(solvent_rules), dtype=np.int64)
        rules = [solvent_rules[int(b)] for b in sbeads]
        counts = np.asarray([r.count for r in rules], dtype=np.int64)
        res_of_bead = np.repeat(np.arange(len(sbeads)), counts)
        chains = np.asarray(beads.segids).astype(str)[sbeads] if hasattr(beads, "segids") else np.full(len(sbeads), "")
        n_mol = int(counts.sum())
        # an ion keeps its input residue id (one bead, one ion); the waters of a bead are
        # numbered 1, 2, ... through all water molecules
        water = np.asarray([r.resname == "HOH" for r in rules], dtype=bool)[res_of_bead]
        resid = np.asarray(beads.resids, dtype=np.int64)[sbeads][res_of_bead]
        resid[water] = np.arange(1, int(water.sum()) + 1)
        parts_top.append(OutputTopology(
            atom_name=np.asarray([r.atom for r in rules]).astype(str)[res_of_bead],
            atom_element=np.asarray([r.element for r in rules]).astype(str)[res_of_bead],
            atom_residue=np.arange(n_mol, dtype=np.int64),
            residue_name=np.asarray([r.resname for r in rules]).astype(str)[res_of_bead],
            residue_id=resid,
            residue_chain=chains[res_of_bead],
            residue_next=np.full(n_mol, -1, dtype=np.int64),
        ))
        keys.append(sbeads[res_of_bead].astype(np.float64))
        solvent = _SolventPart(sbeads, counts)
        n_w = sum(c for r, c in zip(rules, counts) if r.resname == "HOH")
        if n_w:
            notes.append(f"{n_w} water molecules from {sum(1 for r in rules if r.resname == 'HOH')} water beads (by rule)")
        if len(rules) > sum(1 for r in rules if r.resname == "HOH"):
            notes.append(f"{sum(1 for r in rules if r.resname != 'HOH')} ions (by rule)")
    if not parts_top:
        raise InputError(f"{where}: nothing to backmap")
    covered = int((owner >= -1).sum())
    return _Plan(model_parts, solvent, merge_parts(parts_top, keys), notes, covered)


# --- one frame ----------------------------------------------------------------------


def _phi_psi(part: _ModelPart, pred) -> np.ndarray | None:
    if not isinstance(pred, dict) or "dihedrals" not in pred:
        return None
    d = np.asarray(pred["dihedrals"])  # (B, 2, 2)
    ang = np.arctan2(d[..., 1], d[..., 0])  # (B, 2)
    rb = part.system.residue_bead
    out = np.full((len(rb), 2), np.nan)
    out[rb >= 0] = ang[rb[rb >= 0]]
    return out


def _whole_chains(part: _ModelPart, bp: np.ndarray, box) -> np.ndarray:
    """Bead positions (residues already whole) with every linked chain in one periodic
    image: each residue moved by whole box vectors next to the residue before it."""
    nxt = part.system.residue_next
    linked = np.flatnonzero(nxt >= 0)
    if box is None or not len(linked):
        return bp
    a = bp[part.res_first[linked]]
    b = bp[part.res_first[nxt[linked]]]
    step = nearest_image(b, a, box) - b  # (L, 3): image shift of each linked residue relative to its predecessor
    if not np.abs(step).max() > 1e-6:
        return bp
    shift = np.zeros((len(nxt), 3))
    for k, r in enumerate(linked):  # residues in order: accumulate along the chain
        shift[nxt[r]] = shift[r] + step[k]
    return bp + shift[part.system.bead_residue]


# Å: rebuilt atoms of the shipped mappings lie within 7.4 Å of their bead (Cα set, adk: an ARG
# tip; Martini 3 on YiiP: 2.8 Å); beyond this the network's output is not a structure (a model
# far outside its training data) and is refused.
MAX_ATOM_BEAD_DISTANCE = 25.0


def check_near_beads(system: BeadSystem, atoms: np.ndarray, beads: np.ndarray, where: str) -> None:
    """Raise :class:`InputError` naming the residue, atom and distance if a rebuilt atom
    (``atoms``, (A, 3) Å) lies more than :data:`MAX_ATOM_BEAD_DISTANCE` from its bead, or is NaN."""
    d = np.linalg.norm(atoms[system.slot_atom] - beads[system.slot_bead], axis=1)
    bad = np.flatnonzero(~(d <= MAX_ATOM_BEAD_DISTANCE))
    if len(bad):
        k = int(bad[np.argmax(np.nan_to_num(d[bad], nan=np.inf))])
        a = int(system.slot_atom[k])
        r = int(system.atom_residue[a])
        raise InputError(
            f"{where}: the model placed atom {system.atom_name[a]} of residue {system.residue_name[r]} "
            f"{system.residue_id[r]} {d[k]:.4g} Å from its bead ({len(bad)} atom(s) beyond "
            f"{MAX_ATOM_BEAD_DISTANCE:g} Å): its output is not a structure; this input is probably far "
            "from what the model was trained on")


def _frame(plan: _Plan, pos: np.ndarray, box, frame: int, seed: int, bead_fit: bool = False,
           relax: bool = False, fix: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """(A, 3) merged heavy-atom positions, (R, 2) predicted φ/ψ (NaN: none) of a frame and the
    numbers of side-chain branches opened, stereocentres corrected and side chains turned out of
    clashes.
    ``relax``: relax the protein backbone toward ideal bonds and angles
    (:func:`herobm.refine.relax.relax_backbone`), the atoms that sit on their bead (hierarchy
    level 0, e.g. the Cα of a Cα trace) held. ``fix``: then open collapsed side-chain branches,
    reflect inverted stereocentres and turn clashing side chains about their χ bonds
    (:func:`herobm.refine.pipeline.side_chain_step`). ``bead_fit``:
    last, move the rebuilt atoms the least so that they coarse-grain exactly to the input beads
    (:func:`herobm.reconstruct.fit_to_beads`)."""
    parts, phi_psi = [], np.full((plan.assembly.topology.n_residues, 2), np.nan)
    n_spread = n_inverted = n_relieved = 0
    for i, part in enumerate(plan.models):
        bp = unwrap_to(pos[part.beads], part.first, box)  # residues split across the boundary made whole
        bp = _whole_chains(part, bp, box)
        pred = part.predict(bp, box)
        vectors = pred["vectors"] if isinstance(pred, dict) else pred
        x = rebuild_frame(part.system, bp, vectors)
        check_near_beads(part.system, x, bp, f"frame {frame} ({part.spec.name})")
        if relax:
            from .refine.pipeline import relax_step

            x = relax_step(part.system, x, fixed=part.system.slot_atom[part.system.slot_level == 0])
        if fix:
            from .refine.pipeline import side_chain_step

            x, spread, inverted, relieved = side_chain_step(part.system, x)
            n_spread, n_inverted, n_relieved = (n_spread + len(spread), n_inverted + len(inverted),
                                                n_relieved + len(relieved))
        if bead_fit:  # last: the centres land exactly on the beads
            x = fit_to_beads(x, bp, part.system.cg_bead, part.system.cg_atom, part.system.cg_weight)
        parts.append(x)
        pp = _phi_psi(part, pred)
        if pp is not None:
            phi_psi[plan.assembly.part_residues[i]] = pp
    if plan.solvent is not None:
        rng = np.random.default_rng([seed, frame])
        parts.append(place_solvent(pos[plan.solvent.beads], plan.solvent.counts, rng))
    return plan.assembly.positions(parts), phi_psi, (n_spread, n_inverted, n_relieved)


# --- refinement -----------------------------------------------------------------------


# kJ/mol/nm² on heavy atoms during minimisation: held near the network's positions. Measured on
# eight held-out folded chains (docs/backmap.md): free minimisation moved Cα-model output 0.30 Å
# (CA) and cost 0.1 Å of backbone RMSD; 1e5 keeps it within 0.14 Å and still removes every
# clash; 1e6 leaves clashes.
DEFAULT_RESTRAINT = 1e5


@dataclass(frozen=True)
class RefineOptions:
    """Optional refinement of every backmapped frame (see :mod:`herobm.refine`).

    ``minimize`` implies hydrogens (the force field needs them). ``tolerance``: RMS force
    to stop at, kJ/mol/nm. ``ph``: for protonation states. ``restraint``: harmonic restraint
    of the heavy atoms to their positions before minimisation, kJ/mol/nm² (0: free).
    ``optimize_backbone`` None: as the models recommend (checkpoint info; no shipped model does)."""

    hydrogens: bool = False
    minimize: bool = False
    optimize_backbone: bool | None = None
    ph: float = 7.0
    tolerance: float = 500.0
    platform: str = "auto"
    restraint: float = DEFAULT_RESTRAINT

    def __post_init__(self) -> None:
        if not (np.isfinite(self.restraint) and self.restraint >= 0):
            raise InputError(f"restraint must be a finite number >= 0 kJ/mol/nm², got {self.restraint}")

    @property
    def active(self) -> bool:
        return self.hydrogens or self.minimize or bool(self.optimize_backbone)


@dataclass
class _Refined:
    positions: np.ndarray
    topology: OutputTopology | None  # None: same atoms as the raw output
    openmm_topology: object | None
    rmsd: float  # heavy atoms, raw vs refined (Å)
    variants: list | None
    summary: str


def _heavy_match(raw: OutputTopology, ref: OutputTopology) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the raw atoms and the same atoms (residue index + name) in ``ref``."""
    index = {(int(r), str(n)): k for k, (r, n) in enumerate(zip(ref.atom_residue, ref.atom_name))}
    a, b = [], []
    for k, (r, n) in enumerate(zip(raw.atom_residue, raw.atom_name)):
        j = index.get((int(r), str(n)))
        if j is not None:
            a.append(k)
            b.append(j)
    return np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)


def _refine(top: OutputTopology, x: np.ndarray, phi_psi: np.ndarray, opts: RefineOptions, strict: bool,
            variants: list | None, box=None) -> _Refined:
    from .refine.pipeline import backbone_step, has_protein_backbone, refine_frame, side_chain_step

    if opts.hydrogens or opts.minimize:
        rep = refine_frame(top, x, phi_psi, backbone=opts.optimize_backbone, ph=opts.ph, tolerance=opts.tolerance,
                           platform=opts.platform, do_minimize=opts.minimize, strict=strict, variants=variants,
                           restraint=opts.restraint, box=box)
        out_top = topology_of_openmm(rep.topology)
        a, b = _heavy_match(top, out_top)
        rmsd = float(np.sqrt(np.mean(np.sum((x[a] - rep.positions[b]) ** 2, axis=1)))) if len(a) else float("nan")
        return _Refined(rep.positions, out_top, rep.topology, rmsd, rep.protonated.variants, rep.summary())
    y, spread, inverted, relieved = side_chain_step(top, backbone_step(top, x, phi_psi))
    rmsd = float(np.sqrt(np.mean(np.sum((x - y) ** 2, axis=1))))
    done = ["backbone optimised"] if has_protein_backbone(top) else []
    if spread:
        done.append(f"{len(spread)} collapsed side-chain branch(es) spread")
    if inverted:
        done.append(f"{len(inverted)} inverted stereocentre(s) corrected")
    if relieved:
        done.append(f"{len(relieved)} side chain(s) turned out of clashes")
    return _Refined(y, None, None, rmsd, None, "; ".join(done) or "nothing to optimise (no protein backbone)")


def _first_labels(labels: list[str], n: int = 8) -> str:
    """The first ``n`` labels, comma-separated, and how many more there are."""
    return ", ".join(labels[:n]) + (f" and {len(labels) - n} more" if len(labels) > n else "")


def _unfixed_note(bad: list[str], what_is: str, where: str, remedy: str, detail: str = "") -> str:
    """A note naming what the side-chain step would have changed in an unfixed output ``where``."""
    if not bad:
        return ""
    return (f"{len(bad)} {what_is} in the {where}, first frame ({_first_labels(bad)}{detail}); leaving out "
            f"--no-fix-side-chains, or {remedy}")


def _raw_chirality_note(top: OutputTopology, x: np.ndarray, what: str = "network output") -> str:
    """Names the stereocentres of known handedness inverted in the unrefined output ``what``."""
    from .refine.chirality import inverted_stereocentres

    bad = inverted_stereocentres(top.atom_name, top.atom_residue, top.residue_name, x, top.residue_id)
    return _unfixed_note(bad, "stereocentre(s) inverted", what,
                         "--hydrogens, --minimize or --optimize-backbone put them right")


def _raw_branch_note(top: OutputTopology, x: np.ndarray, what: str = "network output") -> str:
    """Names the side-chain branches collapsed in the unrefined output ``what``."""
    from .refine.branches import spread_branches

    _, bad = spread_branches(top.atom_name, top.atom_residue, top.residue_name, x, residue_id=top.residue_id)
    return _unfixed_note(bad, "side-chain branch(es) collapsed", what,
                         "--hydrogens, --minimize or --optimize-backbone open them",
                         ": the two branch atoms within 60° of each other")


def _raw_clash_note(top: OutputTopology, x: np.ndarray, what: str = "network output") -> str:
    """Names the side chains in clashes (:func:`herobm.refine.clashes.clashing_side_chains`) in the
    unrefined output ``what``."""
    from .refine.clashes import CLASH, clashing_side_chains

    bad = clashing_side_chains(top.atom_name, top.atom_residue, top.residue_name, x, top.bonds,
                               residue_id=top.residue_id)
    return _unfixed_note(bad, f"side chain(s) in clashes (heavy atoms closer than {CLASH:g} Å)", what,
                         "--hydrogens or --optimize-backbone turn them out (as far as their beads allow); "
                         "--minimize removes them")


# --- the run --------------------------------------------------------------------------


@dataclass
class BackmapReport:
    """What :func:`backmap` did. ``refined_rmsd``: per frame, heavy-atom RMSD (Å) between
    the raw network output and the refined structure (empty without refinement)."""

    n_beads: int
    n_atoms: int
    n_frames: int
    models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    refined_rmsd: list[float] = field(default_factory=list)
    refine_summary: str = ""

    def summary(self) -> str:
        lines = list(self.notes)
        if self.models:
            lines.append(f"models: {', '.join(self.models)}")
        if self.refine_summary:
            lines.append(self.refine_summary)
        if self.refined_rmsd:
            r = np.asarray(self.refined_rmsd)
            lines.append(f"heavy-atom RMSD raw -> refined: {r.mean():.3f} Å" +
                         (f" (mean of {len(r)} frames, max {r.max():.3f} Å)" if len(r) > 1 else ""))
        lines.append(f"backmapped {self.n_beads} beads to {self.n_atoms} atoms in {self.n_frames} frame(s)")
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Job:
    """Everything a process needs to backmap frames of one input (picklable when
    ``models`` are paths/names, so worker processes can rebuild it)."""

    input: str
    traj: tuple[str, ...]
    selection: str
    strict: bool
    models: tuple
    device: str
    max_beads: int
    refine: RefineOptions
    seed: int
    bead_fit: bool = False
    relax_backbone: bool = False  # unless the backbone is optimised (backmap()'s default: on)
    fix_side_chains: bool = False  # unrefined output only: refinement does it anyway (backmap()'s default: on)


class _Runner:
    """A loaded job: universe, plan; computes (positions, box, raw-refined RMSD) per frame."""

    def __init__(self, job: _Job, specs: list[ModelSpec] | None = None):
        self.job = job
        self.u = load_universe(job.input, list(job.traj) or None)
        self.beads = select_atoms(self.u, job.selection, job.input)
        if specs is None:
            specs = [checkpoint_spec(m, job.device, job.max_beads) for m in job.models]
        self.specs = specs
        self.plan = _plan(self.beads, specs, job.strict, job.input)
        self.refine = job.refine
        if self.refine.optimize_backbone is None:  # as the models used recommend
            self.refine = replace(self.refine, optimize_backbone=any(p.spec.optimize_backbone for p in self.plan.models))
        self.relax = self.job.relax_backbone and not self.refine.optimize_backbone  # optimisation supersedes it
        self.fix = self.job.fix_side_chains and not self.refine.active  # refinement does the same
        self.variants: list | None = None
        self.out_top: OutputTopology | None = None
        self.openmm_top = None

    def compute(self, frame: int) -> tuple[np.ndarray, np.ndarray | None, float, str]:
        self.u.trajectory[frame]
        pos = self.beads.positions.astype(np.float64)
        check_finite(pos, self.beads, f"{self.job.input} frame {frame}")
        box = self.u.dimensions
        box = box if box is not None and np.all(box[:3] > 0) else None
        x, phi_psi, (n_spread, n_inverted, n_relieved) = _frame(self.plan, pos, box, frame, self.job.seed,
                                                                self.job.bead_fit, self.relax, self.fix)
        if not self.refine.active:
            done = [f"{n} {what}" for n, what in ((n_spread, "collapsed side-chain branch(es) opened"),
                                                   (n_inverted, "inverted stereocentre(s) corrected"),
                                                   (n_relieved, "side chain(s) turned out of clashes")) if n]
            return x, box, float("nan"), "; ".join(done)
        ref = _refine(self.plan.assembly.topology, x, phi_psi, self.refine, self.job.strict, self.variants, box)
        if self.out_top is None:
            self.out_top, self.variants, self.openmm_top = ref.topology, ref.variants, ref.openmm_topology
        elif ref.topology is not None and ref.topology.n_atoms != self.out_top.n_atoms:
            raise InputError(f"frame {frame}: refinement gave {ref.topology.n_atoms} atoms, "
                             f"the first frame {self.out_top.n_atoms}")
        return ref.positions, box, ref.rmsd, ref.summary


_WORKER: dict = {}  # per worker process only: its _Runner


def _worker_init(job: _Job, variants, out_top) -> None:
    torch.set_num_threads(1)
    runner = _Runner(job)
    runner.variants, runner.out_top = variants, out_top
    _WORKER["runner"] = runner


def _worker_frame(frame: int):
    return _WORKER["runner"].compute(frame)


def _run(job: _Job, specs: list[ModelSpec] | None, output, traj_out, frames: str | None, workers: int,
         progress: bool) -> BackmapReport:
    ext = os.path.splitext(str(output))[1].lower()
    if ext not in STRUCTURE_OUT:
        raise InputError(f"{output}: output must be one of {', '.join(STRUCTURE_OUT)}")
    if traj_out is not None and os.path.splitext(str(traj_out))[1].lower() not in TRAJ_OUT:
        raise InputError(f"{traj_out}: trajectory output must be one of {', '.join(TRAJ_OUT)}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    runner = _Runner(job, specs)
    frame_ids = parse_frames(frames, len(runner.u.trajectory))
    todo = list(frame_ids) if traj_out is not None else [frame_ids[0]]
    first = runner.compute(todo[0])
    top = runner.out_top or runner.plan.assembly.topology
    rmsds: list[float] = []

    def record(item):
        if runner.refine.active:
            rmsds.append(item[2])
        return item[0], item[1]

    def stream() -> Iterator:
        yield record(first)
        rest = todo[1:]
        if workers == 1 or not rest:
            for f in rest:
                yield record(runner.compute(f))
            return
        if specs is not None:
            raise InputError("--workers > 1 needs models given as checkpoint files or names")
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(workers, ctx, initializer=_worker_init,
                                    initargs=(job, runner.variants, runner.out_top)) as pool:
            pending = [pool.submit(_worker_frame, f) for f in rest[:2 * workers]]
            nxt = 2 * workers
            while pending:
                item = pending.pop(0).result()
                if nxt < len(rest):
                    pending.append(pool.submit(_worker_frame, rest[nxt]))
                    nxt += 1
                yield record(item)

    writer = None
    if runner.openmm_top is not None and ext in (".pdb", ".cif"):
        writer = _openmm_writer(runner.openmm_top)  # TER records and CONECTs a force field reads as written
    outputs = write_stream(aa_universe(top), stream(), output, traj_out, len(todo), progress, desc="backmapping",
                           structure_writer=writer)
    notes = list(runner.plan.notes)
    if runner.relax:
        from .refine.pipeline import has_protein_backbone

        if has_protein_backbone(top):
            notes.append("protein backbone relaxed toward ideal bonds, angles and planar peptides (--no-relax-backbone: "
                         "as the network placed it)")
    if runner.fix and first[3]:
        notes.append(f"side chains of the network output, first frame: {first[3]} (--no-fix-side-chains: as the "
                     "network placed them)")
    if not runner.refine.active:  # unrefined output: say which centres are inverted, branches collapsed, side chains clash
        what = "network output (backbone relaxed)" if runner.relax else "network output"
        notes += [n for n in [_raw_chirality_note(top, first[0], what), _raw_branch_note(top, first[0], what),
                              "" if runner.fix else _raw_clash_note(top, first[0], what)] if n]
    return BackmapReport(
        n_beads=runner.plan.n_beads, n_atoms=top.n_atoms, n_frames=len(todo),
        models=[p.spec.name for p in runner.plan.models], notes=notes, outputs=outputs,
        refined_rmsd=rmsds, refine_summary=first[3] if runner.refine.active else "",
    )


def _openmm_writer(topology):
    """A structure writer through OpenMM for refined (hydrogenated) output."""
    from .refine.topology import write_structure

    def write(path: str, positions: np.ndarray, box) -> None:
        if box is not None:
            from MDAnalysis.lib.mdamath import triclinic_vectors

            topology.setPeriodicBoxVectors(triclinic_vectors(box) / 10.0)  # nm
        write_structure(path, topology, positions)

    return write


def backmap(
    input: str | os.PathLike,
    model: str | os.PathLike | list | tuple | None,
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    frames: str | None = None,
    selection: str = "all",
    strict: bool = False,
    hydrogens: bool = False,
    ph: float = 7.0,
    minimize: bool = False,
    tolerance: float = 500.0,
    optimize_backbone: bool | None = None,
    max_beads_per_chunk: int = 5000,
    restraint: float = DEFAULT_RESTRAINT,
    device: str = "auto",
    workers: int = 1,
    seed: int = 0,
    progress: bool = False,
    bead_fit: bool = False,
    relax_backbone: bool = True,
    fix_side_chains: bool = True,
) -> BackmapReport:
    """Backmap a CG structure (and trajectory) with trained models.

    ``model``: one or more checkpoint paths or shipped model names (``herobm models``);
    None picks shipped models from the molecules of the input. Each residue goes to the
    first model whose mapping set matches its residue and bead names and whose training
    covered its bead types; water and ions are converted by rule (:mod:`herobm.solvent`);
    other residues are skipped with a warning naming them (``strict``: an error). The
    network runs on spatial chunks of at most ``max_beads_per_chunk`` beads (plus a halo
    of one cutoff), on CUDA when available. ``hydrogens``/``minimize``/
    ``optimize_backbone`` refine every frame (:mod:`herobm.refine`; ``optimize_backbone``
    None: on when a model used recommends it (no shipped model does); ``restraint``: heavy
    atoms held near the network's positions during minimisation, kJ/mol/nm²); ``workers`` > 1
    backmaps trajectory frames in that many processes (on the CPU). ``bead_fit`` moves the
    rebuilt heavy atoms the least so that their centres land exactly on the input beads
    (:func:`herobm.reconstruct.fit_to_beads`): never farther from the true structure when
    the beads were made from heavy atoms only (martinize2 of a PDB entry without
    hydrogens); approximate when hydrogens counted in the bead centres. ``relax_backbone``
    (where the backbone is not optimised) moves each protein's N, CA, C, O, OXT and CB the least
    toward ideal bonds, angles and planar peptides (:mod:`herobm.refine.relax`; False: the
    network's atoms as they are). ``fix_side_chains`` (unrefined output; refinement and the
    backbone optimisation always do it) opens side-chain branches the network collapsed,
    reflects inverted stereocentres and turns side chains out of clashes
    (:func:`herobm.refine.pipeline.side_chain_step`).
    Distances in Å.
    """
    from .models import auto_models

    traj = [traj] if isinstance(traj, (str, os.PathLike)) else list(traj or [])
    if model is None or (isinstance(model, (list, tuple)) and not model):
        models = tuple(auto_models(input, traj or None, selection))
    elif isinstance(model, (list, tuple)):
        models = tuple(str(m) for m in model)
    else:
        models = (str(model),)
    job = _Job(str(input), tuple(str(t) for t in traj), selection, strict, models,
               device if workers == 1 else "cpu", max_beads_per_chunk,
               RefineOptions(hydrogens or minimize, minimize, optimize_backbone, ph, tolerance, restraint=restraint),
               seed, bead_fit, relax_backbone, fix_side_chains)
    return _run(job, None, output, traj_out, frames, workers, progress)


def backmap_with_specs(
    input: str | os.PathLike,
    specs: list[ModelSpec],
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    frames: str | None = None,
    selection: str = "all",
    strict: bool = False,
    refine: RefineOptions = RefineOptions(),
    seed: int = 0,
    progress: bool = False,
    bead_fit: bool = False,
    relax_backbone: bool = False,
) -> BackmapReport:
    """:func:`backmap` with models given as :class:`ModelSpec` objects (in-process only); the
    backbone is relaxed only when asked (``relax_backbone``)."""
    traj = [traj] if isinstance(traj, (str, os.PathLike)) else list(traj or [])
    job = _Job(str(input), tuple(str(t) for t in traj), selection, strict, (), "cpu", 0, refine, seed, bead_fit,
               relax_backbone)
    return _run(job, list(specs), output, traj_out, frames, 1, progress)


def backmap_with_predictor(
    input: str | os.PathLike,
    predictor_factory: Callable[[BeadSystem], VectorPredictor],
    mapping: MappingSet,
    output: str | os.PathLike,
    traj: list[str] | str | None = None,
    traj_out: str | os.PathLike | None = None,
    frames: str | None = None,
    selection: str = "all",
    strict: bool = False,
    progress: bool = False,
    refine: RefineOptions = RefineOptions(),
    bead_fit: bool = False,
) -> BackmapReport:
    """Backmap with vectors from ``predictor_factory(system)`` for every molecule of
    ``mapping`` (e.g. the baseline, or true vectors in tests). Streams like :func:`backmap`."""
    spec = ModelSpec("predictor", mapping, predictor_factory)
    return backmap_with_specs(input, [spec], output, traj, traj_out, frames, selection, strict, refine,
                              progress=progress, bead_fit=bead_fit)
