"""au.predict and au.export on every task's checkpoint: columns, numbers by hand, export parity.

Each checkpoint is a small untrained model (timm's test network at 48 px) saved in the layout
``au.fit`` writes, with tuned-looking thresholds; nothing trains here.
"""

import json
from pathlib import Path

import lightning
import numpy as np
import pandas as pd
import pytest
import torch

from au.data.dataset import read_image
from au.data.transforms import normalization
from au.emotions import BASIC_EMOTIONS, EMOTIONS
from au.emotions.readout import emotion_scores, predict_emotion
from au.export import run_export
from au.inference.annotate import face_label, face_labels
from au.inference.detector import AUDetector
from au.inference.onnx_torchscript import run_onnx, run_torchscript
from au.inference.records import FRAME_COLUMNS, FacePredictions
from au.inference.runtime import ensure_onnx, onnx_path_for
from au.models.module import AULitModule
from tests.test_export import compose_export
from tests.test_predict import predict, synthetic_faces, write_rgb

AUS = ["AU1", "AU2", "AU4", "AU6", "AU12", "AU15", "AU25", "AU26"]
THRESHOLDS = [0.35, 0.6, 0.45, 0.5, 0.4, 0.55, 0.3, 0.65]
TASKS = ("au", "intensity", "emotion", "joint")
#: The intensity checkpoint's ``data.positive_threshold`` (DISFA and the synthetic set use 2).
POSITIVE_THRESHOLD = 1.5
#: The outputs of each task's exported model, in order.
OUTPUT_NAMES = {
    "au": ["au_probabilities", "au_decisions"],
    "intensity": ["intensities", "au_decisions"],
    "emotion": ["emotion_probabilities"],
    "joint": ["au_probabilities", "emotion_probabilities", "au_decisions"],
}
READOUT = dict(rule="calibrated", thresholds=np.array(THRESHOLDS))


def task_module(task: str) -> AULitModule:
    """An untrained model of ``task`` whose outputs spread over their range."""
    mean, std = normalization(3)
    torch.manual_seed(TASKS.index(task))
    module = AULitModule(
        aus=AUS,
        backbone={"name": "test_efficientnet", "pretrained": False},
        data_config={"image_size": 48, "channels": 3, "mean": mean, "std": std},
        task={"name": task},
    ).eval()
    if task in ("au", "joint"):
        module.task_state.thresholds.copy_(torch.tensor(THRESHOLDS))
    with torch.no_grad():
        for name, parameter in module.head.named_parameters():
            if name.endswith("fc.weight"):
                parameter.mul_(8.0)  # a wider spread of logits than the default init
        if task == "intensity":
            module.head.fc.bias.fill_(1.5)  # intensities around the occurrence threshold
    return module


