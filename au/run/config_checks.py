"""Type checks of config values before any work (``data.batch_size=abc`` stops at once).

Hydra accepts any value for a key that exists, so a typo in a number only fails deep inside
training. The expected types are read from the code that receives each section (the type hints
of ``AUDataModule``, ``SyntheticConfig`` and ``TwoStageFineTuning``) and from a short table for
top-level keys, so a new argument is checked without editing this module.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

from au.callbacks.two_stage import TwoStageFineTuning
from au.data.datamodule import AUDataModule
from au.data.synthetic import SyntheticConfig
from au.run.config_keys import unknown_keys

#: Keys outside the sections typed by code, with the types they take.
TOP_LEVEL_TYPES: dict[str, object] = {
    "seed": int,
    "test": bool,
    "ckpt_path": str | None,
    "model.optimizer.lr": float,
    "model.optimizer.finetune_lr": float,
    "model.optimizer.weight_decay": float,
    "retune": bool,
    "plots": bool,
    "batch_size": int,
    "every": int,
    "max_frames": int | None,
    "margin": float,
    "annotate": bool,
    "progress": bool,
}
#: Sections of a config and the callable whose type hints give their keys' types.
SECTION_TYPES: dict[str, Callable] = {
    "data": AUDataModule.__init__,
    "schedule": TwoStageFineTuning.__init__,
}


class ConfigValueError(ValueError):
    """A config value of the wrong type (one line per key)."""


def check_config_values(config: DictConfig) -> None:
    """Raise if ``config`` holds an unknown key or a known key holds a value of the wrong type.

    Raises:
        ConfigValueError: Listing every wrong key, one line each, with what was expected.
    """
    expected = expected_types(config)
    problems = unknown_keys(config)  # au.run.config_keys: keys the receiving code does not take
    for key, annotation in expected.items():
        value = OmegaConf.select(config, key, default=_ABSENT)
        if value is _ABSENT or _is_missing(config, key):
            continue
        value = OmegaConf.to_container(value, resolve=True) if _is_node(value) else value
        if not matches(value, annotation):
            problems.append(f"{key}={value!r}: expected {describe(annotation)}")
    if problems:
        raise ConfigValueError("\n".join(problems))


def expected_types(config: DictConfig) -> dict[str, object]:
    """Key -> expected type of every checked key (those absent from ``config`` included)."""
    expected = dict(TOP_LEVEL_TYPES)
    for section, receiver in SECTION_TYPES.items():
        hints = typing.get_type_hints(receiver)
        expected |= {f"{section}.{k}": v for k, v in hints.items() if k != "return"}
    if isinstance(OmegaConf.select(config, "data.synthetic", default=None), DictConfig):
        hints = typing.get_type_hints(SyntheticConfig)
        fields = [field.name for field in dataclasses.fields(SyntheticConfig)]
        expected |= {f"data.synthetic.{name}": hints[name] for name in fields}
    return expected


def matches(value: object, annotation: object) -> bool:
    """Whether a plain config value fits a type hint (an int fits ``float``, a bool no number)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(matches(value, option) for option in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is None or annotation is type(None):
        return value is None
    annotation = typing.get_origin(annotation) or annotation
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (list, tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, annotation) if isinstance(annotation, type) else True


def describe(annotation: object) -> str:
    """``int | None`` -> ``"int or null"``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(describe(option) for option in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(str(option) for option in typing.get_args(annotation))
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation) or annotation
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(
        origin, getattr(origin, "__name__", str(origin))
    )


_ABSENT = object()


def _is_node(value: object) -> bool:
    return OmegaConf.is_config(value)


def _is_missing(config: DictConfig, key: str) -> bool:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(config, parent) if parent else config
    return isinstance(node, DictConfig) and OmegaConf.is_missing(node, leaf)
