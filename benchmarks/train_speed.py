"""Training speed: ms per step (forward + loss + backward + optimizer) and peak memory.

The graph is a 2,000-bead Martini 3 system made of real frames (MDAnalysisTests, no
adenylate kinase): 11 copies of cobrotoxin (140 beads), 2 of neopetrosiamide (61) and 13 of
the A6PA6 helix (26), randomly rotated and placed at random without overlaps (no two
beads of different copies closer than 4 Å) in a periodic cube sized for 9 beads/nm³ (a
Martini 3 lipid bilayer has about 8-9; the cube grows by 3% until every copy fits), like
a crowded protein solution without its solvent. The model and loss come from a run config
(default: ``configs/default.yaml``).

    python benchmarks/train_speed.py                       # 2 CPU threads, print only
    python benchmarks/train_speed.py --write docs/benchmarks.md
    python benchmarks/train_speed.py --set model.mul=12 --steps 3
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COPIES = {"cobrotoxin": 11, "neopetrosiamide": 2, "A6PA6": 13}  # 1540 + 122 + 338 = 2000 beads
DENSITY = 9e-3  # beads / Å^3


def rss_mb() -> float:
    """Current resident set size (MB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _place(frames, rots, side: float, rng, min_dist: float = 4.0, tries: int = 400):
    """Translations putting every (rotated) copy in the periodic cube with no bead closer
    than ``min_dist`` Å to a bead of another copy; None if a copy finds no room."""
    from scipy.spatial import cKDTree

    placed = np.zeros((0, 3))
    order = np.argsort([-f.n_beads for f in frames])  # big ones first
    result = [None] * len(frames)
    for k in order:
        f = frames[k]
        local = (f.bead_pos - f.bead_pos.mean(0)) @ rots[k].T
        tree = cKDTree(np.mod(placed, side), boxsize=side) if len(placed) else None
        for _ in range(tries):
            c = rng.uniform(0, side, 3)
            x = local + c
            if tree is None or not tree.query_ball_point(np.mod(x, side), min_dist, return_length=True).any():
                placed = np.concatenate([placed, x])
                result[k] = c - f.bead_pos.mean(0)
                break
        else:
            return None
    return result


def build_system(cutoff: float, seed: int = 0):
    """(merged FrameData, mapping set) of about 2,000 beads."""
    from MDAnalysisTests.datafiles import PDB_helix, PDB_multiframe, PDB_sub_sol
    from scipy.spatial.transform import Rotation

    from herobm.data import DatasetReader, InputSpec, build_dataset
    from herobm.train.batch import make_frame, merge_frames

    tmp = Path(tempfile.mkdtemp(prefix="herobm-bench-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_dataset([InputSpec(PDB_sub_sol), InputSpec(PDB_multiframe), InputSpec(PDB_helix)], "martini3",
                      tmp / "ds", frames="0:1", selection="protein", split={"train": 1.0})
    reader = DatasetReader(tmp / "ds")
    paths = {"cobrotoxin": PDB_sub_sol, "neopetrosiamide": PDB_multiframe, "A6PA6": PDB_helix}
    by_name = {k: make_frame(reader, next(s.name for s in reader.systems if s.source[0] == p), 0, cutoff)
               for k, p in paths.items()}
    frames = [by_name[k] for k, n in COPIES.items() for _ in range(n)]
    n_beads = sum(f.n_beads for f in frames)
    rots = Rotation.random(len(frames), random_state=seed).as_matrix()
    side = (n_beads / DENSITY) ** (1 / 3)
    while True:  # random sequential addition without overlaps; grow the box if it jams
        trans = _place(frames, rots, side, np.random.default_rng(seed))
        if trans is not None:
            break
        side *= 1.03
    box = np.array([side, side, side, 90.0, 90.0, 90.0])
    return merge_frames(frames, cutoff, box=box, rotations=rots, translations=trans), reader.mapping, side


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="SECTION.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--write", metavar="MD", help="write the numbers into this Markdown file ('Training speed')")
    args = ap.parse_args(argv)

    import torch

    from herobm.model.network import HEroBMNet
    from herobm.train.batch import Piece, make_batch
    from herobm.train.checkpoint import resolve_device
    from herobm.train.config import RunConfig
    from herobm.train.loss import combine, loss_sums, step_counts

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    run = RunConfig.from_yaml(args.config, args.overrides)
    tc = run.train
    cutoff = float(run.model.get("cutoff", 8.0))
    t0 = time.perf_counter()
    frame, mapping, side = build_system(cutoff)
    t_build = time.perf_counter() - t0
    from herobm.model.graph import edge_flags, neighbour_list

    t0 = time.perf_counter()
    ei, _ = neighbour_list(frame.bead_pos, cutoff, np.array([side] * 3 + [90.0] * 3))
    edge_flags(ei, frame.bead_residue, frame.residue_next)
    batch = make_batch([Piece(frame)], tc.torch_dtype).to(device)
    t_batch = time.perf_counter() - t0
    mcfg = run.model_config(mapping.n_bead_types, max(mapping.max_slots, 1))
    torch.manual_seed(0)
    model = HEroBMNet(mcfg).to(device=device, dtype=tc.torch_dtype)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    lcfg = tc.loss
    counts = step_counts([batch])
    n_params = sum(p.numel() for p in model.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(batch.graph)
        loss = combine(loss_sums(out, batch, lcfg), counts, lcfg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip or float("inf"))
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return float(loss)

    rss0 = rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(2 + args.steps):
        t = time.perf_counter()
        step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    res = {
        "beads": frame.n_beads,
        "edges_per_bead": frame.edge_index.shape[1] / frame.n_beads,
        "atoms": frame.n_atoms,
        "box_A": side,
        "cutoff": cutoff,
        "params": n_params,
        "ms_per_step": 1e3 * statistics.median(times),
        "ms_min": 1e3 * min(times),
        "ms_max": 1e3 * max(times),
        "graph_build_s": t_build,
        "batch_s": t_batch,
        "rss_before_mb": rss0,
        "peak_rss_mb": peak_rss_mb(),
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "load": os.getloadavg()[0],
        "model": mcfg.to_dict(),
        "max_beads": tc.max_beads,
    }
    res["steps_per_hour"] = 3600e3 / res["ms_per_step"]
    print(f"system: {res['beads']} beads, {res['atoms']} atoms, box {side:.1f} A, "
          f"{res['edges_per_bead']:.1f} neighbours/bead within {cutoff} A")
    print(f"model: {n_params} parameters, {mcfg.to_dict()}")
    print(f"device {device}, {args.threads} thread(s), torch {torch.__version__}, load average {res['load']:.1f}")
    print(f"train step: {res['ms_per_step']:.0f} ms median over {args.steps} "
          f"(min {res['ms_min']:.0f}, max {res['ms_max']:.0f}); {res['steps_per_hour']:.0f} steps/hour")
    print(f"memory: RSS {rss0:.0f} MB before the steps, peak RSS {res['peak_rss_mb']:.0f} MB"
          + (f", CUDA peak allocated {res['cuda_peak_mb']:.0f} MB" if res["cuda_peak_mb"] is not None else ""))
    print(f"neighbour list + edge flags + batch assembly: {t_batch:.3f} s (system set-up {t_build:.1f} s)")
    if args.write:
        write_markdown(Path(args.write), res, args)
    return res


BEGIN, END = "<!-- train_speed.py: begin -->", "<!-- train_speed.py: end -->"


def write_markdown(path: Path, res: dict, args) -> None:
    """Replace the measured block of the '## Training speed' section of ``path`` (the
    text between the markers; the section and markers are created when missing)."""
    m = res["model"]
    mem = (f"peak CUDA memory allocated {res['cuda_peak_mb']:.0f} MB" if res["cuda_peak_mb"] is not None else
           f"peak RSS {res['peak_rss_mb']:.0f} MB (whole process; {res['rss_before_mb']:.0f} MB before the first step)")
    over = "".join(f" `--set {o}`" for o in args.overrides)
    block = f"""{BEGIN}
Measured {datetime.date.today().isoformat()}: `python benchmarks/train_speed.py --threads {res['threads']}{over}`
on {res['cpu']} ({res['device']}, {res['threads']} thread(s); load average {res['load']:.1f} while measuring),
torch {res['torch']}.

System: {res['beads']} Martini 3 beads ({res['atoms']} rebuilt atoms), copies of three non-adk
MDAnalysisTests proteins placed without overlaps in a periodic cube of {res['box_A']:.1f} Å
({1e3 * res['beads'] / res['box_A'] ** 3:.1f} beads/nm³), {res['edges_per_bead']:.1f} neighbours per bead within the {res['cutoff']} Å cutoff.
Model: `{Path(args.config).name}`{over} ({res['params']:,} parameters; {m['num_layers']} layers, mul {m['mul']},
lmax {m['lmax']}, correlation {m['correlation']}, latent {m['latent_dim']}).

| quantity | value |
|---|---|
| training step (forward + loss + backward + AdamW), median | {res['ms_per_step']:.0f} ms (min {res['ms_min']:.0f}, max {res['ms_max']:.0f}) |
| steps per hour at 2,000 beads | {res['steps_per_hour']:.0f} |
| memory | {mem} |
| neighbour list + edge flags + batch assembly of the frame | {1e3 * res['batch_s']:.0f} ms (frames are cached after their first use) |
{END}"""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Training speed\n\n" + block + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
