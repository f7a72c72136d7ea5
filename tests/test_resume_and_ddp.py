"""A killed run resumes in its stage; DDP metrics equal single-process metrics."""

import json
import os
import signal
import subprocess
import sys
import time

import lightning as L  # noqa: N812
import pandas as pd
import pytest
import torch

from au.data.datamodule import AUDataModule
from au.models.module import AULitModule

from .conftest import SMALL_SYNTHETIC, small_fit_overrides

pytestmark = pytest.mark.slow


def _fit_command(output_dir, *extra):
    # small batches and many epochs: the run lasts long enough to be killed mid-way; the half
    # cosine (not the default) makes the stage-2 rate a function of the step, for the resume
    overrides = small_fit_overrides(
        output_dir,
        "schedule.stage2_epochs=12",
        "data.batch_size=8",
        "schedule.stage2_lr_decay=cosine",
        *extra,
    )
    overrides = [o for o in overrides if not o.startswith("paths.output_dir")]
    return [sys.executable, "-m", "au.fit", *overrides, f"hydra.run.dir={output_dir}"]


def _summary(output_dir):
    return json.loads((output_dir / "results" / "summary.json").read_text())


def test_killed_run_resumes_with_its_stage_and_learning_rates(small_synthetic, tmp_path):
    env = {**os.environ, "AU_DATA_ROOT": str(small_synthetic.parents[1])}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_fit_command(full), env=env, check=True, capture_output=True)

    process = subprocess.Popen(
        _fit_command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = killed / "checkpoints" / "last.ckpt"
    saves, seen = 0, None
    deadline = time.time() + 240
    while saves < 5 and time.time() < deadline and process.poll() is None:
        stamp = last.stat().st_mtime_ns if last.exists() else None
        if stamp is not None and stamp != seen:
            saves, seen = saves + 1, stamp
        time.sleep(0.01)
    time.sleep(0.05)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "results").exists()

    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    schedule = next(v for k, v in checkpoint["callbacks"].items() if "TwoStage" in k)
    assert schedule["stage"] == 2 and checkpoint["epoch"] >= 3
    lrs = {g["name"]: g["lr"] for g in checkpoint["optimizer_states"][0]["param_groups"]}
    # stage 2 runs at finetune_lr (1e-3) lowered along the half cosine: below it, not 0
    assert lrs["head"] == lrs["backbone"] and 0.0 < lrs["backbone"] < 1e-3

    resumed = subprocess.run(
        _fit_command(killed, f"ckpt_path={last}"), env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint" in resumed.stdout + resumed.stderr
    # What README says a resumed run shares with the uninterrupted one: the epochs before the
    # kill are its epochs, the stage switches and the run ends at the same epochs, with the
    # same learning rates. (Epochs after the resume are not bit-identical: the global random
    # state, e.g. of dropout, is not restored.)
    earlier = _epoch_log(killed / "csv" / "metrics.part1.csv")
    after = _epoch_log(killed / "csv" / "metrics.csv")
    reference = _epoch_log(full / "csv" / "metrics.csv")
    assert len(earlier) >= 3
    assert earlier["val/f1"].to_numpy() == pytest.approx(
        reference.loc[earlier.index, "val/f1"].to_numpy(), abs=1e-6
    )
    assert sorted({*earlier.index, *after.index}) == list(reference.index)  # same epochs
    ends = [
        torch.load(run / "checkpoints" / "last.ckpt", weights_only=False) for run in (full, killed)
    ]
    states = [next(v for k, v in c["callbacks"].items() if "TwoStage" in k) for c in ends]
    assert states[1]["stage2_start_epoch"] == states[0]["stage2_start_epoch"] > 0
    lrs = ["lr-Adam/head", "lr-Adam/backbone"]
    assert after[lrs].iloc[-1].tolist() == reference[lrs].iloc[-1].tolist()
    assert 0.0 <= _summary(killed)["f1"] <= 1.0 and _summary(full)["f1"] > 0.0


def _epoch_log(metrics_csv):
    """Validation F1 and learning rates per epoch of a run's CSV log (index: epoch)."""
    log = pd.read_csv(metrics_csv)
    lrs = log.filter(like="lr-").dropna(how="all").reset_index(drop=True)
    val = log.dropna(subset=["val/f1"]).groupby("epoch")["val/f1"].last().reset_index()
    return val.join(lrs).set_index("epoch")


def test_ddp_on_two_cpu_processes_gives_single_process_metrics(tiny_run, small_synthetic):
    module = AULitModule.load_detector(tiny_run / "checkpoints" / "best.ckpt")
    datamodule = AUDataModule(
        synthetic=SMALL_SYNTHETIC,
        data_root=str(small_synthetic.parents[1]),
        image_size=64,
        eval_batch_size=16,
    )
    datamodule.setup()
    test = datamodule.datasets["test"]
    keep = len(test) - 1  # odd: the distributed sampler must pad one sample, counted once
    test.paths, test.labels, test.mask = test.paths[:keep], test.labels[:keep], test.mask[:keep]
    options = dict(accelerator="cpu", logger=False, enable_progress_bar=False)
    single = L.Trainer(devices=1, **options).test(module, datamodule=datamodule, verbose=False)
    ddp = L.Trainer(devices=2, strategy="ddp_spawn", **options).test(
        module, datamodule=datamodule, verbose=False
    )
    keys = [k for k in single[0] if k.startswith(("test/f1", "test/auc"))]
    assert len(keys) > 10
    for key in keys:
        assert ddp[0][key] == pytest.approx(single[0][key], abs=1e-6), key


def test_only_rank_zero_moves_an_earlier_csv_log_aside(tmp_path, monkeypatch):
    from lightning.pytorch.utilities import rank_zero_only

    from au.run.builders import keep_earlier_csv_log

    (tmp_path / "metrics.csv").write_text("epoch\n0\n")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    keep_earlier_csv_log(tmp_path)  # a later-started DDP rank leaves rank 0's log alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    keep_earlier_csv_log(tmp_path)
    (tmp_path / "metrics.csv").write_text("epoch\n1\n")
    keep_earlier_csv_log(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.part1.csv", "metrics.part2.csv"]
    assert (tmp_path / "metrics.part1.csv").read_text() == "epoch\n0\n"
