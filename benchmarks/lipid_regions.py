"""Where in a phospholipid the backmapping error sits: heavy-atom RMSD (Å) per region.

Regions of a CHARMM36 phospholipid (POPC, POPE, POPG, DOPC, ...), by atom name:

* ``head``: phosphate and head group (P, O11-O14, the choline / ethanolamine / glycerol
  head atoms C11-C15, N, OC2, OC3);
* ``glycerol``: glycerol backbone and ester groups (C1, C2, C3, O21, O22, C21, O31, O32, C31);
* ``sn2`` / ``sn1``: the acyl chain carbons C22... / C32...

For each prediction, per lipid type: the RMSD of each region, its share of the lipid's
mean squared deviation (the shares add up to the squared ``rmsd_lipid_heavy``), and the
atoms with the largest error. Atoms are matched by (residue id, residue name, atom name),
no superposition, minimum image in the reference box, as ``herobm evaluate`` does for
lipids. Written for the YiiP comparison of docs/models.md (herobm against memback on
``benchmarks/peers.py``'s membrane input), usable on any prediction/reference pair.

usage: python benchmarks/lipid_regions.py REF PRED [PRED ...] [--resnames POPE POPG] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from collections import Counter
from pathlib import Path

import MDAnalysis as mda

from herobm.metrics.lipids import per_type_rmsd

REGIONS = ("head", "glycerol", "sn2", "sn1")
GLYCEROL = frozenset({"C1", "C2", "C3", "O21", "O22", "C21", "O31", "O32", "C31"})


def region_of(name: str) -> str:
    """Region of a CHARMM36 phospholipid heavy atom (see the module docstring)."""
    if name in GLYCEROL:
        return "glycerol"
    m = re.fullmatch(r"C([23])(\d+)", name)
    if m and int(m.group(2)) >= 2:
        return "sn2" if m.group(1) == "2" else "sn1"
    return "head"


def match_atoms(ref: mda.Universe, pred: mda.Universe, resnames: list[str]):
    """Reference heavy atoms of ``resnames`` and their partners in the prediction, matched by
    (residue id, residue name, atom name): (pred xyz, ref xyz, residue names, atom names, ref box).
    A reference atom missing from the prediction is an error naming it."""
    index = {(int(a.resid), str(a.resname)[:4], str(a.name)): i for i, a in enumerate(pred.atoms)}
    atoms = ref.select_atoms(f"resname {' '.join(resnames)} and not name H*")
    if len(atoms) == 0:
        raise SystemExit(f"no heavy atoms of {', '.join(resnames)} in the reference")
    keys = [(int(a.resid), str(a.resname), str(a.name)) for a in atoms]
    missing = [k for k in keys if k not in index]
    if missing:
        raise SystemExit(f"{len(missing)} reference atom(s) missing from the prediction, e.g. "
                         f"{missing[0][1]} {missing[0][0]} {missing[0][2]}")
    return (pred.atoms.positions[[index[k] for k in keys]], atoms.positions,
            [k[1] for k in keys], [k[2] for k in keys], ref.dimensions)


def summarise(pred, ref, resnames, names, box=None, worst: int = 6) -> dict:
    """Per lipid type: total RMSD (Å), per-region RMSD and share of the mean squared deviation
    (Å²), and the ``worst`` atom names with their RMSD; RMSDs from
    :func:`herobm.metrics.lipids.per_type_rmsd` with residue/region/atom labels."""
    regions = [f"{rn}|{region_of(n)}" for rn, n in zip(resnames, names)]
    total = per_type_rmsd(pred, ref, resnames, box)
    by_region = per_type_rmsd(pred, ref, regions, box)
    by_atom = per_type_rmsd(pred, ref, [f"{rn}|{n}" for rn, n in zip(resnames, names)], box)
    count = Counter(regions)
    out = {}
    for rn, rmsd in total.items():
        n_total = sum(1 for r in resnames if r == rn)
        reg = {}
        for region in REGIONS:
            lab = f"{rn}|{region}"
            if lab in by_region:
                reg[region] = {"atoms": count[lab], "rmsd": by_region[lab],
                               "msd_share": by_region[lab] ** 2 * count[lab] / n_total}
        atoms = sorted(((x, lab.split("|", 1)[1]) for lab, x in by_atom.items() if lab.split("|", 1)[0] == rn),
                       reverse=True)
        out[rn] = {"rmsd": rmsd, "regions": reg, "worst": [(name, round(x, 3)) for x, name in atoms[:worst]]}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ref")
    p.add_argument("pred", nargs="+")
    p.add_argument("--resnames", nargs="+", default=["POPE", "POPG"])
    p.add_argument("--json", help="write every number here")
    a = p.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mda.Universe(a.ref)
        results = {pred: summarise(*match_atoms(ref, mda.Universe(pred), a.resnames)) for pred in a.pred}
    print("| prediction | lipid | rmsd | " + " | ".join(f"{r} rmsd (msd share)" for r in REGIONS) + " | worst atoms |")
    print("|---|---|---|" + "---|" * len(REGIONS) + "---|")
    for pred, res in results.items():
        for rn, s in res.items():
            cells = [f"{s['regions'][r]['rmsd']:.3f} ({s['regions'][r]['msd_share']:.3f})" if r in s["regions"] else "-"
                     for r in REGIONS]
            worst = ", ".join(f"{n} {x:.2f}" for n, x in s["worst"])
            print(f"| {Path(pred).name} | {rn} | {s['rmsd']:.3f} | " + " | ".join(cells) + f" | {worst} |")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
