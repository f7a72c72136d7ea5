"""FER-2013: the CSV and the folder releases into the index (emotion, split, every AU masked)."""

import cv2
import numpy as np
import pytest

from au.data.index import read_index
from au.data.splits import split_subjects
from au.prepare import PrepareError, default_out, prepare
from au.prepare.__main__ import main

# code -> canonical emotion: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral
CSV_ROWS = [(3, "Training"), (0, "Training"), (6, "Training"), (5, "PublicTest")]
CSV_ROWS += [(4, "PrivateTest"), (3, "PrivateTest")]


def face_pixels(seed: int) -> np.ndarray:
    """A 48x48 uint8 face whose first pixel encodes ``seed`` (to trace rows to files)."""
    image = np.random.default_rng(seed).integers(0, 256, (48, 48)).astype(np.uint8)
    image[0, 0] = seed
    return image


def write_fer_csv(path, rows, header="emotion,pixels,Usage", pixels=None):
    lines = [header]
    for i, (code, usage) in enumerate(rows):
        text = pixels or " ".join(map(str, face_pixels(i).ravel()))
        lines.append(f"{code},{text},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_release_into_the_index(tmp_path):
    raw = write_fer_csv(tmp_path / "fer2013.csv", CSV_ROWS)
    index = read_index(prepare("fer2013-csv", raw, tmp_path / "out"))
    table = index.table
    assert table["emotion"].tolist() == [
        "happiness", "anger", "neutral", "surprise", "sadness", "happiness",
    ]  # fmt: skip
    assert table["split"].tolist() == ["train"] * 3 + ["val", "test", "test"]
    assert table["subject"].is_unique and index.au_columns == []
    labels, mask = index.labels(["AU1", "AU12"])
    assert not mask.any()  # no AU is coded: all masked
    for row, path in enumerate(index.image_paths()):
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(image, face_pixels(row))  # lossless, 48x48, one channel
    meta = index.meta
    assert meta["channels"] == 1 and meta["crop_size"] == 48 and meta["aus"] == []
    assert meta["subject_independent"] is False and "NOT subject-independent" in meta["note"]
    split = split_subjects(table, fold=None)  # data.fold=null reads the split column
    assert [len(split[s]) for s in ("train", "val", "test")] == [3, 1, 2]


def test_csv_resized_and_spaced_header(tmp_path):
    raw = write_fer_csv(tmp_path / "a.csv", [(6, "PrivateTest")], "emotion, Usage, pixels")
    lines = raw.read_text().splitlines()  # put the columns in the header's order
    code, pixels, usage = lines[1].split(",")
    raw.write_text(f"{lines[0]}\n{code},{usage},{pixels}\n")
    index = read_index(prepare("fer2013-csv", raw, tmp_path / "out", crop_size=96))
    assert cv2.imread(str(index.image_paths()[0]), cv2.IMREAD_UNCHANGED).shape == (96, 96)
    assert index.table["emotion"].tolist() == ["neutral"] and index.meta["crop_size"] == 96


SHORT, TEXT = " ".join(["7"] * 2303), "x " + " ".join(["7"] * 2303)


@pytest.mark.parametrize(
    ("rows", "pixels", "message"),
    [
        ([(3, "Training"), (4, "Training")], SHORT, r"row 1 \(line 2\): pixels has 2303"),
        ([(3, "Training")], TEXT, r"row 1 \(line 2\): pixels must be 2304 integers"),
        ([(3, "Training")], " ".join(["300"] * 2304), "must lie in 0-255"),
        ([(7, "Training")], None, "emotion '7' is not a code 0-6"),
        ([(3, "Test")], None, r"Usage 'Test' is not one of \['Training'"),
    ],
)  # fmt: skip
def test_csv_errors_name_row_and_expectation(tmp_path, rows, pixels, message):
    raw = write_fer_csv(tmp_path / "bad.csv", rows, pixels=pixels)
    with pytest.raises(PrepareError, match=message):
        prepare("fer2013-csv", raw, tmp_path / "out")


def test_csv_missing_column_and_file(tmp_path):
    (tmp_path / "cols.csv").write_text("emotion,Usage\n3,Training\n")
    with pytest.raises(PrepareError, match=r"lacks column\(s\) \['pixels'\]"):
        prepare("fer2013-csv", tmp_path / "cols.csv", tmp_path / "out")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(PrepareError, match="expected a file at .*empty_dir/fer2013.csv"):
        prepare("fer2013-csv", tmp_path / "empty_dir", tmp_path / "out")


def make_folder_release(root, counts, gray=True):
    """``root/<split>/<class>/<split>_<class>_<k>.jpg`` with ``counts[(split, class)]`` images."""
    for (split, name), count in counts.items():
        for k in range(count):
            path = root / split / name / f"{split}_{name}_{k}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            image = np.full((48, 48), 40 + 10 * k, np.uint8)
            cv2.imwrite(str(path), image if gray else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return root


FOLDERS = {("train", "happy"): 10, ("train", "Angry"): 5, ("train", "sad"): 1}
FOLDERS |= {("test", "happy"): 2, ("test", "neutral"): 3}


def test_folder_release_carves_val_per_class_by_seed(tmp_path):
    raw = make_folder_release(tmp_path / "raw", FOLDERS)
    index = read_index(prepare("fer2013-folder", raw, tmp_path / "a", val_fraction=0.2))
    table = index.table
    counts = table.groupby(["split", "emotion"]).size().to_dict()
    # 20% of each train class: happy 10 -> 2 val, angry 5 -> 1, sad 1 -> round(0.2) = 0
    assert counts == {
        ("train", "happiness"): 8, ("val", "happiness"): 2, ("train", "anger"): 4,
        ("val", "anger"): 1, ("train", "sadness"): 1,
        ("test", "happiness"): 2, ("test", "neutral"): 3,
    }  # fmt: skip
    assert table["subject"].is_unique and index.au_columns == []
    assert index.meta["channels"] == 1 and "split_seed=0" in index.meta["split"]
    assert cv2.imread(str(index.image_paths()[0]), cv2.IMREAD_UNCHANGED).shape == (48, 48)
    again = read_index(prepare("fer2013-folder", raw, tmp_path / "b", val_fraction=0.2))
    assert again.table["split"].tolist() == table["split"].tolist()  # deterministic
    other = read_index(
        prepare("fer2013-folder", raw, tmp_path / "c", val_fraction=0.2, split_seed=5)
    )
    assert other.table["split"].tolist() != table["split"].tolist()  # the seed chooses val


def test_folder_release_with_its_own_val_and_colour_files(tmp_path):
    counts = {("train", "happy"): 2, ("validation", "surprise"): 2, ("test", "fear"): 1}
    raw = make_folder_release(tmp_path / "raw", counts, gray=False)
    index = read_index(prepare("fer2013-folder", raw, tmp_path / "out"))
    assert index.table["split"].tolist() == ["train", "train", "val", "val", "test"]
    assert index.meta["channels"] == 3 and "val/ as given" in index.meta["split"]


def test_folder_errors(tmp_path):
    raw = make_folder_release(tmp_path / "raw", {("train", "happy"): 1})
    with pytest.raises(PrepareError, match="test folder not found: tried .*test"):
        prepare("fer2013-folder", raw, tmp_path / "out")
    make_folder_release(raw, {("test", "bored"): 1})
    with pytest.raises(PrepareError, match="folder .*bored is not named after an emotion"):
        prepare("fer2013-folder", raw, tmp_path / "out")
    with pytest.raises(PrepareError, match="no subject ids"):
        prepare("fer2013-folder", raw, tmp_path / "out", limit_subjects=["x"])


def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AU_DATA_ROOT", str(tmp_path / "data"))
    raw = write_fer_csv(tmp_path / "fer2013.csv", CSV_ROWS)
    assert main(["fer2013-csv", "--raw", str(raw)]) == 0
    assert default_out("fer2013-csv") == tmp_path / "data" / "fer2013"
    assert len(read_index(tmp_path / "data" / "fer2013").table) == len(CSV_ROWS)
    assert main(["fer2013-csv", "--raw", str(raw), "--val-fraction", "0.2"]) == 2
    assert "--val-fraction applies to fer2013-folder only" in capsys.readouterr().err
    folders = make_folder_release(tmp_path / "imgs", FOLDERS)
    argv = ["fer2013-folder", "--raw", str(folders), "--out", str(tmp_path / "f")]
    assert main([*argv, "--val-fraction", "0.5", "--split-seed", "1"]) == 0
    assert (read_index(tmp_path / "f").table["split"] == "val").sum() == 5 + 2  # 10/2 + round(2.5)
