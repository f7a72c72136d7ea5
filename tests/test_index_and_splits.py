"""The index CSV format and subject-independent splits."""

import json

import numpy as np
import pandas as pd
import pytest

from au.data.index import IndexFormatError, read_index, write_index
from au.data.splits import SplitError, split_subjects, subject_folds


def _table(subjects=9, frames=4, fold_column=False):
    rows = []
    for s in range(subjects):
        for f in range(frames):
            row = dict(path=f"img/{s}_{f}.jpg", subject=f"P{s:02d}", frame=f, AU12=f % 4, AU1=0)
            if fold_column:
                row["fold"] = s % 3 + 1
            rows.append(row)
    return pd.DataFrame(rows)


def test_labels_use_threshold_and_mask_uncoded(tmp_path):
    table = _table(subjects=1)
    table.loc[1, "AU1"] = np.nan  # "not coded"
    write_index(table, tmp_path, {"positive_threshold": 2, "label_type": "intensity"})
    index = read_index(tmp_path)
    labels, mask = index.labels(["AU12", "AU1", "AU25"])
    assert labels[:, 0].tolist() == [0, 0, 1, 1]  # intensities 0 1 2 3 at threshold 2
    assert mask[:, 1].tolist() == [1, 0, 1, 1]
    assert mask[:, 2].tolist() == [0, 0, 0, 0]  # AU25 not in the index: fully masked
    labels, _ = index.labels(["AU12"], positive_threshold=1)
    assert labels[:, 0].tolist() == [0, 1, 1, 1]
    assert index.image_paths()[0] == tmp_path / "img/0_0.jpg"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("path,frame,AU1\na.jpg,0,1\n", "lacks required column"),
        ("path,subject,frame\na.jpg,S1,0\n", "no AU column"),
        ("path,subject,AU99\na.jpg,S1,1\n", "unknown Action Unit 'AU99'"),
        ("path,subject,AU1\na.jpg,,1\n", "row 2 has an empty path or subject"),
    ],
)
def test_bad_index_files_name_the_problem(tmp_path, content, message):
    (tmp_path / "index.csv").write_text(content)
    with pytest.raises(IndexFormatError, match=message):
        read_index(tmp_path / "index.csv")


def test_missing_index_and_bad_json(tmp_path):
    with pytest.raises(IndexFormatError, match="index CSV not found"):
        read_index(tmp_path / "nope")
    write_index(_table(1), tmp_path)
    (tmp_path / "index.json").write_text("{broken")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        read_index(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"positive_threshold": 2}))
    assert read_index(tmp_path).positive_threshold == 2


@pytest.mark.parametrize("fold_column", [False, True])
def test_splits_are_subject_disjoint_and_cover_all(fold_column):
    table = _table(fold_column=fold_column)
    seen_test = set()
    for fold in (1, 2, 3):
        split = split_subjects(table, fold, num_folds=3, val_fraction=0.2)
        train, val, test = map(set, (split["train"], split["val"], split["test"]))
        assert not (train & val) and not (train & test) and not (val & test)
        assert train | val | test == set(table.subject)
        assert len(test) == 3 and len(val) == 1
        seen_test |= test
    assert seen_test == set(table.subject)  # every subject is tested exactly in one fold


def test_fold_column_is_respected_and_validated():
    table = _table(fold_column=True)
    assert subject_folds(table, 3)["P04"] == 2
    assert split_subjects(table, 2)["test"] == ["P01", "P04", "P07"]
    with pytest.raises(SplitError, match="data.fold=4 is not one of"):
        split_subjects(table, 4)
    table.loc[0, "fold"] = 2  # P00 now in folds 1 and 2
    with pytest.raises(SplitError, match="more than one fold"):
        subject_folds(table, 3)


def test_validation_subjects_depend_on_split_seed_only():
    table = _table()
    a = split_subjects(table, 1, seed=0)
    b = split_subjects(table, 1, seed=0)
    c = split_subjects(table, 1, seed=5)
    assert a == b and a["test"] == c["test"]
    assert a["val"] != c["val"], "another split_seed must choose other validation subjects"
    assert sorted(a["train"] + a["val"]) == sorted(c["train"] + c["val"])
    with pytest.raises(SplitError, match="val_fraction"):
        split_subjects(table, 1, val_fraction=1.5)


def test_split_column_when_fold_is_null():
    table = _table()
    table["split"] = np.where(table.subject < "P05", "train", "val")
    table.loc[table.subject == "P08", "split"] = "test"
    split = split_subjects(table, None)
    assert split["test"] == ["P08"] and "P00" in split["train"]
    with pytest.raises(SplitError, match="no 'split' column"):
        split_subjects(_table(), None)


def test_partly_filled_fold_column_is_an_error_not_a_fallback():
    table = _table(fold_column=True)
    table["fold"] = table["fold"].astype(float)
    table.loc[[3, 7], "fold"] = np.nan
    expected = r"'fold' column is empty on 2 of 36 rows \(first rows \[3, 7\]\)"
    with pytest.raises(SplitError, match=expected):
        subject_folds(table, 3)


def test_split_column_sharing_a_subject_between_val_and_test_names_it():
    table = _table()
    table["split"] = np.where(table.subject < "P05", "train", "val")
    table.loc[table.subject == "P08", "split"] = "test"
    table.loc[(table.subject == "P06") & (table.frame == 0), "split"] = "test"
    with pytest.raises(SplitError, match=r"val and test share subjects \['P06'\]"):
        split_subjects(table, None)
