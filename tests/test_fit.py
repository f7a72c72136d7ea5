"""A short fit of the tiny backbone on the synthetic set learns, and its checkpoint is complete."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from au.models.module import AULitModule

# Every test trains a model (or reads the tiny_run fit).
pytestmark = pytest.mark.slow


def test_short_fit_clearly_beats_chance(data_root, tmp_path):
    """The tiny backbone, trained from scratch for half a minute, beats chance on new subjects.

    Measured on this config on 2026-12-02, with ``seed`` driving the batch order (seeds 42, 1,
    2): test ROC-AUC 0.82 / 0.88 / 0.85, F1 at tuned thresholds 0.44 / 0.38 / 0.30, F1 at 0.5
    0.43 / 0.34 / 0.30; all-positive F1 0.17. The validation share is pinned at 0.25 (12
    training subjects; with the default's 0.3, 11 subjects, ROC-AUC fell to 0.57). With
    fewer frames per subject each subject holds only one or two episodes and a network trained
    from scratch learns identities instead of AUs (held-out ROC-AUC near or below 0.5).
    """
    from au.fit import run_fit

    from .conftest import compose_fit

    overrides = [
        "backbone=tiny",
        "logger=csv",
        "data.synthetic={num_subjects:24,frames_per_subject:150,image_size:64,difficulty:0}",
        "data.image_size=64",
        "data.val_fraction=0.25",
        "schedule=stage2_only",
        "schedule.stage2_lr_decay=none",  # a from-scratch net wants its full rate to the end
        # 10 epochs from scratch: no style randomization (with the default 0.5 this fit reached
        # average F1 0.193 against the 0.253 asserted below, 2026-12-05)
        "data.augment.style=0.0",
        "schedule.stage2_epochs=10",
        "model.optimizer.lr=3e-3",
        "model.optimizer.finetune_lr=3e-3",
        "trainer.enable_progress_bar=false",
        f"paths.output_dir={tmp_path}",
    ]
    run_fit(compose_fit(overrides))
    metrics = pd.read_csv(tmp_path / "results" / "test_metrics.csv").set_index("au")
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    # chance ROC-AUC is 0.5; the large mouth movements are learnt best
    assert metrics.loc["average", "roc_auc"] > 0.75
    assert metrics.loc["AU25", "roc_auc"] > 0.9 and metrics.loc["AU26", "roc_auc"] > 0.85
    # the trivial predictors: all-positive F1 0.17 on these 8 test subjects, majority 0.0
    assert summary["majority_f1"] == 0.0
    assert summary["f1"] > 1.5 * summary["all_positive_f1"]
    assert summary["f1@0.5"] > 2 * summary["all_positive_f1"]
    assert summary["f1"] < 0.95  # far from solved


def test_checkpoint_carries_aus_thresholds_and_config(tiny_run):
    path = tiny_run / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["aus"] == ["AU1", "AU2", "AU4", "AU6", "AU9", "AU12", "AU25", "AU26"]
    assert hparams["data_config"]["image_size"] == 64
    thresholds = checkpoint["state_dict"]["task_state.thresholds"]  # the AU task's decision state
    assert thresholds.shape == (8,) and not torch.all(thresholds == 0.5)  # tuned on validation
    model = AULitModule.load_detector(path)
    assert torch.equal(model.task_state.thresholds, thresholds)
    # last.ckpt is the end of training (the epoch after which a killed run resumes), not a
    # copy of the best epoch, whatever the monitor did on the way
    last = torch.load(
        tiny_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    epochs = pd.read_csv(tiny_run / "csv" / "metrics.csv").dropna(subset=["val/f1"])["epoch"]
    assert last["epoch"] == epochs.max() and last["epoch"] >= checkpoint["epoch"]


def test_fit_tests_the_checkpoint_the_schedule_names(tiny_run, small_synthetic, tmp_path):
    """``schedule.test_checkpoint=last`` tests the end of training, the default the best epoch."""
    from au.fit import run_fit

    from .conftest import compose_fit, small_fit_overrides

    best = json.loads((tiny_run / "results" / "summary.json").read_text())
    assert Path(best["checkpoint"]) == tiny_run / "checkpoints" / "best.ckpt"
    run_fit(compose_fit(small_fit_overrides(tmp_path, "schedule.test_checkpoint=last")))
    last = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert Path(last["checkpoint"]) == tmp_path / "checkpoints" / "last.ckpt"
    report = (tmp_path / "results" / "report.md").read_text()
    assert f"checkpoint {tmp_path / 'checkpoints' / 'last.ckpt'}" in report.splitlines()[0]
    assert last["checkpoint_stage"] == 2 and "lies in stage 1" not in report


def test_a_tested_checkpoint_from_stage_one_is_named(small_synthetic, tmp_path):
    """With no stage-2 epoch the best checkpoint is a frozen-backbone one: summary and report
    say so."""
    from au.fit import run_fit

    from .conftest import compose_fit, small_fit_overrides

    run_fit(compose_fit(small_fit_overrides(tmp_path, "schedule.stage2_epochs=0")))
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["checkpoint_stage"] == 1 and 0 <= summary["checkpoint_epoch"] <= 2
    report = (tmp_path / "results" / "report.md").read_text()
    assert f"(epoch {summary['checkpoint_epoch']}) lies in stage 1" in report


def test_fit_is_repeatable_with_a_seed(tiny_run, small_synthetic, tmp_path):
    from au.fit import run_fit

    from .conftest import compose_fit, small_fit_overrides

    again = run_fit(compose_fit(small_fit_overrides(tmp_path)))
    first = json.loads((tiny_run / "results" / "summary.json").read_text())
    assert again["test/f1"] == pytest.approx(first["f1"], abs=1e-6)
