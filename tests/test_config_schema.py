"""Config schemas are pydantic models built from the receiving code's signature: strict types,
ranges from the name patterns, unknown keys refused; ``python -m au.run.config_schema`` prints
them as JSON Schema."""

import inspect
import json
from collections.abc import Sequence
from typing import Literal

import pytest
from pydantic import ValidationError

from au.run import config_schema
from au.run.config_keys import parameters
from au.run.config_ranges import UNIT, Range
from au.run.config_schema import config_type, section_schema


def receiver(
    rate: float = 0.1,
    steps: int | None = None,
    betas: tuple[float, float] = (0.9, 0.99),
    mode: Literal["max", "min"] = "max",
    names: Sequence[str] = ("a",),
    untyped=3,
):
    """A toy constructor: its parameters are a section's keys."""


def validate(values, section="toy"):
    schema = section_schema(section, parameters(receiver), values)
    return schema.model_validate(values)


def error_types(values) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        validate(values)
    return [(e["loc"][0], e["type"]) for e in caught.value.errors()]


def test_values_of_the_hinted_type_pass_unconverted():
    checked = validate({"rate": 1, "steps": None, "betas": [0.5, 0.6], "names": ["x", "y"]})
    assert checked.rate == 1.0  # an int is a number (the code gets the config's own value)
    assert checked.betas == [0.5, 0.6]  # a tuple is a list in a config
    validate({"mode": "min", "untyped": 2.5})  # untyped: its default's type, a number


def test_strict_types_refuse_what_a_lax_check_would_convert():
    assert error_types({"steps": "8"}) == [("steps", "int_type")]
    assert error_types({"steps": True}) == [("steps", "int_type")]
    assert error_types({"rate": False}) == [("rate", "float_type")]
    assert error_types({"mode": "up"}) == [("mode", "literal_error")]
    assert error_types({"names": "abc"}) == [("names", "list_type")]  # a string is no list here
    assert error_types({"untyped": "x"}) == [("untyped", "float_type")]


def test_unknown_keys_are_refused_where_the_code_names_its_keys():
    assert error_types({"rates": 0.1}) == [("rates", "extra_forbidden")]
    anything = section_schema("toy", None, {"rates": 0.1, "scale": 2.0})
    anything.model_validate({"rates": 0.1, "scale": 2.0})  # **kwargs read by the code itself
    with pytest.raises(ValidationError):  # still typed by its name's range: *scale > 0
        anything.model_validate({"scale": -1.0})


def test_ranges_apply_to_numbers_and_list_elements():
    bounded = config_type(tuple[float, float], UNIT)
    schema = section_schema("toy", {"b": inspect.Parameter("b", 3, annotation=bounded)}, {})
    schema.model_validate({"b": [0.0, 1.0]})
    with pytest.raises(ValidationError) as caught:
        schema.model_validate({"b": [0.5, 1.5]})
    assert [e["type"] for e in caught.value.errors()] == ["less_than_equal"]
    count = section_schema("toy", None, {"num_things": 0}).model_json_schema()
    assert count["properties"]["num_things"]["anyOf"][0] == {"minimum": 1, "type": "integer"}
    open_range = config_type(float | None, Range(0, 1, low_open=True))
    assert open_range == float_in_open_unit() | None


def float_in_open_unit():
    return config_type(float, Range(0, 1, low_open=True))


def test_the_schema_prints_as_json_schema(capsys):
    config_schema.main(["schedule", "data"])
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed) == ["data", "schedule"]
    steps = printed["schedule"]["properties"]["stage2_min_steps"]
    assert steps["anyOf"] == [{"minimum": 1, "type": "integer"}, {"type": "null"}]
    assert steps["default"] is None  # the constructor's default (the YAML sets 800)
    assert printed["data"]["properties"]["batch_size"]["minimum"] == 1
    assert printed["data"]["additionalProperties"] is False


def test_an_unknown_section_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        config_schema.main(["schedul"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("error: no section schedul; choose from data, ")
