"""A short fit of the tiny backbone on the synthetic set learns, and its checkpoint is complete."""

import json

import pandas as pd
import pytest
import torch

from au.models.module import AULitModule


@pytest.mark.slow
def test_short_fit_clearly_beats_chance(data_root, tmp_path):
    """The tiny backbone, trained from scratch for a minute, learns the mouth AUs."""
    from au.fit import run_fit

    from .conftest import compose_fit

    overrides = [
        "backbone=tiny",
        "logger=csv",
        "data.synthetic={num_subjects:12,frames_per_subject:100,image_size:64,difficulty:0}",
        "data.fold=3",  # the fold of this set whose test subjects show every AU
        "data.image_size=64",
        "schedule=stage2_only",
        "schedule.stage2_epochs=8",
        "model.optimizer.lr=3e-3",
        "model.optimizer.finetune_lr=3e-3",
        "trainer.enable_progress_bar=false",
        f"paths.output_dir={tmp_path}",
    ]
    run_fit(compose_fit(overrides))
    metrics = pd.read_csv(tmp_path / "results" / "test_metrics.csv").set_index("au")
    baselines = json.loads((tmp_path / "results" / "summary.json").read_text())
    # chance ROC-AUC is 0.5; the tiny network from scratch learns the large mouth movements
    assert metrics.loc["AU25", "roc_auc"] > 0.75 and metrics.loc["AU26", "roc_auc"] > 0.8
    assert metrics.loc["AU25", "f1"] > 0.5  # all-positive F1 on these frames: 0.42
    assert baselines["majority_f1"] == 0.0 and metrics.loc["average", "f1"] < 0.95


def test_checkpoint_carries_aus_thresholds_and_config(tiny_run):
    path = tiny_run / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["aus"] == ["AU1", "AU2", "AU4", "AU6", "AU9", "AU12", "AU25", "AU26"]
    assert hparams["data_config"]["image_size"] == 64
    thresholds = checkpoint["state_dict"]["thresholds"]
    assert thresholds.shape == (8,) and not torch.all(thresholds == 0.5)  # tuned on validation
    model = AULitModule.load_detector(path)
    assert torch.equal(model.thresholds, thresholds)
    assert (tiny_run / "checkpoints" / "last.ckpt").exists()


def test_fit_is_repeatable_with_a_seed(tiny_run, small_synthetic, tmp_path):
    from au.fit import run_fit

    from .conftest import compose_fit, small_fit_overrides

    again = run_fit(compose_fit(small_fit_overrides(tmp_path)))
    first = json.loads((tiny_run / "results" / "summary.json").read_text())
    assert again["test/f1"] == pytest.approx(first["f1"], abs=1e-6)
