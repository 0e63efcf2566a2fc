"""Step 1 of refinement: missing heavy atoms and hydrogens.

* Proteins and nucleic acids: pdbfixer's ``findMissingAtoms`` + ``addMissingAtoms``
  (heavy atoms missing from residues that are present, and the C-terminal OXT;
  ``findMissingResidues`` is never called, so no residue is ever added), then OpenMM's
  ``Modeller.addHydrogens`` with its built-in residue definitions at ``ph``.
  Protonation states written in the residue name are kept: ``HSD``/``HID`` -> HID,
  ``HSE``/``HIE`` -> HIE, ``HSP``/``HIP`` -> HIP, ``ASPP``/``ASH`` -> ASH,
  ``GLUP``/``GLH`` -> GLH, ``LYN``/``LSN`` -> LYN (others follow the pH and, for
  histidine, hydrogen bonds; a cysteine bonded to another by S-S becomes CYX).
  pdbfixer's own ``addMissingHydrogens`` is not used: it would try to download
  definitions of non-standard residues from the PDB.
* Lipids, sterols and other residues with a force-field template: the hydrogens of the
  template whose heavy-atom names equal the residue's (Amber Lipid17 in OpenMM:
  POPC, POPE, POPG, CHL1, ...; by residue name, an alias such as POP -> POPC, or the
  heavy-atom names alone). Missing bonds (a PDB without CONECT) are taken from it too.
* Residues without hydrogen definitions and without a template are never dropped
  and never silently left bare: a :class:`RefinementWarning` names each one (or,
  with ``strict``, :class:`herobm.errors.InputError`).

Hydrogen positions: added at random directions, then minimised with the force field
with every other atom fixed (Modeller's procedure; the seed makes it reproducible).
Positions in and out are in Å.
"""

from __future__ import annotations

import io
import random
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .forcefield import DEFAULT_FORCEFIELD, DummyTemplates, TemplateIndex, add_template_bonds, load_forcefield
from .openmm_platform import platform_defaults, select_platform
from .topology import (
    Structure,
    copy_topology,
    fix_standard_elements,
    read_structure,
    residue_label,
    split_chain_breaks,
    standard_residue_names,
    to_angstrom,
    to_nm_quantity,
)

__all__ = ["RefinementWarning", "PROTONATION", "Protonated", "add_hydrogens"]


class RefinementWarning(UserWarning):
    """A refinement step kept going but did not do everything asked (names the residues)."""


# residue name in the input -> (standard name, Modeller variant or None for automatic)
PROTONATION = {
    "HSD": ("HIS", "HID"), "HID": ("HIS", "HID"), "HISD": ("HIS", "HID"), "HISA": ("HIS", "HID"),
    "HSE": ("HIS", "HIE"), "HIE": ("HIS", "HIE"), "HISE": ("HIS", "HIE"), "HISB": ("HIS", "HIE"),
    "HSP": ("HIS", "HIP"), "HIP": ("HIS", "HIP"), "HISH": ("HIS", "HIP"), "HSH": ("HIS", "HIP"),
    "HIH": ("HIS", "HIP"),
    "ASPP": ("ASP", "ASH"), "ASH": ("ASP", "ASH"), "ASPH": ("ASP", "ASH"),
    "GLUP": ("GLU", "GLH"), "GLH": ("GLU", "GLH"), "GLUH": ("GLU", "GLH"),
    "LYN": ("LYS", "LYN"), "LSN": ("LYS", "LYN"),
    "CYX": ("CYS", None), "CYS2": ("CYS", None),
}

_ONE_ATOM_PDB = "ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00  0.00           C\nEND\n"


