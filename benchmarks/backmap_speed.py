"""Backmapping speed: beads per second and peak memory of ``herobm backmap`` (CLI, CPU).

Every measurement is one ``herobm`` command in a fresh subprocess under ``/usr/bin/time``
(wall time, user+sys CPU time, peak RSS of that process), so the numbers are what a user
sees: interpreter start, model loading, reading, the network, rebuilding, refinement and
writing included. Inputs are built from real MDAnalysisTests structures (no adenylate
kinase, our evaluation set) and cached in ``--work``:

* ``protein``: 6MSM (chain A, renamed F) and 3PWP (chains A-E) side by side, protein only,
  in a padded orthorhombic box -> Martini 3, 4,808 beads.
* ``yiip``: the YiiP membrane system (GRO_MEMPROT: protein, POPE, POPG, zinc; 43,480
  atoms), every residue made whole in its hexagonal box; ``yiip_NxN`` tiles it N x N in
  x/y (box vectors a, b) -> Martini 3.
* ``yiip_5x5`` has 1,087,000 all-atom atoms (the 1M-atom frame).

Beads/s = beads actually backmapped (``backmapped N beads`` of the report, i.e. without
residues no model covers) / wall time of the command.

    python benchmarks/backmap_speed.py                         # all cases, print
    python benchmarks/backmap_speed.py --write docs/benchmarks_backmap.md
    python benchmarks/backmap_speed.py --cases protein protein_chunk1000 --reuse
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HEROBM = str(Path(sys.executable).with_name("herobm"))
TIME = "/usr/bin/time"

# name -> (CG input key, extra backmap options, output extension, description)
CASES = {
    "startup_small": ("protein", ["--selection", "byres index 0:99"], ".pdb",
                      "fixed cost: first ~100 beads of the protein, no refinement"),
    "protein": ("protein", [], ".pdb", "protein, no refinement"),
    "protein_chunk1000": ("protein", ["--max-beads-per-chunk", "1000"], ".pdb", "protein, --max-beads-per-chunk 1000"),
    "protein_refine": ("protein", ["--hydrogens", "--minimize"], ".pdb", "protein, --hydrogens --minimize"),
    "membrane_3x3": ("yiip_3x3", [], ".gro", "YiiP 3x3 membrane, no refinement"),
    "membrane_1x1": ("yiip_1x1", [], ".pdb", "YiiP 1x1 membrane (single replica), no refinement"),
    "membrane_1x1_refine": ("yiip_1x1", ["--hydrogens", "--minimize"], ".pdb",
                            "YiiP 1x1 membrane (single replica), --hydrogens --minimize"),
    "membrane_5x5_1M": ("yiip_5x5", [], ".gro", "YiiP 5x5, 1M all-atom atoms, no hydrogens"),
}
MAPS = {  # CG key -> (all-atom builder, selection)
    "protein": ("protein", "protein"),
    "yiip_1x1": ("yiip_1x1", "all"),
    "yiip_3x3": ("yiip_3x3", "all"),
    "yiip_5x5": ("yiip_5x5", "all"),
}


# --- inputs -------------------------------------------------------------------------


def _data(name: str) -> str:
    import MDAnalysisTests.datafiles as d

    return str(Path(d.PDB).parent / name)


def build_protein(path: Path) -> None:
    """6MSM + 3PWP proteins side by side along x (15 Å gap), in a box padded by 30 Å."""
    import MDAnalysis as mda

    a = mda.Universe(_data("6msm.pdb.bz2")).select_atoms("protein")
    b = mda.Universe(_data("mmcif/3PWP.pdb.gz")).select_atoms("protein")
    a.chainIDs = "F"
    a.segments.segids = "F"
    a.translate(-a.positions.min(0))
    b.translate(-b.positions.min(0) + [a.positions.max(0)[0] + 15.0, 0.0, 0.0])
    u = mda.Merge(a, b)
    pad = 30.0
    u.atoms.translate([pad, pad, pad])
    u.dimensions = np.r_[u.atoms.positions.max(0) + pad, 90.0, 90.0, 90.0]
    u.atoms.write(str(path))


def _yiip_whole():
    """The YiiP system with every residue whole (minimum image to the residue's first atom)
    and residue centres wrapped into the box, so tiles join seamlessly."""
    import MDAnalysis as mda
    import MDAnalysisTests.datafiles as d
    from MDAnalysis.lib.distances import minimize_vectors

    u = mda.Universe(d.GRO_MEMPROT)
    box = u.dimensions.copy()
    pos = u.atoms.positions.astype(np.float64)
    ref = np.asarray([r.atoms.ix[0] for r in u.residues])[u.atoms.resindices]
    d_ = minimize_vectors((pos - pos[ref]).astype(np.float32), box).astype(np.float64)
    u.atoms.positions = pos[ref] + d_
    u.atoms.wrap(compound="residues")
    return u


def build_yiip(path: Path, n: int) -> None:
    import MDAnalysis as mda
    from MDAnalysis.lib.mdamath import triclinic_vectors

    base = _yiip_whole()
    box = base.dimensions.copy()
    tv = triclinic_vectors(box)
    if n == 1:
        base.atoms.write(str(path))
        return
    copies = []
    for i in range(n):
        for j in range(n):
            c = base.copy()
            c.atoms.translate(i * tv[0] + j * tv[1])
            copies.append(c.atoms)
    u = mda.Merge(*copies)
    u.dimensions = np.r_[box[0] * n, box[1] * n, box[2], box[3:]]
    u.atoms.write(str(path))


BUILDERS = {
    "protein": ("protein_aa.pdb", build_protein),
    "yiip_1x1": ("yiip_1x1_aa.gro", lambda p: build_yiip(p, 1)),
    "yiip_3x3": ("yiip_3x3_aa.gro", lambda p: build_yiip(p, 3)),
    "yiip_5x5": ("yiip_5x5_aa.gro", lambda p: build_yiip(p, 5)),
}


def all_atom_input(work: Path, key: str) -> Path:
    name, fn = BUILDERS[key]
    path = work / name
    if not path.exists():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(path)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def n_atoms_of(path: Path) -> int:
    if path.suffix == ".gro":
        with open(path) as fh:
            fh.readline()
            return int(fh.readline())
    return sum(1 for line in open(path) if line.startswith(("ATOM", "HETATM")))


# --- measuring ------------------------------------------------------------------------


def source_state() -> str:
    """``<commit>`` or ``<commit>+<sha1 of git diff HEAD -- src>[:8]`` of the herobm tree now
    (the tree may change between measurements while others work on it)."""
    import hashlib

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--", "src"], capture_output=True).stdout
    return commit + (f"+dirty:{hashlib.sha1(diff).hexdigest()[:8]}" if diff else "")


def measure(cmd: list[str], log: Path, env: dict) -> dict:
    """Run ``cmd`` under /usr/bin/time; wall/user/sys seconds, peak RSS (MB), rc, output."""
    state = source_state()
    started = datetime.datetime.now().strftime("%H:%M:%S")
    tfile = log.with_suffix(".time")
    full = [TIME, "-f", "%e %U %S %M", "-o", str(tfile)] + cmd
    print("$", shlex.join(cmd), flush=True)
    with open(log, "w") as fh:
        p = subprocess.run(full, stdout=fh, stderr=subprocess.STDOUT, env=env)
    text = log.read_text()
    last = tfile.read_text().strip().splitlines()[-1].split()
    wall, user, sys_, rss = float(last[0]), float(last[1]), float(last[2]), int(last[3]) / 1024
    if source_state() != state:
        state += " (changed during the run: " + source_state() + ")"
    out = {"source": state, "started": started, "cmd": shlex.join(cmd), "rc": p.returncode, "wall_s": wall, "cpu_s": user + sys_, "peak_rss_mb": rss,
           "log": str(log)}
    if p.returncode:
        tail = [ln for ln in text.splitlines() if ln.strip() and "it/s" not in ln][-15:]
        out["error"] = "\n".join(tail)
        print(f"  FAILED rc={p.returncode}\n" + out["error"], flush=True)
    else:
        print(f"  {wall:.1f} s wall, {user + sys_:.1f} s CPU, {rss:.0f} MB peak RSS", flush=True)
    return out, text


def run_map(work: Path, key: str, env: dict, reuse: bool) -> dict:
    cg = work / f"{key}_cg{'.pdb' if key == 'protein' else '.gro'}"
    cached = work / f"map_{key}.json"
    if reuse and cached.exists() and cg.exists():
        return json.loads(cached.read_text())
    aa_key, sel = MAPS[key]
    aa = all_atom_input(work, aa_key)
    res, text = measure([HEROBM, "map", str(aa), "-m", "martini3", "-o", str(cg), "--selection", sel],
                        work / f"map_{key}.log", env)
    m = re.search(r"mapped (\d+) atoms to (\d+) beads", text)
    res.update(case=f"map {key}", kind="map", input=str(aa), output=str(cg), n_atoms_in=n_atoms_of(aa),
               atoms_mapped=int(m.group(1)) if m else None, n_beads=int(m.group(2)) if m else None)
    if m:
        res["beads_per_s"] = res["n_beads"] / res["wall_s"]
        res["atoms_per_s"] = res["atoms_mapped"] / res["wall_s"]
    cached.write_text(json.dumps(res, indent=1))
    return res


def run_backmap(work: Path, case: str, env: dict, reuse: bool) -> dict:
    key, opts, ext, desc = CASES[case]
    cached = work / f"backmap_{case}.json"
    if reuse and cached.exists():
        return json.loads(cached.read_text())
    mres = run_map(work, key, env, reuse=True)
    if mres["rc"]:
        return {"case": case, "desc": desc, "kind": "backmap", "rc": -1, "error": f"map {key} failed"}
    cg = Path(mres["output"])
    out = work / f"bm_{case}{ext}"
    res, text = measure([HEROBM, "backmap", str(cg), "-o", str(out), "--device", "cpu"] + opts,
                        work / f"backmap_{case}.log", env)
    m = re.search(r"backmapped (\d+) beads to (\d+) atoms", text)
    res.update(case=case, desc=desc, kind="backmap", input=str(cg), output=str(out), cg_beads_in=mres["n_beads"],
               n_beads=int(m.group(1)) if m else None, n_atoms_out=int(m.group(2)) if m else None)
    res["models"] = next((ln[len("models: "):] for ln in text.splitlines() if ln.startswith("models: ")), "")
    res["notes"] = [ln.strip() for ln in text.splitlines() if "skipped" in ln and "Warning" not in ln][:3]
    if m:
        res["beads_per_s"] = res["n_beads"] / res["wall_s"]
    cached.write_text(json.dumps(res, indent=1))
    return res


# --- report ---------------------------------------------------------------------------


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    head = ("| case | beads in | beads backmapped | atoms out | wall s | CPU s | beads/s (wall) | peak RSS MB |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        if r["kind"] == "map":
            lines.append(f"| {r['case']} ({_fmt(r.get('n_atoms_in'), ',')} atoms -> CG) | {_fmt(r.get('n_atoms_in'), ',')} atoms "
                         f"| {_fmt(r.get('n_beads'), ',')} (beads made) | - | {r['wall_s']:.1f} | {r['cpu_s']:.1f} "
                         f"| {_fmt(r.get('beads_per_s'), ',.0f')} | {r['peak_rss_mb']:,.0f} |")
        else:
            status = "" if not r.get("rc") else " **FAILED**"
            lines.append(f"| {r['desc']}{status} | {_fmt(r.get('cg_beads_in'), ',')} | {_fmt(r.get('n_beads'), ',')} "
                         f"| {_fmt(r.get('n_atoms_out'), ',')} | {_fmt(r.get('wall_s'), '.1f')} | {_fmt(r.get('cpu_s'), '.1f')} "
                         f"| {_fmt(r.get('beads_per_s'), ',.0f')} | {_fmt(r.get('peak_rss_mb'), ',.0f')} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, no GPU (--device cpu)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/bm_speed", help="Folder of the cached inputs/outputs/logs.")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--threads", type=int, default=2, help="OMP/MKL/torch threads of the herobm processes.")
    ap.add_argument("--reuse", action="store_true", help="Reuse cached measurements from --work.")
    ap.add_argument("--write", help="Markdown file to write (and a .json next to it).")
    ap.add_argument("--note", default="", help="Text added to the markdown (e.g. machine load).")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads), OPENMM_CPU_THREADS=str(args.threads), PYTHONWARNINGS="ignore")
    rows: list[dict] = []
    maps_done: set[str] = set()
    for case in args.cases:
        key = CASES[case][0]
        if key not in maps_done:
            rows.append(run_map(work, key, env, args.reuse))
            maps_done.add(key)
        rows.append(run_backmap(work, case, env, args.reuse))
    md = table(rows)
    print()
    print(md)
    if args.write:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
        meta = {"date": date, "machine": machine(), "threads": args.threads, "commit": commit,
                "worktree_modified": bool(dirty), "python": sys.version.split()[0],
                "command": shlex.join([Path(sys.executable).name, "benchmarks/backmap_speed.py"]
                                 + [a if a != args.note else "<note>" for a in sys.argv[1:]]),
                "note": args.note}
        path = Path(args.write)
        path.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        path.write_text(render(meta, rows, md))
        print(f"wrote {path} and {path.with_suffix('.json')}")


def render(meta: dict, rows: list[dict], md: str) -> str:
    cmds = "\n".join(r["cmd"] for r in rows if "cmd" in r)
    sources = "\n".join(f"- {r['started']} {r['source']}: {r['case']}" for r in rows if "source" in r)
    fails = [r for r in rows if r.get("rc")]
    out = [
        "# Backmapping speed and memory",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}; herobm processes limited to {meta['threads']} threads "
        "(OMP/MKL/OpenMM CPU threads)",
        f"- herobm commit: `{meta['commit']}`" + (" (work tree with uncommitted changes)" if meta["worktree_modified"] else ""),
        f"- generated by: `{meta['command']}`",
        "",
        "Machine load during the measurement: see the note below (wall times depend on it; CPU s, "
        "user + sys of the herobm process, is the less load-dependent number).",
        "",
        "Every row is one `herobm` command in a fresh process under `/usr/bin/time -f '%e %U %S %M'`: "
        "wall time, CPU time and peak RSS of that process, so Python start-up, imports, model loading, "
        "reading and writing are included. beads/s = beads actually backmapped / wall s. "
        "Models: chosen automatically from the input (the shipped checkpoints of this commit); refinement "
        "with the defaults of `herobm backmap` (heavy atoms restrained at 1e5 kJ/mol/nm² while minimising).",
        "",
        md,
        "",
    ]
    if meta.get("note"):
        out += [meta["note"], ""]
    if fails:
        out += ["## Failures", ""]
        for r in fails:
            out += [f"`{r.get('cmd', r['case'])}` exited with {r['rc']}:", "", "```", r.get("error", ""), "```", ""]
    out += ["## Inputs", "",
            "- protein: MDAnalysisTests 6msm.pdb.bz2 (protein, chain renamed F) and mmcif/3PWP.pdb.gz "
            "(protein, chains A-E) side by side along x with a 15 Å gap, orthorhombic box padded by 30 Å.",
            "- YiiP: MDAnalysisTests GRO_MEMPROT (YiiP_lipids.gro.gz: protein, POPE, POPG, ZNM zinc; "
            "43,480 atoms, hexagonal box), each residue made whole and wrapped into the box; NxN: translated "
            "copies i·a + j·b (mda.Merge), box a·N, b·N, c.",
            "", "## Commands", "", "```", cmds, "```", "",
            "## Source state per measurement", "",
            "Start time and herobm commit (`+dirty:<sha1 of git diff HEAD -- src>` when src/ had uncommitted "
            "changes) of each measurement:", "", sources, ""]
    notes = sorted({n for r in rows for n in r.get("notes", [])})
    models = sorted({r.get("models", "") for r in rows if r.get("models")})
    if models or notes:
        out += ["## Models and skipped molecules", ""] + [f"- models: {m}" for m in models] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
