"""``herobm train``: batching by beads, chunks, loss, config, checkpoints, resume, overfitting.

Data: MDAnalysisTests proteins that are not adenylate kinase (adk files are kept for
benchmarks): neopetrosiamide (NMR models, no box) for training, cobrotoxin (3 frames in a
periodic box) for validation, the A6PA6 helix for the overfitting test.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from MDAnalysisTests.datafiles import PDB_helix, PDB_multiframe, PDB_sub_sol, XTC_sub_sol

from herobm.data import DatasetReader, InputSpec, build_dataset, read_sample
from herobm.errors import InputError
from herobm.model import HEroBMNet, ModelConfig
from herobm.model.chunking import subgraph
from herobm.reconstruct import rebuild_atoms
from herobm.train import (
    BeadBatchSampler,
    FrameSource,
    LossConfig,
    Piece,
    RunConfig,
    compute_loss,
    load_checkpoint,
    load_model,
    make_batch,
    save_checkpoint,
    train,
)
from herobm.train.batch import StepDataset, frame_pieces, frame_sizes, merge_frames, micro_batches_per_epoch, pack_sizes
from herobm.train.checkpoint import resolve_device
from herobm.train.loop import METRIC_COLUMNS, budget_epochs, read_metrics
from herobm.train.loss import combine, loss_sums, step_counts

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
DEFAULT = ROOT / "configs" / "default.yaml"

# small enough for 2 CPU cores; 2 layers so that the sin (0o) dihedral output is not identically 0
TINY_MODEL = {"cutoff": 8.0, "num_layers": 2, "latent_dim": 16, "mul": 4, "lmax": 2, "correlation": 2,
              "num_basis": 6, "type_embed_dim": 8}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("train_ds")
    split = out.parent / "split.yaml"
    split.write_text(yaml.safe_dump({Path(PDB_multiframe).name: "train", Path(PDB_sub_sol).name: "val"}))
    build_dataset(
        [InputSpec(PDB_multiframe), InputSpec(PDB_sub_sol, (XTC_sub_sol,))], "martini3", out,
        frames="0:3", selection="protein", split_file=split,
    )
    return out


@pytest.fixture(scope="module")
def frames(dataset):
    reader = DatasetReader(dataset)
    names = {s.split: s.name for s in reader.systems}
    src = FrameSource(reader, cutoff=8.0)
    return reader, src[(names["train"], 0)], src[(names["val"], 0)], src[(names["train"], 1)]


def _run_config(dataset, output, **train):
    base = {"dataset": str(dataset), "output": str(output), "epochs": 2, "lr": 5e-3, "max_beads": 150,
            "patience": 0, "num_threads": 1, "progress": False}
    return RunConfig.from_dict({"model": dict(TINY_MODEL), "train": {**base, **train}})


# ----------------------------------------------------------------------------- config
def test_config_files_and_errors(tmp_path):
    for path in (SMOKE, DEFAULT):
        run = RunConfig.from_yaml(path)
        assert run.model_config(10, 4).n_vectors == 4
    run = RunConfig.from_yaml(SMOKE, ["train.lr=1e-3", "model.mul=3"])
    assert run.train.lr == 1e-3 and run.model["mul"] == 3  # YAML '1e-3' is a string: coerced
    bad = {
        "train:\n  epochs: 2\n  learning_rate: 0.1\n": "learning_rate",
        "model:\n  mull: 3\n": "mull",
        "model:\n  n_bead_types: 3\n": "n_bead_types",
        "trian:\n  epochs: 2\n": "trian",
        "train:\n  epochs: many\n": "train.epochs",
        "train:\n  lr_schedule: linear\n": "lr_schedule",
        "train:\n  bead_noise: -0.1\n": "bead_noise",
        "train:\n  bead_noise: .nan\n": "bead_noise",
        "train:\n  bead_noise: 0.1\n  w_vector: 1.0\n": "w_vector",
    }
    for text, word in bad.items():
        p = tmp_path / "c.yaml"
        p.write_text(text)
        with pytest.raises(InputError, match=word):
            RunConfig.from_yaml(p)


def test_config_extends_another_file(tmp_path):
    """``extends``: the base file's values first, the file's own keys over them (per key, not
    per section), ``--set`` last; a cycle or a missing base is an error naming the files."""
    (tmp_path / "base.yaml").write_text("model:\n  mul: 4\n  latent_dim: 16\ntrain:\n  epochs: 7\n  lr: 1.0e-3\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "recipe.yaml").write_text("extends: ../base.yaml\nmodel:\n  mul: 8\ntrain:\n  epochs: 3\n")
    run = RunConfig.from_yaml(sub / "recipe.yaml", ["train.epochs=5"])
    assert run.model == {"mul": 8, "latent_dim": 16} and run.train.lr == 1e-3 and run.train.epochs == 5
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(InputError, match="cycle"):
        RunConfig.from_yaml(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(InputError, match=r"nowhere.yaml: no such config file \(extended by .*c.yaml\)"):
        RunConfig.from_yaml(tmp_path / "c.yaml")


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")


# ----------------------------------------------------------------------------- batching
def test_sampler_packs_by_beads():
    sizes = [61] * 7 + [140] * 3 + [900, 40000]
    s = BeadBatchSampler(sizes, max_beads=300, seed=4)
    for epoch in (0, 1):
        s.set_epoch(epoch)
        steps = list(s)
        assert sorted(i for st in steps for i in st) == list(range(len(sizes)))  # every frame once
        for st in steps:
            n = sum(sizes[i] for i in st)
            assert n <= 300 or len(st) == 1
    assert s.all_steps(0) != s.all_steps(1)  # reshuffled per epoch
    assert s.all_steps(1) == BeadBatchSampler(sizes, 300, seed=4).all_steps(1)  # reproducible
    # two ranks: same number of steps, together every step
    r0, r1 = (BeadBatchSampler(sizes, 300, seed=4, rank=r, world_size=2) for r in (0, 1))
    assert len(r0) == len(r1)
    assert pack_sizes([5, 5, 5, 20, 1], 10) == [[0, 1], [2], [3], [4]]


def test_batch_of_frames_rebuilds_targets(frames):
    reader, a, b, _ = frames
    batch = make_batch([Piece(a), Piece(b)], dtype=torch.float64)
    assert batch.n_nodes == a.n_beads + b.n_beads
    assert batch.index.n_atoms == a.n_atoms + b.n_atoms
    assert batch.graph.edge_index.shape[1] == a.edge_index.shape[1] + b.edge_index.shape[1]
    # edges never cross frames
    ei = batch.graph.edge_index
    assert torch.equal(ei[0] < a.n_beads, ei[1] < a.n_beads)
    # true vectors rebuild the true atoms through the offset slot arrays
    x = rebuild_atoms(batch.graph.pos, batch.vectors, batch.index)
    assert (x - batch.atom_pos).abs().max() < 1e-6
    assert bool(batch.atom_mask.all())
    assert len(batch.bonds) == len(a.bonds) + len(b.bonds)
    # dihedral targets: one φ/ψ per backbone bead, those of the sample
    s = read_sample(reader, a.key[0], 0)
    ok = ~np.isnan(s.phi_psi[:, 0]) & (s.residue_bead >= 0)
    assert torch.allclose(batch.dihedrals[torch.as_tensor(s.residue_bead[ok]), 0], torch.as_tensor(s.phi_psi[ok, 0]))
    assert int(batch.dihedral_mask[: a.n_beads, 0].sum()) == ok.sum()


def test_loss_is_zero_for_the_truth(frames):
    _, a, b, _ = frames
    batch = make_batch([Piece(a), Piece(b)], dtype=torch.float64)
    d = batch.dihedrals
    out = {"vectors": batch.vectors, "dihedrals": torch.stack([torch.cos(d), torch.sin(d)], -1)}
    total, parts = compute_loss(out, batch, LossConfig(w_vector=1.0))
    assert float(total) < 1e-10 and parts["rmsd_heavy"] < 1e-6
    noisy = {**out, "vectors": out["vectors"] + 0.1}
    total, parts = compute_loss(noisy, batch)
    assert float(total) > 0 and 0.17 < parts["rmsd_heavy"] < 1.0  # errors add up along the hierarchy



def test_atom_weights_weigh_the_position_loss_by_atom_name(dataset):
    """train.atom_weights {O: 4}: the position term is the weighted mean of the squared errors
    (O counted four times), computed here by hand from atom names; the logged heavy-atom RMSD
    stays the plain one."""
    reader = DatasetReader(dataset)
    key = (next(s.name for s in reader.systems if s.split == "train"), 0)
    plain, weighted = FrameSource(reader, 8.0)[key], FrameSource(reader, 8.0, atom_weights={"O": 4.0})[key]
    topo = reader.topology(key[0])
    names = topo["atom_name"][topo["rebuilt_atoms"]]
    assert plain.atom_loss_weight is None and np.array_equal(weighted.atom_loss_weight, np.where(names == "O", 4.0, 1.0))
    assert (names == "O").sum() > 5
    err = torch.as_tensor(np.random.default_rng(0).normal(0, 0.3, (plain.n_beads,) + plain.vectors.shape[1:]))
    out = {}
    for label, f in (("plain", plain), ("weighted", weighted)):
        batch = make_batch([Piece(f)], dtype=torch.float64)
        d = batch.dihedrals
        pred = {"vectors": batch.vectors + err, "dihedrals": torch.stack([torch.cos(d), torch.sin(d)], -1)}
        out[label] = compute_loss(pred, batch, LossConfig())[1]
        sq = ((rebuild_atoms(batch.graph.pos, pred["vectors"], batch.index) - batch.atom_pos) ** 2).sum(-1).numpy()
    w = np.where(names == "O", 4.0, 1.0)
    assert out["weighted"]["position"] == pytest.approx(float((w * sq).sum() / w.sum()), rel=1e-9)
    assert out["plain"]["position"] == pytest.approx(float(sq.mean()), rel=1e-9)
    assert out["weighted"]["position"] != pytest.approx(out["plain"]["position"], rel=1e-3)
    assert out["weighted"]["rmsd_heavy"] == pytest.approx(out["plain"]["rmsd_heavy"], rel=1e-12)
    core = np.arange(weighted.n_beads // 2)
    chunk = make_batch([Piece(weighted, core)], dtype=torch.float64)
    assert set(np.unique(chunk.atom_weight.numpy())) == {1.0, 4.0}  # a chunk keeps its atoms' weights
    for bad in ({"O": 0}, {"O": "heavy"}, [4]):
        with pytest.raises(InputError, match="atom_weights"):
            RunConfig.from_dict({"train": {"atom_weights": bad}})


def test_bead_noise_moves_inputs_not_targets(frames):
    """train.bead_noise: every input bead moves by N(0, σ²) per axis, the targets stay; the true
    vectors then rebuild every atom displaced exactly by its bead's noise (a denoising task)."""
    _, a, b, _ = frames
    batch = make_batch([Piece(a), Piece(b)], dtype=torch.float64)
    assert batch.with_bead_noise(0.0) is batch
    pos0 = batch.graph.pos.clone()
    torch.manual_seed(0)
    noisy = batch.with_bead_noise(0.2)
    shift = noisy.graph.pos - pos0
    assert torch.equal(batch.graph.pos, pos0)  # the batch itself is unchanged
    assert 0.17 < float(shift.std()) < 0.23 and abs(float(shift.mean())) < 0.03  # {3 * n_beads} samples
    assert noisy.atom_pos is batch.atom_pos and torch.equal(noisy.graph.edge_index, batch.graph.edge_index)
    x = rebuild_atoms(noisy.graph.pos, batch.vectors, batch.index)
    moved = x - batch.atom_pos
    # an atom rebuilt from one bead moves with that bead's noise vector (most of them; atoms
    # anchored across beads move with a mix): the rebuilt error is the input noise
    exact = torch.cdist(moved, shift).min(dim=1).values < 1e-6
    assert float(exact.float().mean()) > 0.9  # 98 %
    rms = lambda v: float(v.pow(2).sum(1).mean().sqrt())  # noqa: E731
    assert rms(moved) == pytest.approx(rms(shift), rel=0.1)

