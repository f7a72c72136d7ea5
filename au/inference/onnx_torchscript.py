"""Export a detector (model ▸ its task's outputs ▸ AU decisions) to ONNX and TorchScript.

The exported graph takes normalised images ``(B, C, H, W)`` float32 (any batch size) and returns
the task's outputs (:meth:`au.tasks.base.Task.inference_outputs`), named in the ONNX file:

======================  ==========================================================
task                    outputs, in order
======================  ==========================================================
``au``                  ``au_probabilities`` (B, A), ``au_decisions`` (B, A)
``intensity``           ``intensities`` (B, A) on 0-5, ``au_decisions`` (B, A)
``emotion``             ``emotion_probabilities`` (B, C)
``joint``               ``au_probabilities``, ``emotion_probabilities``, ``au_decisions``
======================  ==========================================================

``au_decisions`` (bool) is ``au_probabilities > the AU's validation-tuned threshold`` (stored in
the graph as a constant), or for an intensity model ``intensities >= occurrence_threshold``
(the training data's positive threshold). A JSON sidecar next to each file holds what an app
needs to preprocess faces and read the outputs (:mod:`au.inference.sidecar`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from au.models.module import AULitModule
from au.tasks.decision import au_thresholds

INPUT_NAME = "images"
#: The AU present/absent output, appended where the task has AU occurrence.
DECISIONS = "au_decisions"
#: The outputs the decisions are taken from, in order of preference.
DECIDED_FROM = ("au_probabilities", "intensities")

Outputs = dict[str, np.ndarray]


class InferenceModel(nn.Module):
    """A trained module as one graph: images -> its task's outputs, then the AU decisions.

    Args:
        module: A trained :class:`AULitModule` (its backbone, head, task and thresholds).
        occurrence_threshold: Intensity at or above which an intensity model's AU is present.
    """

    def __init__(self, module: AULitModule, occurrence_threshold: float = 2.0):
        super().__init__()
        self.backbone, self.head, self.task = module.backbone, module.head, module.task
        self.register_buffer("thresholds", au_thresholds(module).clone().float())  # (A,)
        self.occurrence_threshold = float(occurrence_threshold)
        names = tuple(module.task.inference_names)
        self.decided_from = next((name for name in DECIDED_FROM if name in names), None)
        #: The names of :meth:`forward`'s outputs, in order.
        self.output_names = names + ((DECISIONS,) if self.decided_from else ())
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs named :attr:`output_names` of normalised images (B, C, H, W)."""
        outputs = self.task.inference_outputs(self, self.head(self.backbone(images)))
        values = [outputs[name] for name in self.task.inference_names]
        if self.decided_from == "au_probabilities":
            values.append(outputs["au_probabilities"] > self.thresholds)  # (B, A)
        elif self.decided_from == "intensities":
            values.append(outputs["intensities"] >= self.occurrence_threshold)  # (B, A)
        return tuple(values)


@dataclass
class OutputComparison:
    """How far a candidate's outputs are from a reference's on the same inputs."""

    max_abs_diffs: dict[str, float]  # per float output
    mean_abs_diff: float  # over every float output value
    decision_agreement: float | None  # fraction of equal (face, AU) decisions; None: no AU
    faces_agreeing: float | None  # fraction of faces whose decisions on all AUs are equal
    num_faces: int

    @property
    def max_abs_diff(self) -> float:
        """The largest difference over all float outputs."""
        return max(self.max_abs_diffs.values())

    def format(self) -> str:
        """One line."""
        each = ", ".join(f"{k} {v:.2e}" for k, v in self.max_abs_diffs.items())
        text = f"|diff| max {each}; mean {self.mean_abs_diff:.2e}"
        if self.decision_agreement is None:
            return text + f" ({self.num_faces} faces)"
        return text + (
            f"; decisions agree on {self.decision_agreement:.1%} of face-AU pairs and "
            f"{self.faces_agreeing:.1%} of {self.num_faces} faces (all AUs)"
        )


def compare_outputs(reference: Outputs, candidate: Outputs) -> OutputComparison:
    """Compare two runs' named outputs (each (N, ...)) on the same images."""
    if list(reference) != list(candidate):
        raise ValueError(f"outputs differ: {list(reference)} vs {list(candidate)}")
    floats = [name for name in reference if name != DECISIONS]
    differences = {
        name: np.abs(np.asarray(reference[name], np.float64) - np.asarray(candidate[name]))
        for name in floats
    }
    agreement = faces = None
    if DECISIONS in reference:
        same = np.asarray(reference[DECISIONS], bool) == np.asarray(candidate[DECISIONS], bool)
        agreement, faces = float(same.mean()), float(same.all(axis=1).mean())
    return OutputComparison(
        {name: float(d.max()) for name, d in differences.items()},
        float(np.concatenate([d.ravel() for d in differences.values()]).mean()),
        agreement,
        faces,
        len(next(iter(reference.values()))),
    )


def export_onnx(model: InferenceModel, path: Path, example: torch.Tensor, opset: int = 17) -> Path:
    """Write ``model`` as ONNX with named outputs and a dynamic batch axis; returns ``path``."""
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
            output_names=list(model.output_names),
            dynamic_axes={name: batch_axis for name in (INPUT_NAME, *model.output_names)},
        )
    return path


def export_torchscript(model: InferenceModel, path: Path, example: torch.Tensor) -> Path:
    """Write ``model`` traced to TorchScript (outputs: a tuple in ``output_names`` order)."""
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


def run_pytorch(model: InferenceModel, images: np.ndarray) -> Outputs:
    """Named outputs of the PyTorch model on images (N, C, H, W)."""
    with torch.inference_mode():
        values = model(torch.from_numpy(images))
    return {name: value.numpy() for name, value in zip(model.output_names, values, strict=True)}


def run_onnx(path: Path, images: np.ndarray, threads: int = 0) -> Outputs:
    """Named outputs of an ONNX file run by onnxruntime (CPU) on images (N, C, H, W)."""
    session = onnx_session(path, threads)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {INPUT_NAME: images}), strict=True))


def onnx_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and no spinning.

    ``threads``: ``None`` uses PyTorch's thread count, 0 onnxruntime's default. Idle worker
    threads that spin keep cores busy after a call returns; with PyTorch (or decoding, face
    detection) taking turns on the same 2 cores that slows the others down.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads() if threads is None else threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_torchscript(path: Path, images: np.ndarray, names: tuple[str, ...]) -> Outputs:
    """Outputs of a TorchScript file on images (N, C, H, W), named ``names`` in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        values = loaded(torch.from_numpy(images))
    return {name: value.numpy() for name, value in zip(names, values, strict=True)}
