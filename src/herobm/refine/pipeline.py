"""The refinement steps chained: for a backmapped frame (:func:`refine_frame`) or a file
(:func:`refine_structure`). Positions in Å."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from ..assembly import topology_of_openmm
from ..metrics.geometry import chirality_centers
from .backbone import backbone_indices, optimize_backbone
from .branches import spread_branches
from .chirality import fix_chirality
from .clashes import relieve_clashes
from .forcefield import DEFAULT_FORCEFIELD
from .hydrogens import Protonated, add_hydrogens
from .minimize import Minimized, minimize
from .relax import relax_backbone
from .topology import Structure, copy_topology, heavy_atom_mask, topology_from_system, write_structure

__all__ = ["RefineReport", "backbone_step", "has_protein_backbone", "refine_frame", "refine_structure",
           "relax_step", "side_chain_step"]


@dataclass
class RefineReport:
    """What the refinement did; ``summary()`` is what a command prints."""

    topology: object
    positions: np.ndarray  # (A, 3) Å, refined
    protonated: Protonated
    minimized: Minimized | None
    backbone_seconds: float = 0.0
    hydrogen_seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    chirality_fixed: list[str] = field(default_factory=list)  # inverted stereocentres put right
    branches_spread: list[str] = field(default_factory=list)  # collapsed side-chain branches spread
    clashes_relieved: list[str] = field(default_factory=list)  # side chains turned out of clashes

    def summary(self) -> str:
        lines = [self.protonated.summary() + f" ({self.hydrogen_seconds:.1f} s)"]
        if self.chirality_fixed:
            lines.insert(0, f"{len(self.chirality_fixed)} inverted stereocentre(s) corrected before adding hydrogens")
        if self.clashes_relieved:
            lines.insert(0, f"{len(self.clashes_relieved)} side chain(s) turned out of clashes before adding hydrogens")
        if self.branches_spread:
            lines.insert(0, f"{len(self.branches_spread)} collapsed side-chain branch(es) spread to tetrahedral geometry")
        if self.backbone_seconds:
            lines.insert(0, f"backbone optimised ({self.backbone_seconds:.1f} s)")
        if self.minimized is not None:
            lines.append(self.minimized.summary())
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


MAX_CHIRALITY_ROUNDS = 3


def _finish(st: Structure, ph, tolerance, platform, max_iterations, forcefield, do_minimize, strict, output, t_bb,
            variants=None, split_breaks=True, restraint=0.0, box=None):
    t0 = time.perf_counter()
    prot = add_hydrogens(st, ph=ph, forcefield=forcefield, platform=platform, strict=strict, variants=variants,
                         split_breaks=split_breaks)
    t_h = time.perf_counter() - t0
    mini = None
    pos = prot.positions
    if do_minimize:
        mini = minimize(prot.topology, prot.positions, tolerance, platform, max_iterations, forcefield=forcefield,
                        strict=strict, restraint=restraint, box=box)
        pos = mini.positions
        first = mini
        for _ in range(MAX_CHIRALITY_ROUNDS):  # a strained start can push a centre through its plane
            top = topology_of_openmm(prot.topology)
            fixed_pos, again = fix_chirality(top.atom_name, top.atom_residue, top.residue_name, pos)
            if not again:
                break
            mini = minimize(prot.topology, fixed_pos, tolerance, platform, max_iterations, forcefield=forcefield,
                            strict=strict, restraint=restraint, box=box)
            pos = mini.positions
        if mini is not first:  # report the whole minimisation: first start -> last end
            heavy = heavy_atom_mask(prot.topology)
            d = np.linalg.norm(pos[heavy] - prot.positions[heavy], axis=1)
            mini = replace(mini, energy_before=first.energy_before, seconds=first.seconds + mini.seconds,
                           heavy_rmsd=float(np.sqrt((d ** 2).mean())) if len(d) else 0.0,
                           heavy_max_displacement=float(d.max()) if len(d) else 0.0)
    report = RefineReport(prot.topology, pos, prot, mini, t_bb, t_h)
    if output is not None:
        write_structure(output, prot.topology, pos)
        report.outputs.append(str(output))
    return report


def has_protein_backbone(system) -> bool:
    """Whether ``system`` (BeadSystem or OutputTopology) has a residue with N, CA, C and O."""
    return _any_full_backbone(backbone_indices(system.atom_name, system.atom_residue, len(system.residue_name)))


def _any_full_backbone(idx: np.ndarray) -> bool:
    """Whether a row of ``backbone_indices`` output has all of N, CA, C and O."""
    return bool((idx[:, :4] >= 0).all(axis=1).any())


def backbone_step(system, positions: np.ndarray, phi_psi: np.ndarray | None = None) -> np.ndarray:
    """Backbone optimisation of the protein residues of ``system`` (a BeadSystem or an
    :class:`herobm.assembly.OutputTopology`): (A, 3) Å in, (A, 3) Å out, CA fixed.
    ``phi_psi``: (R, 2) target φ/ψ in radians (NaN = none)."""
    x = np.asarray(positions, dtype=np.float64)
    idx = backbone_indices(system.atom_name, system.atom_residue, len(system.residue_name))
    if not _any_full_backbone(idx):
        return x
    phi = psi = None
    if phi_psi is not None:
        phi, psi = np.asarray(phi_psi)[:, 0], np.asarray(phi_psi)[:, 1]
    return optimize_backbone(
        x, idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3], system.residue_next, phi, psi,
        oxt=idx[:, 4], resnames=system.residue_name,
    )


def relax_step(system, positions: np.ndarray, fixed: np.ndarray | None = None) -> np.ndarray:
    """Backbone (and CB) relaxation of the protein residues of ``system`` (a BeadSystem or an
    :class:`herobm.assembly.OutputTopology`) toward ideal bonds and angles, each atom moved the
    least (:func:`herobm.refine.relax.relax_backbone`): (A, 3) Å in and out. ``fixed``: atom
    indices that stay (the atoms the input places exactly)."""
    idx = backbone_indices(system.atom_name, system.atom_residue, len(system.residue_name))
    names = np.asarray(system.atom_name).astype(str)
    res = np.asarray(system.atom_residue)
    cb = np.full(len(idx), -1, dtype=np.int64)
    is_cb = np.flatnonzero(names == "CB")
    cb[res[is_cb]] = is_cb
    centres = chirality_centers(res, names, np.asarray(system.residue_name).astype(str))
    keep = np.concatenate([res[centres[:, :1]], centres], axis=1)  # CA and the Thr / Ile CB
    return relax_backbone(positions, idx, system.residue_next, system.residue_name, fixed=fixed, cb=cb, keep=keep)


def refine_frame(
    system,
    positions: np.ndarray,
    phi_psi: np.ndarray | None = None,
    *,
    backbone: bool = True,
    ph: float = 7.0,
    tolerance: float = 500.0,
    platform: str = "auto",
    max_iterations: int = 0,
    forcefield=DEFAULT_FORCEFIELD,
    do_minimize: bool = True,
    strict: bool = False,
    output: str | os.PathLike | None = None,
    variants: list | None = None,
    restraint: float = 0.0,
    box=None,
) -> RefineReport:
    """Refine one backmapped frame of a :class:`herobm.cg_system.BeadSystem` (or an
    :class:`herobm.assembly.OutputTopology`): backbone (with the network's φ/ψ, (R, 2)
    radians, NaN = none) -> hydrogens -> minimisation; optionally written to ``output``.
    ``positions``: (A, 3) Å. ``variants``: protonation variants of an earlier frame
    (``report.protonated.variants``), so all frames of a trajectory get the same atoms.
    ``restraint``: kJ/mol/nm², heavy atoms held near their positions before minimisation.
    ``box``: the input's periodic box (MDAnalysis ``[lx, ly, lz, α, β, γ]``, Å), so the
    minimisation sees molecules that touch across the boundary (None: not periodic)."""
    x = np.asarray(positions, dtype=np.float64)
    t_bb = 0.0
    if backbone:
        t0 = time.perf_counter()
        x = backbone_step(system, x, phi_psi)
        t_bb = time.perf_counter() - t0
    # clashes: left to the minimisation, which follows (it removes them, docs/refinement.md)
    x, spread, inverted, relieved = side_chain_step(system, x, clashes=not do_minimize)
    st = _chains_from_links(topology_from_system(system, x), system)
    report = _finish(st, ph, tolerance, platform, max_iterations, forcefield, do_minimize, strict, output, t_bb, variants,
                     split_breaks=False, restraint=restraint, box=box)
    report.chirality_fixed = inverted
    report.branches_spread = spread
    report.clashes_relieved = relieved
    return report


class SideChainFix(NamedTuple):
    """What :func:`side_chain_step` did: the positions (Å) and labels of what it changed."""

    positions: np.ndarray
    spread: list[str]  # collapsed branches spread (``LEU 12 CG``)
    inverted: list[str]  # inverted stereocentres reflected (``ALA 12 CA``)
    relieved: list[str]  # side chains turned out of clashes (``ARG 12``)


def side_chain_step(system, positions: np.ndarray, clashes: bool = True) -> SideChainFix:
    """Collapsed side-chain branches put at tetrahedral geometry
    (:func:`herobm.refine.branches.spread_branches`), inverted stereocentres reflected
    (:func:`herobm.refine.chirality.fix_chirality`), then (``clashes``) side chains that overlap
    other atoms turned about their χ bonds (:func:`herobm.refine.clashes.relieve_clashes`), within
    0.5 Å of the beads of a :class:`herobm.cg_system.BeadSystem` (its ``cg_*`` arrays). Å."""
    x, spread = spread_branches(system.atom_name, system.atom_residue, system.residue_name, positions)
    x, inverted = fix_chirality(system.atom_name, system.atom_residue, system.residue_name, x)
    relieved: list[str] = []
    if clashes:
        centres = None
        if len(getattr(system, "cg_bead", ())):
            from ..reconstruct import centre_matrix

            centres = centre_matrix(system.cg_bead, system.cg_atom, system.cg_weight, len(x))
        x, relieved = relieve_clashes(system.atom_name, system.atom_residue, system.residue_name, x,
                                      system.bonds, centres=centres)
    return SideChainFix(x, spread, inverted, relieved)


def _chains_from_links(st: Structure, system) -> Structure:
    """Chains split wherever the CG says consecutive residues are not linked
    (``residue_next``), so OpenMM/pdbfixer put termini there and nowhere else."""
    nxt = np.asarray(system.residue_next)
    chain = np.asarray(system.residue_chain)
    r = np.arange(1, len(nxt))
    starts = set((r[(nxt[r - 1] != r) & (chain[r - 1] == chain[r])]).tolist())
    if not starts:
        return st
    top, _ = copy_topology(st.topology, starts)
    return Structure(top, st.positions, st.raw_names)


def refine_structure(
    input,
    output: str | os.PathLike | None = None,
    *,
    ph: float = 7.0,
    tolerance: float = 500.0,
    platform: str = "auto",
    max_iterations: int = 0,
    forcefield=DEFAULT_FORCEFIELD,
    do_minimize: bool = True,
    strict: bool = False,
    box=None,
) -> RefineReport:
    """Hydrogens and minimisation for a structure file (or anything
    :func:`herobm.refine.hydrogens.add_hydrogens` reads); written to ``output`` (.pdb/.cif).
    ``box``: periodic box (MDAnalysis form, Å) for a periodic minimisation (None: not periodic)."""
    from .topology import read_structure

    st = input if isinstance(input, Structure) else read_structure(input)
    return _finish(st, ph, tolerance, platform, max_iterations, forcefield, do_minimize, strict, output, 0.0, box=box)
