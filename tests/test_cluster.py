"""Cluster submission: Hydra multiruns through the submitit launcher (SLURM; local for tests)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


def _fit(*args, env=None):
    command = [sys.executable, "-m", "au.fit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def test_slurm_launcher_config_targets_submitit():
    done = _fit("hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra")
    assert done.returncode == 0, done.stderr[-2000:]
    launcher = yaml.safe_load(done.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert launcher["partition"] == "gpu" and launcher["tasks_per_node"] == 1
    assert launcher["submitit_folder"].endswith("/.submitit/%j")


def test_multirun_through_submitit_runs_every_job(small_synthetic, tmp_path):
    """Each job of the sweep is submitted (here: submitit's local executor) and finishes."""
    env = {**os.environ, "AU_DATA_ROOT": str(small_synthetic.parents[1])}
    sweep = tmp_path / "sweep"
    done = _fit(
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "debug=fast",
        "seed=0,1",
        "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={sweep}",
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = sorted(sweep.glob("*/results/summary.json"))
    seeds = sorted(json.loads(path.read_text())["seed"] for path in summaries)
    assert seeds == [0, 1]
    assert list((sweep / ".submitit").glob("*/*_log.out"))  # submitit's per-job logs
