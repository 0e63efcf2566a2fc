"""CG structure + mapping set -> arrays for backmapping (beads, rebuild slots, output atoms).

The counterpart of :mod:`herobm.system` for the other direction: it reads bead and
residue names of a CG structure (as martinize2, GROMACS or ``herobm map`` write
them), matches every residue to a molecule mapping by residue name and bead
names, and lays out the all-atom residues to be rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .coarse_grain import nearest_image
from .errors import InputError
from .solvent import ION_ELEMENTS
from .system import centre_weights, element_masses
from .mapping import MappingSet, MoleculeMapping

__all__ = ["BeadSystem", "map_beads"]

MAX_BACKBONE_LINK = 6.0  # Å; consecutive backbone beads farther apart are a chain break
# Å; across a gap in residue numbers (missing residues) the limit is a peptide bond's Cα–Cα
# distance (3.8 Å trans) plus slack: a 5.5 Å jump over a missing number is no bond
MAX_LINK_ACROSS_NUMBER_GAP = 4.3


@dataclass(frozen=True)
class BeadSystem:
    """Beads of a CG input and the all-atom residues they rebuild.

    B beads, S slots, A output atoms, R residues. ``slot_atom`` indexes output atoms.
    """

    mapping: MappingSet
    bead_input_index: np.ndarray  # (B,) index of each bead in the input selection
    bead_type: np.ndarray
    bead_residue: np.ndarray
    slot_bead: np.ndarray
    slot_index: np.ndarray
    slot_level: np.ndarray
    slot_anchor: np.ndarray
    slot_atom: np.ndarray
    slot_weight: np.ndarray
    atom_name: np.ndarray  # (A,)
    atom_residue: np.ndarray  # (A,)
    atom_element: np.ndarray  # (A,)
    residue_name: np.ndarray  # (R,)
    residue_id: np.ndarray
    residue_chain: np.ndarray
    residue_molecule: np.ndarray
    residue_next: np.ndarray  # (R,) bonded next residue, -1 if none
    residue_bead: np.ndarray  # (R,) backbone bead (holds CA), -1 if none
    bonds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))  # output atoms
    # bead centres over the output atoms, (E,): bead = sum of weight * atom per bead (weights
    # normalised over the rebuilt atoms; hydrogens the model does not rebuild are left out)
    cg_bead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cg_atom: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cg_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_beads(self) -> int:
        return len(self.bead_type)

    @property
    def n_atoms(self) -> int:
        return len(self.atom_name)


def _element(name: str, single_atom: bool = False) -> str:
    """Element of an output atom: from the first letter of its name, except for a
    single-atom molecule (an ion), whose name may be a two-letter element (CA = calcium
    only there; in a residue CA is the alpha carbon)."""
    stripped = name.lstrip("0123456789")
    if single_atom and stripped.upper() in ION_ELEMENTS:
        return ION_ELEMENTS[stripped.upper()]
    return stripped[:1].upper()


@dataclass
class _ResidueLayout:
    molecule: MoleculeMapping
    bead_order: list[int]  # input bead k of the residue -> mapping bead index
    slots: list[tuple[int, int, int, int, int, float]]  # (mapping bead, j, level, local anchor slot, local atom, w)
    cg: list[tuple[int, int, float]]  # (mapping bead, local atom, share of the atom in the bead centre)
    atom_names: list[str]
    atom_elements: list[str]
    bonds: list[tuple[int, int]]
    links: list[tuple[int, str, str]]
    name_to_local: dict[str, int]
    ca_bead: int


def _layout(mset: MappingSet, m: MoleculeMapping, bead_names: tuple[str, ...], terminal: bool) -> _ResidueLayout:
    beads = list(m.beads)
    order = [beads.index(b) for b in bead_names]
    atoms: list[int] = []  # mapping line of each local atom
    for i, line in enumerate(m.atoms):
        if line.rebuilt and (not line.optional or terminal):
            atoms.append(i)
    local = {line: k for k, line in enumerate(atoms)}
    slots = []
    for b, bead in enumerate(beads):
        kept: dict[int, int] = {}
        for j, s in enumerate(m.slots[bead]):
            if s.atom not in local or (s.anchor >= 0 and s.anchor not in kept):
                continue
            kept[j] = len(slots)
            slots.append((b, j, s.level, kept[s.anchor] if s.anchor >= 0 else -1, local[s.atom], s.weight))
    cg = [(b, local[a], w) for b, bead in enumerate(beads) for a, w in m.centre_weights[bead] if a in local and w > 0]
    names = [m.atoms[i].names[0] for i in atoms]
    name_to_local = {n: local[i] for i in atoms for n in m.atoms[i].names}
    bonds, links = [], []
    for a, b in m.bonds:
        if a[:1] in "+-":
            a, b = b, a
        if a not in name_to_local:
            continue
        if b[:1] in "+-":
            links.append((name_to_local[a], b[0], b[1:]))
        elif b in name_to_local:
            bonds.append((name_to_local[a], name_to_local[b]))
    ca_line = m.atom_index("CA")
    ca_bead = -1
    if ca_line in local:
        for b, bead in enumerate(beads):
            if any(s.atom == ca_line for s in m.slots[bead]):
                ca_bead = b
                break
    elements = [_element(n, single_atom=len(names) == 1) for n in names]
    return _ResidueLayout(m, order, slots, cg, names, elements, bonds, links, name_to_local, ca_bead)


def _choose_molecule(mset: MappingSet, resname: str, bead_names: tuple[str, ...], where: str) -> MoleculeMapping:
    cands = mset.by_resname.get(resname)
    if not cands:
        raise InputError(f"{where}: no mapping in set '{mset.name}' for residue name {resname}")
    for m in cands:
        if sorted(m.beads) == sorted(bead_names):
            return m
    m = cands[0]
    missing = [b for b in m.beads if b not in bead_names]
    extra = [b for b in bead_names if b not in m.beads]
    dup = sorted({b for b in bead_names if bead_names.count(b) > 1})
    parts = []
    if missing:
        parts.append(f"missing bead(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unknown bead name(s) {', '.join(extra)}")
    if dup:
        parts.append(f"repeated bead(s) {', '.join(dup)}")
    raise InputError(f"{where}: {'; '.join(parts)} (the mapping of {m.name} has beads {' '.join(m.beads)})")


def map_beads(beads, mset: MappingSet, skip_unknown: bool = False) -> tuple[BeadSystem, list[str]]:
    """Match the residues of an MDAnalysis AtomGroup of beads to ``mset``.

    Residues whose name no mapping covers raise :class:`InputError` naming them, or
    are skipped with a note when ``skip_unknown``. Residues with missing, unknown or
    repeated bead names always raise. Returns the system and the notes.
    """
    if len(beads) == 0:
        raise InputError("the selection contains no beads")
    names = np.asarray(beads.names).astype(str)
    resindex = np.asarray(beads.resindices)
    starts = np.flatnonzero(np.r_[True, resindex[1:] != resindex[:-1]])
    ends = np.r_[starts[1:], len(beads)]
    residues = beads.universe.residues
    pos = beads.positions.astype(np.float64)
    box = beads.universe.dimensions
    info = []
    notes: list[str] = []
    skipped: dict[str, int] = {}
    for start, end in zip(starts, ends):
        res = residues[resindex[start]]
        resname = str(res.resname)
        if resname not in mset.by_resname and skip_unknown:
            skipped[resname] = skipped.get(resname, 0) + 1
            continue
        chain = ""
        if hasattr(beads, "chainIDs"):
            chain = str(beads.chainIDs[start]).strip()
        if not chain and hasattr(res, "segment"):
            chain = str(res.segment.segid).strip()
        where = f"residue {resname} {res.resid}" + (f" (chain {chain})" if chain else "")
        m = _choose_molecule(mset, resname, tuple(names[start:end]), where)
        info.append((int(start), int(end), m, resname, int(res.resid), chain))
    for k, v in skipped.items():
        notes.append(f"skipped {v} residue(s) {k}: no mapping in set '{mset.name}'")
    if not info:
        raise InputError(f"no residue of the input is covered by mapping set '{mset.name}'")
    # residue links: consecutive residues of one chain whose templates link ("C +N") and
    # whose backbone beads are close (closer still where residue numbers skip)
    n = len(info)
    linked = np.zeros(n, dtype=bool)
    for r in range(n - 1):
        s0, e0, m0, *_, c0 = info[r]
        s1, e1, m1, *_, c1 = info[r + 1]
        if c0 != c1 or not any(b[:1] == "+" for bond in m0.bonds for b in bond):
            continue
        bb0 = [k for k in range(s0, e0) if names[k] == m0.beads[0]]
        bb1 = [k for k in range(s1, e1) if names[k] == m1.beads[0]]
        p0 = pos[bb0[0]] if bb0 else pos[s0:e0].mean(0)
        p1 = pos[bb1[0]] if bb1 else pos[s1:e1].mean(0)
        d = np.linalg.norm(nearest_image(p1[None], p0[None], box)[0] - p0)  # periodic: minimum image
        number_gap = info[r + 1][4] - info[r][4] > 1
        linked[r] = d < (MAX_LINK_ACROSS_NUMBER_GAP if number_gap else MAX_BACKBONE_LINK)
    cache: dict[tuple, _ResidueLayout] = {}
    b_in, b_type, b_res = [], [], []
    slots: list[tuple] = []
    cg: list[tuple[int, int, float]] = []
    cg_by_mass: list[bool] = []
    a_name, a_res, a_elem = [], [], []
    r_name, r_id, r_chain, r_mol, r_bead = [], [], [], [], []
    bonds: list[tuple[int, int]] = []
    layouts: list[_ResidueLayout] = []
    atom_start: list[int] = []
    for r, (start, end, m, resname, resid, chain) in enumerate(info):
        terminal = not linked[r]
        key = (m.name, tuple(names[start:end]), terminal)
        if key not in cache:
            cache[key] = _layout(mset, m, tuple(names[start:end]), terminal)
        lay = cache[key]
        layouts.append(lay)
        b0, s0, a0 = len(b_in), len(slots), len(a_name)
        atom_start.append(a0)
        # beads in mapping order so slot bead indices are stable
        input_of_mapping_bead = {mb: start + k for k, mb in enumerate(lay.bead_order)}
        for mb in range(len(m.beads)):
            b_in.append(input_of_mapping_bead[mb])
            b_type.append(mset.bead_type(m, m.beads[mb]))
            b_res.append(r)
        for mb, j, level, anchor, atom, w in lay.slots:
            slots.append((b0 + mb, j, level, anchor + s0 if anchor >= 0 else -1, a0 + atom, w))
        cg += [(b0 + mb, a0 + atom, w) for mb, atom, w in lay.cg]
        cg_by_mass += [mset.weighting_of(m) == "mass"] * len(lay.cg)
        a_name += lay.atom_names
        a_elem += lay.atom_elements
        a_res += [r] * len(lay.atom_names)
        bonds += [(a0 + i, a0 + j) for i, j in lay.bonds]
        r_name.append(resname)
        r_id.append(resid)
        r_chain.append(chain)
        r_mol.append(m.name)
        r_bead.append(b0 + lay.ca_bead if lay.ca_bead >= 0 else -1)
    nxt = np.full(n, -1, dtype=np.int64)
    for r in range(n - 1):
        if not linked[r]:
            continue
        nxt[r] = r + 1
        for la, sign, name in layouts[r].links:
            if sign == "+" and name in layouts[r + 1].name_to_local:
                bonds.append((atom_start[r] + la, atom_start[r + 1] + layouts[r + 1].name_to_local[name]))
        for la, sign, name in layouts[r + 1].links:
            if sign == "-" and name in layouts[r].name_to_local:
                bonds.append((atom_start[r] + layouts[r].name_to_local[name], atom_start[r + 1] + la))
    sl = np.asarray(slots, dtype=float).reshape(-1, 6)
    slot_atom = sl[:, 4].astype(np.int64)
    w = sl[:, 5]
    wsum = np.bincount(slot_atom, weights=w, minlength=len(a_name))
    cga = np.asarray(cg, dtype=float).reshape(-1, 3)
    cg_bead, cg_atom = cga[:, 0].astype(np.int64), cga[:, 1].astype(np.int64)
    cg_w, _ = centre_weights(cg_bead, cga[:, 2], np.asarray(cg_by_mass, dtype=bool),
                             element_masses(np.asarray(a_elem)[cg_atom]), len(b_in))
    system = BeadSystem(
        mapping=mset,
        bead_input_index=np.asarray(b_in, dtype=np.int64),
        bead_type=np.asarray(b_type, dtype=np.int64),
        bead_residue=np.asarray(b_res, dtype=np.int64),
        slot_bead=sl[:, 0].astype(np.int64),
        slot_index=sl[:, 1].astype(np.int64),
        slot_level=sl[:, 2].astype(np.int64),
        slot_anchor=sl[:, 3].astype(np.int64),
        slot_atom=slot_atom,
        slot_weight=w / wsum[slot_atom],
        atom_name=np.asarray(a_name).astype(str),
        atom_residue=np.asarray(a_res, dtype=np.int64),
        atom_element=np.asarray(a_elem).astype(str),
        residue_name=np.asarray(r_name).astype(str),
        residue_id=np.asarray(r_id, dtype=np.int64),
        residue_chain=np.asarray(r_chain).astype(str),
        residue_molecule=np.asarray(r_mol).astype(str),
        residue_next=nxt,
        residue_bead=np.asarray(r_bead, dtype=np.int64),
        bonds=np.asarray(bonds, dtype=np.int64).reshape(-1, 2),
        cg_bead=cg_bead,
        cg_atom=cg_atom,
        cg_weight=cg_w,
    )
    return system, notes