def save_checkpoint(module: AULitModule, path: Path, data: dict | None = None) -> Path:
    """The module in the layout of a Lightning checkpoint written by ``au.fit``."""
    checkpoint = {
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(module.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    if data is not None:
        checkpoint["datamodule_hyper_parameters"] = {"data": data}
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("task-checkpoints")
    data = {"intensity": {"positive_threshold": POSITIVE_THRESHOLD}}
    return {
        task: save_checkpoint(task_module(task), folder / f"{task}.ckpt", data.get(task))
        for task in TASKS
    }


@pytest.fixture(scope="module")
def crops_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("task-crops")
    for index, crop in enumerate(synthetic_faces(4, size=48)):
        write_rgb(folder / f"face{index}.png", crop)
    return folder


def head_outputs(ckpt: Path, folder: Path):
    """The checkpoint's module and its head's raw outputs on the folder's crops, by hand."""
    module = AULitModule.load_detector(ckpt)
    crops = [read_image(path, 3) for path in sorted(folder.glob("*.png"))]
    images = AUDetector(module).preprocess(crops)  # (N, 3, 48, 48)
    with torch.no_grad():
        return module, module.head(module.backbone(images))


def columns(rows: pd.DataFrame, prefix: str, names) -> np.ndarray:
    return rows[[f"{prefix}{name}" for name in names]].to_numpy(float)


# ---- predict ------------------------------------------------------------------------------
def test_au_rows_hold_probabilities_decisions_and_the_calibrated_readout(
    checkpoints, crops_folder, tmp_path, capsys
):
    _, rows = predict(checkpoints["au"], crops_folder, tmp_path, "detector=none")
    assert list(rows.columns) == [
        *FRAME_COLUMNS, *(f"p_{a}" for a in AUS), *AUS,
        *(f"emotion_{e}" for e in EMOTIONS), "top_emotion",
    ]  # fmt: skip
    module, logits = head_outputs(checkpoints["au"], crops_folder)
    probabilities = torch.sigmoid(logits).numpy()  # (4, A)
    np.testing.assert_allclose(columns(rows, "p_", AUS), probabilities, atol=2e-6)
    np.testing.assert_array_equal(rows[AUS].to_numpy(), probabilities > np.array(THRESHOLDS))
    assert 0 < rows[AUS].to_numpy().mean() < 1  # some AUs on, some off
    scores = emotion_scores(probabilities, AUS, EMOTIONS, **READOUT)
    np.testing.assert_allclose(columns(rows, "emotion_", EMOTIONS), scores, atol=2e-6)
    assert rows["top_emotion"].tolist() == list(predict_emotion(probabilities, AUS, **READOUT))
    printed = capsys.readouterr().out
    assert "emotions from the AU read-out (calibrated rule" in printed and "With 8 AUs" in printed
    assert "read-out scores neutral, happiness" in printed and "; not contempt" in printed


def test_intensity_rows_hold_decoded_intensities_and_occurrence_at_the_data_threshold(
    checkpoints, crops_folder, tmp_path, capsys
):
    _, rows = predict(checkpoints["intensity"], crops_folder, tmp_path, "detector=none")
    assert list(rows.columns) == [
        *FRAME_COLUMNS, *(f"i_{a}" for a in AUS), *AUS,
        *(f"emotion_{e}" for e in EMOTIONS), "top_emotion",
    ]  # fmt: skip
    module, raw = head_outputs(checkpoints["intensity"], crops_folder)
    intensities = module.head.decode(raw).numpy()  # (4, A) on 0-5
    assert 0 < (intensities >= POSITIVE_THRESHOLD).mean() < 1
    np.testing.assert_allclose(columns(rows, "i_", AUS), intensities, atol=5e-4)  # 3 decimals
    np.testing.assert_array_equal(rows[AUS].to_numpy(), intensities >= POSITIVE_THRESHOLD)
    # the read-out sees intensity / 5 against the occurrence threshold / 5
    readout = dict(rule="calibrated", thresholds=np.full(len(AUS), POSITIVE_THRESHOLD / 5))
    scores = emotion_scores(intensities / 5, AUS, EMOTIONS, **readout)
    np.testing.assert_allclose(columns(rows, "emotion_", EMOTIONS), scores, atol=2e-6)
    assert rows["top_emotion"].tolist() == list(predict_emotion(intensities / 5, AUS, **readout))
    assert "read-out of the intensities" in capsys.readouterr().out


def test_emotion_rows_hold_the_softmax_of_the_emotion_head(
    checkpoints, crops_folder, tmp_path, capsys
):
    _, rows = predict(checkpoints["emotion"], crops_folder, tmp_path, "detector=none")
    emotion_columns = [f"emotion_{e}" for e in BASIC_EMOTIONS]
    assert list(rows.columns) == [*FRAME_COLUMNS, *emotion_columns, "top_emotion"]
    _, logits = head_outputs(checkpoints["emotion"], crops_folder)
    softmax = torch.softmax(logits, -1).numpy()  # (4, 7)
    np.testing.assert_allclose(rows[emotion_columns].to_numpy(float), softmax, atol=2e-6)
    assert rows["top_emotion"].tolist() == [BASIC_EMOTIONS[i] for i in softmax.argmax(-1)]
    printed = capsys.readouterr().out
    assert "emotions from the model's emotion head" in printed and "With 8 AUs" not in printed


def test_joint_rows_hold_both_heads_and_the_readout_beside_them(
    checkpoints, crops_folder, tmp_path, capsys
):
    _, rows = predict(checkpoints["joint"], crops_folder, tmp_path, "detector=none")
    assert list(rows.columns) == [
        *FRAME_COLUMNS, *(f"p_{a}" for a in AUS), *AUS,
        *(f"emotion_{e}" for e in BASIC_EMOTIONS), "top_emotion",
        *(f"readout_{e}" for e in EMOTIONS), "readout_emotion",
    ]  # fmt: skip
    _, outputs = head_outputs(checkpoints["joint"], crops_folder)
    probabilities = torch.sigmoid(outputs["au"]).numpy()
    softmax = torch.softmax(outputs["emotion"], -1).numpy()
    np.testing.assert_allclose(columns(rows, "p_", AUS), probabilities, atol=2e-6)
    np.testing.assert_array_equal(rows[AUS].to_numpy(), probabilities > np.array(THRESHOLDS))
    np.testing.assert_allclose(columns(rows, "emotion_", BASIC_EMOTIONS), softmax, atol=2e-6)
    assert rows["top_emotion"].tolist() == [BASIC_EMOTIONS[i] for i in softmax.argmax(-1)]
    scores = emotion_scores(probabilities, AUS, EMOTIONS, **READOUT)
    np.testing.assert_allclose(columns(rows, "readout_", EMOTIONS), scores, atol=2e-6)
    expected = predict_emotion(probabilities, AUS, **READOUT)
    assert rows["readout_emotion"].tolist() == list(expected)
    printed = capsys.readouterr().out
    assert "emotions from the model's emotion head; readout_* columns: the AU read-out" in printed


@pytest.mark.parametrize("task", TASKS)
def test_onnx_runtime_rows_equal_pytorch_rows(checkpoints, crops_folder, tmp_path, task):
    _, torch_rows = predict(checkpoints[task], crops_folder, tmp_path / "torch", "detector=none")
    _, onnx_rows = predict(
        checkpoints[task], crops_folder, tmp_path / "onnx", "detector=none", "runtime=onnx"
    )
    assert list(onnx_rows.columns) == list(torch_rows.columns)
    numbers = torch_rows.select_dtypes("number").columns
    np.testing.assert_allclose(onnx_rows[numbers], torch_rows[numbers], atol=1e-5)
    names = torch_rows.columns.intersection(["top_emotion", "readout_emotion"])
    pd.testing.assert_frame_equal(onnx_rows[names], torch_rows[names])


def test_an_onnx_file_with_other_outputs_is_exported_again(checkpoints, tmp_path):
    ckpt = tmp_path / "joint.ckpt"
    ckpt.write_bytes(checkpoints["joint"].read_bytes())
    path = onnx_path_for(ckpt)
    path.write_bytes(b"an export by an older au")
    sidecar = {"outputs": {"probabilities": "...", "decisions": "..."}}
    path.with_name(path.name + ".json").write_text(json.dumps(sidecar))
    module = AULitModule.load_detector(ckpt)
    assert ensure_onnx(ckpt, module) == path
    assert list(run_onnx(path, np.zeros((1, 3, 48, 48), np.float32))) == OUTPUT_NAMES["joint"]


# ---- annotation ---------------------------------------------------------------------------
def test_face_labels_name_the_active_aus_with_intensities_for_an_intensity_model():
    aus = ["AU6", "AU12", "AU25"]
    intensity = FacePredictions(
        np.zeros((2, 1)), np.array(["happiness", "neutral"]),
        au_decisions=np.array([[True, True, False], [False, False, False]]),
        intensities=np.array([[2.44, 3.21, 0.5], [0.1, 0.2, 0.3]]),
    )  # fmt: skip
    assert face_labels(intensity, aus) == ["happiness | AU6:2.4 AU12:3.2", "neutral"]
    occurrence = FacePredictions(
        np.zeros((1, 1)), np.array(["surprise"]), au_decisions=np.array([[False, True, True]])
    )
    assert face_labels(occurrence, aus) == ["surprise | AU 12 25"]
    emotion_only = FacePredictions(np.zeros((1, 7)), np.array(["anger"]))
    assert face_labels(emotion_only, aus) == ["anger"] and face_label("fear", []) == "fear"


# ---- export -------------------------------------------------------------------------------
def read_sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


@pytest.mark.parametrize("task", TASKS)
def test_exports_match_pytorch_and_name_the_task_outputs(checkpoints, crops_folder, tmp_path, task):
    config = compose_export(
        [f"ckpt_path={checkpoints[task]}", f"output_dir={tmp_path}", f"images={crops_folder}"]
        + ["format=both", "num_images=4"]
    )
    exported = {result.kind: result for result in run_export(config)}
    names = OUTPUT_NAMES[task]
    module, raw = head_outputs(checkpoints[task], crops_folder)
    expected = {k: v.numpy() for k, v in module.task.inference_outputs(module, raw).items()}
    if task in ("au", "joint"):
        expected["au_decisions"] = expected["au_probabilities"] > np.array(THRESHOLDS)
    if task == "intensity":
        expected["au_decisions"] = expected["intensities"] >= POSITIVE_THRESHOLD
    assert list(expected) == names  # the task's outputs, then the decisions
    crops = [read_image(path, 3) for path in sorted(crops_folder.glob("*.png"))]
    images = AUDetector(module).preprocess(crops).numpy()  # (4, 3, 48, 48)
    runs = {
        "onnx": run_onnx(exported["onnx"].path, images),
        "torchscript": run_torchscript(exported["torchscript"].path, images, tuple(names)),
    }
    for kind, outputs in runs.items():
        assert list(outputs) == names and exported[kind].comparison.max_abs_diff < 1e-5
        for name, value in expected.items():
            np.testing.assert_allclose(outputs[name], value, atol=1e-5, err_msg=f"{kind} {name}")
        sidecar = read_sidecar(exported[kind].path)
        assert sidecar["task"] == task and list(sidecar["outputs"]) == names
    if "au_decisions" in names:
        assert exported["onnx"].comparison.decision_agreement == 1.0
    if task == "intensity":
        assert sidecar["occurrence_threshold"] == POSITIVE_THRESHOLD and "thresholds" not in sidecar
    if task in ("emotion", "joint"):
        assert sidecar["outputs"]["emotion_probabilities"]["labels"] == list(BASIC_EMOTIONS)
    if task == "emotion":
        assert "aus" not in sidecar and exported["onnx"].comparison.decision_agreement is None
