"""au.registry.Registry: one registry of plug-ins by name for losses, tasks and readers."""

import pytest

from au.errors import ConfigValueError, PrepareError
from au.losses.registry import LOSSES
from au.prepare.registry import READERS
from au.registry import Registry
from au.tasks.registry import TASKS


class Plain:
    pass


class Other:
    pass


def test_register_lookup_and_names():
    registry = Registry("widget")
    assert registry.register("plain")(Plain) is Plain
    registry.add("plain", Plain)  # the same entry again is no conflict
    registry.add("other", Other)
    assert registry.lookup("plain") is Plain and registry["other"] is Other
    assert sorted(registry) == ["other", "plain"] and len(registry) == 2 and "plain" in registry
    assert registry.entries() == {"plain": Plain, "other": Other}


def test_unknown_name_is_one_line_with_the_closest_name():
    registry = Registry("widget", error=LookupError)
    registry.add("plain", Plain)
    registry.add("other", Other)
    with pytest.raises(LookupError) as caught:
        registry.lookup("plane")
    assert str(caught.value) == (
        "unknown widget 'plane'; choose one of other, plain (did you mean plain?)"
    )
    with pytest.raises(LookupError) as caught:
        registry.lookup("zzz")
    assert str(caught.value) == "unknown widget 'zzz'; choose one of other, plain"


def test_a_taken_name_names_its_holder():
    registry = Registry("widget")
    registry.add("plain", Plain)
    with pytest.raises(ValueError, match="^widget name 'plain' is taken by Plain$"):
        registry.add("plain", Other)


def test_the_three_registries_discover_their_packages():
    assert {"bce", "lsep", "focal"} <= set(LOSSES)
    assert sorted(TASKS) == ["au", "emotion", "intensity", "joint"]
    assert "disfa" in READERS and "common" not in READERS
    with pytest.raises(ValueError, match=r"^unknown loss 'bcee'; .* \(did you mean bce\?\)$"):
        LOSSES.lookup("bcee")
    with pytest.raises(ConfigValueError, match=r"^unknown task 'emotin'; .*did you mean emotion"):
        TASKS.lookup("emotin")
    with pytest.raises(
        PrepareError, match=r"^unknown data set 'disfa-plus'; .*did you mean disfa_plus"
    ):
        READERS.lookup("disfa-plus")
