"""Where the AU model runs: PyTorch, or ONNX Runtime on a file exported beside the checkpoint.

A runtime maps normalised face crops (N, C, H, W) float32 to AU probabilities (N, A). The ONNX
file is exported on first use next to the checkpoint (``best.ckpt`` -> ``best.onnx`` plus its
JSON sidecar), checked against PyTorch on the same inputs, and reused while it is newer than the
checkpoint.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from au.inference.onnx_torchscript import (
    INPUT_NAME,
    ThresholdedDetector,
    compare_outputs,
    export_onnx,
    run_onnx,
    run_pytorch,
    write_sidecar,
)
from au.models.module import AULitModule

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx")
#: Largest probability difference allowed between the exported file and PyTorch.
PARITY_TOLERANCE = 1e-4


class OnnxParityError(RuntimeError):
    """The exported ONNX model's probabilities differ from PyTorch's beyond the tolerance."""


class TorchRuntime:
    """The checkpoint's PyTorch module on ``device`` (channels-last when trained so)."""

    name = "torch"

    def __init__(self, module: AULitModule, device: str = "cpu"):
        self.module = module.eval().to(device)
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, A) of normalised images (N, C, H, W)."""
        batch = torch.from_numpy(np.ascontiguousarray(images, np.float32)).to(self.device)
        return torch.sigmoid(self.module(batch)).float().cpu().numpy()


class OnnxRuntime:
    """An ONNX file in ONNX Runtime's CPU provider.

    Args:
        path: The ``.onnx`` file (as :func:`au.inference.onnx_torchscript.export_onnx` writes it).
        threads: Intra-op threads; ``None`` uses torch's thread count, so both runtimes use
            the same cores.
    """

    name = "onnx"

    def __init__(self, path: Path, threads: int | None = None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, A) of normalised images (N, C, H, W)."""
        feed = {INPUT_NAME: np.ascontiguousarray(images, np.float32)}
        return self.session.run(["probabilities"], feed)[0]


def onnx_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and no spinning.

    Idle worker threads that spin keep cores busy after a call returns; with PyTorch (or
    decoding, face detection) taking turns on the same 2 cores that slows the others down.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads() if threads is None else threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_path_for(ckpt_path: Path) -> Path:
    """Where the exported model of a checkpoint lives: ``<ckpt stem>.onnx`` beside it."""
    return Path(ckpt_path).with_suffix(".onnx")


def ensure_onnx(ckpt_path: Path, module: AULitModule) -> Path:
    """The checkpoint's ONNX file, exported and parity-checked first if missing or stale.

    Raises:
        OnnxParityError: If the exported probabilities differ from PyTorch's by more than
            :data:`PARITY_TOLERANCE`.
    """
    ckpt_path = Path(ckpt_path)
    path = onnx_path_for(ckpt_path)
    if path.is_file() and path.stat().st_mtime >= ckpt_path.stat().st_mtime:
        return path
    config = module.hparams.data_config
    shape = (8, int(config["channels"]), int(config["image_size"]), int(config["image_size"]))
    images = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    model = ThresholdedDetector(module.cpu())
    reference = run_pytorch(model, images)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        staged = export_onnx(model, Path(staging) / path.name, torch.from_numpy(images[:2]))
        comparison = compare_outputs(reference, run_onnx(staged, images))
        if comparison.max_abs_diff > PARITY_TOLERANCE:
            raise OnnxParityError(
                f"ONNX export of {ckpt_path}: probabilities differ from PyTorch by "
                f"{comparison.max_abs_diff:.2e} > {PARITY_TOLERANCE:g}"
            )
        os.replace(staged, path)  # atomic: a concurrent run sees the old file or the new one
    write_sidecar(path, module, checkpoint=str(ckpt_path), parity=comparison.max_abs_diff)
    log.info("exported %s (max |dp| vs PyTorch %.1e)", path, comparison.max_abs_diff)
    return path


def build_runtime(
    name: str, module: AULitModule, ckpt_path: Path | None, device: str = "cpu", threads=None
):
    """The runtime called ``name`` (``torch`` or ``onnx``) for a loaded checkpoint."""
    if name == "torch":
        return TorchRuntime(module, device)
    if name == "onnx":
        if ckpt_path is None:
            raise ValueError("runtime=onnx needs the checkpoint's path (the export goes beside it)")
        if device != "cpu":
            log.warning("runtime=onnx runs on the CPU (device=%s ignored)", device)
        return OnnxRuntime(ensure_onnx(ckpt_path, module), threads)
    raise ValueError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
