"""A missing or damaged weights file stops au.predict and au.fit before any work, with one
``error:`` line naming the file and what to do, and exit status 2 (issue 27).

MTCNN's cache is made of randomly initialised nets (the right layout, not the released
sha256), so no download is needed; the fits point ``data.index_csv`` at a file that does not
exist, so a weights error that came after the data would show as an index error instead.
"""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from au.fit import run_fit
from au.inference.faces import HaarFaceDetector, build_face_detector
from au.inference.mtcnn import build_nets
from au.inference.mtcnn_weights import mtcnn_weights_dir
from au.models.backbone import check_backbone_weights
from au.models.module import AULitModule
from au.models.pretrained import PretrainedWeightsError, cached_weights_path, weights_not_loaded
from au.predict import run_predict
from au.run.config import compose_config
from au.run.folder import bad_input_stops_run
from tests.conftest import compose_fit

REPO = Path(__file__).resolve().parents[1]
#: Weight tensors (2+ dimensions) of timm's ``test_efficientnet`` (backbone=tiny), by count.
TINY_WEIGHT_TENSORS = 17
#: The same for ``mobilenetv2_100`` (the stem, 17 blocks' convolutions and the head conv).
MOBILENET_WEIGHT_TENSORS = 52


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained detector checkpoint (tiny backbone, 3 AUs): all au.predict needs to load."""
    torch.manual_seed(0)
    data_config = {"image_size": 32, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}
    backbone = {"name": "tiny", "pretrained": False}
    module = AULitModule(["AU1", "AU2", "AU4"], backbone=backbone, data_config=data_config)
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def mtcnn_cache(root: Path) -> Path:
    """A weights cache holding the three MTCNN files as random nets; returns their folder."""
    torch.manual_seed(0)
    folder = mtcnn_weights_dir(root)
    folder.mkdir(parents=True)
    for stage, net in build_nets().items():
        torch.save(net.state_dict(), folder / f"mtcnn_{stage}.pt")
    return folder


def one_file_missing(folder: Path) -> tuple[Path, str]:
    (folder / "mtcnn_onet.pt").unlink()
    return folder / "mtcnn_onet.pt", "is missing; run `python -m au.weights mtcnn` to fetch it"


def cut_short(folder: Path) -> tuple[Path, str]:
    path = folder / "mtcnn_pnet.pt"
    path.write_bytes(path.read_bytes()[:1000])
    return path, "(1000 bytes), expected b921d9f1"


def another_torch_file(folder: Path) -> tuple[Path, str]:
    return folder / "mtcnn_pnet.pt", "not the MTCNN weights au knows"


def stopped_with_one_line(command, config, capsys) -> str:
    """The one ``error:`` line (without its newline) that ``command(config)`` stops with."""
    with pytest.raises(SystemExit) as stopped, bad_input_stops_run(config):
        command(config)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.rstrip("\n")


@pytest.mark.parametrize("damage", [one_file_missing, cut_short, another_torch_file])
def test_a_damaged_mtcnn_cache_stops_predict_before_any_work(
    damage, tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("AU_WEIGHTS_DIR", str(tmp_path / "cache"))
    named, reason = damage(mtcnn_cache(tmp_path / "cache"))
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "face.png"), np.full((64, 64, 3), 128, np.uint8))
    out = tmp_path / "out"
    overrides = [f"ckpt_path={tiny_checkpoint}", f"input={tmp_path / 'photos'}"]
    config = compose_config("predict", [*overrides, f"output_dir={out}", "progress=false"])
    line = stopped_with_one_line(run_predict, config, capsys)
    assert line.count(str(named)) == 1 and reason in line
    if damage is not one_file_missing:
        assert line.endswith("run `python -m au.weights mtcnn --force` to fetch them again")
    assert not out.exists()  # no prediction table was begun


def test_mtcnn_never_fetched_falls_back_to_haar_but_a_damaged_cache_does_not(tmp_path):
    assert isinstance(build_face_detector("mtcnn", weights=tmp_path / "none"), HaarFaceDetector)
    named, _ = one_file_missing(mtcnn_cache(tmp_path / "cache"))
    with pytest.raises(PretrainedWeightsError, match=f"incomplete: {named} is missing"):
        build_face_detector("mtcnn", weights=named.parent)


def fit_stopped_by(weights: Path | None, tmp_path, capsys, *extra: str) -> str:
    """The error line of a fit of ``weights`` on an index that does not exist."""
    overrides = ["backbone=tiny", "data=index", f"data.index_csv={tmp_path}/no-index.csv"]
    overrides += [f"paths.output_dir={tmp_path}/run", *extra]
    if weights is not None:
        overrides.append(f"model.backbone.weights={weights}")
    line = stopped_with_one_line(run_fit, compose_fit(overrides), capsys)
    assert "no-index.csv" not in line and not (tmp_path / "run").exists()
    return line


def test_fit_with_a_missing_weights_file_stops_before_the_data(tmp_path, capsys):
    line = fit_stopped_by(tmp_path / "none.pth", tmp_path, capsys)
    assert line == (
        f"error: model.backbone.weights file not found: {tmp_path}/none.pth; pass an existing "
        ".safetensors or .pth file of test_efficientnet weights"
    )


def test_fit_with_a_cut_or_garbage_weights_file_stops_before_the_data(tmp_path, capsys):
    torch.manual_seed(0)
    state = timm.create_model("test_efficientnet", num_classes=0).state_dict()
    cut = tmp_path / "cut.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(cut))
    cut.write_bytes(cut.read_bytes()[:3000])
    line = fit_stopped_by(cut, tmp_path, capsys)
    assert line.startswith(f"error: model.backbone.weights file {cut} (3000 bytes) is cut short")
    assert "(Error while deserializing header" in line and line.count(str(cut)) == 1
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not weights")
    line = fit_stopped_by(garbage, tmp_path, capsys)
    assert line == (
        f"error: model.backbone.weights file {garbage} (11 bytes) is cut short or not a "
        ".safetensors/.pth file of tensors (holds objects other than tensors and plain data, or "
        "is no pickle at all); pass a .safetensors or .pth file of test_efficientnet weights"
    )


def test_fit_with_weights_of_another_model_stops_instead_of_training_from_random(tmp_path, capsys):
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.ones(4, 3, 3, 3)}, other)  # timm would load none of it
    line = fit_stopped_by(other, tmp_path, capsys)
    assert line == (
        f"error: model.backbone.weights file {other} lacks {TINY_WEIGHT_TENSORS} of the "
        f"{TINY_WEIGHT_TENSORS} weight tensors of test_efficientnet (conv_stem.weight, "
        "blocks.0.0.conv.weight, blocks.1.0.conv_exp.weight, ...), which would stay random; "
        "pass a .safetensors or .pth file of test_efficientnet weights"
    )


def test_a_torchvision_checkpoint_given_as_weights_is_sent_to_the_converter(tmp_path):
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    with pytest.raises(PretrainedWeightsError) as refused:
        check_backbone_weights({"name": "mobilenet_v2", "weights": str(path)})
    message = str(refused.value)
    assert f"lacks {MOBILENET_WEIGHT_TENSORS} of the {MOBILENET_WEIGHT_TENSORS}" in message
    assert "convert it with `python -m au.weights --from-file PATH`" in message


def test_cut_cached_imagenet_weights_stop_the_default_backbone(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AU_WEIGHTS_DIR", str(tmp_path / "cache"))
    cached = cached_weights_path("mobilenetv2_100")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\x00" * 100)
    line = fit_stopped_by(None, tmp_path, capsys, "backbone=mobilenet_v2")
    assert line.startswith(f"error: cached ImageNet weights of mobilenetv2_100 {cached} (100")
    assert line.endswith("run `python -m au.weights mobilenetv2_100 --force` to fetch them again")


def test_weights_under_other_names_count_as_loaded_and_missing_ones_are_named():
    torch.manual_seed(0)
    model = timm.create_model("test_efficientnet", num_classes=0)
    renamed = {f"features.{i}": v.clone() for i, v in enumerate(model.state_dict().values())}
    assert weights_not_loaded(model, renamed) == []  # torchvision DenseNet files are renamed so
    state = {k: v.clone() for k, v in model.state_dict().items()}
    del state["conv_stem.weight"], state["blocks.0.0.conv.weight"]
    state["conv_head.weight"] = torch.zeros_like(state["conv_head.weight"])  # timm loads a key
    assert weights_not_loaded(model, state) == ["conv_stem.weight", "blocks.0.0.conv.weight"]


@pytest.mark.slow
def test_command_lines_print_one_error_line_and_exit_2(tiny_checkpoint, tmp_path):
    mtcnn_cache(tmp_path / "cache")
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "face.png"), np.full((64, 64, 3), 128, np.uint8))
    env = {**os.environ, "PYTHONPATH": str(REPO), "AU_WEIGHTS_DIR": str(tmp_path / "cache")}
    commands = {
        "mtcnn_pnet.pt": ["au.predict", f"ckpt_path={tiny_checkpoint}", "input=photos"],
        "none.pth": ["au.fit", "backbone=tiny", f"model.backbone.weights={tmp_path}/none.pth"],
    }
    for named, command in commands.items():
        done = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert len(errors) == 1 and errors[0].count(named) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "photos"]  # no run folder
