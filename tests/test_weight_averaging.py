"""``schedule.ema_decay``: the averaged weights are validated, saved and tested with their own
decision step."""

import json

import pytest
import torch

from au.callbacks import AveragedWeights
from au.evaluate import run_evaluate
from au.models.module import AULitModule
from au.run.config import compose_config

from .conftest import compose_fit, small_fit_overrides


def test_decay_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="ema_decay must lie strictly between 0 and 1, got 1.0"):
        AveragedWeights(1.0)


@pytest.fixture(scope="module")
def averaged_run(small_synthetic, tmp_path_factory):
    from au.fit import run_fit

    output_dir = tmp_path_factory.mktemp("ema-run")
    run_fit(compose_fit(small_fit_overrides(output_dir, "schedule.ema_decay=0.9")))
    return output_dir


@pytest.mark.slow
def test_checkpoint_holds_the_average_and_the_training_weights_apart(averaged_run):
    checkpoint = torch.load(averaged_run / "checkpoints" / "best.ckpt", weights_only=False)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert averaged.keys() == current.keys()
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged if "head" in k)


@pytest.mark.slow
def test_saved_thresholds_are_the_ones_the_averaged_weights_tune(averaged_run, tmp_path):
    """Re-tuning on validation with the checkpoint's (averaged) weights gives its thresholds,
    and au.fit's test scores are au.evaluate's on the same checkpoint."""
    ckpt = averaged_run / "checkpoints" / "best.ckpt"
    overrides = [f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path}", "plots=false"]
    retuned = run_evaluate(compose_config("evaluate", [*overrides, "retune=true"]))
    saved = AULitModule.load_detector(ckpt).task_state.thresholds.double()
    assert not torch.all(saved == 0.5)
    assert retuned["thresholds"].numpy() == pytest.approx(saved.numpy(), abs=1e-4)
    run_evaluate(compose_config("evaluate", overrides))
    evaluated = json.loads((tmp_path / "summary.json").read_text())
    fitted = json.loads((averaged_run / "results" / "summary.json").read_text())
    assert evaluated["f1"] == pytest.approx(fitted["f1"], abs=1e-6)
    assert evaluated["roc_auc"] == pytest.approx(fitted["roc_auc"], abs=1e-6)