def test_chunks_give_the_whole_frame_loss(frames):
    """A frame cut into residue-whole chunks: core outputs, counted atoms and the summed
    chunk losses equal the whole frame's (float64)."""
    _, _, f, _ = frames  # cobrotoxin, 140 beads, periodic box
    max_beads = 40
    pieces = frame_pieces(f, max_beads)
    assert len(pieces) >= 4 and all(p.n_core <= max_beads for p in pieces)
    assert sorted(np.concatenate([p.core for p in pieces]).tolist()) == list(range(f.n_beads))
    torch.manual_seed(0)
    model = HEroBMNet(ModelConfig(n_bead_types=200, n_vectors=f.vectors.shape[1], **TINY_MODEL)).double()
    whole = make_batch([Piece(f)], dtype=torch.float64)
    chunks = [make_batch([p], dtype=torch.float64) for p in pieces]
    # residue-whole chunks: every atom counts in exactly one chunk
    assert sum(float(c.atom_weight.sum()) for c in chunks) == f.n_atoms
    # the chunk graph is chunking.subgraph's
    sub, where = subgraph(whole.graph, torch.as_tensor(pieces[0].core))
    assert torch.equal(sub.edge_index, chunks[0].graph.edge_index) and torch.equal(sub.pos, chunks[0].graph.pos)
    assert torch.equal(torch.nonzero(chunks[0].core_mask).flatten(), where.sort().values)
    cfg = LossConfig(w_vector=0.5)
    out_whole = model(whole.graph)
    # bonds/angles across chunk borders are not seen by any chunk: compare on the same set
    kept_bonds = {tuple(x) for p in pieces for x in _counted(f, p, f.bonds)}
    kept_angles = {tuple(x) for p in pieces for x in _counted(f, p, f.angles)}
    assert len(kept_bonds) < len(f.bonds)  # peptide bonds between chunks
    whole.bonds = torch.as_tensor(sorted(kept_bonds)).reshape(-1, 2)
    whole.angles = torch.as_tensor(sorted(kept_angles)).reshape(-1, 3)
    want, _ = compute_loss(out_whole, whole, cfg)
    counts = step_counts(chunks)
    got = 0.0
    for c, p in zip(chunks, pieces):
        out = model(c.graph)
        core = torch.nonzero(c.core_mask).flatten()
        assert torch.allclose(out["vectors"][core], out_whole["vectors"][torch.as_tensor(p.core)], atol=1e-10)
        got = got + combine(loss_sums(out, c, cfg), counts, cfg)
    assert abs(float(got.detach()) - float(want.detach())) < 1e-6 * max(1.0, abs(float(want.detach())))
    # the step dataset cuts a large frame into micro-batches of <= max_beads core beads
    ds = StepDataset(_OneFrame(f), [f.key], max_beads)
    mbs = ds[[0]]
    assert len(mbs) >= 2 and all(mb.n_core <= max_beads for mb in mbs)


