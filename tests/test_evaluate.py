"""au.evaluate on the tiny checkpoint: files, numbers recomputed from the model, thresholds."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from au.data.datamodule import AUDataModule
from au.evaluate import (
    checkpoint_data_settings,
    evaluation_datamodule,
    run_evaluate,
    training_marks,
)
from au.evaluation.occurrence_metrics import per_au_metrics
from au.models.module import AULitModule
from au.run.config import compose_config

FIGURES = ("f1_bars.png", "pr_curves.png", "roc_curves.png", "training_curves.png")

# Every test evaluates the tiny_run fit (a trained model); one runs the command line.
pytestmark = pytest.mark.slow


def evaluate_config(ckpt, out_dir, *extra):
    return compose_config("evaluate", [f"ckpt_path={ckpt}", f"paths.output_dir={out_dir}", *extra])


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("evaluation")
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    return ckpt, run_evaluate(evaluate_config(ckpt, out_dir, "device=cpu"))


def test_writes_tables_report_and_figures(evaluated):
    _, result = evaluated
    out_dir = result["out_dir"]
    tables = ("test_metrics.csv", "test_metrics_at_0.5.csv", "test_baselines.csv")
    for name in (*tables, "test_predictions.csv", "report.md", *FIGURES):
        assert (out_dir / name).is_file() and (out_dir / name).stat().st_size > 0, name
    metrics = pd.read_csv(out_dir / "test_metrics.csv")
    expected = ["precision", "recall", "f1", "roc_auc", "pr_auc", "support"]
    assert set(expected) <= set(metrics.columns)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["f1"] == pytest.approx(metrics["f1"].iloc[-1])
    assert summary["split"] == "test" and summary["frames"] == len(result["predictions"]["probs"])
    assert "| average |" in (out_dir / "report.md").read_text()


def test_f1_equals_f1_recomputed_from_the_model(evaluated):
    ckpt, result = evaluated
    model = AULitModule.load_detector(ckpt)
    datamodule = AUDataModule(**{**checkpoint_data_settings(ckpt), "cache_images": False})
    datamodule.setup("test")
    probs, labels, masks = [], [], []
    with torch.inference_mode():
        for batch in datamodule.loader("test", shuffle=False):
            probs.append(torch.sigmoid(model(batch["image"]).double()))
            labels.append(batch["labels"])
            masks.append(batch["mask"])
    expected = per_au_metrics(
        torch.cat(probs),
        torch.cat(labels),
        torch.cat(masks),
        model.aus,
        model.task_state.thresholds,
    )
    written = pd.read_csv(result["out_dir"] / "test_metrics.csv")
    assert len(written) == len(model.aus) + 1
    pd.testing.assert_series_equal(written["f1"], expected["f1"], check_exact=False, rtol=1e-9)
    assert written["support"].tolist() == expected["support"].tolist()
    # and the same as au.fit's own test report of this checkpoint
    fit_report = pd.read_csv(ckpt.parents[1] / "results" / "test_metrics.csv")
    assert written["f1"].iloc[-1] == pytest.approx(fit_report["f1"].iloc[-1], abs=1e-6)


def test_reports_the_checkpoints_thresholds(evaluated):
    ckpt, result = evaluated
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    saved = state["task_state.thresholds"]
    written = pd.read_csv(result["out_dir"] / "test_metrics.csv")["threshold"].iloc[:-1]
    assert written.to_numpy() == pytest.approx(saved.double().numpy())
    summary = json.loads((result["out_dir"] / "summary.json").read_text())
    assert summary["threshold_source"].startswith("checkpoint")
    assert list(summary["thresholds"].values()) == pytest.approx(saved.double().numpy())


def test_retuning_on_validation_reproduces_the_saved_thresholds(tiny_run, tmp_path):
    # best.ckpt's thresholds were tuned on the validation subjects with the same weights
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    result = run_evaluate(evaluate_config(ckpt, tmp_path, "retune=true", "plots=false"))
    saved = AULitModule.load_detector(ckpt).task_state.thresholds.double()
    assert result["thresholds"].numpy() == pytest.approx(saved.numpy(), abs=1e-4)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["threshold_source"] == "re-tuned on the validation subjects"


def test_data_settings_default_to_the_checkpoint_and_can_be_overridden(tiny_run, tmp_path):
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    model = AULitModule.load_detector(ckpt)
    trained_on = evaluation_datamodule(evaluate_config(ckpt, tmp_path), model, ckpt)
    other_fold = evaluation_datamodule(evaluate_config(ckpt, tmp_path, "+data.fold=2"), model, ckpt)
    assert trained_on.fold == 1 and other_fold.fold == 2
    assert trained_on.aus == model.aus and trained_on.image_size == 64
    assert set(trained_on.subjects["test"]).isdisjoint(other_fold.subjects["test"])


def test_training_marks_find_the_stage_switch(tiny_run):
    marks = training_marks(tiny_run / "checkpoints" / "best.ckpt")
    assert 1 <= marks["stage2_epoch"] <= 3  # stage 1 lasts at most 3 epochs in tiny_run
    assert 0 <= marks["best_epoch"] <= 5


def test_command_line_writes_beside_the_run(tiny_run):
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    command = [sys.executable, "-m", "au.evaluate", f"ckpt_path={ckpt}", "plots=false"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    assert (tiny_run / "evaluation" / "test" / "test_metrics.csv").is_file()
