"""scripts/gpu_sweep.sh reads its runs from a list file and starts one training per line."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_sweep_runs_the_listed_trainings(tmp_path):
    stub = tmp_path / "bin" / "herobm"  # records its arguments instead of training
    stub.parent.mkdir()
    stub.write_text('#!/usr/bin/env bash\necho "ARGS $*"\n')
    stub.chmod(0o755)
    runs = tmp_path / "runs.txt"
    runs.write_text("# a comment\nwide|ca-protein|model.mul=32 train.epochs=9\n\nbase|martini3-lipids|\n")
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}", "RUNS_FILE": str(runs)}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_sweep.sh"), "DS", str(tmp_path / "out"), "3"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert "runs failed: 0 of 2" in out
    wide = (tmp_path / "out" / "wide" / "log").read_text()
    assert "configs/ca-protein.yaml" in wide and "--set model.mul=32 --set train.epochs=9" in wide
    assert "--set train.dataset=DS/ca-protein" in wide and "--set train.time_budget_min=3" in wide
    assert "configs/martini3-lipids.yaml" in (tmp_path / "out" / "base" / "log").read_text()
    default = (ROOT / "scripts" / "gpu_sweep_runs.txt").read_text().splitlines()
    assert sum(1 for line in default if line and not line.startswith("#")) == 7  # the session-6 sweep
