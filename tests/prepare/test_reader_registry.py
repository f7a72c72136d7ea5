"""Adding a data set reader is one module (and one data YAML): a toy reader module dropped into
the ``au.prepare`` package is found by ``python -m au.prepare`` with no other edit."""

import importlib
import sys
import textwrap

import cv2
import numpy as np
import pytest

import au.prepare
from au.data.index import read_index
from au.prepare import PrepareError, default_out, prepare, registered_readers
from au.prepare import registry as reader_registry
from au.prepare.__main__ import build_parser, main

TOY_READER = textwrap.dedent(
    '''
    """Toy release: ``labels.csv`` (subject, file, AU12) beside gray images."""

    from pathlib import Path

    import cv2
    import pandas as pd

    from au.prepare import Part, register_reader, run_units, write_prepared_index


    def _prepare_subject(subject, rows, raw, out, crop_size):
        paths = []
        for name in rows["file"]:
            image = cv2.imread(str(raw / name), cv2.IMREAD_GRAYSCALE)
            if crop_size is not None:
                image = cv2.resize(image, (crop_size, crop_size))
            path = f"crops/{subject}/{name}"
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / path), image)
            paths.append(path)
        labels = rows["AU12"].astype(float).to_numpy()
        return Part(pd.DataFrame({"path": paths, "subject": subject, "AU12": labels}), 1)


    @register_reader("toy", out_name="toy_faces", options=("split_seed",), native_size=True)
    def prepare(
        raw: Path, out: Path, *, crop_size=None, workers=1, force=False,
        limit_subjects=None, rotate=True, split_seed=0,
    ) -> Path:
        table = pd.read_csv(raw / "labels.csv", dtype=str)
        subjects = sorted(limit_subjects or table["subject"].unique())

        def work(subject):
            rows = table[table["subject"] == subject]
            return _prepare_subject(subject, rows, raw, out, crop_size)

        parts = run_units(subjects, work, out, options={"crop_size": crop_size}, force=force)
        meta = {"name": "toy", "label_type": "occurrence", "positive_threshold": 1,
                "aus": ["AU12"], "crop_size": crop_size, "split_seed": split_seed}
        return write_prepared_index(parts, out, meta)
    '''
)


@pytest.fixture
def toy_reader(tmp_path, monkeypatch):
    """``toy.py`` in a folder of the ``au.prepare`` package; the registry restored afterwards."""
    folder = tmp_path / "readers"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY_READER)
    readers = reader_registry.READERS
    monkeypatch.setattr(readers, "_entries", registered_readers())  # a copy, restored
    monkeypatch.setattr(au.prepare, "__path__", [*au.prepare.__path__, str(folder)])
    importlib.invalidate_caches()
    yield
    sys.modules.pop("au.prepare.toy", None)
    if hasattr(au.prepare, "toy"):
        delattr(au.prepare, "toy")


def make_toy_release(raw):
    """Two subjects of two 20x20 gray images; AU12 is 1 on the second image of each."""
    raw.mkdir()
    lines = ["subject,file,AU12"]
    for subject in ("S1", "S2"):
        for k in range(2):
            name = f"{subject}_{k}.png"
            cv2.imwrite(str(raw / name), np.full((20, 20), 40 * k + 10, np.uint8))
            lines.append(f"{subject},{name},{k}")
    (raw / "labels.csv").write_text("\n".join(lines) + "\n")
    return raw


def test_a_toy_reader_module_is_found_and_prepares_an_index(toy_reader, tmp_path, monkeypatch):
    raw = make_toy_release(tmp_path / "raw")
    monkeypatch.setenv("AU_DATA_ROOT", str(tmp_path / "data"))
    assert build_parser().parse_args(["toy", "--raw", str(raw)]).name == "toy"
    assert main(["toy", "--raw", str(raw), "--split-seed", "3"]) == 0
    index = read_index(tmp_path / "data" / "toy_faces")  # the reader's out_name
    assert list(index.table["subject"]) == ["S1", "S1", "S2", "S2"]
    assert list(index.table["AU12"]) == [0.0, 1.0, 0.0, 1.0]
    assert index.meta["split_seed"] == 3 and index.meta["crop_size"] is None  # native size
    crop = cv2.imread(str(index.image_paths()[1]), cv2.IMREAD_GRAYSCALE)
    assert crop.shape == (20, 20) and int(crop[0, 0]) == 50


def test_a_toy_reader_takes_the_options_it_names_only(toy_reader, tmp_path, capsys):
    raw = make_toy_release(tmp_path / "raw")
    out = tmp_path / "out"
    assert main(["toy", "--raw", str(raw), "--out", str(out), "--camera", "left"]) == 2
    assert capsys.readouterr().err == "error: --camera applies to disfa only, not toy\n"
    assert main(["celeba", "--raw", str(raw), "--split-seed", "1"]) == 2
    assert "--split-seed applies to fer2013-folder, toy only, not celeba" in capsys.readouterr().err
    index = prepare("toy", raw, out, crop_size=8, limit_subjects=["S2"])
    assert read_index(index).table["path"].tolist() == ["crops/S2/S2_0.png", "crops/S2/S2_1.png"]


def test_reader_names_and_unknown_names():
    readers = registered_readers()
    assert sorted(readers) == [
        "bosphorus", "bp4d", "celeba", "disfa", "disfa_plus", "fer2013-csv", "fer2013-folder",
    ]  # fmt: skip
    assert "toy" not in readers  # the toy reader's test cleaned up after itself
    assert default_out("fer2013-folder").name == "fer2013"
    with pytest.raises(
        PrepareError, match=r"unknown data set 'toy'; choose one of bosphorus, bp4d, "
    ):
        prepare("toy", "raw")


def test_a_reader_name_is_taken_once():
    with pytest.raises(ValueError, match="data set name 'disfa' is taken by au.prepare.disfa"):
        reader_registry.register_reader("disfa")(lambda raw, out: out)
