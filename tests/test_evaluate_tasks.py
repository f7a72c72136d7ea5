"""au.evaluate on intensity, emotion and joint checkpoints: au.fit's record, the task's figures.

The AU-occurrence checkpoint is covered by ``test_evaluate.py`` and
``test_run_record.test_fit_and_evaluate_write_identical_metric_files``.
"""

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from au.evaluate import check_runtime, run_evaluate
from au.run.config import compose_config
from au.tasks.registry import build_task

from .conftest import compose_fit, small_fit_overrides

#: The figures au.evaluate draws for each task (beside ``training_curves.png``).
TASK_FIGURES = {
    "intensity": ("intensity_scatter.png",),
    "emotion": ("emotion_confusion.png", "emotion_roc.png"),
    "joint": ("f1_bars.png", "pr_curves.png", "roc_curves.png", "emotion_confusion.png"),
}
#: Summary keys that describe the command rather than the scores.
COMMAND_FACTS = {"checkpoint", "runtime", "threshold_source", "train_seconds", "data_read"}


@pytest.fixture(scope="module", params=["intensity", "emotion", "joint"])
def task_run(request, small_synthetic, tmp_path_factory):
    """``(task, output folder)`` of a finished tiny fit of the task (both stages)."""
    from au.fit import run_fit

    output_dir = tmp_path_factory.mktemp(f"tiny-{request.param}")
    extra = ("schedule.stage1_max_epochs=2", "schedule.stage2_epochs=2")
    run_fit(compose_fit(small_fit_overrides(output_dir, f"task={request.param}", *extra)))
    return request.param, output_dir


def evaluate(run_dir, out_dir, *extra):
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    overrides = [f"ckpt_path={ckpt}", f"paths.output_dir={out_dir}", "device=cpu", *extra]
    return run_evaluate(compose_config("evaluate", overrides))


def assert_same_values(fitted, evaluated, where: str) -> None:
    """Equal strings, lists and ``None`` (JSON's NaN); numbers within 1e-6."""
    if isinstance(fitted, float) or isinstance(evaluated, float):
        assert fitted == pytest.approx(evaluated, abs=1e-6), where
    elif isinstance(fitted, dict):
        assert fitted.keys() == evaluated.keys(), where
        for key in fitted:
            assert_same_values(fitted[key], evaluated[key], f"{where}.{key}")
    else:
        assert fitted == evaluated, where


@pytest.mark.slow
def test_fit_and_evaluate_write_identical_metric_files(task_run, tmp_path):
    """One checkpoint, two commands: the same tables and scores, and the task's figures."""
    task, run_dir = task_run
    result = evaluate(run_dir, tmp_path)
    fit_dir = run_dir / "results"
    tables = sorted(path.name for path in fit_dir.glob("test_*.csv"))
    assert tables == sorted(path.name for path in tmp_path.glob("test_*.csv"))
    assert len(tables) >= 2
    for name in tables:
        fitted, evaluated = pd.read_csv(fit_dir / name), pd.read_csv(tmp_path / name)
        pd.testing.assert_frame_equal(fitted, evaluated, check_exact=False, rtol=0, atol=1e-6)
    fitted = json.loads((fit_dir / "summary.json").read_text())
    evaluated = json.loads((tmp_path / "summary.json").read_text())
    assert fitted["task"] == evaluated["task"] == task
    headline = build_task({"name": task}).headline
    assert result["result"].headline == headline and headline in evaluated
    for key in sorted(fitted.keys() & evaluated.keys() - COMMAND_FACTS):
        assert_same_values(fitted[key], evaluated[key], key)
    # the data read is recorded alike, so au.compare pairs the evaluation with the fit
    assert evaluated["data_read"]["index"] == fitted["data_read"]["index"]
    assert evaluated["data_read"]["frames"] == fitted["data_read"]["frames"]
    for name in (*TASK_FIGURES[task], "training_curves.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    has_thresholds = task == "joint"
    assert ("threshold_source" in evaluated) == has_thresholds
    assert (result["thresholds"] is not None) == has_thresholds


@pytest.mark.slow
def test_retune_re_fits_the_au_thresholds_or_is_refused(task_run, tmp_path):
    """Joint re-tunes its AU head's thresholds on validation; the others have none to tune."""
    task, run_dir = task_run
    if task != "joint":
        with pytest.raises(ValueError, match=f"retune=true: task={task} has no decision step"):
            evaluate(run_dir, tmp_path, "retune=true", "plots=false")
        return
    from au.models.module import AULitModule

    result = evaluate(run_dir, tmp_path, "retune=true", "plots=false")
    saved = AULitModule.load_detector(
        run_dir / "checkpoints" / "best.ckpt"
    ).task_state.thresholds.double()
    assert result["thresholds"].numpy() == pytest.approx(saved.numpy(), abs=1e-4)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["threshold_source"] == "re-tuned on the validation subjects"


@pytest.mark.parametrize("task", ["intensity", "emotion", "joint"])
def test_onnx_runtime_is_refused_for_tasks_other_than_au_occurrence(task):
    model = SimpleNamespace(task=build_task({"name": task}))
    with pytest.raises(ValueError, match=f"runtime=onnx: task={task} checkpoints"):
        check_runtime("onnx", model)
    check_runtime("torch", model)
    check_runtime("onnx", SimpleNamespace(task=build_task({"name": "au"})))
