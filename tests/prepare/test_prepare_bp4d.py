"""BP4D: occurrence CSVs (9 = not coded -> masked), image lookup, folds and bad input."""

import logging

import cv2
import numpy as np
import pytest

from au.aus import BP4D_AUS
from au.data.index import read_index
from au.prepare import PrepareError, prepare

from .fixtures import bp4d_expected, make_bp4d

TASKS = {"F001": {"T1": range(100, 105), "T2": range(7, 10)}, "M011": {"T1": range(50, 53)}}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("bp4d")
    raw = make_bp4d(root / "raw", TASKS, missing=("F001/T1/102",))
    return read_index(prepare("bp4d", raw, root / "out", crop_size=40))


def test_occurrences_with_not_coded_cells_empty(prepared):
    table = prepared.table
    assert prepared.au_columns == list(BP4D_AUS)  # AU5, AU9, AU25 of the CSV are dropped
    for _, row in table.iterrows():
        expected = np.array(bp4d_expected(row["frame"]))
        assert np.array_equal(row[list(BP4D_AUS)].to_numpy(float), expected, equal_nan=True)
    labels, mask = prepared.labels(list(BP4D_AUS))
    values = table[list(BP4D_AUS)].to_numpy(float)
    assert (mask == np.isfinite(values)).all() and (mask == 0).any()
    assert (labels[mask == 1] == values[mask == 1]).all()
    assert prepared.meta["label_type"] == "occurrence" and prepared.meta["positive_threshold"] == 1


def test_frames_without_an_image_are_skipped_and_tasks_kept(prepared):
    f001 = prepared.table[prepared.table["subject"] == "F001"]
    assert f001[f001["task"] == "T1"]["frame"].tolist() == [100, 101, 103, 104]
    assert f001[f001["task"] == "T2"]["frame"].tolist() == [7, 8, 9]


def test_folds_follow_the_standard_split(prepared):
    assert prepared.table.groupby("subject")["fold"].first().to_dict() == {"F001": 1, "M011": 2}
    assert all(cv2.imread(str(p)).shape == (40, 40, 3) for p in prepared.image_paths())


def test_missing_image_is_warned(tmp_path, caplog):
    raw = make_bp4d(tmp_path / "raw", {"F002": {"T3": range(3)}}, missing=("F002/T3/1",))
    caplog.set_level(logging.WARNING, logger="au.prepare")
    prepare("bp4d", raw, tmp_path / "out", crop_size=32)
    assert "F002_T3.csv: 1 of 3 coded frames have no image" in caplog.text


def test_bad_occurrence_value_and_missing_au_column_are_named(tmp_path):
    raw = make_bp4d(tmp_path / "raw", {"F001": {"T1": range(3)}})
    csv = raw / "AUCoding/AU_OCC/F001_T1.csv"
    lines = csv.read_text().splitlines()
    fields = lines[2].split(",")
    fields[lines[0].split(",").index("24")] = "3"
    lines[2] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        PrepareError, match=r"F001_T1\.csv, row 3, AU24: value 3\.0 is not 0, 1 or 9"
    ):
        prepare("bp4d", raw, tmp_path / "out")
    csv.write_text("0,1,2\n1,0,0\n")
    with pytest.raises(PrepareError, match=r"F001_T1\.csv: header lacks AU column"):
        prepare("bp4d", raw, tmp_path / "out")


def test_missing_images_folder_and_corrupt_image_are_named(tmp_path):
    raw = make_bp4d(tmp_path / "raw", {"F001": {"T1": range(3)}})
    (raw / "Sequences/F001/T1/1.jpg").write_bytes(b"not an image")
    with pytest.raises(PrepareError, match=r"cannot decode image .*F001/T1/1\.jpg"):
        prepare("bp4d", raw, tmp_path / "out")
    for path in (raw / "Sequences/F001/T1").iterdir():
        path.unlink()
    with pytest.raises(PrepareError, match=r"no frame image for F001_T1\.csv.*Sequences/F001/T1"):
        prepare("bp4d", raw, tmp_path / "out")
    with pytest.raises(PrepareError, match="BP4D AUCoding folder not found"):
        prepare("bp4d", raw / "Sequences", tmp_path / "out")
