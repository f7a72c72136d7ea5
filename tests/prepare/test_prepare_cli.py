"""``python -m au.prepare``: default output folder, one-line errors, non-zero exit status."""

import subprocess
import sys

import pytest

from au.data.index import read_index
from au.prepare.__main__ import main

from .fixtures import make_disfa


def test_default_output_is_under_au_data_root(tmp_path, monkeypatch, capsys):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    monkeypatch.setenv("AU_DATA_ROOT", str(tmp_path / "data"))
    assert main(["disfa", "--raw", str(raw), "--crop-size", "32", "--limit-subjects", "SN001"]) == 0
    index = read_index(tmp_path / "data" / "disfa")
    assert len(index.table) == 2 and index.meta["crop_size"] == 32
    assert str(tmp_path / "data" / "disfa" / "index.csv") in capsys.readouterr().out


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["disfa", "--raw", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: raw release root not found") and "Traceback" not in err
    assert main(["celeba", "--raw", str(tmp_path), "--camera", "right"]) == 2
    assert "--camera applies to disfa only" in capsys.readouterr().err
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    out = str(tmp_path / "out")
    assert main(["disfa", "--raw", str(raw), "--out", out, "--limit-subjects", "SN099"]) == 2
    assert "SN099" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point_exits_non_zero_on_a_bad_release(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "au.prepare", "bosphorus", "--raw", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Bosphorus release folder not found" in result.stderr
    assert "Traceback" not in result.stderr
