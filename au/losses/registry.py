"""The loss registry: a loss is one module in ``au/losses/`` and one YAML in ``configs/loss/``.

A loss module decorates its ``nn.Module`` with ``@register_loss("name")``; ``configs/loss/
<name>.yaml`` (``# @package model.loss``) holds ``name: <name>`` and the constructor's keyword
arguments. Every module of this package is imported on first use, so nothing else needs an
edit: ``loss=<name>`` trains with it, checkpoints rebuild it by name, and the config check
(:mod:`au.run.config_keys`) accepts exactly its constructor's arguments.

A loss declares what it trains (``target``): ``"occurrence"`` (AU logits against 0/1 labels,
``loss=`` under ``task=au``/``joint``), ``"intensity"`` (``task.loss`` of ``task=intensity``) or
``"emotion"`` (the emotion head's); and whether it only ranks the AUs of a frame (``ranking``:
the ``auto`` decision step then gives it a per-frame threshold). A task builds its loss with
:func:`build_loss` and names the target it needs, so a loss of another kind is refused by name.

A loss that needs numbers from the training labels (weighted BCE's per-AU positive weights)
defines a classmethod ``options_from_training_labels(labels, mask, options) -> dict``; the
returned keyword arguments are added to its config (and so saved in the checkpoint).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping

import torch
from torch import nn

from au.registry import Registry

#: Name -> class of every registered loss.
LOSSES: Registry[type[nn.Module]] = Registry("loss", "au.losses")
#: What au's own losses train (their declared ``target``); a new task may name its own.
TARGETS = ("occurrence", "intensity", "emotion")


def register_loss(
    name: str, *, target: str = "occurrence", ranking: bool = False
) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a loss available by ``name`` (``loss=<name>`` for occurrence).

    Args:
        name: The config name.
        target: What it trains: one of :data:`TARGETS`, or a new task's own target.
        ranking: Whether it only orders the AUs of a frame (no per-AU threshold is meaningful).
    """
    if not target:
        raise ValueError(f"loss {name!r}: name what it trains (target), e.g. {TARGETS}")

    def register(cls: type[nn.Module]) -> type[nn.Module]:
        cls.target, cls.ranking = target, ranking
        return LOSSES.register(name)(cls)

    return register


def losses_for(target: str) -> list[str]:
    """The names of the registered losses that train ``target``."""
    return sorted(name for name, cls in registered_losses().items() if cls.target == target)


def registered_losses() -> dict[str, type[nn.Module]]:
    """Name -> class of every registered loss (the modules of ``au.losses`` imported first)."""
    return LOSSES.entries()


def loss_class(name: str | None) -> type[nn.Module]:
    """The class registered as ``name``.

    Raises:
        ValueError: Naming the registered losses, if ``name`` is not one.
    """
    return LOSSES.lookup(name)


def loss_arguments(name: str) -> list[str]:
    """The keyword arguments the loss ``name`` takes (its config keys besides ``name``)."""
    parameters = inspect.signature(loss_class(name).__init__).parameters
    return [key for key in parameters if key != "self"]


def loss_label(config: Mapping) -> str | None:
    """The loss's name plus its options that differ from the constructor's defaults.

    ``{"name": "pr", "average": "macro"}`` -> ``"pr(average=macro)"``; ``{"name": "pr",
    "average": "micro"}`` -> ``"pr"``. Runs of different losses thus never share a label (a
    comparison grouping by loss keeps them apart). Options derived from the training labels
    (lists such as weighted BCE's ``pos_weight``) are left out; so is an unknown name's.
    """
    name = config.get("name")
    if name not in registered_losses():
        return name
    parameters = inspect.signature(loss_class(name).__init__).parameters
    changed = [
        f"{key}={value}"
        for key, value in sorted(config.items())
        if key in parameters
        and isinstance(value, str | int | float | bool)
        and value != parameters[key].default
    ]
    return f"{name}({', '.join(changed)})" if changed else name


def build_loss(config: Mapping, target: str = "occurrence", key: str = "loss") -> nn.Module:
    """Instantiate a loss from ``{"name": ..., **kwargs}``; it must train ``target``.

    Raises:
        ValueError: If the name is unknown or its loss trains another target (``key`` is the
            config key that chose it, for the message).
    """
    options = dict(config)
    name = options.pop("name", None)
    cls = registered_losses().get(name)
    if cls is None or cls.target != target:
        choices = losses_for(target)
        close = difflib.get_close_matches(str(name), choices, n=1)
        what = "is not a registered loss" if cls is None else f"trains {cls.target}"
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"{key}={name!r} {what}; the {target} losses are {', '.join(choices)}{hint}"
        )
    return cls(**options)


def options_from_training_labels(config: Mapping, labels: torch.Tensor, mask: torch.Tensor) -> dict:
    """``config`` plus what its loss derives from the training labels (N, A) and mask (N, A)."""
    derive = getattr(loss_class(config.get("name")), "options_from_training_labels", None)
    return {**config, **(derive(labels, mask, dict(config)) if derive else {})}
