"""Config schemas: one pydantic model per config section, built from the code that receives it.

A section's fields are the parameters of its receiving code (:func:`au.run.config_keys.
section_parameters`: data module, synthetic renderer, schedule, backbone, head, loss, optimizer,
decision, trainer, task), typed by each parameter's hint (or its default's type) and narrowed by
its range from :mod:`au.run.config_ranges`. Pydantic validates a section strictly: ``'8'`` is
not an integer, ``1`` not ``true``, ``5`` not a string, and a key the code does not take is
refused (``extra="forbid"``). Keys outside those sections (a command's own, such as
``au.predict``'s ``detector``) are typed by the command's ``CONFIG_KEYS`` or by their range, in
a model that lets other keys pass. A new constructor argument is checked with no edit here.

``python -m au.run.config_schema [SECTION]`` prints the JSON schema of the default ``au.fit``
config's sections.
"""

from __future__ import annotations

import collections.abc
import inspect
import json
import math
import sys
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

import annotated_types
from pydantic import BaseModel, ConfigDict, create_model

from au.run.config import compose_config
from au.run.config_keys import Parameters, section_parameters
from au.run.config_ranges import Range, range_of

#: Strict: a value is taken as it is (the receiving code gets it unconverted); classes a config
#: cannot hold (a tensor, a Lightning plugin) are checked with ``isinstance``.
STRICT = {"strict": True, "arbitrary_types_allowed": True}


def section_schema(
    section: str,
    accepted: Parameters | None,
    present: Mapping[str, object],
    declared: Mapping[str, object] | None = None,
) -> type[BaseModel]:
    """The model of one config section.

    Args:
        section: Its dotted path (``""`` for the top level).
        accepted: The parameters of the code that receives it; ``None`` when any key passes
            (a ``**kwargs`` read by the code itself, or a section no code types).
        present: The section's keys in the config: where any key passes, those typed by
            ``declared`` or by their name's range (a ``**kwargs`` option such as ``scale``)
            become fields.
        declared: Dotted key -> type of the keys a command reads itself (its ``CONFIG_KEYS``).
    """
    fields: dict[str, Any] = {}  # name -> (type, default); a default is shown, never validated
    for name, parameter in (accepted or {}).items():
        key = f"{section}.{name}" if section else name
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (config_type(parameter_type(parameter), range_of(key)), default)
    for name in present if accepted is None else ():
        key = f"{section}.{name}" if section else name
        typed, bounds = (declared or {}).get(key), range_of(key)
        if typed is not None or bounds is not None:
            fields[name] = (config_type(typed, bounds), None)
    extra = "allow" if accepted is None else "forbid"
    title = section or "top level"
    return create_model(title, __config__=ConfigDict(extra=extra, title=title, **STRICT), **fields)


def parameter_type(parameter: inspect.Parameter) -> object | None:
    """A parameter's type hint, else its default's type (a number for an int or float)."""
    if parameter.annotation is not inspect.Parameter.empty:
        return None if isinstance(parameter.annotation, str) else parameter.annotation
    default = parameter.default
    if isinstance(default, bool | str):
        return type(default)
    return float if isinstance(default, int | float) else None


def implied_type(bounds: Range) -> object:
    """The type of a key known only by its range: a count or a number, or null (switched off)."""
    return (int if bounds.integer else float) | None


def config_type(annotation: object | None, bounds: Range | None) -> object:
    """``annotation`` as a config holds it, its numbers (list elements too) kept in ``bounds``.

    A tuple is a list in a config; an untyped key takes the type its range implies.
    """
    if annotation is None:
        return Any if bounds is None else config_type(implied_type(bounds), bounds)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(config_type(option, bounds) for option in args)]  # noqa: UP007
    if origin is tuple:
        return list[typing.Union[tuple(config_type(a, bounds) for a in args if a is not ...)]]  # noqa: UP007
    if origin in (list, collections.abc.Sequence) and args:
        return list[config_type(args[0], bounds)]
    if annotation in (int, float) and bounds is not None:
        return Annotated[(annotation, *constraints(bounds))]
    return annotation


def constraints(bounds: Range) -> list[annotated_types.BaseMetadata]:
    """``bounds`` as the ``annotated_types`` limits pydantic checks."""
    low = annotated_types.Gt if bounds.low_open else annotated_types.Ge
    high = annotated_types.Lt if bounds.high_open else annotated_types.Le
    limits = [low(bounds.low)] if bounds.low != -math.inf else []
    return limits + ([high(bounds.high)] if bounds.high != math.inf else [])


def main(argv: list[str]) -> None:
    """Print the JSON schema of the default fit config's sections (or of the one named)."""
    config = compose_config("fit", ["paths.output_dir=."])
    sections = section_parameters(config)
    unknown = [name for name in argv if name not in sections]
    if unknown:
        print(f"error: no section {', '.join(unknown)}; choose from {', '.join(sections)}",
              file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    schemas = {
        section: section_schema(section, accepted, {}).model_json_schema()
        for section, accepted in sections.items()
        if not argv or section in argv
    }
    print(json.dumps(schemas, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
