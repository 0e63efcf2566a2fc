"""herobm beside peer backmapping tools, on the same inputs, judged by herobm's evaluator.

Three comparisons (``--only``), each on one input made here from MDAnalysisTests files:

* ``protein``: Martini 3 adenylate kinase (``PDB_small``, CG by martinize2) ->
  herobm, the MeanVectorBaseline, CG2AT2 (fragments + GROMACS EM/NVT);
* ``ca``: the Cα trace of the same protein -> herobm, the baseline, cgback, pulchra;
* ``membrane``: Martini 3 POPE/POPG of the YiiP bilayer (``GRO_MEMPROT``, CG by
  ``herobm map``) -> herobm, the baseline, memback.

Every tool runs as its own subprocess (wall time around it, peak RSS by GNU time, which
includes the descendants the tool waits for, e.g. ``gmx``), with one thread
(``OMP_NUM_THREADS=1``...). Outputs are cached under ``--work``: a rerun only runs what
is missing, a herobm row reruns when its checkpoint changes, ``--force [TOOLS]`` redoes.
Evaluation (:func:`herobm.evaluate.evaluate`) is always redone, so every row is judged by
the same evaluator. Peers come from a separate virtual environment (``--peers-venv``,
see the peers section of the written report for how it was made).

usage: python benchmarks/peers.py --work DIR [--only protein,ca,membrane]
           [--model-martini3 CKPT] [--model-ca CKPT] [--model-lipids CKPT]
           [--baseline-dataset-martini3 DIR] [--baseline-dataset-ca DIR] [--baseline-dataset-lipids DIR]
           [--force [TOOLS]] --out docs/benchmarks_peers.md
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "GMX_MAXBACKUP": "-1"}
COMPARISONS = ("protein", "ca", "membrane")
LIPID_SELECTION = "resname POPE POPG"
TABLE_KEYS = ("rmsd_heavy", "rmsd_backbone", "rmsd_sidechain", "bond_rmsd", "angle_rmsd_deg", "clashes_2.0",
              "clashes_2.5", "chirality_errors", "cis_peptides", "rama_outliers", "kl_phi_psi", "kl_chi1", "kl_chi2",
              "n_atoms_compared", "n_atoms_missing")
MEMBRANE_KEYS = ("rmsd_lipid_heavy", "rdf_lipid", "rmsd_heavy", "bond_rmsd", "angle_rmsd_deg", "clashes_2.0",
                 "clashes_2.5", "chirality_errors", "n_atoms_compared", "n_atoms_missing")


# ------------------------------------------------------------------ subprocesses
@dataclass
class RunResult:
    """One timed subprocess: command, exit code, wall time (s), peak RSS (MiB)."""

    cmd: list[str]
    rc: int
    wall_s: float
    peak_rss_mib: float
    log: str

    def to_json(self) -> dict:
        return {"cmd": self.cmd, "rc": self.rc, "wall_s": self.wall_s, "peak_rss_mib": self.peak_rss_mib,
                "log": self.log}


def timed_run(cmd: list[str], cwd: Path, log: Path) -> RunResult:
    """Run ``cmd`` in ``cwd`` with one thread; stdout+stderr to ``log``.

    Peak RSS comes from GNU time (``/usr/bin/time -f %M``): the largest ``ru_maxrss`` of
    the tool and of the descendants it waits for (e.g. ``gmx``). Not ``wait4`` from here:
    Linux carries the parent's high-water RSS over ``fork``/``exec``, so a child of this
    (large) Python process would report at least this process's RSS."""
    env = dict(os.environ, **THREAD_ENV)
    cwd.mkdir(parents=True, exist_ok=True)
    rss_file = cwd / ".peak_rss_kib"
    gnu_time = Path("/usr/bin/time")
    full = [str(gnu_time), "-f", "%M", "-o", str(rss_file), *cmd] if gnu_time.exists() else list(cmd)
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.run(full, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    peak = float("nan")
    if rss_file.exists():
        lines = [ln for ln in rss_file.read_text().split() if ln.isdigit()]
        peak = int(lines[-1]) / 1024 if lines else peak
    return RunResult([str(c) for c in cmd], proc.returncode, round(wall, 2), round(peak, 1), str(log))


def capture(cmd: list[str]) -> str:
    """First line of a version command's output, or why it failed."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, **THREAD_ENV))
        text = (out.stdout + out.stderr).strip()
        if out.returncode != 0:  # e.g. a traceback: its last line says why
            return f"unavailable (rc {out.returncode}: {text.splitlines()[-1] if text else 'no output'})"
        return text.splitlines()[0] if text else "(no output)"
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__}: {e})"


def pkg_version(python: Path | str, package: str) -> str:
    return capture([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"])


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------ inputs
@dataclass
class Inputs:
    """Files every tool of a comparison gets (all under WORK/inputs)."""

    aa_protein: Path  # adenylate kinase, all-atom reference (PDB_small)
    cg_protein: Path  # martinize2 output
    cg_protein_box: Path  # the same with a CRYST1 line (CG2AT2)
    ca_trace: Path
    aa_membrane: Path  # YiiP system, all-atom reference (GRO_MEMPROT)
    cg_membrane: Path  # herobm map of its POPE/POPG (martini3 set: lipid beads at centres of geometry, H included)
    commands: dict = field(default_factory=dict)


def _bin(name: str, *venvs: Path) -> str:
    for v in venvs:
        p = v / "bin" / name
        if p.exists():
            return str(p)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"Error: {name} not found in {', '.join(map(str, venvs))} or PATH")
    return found


def add_box(pdb_in: Path, pdb_out: Path, padding: float = 15.0) -> float:
    """Write ``pdb_in`` with a cubic CRYST1 box: the largest extent plus ``padding`` Å on each side."""
    lines = [ln for ln in pdb_in.read_text().splitlines(True) if ln.startswith(("ATOM", "HETATM"))]
    x = np.array([[float(ln[30:38]), float(ln[38:46]), float(ln[46:54])] for ln in lines])
    edge = float(np.ceil((x.max(0) - x.min(0)).max() + 2 * padding))
    cryst = f"CRYST1{edge:9.3f}{edge:9.3f}{edge:9.3f}{90:7.2f}{90:7.2f}{90:7.2f} P 1           1\n"
    pdb_out.write_text(cryst + "".join(lines) + "END\n")
    return edge


def ca_trace(pdb_in: Path, pdb_out: Path) -> int:
    """The CA lines of ``pdb_in`` with HSD/HSE/HSP renamed HIS, then END."""
    out = []
    for ln in pdb_in.read_text().splitlines(True):
        if ln.startswith("ATOM") and ln[12:16].strip() == "CA":
            res = ln[17:20]
            out.append(ln[:17] + ("HIS" if res in ("HSD", "HSE", "HSP") else res) + ln[20:])
    pdb_out.write_text("".join(out) + "END\n")
    return len(out)


def make_inputs(work: Path, peers_venv: Path, log: Callable[[str], None]) -> Inputs:
    from MDAnalysisTests.datafiles import GRO_MEMPROT, PDB_small

    d = work / "inputs"
    d.mkdir(parents=True, exist_ok=True)
    here = Path(sys.executable).parent.parent
    inp = Inputs(d / "adk.pdb", d / "adk_cg.pdb", d / "adk_cg_box.pdb", d / "adk_ca.pdb", d / "yiip.gro",
                 d / "memb_cg.gro")
    if not inp.aa_protein.exists():
        shutil.copy(PDB_small, inp.aa_protein)
    # the peers' environment first: it has mdtraj, which martinize2 -dssp needs (herobm's need not)
    martinize = [_bin("martinize2", peers_venv, here), "-f", "adk.pdb", "-x", "adk_cg.pdb", "-o", "topol.top",
                 "-ff", "martini3001", "-dssp"]
    inp.commands["martinize2"] = shlex.join(["martinize2"] + martinize[1:])
    if not inp.cg_protein.exists():
        log("inputs: martinize2")
        r = timed_run(martinize, d, d / "martinize2.log")
        if r.rc != 0 or not inp.cg_protein.exists():
            raise SystemExit(f"Error: martinize2 failed (rc {r.rc}), see {r.log}")
    edge = add_box(inp.cg_protein, inp.cg_protein_box)
    inp.commands["box"] = f"adk_cg.pdb + 'CRYST1 {edge:.3f} {edge:.3f} {edge:.3f} 90 90 90' -> adk_cg_box.pdb"
    n = ca_trace(inp.aa_protein, inp.ca_trace)
    inp.commands["ca_trace"] = f"CA lines of adk.pdb ({n}), HSD->HIS, END -> adk_ca.pdb"
    if not inp.aa_membrane.exists():
        with gzip.open(GRO_MEMPROT, "rb") as f:
            inp.aa_membrane.write_bytes(f.read())
    hmap = [_bin("herobm", here), "map", "yiip.gro", "-m", "martini3", "-o", "memb_cg.gro",
            "--selection", LIPID_SELECTION]
    inp.commands["herobm map"] = shlex.join(["herobm"] + hmap[1:])
    log("inputs: herobm map (membrane)")  # always: the mapping set may have changed (seconds)
    inp.cg_membrane.unlink(missing_ok=True)
    r = timed_run(hmap, d, d / "herobm_map.log")
    if r.rc != 0 or not inp.cg_membrane.exists():
        raise SystemExit(f"Error: herobm map failed (rc {r.rc}), see {r.log}")
    return inp


# ------------------------------------------------------------------ output fix-ups
def renumber_like(pred: Path, template_pdb: Path, out: Path) -> str:
    """Write ``pred`` with the residues renumbered (and chain set) as in ``template_pdb``,
    by position; the residue-name sequences (HSD/HIS... folded) must agree."""
    import MDAnalysis as mda

    from herobm.metrics.matching import canonical_resname

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(pred))
        t = mda.Universe(str(template_pdb))
    prot_p = u.select_atoms("not resname SOL WAT HOH TIP3 NA CL SOD CLA POT K")
    rp, rt = prot_p.residues, t.residues
    sp = [canonical_resname(r) for r in rp.resnames]
    st = [canonical_resname(r) for r in rt.resnames]
    if sp != st:
        raise ValueError(f"{pred}: {len(sp)} residues do not match {template_pdb} ({len(st)}) by name")
    shift = int(rt.resids[0] - rp.resids[0])
    rp.resids = rt.resids
    if not hasattr(u.atoms, "chainIDs"):
        u.add_TopologyAttr("chainIDs")
    prot_p.chainIDs = "A"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prot_p.write(str(out))
    return f"renumbered {len(rp)} residues by position (resid shift {shift:+d}), chain A"


# ------------------------------------------------------------------ tools
@dataclass
class Tool:
    """One row of a comparison table."""

    name: str
    kind: str  # "herobm" | "baseline" | "peer"
    version: str = ""
    cmd: list[str] | None = None  # None: not run (reason in skip)
    display_cmd: str = ""
    output: str = ""  # file the tool writes, relative to its folder ("" = found by find_output)
    find_output: Callable[[Path], Path | None] | None = None
    # (raw output, folder) -> (file to evaluate, note)
    postprocess: Callable[[Path, Path], tuple[Path, str]] | None = None
    fit: bool = False  # superpose before evaluating (reported)
    cache_key: str = ""  # rerun when this changes (model checksum, dataset path)
    skip: str = ""
    notes: list[str] = field(default_factory=list)


def _self_cmd(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def herobm_tool(model: str | None, cg_input: Path, output: str, folder: Path, refine: bool = False,
                bead_fit: bool = False, defaults: bool = False) -> Tool:
    """``herobm backmap``: the raw network output (``--no-optimize-backbone --no-relax-backbone --no-fix-side-chains``),
    or with ``defaults`` as a plain call runs it (the model's recommended backbone optimisation,
    else the backbone relaxation), or with ``refine`` ``--hydrogens --minimize`` (defaults
    otherwise: restraint, backbone)."""
    from importlib.metadata import version

    from herobm.backmap import DEFAULT_RESTRAINT

    name = "herobm --hydrogens --minimize" if refine else "herobm (defaults)" if defaults else "herobm (raw network output)"
    if bead_fit:
        name = "herobm --bead-fit" + (" --hydrogens --minimize" if refine else "" if defaults else " (raw)")
    t = Tool(name, "herobm", version=f"herobm {version('herobm')} ({git_describe()})", output=output)
    if not model:
        t.skip = "not run: no model given"
        return t
    if not Path(model).exists():
        t.skip = f"not run: model {model} does not exist"
        return t
    folder.mkdir(parents=True, exist_ok=True)
    key = sha256(Path(model))
    copy = folder / "model.pt"
    if not copy.exists() or sha256(copy) != key:  # copy first: the checkpoint may be overwritten by training
        shutil.copy(model, copy)
    mode = ("refine" if refine else "default" if defaults else "raw") + ("+fit" if bead_fit else "")
    t.cache_key = (f"model sha256 {key} {mode}" + (f" restraint {DEFAULT_RESTRAINT:g}, backbone as the model asks"
                                                    if refine else "")
                   + ("" if mode.startswith("raw") else ", backbone relaxed where not optimised, side chains fixed"))
    t.cmd = _self_cmd("_herobm", str(cg_input), str(copy), output, mode)
    flags = ((" --bead-fit" if bead_fit else "") + (" --hydrogens --minimize" if refine else "")
             + ("" if refine or defaults else " --no-optimize-backbone --no-relax-backbone --no-fix-side-chains"))
    t.display_cmd = f"herobm backmap {cg_input.name} --model MODEL.pt -o {output}{flags}"
    t.notes.append(f"model: {model} (sha256 {key[:12]}), copied before use")
    return t


def baseline_tool(dataset: str | None, cg_input: Path, output: str, max_frames: int) -> Tool:
    t = Tool("MeanVectorBaseline", "baseline", version="herobm.baseline (non-learned)", output=output)
    if not dataset:
        t.skip = "not run: no dataset given"
        return t
    if not Path(dataset, "dataset.json").exists():
        t.skip = f"not run: {dataset} is not a herobm dataset (no dataset.json)"
        return t
    t.cache_key = f"dataset {Path(dataset).resolve()} ({max_frames} frames)"
    t.cmd = _self_cmd("_baseline", dataset, str(cg_input), output, str(max_frames))
    t.display_cmd = (f"fit MeanVectorBaseline on the train split of {dataset} (<= {max_frames} frames), then "
                     f"herobm.backmap.backmap_with_predictor({cg_input.name}, ..., {output})")
    return t


def peer_tool(name: str, version: str, exe: str, args: list[str], output: str, **kw) -> Tool:
    t = Tool(name, "peer", version=version, output=output, **kw)
    if not Path(exe).exists() and not shutil.which(exe):
        t.skip = f"not installed: {exe} not found"
        return t
    t.cmd = [exe, *args]
    t.display_cmd = shlex.join([Path(exe).name, *args])
    return t


def _cg2at_output(folder: Path) -> Path | None:
    final = folder / "run" / "FINAL"
    for name in ("final_cg2at_de_novo.pdb", "final_cg2at_de_novo.gro"):
        if (final / name).exists():
            return final / name
    hits = sorted(final.glob("*de_novo*.pdb")) if final.exists() else []
    return hits[0] if hits else None


def _memback_output(folder: Path) -> Path | None:
    out = folder / "out"
    if not out.exists():
        return None
    for ext in ("*.gro", "*.pdb"):
        hits = sorted(out.rglob(ext))
        if hits:
            return hits[0]
    return None


def build_tools(comparison: str, inp: Inputs, work: Path, a, peer_py: Path, peer_bin: Path) -> tuple[list[Tool], dict]:
    """Tools of one comparison and its evaluation settings."""
    d = work / comparison
    gmx = shutil.which("gmx") or ""
    if comparison == "protein":
        tools = [
            herobm_tool(a.model_martini3, inp.cg_protein, "herobm.pdb", d / "herobm"),
            herobm_tool(a.model_martini3, inp.cg_protein, "herobm_def.pdb", d / "herobm_def", defaults=True),
            herobm_tool(a.model_martini3, inp.cg_protein, "herobm_min.pdb", d / "herobm_min", refine=True),
            # martinize2 of a PDB entry without hydrogens: the bead fit is exact here (docs/backmap.md)
            herobm_tool(a.model_martini3, inp.cg_protein, "herobm_fit.pdb", d / "herobm_fit", bead_fit=True,
                        defaults=True),
            herobm_tool(a.model_martini3, inp.cg_protein, "herobm_fit_min.pdb", d / "herobm_fit_min", refine=True,
                        bead_fit=True),
            baseline_tool(a.baseline_dataset_martini3, inp.cg_protein, "baseline.pdb", a.baseline_max_frames),
        ]
        cg2at = peer_tool(
            "CG2AT2", f"cg2at2 {pkg_version(peer_py, 'cg2at2')}, GROMACS {gmx_version()}",
            str(peer_bin / "cg2at"),
            ["-c", str(inp.cg_protein_box), "-fg", "martini_3-0_charmm36", "-ff", "charmm36-cg2at", "-w", "TIP3P",
             "-o", "de_novo", "-silent", "-loc", "run"],
            "", find_output=_cg2at_output, fit=True,
            postprocess=lambda raw, folder: (folder / "cg2at2_renumbered.pdb",
                                             renumber_like(raw, inp.aa_protein, folder / "cg2at2_renumbered.pdb")),
        )
        if not gmx and not cg2at.skip:
            cg2at.skip, cg2at.cmd = "not run: gmx (GROMACS) not found; apt-get install -y gromacs", None
        cg2at.notes.append("stochastic (GROMACS NVT, no seed option): each run gives other numbers; docs/models.md "
                           "lists the runs of every session")
        cg2at.notes.append("input adk_cg_box.pdb (martinize2 output + CRYST1); output shifted into the box and "
                           "renumbered from 0: renumbered by position and superposed (Kabsch) before comparing")
        tools.append(cg2at)
        return tools, {"ref": inp.aa_protein, "selection": None, "keys": TABLE_KEYS, "input": inp.cg_protein}
    if comparison == "ca":
        tools = [
            herobm_tool(a.model_ca, inp.ca_trace, "herobm.pdb", d / "herobm"),
            # a plain `herobm backmap`: the backbone relaxation with Cα held (docs/backmap.md)
            herobm_tool(a.model_ca, inp.ca_trace, "herobm_ob.pdb", d / "herobm_ob", defaults=True),
            herobm_tool(a.model_ca, inp.ca_trace, "herobm_min.pdb", d / "herobm_min", refine=True),
            baseline_tool(a.baseline_dataset_ca, inp.ca_trace, "baseline.pdb", a.baseline_max_frames),
            peer_tool("cgback", f"cgback {pkg_version(peer_py, 'cgback')}", str(peer_bin / "cgback"),
                      [str(inp.ca_trace), "-o", "cgback.pdb", "-d", "cpu"], "cgback.pdb"),
            peer_tool("pulchra", f"pulchra {pkg_version(peer_py, 'pulchra')} (PyPI)", str(peer_bin / "pulchra"),
                      [str(inp.ca_trace), "-O", "pulchra.pdb"], "pulchra.pdb"),
        ]
        tools[4].notes.append("defaults: model M, DDPM, seed 42, no OpenMM minimisation (-e not given)")
        return tools, {"ref": inp.aa_protein, "selection": None, "keys": TABLE_KEYS, "input": inp.ca_trace}
    tools = [
        herobm_tool(a.model_lipids, inp.cg_membrane, "herobm.gro", d / "herobm"),
        herobm_tool(a.model_lipids, inp.cg_membrane, "herobm_min.pdb", d / "herobm_min", refine=True),
        baseline_tool(a.baseline_dataset_lipids, inp.cg_membrane, "baseline.gro", a.baseline_max_frames),
        peer_tool("memback", f"memback {pkg_version(peer_py, 'memback')}", str(peer_bin / "memback"),
                  [str(inp.cg_membrane), "-o", "out", "--device", "cpu"], "", find_output=_memback_output),
    ]
    tools[3].notes.append("same CG input as herobm: bead centres are centres of geometry including hydrogens "
                          "(the martini3 set's lipid files; memback's training convention)")
    return tools, {"ref": inp.aa_membrane, "selection": LIPID_SELECTION, "keys": MEMBRANE_KEYS,
                   "input": inp.cg_membrane}


_GIT = None


def gmx_version() -> str:
    """'2022.5-Debian_2022.5_2' from ':-) GROMACS - gmx, 2022.5-Debian_2022.5_2 (-:'."""
    if not shutil.which("gmx"):
        return "not installed"
    line = capture(["gmx", "--version"])
    return line.split(",")[-1].replace("(-:", "").strip() if "," in line else line


def git_describe() -> str:
    global _GIT
    if _GIT is None:
        root = Path(__file__).resolve().parent.parent
        sha = capture(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True).stdout.strip()
        _GIT = f"git {sha}{' + uncommitted changes in src/' if dirty else ''}"
    return _GIT


# ------------------------------------------------------------------ running + evaluating
def run_tool(t: Tool, folder: Path, force: bool, log: Callable[[str], None]) -> dict:
    """Run (or reuse) one tool; returns its run record."""
    record_path = folder / "run.json"
    if t.cmd is None:
        return {"status": t.skip}
    folder.mkdir(parents=True, exist_ok=True)
    if record_path.exists() and not force:
        rec = json.loads(record_path.read_text())
        out = rec.get("output")
        if rec.get("cache_key", "") == t.cache_key and rec.get("status") == "ok" and out and Path(out).exists():
            rec["cached"] = True
            return rec
    for old in folder.iterdir():  # a fresh folder: e.g. CG2AT2 resumes a run found in its -loc folder
        if old.name != "model.pt":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    log(f"running {t.name}: {t.display_cmd}")
    r = timed_run(t.cmd, folder, folder / "log.txt")
    out = (folder / t.output) if t.output else (t.find_output(folder) if t.find_output else None)
    ok = r.rc == 0 and out is not None and out.exists() and out.stat().st_size > 0
    rec = {**r.to_json(), "cache_key": t.cache_key, "output": str(out) if ok else None, "version": t.version,
           "date": datetime.datetime.now().isoformat(timespec="seconds"),
           "status": "ok" if ok else f"failed: exit code {r.rc}{'' if r.rc else ', no output file'}; "
                                     f"last log line: {_last_line(folder / 'log.txt')}"}
    record_path.write_text(json.dumps(rec, indent=1))
    log(f"  {t.name}: {rec['status']}, {r.wall_s} s, {r.peak_rss_mib} MiB")
    return rec


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "(empty)"


def evaluate_output(pred: Path, ref: Path, selection: str | None, fit: bool) -> tuple[dict, list[str]]:
    from herobm.evaluate import DEFAULT_SELECTION, evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluate(str(pred), str(ref), selection=selection or DEFAULT_SELECTION, fit=fit)
    notes = [ln for ln in res.summary().splitlines() if ln.startswith("note")]
    return res.metrics, notes


def run_comparison(comparison: str, inp: Inputs, work: Path, a, peer_py: Path, peer_bin: Path, force: set[str],
                   log: Callable[[str], None]) -> dict:
    tools, spec = build_tools(comparison, inp, work, a, peer_py, peer_bin)
    input_key = f"; input sha256 {sha256(spec['input'])[:16]}"  # a changed input reruns every tool
    rows = []
    for t in tools:
        t.cache_key += input_key
        folder = work / comparison / t.name.lower().replace(" ", "_").replace("(", "").replace(")", "")
        rec = run_tool(t, folder, bool(force & {"all", t.name.lower(), folder.name, t.kind}), log)
        row = {"tool": t.name, "kind": t.kind, "version": rec.get("version", t.version),  # a cached run: its own
               "command": t.display_cmd, "fit": t.fit,
               "notes": list(t.notes), "run": rec, "metrics": None, "metrics_fitted": None}
        if rec.get("status") == "ok":
            raw = Path(rec["output"])
            pred = raw
            try:
                if t.postprocess is not None:
                    pred, note = t.postprocess(raw, folder)
                    row["notes"].append(note)
                row["evaluated_file"] = str(pred)
                row["metrics"], row["eval_notes"] = evaluate_output(pred, spec["ref"], spec["selection"], t.fit)
                if comparison != "membrane":  # the same superposed, for every protein tool (like for like)
                    row["metrics_fitted"], _ = evaluate_output(pred, spec["ref"], spec["selection"], True)
                if t.fit:
                    row["metrics_unfitted"], _ = evaluate_output(pred, spec["ref"], spec["selection"], False)
                nan = [k for k, v in row["metrics"].items() if isinstance(v, float) and not np.isfinite(v)]
                if nan:
                    row["notes"].append(f"evaluator returned NaN for {', '.join(nan)} (e.g. coincident predicted "
                                        "atoms: a zero-length bond has no angle)")
            except Exception as e:  # noqa: BLE001 - an evaluation failure is a row, not a crash
                row["status"] = f"evaluation failed: {e.__class__.__name__}: {e}"
        if t.kind == "baseline" and rec.get("log") and Path(rec["log"]).exists():
            row["notes"] += [ln.strip() for ln in Path(rec["log"]).read_text().splitlines()
                             if ln.startswith("fitted on")]
        row.setdefault("status", rec.get("status"))
        rows.append(row)
        log(f"{comparison}/{t.name}: {row['status']}"
            + (f", rmsd_heavy {row['metrics'].get('rmsd_heavy')}" if row["metrics"] else ""))
    return {"comparison": comparison, "input": str(spec["input"]), "reference": str(spec["ref"]),
            "selection": spec["selection"] or "evaluator default (everything but water)", "rows": rows,
            "keys": list(spec["keys"])}


# ------------------------------------------------------------------ report
TITLES = {
    "protein": "Martini 3 protein: adenylate kinase (PDB_small, 214 residues), CG by martinize2",
    "ca": "Cα trace: adenylate kinase (PDB_small, 214 residues)",
    "membrane": "Martini 3 membrane: YiiP bilayer lipids (GRO_MEMPROT, 221 POPE + 55 POPG)",
}
SHORT = {"rmsd_heavy": "heavy", "rmsd_backbone": "backbone", "rmsd_sidechain": "side chain", "bond_rmsd": "bonds",
         "angle_rmsd_deg": "angles (°)", "clashes_2.0": "clashes <2.0", "clashes_2.5": "clashes <2.5",
         "chirality_errors": "chirality", "cis_peptides": "cis", "rama_outliers": "Rama out",
         "kl_phi_psi": "KL φψ", "kl_chi1": "KL χ1", "kl_chi2": "KL χ2", "n_atoms_compared": "atoms",
         "n_atoms_missing": "missing", "rmsd_lipid_heavy": "lipid heavy (Å)", "rdf_lipid": "RDF ∫abs(Δg) (Å)"}


def fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and not np.isfinite(v):
        return "NaN"
    if isinstance(v, dict):
        return ", ".join(f"{k} {fmt(x)}" for k, x in v.items()) or "n/a"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def table(comp: dict) -> list[str]:
    keys = comp["keys"]
    protein = comp["comparison"] != "membrane"
    head = ["tool", "status"] + [SHORT[k] for k in keys]
    if protein:
        head += ["heavy, fitted"]
    head += ["wall (s)", "peak RSS (MiB)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in comp["rows"]:
        m = r["metrics"] or {}
        status = "ok" if r["status"] == "ok" else r["status"]
        if r["status"] == "ok" and r["fit"]:
            status = "ok, **fitted** (Kabsch) + renumbered"
        if r["status"] == "ok" and r["run"].get("cached"):
            status += " (cached run)"
        cells = [r["tool"], status] + [fmt(m.get(k)) if m else "—" for k in keys]
        if protein:
            cells.append(fmt((r["metrics_fitted"] or {}).get("rmsd_heavy")) if r["metrics_fitted"] else "—")
        run = r["run"]
        cells += [f"{run['wall_s']:.1f}" if "wall_s" in run else "—",
                  f"{run['peak_rss_mib']:.0f}" if "peak_rss_mib" in run else "—"]
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return out


def write_report(path: Path, results: list[dict], meta: dict) -> None:
    L = ["# herobm beside peer backmapping tools", "",
         f"Made by `benchmarks/peers.py` on {meta['date']}; machine: {meta['machine']}. Every tool ran as its own "
         f"subprocess with one thread ({', '.join(f'{k}={v}' for k, v in THREAD_ENV.items() if 'THREADS' in k)}); "
         "wall time is measured around the subprocess (so it includes starting the interpreter and imports: "
         "about 4 s for `import herobm.backmap` here), peak RSS by GNU time (`/usr/bin/time -f %M`: the largest "
         "resident set of the tool and of the child processes it waits for, e.g. `gmx`). "
         "All numbers are from herobm's evaluator (docs/evaluate.md): heavy atoms only, **no superposition** "
         "unless the status says *fitted*; Å unless marked. The column *heavy, fitted* is the heavy-atom RMSD "
         "after a Kabsch superposition, for every protein tool alike. The JSON next to this file has every "
         "evaluator key (with `_std`), the unfitted numbers of fitted rows, the evaluator notes and the logs.", "",
         f"Command: `{meta['command']}`", "",
         "Versions: " + "; ".join(f"{k} {v}" for k, v in meta["versions"].items()), ""]
    for comp in results:
        c = comp["comparison"]
        L += [f"## {TITLES[c]}", ""]
        made = comp.get("made_by") or {}
        if made.get("command") and made["command"] != meta["command"]:
            L += [f"Kept from an earlier run: made on {made['date']} by `{made['command']}`; versions: "
                  + "; ".join(f"{k} {v}" for k, v in (made.get("versions") or {}).items()) + ".", ""]
        L += [f"Input: `{Path(comp['input']).name}`; reference: `{Path(comp['reference']).name}`; "
              f"selection: {comp['selection']}.", ""]
        L += table(comp)
        L += ["", "Tools and exact commands (run in WORK/" + c + "/TOOL/):", ""]
        for r in comp["rows"]:
            line = f"* **{r['tool']}** ({r['version']}{', run ' + r['run']['date'] if 'date' in r['run'] else ''}): "
            line += f"`{r['command']}`" if r["command"] else r["status"]
            notes = r["notes"] + [n.removeprefix("note: ") for n in r.get("eval_notes") or []
                                  if "missing" in n or "paired by resid" in n]
            if notes:
                line += ". " + "; ".join(notes)
            L.append(line)
        L.append("")
    L += ["## Inputs", ""] + [f"* {k}: `{v}`" for k, v in meta["input_commands"].items()] + [""]
    L += ["## Peer environment", "", "```", *meta["peer_install"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L))


PEER_INSTALL = [
    "python3 -m venv /work/peers-venv && /work/peers-venv/bin/pip install torch==2.13.0",
    "/work/peers-venv/bin/pip install MDAnalysis MDAnalysisTests mdtraj vermouth==0.15.0 cgback==1.1.1 "
    "pulchra==1.0.1 memback==1.0.0 cg2at2==1.0.2",
    "apt-get update && apt-get install -y --no-install-recommends gromacs   # gmx for CG2AT2",
]


def _finite(obj):
    """The report with NaN/inf (e.g. an angle at coincident atoms) written as the string "NaN": valid JSON."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return "NaN"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# ------------------------------------------------------------------ internal subprocess entry points
def _run_herobm(cg_input: str, model: str, output: str, mode: str = "raw") -> None:
    from herobm.backmap import RAW_OUTPUT, backmap

    refine = mode.startswith("refine")
    raw = RAW_OUTPUT if mode.startswith("raw") else {}  # the network output only
    rep = backmap(cg_input, model, output, hydrogens=refine, minimize=refine, bead_fit=mode.endswith("+fit"), **raw)
    print(rep.summary())


def _run_baseline(dataset: str, cg_input: str, output: str, max_frames: str) -> None:
    from herobm.backmap import backmap_with_predictor
    from herobm.baseline import MeanVectorBaseline, frame_partners
    from herobm.data import DatasetReader, read_sample

    t0 = time.perf_counter()
    ds = DatasetReader(dataset)
    mset = ds.mapping
    base = MeanVectorBaseline.empty(mset.n_bead_types, mset.max_slots)
    frames = list(ds.frames("train"))
    rng = np.random.default_rng(0)
    if len(frames) > int(max_frames):
        frames = [frames[i] for i in sorted(rng.choice(len(frames), int(max_frames), replace=False))]
    for name, f in frames:
        s = read_sample(ds, name, f)
        base.add(s.bead_pos, s.bead_type, s.vectors, s.vector_mask,
                 frame_partners(s.bead_residue, s.residue_next, s.residue_bead))
    t1 = time.perf_counter()
    print(f"fitted on {len(frames)} train frames of {dataset} in {t1 - t0:.1f} s (included in the wall time)")

    def factory(system):
        partners = frame_partners(system.bead_residue, system.residue_next, system.residue_bead)
        return lambda bead_pos, box: base.predict(bead_pos, system.bead_type, partners)

    rep = backmap_with_predictor(cg_input, factory, mset, output)
    print(rep.summary())
    print(f"backmapped in {time.perf_counter() - t1:.1f} s")


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_herobm":
        return _run_herobm(*argv[1:])
    if argv and argv[0] == "_baseline":
        return _run_baseline(*argv[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True, type=Path, help="folder for inputs, tool outputs and logs (cache)")
    p.add_argument("--only", default=",".join(COMPARISONS), help="comma-separated subset of " + ",".join(COMPARISONS))
    p.add_argument("--model-martini3", help="herobm checkpoint for Martini 3 proteins")
    p.add_argument("--model-ca", help="herobm checkpoint for Cα traces")
    p.add_argument("--model-lipids", help="herobm checkpoint for Martini 3 lipids")
    p.add_argument("--baseline-dataset-martini3", help="herobm dataset to fit the baseline for Martini 3 proteins")
    p.add_argument("--baseline-dataset-ca", help="herobm dataset to fit the baseline for Cα traces")
    p.add_argument("--baseline-dataset-lipids", help="herobm dataset (with POPE/POPG) to fit the lipid baseline")
    p.add_argument("--baseline-max-frames", type=int, default=2000, help="train frames the baseline is fitted on")
    p.add_argument("--peers-venv", type=Path, default=Path("/work/peers-venv"))
    p.add_argument("--force", nargs="?", const="all", default="",
                   help="rerun cached tools: all, or a comma list of tool names or kinds "
                        "(herobm, baseline, peer, cg2at2, cgback, ...)")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks_peers.md"))
    a = p.parse_args(argv)
    only = [c.strip() for c in a.only.split(",") if c.strip()]
    bad = [c for c in only if c not in COMPARISONS]
    if bad:
        p.error(f"unknown comparison(s) {bad}; choose from {COMPARISONS}")
    force = {f.strip().lower() for f in a.force.split(",") if f.strip()}
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    peer_py, peer_bin = a.peers_venv / "bin" / "python", a.peers_venv / "bin"

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    inp = make_inputs(work, a.peers_venv, log)
    results = [run_comparison(c, inp, work, a, peer_py, peer_bin, force, log) for c in only]

    from importlib.metadata import version

    meta = {
        "date": capture(["date"]),
        "machine": f"{os.cpu_count()} CPU cores, no GPU used ({platform.processor() or platform.machine()}, "
                   f"Python {platform.python_version()}, {platform.system()})",
        "command": shlex.join(["python", "benchmarks/peers.py", *argv]),
        "versions": {"herobm": f"{version('herobm')} ({git_describe()})", "MDAnalysis": version("MDAnalysis"),
                     "torch (herobm)": version("torch"), "torch (peers)": pkg_version(peer_py, "torch"),
                     "vermouth/martinize2": pkg_version(peer_py, "vermouth"),
                     "GROMACS": gmx_version()},
        "input_commands": inp.commands,
        "peer_install": PEER_INSTALL,
    }
    made_by = {k: meta[k] for k in ("date", "command", "versions")}
    for r in results:
        r["made_by"] = made_by
    # keep comparisons of an earlier run that this one did not redo (--only), with their own provenance
    json_path = a.out.with_suffix(".json")
    if json_path.exists():
        old = json.loads(json_path.read_text())
        old_made_by = {k: old.get("meta", {}).get(k) for k in ("date", "command", "versions")}
        done = {r["comparison"] for r in results}
        for r in old.get("comparisons", []):
            if r["comparison"] not in done:
                r.setdefault("made_by", old_made_by)
                results.append(r)
        results.sort(key=lambda r: COMPARISONS.index(r["comparison"]))
    write_report(a.out, results, meta)
    json_path.write_text(json.dumps(_finite({"meta": meta, "comparisons": results}), indent=1, default=str,
                                    allow_nan=False))
    log(f"wrote {a.out} and {json_path}")


if __name__ == "__main__":
    main()
