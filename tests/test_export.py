"""au.export: ONNX/TorchScript parity with PyTorch, sidecar JSON, int8 size and agreement."""

import json
from pathlib import Path

import numpy as np
import pytest

from au.export import ExportParityError, run_export
from au.inference.detector import AUDetector
from au.inference.onnx_torchscript import run_onnx, run_torchscript

# Every test exports the tiny_run fit (a trained model); one runs the command line.
pytestmark = pytest.mark.slow


def compose_export(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    config_dir = str(Path(__file__).resolve().parents[1] / "configs")
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        return compose(config_name="export", overrides=overrides)


@pytest.fixture(scope="module")
def ckpt(tiny_run) -> Path:
    return tiny_run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def exported(ckpt, small_synthetic, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("export")
    config = compose_export(
        [f"ckpt_path={ckpt}", f"output_dir={output_dir}", f"images={small_synthetic}"]
        + ["format=both", "quantize=true", "num_images=96"]
    )
    return {result.kind: result for result in run_export(config)}


def test_onnx_and_torchscript_match_pytorch_on_real_crops(exported):
    assert set(exported) == {"onnx", "onnx int8", "torchscript"}
    for kind in ("onnx", "torchscript"):
        comparison = exported[kind].comparison
        assert comparison.num_faces == 96
        assert comparison.max_abs_diff < 1e-5 and comparison.decision_agreement == 1.0


def test_exports_take_any_batch_size_and_agree_with_the_detector(exported, ckpt, small_synthetic):
    from au.data.dataset import read_image

    detector = AUDetector.from_checkpoint(ckpt)
    crops = [read_image(p, 3) for p in sorted(Path(small_synthetic).rglob("*.jpg"))[:5]]
    images = detector.preprocess(crops).numpy()  # (5, C, H, W)
    expected = detector.probabilities(crops)  # (5, A)
    for batch in (images[:1], images):
        names = ("au_probabilities", "au_decisions")
        onnx = run_onnx(exported["onnx"].path, batch)
        script = run_torchscript(exported["torchscript"].path, batch, names)
        for outputs in (onnx, script):
            assert list(outputs) == list(names)
            probabilities = outputs["au_probabilities"]
            np.testing.assert_allclose(probabilities, expected[: len(batch)], atol=1e-5)
            np.testing.assert_array_equal(
                outputs["au_decisions"], probabilities > detector.thresholds
            )


def test_sidecar_holds_thresholds_and_preprocessing(exported, ckpt):
    detector = AUDetector.from_checkpoint(ckpt)
    for result in exported.values():
        sidecar = json.loads(result.path.with_name(result.path.name + ".json").read_text())
        assert sidecar["file"] == result.path.name and sidecar["aus"] == detector.aus
        assert sidecar["task"] == "au"
        assert list(sidecar["outputs"]) == ["au_probabilities", "au_decisions"]
        assert sidecar["outputs"]["au_probabilities"]["labels"] == detector.aus
        np.testing.assert_allclose(sidecar["thresholds"], detector.thresholds, atol=1e-6)
        assert (sidecar["image_size"], sidecar["channels"]) == (64, 3)
        np.testing.assert_allclose(sidecar["mean"], [0.485, 0.456, 0.406])
        np.testing.assert_allclose(sidecar["std"], [0.229, 0.224, 0.225])


def test_int8_onnx_is_smaller_and_mostly_agrees(exported):
    fp32, int8 = exported["onnx"], exported["onnx int8"]
    ratio = int8.path.stat().st_size / fp32.path.stat().st_size
    print(f"int8/fp32 size {ratio:.2f}; {int8.comparison.format()}")
    assert ratio < 0.6
    # measured 96.6-97.3% of face-AU pairs (the tiny model's scores sit close to its thresholds)
    assert int8.comparison.decision_agreement >= 0.9 and int8.comparison.max_abs_diff < 0.05


def test_parity_failure_and_bad_options_are_clear_errors(ckpt, tmp_path):
    base = [f"ckpt_path={ckpt}", f"output_dir={tmp_path}", "num_images=4"]
    with pytest.raises(ExportParityError, match="tolerance"):
        run_export(compose_export([*base, "format=onnx", "tolerance=-1"]))
    with pytest.raises(ValueError, match="quantize=true needs the ONNX export"):
        run_export(compose_export([*base, "format=torchscript", "quantize=true"]))
    with pytest.raises(ValueError, match="format='tflite'"):
        run_export(compose_export([*base, "format=tflite"]))


def test_command_line_exports_onnx(ckpt, tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "au.export", f"ckpt_path={ckpt}", "format=onnx"]
    command += [f"output_dir={tmp_path}", "num_images=8"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "parity onnx vs PyTorch" in done.stdout
    assert (tmp_path / "detector.onnx").is_file() and (tmp_path / "detector.onnx.json").is_file()
