"""Structures in and out of OpenMM for refinement: reading (raw residue names kept),
herobm arrays -> ``openmm.app.Topology``, chain breaks, writing with 4-letter residue names.

Positions are numpy arrays in Å everywhere in :mod:`herobm.refine`; OpenMM quantities
(nm) only exist inside the functions that call OpenMM.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "Structure",
    "read_structure",
    "topology_from_arrays",
    "topology_from_system",
    "copy_topology",
    "split_chain_breaks",
    "write_structure",
    "residue_label",
    "to_angstrom",
    "to_nm_quantity",
    "heavy_atom_mask",
    "standard_residue_names",
    "fix_standard_elements",
]

# Longest inter-residue bond (Å) kept as a link; a longer one (e.g. made by OpenMM's
# createStandardBonds across a gap) is a chain break. Real peptide bonds are ~1.33 Å;
# across one missing residue C(i)-N(i+2) is >~3.5 Å.
MAX_LINK = 3.0


@dataclass
class Structure:
    """An OpenMM topology, positions (A, 3) in Å and the residue names as written in the
    input (before OpenMM's canonicalisation, e.g. ``HSD`` where the topology says ``HIS``)."""

    topology: object
    positions: np.ndarray
    raw_names: list[str]


def residue_label(residue) -> str:
    """'NAME ID (chain C)' of an OpenMM residue, as warnings and reports print it."""
    chain = residue.chain.id if residue.chain is not None else ""
    return f"{residue.name} {residue.id}" + (f" (chain {chain})" if str(chain).strip() else "")


def to_angstrom(positions) -> np.ndarray:
    """(A, 3) float64 Å from an OpenMM Quantity (any length unit), a list of Vec3
    quantities, or a plain array (taken as Å)."""
    from openmm import unit

    if unit.is_quantity(positions):
        return np.asarray(positions.value_in_unit(unit.angstrom), dtype=np.float64).reshape(-1, 3)
    if len(positions) and unit.is_quantity(positions[0]):
        return np.asarray([p.value_in_unit(unit.angstrom) for p in positions], dtype=np.float64).reshape(-1, 3)
    return np.asarray(positions, dtype=np.float64).reshape(-1, 3)


def to_nm_quantity(positions_A: np.ndarray):
    """OpenMM positions (list of Vec3, nm) from an (A, 3) array in Å."""
    from openmm import Vec3, unit

    x = np.asarray(positions_A, dtype=np.float64) / 10.0
    return unit.Quantity([Vec3(*map(float, p)) for p in x], unit.nanometer)


def heavy_atom_mask(topology) -> np.ndarray:
    """(A,) bool: atoms that are not hydrogen (atoms with unknown element count as heavy)."""
    from openmm.app import element

    return np.asarray([a.element is None or a.element != element.hydrogen for a in topology.atoms()], dtype=bool)


def _name_tables():
    from openmm.app import PDBFile

    PDBFile._loadNameReplacementTables()
    return PDBFile._residueNameReplacements, PDBFile._atomNameReplacements


def _guess_element(name: str):
    from openmm.app import element

    from ..cg_system import _element

    try:
        return element.get_by_symbol(_element(name))
    except KeyError:
        return None


def standard_residue_names() -> set[str]:
    """Residue names OpenMM has standard bond definitions for (amino acids, nucleotides, water)."""
    from openmm.app import Topology

    Topology().createStandardBonds()  # loads the definitions once
    return set(Topology._standardBonds)


def fix_standard_elements(topology) -> int:
    """Elements of atoms in standard residues from the first letter of the atom name (the
    PDB convention; a 'CA' written with element Ca is a carbon there). Returns the count changed."""
    standard = standard_residue_names()
    changed = 0
    for a in topology.atoms():
        if a.residue.name in standard:
            el = _guess_element(a.name.lstrip("0123456789")[:1] or a.name)
            if el is not None and el != a.element:
                a.element = el
                changed += 1
    return changed


def topology_from_arrays(
    names, elements, resnames, resids, chains, residue_of_atom, bonds=None, positions=None
):
    """A ``Topology`` from per-atom arrays (herobm's layout: A atoms, residue index per atom).

    Residue and atom names are canonicalised the way ``PDBFile`` does (``HSD`` -> ``HIS``,
    ``OT2`` -> ``OXT``, ...); the raw residue names come back separately. ``bonds`` (n, 2)
    are added as given; with no bonds, OpenMM's standard bonds are created. Returns
    (topology, raw residue names).
    """
    from openmm.app import Topology, element

    res_repl, atom_repl = _name_tables()
    standard = standard_residue_names()
    names = [str(x) for x in names]
    res_of = np.asarray(residue_of_atom, dtype=np.int64)
    top = Topology()
    raw: list[str] = []
    chain_obj: dict[str, object] = {}
    residue_obj: dict[int, object] = {}
    atoms = []
    last_chain = None
    for k, name in enumerate(names):
        r = int(res_of[k])
        if r not in residue_obj:
            ch = str(chains[k]).strip()
            if ch != last_chain or ch not in chain_obj:
                chain_obj[ch] = top.addChain(ch or "A")
                last_chain = ch
            rname = str(resnames[k]).strip()
            raw.append(rname)
            canon = res_repl.get(rname, rname)
            residue_obj[r] = top.addResidue(canon, chain_obj[ch], str(resids[k]))
        res = residue_obj[r]
        aname = atom_repl.get(res.name, {}).get(name, name)
        el = elements[k] if elements is not None else None
        if res.name in standard:  # PDB convention: one-letter elements (CA is carbon here)
            el = _guess_element(aname.lstrip("0123456789")[:1] or aname)
        elif el is not None and not hasattr(el, "symbol"):
            sym = str(el).strip().capitalize()
            try:
                el = element.get_by_symbol(sym) if sym else None
            except KeyError:
                el = None
        if el is None:
            el = _guess_element(aname)
        atoms.append(top.addAtom(aname, el, res))
    if bonds is not None and len(bonds):
        for i, j in np.asarray(bonds, dtype=np.int64).reshape(-1, 2):
            top.addBond(atoms[int(i)], atoms[int(j)])
    else:
        top.createStandardBonds()
    if positions is not None:
        top.createDisulfideBonds(to_nm_quantity(positions))
    return top, raw


def topology_from_system(system, positions: np.ndarray):
    """``Structure`` of the atoms a :class:`herobm.cg_system.BeadSystem` rebuilds, at
    ``positions`` (A, 3) Å (e.g. from :func:`herobm.backmap.rebuild_frame`).
    Bonds are the mapping's (inside residues and residue links); disulfides by distance."""
    r = system.atom_residue
    top, raw = topology_from_arrays(
        system.atom_name, system.atom_element, system.residue_name[r], system.residue_id[r],
        system.residue_chain[r], r, bonds=system.bonds, positions=positions,
    )
    return Structure(top, np.asarray(positions, dtype=np.float64).reshape(-1, 3), raw)


def _from_universe(atoms) -> Structure:
    names = np.asarray(atoms.names).astype(str)
    elements = np.asarray(atoms.elements).astype(str) if hasattr(atoms, "elements") else None
    chains = None
    if hasattr(atoms, "chainIDs"):
        chains = np.asarray(atoms.chainIDs).astype(str)
    if chains is None or all(not c.strip() for c in chains):
        chains = np.asarray(atoms.segids).astype(str) if hasattr(atoms, "segids") else np.full(len(atoms), "A")
    _, res_of = np.unique(np.asarray(atoms.resindices), return_inverse=True)
    bonds = None
    if hasattr(atoms, "bonds") and len(atoms.bonds):
        local = {int(ix): k for k, ix in enumerate(atoms.indices)}
        b = [(local[int(i)], local[int(j)]) for i, j in atoms.bonds.indices if int(i) in local and int(j) in local]
        bonds = np.asarray(b, dtype=np.int64).reshape(-1, 2)
    pos = atoms.positions.astype(np.float64)
    top, raw = topology_from_arrays(names, elements, atoms.resnames, atoms.resids, chains, res_of, bonds, pos)
    return Structure(top, pos, raw)


def read_structure(source) -> Structure:
    """Read a structure: a path (PDB/mmCIF through OpenMM's readers; other formats, e.g.
    GRO, through MDAnalysis), PDB text, or an MDAnalysis ``AtomGroup``/``Universe``.
    PDB and MDAnalysis inputs keep their raw residue names; mmCIF gives OpenMM's names.
    """
    from openmm import app

    if hasattr(source, "atoms") and hasattr(source.atoms, "positions"):
        return _from_universe(source.atoms)
    text = None
    if isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        path = str(source)
        ext = os.path.splitext(path.lower().removesuffix(".gz"))[1]
        if ext in (".cif", ".mmcif", ".pdbx"):
            f = app.PDBxFile(path)
            return Structure(f.topology, to_angstrom(f.positions), [r.name for r in f.topology.residues()])
        if ext not in (".pdb", ".ent"):
            import MDAnalysis as mda

            return _from_universe(mda.Universe(path).atoms)
        if path.endswith(".gz"):
            import gzip

            with gzip.open(path, "rt") as fh:
                text = fh.read()
        else:
            with open(path) as fh:
                text = fh.read()
    elif isinstance(source, str) and ("ATOM" in source or "HETATM" in source) and "\n" in source:
        text = source
    else:
        raise InputError(f"cannot read a structure from {str(source)[:80]!r}: not a file, PDB text or AtomGroup")
    from openmm.app.internal.pdbstructure import PdbStructure

    structure = PdbStructure(io.StringIO(text), load_all_models=False)
    raw = [res.get_name() for chain in structure.iter_chains() for res in chain.iter_residues()]
    pdb = app.PDBFile(structure)
    if len(raw) != pdb.topology.getNumResidues():
        raw = [r.name for r in pdb.topology.residues()]
    if pdb.topology.getNumAtoms() == 0:
        raise InputError("the structure has no atoms")
    return Structure(pdb.topology, to_angstrom(pdb.positions), raw)


def copy_topology(topology, starts_chain=None, drop_bonds=None):
    """A copy of ``topology``; residues in ``starts_chain`` (indices) open a new chain
    (same chain id), bonds whose atom-index pair is in ``drop_bonds`` are left out.
    Returns (new topology, old atom index -> new atom)."""
    from openmm.app import Topology

    starts_chain = starts_chain or set()
    drop_bonds = drop_bonds or set()
    new = Topology()
    new.setPeriodicBoxVectors(topology.getPeriodicBoxVectors())
    amap = {}
    for chain in topology.chains():
        c = new.addChain(chain.id)
        for res in chain.residues():
            if res.index in starts_chain and res is not chain._residues[0]:
                c = new.addChain(chain.id)
            r = new.addResidue(res.name, c, res.id, res.insertionCode)
            for a in res.atoms():
                amap[a.index] = new.addAtom(a.name, a.element, r, a.id)
    for b in topology.bonds():
        key = (min(b[0].index, b[1].index), max(b[0].index, b[1].index))
        if key not in drop_bonds:
            new.addBond(amap[b[0].index], amap[b[1].index], b.type, b.order)
    return new, amap


def split_chain_breaks(topology, positions_A: np.ndarray, max_link: float = MAX_LINK):
    """Split chains where consecutive residues are not bonded by an inter-residue bond
    of at most ``max_link`` Å (longer inter-residue bonds are removed): OpenMM and
    pdbfixer decide termini by position in a chain, so a gap inside one chain, or a
    ligand written in a protein's chain, would otherwise get a wrong terminus or a
    stretched peptide bond. Atom order is unchanged. Returns (topology, list of
    'residue A / residue B' break labels where a long bond was removed)."""
    x = np.asarray(positions_A, dtype=np.float64)
    links: dict[tuple[int, int], float] = {}
    for a, b in topology.bonds():
        ra, rb = a.residue.index, b.residue.index
        if ra != rb:
            d = float(np.linalg.norm(x[a.index] - x[b.index]))
            key = (min(ra, rb), max(ra, rb))
            links[key] = min(links.get(key, np.inf), d)
    starts, drop, broken = set(), set(), []
    for a, b in topology.bonds():
        ra, rb = a.residue.index, b.residue.index
        if ra != rb and float(np.linalg.norm(x[a.index] - x[b.index])) > max_link:
            drop.add((min(a.index, b.index), max(a.index, b.index)))
            broken.append(f"{residue_label(a.residue)} / {residue_label(b.residue)}")
    for chain in topology.chains():
        res = list(chain.residues())
        for prev, cur in zip(res[:-1], res[1:]):
            if links.get((prev.index, cur.index), np.inf) > max_link:
                starts.add(cur.index)
    if not starts and not drop:
        return topology, []
    new, _ = copy_topology(topology, starts, drop)
    return new, broken


def write_structure(path: str | os.PathLike, topology, positions_A: np.ndarray) -> None:
    """Write PDB (residue names of 4 characters kept, in columns 18-21 as GROMACS and
    CHARMM write them; OpenMM's writer would cut ``POPC`` to ``POP``) or PDBx/mmCIF."""
    from openmm import app

    path = str(path)
    pos = to_nm_quantity(positions_A)
    if path.lower().endswith((".cif", ".mmcif", ".pdbx")):
        with open(path, "w") as fh:
            app.PDBxFile.writeFile(topology, pos, fh, keepIds=True)
        return
    buf = io.StringIO()
    app.PDBFile.writeFile(topology, pos, buf, keepIds=True)
    lines = []
    current = None
    names_by_atom = [a.residue.name for a in topology.atoms()]
    k = 0
    for line in buf.getvalue().splitlines():
        if line.startswith(("ATOM", "HETATM")):
            name = names_by_atom[k]
            k += 1
            if len(name) == 4:
                line = line[:17] + name + line[21:]
            current = name
        elif line.startswith("TER") and current is not None and len(current) == 4 and len(line) >= 21:
            line = line[:17] + current + line[21:]
        lines.append(line)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
