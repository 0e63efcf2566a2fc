"""The shipped models on the whole benchmark set: adenylate kinase in every form MDAnalysisTests
ships, and the YiiP membrane system (protein and lipids). None of it is ever trained on.

``benchmarks/peers.py`` compares herobm with peer tools on one structure per model (the adk
open crystal, its Cα trace, YiiP's lipids), as issue #7 measures. This script asks whether
those numbers hold on every other form of the benchmark set: the closed crystal, three
transition trajectories and an explicit-solvent MD run of adk, and the five frames of YiiP.

Distinct forms (MDAnalysisTests names; the other adk files repeat one of these coordinate sets:
CRD, PQR and NAMDBIN the open crystal, DMS the closed one, TPR+TRR the OPLS-AA run):

* ``open``: PDB_small, the open crystal (4AKE, CHARMM hydrogens), 1 frame;
* ``closed``: PDB_closed, the closed crystal (1AKE), 1 frame;
* ``dims``: PSF + DCD, a DIMS closed -> open transition (CHARMM, 98 frames);
* ``dims2``: PSF + DCD2, a second DIMS transition (102 frames);
* ``gbis``: PSF_NAMD_GBIS + DCD_NAMD_GBIS, a NAMD targeted-MD run in GB implicit solvent (100 frames);
* ``oplsaa``: GRO + XTC, GROMACS OPLS-AA MD in water (10 frames, protein only);
* ``yiip``: GRO_MEMPROT + XTC_MEMPROT, YiiP with 221 POPE / 55 POPG and zinc (5 frames).

Each is coarse-grained with ``herobm map`` (Martini 3, bead for bead what martinize2 writes;
and the ``ca`` mapping, the Cα trace), backmapped with the shipped model that ``herobm backmap``
picks, and scored with ``herobm evaluate`` against the all-atom frames (no superposition,
symmetric side-chain atoms matched; per-frame metrics are means over the frames, the KL
divergences pool the frames). Modes: ``raw`` (the networks' atoms: ``--no-optimize-backbone
--no-relax-backbone --no-fix-side-chains``), ``default`` (plain ``herobm backmap``) and, for single frames with
``--refine``, ``refined`` (``--hydrogens --minimize``). Of a trajectory, ``--frames`` frames
(default 10) are taken, evenly spaced from the first.

    python benchmarks/benchmark_set.py --work /tmp/bset --out docs/benchmark_set.md [--refine] [--frames 10]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import MDAnalysis as mda
import torch

from herobm.backmap import RAW_OUTPUT, backmap
from herobm.evaluate import evaluate
from herobm.mapper import map_structure


@dataclass(frozen=True)
class Form:
    name: str
    files: tuple[str, ...]  # MDAnalysisTests.datafiles names: topology [, trajectory]
    what: str


FORMS = (
    Form("open", ("PDB_small",), "open crystal (PDB_small)"),
    Form("closed", ("PDB_closed",), "closed crystal (PDB_closed)"),
    Form("dims", ("PSF", "DCD"), "DIMS transition (PSF + DCD)"),
    Form("dims2", ("PSF", "DCD2"), "DIMS transition (PSF + DCD2)"),
    Form("gbis", ("PSF_NAMD_GBIS", "DCD_NAMD_GBIS"), "NAMD TMD, GB implicit solvent"),
    Form("oplsaa", ("GRO", "XTC"), "GROMACS OPLS-AA MD in water (GRO + XTC)"),
    Form("yiip", ("GRO_MEMPROT", "XTC_MEMPROT"), "YiiP in POPE / POPG (GRO_MEMPROT + XTC_MEMPROT)"),
)
MODES = {"raw": RAW_OUTPUT, "default": {},
         "refined": dict(hydrogens=True, minimize=True)}
PROTEIN_KEYS = ("rmsd_heavy", "rmsd_backbone", "rmsd_sidechain", "chirality_errors", "clashes_2.0",
                "rama_outliers", "kl_phi_psi", "kl_chi1", "kl_chi2")


def _datafile(name: str) -> str:
    import MDAnalysisTests.datafiles as d

    return str(getattr(d, name))


def frames_of(n_frames: int, most: int) -> list[int]:
    """At most ``most`` frames of ``n_frames``, evenly spaced from the first."""
    return list(range(0, n_frames, max(1, n_frames // most)))[:most]


def reference(form: Form, folder: Path, most: int) -> tuple[Path, Path | None, int]:
    """The all-atom frames of a form (at most ``most``, evenly spaced; water left out): a PDB of
    the first and, for trajectories, a TRR (full precision) of them all. Returns (pdb, trr or None, frames)."""
    pdb, trr = folder / "ref.pdb", folder / "ref.trr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(*[_datafile(f) for f in form.files])
        atoms = u.select_atoms("not resname SOL WAT HOH TIP3 NA CL SOD CLA")
        frames = frames_of(len(u.trajectory), most)
        u.trajectory[frames[0]]
        if not pdb.exists():
            atoms.write(str(pdb))
        if len(frames) == 1:
            return pdb, None, 1
        if not trr.exists():
            with mda.Writer(str(trr), atoms.n_atoms) as w:
                for _ in u.trajectory[frames]:
                    w.write(atoms)
    return pdb, trr, len(frames)


def run_case(form: Form, mapping: str, mode: str, work: Path, most: int, log) -> dict:
    """CG input (cached), backmap in ``mode``, evaluate; the metrics with timings."""
    folder = work / f"{form.name}_{most}"
    folder.mkdir(parents=True, exist_ok=True)
    ref_pdb, ref_trr, n = reference(form, folder, most)
    cg, cg_traj = folder / f"cg_{mapping}.pdb", (folder / f"cg_{mapping}.trr" if ref_trr else None)
    if not cg.exists():
        map_structure(ref_pdb, mapping, cg, traj=str(ref_trr) if ref_trr else None,
                      traj_out=cg_traj, selection="protein" if mapping == "ca" else "all")
    out = folder / f"{mapping}_{mode}.pdb"
    out_traj = folder / f"{mapping}_{mode}.trr" if ref_trr else None
    t0 = time.time()
    rep = backmap(cg, None, out, traj=str(cg_traj) if cg_traj else None, traj_out=out_traj, **MODES[mode])
    t_backmap = time.time() - t0
    res = {"form": form.name, "mapping": mapping, "mode": mode, "frames": n, "models": list(rep.models),
           "backmap_s": round(t_backmap, 1)}
    traj_p, traj_r = (str(out_traj), str(ref_trr)) if ref_trr else (None, None)
    if form.name == "yiip" and mapping == "martini3":
        lip = evaluate(out, ref_pdb, traj_pred=traj_p, traj_ref=traj_r, selection="resname POPE POPG")
        res["lipids"] = {k: v for k, v in lip.metrics["rmsd_lipid_heavy"].items()}
    prot = evaluate(out, ref_pdb, traj_pred=traj_p, traj_ref=traj_r, selection="protein")
    res.update({k: prot.metrics[k] for k in PROTEIN_KEYS})
    res["n_atoms_compared"] = prot.metrics["n_atoms_compared"]
    res["n_atoms_missing"] = prot.metrics["n_atoms_missing"]
    log(f"{form.name:7s} {mapping:8s} {mode:8s} {n:3d} frame(s)  heavy {res['rmsd_heavy']:.3f}  "
        f"backbone {res['rmsd_backbone']:.3f}  chirality {res['chirality_errors']:.2f}  ({t_backmap:.0f} s)"
        + (f"  lipids {res['lipids']}" if "lipids" in res else ""))
    return res


def _f(v, digits=3) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}"


def report(results: list[dict], meta: dict) -> str:
    """Markdown: one table per mapping, one row per form and mode."""
    lines = ["# The shipped models on the whole benchmark set", "",
             "<!-- written by benchmarks/benchmark_set.py; do not edit by hand -->", "",
             f"Measured {meta['date']} on {meta['machine']} (`python benchmarks/benchmark_set.py "
             f"--frames {meta['frames']}{' --refine' if meta['refine'] else ''}`, {meta['git']}), "
             f"torch {meta['torch']}, {meta['device']}. Every form is coarse-grained with `herobm map` and "
             "backmapped with the model `herobm backmap` picks; scores are `herobm evaluate`'s against the "
             "all-atom frames (no superposition, symmetric side-chain atoms matched): RMSD, chirality errors, "
             "clashes under 2 Å and Ramachandran outliers are means over the frames, KL divergences pool them. "
             "raw: the networks' atoms (`--no-optimize-backbone --no-relax-backbone --no-fix-side-chains`); default: plain "
             "`herobm backmap`; refined: `--hydrogens --minimize`. See the script's docstring for the forms.", ""]
    for mapping, title in (("martini3", "Martini 3 CG (model `martini3-protein`; YiiP lipids `martini3-lipids`)"),
                           ("ca", "Cα trace (model `ca-protein`)")):
        rows = [r for r in results if r["mapping"] == mapping]
        if not rows:
            continue
        lines += [f"## {title}", "",
                  "| form | frames | mode | heavy Å | backbone Å | side chain Å | chirality errors | clashes < 2 Å "
                  "| Rama outliers | KL φ/ψ | KL χ1 | KL χ2 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['form']} | {r['frames']} | {r['mode']} | {_f(r['rmsd_heavy'])} | {_f(r['rmsd_backbone'])} "
                         f"| {_f(r['rmsd_sidechain'])} | {_f(r['chirality_errors'], 1)} | {_f(r['clashes_2.0'], 1)} "
                         f"| {_f(r['rama_outliers'])} | {_f(r['kl_phi_psi'], 2)} | {_f(r['kl_chi1'], 2)} "
                         f"| {_f(r['kl_chi2'], 2)} |")
        lines.append("")
    lip = [r for r in results if "lipids" in r]
    if lip:
        lines += ["## YiiP lipids (`rmsd_lipid_heavy`, mean over frames)", "", "| mode | frames | POPE Å | POPG Å |",
                  "|---|---|---|---|"]
        for r in lip:
            lines.append(f"| {r['mode']} | {r['frames']} | {_f(r['lipids'].get('POPE'))} | {_f(r['lipids'].get('POPG'))} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, help="folder for the inputs and outputs (cached CG inputs)")
    ap.add_argument("--out", help="markdown report (and .json beside it)")
    ap.add_argument("--frames", type=int, default=10, help="at most this many frames of a trajectory (default 10)")
    ap.add_argument("--refine", action="store_true", help="also --hydrogens --minimize on the single-frame forms")
    ap.add_argument("--forms", default=",".join(f.name for f in FORMS))
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    wanted = a.forms.split(",")
    results = []
    for form in FORMS:
        if form.name not in wanted:
            continue
        for mapping in ("martini3", "ca"):
            modes = ["raw", "default"] + (["refined"] if a.refine and len(form.files) == 1 else [])
            for mode in modes:
                results.append(run_case(form, mapping, mode, work, a.frames, print))
    if a.out:
        from peers import git_describe  # this folder's sibling script: one way to name the code measured

        git = git_describe()
        meta = {"date": datetime.date.today().isoformat(), "machine": f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} CPU(s)", "frames": a.frames, "refine": a.refine, "git": git,
                "torch": torch.__version__, "device": "CUDA" if torch.cuda.is_available() else "CPU"}
        Path(a.out).write_text(report(results, meta) + "\n")
        Path(a.out).with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
