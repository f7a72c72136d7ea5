"""Export a detector (model ▸ sigmoid ▸ thresholds) to ONNX and TorchScript, check it, quantize it.

The exported graph takes normalised images ``(B, C, H, W)`` float32 (any batch size) and returns
``probabilities`` (B, A) float32 and ``decisions`` (B, A) bool (probability > the AU's
validation-tuned threshold, stored in the graph as a constant). A JSON sidecar next to each file
holds what an app needs to preprocess faces and name the outputs.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from au.aus import au_name
from au.models.module import AULitModule

INPUT_NAME, OUTPUT_NAMES = "images", ("probabilities", "decisions")


class ThresholdedDetector(nn.Module):
    """An AU model with its sigmoid and thresholds: images -> (probabilities, decisions)."""

    def __init__(self, module: AULitModule):
        super().__init__()
        self.backbone, self.head = module.backbone, module.head
        self.register_buffer("thresholds", module.thresholds.detach().clone().float())  # (A,)
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities (B, A) and decisions (B, A) of normalised images (B, C, H, W)."""
        probabilities = torch.sigmoid(self.head(self.backbone(images)))
        return probabilities, probabilities > self.thresholds


@dataclass
class OutputComparison:
    """How far a candidate's outputs are from a reference's on the same inputs."""

    max_abs_diff: float
    mean_abs_diff: float
    decision_agreement: float  # fraction of (face, AU) decisions that are equal
    faces_agreeing: float  # fraction of faces whose decisions on all AUs are equal
    num_faces: int

    def format(self) -> str:
        """One line."""
        return (
            f"probability |diff| max {self.max_abs_diff:.2e} mean {self.mean_abs_diff:.2e}; "
            f"decisions agree on {self.decision_agreement:.1%} of face-AU pairs and "
            f"{self.faces_agreeing:.1%} of {self.num_faces} faces (all AUs)"
        )


def compare_outputs(
    reference: tuple[np.ndarray, np.ndarray], candidate: tuple[np.ndarray, np.ndarray]
) -> OutputComparison:
    """Compare (probabilities, decisions) pairs of shape (N, A) each."""
    difference = np.abs(np.asarray(reference[0], np.float64) - np.asarray(candidate[0]))
    same = np.asarray(reference[1], bool) == np.asarray(candidate[1], bool)  # (N, A)
    return OutputComparison(
        float(difference.max()),
        float(difference.mean()),
        float(same.mean()),
        float(same.all(axis=1).mean()),
        len(same),
    )


def export_onnx(model: ThresholdedDetector, path: Path, example: torch.Tensor, opset: int = 17):
    """Write ``model`` as ONNX with a dynamic batch axis; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    batch_axis = {0: "batch"}
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated, still exact
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: batch_axis for name in (INPUT_NAME, *OUTPUT_NAMES)},
        )
    return path


def export_torchscript(model: ThresholdedDetector, path: Path, example: torch.Tensor) -> Path:
    """Write ``model`` traced to TorchScript; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
        torch.jit.trace(model, example).save(str(path))
    return path


def quantize_onnx(path: Path, quantized_path: Path) -> Path:
    """Int8 dynamic quantization of an ONNX model's weights (onnxruntime); returns the new file."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quiet its advice to pre-process (no gain measured here)
    try:
        quantize_dynamic(str(path), str(quantized_path), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return quantized_path


def run_pytorch(model: ThresholdedDetector, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of the PyTorch model on images (N, C, H, W)."""
    with torch.inference_mode():
        probabilities, decisions = model(torch.from_numpy(images))
    return probabilities.numpy(), decisions.numpy()


def run_onnx(path: Path, images: np.ndarray, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of an ONNX file run by onnxruntime (CPU) on images (N, C, H, W)."""
    session = onnx_session(path, threads)
    probabilities, decisions = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
    return probabilities, decisions


def onnx_session(path: Path, threads: int = 0):
    """An onnxruntime CPU session (``threads=0``: onnxruntime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_torchscript(path: Path, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of a TorchScript file on images (N, C, H, W)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        probabilities, decisions = loaded(torch.from_numpy(images))
    return probabilities.numpy(), decisions.numpy()


def write_sidecar(path: Path, module: AULitModule, **extra) -> Path:
    """Write ``<file>.json`` next to an exported file: AUs, thresholds, preprocessing."""
    config = dict(module.hparams.data_config)
    channels = int(config["channels"])
    sidecar = {
        "file": path.name,
        "backbone": module.hparams.backbone["name"],
        "aus": list(module.aus),
        "au_names": [au_name(au) for au in module.aus],
        "thresholds": [round(float(t), 6) for t in module.thresholds],
        "image_size": int(config["image_size"]),
        "channels": channels,
        "mean": [float(v) for v in config["mean"]],
        "std": [float(v) for v in config["std"]],
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", channels, int(config["image_size"]), int(config["image_size"])],
            "dtype": "float32",
            "color": "RGB" if channels == 3 else "grayscale",
            "preprocessing": "square face crop resized (bilinear) to image_size x image_size, "
            "pixel / 255, minus mean, divided by std, channels first",
        },
        "outputs": {
            "probabilities": "float32 (batch, A): sigmoid of the logits, in the order of aus",
            "decisions": "bool (batch, A): probabilities > thresholds",
        },
        **extra,
    }
    sidecar_path = path.with_name(path.name + ".json")
    sidecar_path.write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar_path
