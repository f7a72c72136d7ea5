"""Checkpoints, exports and feature caches: written whole or not at all, used only when intact."""

import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from au.data.features import cached_features, features_sha256, write_feature_cache
from au.errors import ResumeMismatchError
from au.fit import checked_resume, run_fit
from au.inference.onnx_torchscript import run_onnx
from au.inference.runtime import (
    ExportUnavailableError,
    cached_onnx_path,
    ensure_onnx,
    onnx_path_for,
)
from au.models.checkpoint import (
    AtomicCheckpointIO,
    CheckpointError,
    CheckpointWriteError,
    file_sha256,
    resume_differences,
)
from au.models.module import AULitModule
from au.run.builders import build_trainer
from tests.conftest import compose_fit, small_fit_overrides

AUS = ["AU1", "AU2", "AU4"]
DATA_CONFIG = {"image_size": 32, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}


# ---- atomic checkpoint writes ------------------------------------------------------------
def test_a_write_failing_half_way_leaves_the_previous_checkpoint_byte_identical(
    tmp_path, monkeypatch
):
    path = tmp_path / "last.ckpt"
    writer = AtomicCheckpointIO()
    writer.save_checkpoint({"epoch": 3, "w": torch.arange(1000.0)}, path)
    before = path.read_bytes()

    def full_disk(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointWriteError) as caught:
        writer.save_checkpoint({"epoch": 4, "w": torch.zeros(1000)}, path)
    assert str(caught.value) == (
        f"checkpoint {path} could not be written (No space left on device); "
        "the previous one is kept"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no staging file left
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 3


def test_the_trainer_writes_checkpoints_through_the_atomic_writer(tmp_path):
    config = compose_fit(small_fit_overrides(tmp_path))
    trainer = build_trainer(config, tmp_path)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


# ---- resume checks -----------------------------------------------------------------------
def fit_checkpoint(fold=1, aus=AUS, task=None, index="/data/index.csv") -> dict:
    """What ``au.fit`` stores of its settings in a checkpoint, as plain data."""
    data = {"name": "index", "index_csv": index, "synthetic": None, "fold": fold,
            "num_folds": 3, "split_seed": 0, "val_fraction": 0.2, "aus": list(aus),
            "image_size": 64, "channels": 3, "batch_size": 16}  # fmt: skip
    return {
        "state_dict": {"head.weight": torch.zeros(len(aus), 4)},
        "hyper_parameters": {"aus": list(aus), "backbone": {"name": "tiny"}, "task": task},
        "datamodule_hyper_parameters": {"data": data},
    }


def test_resume_differences_name_every_changed_setting_and_ignore_the_rest():
    checkpoint = fit_checkpoint()
    run = {
        "data": {**checkpoint["datamodule_hyper_parameters"]["data"], "batch_size": 4},
        "task": {"name": "au"},
        "model": {"backbone": {"name": "test_efficientnet"}},  # the alias "tiny" resolved
    }
    assert resume_differences(checkpoint, run) == []  # batch size may change on resume
    run["data"] = {**run["data"], "fold": 2, "aus": ["AU1"], "index_csv": "/data/other.csv"}
    run["task"] = {"name": "emotion", "emotions": ["neutral", "happiness"]}
    assert resume_differences(checkpoint, run) == [
        "data.index_csv: /data/index.csv in the checkpoint, /data/other.csv here",
        "data.fold: 1 in the checkpoint, 2 here",
        "data.aus: ['AU1', 'AU2', 'AU4'] in the checkpoint, ['AU1'] here",
        "task.name: au in the checkpoint, emotion here",
        "task.emotions: None in the checkpoint, ['neutral', 'happiness'] here",
    ]


def index_fit_config(tmp_path, *extra):
    index = tmp_path / "index.csv"
    return compose_fit(
        ["data=index", f"data.index_csv={index}", "debug=fast", f"paths.output_dir={tmp_path}",
         "data.aus=[AU1,AU2,AU4]", *extra]
    )  # fmt: skip


def test_resume_with_another_fold_stops_naming_it(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save(fit_checkpoint(index=str(tmp_path / "index.csv")), path)
    assert checked_resume(index_fit_config(tmp_path, f"ckpt_path={path}")) == str(path)
    with pytest.raises(ResumeMismatchError) as caught:
        checked_resume(index_fit_config(tmp_path, f"ckpt_path={path}", "data.fold=2"))
    assert str(caught.value) == (
        f"ckpt_path={path} cannot be resumed with these settings (data.fold: 1 in the "
        "checkpoint, 2 here); resume with the checkpoint's settings, or drop ckpt_path to "
        "start a new run"
    )


class OpensAFile:
    """Unpickling this calls ``open(marker, "w")``: code run by ``torch.load``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_resume_from_an_unsafe_or_truncated_checkpoint_stops_before_any_work(tmp_path):
    marker, unsafe = tmp_path / "opened", tmp_path / "unsafe.ckpt"
    torch.save({**fit_checkpoint(), "hyper_parameters": OpensAFile(marker)}, unsafe)
    with pytest.raises(CheckpointError, match=f"checkpoint {unsafe} holds objects other than"):
        run_fit(index_fit_config(tmp_path, f"ckpt_path={unsafe}"))
    truncated = tmp_path / "cut.ckpt"
    torch.save(fit_checkpoint(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=f"checkpoint {truncated} is truncated"):
        run_fit(index_fit_config(tmp_path, f"ckpt_path={truncated}"))
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt", "unsafe.ckpt"]


@pytest.mark.slow
def test_a_resumed_fit_records_its_checkpoint_and_refuses_another_fold(tiny_run, tmp_path):
    last = tiny_run / "checkpoints" / "last.ckpt"
    with pytest.raises(ResumeMismatchError, match="data.fold: 1 in the checkpoint, 2 here"):
        run_fit(compose_fit(small_fit_overrides(tmp_path / "other", f"ckpt_path={last}",
                                                "data.fold=2")))  # fmt: skip
    assert not (tmp_path / "other").exists()  # nothing was built
    run_fit(compose_fit(small_fit_overrides(tmp_path / "again", f"ckpt_path={last}")))
    summary = json.loads((tmp_path / "again" / "results" / "summary.json").read_text())
    assert summary["resumed_from"] == str(last.resolve())
    fresh = json.loads((tiny_run / "results" / "summary.json").read_text())
    assert fresh.get("resumed_from") is None


# ---- the stage-1 feature cache -----------------------------------------------------------
class TinyImages(torch.utils.data.Dataset):
    """``rows`` 2x2 RGB images whose pixels are their index, with real files for the key."""

    def __init__(self, folder: Path, rows: int):
        self.paths = []
        for i in range(rows):
            self.paths.append(folder / f"{i}.png")
            self.paths[-1].write_bytes(b"x")

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return {"image": torch.full((3, 2, 2), float(index))}


@pytest.fixture
def feature_setup(tmp_path):
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    dataset = TinyImages(tmp_path, 36)
    cache = tmp_path / "cache"
    features = cached_features(backbone, dataset, cache, "pre")
    (path,) = cache.glob("*.pt")
    return backbone, dataset, cache, path, features


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("zeros", "cannot be read"),
        ("ten_rows_bare", "holds no row count and checksum"),
        ("ten_rows", "holds 10 rows (10 recorded), not 36"),
        ("zeroed_values", "fails its checksum"),
        ("cut", "cannot be read"),
    ],
)
def test_a_damaged_feature_cache_is_computed_again_and_says_why(
    feature_setup, damage, reason, caplog
):
    backbone, dataset, cache, path, features = feature_setup
    assert features.shape == (36, 4)
    if damage == "zeros":
        path.write_bytes(bytes(path.stat().st_size))
    elif damage == "ten_rows_bare":
        torch.save(features[:10], path)
    elif damage == "ten_rows":
        write_feature_cache(path, features[:10])
    elif damage == "zeroed_values":
        stored = torch.load(path, weights_only=True)
        torch.save({**stored, "features": torch.zeros_like(features)}, path)
    else:
        path.write_bytes(path.read_bytes()[:200])
    with caplog.at_level(logging.WARNING, logger="au.data.features"):
        again = cached_features(backbone, dataset, cache, "pre")
    assert torch.equal(again, features)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"feature cache {path} {reason}")
    assert line.endswith(": computing the features again")
    stored = torch.load(path, weights_only=True)  # rewritten whole
    assert stored["rows"] == 36 and stored["sha256"] == features_sha256(features)


def test_an_intact_feature_cache_is_read_not_computed(feature_setup, monkeypatch, caplog):
    backbone, dataset, cache, path, features = feature_setup
    stamp = path.stat().st_mtime_ns

    def not_again(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr("au.data.features.compute_features", not_again)
    with caplog.at_level(logging.WARNING):
        assert torch.equal(cached_features(backbone, dataset, cache, "pre"), features)
    assert path.stat().st_mtime_ns == stamp and caplog.records == []


# ---- the ONNX export bound to its checkpoint ---------------------------------------------
def small_module(seed: int) -> AULitModule:
    torch.manual_seed(seed)
    backbone = {"name": "tiny", "pretrained": False}
    return AULitModule(AUS, backbone=backbone, data_config=DATA_CONFIG).eval()


@pytest.fixture(scope="module")
def exported_once(tmp_path_factory):
    """Two checkpoints (different weights), each with its export and sidecar."""
    folder = tmp_path_factory.mktemp("exports")
    runs = []
    for seed in (0, 1):
        ckpt = folder / f"run{seed}" / "best.ckpt"
        ckpt.parent.mkdir()
        module = small_module(seed)
        torch.save({"state_dict": module.state_dict()}, ckpt)
        assert ensure_onnx(ckpt, module) == onnx_path_for(ckpt)
        runs.append((ckpt, module))
    return runs


@pytest.fixture
def two_exports(exported_once, tmp_path):
    """Copies of :func:`exported_once`'s folders (the bindings are by content, not by path)."""
    runs = []
    for ckpt, module in exported_once:
        copy = tmp_path / ckpt.parent.name / ckpt.name
        shutil.copytree(ckpt.parent, copy.parent)
        runs.append((copy, module))
    return runs


def probabilities(path: Path) -> np.ndarray:
    images = np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32)
    return run_onnx(path, images)["au_probabilities"]


def test_the_sidecar_binds_the_export_to_its_checkpoint(two_exports):
    ckpt, _ = two_exports[0]
    sidecar = json.loads(onnx_path_for(ckpt).with_suffix(".onnx.json").read_text())
    assert sidecar["checkpoint_sha256"] == file_sha256(ckpt)
    assert sidecar["file_sha256"] == file_sha256(onnx_path_for(ckpt))


@pytest.mark.parametrize("swapped", [(".onnx",), (".onnx", ".onnx.json")])
def test_a_swapped_export_is_exported_again_saying_why(two_exports, swapped, caplog):
    (ckpt, module), (other, _) = two_exports
    onnx = onnx_path_for(ckpt)
    own = probabilities(onnx)
    assert not np.allclose(own, probabilities(onnx_path_for(other)), atol=1e-3)
    for suffix in swapped:
        ckpt.with_suffix(suffix).write_bytes(other.with_suffix(suffix).read_bytes())
    with caplog.at_level(logging.WARNING, logger="au.inference.runtime"):
        assert ensure_onnx(ckpt, module) == onnx
    reason = (
        "was changed or replaced after its export (its sha256 differs from the sidecar's)"
        if swapped == (".onnx",)
        else "was exported from another checkpoint (the checkpoint's sha256 differs)"
    )
    assert [r.getMessage() for r in caplog.records] == [f"{onnx} {reason}: exporting it again"]
    np.testing.assert_allclose(probabilities(onnx), own, atol=1e-6)


def test_a_bound_export_is_reused(two_exports, caplog):
    ckpt, module = two_exports[0]
    stamp = onnx_path_for(ckpt).stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="au.inference.runtime"):
        assert ensure_onnx(ckpt, module) == onnx_path_for(ckpt)
    assert onnx_path_for(ckpt).stat().st_mtime_ns == stamp and caplog.records == []


