"""Step 2 of refinement: energy minimisation with OpenMM.

Force field: Amber14 (ff14SB + Lipid17 + TIP3P/ions, see
:mod:`herobm.refine.forcefield`), in vacuum: a cutoff of 1 nm with reaction-field
electrostatics (``cutoff=None``: no cutoff, all pairs), no constraints, so the cost grows
linearly with the number of atoms and a membrane patch minimises on a CPU. With the
input's periodic box (``box``) the cutoff is periodic, so molecules that touch across
the boundary (the lipids at the edge of a membrane patch) are kept apart too; without
one, or when the box is narrower than twice the cutoff, it is not. Minimiser: OpenMM's L-BFGS
(``LocalEnergyMinimizer``), stopping when the root-mean-square force is below
``tolerance`` (kJ/mol/nm; default 500, enough to remove clashes and bad contacts
without letting the structure drift from the network's prediction).

Residues without force-field parameters are not dropped: each becomes uncharged,
weakly repulsive dummy atoms with zero mass, i.e. held fixed in place, and is named
in a :class:`~herobm.refine.hydrogens.RefinementWarning`.

Platform: ``"auto"`` picks CUDA (or HIP) when usable, else CPU (see
:mod:`herobm.refine.openmm_platform`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .forcefield import DEFAULT_FORCEFIELD, DummyTemplates, load_forcefield
from .hydrogens import RefinementWarning
from .openmm_platform import create_context
from .topology import heavy_atom_mask, residue_label, to_angstrom, to_nm_quantity

__all__ = ["Minimized", "minimize", "build_system", "periodic_box_vectors"]

RESTRAINT_GROUP = 31
RESCUE_FACTOR = 2.0  # a minimisation ending above this many times the tolerance is started again
RESCUE_RESTRAINT = 1e4  # kJ/mol/nm^2 on heavy atoms in the first stage of the second start (or the
#                        run's own restraint when that is stronger: the rescue never loosens it)


@dataclass
class Minimized:
    """Result of :func:`minimize`. Positions in Å, energies in kJ/mol (potential energy of
    the force field, restraints excluded), forces in kJ/mol/nm over the atoms free to move:
    ``rms_force`` / ``max_force`` of the force field alone, ``rms_force_restrained`` with the
    heavy-atom restraint added (what the minimiser brings below the tolerance; at a restrained
    minimum the force field's own force is what the restraint holds, and can be larger)."""

    positions: np.ndarray
    energy_before: float
    energy_after: float
    heavy_rmsd: float  # Å, heavy atoms, input -> minimised (no superposition)
    heavy_max_displacement: float  # Å
    rms_force: float
    max_force: float
    platform: str
    seconds: float
    fixed: list[str] = field(default_factory=list)  # residues held fixed (no template)
    rms_force_restrained: float | None = None  # with the restraint; None: no restraint

    def summary(self) -> str:
        lines = [
            f"minimised on {self.platform} in {self.seconds:.1f} s: energy {self.energy_before:.4g} -> "
            f"{self.energy_after:.4g} kJ/mol, RMS force {self.rms_force:.3g} kJ/mol/nm"
            + (f" ({self.rms_force_restrained:.3g} with the heavy-atom restraint)"
               if self.rms_force_restrained is not None else ""),
            f"heavy atoms moved by the minimisation: RMSD {self.heavy_rmsd:.3f} Å (max {self.heavy_max_displacement:.3f} Å)",
        ]
        if self.fixed:
            lines.append(f"held fixed (no force-field template): {', '.join(self.fixed)}")
        return "\n".join(lines)


def periodic_box_vectors(box, cutoff: float) -> np.ndarray | None:
    """(3, 3) box vectors in nm, in the reduced form OpenMM requires, of an MDAnalysis box
    ``[lx, ly, lz, α, β, γ]`` (Å, degrees); None without a usable box or when the box is
    narrower than twice ``cutoff`` (nm) in some direction."""
    if box is None:
        return None
    b = np.asarray(box, dtype=np.float64)
    if b.shape != (6,) or not np.all(np.isfinite(b)) or not np.all(b[:3] > 0):
        return None
    from MDAnalysis.lib.mdamath import triclinic_vectors

    v = triclinic_vectors(b).astype(np.float64) / 10.0  # a along x, b in the xy plane
    v[2] -= v[1] * np.round(v[2, 1] / v[1, 1])
    v[2] -= v[0] * np.round(v[2, 0] / v[0, 0])
    v[1] -= v[0] * np.round(v[1, 0] / v[0, 0])
    if min(v[0, 0], v[1, 1], v[2, 2]) <= 2.0 * cutoff:  # the widths of a reduced box
        return None
    return v


def build_system(topology, forcefield=DEFAULT_FORCEFIELD, cutoff: float | None = 1.0, periodic: bool = False):
    """(System, list of residues given dummy templates): vacuum, no constraints, cutoff
    ``cutoff`` nm (None: no cutoff), periodic with ``topology``'s box vectors when
    ``periodic``. Dummy residues have zero mass and no nonbonded interaction among their
    own atoms."""
    import openmm
    from openmm import app, unit

    ff = load_forcefield(forcefield)
    dummies = DummyTemplates().install(ff)
    kwargs = dict(constraints=None, rigidWater=False, removeCMMotion=False)
    if cutoff is None:
        system = ff.createSystem(topology, nonbondedMethod=app.NoCutoff, **kwargs)
    else:
        method = app.CutoffPeriodic if periodic else app.CutoffNonPeriodic
        system = ff.createSystem(topology, nonbondedMethod=method, nonbondedCutoff=cutoff * unit.nanometer, **kwargs)
    nb = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)]
    fixed = dummies.matched(ff, topology)
    for res in fixed:
        idx = [a.index for a in res.atoms()]
        for i in idx:
            system.setParticleMass(i, 0.0)
        if nb:
            for k, i in enumerate(idx):
                for j in idx[k + 1 :]:
                    nb[0].addException(i, j, 0.0, 0.1, 0.0, True)
    return system, fixed