def _counted(f, piece, items):
    """Items (bonds/angles) whose atoms are all rebuilt from the piece's core beads."""
    core = np.zeros(f.n_beads, dtype=bool)
    core[piece.core] = True
    atoms = np.unique(f.slot_atom[core[f.slot_bead]])
    inside = np.zeros(f.n_atoms, dtype=bool)
    inside[atoms] = True
    return items[inside[items].all(axis=1)].tolist()


class _OneFrame:
    def __init__(self, f):
        self.f = f

    def __getitem__(self, key):
        return self.f


def test_membrane_sized_frame_is_chunked(frames):
    """40,000 beads (copies of a protein in a box): chunks of <= max_beads core beads that
    cover every bead and count every atom once."""
    _, _, f, _ = frames
    n = 286  # x 140 beads
    rng = np.random.default_rng(0)
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * 40.0
    big = merge_frames([f] * n, cutoff=8.0, box=np.array([40.0 * side] * 3 + [90.0] * 3),
                       translations=grid - f.bead_pos.mean(0) + rng.normal(size=(n, 3)))
    assert big.n_beads == 40040
    t0 = time.perf_counter()
    pieces = frame_pieces(big, 2000)
    batches = [make_batch([p]) for p in pieces]
    assert time.perf_counter() - t0 < 60
    assert all(p.n_core <= 2000 for p in pieces)
    assert sum(b.n_core for b in batches) == big.n_beads
    assert sum(float(b.atom_weight.sum()) for b in batches) == big.n_atoms
    # a halo is only neighbours: no edge is centred on it
    for b in batches[:3]:
        assert bool(b.core_mask[b.graph.edge_index[0]].all())


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def smoke_run(dataset, tmp_path_factory):
    """The CLI on a smoke-like config: 2 epochs."""
    from click.testing import CliRunner

    from herobm.cli import main

    out = tmp_path_factory.mktemp("run")
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["model"] = dict(TINY_MODEL)
    cfg["train"].update(dataset=str(dataset), output=str(out), epochs=2, max_beads=150, max_train_frames=None,
                        max_val_frames=None)
    path = out.parent / "smoke_test.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(main, ["train", str(path), "--device", "cpu", "--no-progress"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out, path, res.output