@dataclass
class Protonated:
    """Result of :func:`add_hydrogens`. ``positions`` (A, 3) in Å, atoms in ``topology`` order."""

    topology: object
    positions: np.ndarray
    variants: list  # per residue: Modeller variant, (name, parent) list from a template, or None
    added_heavy: list[tuple[str, list[str]]] = field(default_factory=list)  # (residue label, atom names)
    n_hydrogens_added: int = 0
    no_hydrogens: list[str] = field(default_factory=list)  # residues left without hydrogens
    no_template: list[str] = field(default_factory=list)  # residues the force field cannot match
    chain_breaks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = list(self.notes)
        if self.added_heavy:
            n = sum(len(v) for _, v in self.added_heavy)
            lines.append(f"added {n} missing heavy atom(s) in {len(self.added_heavy)} residue(s)")
        lines.append(f"added {self.n_hydrogens_added} hydrogens")
        return "\n".join(lines)


def _standard_hydrogen_residues() -> set[str]:
    from openmm import app

    app.Modeller._loadStandardHydrogenDefinitions()
    return set(app.Modeller._residueHydrogens)


def _rebond(topology, positions_A):
    """Standard bonds (and S-S bonds) recreated from the canonical residue names; bonds
    involving non-standard residues (CONECT, mapping bonds) kept."""
    std = standard_residue_names()
    drop = set()
    for a, b in topology.bonds():
        if a.residue.name in std and b.residue.name in std:
            drop.add((min(a.index, b.index), max(a.index, b.index)))
    new, _ = copy_topology(topology, drop_bonds=drop)
    new.createStandardBonds()
    new.createDisulfideBonds(to_nm_quantity(positions_A))
    return new


def _add_heavy_atoms(topology, positions_A, platform, seed):
    from pdbfixer import PDBFixer

    fixer = PDBFixer(pdbfile=io.StringIO(_ONE_ATOM_PDB), platform=platform)
    fixer.topology = topology
    fixer.positions = to_nm_quantity(positions_A)
    fixer.missingResidues = {}  # never add residues
    fixer.findMissingAtoms()
    per_res: dict = {}
    for res, atoms in fixer.missingAtoms.items():
        per_res.setdefault(res.index, (res, []))[1].extend(a.name for a in atoms)
    for res, names in fixer.missingTerminals.items():
        per_res.setdefault(res.index, (res, []))[1].extend(names)
    added = [(residue_label(res), names) for _, (res, names) in sorted(per_res.items())]
    if not added:
        return topology, positions_A, added
    with platform_defaults(platform, threads=1):
        fixer.addMissingAtoms(seed=seed)
    return fixer.topology, to_angstrom(fixer.positions), added


