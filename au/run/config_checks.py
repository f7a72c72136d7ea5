"""Type and range checks of config values before any work, one line per key.

``data.batch_size=abc`` and ``model.optimizer.lr=-0.1`` stop a run at once.

Hydra accepts any value for a key that exists, so a typo in a number, or a negative rate, only
fails deep inside training (or trains on nonsense). A key's expected type is the type hint of
the parameter that receives it (:func:`au.run.config_keys.section_parameters`: data module,
schedule, backbone, head, loss, optimizer, trainer, task), the type of that parameter's default
when it has no hint, or :data:`TOP_LEVEL_TYPES` for keys outside those sections, so a new
argument is checked without editing this module. Its range comes from
:mod:`au.run.config_ranges` (patterns over the key), which also types keys no code declares
(a ``**kwargs`` option): ``*_epochs`` an integer, ``*_lr`` a number.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing

from omegaconf import DictConfig, OmegaConf

from au.errors import ConfigValueError
from au.run.config_keys import ignored_sections, section_parameters, unknown_keys
from au.run.config_ranges import Range, range_of

#: Keys outside the sections typed by code (mostly other commands' own), with their types.
TOP_LEVEL_TYPES: dict[str, object] = {
    "seed": int,
    "test": bool,
    "ckpt_path": str | None,
    "retune": bool,
    "plots": bool,
    "threads": int | None,
    "folds": list | None,
    "batch_size": int,
    "every": int,
    "max_frames": int | None,
    "margin": float | None,
    "detect_every": int,
    "smoothing": float,
    "blazeface.model": str,
    "blazeface.score_threshold": float,
    "blazeface.tiles": int,
    "haar.scale_factor": float,
    "haar.min_neighbors": int,
    "haar.min_size": int,
    "haar.max_side": int,
    "annotate": bool,
    "progress": bool,
    "opset": int,
    "tolerance": float,
    "num_images": int,
}
#: Types a config value can have; other classes in a hint (a tensor, a Lightning object) are
#: left out of messages.
CONFIG_TYPES = (bool, int, float, str, list, tuple, dict, collections.abc.Sequence)


def check_config_values(config: DictConfig) -> None:
    """Raise if ``config`` holds an unknown key, or a value of the wrong type or out of range.

    Raises:
        ConfigValueError: Listing every wrong key, one line each, with what was expected.
    """
    unknown = unknown_keys(config)  # au.run.config_keys: keys the receiving code does not take
    problems = list(unknown.values()) + ignored_sections(config)
    declared = declared_types(config)
    for key in dotted_keys(OmegaConf.to_container(config, resolve=False)):
        annotation, bounds = declared.get(key), range_of(key)
        if (annotation is None and bounds is None) or _is_missing(config, key):
            continue
        if any(key == path or key.startswith(f"{path}.") for path in unknown):
            continue  # one line per key: it is unknown
        value = OmegaConf.select(config, key)
        value = OmegaConf.to_container(value, resolve=True) if _is_node(value) else value
        if annotation is None and value is None:
            continue  # a key typed by its name only: null switches it off
        problem = value_problem(value, annotation or implied_type(bounds), bounds)
        if problem:
            problems.append(f"{key}={value!r}: expected {problem}")
    if problems:
        raise ConfigValueError("\n".join(problems))


def declared_types(config: DictConfig) -> dict[str, object]:
    """Key -> type of every key the receiving code types (absent keys included)."""
    declared = dict(TOP_LEVEL_TYPES)
    for section, accepted in section_parameters(config).items():
        for name, parameter in (accepted or {}).items():
            annotation = parameter_type(parameter)
            if annotation is not None:
                declared[f"{section}.{name}"] = annotation
    return declared


def parameter_type(parameter: inspect.Parameter) -> object | None:
    """A parameter's type hint, else its default's type (a number for an int or float)."""
    if parameter.annotation is not inspect.Parameter.empty:
        return None if isinstance(parameter.annotation, str) else parameter.annotation
    default = parameter.default
    if isinstance(default, bool | str):
        return type(default)
    return float if isinstance(default, int | float) else None


def implied_type(bounds: Range) -> object:
    """The type of a key known only by its range: an integer for a count, else a number."""
    return int if bounds.integer else float


def dotted_keys(container: object, prefix: str = "") -> list[str]:
    """Every key of a nested mapping, sections and leaves, as dotted paths (lists are leaves)."""
    if not isinstance(container, dict):
        return []
    keys = []
    for name, child in container.items():
        key = f"{prefix}{name}"
        keys += [key, *dotted_keys(child, f"{key}.")]
    return keys


def value_problem(value: object, annotation: object, bounds: Range | None) -> str | None:
    """What ``value`` should have been (``"an integer >= 1 or null"``), or ``None`` if fine."""
    if not matches(value, annotation):
        return describe(annotation)
    if bounds is None:
        return None
    if isinstance(value, list | tuple):
        if all(x in bounds for x in value if _is_number(x)):
            return None
        kind = "integers" if bounds.integer else "numbers"
        return f"a list of {kind} {bounds.describe()}"
    if not _is_number(value) or value in bounds:
        return None
    options = _options(annotation)
    integer = int in options and float not in options
    noun = "an integer" if integer or (bounds.integer and float not in options) else "a number"
    null = " or null" if type(None) in options else ""
    return f"{noun} {bounds.describe()}{null}"


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
        return _is_number(value)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (list, tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, annotation) if isinstance(annotation, type) else True


def describe(annotation: object) -> str:
    """``int | None`` -> ``"an integer or null"``; a tensor or other class in a hint is left out."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        shown = [o for o in options if _is_config_type(o)] or options
        literals = [o for o in shown if typing.get_origin(o) is typing.Literal]
        if literals:  # one list of choices for several Literal options, each value once
            choices = dict.fromkeys(str(c) for o in literals for c in typing.get_args(o))
            shown = [o for o in shown if o not in literals[1:]]
            shown[shown.index(literals[0])] = typing.Literal[tuple(choices)]
        return " or ".join(describe(option) for option in shown)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(str(option) for option in typing.get_args(annotation))
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation) or annotation
    names = {float: "a number", int: "an integer", bool: "true or false", str: "a string",
             dict: "a mapping", list: "a list", tuple: "a list"}  # fmt: skip
    return names.get(origin, getattr(origin, "__name__", str(origin)))


def _options(annotation: object) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_config_type(option: object) -> bool:
    origin = typing.get_origin(option) or option
    return option is type(None) or origin is typing.Literal or origin in CONFIG_TYPES


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_node(value: object) -> bool:
    return OmegaConf.is_config(value)


def _is_missing(config: DictConfig, key: str) -> bool:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(config, parent) if parent else config
    return isinstance(node, DictConfig) and OmegaConf.is_missing(node, leaf)
