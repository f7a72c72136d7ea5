"""Where the model runs: PyTorch, or ONNX Runtime on a file exported beside the checkpoint.

A runtime maps normalised face crops (N, C, H, W) float32 to the task's named outputs
(:meth:`outputs`: ``au_probabilities``, ``intensities``, ``emotion_probabilities`` and
``au_decisions``, see :mod:`au.inference.onnx_torchscript`); calling it gives the AU
probabilities (N, A) of an AU occurrence model. The ONNX
file is exported on first use next to the checkpoint (``best.ckpt`` -> ``best.onnx`` plus its
JSON sidecar; where that folder is read-only, under :func:`export_cache_dir`), checked against
PyTorch on the same inputs, and reused while its sidecar binds it to the checkpoint: the
SHA-256 of the checkpoint and of the ONNX file must both match, else it is exported again.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from au.errors import ExportUnavailableError, OnnxParityError
from au.inference.onnx_torchscript import (
    INPUT_NAME,
    InferenceModel,
    Outputs,
    compare_outputs,
    export_onnx,
    onnx_session,
    run_onnx,
    run_pytorch,
)
from au.inference.sidecar import read_sidecar, sidecar_output_names, write_sidecar
from au.models.checkpoint import file_sha256, read_checkpoint, recorded_positive_threshold
from au.models.module import AULitModule
from au.tasks.intensity import IntensityTask

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx")
#: Largest difference (probability or intensity) allowed between the ONNX file and PyTorch.
PARITY_TOLERANCE = 1e-4


#: :func:`export_problem` of a file that does not exist.
MISSING = "does not exist"


def occurrence_threshold_of(ckpt_path: Path | None, module: AULitModule) -> float:
    """Intensity at or above which an intensity model's AU counts as present.

    The checkpoint's recorded ``data.positive_threshold`` (kept on a module loaded by
    :meth:`~au.models.module.AULitModule.load_detector`, else read from ``ckpt_path``), else
    :attr:`IntensityTask.default_occurrence_threshold` (2, as DISFA and the synthetic set);
    other tasks never use it (the default, without reading the checkpoint).
    """
    default = IntensityTask.default_occurrence_threshold
    if "intensities" not in module.task.inference_names:
        return default
    if hasattr(module, "recorded_positive_threshold"):
        recorded = module.recorded_positive_threshold
    elif ckpt_path is not None:
        recorded = recorded_positive_threshold(read_checkpoint(ckpt_path))
    else:
        return default
    return default if recorded is None else recorded


class TorchRuntime:
    """The checkpoint's PyTorch module on ``device`` (channels-last when trained so).

    Args:
        module: A trained :class:`AULitModule`.
        device: Torch device.
        occurrence_threshold: See :class:`~au.inference.onnx_torchscript.InferenceModel`.
    """

    name = "torch"

    def __init__(self, module: AULitModule, device: str = "cpu", occurrence_threshold=2.0):
        self.module = module.eval().to(device)
        self.device = torch.device(device)
        self.model = InferenceModel(self.module, occurrence_threshold)
        self.output_names = self.model.output_names
        self.channels_last = bool(module.hparams.get("channels_last", False))

    @torch.inference_mode()
    def outputs(self, images: np.ndarray) -> Outputs:
        """The task's named outputs (each (N, ...)) of normalised images (N, C, H, W)."""
        batch = torch.from_numpy(np.ascontiguousarray(images, np.float32)).to(self.device)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        values = self.model(batch)
        return {k: v.cpu().numpy() for k, v in zip(self.output_names, values, strict=True)}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """AU probabilities (N, A) of normalised images (``au.evaluate`` reads these)."""
        return au_probabilities(self.outputs(images))


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
        self.output_names = tuple(output.name for output in self.session.get_outputs())

    def outputs(self, images: np.ndarray) -> Outputs:
        """The task's named outputs (each (N, ...)) of normalised images (N, C, H, W)."""
        feed = {INPUT_NAME: np.ascontiguousarray(images, np.float32)}
        values = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, values, strict=True))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """AU probabilities (N, A) of normalised images (``au.evaluate`` reads these)."""
        return au_probabilities(self.outputs(images))


def au_probabilities(outputs: Outputs) -> np.ndarray:
    """The ``au_probabilities`` (N, A) of a runtime's outputs.

    Raises:
        ValueError: If the model has no AU occurrence head (``task=intensity`` or ``emotion``).
    """
    if "au_probabilities" not in outputs:
        raise ValueError(
            f"this model gives {', '.join(outputs)}, not AU probabilities (an AU occurrence "
            "model, task=au or task=joint, has them)"
        )
    return outputs["au_probabilities"]


def onnx_path_for(ckpt_path: Path) -> Path:
    """Where the exported model of a checkpoint lives: ``<ckpt stem>.onnx`` beside it."""
    return Path(ckpt_path).with_suffix(".onnx")


