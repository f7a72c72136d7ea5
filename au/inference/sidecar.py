"""The JSON sidecar of an exported detector: task, named outputs, thresholds, preprocessing.

``<file>.json`` sits next to each exported file (``detector.onnx.json``) and tells an app how to
prepare a face crop for the graph and what each output's columns are. It also binds the file to
its checkpoint: ``checkpoint_sha256`` (the checkpoint's bytes) and ``file_sha256`` (the exported
file's), which :mod:`au.inference.runtime` checks before it uses an export.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from au.aus import au_name
from au.inference.onnx_torchscript import DECISIONS, INPUT_NAME, InferenceModel
from au.models.module import AULitModule
from au.tasks.decision import au_thresholds


def describe_outputs(model: InferenceModel, aus: list[str]) -> dict[str, dict]:
    """The sidecar's ``outputs``: per output, in order, its dtype, shape, labels and meaning."""
    labels = model.task.output_labels(aus)
    outputs = {}
    for name in model.output_names:
        if name == DECISIONS:
            rule = (
                "au_probabilities > thresholds"
                if model.decided_from == "au_probabilities"
                else "intensities >= occurrence_threshold"
            )
            columns, meaning = aus, f"bool: AU present, {rule}"
        else:
            columns, meaning = labels[name], model.task.output_meanings[name]
        outputs[name] = {"shape": ["batch", len(columns)], "labels": columns, "meaning": meaning}
    return outputs


def write_sidecar(path: Path, model: InferenceModel, module: AULitModule, **extra) -> Path:
    """Write ``<file>.json`` next to an exported file: task, outputs, thresholds, preprocessing."""
    config = dict(module.hparams.data_config)
    channels, size = int(config["channels"]), int(config["image_size"])
    sidecar = {"file": path.name, "task": module.task.name}
    sidecar["backbone"] = module.hparams.backbone["name"]
    if model.decided_from is not None:
        sidecar |= {"aus": list(module.aus), "au_names": [au_name(au) for au in module.aus]}
    if model.decided_from == "au_probabilities":
        sidecar["thresholds"] = [round(float(t), 6) for t in au_thresholds(module)]
    if model.decided_from == "intensities":
        sidecar["occurrence_threshold"] = model.occurrence_threshold
    sidecar |= {
        "image_size": size,
        "channels": channels,
        "mean": [float(v) for v in config["mean"]],
        "std": [float(v) for v in config["std"]],
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", channels, size, size],
            "dtype": "float32",
            "color": "RGB" if channels == 3 else "grayscale",
            "preprocessing": "square face crop resized (bilinear) to image_size x image_size, "
            "pixel / 255, minus mean, divided by std, channels first",
        },
        "outputs": describe_outputs(model, list(module.aus)),
        **extra,
    }
    if config.get("crop_geometry"):  # how the training faces were cut (au.alignment.cut_face)
        sidecar["crop_geometry"] = config["crop_geometry"]
    sidecar_path = sidecar_path_of(path)
    staging = sidecar_path.with_name(f".{sidecar_path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(sidecar, indent=2) + "\n")
    os.replace(staging, sidecar_path)  # a reader sees the old sidecar or the new one
    return sidecar_path


def sidecar_path_of(path: Path) -> Path:
    """``<file>.json`` beside an exported file."""
    return path.with_name(path.name + ".json")


def read_sidecar(path: Path) -> dict | None:
    """The sidecar of an exported file (``None``: missing or unreadable)."""
    try:
        sidecar = json.loads(sidecar_path_of(path).read_text())
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


def sidecar_output_names(path: Path) -> tuple[str, ...] | None:
    """The output names an exported file's sidecar lists (``None``: no readable sidecar)."""
    try:
        return tuple((read_sidecar(path) or {})["outputs"])
    except (KeyError, TypeError):
        return None
