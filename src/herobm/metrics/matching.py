"""Which atom of a prediction is which atom of the reference: residue-name
equivalence, residue pairing along a chain and atom pairing inside a residue.

Pure functions on names (strings) and small lists; :mod:`herobm.evaluate`
applies them to MDAnalysis universes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..solvent import ION_ELEMENTS

__all__ = [
    "AMINO_ACIDS",
    "BACKBONE_NAMES",
    "SequenceMismatch",
    "canonical_resname",
    "is_ion",
    "is_amino_acid",
    "same_residue",
    "is_hydrogen",
    "element_of",
    "pair_residues",
    "match_atom_names",
]

AMINO_ACIDS = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL".split()
)
# backbone heavy atoms under canonical (first-column, AMBER/PDB) names
BACKBONE_NAMES = frozenset({"N", "CA", "C", "O", "OXT"})

# protonation / force-field spellings of the standard amino acids (heavy atoms identical)
_VARIANTS = {
    "HIS": "HSD HSE HSP HID HIE HIP HISD HISE HISH HISA HISB HSH HIS1 HIS2",
    "ASP": "ASH ASPP ASPH",
    "GLU": "GLH GLUP GLUH",
    "CYS": "CYX CYM CYSH CYS2",
    "LYS": "LYN LSN LYSN LYSH",
    "ARG": "ARN",
    "MET": "MSE",
}
_CANON = {v: k for k, vs in _VARIANTS.items() for v in vs.split()}


def canonical_resname(resname: str) -> str:
    """Standard 3-letter name of an amino-acid spelling (HSD -> HIS, ASH -> ASP,
    AMBER terminal NALA/CALA -> ALA); an ion's residue name becomes its element as
    amber14 names the residue (CHARMM SOD -> NA, CLA -> CL, ZNM -> ZN); other names
    are returned unchanged."""
    r = str(resname).strip().upper()
    if r in AMINO_ACIDS:
        return r
    if r in _CANON:
        return _CANON[r]
    if r in ION_ELEMENTS:
        return ION_ELEMENTS[r].upper()
    if len(r) == 4 and r[0] in "NC" and (r[1:] in AMINO_ACIDS or r[1:] in _CANON):
        return canonical_resname(r[1:])
    return str(resname).strip()


def is_amino_acid(resname: str) -> bool:
    return canonical_resname(resname) in AMINO_ACIDS


def is_ion(resname: str) -> bool:
    """Whether a residue name spells an ion (NA, SOD, CLA, ZNM, ...; :data:`herobm.solvent.ION_ELEMENTS`)."""
    return str(resname).strip().upper() in ION_ELEMENTS


def same_residue(a: str, b: str, aliases: dict[str, Sequence[str]] | None = None) -> bool:
    """Whether residue names ``a`` and ``b`` name the same residue type.

    Equal after :func:`canonical_resname`, or one is the other's molecule in
    ``aliases`` (residue name -> molecule names answering to it, e.g. a mapping
    set's ``by_resname`` reduced to names: POP -> POPC, POPE, POPG).
    """
    ca, cb = canonical_resname(a), canonical_resname(b)
    if ca == cb:
        return True
    if aliases:
        if cb in aliases.get(ca, ()) or ca in aliases.get(cb, ()):
            return True
    return False


_LEADING_DIGITS = re.compile(r"^\d+")


def is_hydrogen(names: Sequence[str], elements: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask of hydrogens (and deuteriums): by element where it is given,
    else by name ('H...' after leading digits, as in '1HD1')."""
    names = [str(n).strip() for n in names]
    by_name = np.array([_LEADING_DIGITS.sub("", n).upper().startswith("H") for n in names], dtype=bool)
    if elements is None:
        return by_name
    out = by_name.copy()
    for i, e in enumerate(elements):
        e = str(e).strip().upper()
        if e:
            out[i] = e in ("H", "D")
    return out


_TWO_LETTER = ("CL", "BR", "FE", "ZN", "MG", "SE", "NA", "CA", "MN", "CU", "CO", "NI")


def element_of(name: str, element: str = "", single_atom: bool = False) -> str:
    """Element symbol (upper case) of an atom: its ``element`` when given, else
    guessed from the name (first letter; two letters only for single-atom
    residues such as ions, and for CL/BR which no biomolecular carbon name starts with)."""
    e = str(element).strip().upper()
    if e:
        return e
    n = _LEADING_DIGITS.sub("", str(name).strip()).upper()
    if not n:
        return ""
    if single_atom and n[:2] in _TWO_LETTER:
        return n[:2]
    if n[:2] in ("CL", "BR"):
        return n[:2]
    return n[0]


class SequenceMismatch(ValueError):
    """Residue lists of one chain that cannot be paired; the message says where."""


@dataclass(frozen=True)
class ResiduePairing:
    pairs: tuple[tuple[int, int], ...]  # (ref residue, pred residue) positions in the chain lists
    mode: str  # "resid", "order" or "resid-subset"


def pair_residues(
    ref: Sequence[tuple[int, str]],
    pred: Sequence[tuple[int, str]],
    aliases: dict[str, Sequence[str]] | None = None,
) -> ResiduePairing:
    """Pair the residues of one chain, given as ``(resid, resname)`` lists in file order.

    * same length and equivalent names in order: pair by position ("resid" when
      the resids agree too, "order" when they differ, e.g. an offset);
    * otherwise, when the prediction's resids are unique and a subset of the
      reference's and the names agree there: pair by resid ("resid-subset"; the
      reference residues left over have all their atoms missing);
    * otherwise :class:`SequenceMismatch` naming the first difference.
    """
    same = lambda a, b: same_residue(a, b, aliases)  # noqa: E731
    if len(ref) == len(pred):
        bad = [k for k, (r, p) in enumerate(zip(ref, pred)) if not same(r[1], p[1])]
        if not bad:
            mode = "resid" if all(r[0] == p[0] for r, p in zip(ref, pred)) else "order"
            return ResiduePairing(tuple((k, k) for k in range(len(ref))), mode)
        k = bad[0]
        raise SequenceMismatch(
            f"different sequences: residue {ref[k][0]} is {ref[k][1]} in the reference but {pred[k][1]} "
            f"(resid {pred[k][0]}) in the prediction ({len(bad)} position(s) differ)"
        )
    ref_pos = {}
    for k, (rid, _) in enumerate(ref):
        ref_pos.setdefault(rid, k)
    pred_ids = [p[0] for p in pred]
    if len(set(pred_ids)) == len(pred_ids) and len(set(r[0] for r in ref)) == len(ref) and set(pred_ids) <= set(ref_pos):
        pairs = []
        for kp, (rid, name) in enumerate(pred):
            kr = ref_pos[rid]
            if not same(ref[kr][1], name):
                raise SequenceMismatch(
                    f"different sequences: residue {rid} is {ref[kr][1]} in the reference but {name} in the prediction"
                )
            pairs.append((kr, kp))
        return ResiduePairing(tuple(pairs), "resid-subset")
    raise SequenceMismatch(
        f"different sequences: {len(ref)} residues in the reference, {len(pred)} in the prediction, "
        f"and the prediction's resids are not a subset of the reference's"
    )


def match_atom_names(
    ref_names: Sequence[str],
    pred_names: Sequence[str],
    ref_lines: Sequence[int] | None = None,
    pred_lines: Sequence[int] | None = None,
    line_names: Sequence[str] | None = None,
) -> list[tuple[int, int, str]]:
    """Pair the atoms of one residue: ``(ref index, pred index, canonical name)``.

    ``ref_lines`` / ``pred_lines`` give each atom's line in a mapping file (-1
    when no line lists it; see :meth:`herobm.mapping.MoleculeMapping.match`):
    atoms on the same line are the same atom whatever their spelling (AMBER
    'H'/CHARMM 'HN', ILE 'CD1'/'CD', 'OXT'/'OT2'), and ``line_names[line]``
    is the canonical name. Atoms without a line pair by identical name.
    Each atom pairs at most once.
    """
    out: list[tuple[int, int, str]] = []
    used_pred: set[int] = set()
    if ref_lines is not None and pred_lines is not None:
        by_line = {}
        for j, l in enumerate(pred_lines):
            if l >= 0:
                by_line.setdefault(l, j)
        for i, l in enumerate(ref_lines):
            if l >= 0 and l in by_line and by_line[l] not in used_pred:
                j = by_line[l]
                used_pred.add(j)
                out.append((i, j, line_names[l] if line_names is not None else str(ref_names[i])))
    done_ref = {i for i, _, _ in out}
    by_name: dict[str, list[int]] = {}
    for j, n in enumerate(pred_names):
        if j not in used_pred:
            by_name.setdefault(str(n), []).append(j)
    for i, n in enumerate(ref_names):
        if i in done_ref:
            continue
        cands = by_name.get(str(n))
        if cands:
            j = cands.pop(0)
            used_pred.add(j)
            out.append((i, j, str(n)))
    out.sort()
    return out