def test_cli_train_writes_outputs(smoke_run):
    out, _, text = smoke_run
    for name in ("best.pt", "last.pt", "metrics.csv", "loss.png"):
        assert (out / name).is_file(), name
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_metrics(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert list(rows[0]) == METRIC_COLUMNS
    assert all(math.isfinite(r["val_rmsd_heavy"]) and r["val_rmsd_heavy"] > 0 for r in rows)
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    assert "best val_loss" in text


def test_checkpoint_round_trip(smoke_run, frames):
    out, _, _ = smoke_run
    _, a, _, _ = frames
    ckpt = load_checkpoint(out / "last.pt")  # weights_only=True
    assert ckpt["epoch"] == 2 and ckpt["herobm_version"]
    assert "bead_types.yaml" in ckpt["mapping_files"] and ckpt["mapping_name"] == "martini3"
    model, mset = load_model(out / "last.pt", device="cpu")
    assert mset.name == "martini3" and mset.n_bead_types == ckpt["model_config"]["n_bead_types"]
    assert dict(mset.bead_types) == ckpt["bead_types"]
    batch = make_batch([Piece(a)])
    again, _ = load_model(out / "last.pt", device="cpu")
    with torch.no_grad():
        o1, o2 = model(batch.graph), again(batch.graph)
    assert torch.equal(o1["vectors"], o2["vectors"]) and torch.equal(o1["dihedrals"], o2["dihedrals"])

    # a checkpoint whose mapping folder no longer exists loads from the stored texts alone
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "martini3"
        shutil.copytree(Path(ckpt["train_config"]["dataset"]) / "mapping", folder)
        from herobm.mapping import load_mapping_set

        mapping = load_mapping_set(folder)
        mcfg = ModelConfig.from_dict(ckpt["model_config"])
        saved = save_checkpoint(Path(tmp) / "x.pt", model, mcfg, ckpt["train_config"], mapping, epoch=2)
        moved = out / "moved.pt"
        shutil.copy(saved, moved)
    assert not folder.exists()
    model3, mset3 = load_model(moved, device="cpu")
    assert not Path(mapping.source).exists() and mset3.name == "martini3"
    assert [(m.name, m.atoms, m.slots) for m in mset3.molecules] == [(m.name, m.atoms, m.slots) for m in mapping.molecules]
    with torch.no_grad():
        assert torch.equal(model3(batch.graph)["vectors"], o1["vectors"])


def test_resume_continues_exactly(smoke_run, dataset, tmp_path):
    """Stop after epoch 1, then --resume for the 2nd: the same numbers as the 2-epoch run."""
    out2, cfg_path, _ = smoke_run
    first = train(cfg_path, device="cpu", overrides=[f"train.output={tmp_path}"], progress=False, stop_after=1)
    assert first.last_epoch == 1 and load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    second = train(cfg_path, device="cpu", resume=tmp_path / "last.pt", overrides=[f"train.output={tmp_path}"],
                   progress=False)
    assert second.last_epoch == 2 and [r["epoch"] for r in second.history] == [1, 2]
    ref = read_metrics(out2 / "metrics.csv")
    got = read_metrics(tmp_path / "metrics.csv")
    for key in ("lr", "train_loss", "val_loss", "val_rmsd_heavy"):
        assert got[1][key] == pytest.approx(ref[1][key], rel=1e-5), key
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2



def test_resume_refuses_an_ensemble(smoke_run, dataset, tmp_path):
    """A shipped ensemble (scripts/ship_model.py --member) is several networks: resuming would
    silently continue only the first, so it is refused with a pointer to the members' runs."""
    out, _, _ = smoke_run
    ckpt = load_checkpoint(out / "last.pt")
    ckpt["ensemble"] = [{"model_config": ckpt["model_config"], "model_state": ckpt["model_state"]}]
    path = tmp_path / "ensemble.pt"
    torch.save(ckpt, path)
    with pytest.raises(InputError, match="ensemble of 2 networks"):
        train(_run_config(dataset, tmp_path / "out", epochs=3), device="cpu", progress=False, resume=path)


def test_init_from_starts_at_a_member_of_a_checkpoint(smoke_run, dataset, tmp_path):
    """train.init_from / init_member (fine-tuning): the run starts at that network's weights
    (a near-zero learning rate leaves them there); a missing member, another model config
    (naming the option) and a shipped model of another size are clear errors. A network saved
    before a model option existed is read with that option at its default."""
    out, _, _ = smoke_run
    ckpt = load_checkpoint(out / "last.pt")
    moved = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v for k, v in ckpt["model_state"].items()}
    # written before the option chain_geometry existed: read at its default (false)
    older = {k: v for k, v in ckpt["model_config"].items() if k != "chain_geometry"}
    ckpt["ensemble"] = [{"model_config": older, "model_state": moved}]
    path = tmp_path / "two.pt"
    torch.save(ckpt, path)
    train(_run_config(dataset, tmp_path / "ft", epochs=1, lr=1e-12, lr_schedule="constant",
                      init_from=str(path), init_member=1),
          device="cpu", progress=False)
    got = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert got["train_config"]["init_from"] == str(path) and got["train_config"]["init_member"] == 1
    for k, v in moved.items():
        if v.is_floating_point():
            torch.testing.assert_close(got["model_state"][k], v, atol=1e-6, rtol=0)
    assert any(not torch.allclose(got["model_state"][k], ckpt["model_state"][k])
               for k in moved if moved[k].is_floating_point())  # member 1, not member 0
    with pytest.raises(InputError, match=r"holds 2 network\(s\); train.init_member 2"):
        train(_run_config(dataset, tmp_path / "x", init_from=str(path), init_member=2), device="cpu", progress=False)
    bigger = _run_config(dataset, tmp_path / "x", init_from=str(path))
    bigger = RunConfig(model={**bigger.model, "mul": 8}, train=bigger.train)
    with pytest.raises(InputError, match=r"two.pt: its model config differs.*'mul': \(8, 4\)"):
        train(bigger, device="cpu", progress=False)
    newer = dict(ckpt, ensemble=[{"model_config": {**older, "future_option": 1}, "model_state": moved}])
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(InputError, match=r"newer.pt: unknown model option\(s\): future_option"):
        train(_run_config(dataset, tmp_path / "x", init_from=str(tmp_path / "newer.pt"), init_member=1),
              device="cpu", progress=False)
    with pytest.raises(InputError, match="train.init_from martini3-protein: its model config differs"):
        train(_run_config(dataset, tmp_path / "x", init_from="martini3-protein"), device="cpu", progress=False)
    with pytest.raises(InputError, match="unknown model 'no-such-model'"):
        train(_run_config(dataset, tmp_path / "x", init_from="no-such-model"), device="cpu", progress=False)
    with pytest.raises(InputError, match="init_member must be >= 0"):
        _run_config(dataset, tmp_path / "x", init_member=-1)