def minimize(
    topology,
    positions,
    tolerance: float = 500.0,
    platform: str = "auto",
    max_iterations: int = 0,
    *,
    forcefield=DEFAULT_FORCEFIELD,
    cutoff: float | None = 1.0,
    restraint: float = 0.0,
    fixed_atoms=None,
    strict: bool = False,
    box=None,
) -> Minimized:
    """Minimise a complete (hydrogenated) structure.

    ``positions``: (A, 3) Å (or an OpenMM Quantity). ``tolerance``: RMS force to stop at,
    kJ/mol/nm. ``max_iterations``: 0 = until converged. ``cutoff``: nm, None = no cutoff.
    ``box``: MDAnalysis box (Å, degrees) of a periodic input: the cutoff is then periodic
    (:func:`periodic_box_vectors`; ``topology`` gets the box vectors), molecules whole.
    ``restraint``: harmonic positional restraint on heavy atoms, kJ/mol/nm^2 (0 = none).
    ``fixed_atoms``: atom indices kept in place. Residues without template are fixed
    and named in a :class:`RefinementWarning` (``strict``: :class:`InputError`).
    """
    import openmm
    from openmm import unit

    t0 = time.perf_counter()
    x0 = to_angstrom(positions)
    if len(x0) != topology.getNumAtoms():
        raise InputError(f"minimize: {len(x0)} positions for {topology.getNumAtoms()} atoms")
    if not np.isfinite(x0).all():
        raise InputError("minimize: positions contain NaN or infinity")
    vectors = periodic_box_vectors(box, cutoff) if cutoff is not None else None
    if box is not None and cutoff is not None and vectors is None and np.all(np.asarray(box)[:3] > 0):
        warnings.warn(RefinementWarning(
            f"box {np.round(np.asarray(box, dtype=float)[:3], 1).tolist()} Å is narrower than twice the {cutoff:g} nm "
            "cutoff: minimised without periodic boundaries"), stacklevel=2)
    if vectors is not None:
        topology.setPeriodicBoxVectors([openmm.Vec3(*row) for row in vectors] * unit.nanometer)
    try:
        system, dummy_res = build_system(topology, forcefield, cutoff, periodic=vectors is not None)
    except (ValueError, KeyError) as e:
        raise InputError(f"minimize: the force field cannot parameterise the structure: {e}") from e
    fixed = [residue_label(r) for r in dummy_res]
    if fixed:
        msg = f"no force-field template, held fixed in place: {', '.join(fixed)}"
        if strict:
            raise InputError(msg)
        warnings.warn(RefinementWarning(msg), stacklevel=2)
    if fixed_atoms is not None:
        for i in np.asarray(fixed_atoms, dtype=np.int64).ravel():
            system.setParticleMass(int(i), 0.0)
    heavy = heavy_atom_mask(topology)
    if heavy.any():  # heavy-atom restraint to the start, strength k_herobm (0: off; the rescue uses it)
        force = openmm.CustomExternalForce("0.5*k_herobm*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
        force.addGlobalParameter("k_herobm", float(restraint))
        for p in ("x0", "y0", "z0"):
            force.addPerParticleParameter(p)
        for i in np.flatnonzero(heavy):
            force.addParticle(int(i), (x0[i] / 10.0).tolist())
        force.setForceGroup(RESTRAINT_GROUP)
        system.addForce(force)
    energy_groups = set(range(RESTRAINT_GROUP))
    context = create_context(system, openmm.VerletIntegrator(0.001), platform)
    platform_name = context.getPlatform().getName()
    context.setPositions(to_nm_quantity(x0))
    e0 = context.getState(getEnergy=True, groups=energy_groups).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    movable = np.asarray([system.getParticleMass(i).value_in_unit(unit.dalton) > 0 for i in range(system.getNumParticles())])

    def rms_now() -> float:
        """RMS force (kJ/mol/nm) on the movable atoms as the minimiser sees it: every force, the
        restraint at its present strength included."""
        f = context.getState(getForces=True).getForces(asNumpy=True)
        f = np.asarray(f.value_in_unit(unit.kilojoule_per_mole / unit.nanometer))[movable]
        return float(np.sqrt(np.mean(f**2))) if len(f) and np.isfinite(f).all() else float("inf")

    def run(k: float) -> float:
        """Minimise with restraint strength k; the RMS force (kJ/mol/nm) at the end as the minimiser
        sees it (force field + restraint at strength k), which it is asked to bring below the tolerance."""
        if heavy.any():
            context.setParameter("k_herobm", float(k))
        openmm.LocalEnergyMinimizer.minimize(context, tolerance * unit.kilojoule_per_mole / unit.nanometer,
                                             int(max_iterations))
        return rms_now()

    rms_end = run(restraint)
    if rms_end > RESCUE_FACTOR * tolerance:
        # L-BFGS can stop far from a minimum when it starts from bad contacts (a polar hydrogen
        # pulled onto an acceptor): start again, first with the heavy atoms held near the start
        context.setPositions(to_nm_quantity(x0))
        run(max(RESCUE_RESTRAINT, restraint))
        rms_end = run(restraint)
        if rms_end > RESCUE_FACTOR * tolerance:
            warnings.warn(RefinementWarning(
                f"minimisation stopped at RMS force {rms_end:.3g} kJ/mol/nm (asked: {tolerance:g}); the structure "
                "may keep bad contacts"), stacklevel=2)
    rms_restrained = rms_end if heavy.any() and restraint > 0 else None
    state = context.getState(getPositions=True, getForces=True, groups=energy_groups)
    e1 = context.getState(getEnergy=True, groups=energy_groups).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    x1 = to_angstrom(state.getPositions(asNumpy=True))
    if not np.isfinite(e1) or not np.isfinite(x1).all():
        raise InputError("minimize: the energy is not finite after minimisation (overlapping atoms?)")
    f = np.asarray(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))
    fm = f[movable] if movable.any() else np.zeros((1, 3))
    d = np.linalg.norm(x1[heavy] - x0[heavy], axis=1) if heavy.any() else np.zeros(1)
    del context
    return Minimized(
        positions=x1,
        energy_before=float(e0),
        energy_after=float(e1),
        heavy_rmsd=float(np.sqrt(np.mean(d**2))),
        heavy_max_displacement=float(d.max()),
        rms_force=float(np.sqrt(np.mean(fm**2))),
        max_force=float(np.linalg.norm(fm, axis=1).max()),
        platform=platform_name,
        seconds=time.perf_counter() - t0,
        fixed=fixed,
        rms_force_restrained=rms_restrained,
    )
