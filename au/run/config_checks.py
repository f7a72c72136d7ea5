"""Config values checked before any work, one line per key, by the sections' pydantic models.

``data.batch_size=abc``, ``model.optimizer.lr=-0.1`` and ``data.bach_size=8`` stop a run at once.

Hydra accepts any value for a key that exists, and a misspelled key in a YAML file (or one added
with ``+``) would be ignored, so a typo only fails deep inside training, or trains on nonsense.
Each section of the composed config is validated by its schema (:mod:`au.run.config_schema`:
a pydantic model built from the signature of the code that receives the section, narrowed by
the ranges of :mod:`au.run.config_ranges`); this module turns pydantic's errors into au's one
line per key (``model.optimizer.lr=-0.1: expected a number > 0``, ``data.bach_size: unknown
key (did you mean batch_size?)``), lists unknown names of a loss, optimizer or task, and the
``model.*`` sections a task does not read.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError
from pydantic import ValidationError

from au.errors import ConfigValueError
from au.run.config_keys import (
    Parameters,
    describe_unknown,
    fixed_keys,
    ignored_sections,
    section_parameters,
    unknown_choices,
)
from au.run.config_ranges import Range, range_of
from au.run.config_schema import parameter_type, section_schema

#: Types a config value can have; other classes in a hint (a tensor, a Lightning object) are
#: left out of messages.
CONFIG_TYPES = (bool, int, float, str, list, tuple, dict, collections.abc.Sequence)
#: Pydantic's error types for a value of the right type outside its range.
OUT_OF_RANGE = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def check_config_values(
    config: DictConfig, command_keys: Mapping[str, object] | None = None
) -> None:
    """Raise if ``config`` holds an unknown key, or a value of the wrong type or out of range.

    Args:
        config: The composed config of a command.
        command_keys: Dotted key -> type of the keys the command reads itself (its
            ``CONFIG_KEYS``, e.g. ``{"detector": Literal["mtcnn", ...]}``); the sections it
            shares with ``au.fit`` are typed by the code that receives them.

    Raises:
        ConfigValueError: Listing every wrong key, one line each, with what was expected:
            unknown keys (in section order), unknown choices, sections the task ignores, then
            wrong values (in config order).
    """
    sections = section_parameters(config) | command_sections(command_keys or {})
    unknown: dict[str, str] = {}
    wrong: dict[str, str] = {}
    for parent, values in section_values(config).items():
        if any(parent == path or parent.startswith(f"{path}.") for path in unknown):
            continue  # one line per key: it is unknown
        accepted = sections.get(parent)
        try:
            section_schema(parent, accepted, values, command_keys).model_validate(values)
        except ValidationError as err:
            for name, errors in errors_by_key(err).items():
                key = f"{parent}.{name}" if parent else name
                if errors[0]["type"] == "extra_forbidden":
                    unknown[key] = describe_unknown(key, name, accepted or {})
                else:
                    typed = (command_keys or {}).get(key)
                    wrong[key] = wrong_value_line(key, values[name], accepted, typed, errors)
    order = list(sections)
    unknown = dict(sorted(unknown.items(), key=lambda item: order.index(_parent(item[0]))))
    problems = [*unknown.values(), *unknown_choices(config).values(), *ignored_sections(config)]
    problems += [wrong[key] for key in dotted_keys(config) if key in wrong]
    if problems:
        raise ConfigValueError("\n".join(problems))


def command_sections(command_keys: Mapping[str, object]) -> dict[str, Parameters]:
    """A command's own sections (``mtcnn`` of ``mtcnn.min_face``) -> their keys, as parameters.

    A section a command reads key by key takes no other key (``+mtcnn.min_fase=40`` is named).
    """
    sections: dict[str, dict[str, object]] = {}
    for key, annotation in command_keys.items():
        section, _, name = key.rpartition(".")
        if section:
            sections.setdefault(section, {})[name] = annotation
    return {section: fixed_keys(**types) for section, types in sections.items()}


def section_values(config: DictConfig) -> dict[str, dict[str, object]]:
    """Each mapping in ``config`` (``""``: the top level) -> its keys' resolved values.

    Missing mandatory values (``???``) are left out, as are interpolations only the command can
    resolve (``${hydra:runtime.output_dir}``): the command that needs one says so.
    """
    found: dict[str, dict[str, object]] = {}
    for key in ["", *dotted_keys(config)]:
        node = OmegaConf.select(config, key, throw_on_resolution_failure=False) if key else config
        if not isinstance(node, DictConfig):
            continue
        found[key] = {}
        for name in node:
            if OmegaConf.is_missing(node, name):
                continue
            try:
                found[key][str(name)] = _plain(node[name])
            except InterpolationResolutionError:  # resolved by the command (${hydra:...})
                child = node._get_node(name)
                if isinstance(child, DictConfig):  # a mapping with such a value inside
                    found[key][str(name)] = OmegaConf.to_container(child, resolve=False)
    return found


def errors_by_key(err: ValidationError) -> dict[str, list[dict]]:
    """Pydantic's errors grouped by the section key they are about (one line each)."""
    grouped: dict[str, list[dict]] = {}
    for error in err.errors():
        grouped.setdefault(str(error["loc"][0]), []).append(error)
    return grouped


def wrong_value_line(
    key: str, value: object, accepted: Parameters | None, typed: object, errors: list[dict]
) -> str:
    """``data.batch_size=-4: expected an integer >= 1``: what the value should have been.

    ``typed`` is the key's type when a command declares it (its ``CONFIG_KEYS``).
    """
    name = key.rpartition(".")[2]
    parameter = (accepted or {}).get(name)
    bounds = range_of(key)
    annotation = parameter_type(parameter) if parameter else typed
    if annotation is None:  # typed by its range only (null switches it off)
        annotation = int if bounds is not None and bounds.integer else float
    if bounds is not None and any(error["type"] in OUT_OF_RANGE for error in errors):
        return f"{key}={value!r}: expected {range_expected(value, annotation, bounds)}"
    return f"{key}={value!r}: expected {describe(annotation)}"


def dotted_keys(config: DictConfig) -> list[str]:
    """Every key of ``config``, sections and leaves, as dotted paths in config order."""

    def walk(container: object, prefix: str) -> list[str]:
        if not isinstance(container, dict):
            return []
        keys = []
        for name, child in container.items():
            key = f"{prefix}{name}"
            keys += [key, *walk(child, f"{key}.")]
        return keys

    return walk(OmegaConf.to_container(config, resolve=False), "")


def range_expected(value: object, annotation: object, bounds: Range) -> str:
    """``"an integer >= 1 or null"``, ``"a list of numbers in [0, 1)"``: a value out of range."""
    if isinstance(value, list | tuple):
        kind = "integers" if bounds.integer else "numbers"
        return f"a list of {kind} {bounds.describe()}"
    options = _options(annotation)
    integer = int in options and float not in options
    noun = "an integer" if integer or (bounds.integer and float not in options) else "a number"
    null = " or null" if type(None) in options else ""
    return f"{noun} {bounds.describe()}{null}"


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


def _parent(key: str) -> str:
    return key.rpartition(".")[0]


def _plain(value: object) -> object:
    """A config node as plain Python (resolved); other values as they are."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