def test_ship_model_with_members(smoke_run, dataset, tmp_path):
    """scripts/ship_model.py --member: one file, an Ensemble of the checkpoints, info saying so;
    a member that reads another graph (cutoff) is refused, naming the field."""
    from herobm.model import Ensemble

    out, _, _ = smoke_run
    script = [sys.executable, str(ROOT / "scripts" / "ship_model.py")]
    r = subprocess.run(script + ["ens", str(out / "best.pt"), "--member", str(out / "last.pt"), "--dataset",
                                 str(dataset), "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    model, _ = load_model(tmp_path / "ens.pt", device="cpu")
    assert isinstance(model, Ensemble) and len(model.members) == 2
    info = load_checkpoint(tmp_path / "ens.pt")["info"]
    assert info["ensemble"] == "2 networks, outputs averaged" and info["trained_on"].count("seed 0") == 2
    assert "trained on" not in info["trained_on"]  # both from the same dataset
    assert info["trained_on"].startswith(f"{Path(dataset).name} (train split), ")
    # bead types from another dataset (a second stage ships with its first stage's types): both named
    (tmp_path / "first-stage").symlink_to(Path(dataset).resolve(), target_is_directory=True)
    r = subprocess.run(script + ["bt", str(out / "best.pt"), "--dataset", str(tmp_path / "first-stage"),
                                 "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert load_checkpoint(tmp_path / "bt.pt")["info"]["trained_on"].startswith(
        f"{Path(dataset).name} (train split; bead types of first-stage), ")
    # a member trained on another dataset is accepted (same graph) and named in trained_on
    moved = load_checkpoint(out / "last.pt")
    moved["train_config"] = {**moved["train_config"], "dataset": "elsewhere/ca-more", "init_from": "base.pt",
                             "init_member": 1}
    torch.save(moved, tmp_path / "moved.pt")
    r = subprocess.run(script + ["mix", str(out / "best.pt"), "--member", str(tmp_path / "moved.pt"), "--dataset",
                                 str(dataset), "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "elsewhere/ca-more" in r.stderr
    trained_on = load_checkpoint(tmp_path / "mix.pt")["info"]["trained_on"]
    assert trained_on.count("(trained on elsewhere/ca-more)") == 1
    assert trained_on.count("fine-tuned from network 1 of base.pt") == 1
    other = load_checkpoint(out / "last.pt")
    other["model_config"] = {**other["model_config"], "cutoff": 6.0}
    torch.save(other, tmp_path / "other.pt")
    r = subprocess.run(script + ["bad", str(out / "best.pt"), "--member", str(tmp_path / "other.pt"),
                                 "--dataset", str(dataset), "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode != 0 and "member 1: cutoff 6.0 differs" in r.stderr and "Traceback" not in r.stderr


def test_ca_validation_model_specs(smoke_run, tmp_path, load_script):
    """benchmarks/ca_validation.py: ``A+B`` is one checkpoint averaging both networks, ``A+B:1``
    keeps network 1 of B, a plain path is used as it is; the validation chains are the
    val-split inputs of the dataset matching the pattern."""
    from herobm.model import Ensemble

    cv = load_script("ca_validation", "benchmarks")
    out, _, _ = smoke_run
    best, last = str(out / "best.pt"), str(out / "last.pt")
    assert cv.model_file(best, tmp_path) == Path(best)
    pair = cv.model_file(f"{best}+{last}", tmp_path)
    model, _ = load_model(pair, device="cpu")
    assert isinstance(model, Ensemble) and len(model.members) == 2
    state = load_checkpoint(last)["model_state"]
    one = cv.model_file(f"{pair}:1", tmp_path)
    single, _ = load_model(one, device="cpu")
    assert not isinstance(single, Ensemble)
    assert all(torch.equal(v, state[k]) for k, v in load_checkpoint(one)["model_state"].items())
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "corpus_splits.json").write_text(
        '{"/d/dssp/1abc.pdb.gz": "val", "/d/dssp/2abc.pdb.gz": "train", "/d/pep.pdb": "val"}')
    assert cv.validation_chains(tmp_path / "ds", "/dssp/") == [Path("/d/dssp/1abc.pdb.gz")]


def test_chunk_steps_step_once_per_micro_batch(dataset, tmp_path):
    """With train.chunk_steps a frame larger than max_beads gives one optimizer step per chunk:
    more steps per epoch than frames, the same number of micro-batches either way."""
    counts = {}
    for chunk_steps in (False, True):
        out = tmp_path / str(chunk_steps)
        train(_run_config(dataset, out, epochs=1, max_beads=40, chunk_steps=chunk_steps), device="cpu", progress=False)
        counts[chunk_steps] = load_checkpoint(out / "last.pt")["scheduler_state"]["step_count"]
    n_frames = 3  # PDB_multiframe, frames 0:3, one per step (each > 40 beads)
    assert counts[False] == n_frames and counts[True] >= 2 * n_frames
    # the cosine horizon is the real number of micro-batches, counted from the chunks before
    # training (with 25-bead chunks: 12 per epoch, where the beads alone would suggest 9)
    reader = DatasetReader(dataset)
    train_frames = list(reader.frames("train"))
    sampler = BeadBatchSampler(frame_sizes(reader, train_frames), 25, shuffle=True, seed=0)
    assert micro_batches_per_epoch(reader, train_frames, sampler.all_steps(1), 25) == 12
    out = tmp_path / "horizon"
    train(_run_config(dataset, out, epochs=3, max_beads=25, chunk_steps=True), device="cpu", progress=False)
    sched = load_checkpoint(out / "last.pt")["scheduler_state"]
    assert sched["step_count"] == 36 and sched["total_steps"] == sched["step_count"]


def test_time_budget_cuts_epochs_and_lr_horizon(dataset, tmp_path):
    """train.time_budget_min: a budget smaller than one epoch ends the run after epoch 1, and the
    cosine schedule (and the recorded recipe) shrink to that one epoch instead of stopping mid-way."""
    assert budget_epochs(600.0, 30.0, 10.0) == 54  # (0.95 * 600 - 30) // 10
    assert budget_epochs(60.0, 70.0, 10.0) == 0
    res = train(_run_config(dataset, tmp_path, epochs=50, time_budget_min=1e-4, lr_min=1e-5), device="cpu",
                progress=False)
    assert res.last_epoch == 1 and len(res.history) == 1
    assert len(res.notes) == 1 and "1 epochs" in res.summary()  # the decision is reported
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["train_config"]["epochs"] == 1
    sched = ckpt["scheduler_state"]
    assert sched["total_steps"] == sched["step_count"]  # the LR reached lr_min at the last step
    with pytest.raises(InputError, match="time_budget_min"):
        _run_config(dataset, tmp_path, time_budget_min=0)



def test_bead_noise_is_training_only(dataset, tmp_path):
    """With an LR too small to change the weights, bead noise changes the training loss of an
    epoch and leaves the validation loss (never noisy) exactly as it was."""
    hist = {}
    for sigma in (0.0, 0.5):
        res = train(_run_config(dataset, tmp_path / str(sigma), epochs=1, lr=1e-12, bead_noise=sigma),
                    device="cpu", progress=False)
        hist[sigma] = res.history[-1]
    # (float32: the 1e-12 steps still move zero-initialised weights by ~1e-12)
    assert hist[0.5]["val_loss"] == pytest.approx(hist[0.0]["val_loss"], rel=1e-5)
    assert hist[0.5]["train_rmsd_heavy"] > hist[0.0]["train_rmsd_heavy"] + 0.1

OVERFIT_STEPS = 250  # 41 s for 200 steps on 2 idle cores (1 thread); < 0.1 Å from step ~143


def test_overfit_one_peptide(tmp_path):
    """One frame of a 13-residue helix: heavy-atom RMSD < 0.1 Å within OVERFIT_STEPS steps.

    Position loss only: with the default bond/angle/dihedral weights the same run stalls
    near 0.3 Å (the hinges slow the fit of the positions; see docs/training.md)."""
    ds = tmp_path / "helix"
    build_dataset([InputSpec(PDB_helix)], "martini3", ds, selection="protein", split={"train": 1.0})
    run = RunConfig.from_dict({
        "model": {"num_layers": 2, "mul": 8, "lmax": 2, "correlation": 2, "latent_dim": 32},
        "train": {"dataset": str(ds), "output": str(tmp_path / "run"), "epochs": OVERFIT_STEPS, "lr": 1e-2,
                  "lr_min": 1e-4, "patience": 0, "num_threads": 1, "progress": False,
                  "w_bond": 0.0, "w_angle": 0.0, "w_dihedral": 0.0},
    })
    t0 = time.perf_counter()
    with pytest.warns(UserWarning, match="no frames in split 'val'"):
        res = train(run, device="cpu")
    seconds = time.perf_counter() - t0
    rmsd = [r["train_rmsd_heavy"] for r in res.history]
    first = next((i + 1 for i, x in enumerate(rmsd) if x < 0.1), None)
    print(f"overfit: {len(rmsd)} steps in {seconds:.1f} s, RMSD {rmsd[0]:.3f} -> {rmsd[-1]:.4f} A, "
          f"< 0.1 A from step {first}")
    assert rmsd[-1] < 0.1, rmsd[-1]


# ----------------------------------------------------------------------------- torchrun
@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun is not installed")
def test_torchrun_two_processes_gloo(smoke_run, tmp_path):
    """2 CPU processes (gloo): with a negligible learning rate the weights stay put, so the
    train/val metrics summed over both ranks must equal a single process's."""
    _, cfg_path, _ = smoke_run
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    herobm = str(Path(sys.executable).parent / "herobm")
    frozen = ["train.lr=1e-12", "train.lr_min=1e-13", "train.epochs=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", herobm, "train", str(cfg_path), "--device", "cpu",
           "--no-progress", "--set", f"train.output={tmp_path / 'ddp'}"]
    for o in frozen:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("best val_loss") == 1  # only rank 0 reports
    ddp = read_metrics(tmp_path / "ddp" / "metrics.csv")
    assert [r["epoch"] for r in ddp] == [1]  # written once, by rank 0
    assert (tmp_path / "ddp" / "best.pt").is_file() and (tmp_path / "ddp" / "loss.png").is_file()
    single = train(cfg_path, device="cpu", overrides=[f"train.output={tmp_path / 'one'}", *frozen], progress=False)
    for key in ("train_loss", "train_rmsd_heavy", "val_loss", "val_rmsd_heavy"):
        assert ddp[0][key] == pytest.approx(single.history[0][key], rel=1e-5), key


def test_backmap_cli_with_a_trained_checkpoint(smoke_run, tmp_path):
    """End to end: herobm map -> CG PDB (+ XTC) -> herobm backmap with the smoke checkpoint.
    Quality is not judged here (two epochs); file layout and counts are."""
    import MDAnalysis as mda
    from click.testing import CliRunner
    from MDAnalysisTests.datafiles import PDB_helix

    from herobm.cli import main

    out, _, _ = smoke_run
    r = CliRunner()
    res = r.invoke(main, ["map", PDB_helix, "--selection", "protein", "-o", str(tmp_path / "cg.pdb")])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["backmap", str(tmp_path / "cg.pdb"), "--model", str(out / "best.pt"), "-o",
                          str(tmp_path / "aa.pdb"), "--device", "cpu", "--max-beads-per-chunk", "10"])
    assert res.exit_code == 0, res.output
    aa = mda.Universe(str(tmp_path / "aa.pdb"))
    ref = mda.Universe(PDB_helix).select_atoms("protein and not name H*")
    assert len(aa.atoms) == len(ref.atoms) and len(aa.residues) == len(ref.residues)
    assert np.isfinite(aa.atoms.positions).all()
    # every atom within a few Å of the bead it hangs off: the rebuild, not noise
    assert np.linalg.norm(aa.atoms.positions - ref.atoms.positions, axis=1).max() < 10.0
