"""Unknown config keys stop a run before any work, one line per key.

Hydra refuses a command-line key that does not exist (unless it is added with ``+``), but a
misspelled key in a YAML file (an experiment, a data set's own config) or one added with ``+``
would be ignored or fail deep inside training. The keys each section accepts are read from the
code that receives it, so a new argument needs no edit here:

- ``data``: :class:`~au.data.datamodule.AUDataModule`; ``data.synthetic``:
  :class:`~au.data.synthetic.SyntheticConfig`;
- ``schedule``: :class:`~au.callbacks.two_stage.TwoStageFineTuning`;
- ``model.backbone``: :func:`~au.models.backbone.create_backbone`; ``model.head``:
  :class:`~au.models.head.AUHead`; ``model.loss``: the registered loss's constructor
  (:mod:`au.losses.registry`); ``model.optimizer``: ``name``, ``lr``, ``finetune_lr`` and the
  torch optimizer's arguments; ``model.decision``: :data:`DECISION_KEYS`;
- ``trainer``: ``lightning.Trainer``.

Value types are checked by :mod:`au.run.config_checks`, which calls :func:`unknown_keys` first.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Iterable

import lightning as L  # noqa: N812
from omegaconf import DictConfig, OmegaConf

from au.callbacks.two_stage import TwoStageFineTuning
from au.data.datamodule import AUDataModule
from au.data.synthetic import SyntheticConfig
from au.losses.registry import loss_arguments, registered_losses
from au.models.backbone import create_backbone
from au.models.head import AUHead
from au.models.module import OPTIMIZERS

MODEL_KEYS = ("backbone", "head", "loss", "optimizer", "decision", "channels_last")
DECISION_KEYS = ("name", "min_positives", "bootstrap")
#: Arguments the builders pass themselves, so a config may not set them.
SET_BY_CODE = {
    "self", "in_features", "num_aus", "params", "max_epochs", "callbacks", "logger",
    "task",  # the data module's task comes from the `task` group (configs/task/)
    "mean", "std",  # the backbone's normalisation (au.models.preprocessing)
}  # fmt: skip
#: Keys that moved: where they are now.
MOVED = {"model.optimizer.head_finetune_lr": "schedule.head_finetune_lr"}


def unknown_keys(config: DictConfig) -> list[str]:
    """One line per key of ``config`` that the code receiving its section does not take."""
    problems = []
    for section, accepted in section_keys(config).items():
        node = OmegaConf.select(config, section, default=None)
        if not isinstance(node, DictConfig) or accepted is None:
            continue
        for key in node:
            if key not in accepted:
                problems.append(describe_unknown(f"{section}.{key}", key, accepted))
    problems += unknown_choice(config, "model.loss.name", registered_losses())
    problems += unknown_choice(config, "model.optimizer.name", OPTIMIZERS)
    return problems


def section_keys(config: DictConfig) -> dict[str, set[str] | None]:
    """Section -> the keys it accepts (``None``: anything, e.g. a loss that is not known)."""
    loss = OmegaConf.select(config, "model.loss.name", default=None)
    optimizer = OPTIMIZERS.get(OmegaConf.select(config, "model.optimizer.name", default=None))
    return {
        "data": arguments(AUDataModule.__init__),
        "data.synthetic": {field.name for field in dataclasses.fields(SyntheticConfig)},
        "schedule": arguments(TwoStageFineTuning.__init__),
        "model": set(MODEL_KEYS),
        "model.backbone": arguments(create_backbone),
        "model.head": arguments(AUHead.__init__),
        "model.loss": {"name", *loss_arguments(loss)} if loss in registered_losses() else None,
        "model.optimizer": (
            {"name", "lr", "finetune_lr"} | arguments(optimizer.__init__) if optimizer else None
        ),
        "model.decision": set(DECISION_KEYS),
        "trainer": arguments(L.Trainer.__init__),
    }


def arguments(receiver: Callable) -> set[str] | None:
    """Keyword arguments of ``receiver`` a config may set (``None`` if it takes ``**kwargs``)."""
    parameters = inspect.signature(receiver).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters} - SET_BY_CODE


def describe_unknown(path: str, key: str, accepted: Iterable[str]) -> str:
    """``data.bach_size: unknown key (did you mean batch_size?)``, or the accepted keys."""
    if path in MOVED:
        return f"{path}: unknown key (moved to {MOVED[path]})"
    if key in SET_BY_CODE:
        return f"{path}: set by au itself, not by the config (e.g. max_epochs from the schedule)"
    accepted = sorted(accepted)
    close = difflib.get_close_matches(key, accepted, n=1)
    if close:
        return f"{path}: unknown key (did you mean {close[0]}?)"
    shown = ", ".join(accepted) if len(accepted) <= 20 else f"{len(accepted)} keys of its code"
    return f"{path}: unknown key (accepted: {shown})"


def unknown_choice(config: DictConfig, path: str, choices: Iterable[str]) -> list[str]:
    """A line if the value at ``path`` is set and not one of ``choices``."""
    value = OmegaConf.select(config, path, default=None)
    choices = sorted(choices)
    if value is None or value in choices:
        return []
    return [f"{path}={value!r}: expected one of {', '.join(choices)}"]
