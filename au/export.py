"""``python -m au.export``: a trained model to ONNX and/or TorchScript, checked against PyTorch.

Examples:
    python -m au.export ckpt_path=logs/fit/runs/.../checkpoints/best.ckpt            # both
    python -m au.export ckpt_path=best.ckpt format=onnx quantize=true images=crops/

Any task's checkpoint exports; the graph returns the task's outputs, named in the ONNX file
(:mod:`au.inference.onnx_torchscript`): ``au_probabilities`` and ``au_decisions`` (task au),
``intensities`` and ``au_decisions`` (intensity), ``emotion_probabilities`` (emotion), or
``au_probabilities``, ``emotion_probabilities`` and ``au_decisions`` (joint). TorchScript returns
the same tuple in the same order. Each file (``detector.onnx``, ``detector.int8.onnx``,
``detector.torchscript.pt``) gets a JSON sidecar (``<file>.json``, :mod:`au.inference.sidecar`:
the task, each output's shape, labels and meaning, AUs, thresholds, image_size, channels, mean,
std, and the SHA-256 of the checkpoint and of the file). Every export is run on the same face
crops as the PyTorch model; a difference in any output (probability or intensity) above
``tolerance`` is an error (the int8 file is reported, not checked: quantization changes outputs
by design).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from tabulate import tabulate  # noqa: E402

from au.inference.detector import AUDetector  # noqa: E402
from au.inference.media import MediaReadError, Source, find_sources, read_frames  # noqa: E402
from au.inference.onnx_torchscript import (  # noqa: E402
    InferenceModel,
    OutputComparison,
    Outputs,
    compare_outputs,
    export_onnx,
    export_torchscript,
    quantize_onnx,
    run_onnx,
    run_pytorch,
    run_torchscript,
)
from au.inference.sidecar import write_sidecar  # noqa: E402
from au.models.checkpoint import file_sha256  # noqa: E402
from au.run.config_checks import ConfigValueError  # noqa: E402
from au.run.folder import bad_input_stops_run  # noqa: E402

log = logging.getLogger("au.export")
FORMATS = {"onnx": ("onnx",), "torchscript": ("torchscript",), "both": ("onnx", "torchscript")}
#: The types of the keys au.export reads itself (configs/export.yaml), checked before any work.
CONFIG_KEYS: dict[str, object] = {
    "ckpt_path": str,
    "format": Literal[tuple(FORMATS)],
    "quantize": bool,
    "opset": int,
    "tolerance": float,
    "images": str | None,
    "num_images": int,
    "name": str,
}


class ExportParityError(AssertionError):
    """An exported model's outputs differ from PyTorch's by more than the tolerance."""


@dataclass
class ExportResult:
    """One written file and how its outputs compare with the PyTorch model's."""

    kind: str
    path: Path
    comparison: OutputComparison

    def row(self, reference_size: int) -> dict:
        """A line of the summary table."""
        size, comparison = self.path.stat().st_size, self.comparison
        agreement = comparison.decision_agreement
        return {
            "export": self.kind,
            "file": self.path.name,
            "MB": round(size / 2**20, 3),
            "vs fp32 ONNX": f"{size / reference_size:.2f}x" if reference_size else "",
            "max |diff|": f"{comparison.max_abs_diff:.2e}",
            "mean |diff|": f"{comparison.mean_abs_diff:.2e}",
            "decisions agree": "" if agreement is None else f"{agreement:.2%}",
            "faces agree": "" if agreement is None else f"{comparison.faces_agreeing:.2%}",
        }


def face_batch(detector: AUDetector, images: str | None, count: int) -> tuple[np.ndarray, str]:
    """Normalised face crops (N, C, H, W) to compare exports on, and where they come from.

    ``images`` is a folder of face crops (searched recursively; ``count`` are taken evenly
    spaced), else the default synthetic set if it was generated, else Gaussian noise.
    """
    folder = Path(images).expanduser() if images else _default_synthetic_folder()
    if folder is None:
        size, channels = detector.image_size, detector.channels
        noise = np.random.default_rng(0).standard_normal((count, channels, size, size))
        return noise.astype(np.float32), f"{count} Gaussian-noise images (pass images=FOLDER)"
    sources = [s for s in find_sources(folder) if s.kind == "image"]
    if not sources:
        raise ConfigValueError(f"no face images in {folder} (images=): expected a folder of crops")
    picks = np.unique(np.linspace(0, len(sources) - 1, count).round().astype(int))
    crops = _readable_images([sources[i] for i in picks])
    if not crops:
        raise ConfigValueError(f"no readable face images in {folder}")
    return detector.preprocess(crops).cpu().numpy(), f"{len(crops)} face crops from {folder}"


def _readable_images(sources: list[Source]) -> list[np.ndarray]:
    images = []
    for source in sources:
        try:
            images += [frame.image for frame in read_frames(source)]
        except MediaReadError as err:
            log.warning("skipping %s", err)
    return images