def add_hydrogens(
    source,
    positions=None,
    ph: float = 7.0,
    *,
    forcefield=DEFAULT_FORCEFIELD,
    add_heavy: bool = True,
    platform: str = "auto",
    seed: int = 0,
    strict: bool = False,
    variants: list | None = None,
    split_breaks: bool = True,
) -> Protonated:
    """Complete a heavy-atom structure with missing heavy atoms and hydrogens.

    ``source``: a path (PDB, mmCIF, or any format MDAnalysis reads), PDB text, an
    MDAnalysis AtomGroup, a :class:`herobm.refine.topology.Structure`, or an OpenMM
    ``Topology`` with ``positions`` ((A, 3) array in Å or an OpenMM Quantity).
    ``forcefield``: OpenMM force-field files whose templates give lipid/ligand hydrogens
    and position all hydrogens. ``add_heavy``: add missing heavy atoms with pdbfixer.
    Residues that get no hydrogens or match no template are named in one
    :class:`RefinementWarning` (``strict``: :class:`InputError`). Existing atoms never move.
    ``variants``: per-residue variants from an earlier call (``Protonated.variants``) so
    every frame of a trajectory gets the same protonation states and atoms.
    ``split_breaks``: split chains where an inter-residue bond is longer than 3 Å (off
    when the chains are known, e.g. from the CG links of a backmapped frame).
    """
    from openmm import app

    if isinstance(source, Structure):
        st = source
    elif isinstance(source, app.Topology):
        if positions is None:
            raise InputError("add_hydrogens: a Topology needs positions")
        st = Structure(source, to_angstrom(positions), [r.name for r in source.residues()])
    else:
        st = read_structure(source)
    x = np.asarray(st.positions, dtype=np.float64)
    if not np.isfinite(x).all():
        raise InputError("add_hydrogens: positions contain NaN or infinity")
    top, _ = copy_topology(st.topology)
    notes: list[str] = []

    # 1. protonation states written in residue names -> standard name + variant
    variant_of: list = [None] * top.getNumResidues()
    for res, raw in zip(top.residues(), st.raw_names):
        std = PROTONATION.get(raw.strip().upper())
        if std is not None:
            res.name = std[0]
            variant_of[res.index] = std[1]
    fixed_el = fix_standard_elements(top)
    if fixed_el:
        notes.append(f"element of {fixed_el} atom(s) in standard residues set from the atom name")
    # 2. bonds from canonical names, 3. chains split at gaps
    top = _rebond(top, x)
    top, breaks = split_chain_breaks(top, x) if split_breaks else (top, [])
    if breaks:
        notes.append(f"chain break(s), bonds longer than the link limit removed: {'; '.join(breaks)}")
    ff = load_forcefield(forcefield)
    index = TemplateIndex(ff)
    bonded = add_template_bonds(top, index)
    if bonded:
        notes.append(f"bonds from force-field templates for {len(bonded)} residue(s) without bonds")
    plat = select_platform(platform)
    # 4. missing heavy atoms (residues are never added)
    added_heavy: list[tuple[str, list[str]]] = []
    if add_heavy:
        top, x, added_heavy = _add_heavy_atoms(top, x, plat, seed)
    # 5. hydrogens: built-in definitions for standard residues, templates for the rest
    standard = _standard_hydrogen_residues()
    chosen: list = []
    bare: set[int] = set()
    for res in top.residues():
        if res.name in standard:
            chosen.append(variant_of[res.index])
            continue
        t = index.find(res)
        hs = TemplateIndex.hydrogens(t) if t is not None else []
        chosen.append(hs or None)
        if t is None:
            bare.add(res.index)
    if variants is not None:
        if len(variants) != len(chosen):
            raise InputError(f"add_hydrogens: {len(variants)} variants given for {len(chosen)} residues")
        chosen = list(variants)
    n_before = top.getNumAtoms()
    dummies = DummyTemplates().install(ff)
    modeller = app.Modeller(top, to_nm_quantity(x))
    state = random.getstate()
    random.seed(seed)
    try:
        with platform_defaults(plat, threads=1):  # Modeller minimises the new hydrogens: the same result every run
            actual = modeller.addHydrogens(ff, pH=ph, variants=chosen, platform=plat)
    except (ValueError, KeyError) as e:  # e.g. a histidine without ND1/NE2
        raise InputError(f"adding hydrogens failed: {e}") from e
    finally:
        random.setstate(state)
    out_top = modeller.topology
    out_x = to_angstrom(modeller.positions)
    n_h = np.zeros(out_top.getNumResidues(), dtype=np.int64)
    for a in out_top.atoms():
        if a.element is not None and a.element.symbol == "H":
            n_h[a.residue.index] += 1
    residues = list(out_top.residues())
    no_h = [residue_label(residues[i]) for i in sorted(bare) if n_h[i] == 0]
    no_template = [residue_label(r) for r in dummies.matched(ff, out_top)]
    problems = []
    if no_h:
        problems.append(f"no hydrogens added (no hydrogen definition or template): {', '.join(no_h)}")
    if no_template:
        problems.append(f"no force-field template (kept as they are): {', '.join(no_template)}")
    if problems:
        msg = "; ".join(problems)
        if strict:
            raise InputError(msg)
        warnings.warn(RefinementWarning(msg), stacklevel=2)
    return Protonated(
        topology=out_top,
        positions=out_x,
        variants=list(actual),
        added_heavy=added_heavy,
        n_hydrogens_added=out_top.getNumAtoms() - n_before,
        no_hydrogens=no_h,
        no_template=no_template,
        chain_breaks=breaks,
        notes=notes,
    )
