"""The JSON sidecar of an export (au.inference.sidecar): its contents for each task, and reading.

The models are untrained (timm's test network); ``write_sidecar`` reads their settings only, so
nothing is exported or run here.
"""

import json

import pytest
import torch

from au.emotions import BASIC_EMOTIONS
from au.inference.onnx_torchscript import InferenceModel
from au.inference.sidecar import (
    read_sidecar,
    sidecar_output_names,
    sidecar_path_of,
    write_sidecar,
)
from au.models.module import AULitModule

AUS = ["AU1", "AU12", "AU25"]
AU_NAMES = ["Inner brow raiser", "Lip corner puller", "Lips part"]
#: float32 thresholds; the sidecar rounds them to 6 decimals.
THRESHOLDS = [0.1234567, 0.5, 0.875]
RGB = {"image_size": 48, "channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
GRAY = {"image_size": 40, "channels": 1, "mean": [0.449], "std": [0.226]}
PREPROCESSING = (
    "square face crop resized (bilinear) to image_size x image_size, pixel / 255, minus mean, "
    "divided by std, channels first"
)
AU_PROBABILITIES = {
    "shape": ["batch", 3],
    "labels": AUS,
    "meaning": "float32: sigmoid of the AU logits",
}
EMOTION_PROBABILITIES = {
    "shape": ["batch", 7],
    "labels": list(BASIC_EMOTIONS),
    "meaning": "float32: softmax over the emotion classes",
}


def module_of(task: str, data_config: dict = RGB) -> AULitModule:
    """An untrained model of ``task`` with :data:`THRESHOLDS` as its tuned thresholds (AU tasks;
    intensity and emotion keep no AU decision state)."""
    module = AULitModule(
        aus=AUS,
        backbone={"name": "test_efficientnet", "pretrained": False},
        data_config=data_config,
        task={"name": task},
    )
    if task in ("au", "joint"):
        module.task_state.thresholds.copy_(torch.tensor(THRESHOLDS))
    else:
        assert not list(module.task_state.buffers())
    return module


def input_of(config: dict, color: str) -> dict:
    size, channels = config["image_size"], config["channels"]
    return {
        "name": "images",
        "shape": ["batch", channels, size, size],
        "dtype": "float32",
        "color": color,
        "preprocessing": PREPROCESSING,
    }


def test_an_au_model_lists_aus_rounded_thresholds_preprocessing_and_both_outputs(tmp_path):
    module = module_of("au")
    path = write_sidecar(tmp_path / "detector.onnx", InferenceModel(module), module, opset=17)
    assert path == tmp_path / "detector.onnx.json" == sidecar_path_of(tmp_path / "detector.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["detector.onnx.json"]  # no staging file left
    rule = "bool: AU present, au_probabilities > thresholds"
    decisions = {"shape": ["batch", 3], "labels": AUS, "meaning": rule}
    assert json.loads(path.read_text()) == {
        "file": "detector.onnx",
        "task": "au",
        "backbone": "test_efficientnet",
        "aus": AUS,
        "au_names": AU_NAMES,
        "thresholds": [0.123457, 0.5, 0.875],
        **RGB,
        "input": input_of(RGB, "RGB"),
        "outputs": {"au_probabilities": AU_PROBABILITIES, "au_decisions": decisions},
        "opset": 17,
    }
    assert list(json.loads(path.read_text())["outputs"]) == ["au_probabilities", "au_decisions"]


def test_an_intensity_model_gives_its_occurrence_threshold_not_thresholds(tmp_path):
    module = module_of("intensity", GRAY)
    model = InferenceModel(module, occurrence_threshold=1.5)
    sidecar = json.loads(write_sidecar(tmp_path / "m.pt", model, module).read_text())
    assert "thresholds" not in sidecar and sidecar["occurrence_threshold"] == 1.5
    assert sidecar["aus"] == AUS and sidecar["au_names"] == AU_NAMES
    assert (sidecar["image_size"], sidecar["channels"]) == (40, 1)
    assert (sidecar["mean"], sidecar["std"]) == ([0.449], [0.226])
    assert sidecar["input"] == input_of(GRAY, "grayscale")
    assert sidecar["outputs"] == {
        "intensities": {
            "shape": ["batch", 3],
            "labels": AUS,
            "meaning": "float32: AU intensity on 0-5 (0 absent, 1-5 FACS levels A-E)",
        },
        "au_decisions": {
            "shape": ["batch", 3],
            "labels": AUS,
            "meaning": "bool: AU present, intensities >= occurrence_threshold",
        },
    }


def test_an_emotion_model_has_no_aus_and_the_joint_model_has_both_heads(tmp_path):
    emotion = module_of("emotion")
    sidecar = json.loads(
        write_sidecar(tmp_path / "e.onnx", InferenceModel(emotion), emotion).read_text()
    )
    assert sidecar["task"] == "emotion"
    assert not {"aus", "au_names", "thresholds", "occurrence_threshold"} & set(sidecar)
    assert sidecar["outputs"] == {"emotion_probabilities": EMOTION_PROBABILITIES}
    joint = module_of("joint")
    sidecar = json.loads(
        write_sidecar(tmp_path / "j.onnx", InferenceModel(joint), joint).read_text()
    )
    assert sidecar["thresholds"] == [0.123457, 0.5, 0.875]
    assert list(sidecar["outputs"]) == ["au_probabilities", "emotion_probabilities", "au_decisions"]
    assert sidecar["outputs"]["au_probabilities"] == AU_PROBABILITIES
    assert sidecar["outputs"]["emotion_probabilities"] == EMOTION_PROBABILITIES
    assert sidecar_output_names(tmp_path / "j.onnx") == (
        "au_probabilities",
        "emotion_probabilities",
        "au_decisions",
    )


@pytest.mark.parametrize(
    ("text", "read"),
    [
        (None, None),  # no sidecar
        ("{not json", None),
        ("[1, 2]", None),  # JSON, but not an object
        ('{"task": "au"}', {"task": "au"}),  # an object without outputs
        ('{"outputs": 3}', {"outputs": 3}),  # outputs that are no list of names
    ],
)
def test_a_missing_unreadable_or_foreign_sidecar_has_no_output_names(tmp_path, text, read):
    path = tmp_path / "detector.onnx"
    if text is not None:
        sidecar_path_of(path).write_text(text)
    assert read_sidecar(path) == read
    assert sidecar_output_names(path) is None


def test_the_crop_geometry_the_model_was_trained_on_is_passed_on(tmp_path):
    geometry = {"method": "template5", "margin": 0.15}
    module = module_of("au", {**GRAY, "crop_geometry": geometry})
    path = write_sidecar(tmp_path / "m.onnx", InferenceModel(module), module)
    assert json.loads(path.read_text())["crop_geometry"] == geometry
    plain = module_of("au", GRAY)
    path = write_sidecar(tmp_path / "p.onnx", InferenceModel(plain), plain)
    assert "crop_geometry" not in json.loads(path.read_text())
