"""The import contracts of pyproject.toml: layers import downward only, and no package has cycles.

``lint-imports`` (import-linter) checks them; these tests run its check in-process (not its
command line, which reconfigures logging and so silences au's loggers for later tests), so the
quick tier (and CI) fails on an upward import or an import cycle.
"""

from pathlib import Path

import grimp
from importlinter import configuration
from importlinter.application.use_cases import lint_imports, read_user_options

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def contracts() -> dict[str, dict]:
    """The import-linter contracts of pyproject.toml, by type."""
    configuration.configure()  # import-linter's readers of config files
    options = read_user_options(str(PYPROJECT))
    assert options.session_options["root_packages"] == ["au"]
    return {contract["type"]: contract for contract in options.contracts_options}


def grimp_layers(layers: list[str]) -> list[grimp.Layer]:
    """import-linter's layer strings (``a | b`` independent, ``a : b`` not) as grimp layers."""
    parsed = []
    for layer in layers:
        independent = ":" not in layer
        tails = [tail.strip() for tail in layer.replace(":", "|").split("|")]
        parsed.append(grimp.Layer(*tails, independent=independent))
    return parsed


def test_every_contract_is_kept(capsys):
    configuration.configure()
    assert lint_imports(config_filename=str(PYPROJECT), cache_dir=None, no_logo=True) is True
    assert "Contracts: 2 kept, 0 broken." in capsys.readouterr().out


def test_the_layers_list_every_module_and_end_at_the_vocabularies():
    declared = contracts()
    layers = declared["layers"]
    assert layers["containers"] == ["au"] and layers["exhaustive"] == "True"
    assert layers["layers"][-3:] == ["alignment | emotions | processes | registry", "aus", "errors"]
    assert declared["acyclic_siblings"]["ancestors"] == ["au"]


def test_an_upward_import_would_break_the_layers():
    graph = grimp.build_graph("au", cache_dir=None)
    layers = grimp_layers(contracts()["layers"]["layers"])
    assert graph.find_illegal_dependencies_for_layers(layers, containers={"au"}) == set()
    graph.add_import(importer="au.data.index", imported="au.tasks.registry")
    (broken,) = graph.find_illegal_dependencies_for_layers(layers, containers={"au"})
    assert (broken.importer, broken.imported) == ("au.data", "au.tasks")
    ((heads, tails),) = {(route.heads, route.tails) for route in broken.routes}
    assert (heads, tails) == (frozenset({"au.data.index"}), frozenset({"au.tasks.registry"}))