def refuse_staging_in(folders, monkeypatch):
    """Make ``tempfile.TemporaryDirectory`` in ``folders`` fail as in a read-only folder."""
    original = tempfile.TemporaryDirectory

    def staging(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() in folders:
            raise PermissionError(13, "Permission denied", str(dir))
        return original(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", staging)


def test_a_read_only_checkpoint_folder_exports_to_the_cache(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ckpt = tmp_path / "ro" / "best.ckpt"
    ckpt.parent.mkdir()
    module = small_module(0)
    torch.save({"state_dict": module.state_dict()}, ckpt)
    refuse_staging_in({ckpt.parent.resolve()}, monkeypatch)
    cached = cached_onnx_path(ckpt, file_sha256(ckpt))
    assert cached == tmp_path / "cache" / "au" / "exports" / file_sha256(ckpt)[:16] / "best.onnx"
    with caplog.at_level(logging.WARNING, logger="au.inference.runtime"):
        assert ensure_onnx(ckpt, module) == cached
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot write in {ckpt.parent} (Permission denied): exporting to {cached}"
    ]
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["best.ckpt"]
    caplog.clear()
    assert ensure_onnx(ckpt, module) == cached and caplog.records == []  # reused
    cached.unlink()
    refuse_staging_in({ckpt.parent.resolve(), cached.parent.resolve()}, monkeypatch)
    with pytest.raises(ExportUnavailableError) as caught:
        ensure_onnx(ckpt, module)
    assert str(caught.value) == (
        f"runtime=onnx: {ckpt} cannot be exported to ONNX, neither beside it nor in "
        f"{cached.parent} (Permission denied); use runtime=torch or a writable folder"
    )
