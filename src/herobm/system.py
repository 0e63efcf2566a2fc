"""MDAnalysis atoms + a mapping set -> plain arrays (beads, atoms, index maps).

This is the one place that reads residue and atom names. Everything after it
works on integer index arrays:

* the coarse-graining matrix (beads x atoms, rows sum to 1),
* the rebuild slots: for every (bead, rebuilt atom) pair the bead, the slot
  index within the bead type (network output channel), the hierarchy level,
  the anchor slot and the weight used to combine atoms shared by beads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .errors import InputError
from .mapping import MappingSet, MoleculeMapping

__all__ = ["ResidueIssue", "MappedSystem", "map_atoms"]


@dataclass(frozen=True)
class ResidueIssue:
    """Something wrong with one input residue, ready to print."""

    kind: str  # "unknown" | "missing" | "unmapped"
    resname: str
    resid: int
    chain: str
    atoms: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.resname} {self.resid}" + (f" (chain {self.chain})" if self.chain else "")
        if self.kind == "unknown":
            return f"residue {where}: no mapping for residue name {self.resname}"
        if self.kind == "missing":
            return f"residue {where}: missing atom(s) {', '.join(self.atoms)}"
        return f"residue {where}: atom(s) not covered by the mapping: {', '.join(self.atoms)}"


@dataclass(frozen=True)
class MappedSystem:
    """Index arrays that tie input atoms to beads and rebuild slots.

    Atom indices refer to positions in the input AtomGroup (``0..n_input-1``).
    Shapes: B beads, E (bead, atom) centre entries, S rebuild slots.
    """

    mapping: MappingSet
    n_input_atoms: int
    # beads, (B,)
    bead_name: np.ndarray
    bead_resname: np.ndarray
    bead_resid: np.ndarray
    bead_chain: np.ndarray
    bead_type: np.ndarray
    bead_residue: np.ndarray  # index of the bead's residue among mapped residues
    bead_molecule: np.ndarray  # molecule mapping name
    # coarse-graining, (E,)
    cg_bead: np.ndarray
    cg_atom: np.ndarray
    cg_weight: np.ndarray  # normalised per bead
    # rebuild slots, (S,)
    slot_bead: np.ndarray
    slot_index: np.ndarray  # channel within the bead type, 0..max_slots-1
    slot_level: np.ndarray
    slot_anchor: np.ndarray  # global slot index of the anchor, -1 for levels 0/1
    slot_atom: np.ndarray
    slot_weight: np.ndarray  # normalised per atom
    # residue-level reports
    residue_ref_atom: np.ndarray  # (R,) first mapped input atom of each mapped residue
    atom_residue: np.ndarray  # (n_input,) mapped residue of each input atom, -1 if none
    atom_matched: np.ndarray  # (n_input,) bool, atom matched to a line of its residue's mapping
    # topology from the mapping's residue templates
    bonds: np.ndarray  # (n_bonds, 2) input atom indices, within residues and links between them
    residue_next: np.ndarray  # (R,) index of the bonded next residue in the chain, -1 if none
    residue_backbone: np.ndarray  # (R, 3) input indices of N, CA, C (-1 where absent)
    residue_bead: np.ndarray  # (R,) index of the bead that holds CA (the backbone bead), -1 if none
    residue_complete: np.ndarray  # (R,) bool, no required atom missing
    issues: tuple[ResidueIssue, ...] = field(default=())

    @property
    def n_beads(self) -> int:
        return len(self.bead_name)

    @property
    def n_slots(self) -> int:
        return len(self.slot_bead)

    @property
    def rebuilt_atoms(self) -> np.ndarray:
        """Sorted input indices of the atoms rebuilt from beads."""
        return np.unique(self.slot_atom)

    def cg_matrix(self) -> sparse.csr_matrix:
        """(B, n_input) sparse matrix: bead positions = matrix @ atom positions."""
        return sparse.csr_matrix(
            (self.cg_weight, (self.cg_bead, self.cg_atom)), shape=(self.n_beads, self.n_input_atoms)
        )

    @property
    def n_residues(self) -> int:
        return len(self.residue_ref_atom)

    def issues_of(self, kind: str) -> list[ResidueIssue]:
        return [i for i in self.issues if i.kind == kind]


def _residue_chain(residue) -> str:
    atoms = residue.atoms
    if hasattr(atoms, "chainIDs"):
        c = str(atoms.chainIDs[0]).strip()
        if c:
            return c
    return str(residue.segment.segid).strip() if hasattr(residue, "segment") else ""


@dataclass
class _Template:
    """Per-residue arrays of one (molecule, atom-name list) combination, local indices."""

    molecule: MoleculeMapping
    beads: list[str]
    cg: list[tuple[int, int, float]]  # (bead, local atom, weight before mass)
    slots: list[tuple[int, int, int, int, int, float]]  # (bead, j, level, local anchor slot, local atom, weight)
    missing: tuple[str, ...]
    unmapped: tuple[str, ...]
    matched: np.ndarray  # (n_local,) bool
    intra_bonds: list[tuple[int, int]]  # local atom pairs
    links: list[tuple[int, str, str]]  # (local atom, "+"/"-", atom name in the neighbour)
    name_to_local: dict[str, int]  # every name of every matched line -> local atom
    backbone: tuple[int, int, int]  # local N, CA, C (-1 if absent)
    ca_bead: int  # bead (template order) holding CA, -1 if none
    empty_beads: tuple[str, ...]  # beads with no centre atom present


def _make_template(mset: MappingSet, molecule: MoleculeMapping, match) -> _Template:
    line_to_local = {line: i for i, line in enumerate(match.atom_line) if line >= 0}
    beads = list(molecule.beads)
    cg = []
    for b, bead in enumerate(beads):
        for atom, w in molecule.centre_weights[bead]:
            if atom in line_to_local and w > 0:
                cg.append((b, line_to_local[atom], w))
    slots: list[tuple[int, int, int, int, int, float]] = []
    for b, bead in enumerate(beads):
        local_of_slot: dict[int, int] = {}
        for j, s in enumerate(molecule.slots[bead]):
            if s.atom not in line_to_local:
                continue  # missing atom: its slot (and anything anchored on it) is dropped
            if s.anchor >= 0 and s.anchor not in local_of_slot:
                continue
            local_of_slot[j] = len(slots)
            anchor = local_of_slot[s.anchor] if s.anchor >= 0 else -1
            slots.append((b, j, s.level, anchor, line_to_local[s.atom], s.weight))
    matched = np.asarray(match.atom_line) >= 0
    name_to_local = {n: loc for line, loc in line_to_local.items() for n in molecule.atoms[line].names}
    intra, links = [], []
    for a, b in molecule.bonds:
        if a[:1] in "+-":
            a, b = b, a
        la = line_to_local.get(molecule.atom_index(a), -1)
        if la < 0:
            continue
        if b[:1] in "+-":
            links.append((la, b[0], b[1:]))
        else:
            lb = line_to_local.get(molecule.atom_index(b), -1)
            if lb >= 0:
                intra.append((la, lb))
    backbone = tuple(name_to_local.get(n, -1) for n in ("N", "CA", "C"))
    ca_line = molecule.atom_index("CA")
    ca_bead = -1
    if ca_line >= 0 and backbone[1] >= 0:
        for k, bead in enumerate(beads):
            if any(s.atom == ca_line for s in molecule.slots[bead]):
                ca_bead = k
                break
    return _Template(
        molecule, beads, cg, slots, match.missing_required, match.unmapped, matched,
        intra, links, name_to_local, backbone, ca_bead,
        tuple(bead for b, bead in enumerate(beads) if not any(e[0] == b for e in cg)),
    )


def element_masses(elements) -> np.ndarray:
    """Masses (u) of element symbols (MDAnalysis' table; 0 for unknown symbols)."""
    from MDAnalysis.guesser.tables import masses as table

    return np.array([table.get(str(e).upper(), 0.0) for e in elements], dtype=float)


def centre_weights(bead: np.ndarray, weight: np.ndarray, by_mass: np.ndarray, mass: np.ndarray,
                   n_beads: int) -> tuple[np.ndarray, np.ndarray]:
    """Bead-centre weights of (bead, atom) pairs: the mapping's ``weight``, times the atom's
    ``mass`` (u) where ``by_mass`` (the molecule's ``weighting: mass``), normalised to sum 1 per
    bead. Returns (normalised weights, each bead's sum before normalising); a bead whose sum
    is not positive keeps its zero weights (the caller decides whether that is an error)."""
    w = np.asarray(weight, dtype=float) * np.where(by_mass, mass, 1.0)
    total = np.bincount(bead, weights=w, minlength=n_beads)
    return w / np.where(total > 0, total, 1.0)[bead], total


def _atom_masses(atoms) -> np.ndarray:
    """Atom masses (u) from the topology; atoms without one (e.g. a PDB with an empty
    element column) get the mass of the element their name starts with."""
    m = np.asarray(atoms.masses, dtype=float).copy()
    bad = np.flatnonzero(~(m > 0))
    m[bad] = element_masses([str(atoms.names[k]).lstrip("0123456789")[:1] for k in bad])
    return m


MAX_LINK_LENGTH = 2.5  # Å; a template link longer than this is a chain break


def _link_residues(atoms, tpls, starts, chains) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Template links ("C +N") between consecutive mapped residues of one chain.

    A link is kept only if its atoms are closer than ``MAX_LINK_LENGTH`` in the
    current frame (minimum image), so chain breaks are not bridged.
    """
    from MDAnalysis.lib.distances import calc_bonds

    n = len(tpls)
    nxt = np.full(n, -1, dtype=np.int64)
    cand: list[tuple[int, int, int]] = []  # (residue, atom i, atom j)
    for r in range(1, n):
        if chains[r] != chains[r - 1]:
            continue
        prev, cur = tpls[r - 1], tpls[r]
        for la, sign, name in prev.links:
            if sign == "+" and name in cur.name_to_local:
                cand.append((r - 1, starts[r - 1] + la, starts[r] + cur.name_to_local[name]))
        for la, sign, name in cur.links:
            if sign == "-" and name in prev.name_to_local:
                cand.append((r - 1, starts[r - 1] + prev.name_to_local[name], starts[r] + la))
    if not cand:
        return [], nxt
    c = np.asarray(cand, dtype=np.int64)
    pos = atoms.positions
    box = atoms.dimensions if atoms.dimensions is not None and np.all(atoms.dimensions[:3] > 0) else None
    d = calc_bonds(pos[c[:, 1]], pos[c[:, 2]], box=box)
    ok = d < MAX_LINK_LENGTH
    nxt[c[ok, 0]] = c[ok, 0] + 1
    return [(int(i), int(j)) for i, j in c[ok, 1:]], nxt


def map_atoms(atoms, mset: MappingSet) -> MappedSystem:
    """Match every residue of an MDAnalysis AtomGroup to ``mset`` and build index arrays.

    Residues whose name no mapping answers to are skipped and reported as
    ``unknown``; atoms of known residues that no line covers are reported as
    ``unmapped``; absent required atoms as ``missing``. Nothing is raised for
    these here: callers decide (``strict``) what is fatal.
    """
    n_input = len(atoms)
    if n_input == 0:
        raise InputError("the selection contains no atoms")
    masses = _atom_masses(atoms)
    names = np.asarray(atoms.names).astype(str)
    # residues in input order, by contiguous runs of resindex
    resindex = np.asarray(atoms.resindices)
    starts = np.flatnonzero(np.r_[True, resindex[1:] != resindex[:-1]])
    ends = np.r_[starts[1:], n_input]
    universe_residues = atoms.universe.residues

    cache: dict[tuple[str, tuple[str, ...]], _Template | None] = {}
    issues: list[ResidueIssue] = []
    bead_rows: list[tuple] = []
    cg_b, cg_a, cg_w, cg_by_mass = [], [], [], []
    sl: list[tuple] = []
    residue_ref: list[int] = []
    atom_residue = np.full(n_input, -1, dtype=np.int64)
    atom_matched = np.zeros(n_input, dtype=bool)
    unknown_seen: set[str] = set()
    bonds: list[tuple[int, int]] = []
    res_tpl: list[_Template] = []
    res_start: list[int] = []
    res_chain: list[str] = []
    res_backbone: list[tuple[int, int, int]] = []
    res_bead: list[int] = []
    res_complete: list[bool] = []
    for start, end in zip(starts, ends):
        residue = universe_residues[resindex[start]]
        resname = str(residue.resname)
        local_names = tuple(names[start:end])
        key = (resname, local_names)
        if key not in cache:
            match = mset.match(resname, local_names)
            cache[key] = None if match is None else _make_template(mset, match.molecule, match)
        tpl = cache[key]
        chain = _residue_chain(residue)
        resid = int(residue.resid)
        if tpl is None:
            issues.append(ResidueIssue("unknown", resname, resid, chain))
            unknown_seen.add(resname)
            continue
        if tpl.empty_beads:
            # a bead none of whose centre atoms is present cannot be placed: skip the residue
            issues.append(ResidueIssue("missing", resname, resid, chain, tpl.missing or tpl.empty_beads))
            continue
        if tpl.missing:
            issues.append(ResidueIssue("missing", resname, resid, chain, tpl.missing))
        if tpl.unmapped:
            issues.append(ResidueIssue("unmapped", resname, resid, chain, tpl.unmapped))
        r = len(residue_ref)
        residue_ref.append(int(start))
        atom_residue[start:end] = r
        atom_matched[start:end] = tpl.matched
        b0 = len(bead_rows)
        res_tpl.append(tpl)
        res_complete.append(not tpl.missing)
        res_start.append(int(start))
        res_chain.append(chain)
        res_backbone.append(tuple(int(start) + x if x >= 0 else -1 for x in tpl.backbone))
        res_bead.append(b0 + tpl.ca_bead if tpl.ca_bead >= 0 else -1)
        bonds.extend((int(start) + a, int(start) + b) for a, b in tpl.intra_bonds)
        for bead in tpl.beads:
            bead_rows.append((bead, resname, resid, chain, mset.bead_type(tpl.molecule, bead), r, tpl.molecule.name))
        by_mass = mset.weighting_of(tpl.molecule) == "mass"
        for b, a, w in tpl.cg:
            cg_b.append(b0 + b)
            cg_a.append(start + a)
            cg_w.append(w)
            cg_by_mass.append(by_mass)
        s0 = len(sl)
        for b, j, level, anchor, a, w in tpl.slots:
            sl.append((b0 + b, j, level, anchor + s0 if anchor >= 0 else -1, start + a, w))
    if not bead_rows:
        names_ = ", ".join(sorted(unknown_seen)) or "none"
        raise InputError(
            f"no residue of the input is covered by mapping set '{mset.name}' (residue names found: {names_})"
        )
    link_bonds, residue_next = _link_residues(atoms, res_tpl, res_start, res_chain)
    bonds.extend(link_bonds)
    bond_arr = np.unique(np.sort(np.asarray(bonds, dtype=np.int64).reshape(-1, 2), axis=1), axis=0)
    cg_b = np.asarray(cg_b, dtype=np.int64)
    cg_a = np.asarray(cg_a, dtype=np.int64)
    w, total = centre_weights(cg_b, np.asarray(cg_w, dtype=float), np.asarray(cg_by_mass, dtype=bool),
                              masses[cg_a], len(bead_rows))
    if np.any(total <= 0):
        bad = int(np.flatnonzero(total <= 0)[0])
        bn, rn, ri, ch = bead_rows[bad][:4]
        raise InputError(f"residue {rn} {ri}: bead {bn} has no atom with positive weight (missing or massless atoms)")
    bead_arr = list(zip(*bead_rows))
    slots = np.asarray(sl, dtype=float).reshape(-1, 6)
    slot_atom = slots[:, 4].astype(np.int64)
    slot_w = slots[:, 5]
    wsum = np.bincount(slot_atom, weights=slot_w, minlength=n_input) if len(slot_atom) else np.zeros(n_input)
    slot_w = slot_w / np.where(wsum[slot_atom] > 0, wsum[slot_atom], 1.0) if len(slot_atom) else slot_w
    return MappedSystem(
        mapping=mset,
        n_input_atoms=n_input,
        bead_name=np.asarray(bead_arr[0], dtype=object).astype(str),
        bead_resname=np.asarray(bead_arr[1]).astype(str),
        bead_resid=np.asarray(bead_arr[2], dtype=np.int64),
        bead_chain=np.asarray(bead_arr[3]).astype(str),
        bead_type=np.asarray(bead_arr[4], dtype=np.int64),
        bead_residue=np.asarray(bead_arr[5], dtype=np.int64),
        bead_molecule=np.asarray(bead_arr[6]).astype(str),
        cg_bead=cg_b,
        cg_atom=cg_a,
        cg_weight=w,
        slot_bead=slots[:, 0].astype(np.int64),
        slot_index=slots[:, 1].astype(np.int64),
        slot_level=slots[:, 2].astype(np.int64),
        slot_anchor=slots[:, 3].astype(np.int64),
        slot_atom=slot_atom,
        slot_weight=slot_w,
        residue_ref_atom=np.asarray(residue_ref, dtype=np.int64),
        atom_residue=atom_residue,
        atom_matched=atom_matched,
        bonds=bond_arr,
        residue_next=residue_next,
        residue_backbone=np.asarray(res_backbone, dtype=np.int64).reshape(-1, 3),
        residue_bead=np.asarray(res_bead, dtype=np.int64),
        residue_complete=np.asarray(res_complete, dtype=bool),
        issues=tuple(issues),
    )