def export_cache_dir() -> Path:
    """Exports of checkpoints in read-only folders: ``$XDG_CACHE_HOME/au/exports`` (~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "au" / "exports"


def cached_onnx_path(ckpt_path: Path, checkpoint_sha256: str) -> Path:
    """The export cache's place for a checkpoint's ONNX file (a folder per checkpoint digest)."""
    return export_cache_dir() / checkpoint_sha256[:16] / onnx_path_for(ckpt_path).name


def export_problem(path: Path, checkpoint_sha256: str, output_names: tuple[str, ...]) -> str:
    """Why ``path`` is not the checkpoint's current ONNX export ("": it is).

    The sidecar must record the checkpoint's SHA-256 and the ONNX file's own, and list the
    outputs the model gives now.
    """
    if not path.is_file():
        return MISSING
    sidecar = read_sidecar(path)
    if sidecar is None:
        return "has no readable sidecar"
    if sidecar.get("checkpoint_sha256") != checkpoint_sha256:
        return "was exported from another checkpoint (the checkpoint's sha256 differs)"
    if sidecar.get("file_sha256") != file_sha256(path):
        return "was changed or replaced after its export (its sha256 differs from the sidecar's)"
    if sidecar_output_names(path) != output_names:
        return "lists other outputs (an export by an older au)"
    return ""


def ensure_onnx(ckpt_path: Path, module: AULitModule, occurrence_threshold: float = 2.0) -> Path:
    """The checkpoint's ONNX file, exported and parity-checked first if missing or not its own.

    An export is used only if its sidecar binds it to this checkpoint (:func:`export_problem`);
    otherwise it is exported again, saying why. Exports go beside the checkpoint or, where that
    folder cannot be written, to :func:`export_cache_dir`.

    Raises:
        ExportUnavailableError: If no export can be written (or it fails its parity check).
    """
    ckpt_path = Path(ckpt_path)
    model = InferenceModel(module.cpu(), occurrence_threshold)
    digest = file_sha256(ckpt_path)
    beside, cached = onnx_path_for(ckpt_path), cached_onnx_path(ckpt_path, digest)
    problem = export_problem(beside, digest, model.output_names)
    if not problem:
        return beside
    if not export_problem(cached, digest, model.output_names):
        if problem != MISSING:
            log.warning("%s %s; using %s", beside, problem, cached)
        return cached
    if problem != MISSING:
        log.warning("%s %s: exporting it again", beside, problem)
    try:
        return export_bound_onnx(model, module, ckpt_path, beside, digest)
    except OSError as err:
        log.warning(
            "cannot write in %s (%s): exporting to %s", beside.parent, err.strerror or err, cached
        )
    try:
        return export_bound_onnx(model, module, ckpt_path, cached, digest)
    except OSError as err:
        raise ExportUnavailableError(
            f"runtime=onnx: {ckpt_path} cannot be exported to ONNX, neither beside it nor in "
            f"{cached.parent} ({err.strerror or err}); use runtime=torch or a writable folder"
        ) from err


def export_bound_onnx(
    model: InferenceModel, module: AULitModule, ckpt_path: Path, path: Path, digest: str
) -> Path:
    """Export ``model`` to ``path``, check it against PyTorch, bind it to the checkpoint.

    The file is staged in ``path``'s folder and renamed into place; the sidecar records the
    checkpoint's and the file's SHA-256.
    """
    config = module.hparams.data_config
    shape = (8, int(config["channels"]), int(config["image_size"]), int(config["image_size"]))
    images = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    reference = run_pytorch(model, images)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        staged = export_onnx(model, Path(staging) / path.name, torch.from_numpy(images[:2]))
        comparison = compare_outputs(reference, run_onnx(staged, images))
        if comparison.max_abs_diff > PARITY_TOLERANCE:
            raise OnnxParityError(
                f"runtime=onnx: the ONNX export of {ckpt_path} differs from PyTorch by "
                f"{comparison.format()} > {PARITY_TOLERANCE:g}; use runtime=torch"
            )
        os.replace(staged, path)  # atomic: a concurrent run sees the old file or the new one
    parity = comparison.max_abs_diff
    write_sidecar(
        path, model, module, checkpoint=str(ckpt_path), checkpoint_sha256=digest,
        file_sha256=file_sha256(path), parity=parity,
    )  # fmt: skip
    log.info("exported %s (max |diff| vs PyTorch %.1e)", path, parity)
    return path


def build_runtime(
    name: str,
    module: AULitModule,
    ckpt_path: Path | None,
    device: str = "cpu",
    threads=None,
    occurrence_threshold: float | None = None,
):
    """The runtime called ``name`` (``torch`` or ``onnx``) for a loaded checkpoint.

    ``occurrence_threshold`` ``None``: :func:`occurrence_threshold_of` the checkpoint.
    """
    if occurrence_threshold is None:
        occurrence_threshold = occurrence_threshold_of(ckpt_path, module)
    if name == "torch":
        return TorchRuntime(module, device, occurrence_threshold)
    if name == "onnx":
        if ckpt_path is None:
            raise ValueError("runtime=onnx needs the checkpoint's path (the export goes beside it)")
        if device != "cpu":
            log.warning("runtime=onnx runs on the CPU (device=%s ignored)", device)
        return OnnxRuntime(ensure_onnx(ckpt_path, module, occurrence_threshold), threads)
    raise ValueError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
