"""The top level of au/ holds the commands and the bottom layer (the AU vocabulary, the face
geometry both au.prepare and au.predict use, the user errors, the registry and worker helpers);
library code lives in packages (the emotion vocabulary in ``au/emotions/``)."""

from pathlib import Path

import pytest

import au
from au.bench_align import checkpoint_argument

COMMANDS = {
    "fit", "evaluate", "predict", "export", "compare", "crossval",
    "bench", "bench_predict", "bench_align", "bench_faces", "bench_frontends", "weights",
}  # fmt: skip
#: Modules every layer may import: of au's they import only the user errors.
BOTTOM_LAYER = {"aus", "alignment", "errors", "processes", "registry"}
PACKAGE = Path(au.__file__).parent


def test_top_level_modules_are_the_commands_and_the_au_vocabulary():
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == COMMANDS | BOTTOM_LAYER


def test_the_bottom_layer_imports_only_the_user_errors_of_aus():
    for name in BOTTOM_LAYER:
        source = (PACKAGE / f"{name}.py").read_text().replace("from au.errors import ", "")
        assert "from au." not in source and "import au." not in source, name


def test_every_top_level_command_runs_as_a_module():
    for name in COMMANDS:
        assert 'if __name__ == "__main__":' in (PACKAGE / f"{name}.py").read_text(), name
    assert (PACKAGE / "prepare" / "__main__.py").is_file()  # python -m au.prepare


def test_no_library_module_shares_a_command_name():
    library = {path.stem for path in PACKAGE.glob("*/**/*.py")} - {"__init__", "__main__"}
    assert library & COMMANDS == set()


def test_bench_align_reads_its_checkpoint_argument():
    assert checkpoint_argument(["ckpt_path=runs/a/best.ckpt"]) == (Path("runs/a/best.ckpt"), "test")
    assert checkpoint_argument(["split=val", "ckpt_path=a.ckpt"]) == (Path("a.ckpt"), "val")


@pytest.mark.parametrize(
    "argv",
    [[], ["ckpt_path="], ["ckpt=x.ckpt"], ["ckpt_path=a", "b=1"], ["ckpt_path=a", "split=x"]],
)
def test_bench_align_refuses_other_arguments_with_exit_status_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        checkpoint_argument(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("error: expected ckpt_path=PATH [split=test|val]")


def test_bench_align_help_prints_its_description(capsys):
    with pytest.raises(SystemExit) as stop:
        checkpoint_argument(["--help"])
    assert stop.value.code == 0
    assert "python -m au.bench_align" in capsys.readouterr().out