def _default_synthetic_folder() -> Path | None:
    try:
        from au.data.synthetic import SyntheticConfig
        from au.data.synthetic.writer import dataset_folder
    except ImportError:
        return None
    folder = dataset_folder(SyntheticConfig())
    return folder if folder.is_dir() else None


def check_parity(result: ExportResult, tolerance: float) -> None:
    """Print each output's largest difference; raise if one is above ``tolerance``."""
    print(f"parity {result.kind} vs PyTorch: {result.comparison.format()}")
    over = {k: v for k, v in result.comparison.max_abs_diffs.items() if v > tolerance}
    if over:
        worst = ", ".join(f"{name} by {value:.3e}" for name, value in over.items())
        raise ExportParityError(
            f"{result.path}: outputs differ from PyTorch ({worst}) > tolerance {tolerance:g}"
        )


@dataclass
class ExportJob:
    """What every export of one checkpoint shares: the model, its inputs and PyTorch's outputs."""

    detector: AUDetector
    model: InferenceModel
    images: np.ndarray  # (N, C, H, W) normalised face crops
    reference: Outputs  # PyTorch's named outputs
    output_dir: Path
    stem: str
    tolerance: float
    checkpoint: str

    def sidecar(self, path: Path, **facts) -> Path:
        """Write the JSON sidecar of an exported file, bound to the checkpoint by SHA-256."""
        binding = {
            "checkpoint_sha256": file_sha256(self.checkpoint),
            "file_sha256": file_sha256(path),
        }
        return write_sidecar(
            path, self.model, self.detector.model, checkpoint=self.checkpoint, **binding, **facts
        )


def export_onnx_files(job: ExportJob, opset: int, quantize: bool) -> list[ExportResult]:
    """``<stem>.onnx`` (parity-checked) and, with ``quantize``, ``<stem>.int8.onnx``."""
    example = torch.from_numpy(job.images[:2])
    path = export_onnx(job.model, job.output_dir / f"{job.stem}.onnx", example, opset)
    results = [
        ExportResult("onnx", path, compare_outputs(job.reference, run_onnx(path, job.images)))
    ]
    check_parity(results[0], job.tolerance)
    job.sidecar(path, format="onnx", opset=opset)
    if quantize:
        path = quantize_onnx(path, job.output_dir / f"{job.stem}.int8.onnx")
        outputs = run_onnx(path, job.images)
        results.append(ExportResult("onnx int8", path, compare_outputs(job.reference, outputs)))
        print(f"int8 vs PyTorch fp32: {results[-1].comparison.format()}")
        job.sidecar(path, format="onnx", opset=opset, quantized="int8 dynamic (weights)")
    return results


def export_torchscript_file(job: ExportJob) -> ExportResult:
    """``<stem>.torchscript.pt`` (traced, parity-checked)."""
    example = torch.from_numpy(job.images[:2])
    path = export_torchscript(job.model, job.output_dir / f"{job.stem}.torchscript.pt", example)
    outputs = run_torchscript(path, job.images, job.model.output_names)
    result = ExportResult("torchscript", path, compare_outputs(job.reference, outputs))
    check_parity(result, job.tolerance)
    job.sidecar(path, format="torchscript")
    return result


def run_export(config: DictConfig) -> list[ExportResult]:
    """Export, check and (optionally) quantize as configured (``configs/export.yaml``)."""
    if config.format not in FORMATS:
        raise ConfigValueError(f"format={config.format!r}: choose one of {', '.join(FORMATS)}")
    if config.quantize and "onnx" not in FORMATS[config.format]:
        raise ConfigValueError(
            "quantize=true needs the ONNX export: use format=onnx or format=both"
        )
    detector = AUDetector.from_checkpoint(config.ckpt_path)
    images, described = face_batch(detector, config.images, config.num_images)
    model = InferenceModel(detector.model, detector.occurrence_threshold)
    print(f"checking exports on {described}; outputs {', '.join(model.output_names)}")
    job = ExportJob(
        detector, model, images, run_pytorch(model, images), Path(config.output_dir),
        config.name, config.tolerance, str(Path(config.ckpt_path).resolve()),
    )  # fmt: skip
    results = []
    if "onnx" in FORMATS[config.format]:
        results += export_onnx_files(job, config.opset, config.quantize)
    if "torchscript" in FORMATS[config.format]:
        results.append(export_torchscript_file(job))
    onnx_size = results[0].path.stat().st_size if results[0].kind == "onnx" else 0
    print(tabulate([r.row(onnx_size) for r in results], headers="keys", tablefmt="github"))
    print(f"exports and sidecars: {job.output_dir}")
    return results


@hydra.main(version_base="1.3", config_path="../configs", config_name="export")
def main(config: DictConfig) -> None:
    """Hydra entry point."""
    with bad_input_stops_run(config, CONFIG_KEYS):
        run_export(config)


if __name__ == "__main__":
    main()
