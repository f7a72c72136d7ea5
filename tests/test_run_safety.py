"""Runs that cannot start say why in one line, before any work, and leave no empty run folder."""

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

import au.run.folder as folder_module
from au.evaluate import check_retune, check_runtime
from au.inference.live import NoWindowError
from au.inference.media import MediaReadError, Source
from au.models.backbone import UnknownBackboneError, timm_name
from au.predict import build_live_view, check_cameras
from au.run.config_checks import ConfigValueError
from au.run.folder import INPUT_ERRORS, bad_input_stops_run
from au.tasks.registry import build_task

REPO = Path(__file__).resolve().parents[1]


# ---- run folders -------------------------------------------------------------------------
@pytest.fixture
def hydra_run(tmp_path, monkeypatch):
    """A run folder as Hydra leaves it before the command starts, as the current job's."""
    run = tmp_path / "logs" / "fit" / "runs" / "x"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("a: 1")
    (run / "fit.log").write_text("")
    hydra = SimpleNamespace(runtime=SimpleNamespace(output_dir=str(run)))
    monkeypatch.setattr(
        folder_module, "HydraConfig", SimpleNamespace(initialized=lambda: True, get=lambda: hydra)
    )
    monkeypatch.setattr(folder_module, "check_config_values", lambda config, command_keys: None)
    monkeypatch.chdir(tmp_path)
    return run


def test_a_crash_removes_the_run_folder_holding_only_hydra_files_and_keeps_its_traceback(
    hydra_run, tmp_path
):
    with pytest.raises(RuntimeError, match="a bug"), bad_input_stops_run(OmegaConf.create()):
        raise RuntimeError("a bug")
    assert list(tmp_path.iterdir()) == []  # the run and its empty parents


def test_a_crash_after_the_run_wrote_something_keeps_the_folder(hydra_run):
    (hydra_run / "checkpoints").mkdir()
    with pytest.raises(KeyError), bad_input_stops_run(OmegaConf.create()):
        raise KeyError("late")
    assert sorted(p.name for p in hydra_run.iterdir()) == [".hydra", "checkpoints", "fit.log"]


def test_a_user_error_is_one_line_and_exit_status_2(hydra_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught, bad_input_stops_run(OmegaConf.create()):
        raise UnknownBackboneError("unknown backbone 'nope'")
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: unknown backbone 'nope'\n"
    assert list(tmp_path.iterdir()) == []


# ---- errors that become one line ---------------------------------------------------------
def test_an_unknown_backbone_names_the_key_and_the_closest_names():
    assert issubclass(UnknownBackboneError, INPUT_ERRORS)
    with pytest.raises(UnknownBackboneError) as caught:
        timm_name("mobilenetv2_10")
    message = str(caught.value)
    assert message.startswith("unknown backbone 'mobilenetv2_10' (model.backbone.name): not an")
    assert "mobilenetv2_100" in message.split("; similar names: ")[1].split(", ")


@pytest.mark.parametrize("task", ["emotion", "intensity"])
def test_evaluate_options_a_task_cannot_take_are_user_errors(task):
    model = SimpleNamespace(task=build_task({"name": task}))
    with pytest.raises(ConfigValueError, match=f"^retune=true: task={task} has no decision"):
        check_retune(True, model)
    with pytest.raises(ConfigValueError, match=f"^runtime=onnx: task={task} checkpoints"):
        check_runtime("onnx", model)
    check_retune(False, model)
    assert issubclass(ConfigValueError, INPUT_ERRORS)


def test_a_missing_camera_is_named_before_the_model_is_loaded():
    with pytest.raises(MediaReadError) as caught:
        check_cameras([Source("camera", 57, "camera57")])
    assert str(caught.value).startswith("camera 57 could not be opened (input=57)")


def test_show_auto_without_window_support_predicts_without_a_window(monkeypatch, caplog):
    def no_window():
        raise NoWindowError("show=true: this OpenCV has no window support")

    monkeypatch.setattr("au.predict.opencv_window", no_window)
    camera = [Source("camera", 0, "camera0")]
    with caplog.at_level(logging.WARNING, logger="au.predict"):
        assert build_live_view(OmegaConf.create({"show": "auto"}), camera) is None
    assert [r.getMessage() for r in caplog.records] == [
        "no live window: this OpenCV has no window support"
    ]
    with pytest.raises(NoWindowError):
        build_live_view(OmegaConf.create({"show": True}), camera)
    assert issubclass(NoWindowError, INPUT_ERRORS)


# ---- the command lines -------------------------------------------------------------------
def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_cli_unknown_backbone_and_missing_camera_are_one_line(tiny_run, tmp_path):
    done = run_cli(
        "-m", "au.fit", "debug=fast", "backbone=timm", "model.backbone.name=densenet122",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: unknown backbone 'densenet122' (model.backbone.name): not an au alias")
    )
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    done = run_cli("-m", "au.predict", f"ckpt_path={ckpt}", "input=57", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: camera 57 could not be opened (input=57)")
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_crash_keeps_its_traceback_and_leaves_no_run_folder(tmp_path):
    code = (
        "import runpy, sys\n"
        "from au.inference.detector import AUDetector\n"
        "def crash(*args, **kwargs): raise RuntimeError('a bug, not the user')\n"
        "AUDetector.from_checkpoint = crash\n"
        "sys.argv = ['au.export', 'ckpt_path=x.ckpt']\n"
        "runpy.run_module('au.export', run_name='__main__')\n"
    )
    done = run_cli("-c", code, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: a bug, not the user" in done.stderr
    assert list(tmp_path.iterdir()) == []
