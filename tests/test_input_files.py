"""Hostile input files: odd file names, images cut short, paths outside the data folder, label
scales that leave no positive, empty and duplicated indexes (issue: reading images and the index).
"""

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from au.data.datamodule import AUDataModule
from au.data.dataset import ImageReadError, TruncatedImageError, printable_path, read_image
from au.data.index import IndexFormatError, read_index, write_index
from au.data.validation import image_problems
from au.inference.media import MediaReadError, Source, find_sources, read_frames
from au.prepare import PrepareError, prepare
from au.prepare.common import iter_video, write_image

#: A file name that is not valid UTF-8 (what a Latin-1 file system or a broken archive leaves).
BAD_NAME = b"\xff\xfe.png"


def gradient(size: int = 32) -> np.ndarray:
    """A (size, size, 3) uint8 BGR image whose pixels differ from each other."""
    y, x = np.mgrid[:size, :size]
    return np.dstack([x * 7 % 256, y * 5 % 256, (x + y) * 3 % 256]).astype(np.uint8)


def bad_path(folder: Path, name: bytes = BAD_NAME) -> Path:
    """A path under ``folder`` whose last part is the bytes ``name`` (decoded as Python does)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imencode(".png", image)[1].tofile(path)


def jpeg_bytes(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


# ---- 1. file names that are not UTF-8 (OpenCV's reader crashed on them: rc 139) --------------
def test_an_image_whose_name_is_not_utf8_is_read_exactly(tmp_path):
    path = bad_path(tmp_path)
    write_png(path, gradient())
    assert os.listdir(os.fsencode(tmp_path)) == [BAD_NAME]
    rgb = read_image(path, 3)
    assert rgb.shape == (32, 32, 3) and (rgb[:, :, ::-1] == gradient()).all()
    assert (read_image(path) == gradient()).all()  # as stored: BGR


def test_predict_folder_skips_and_names_a_file_whose_name_is_not_utf8(tmp_path, caplog):
    write_png(tmp_path / "a.png", gradient())
    write_png(bad_path(tmp_path), gradient())
    with caplog.at_level(logging.WARNING, logger="au.inference.media"):
        sources = find_sources(tmp_path)
    assert [s.name for s in sources] == ["a.png"]
    assert r"\xff\xfe.png: its file name is not valid UTF-8" in caplog.text
    with pytest.raises(MediaReadError, match=r"\\xff\\xfe\.png: file name is not valid UTF-8"):
        find_sources(bad_path(tmp_path))


def test_a_video_whose_name_is_not_utf8_is_an_error_not_a_crash(tmp_path):
    video = bad_path(tmp_path, b"\xff.mp4")
    video.write_bytes(b"\x00" * 64)
    with pytest.raises(MediaReadError, match=r"\\xff\.mp4: name is not valid UTF-8"):
        list(read_frames(Source("video", video, "x")))
    with pytest.raises(PrepareError, match=r"\\xff\.mp4: rename it to valid UTF-8"):
        next(iter_video(video))


def test_missing_image_with_such_a_name_is_listed_printably(tmp_path):
    problems = image_problems([bad_path(tmp_path)])
    assert problems == [rf"1 image file(s) do not exist: row 2 {tmp_path}/\xff\xfe.png"]
    assert printable_path(bad_path(tmp_path)).encode("utf-8")  # prints on any terminal


def test_index_csv_with_bytes_that_are_not_utf8_is_an_error_naming_it(tmp_path):
    (tmp_path / "index.csv").write_bytes(b"path,subject,AU12\n\xff\xfe.png,S1,1\n")
    with pytest.raises(IndexFormatError, match=r"cannot read index CSV .*index\.csv"):
        read_index(tmp_path)


def test_prepare_writes_crops_under_any_name_and_refuses_unnameable_sources(tmp_path):
    crop = bad_path(tmp_path / "out", b"\xe9t\xe9.jpg")
    write_image(crop, gradient())
    assert read_image(crop).shape == (32, 32, 3)
    raw = tmp_path / "raw"
    write_png(raw / "train" / "happy" / "ok.png", gradient(48)[:, :, 0])
    write_png(bad_path(raw / "train" / "happy"), gradient(48)[:, :, 0])
    write_png(raw / "test" / "happy" / "t.png", gradient(48)[:, :, 0])
    with pytest.raises(PrepareError, match=r"1 image name\(s\) under .*happy are not valid UTF-8"):
        prepare("fer2013-folder", raw, tmp_path / "fer")


# ---- 2. images cut short decode to grey: refused, named ------------------------------------
def make_index(folder: Path, names: list[str], meta: dict | None = None, **labels) -> Path:
    """An index of the given image paths, subject S<i>, AU12 from ``labels`` or 1, 0, 1, ..."""
    table = pd.DataFrame({"path": names, "subject": [f"S{i}" for i in range(len(names))]})
    table["AU12"] = labels.get("AU12", [i % 2 for i in range(len(names))])
    return write_index(table, folder, meta or {"label_type": "occurrence"})


def test_truncated_jpeg_and_png_are_named_on_one_line(tmp_path):
    image = gradient(128)
    whole = jpeg_bytes(image)
    (tmp_path / "images").mkdir()
    (tmp_path / "images/ok.jpg").write_bytes(whole)
    (tmp_path / "images/cut.jpg").write_bytes(whole[: len(whole) * 9 // 10])
    png = cv2.imencode(".png", image)[1].tobytes()
    (tmp_path / "images/cut.png").write_bytes(png[:-12])  # no IEND chunk
    assert cv2.imread(str(tmp_path / "images/cut.jpg")) is not None  # OpenCV alone: grey
    make_index(tmp_path, ["images/ok.jpg", "images/cut.jpg", "images/cut.png"])
    with pytest.raises(IndexFormatError) as raised:
        read_index(tmp_path, check_images=True)
    assert str(raised.value) == (
        f"{tmp_path}/index.csv: 2 image file(s) are cut short (truncated JPEG/PNG): "
        f"row 3 {tmp_path}/images/cut.jpg, row 4 {tmp_path}/images/cut.png"
    )
    with pytest.raises(TruncatedImageError, match=r"cut\.jpg: truncated"):
        read_image(tmp_path / "images/cut.jpg", 3)


def test_jpeg_with_trailing_bytes_or_a_thumbnail_is_judged_by_its_main_image(tmp_path):
    image = gradient(64)
    whole = jpeg_bytes(image)
    thumbnail = jpeg_bytes(gradient(8))  # ends in FF D9 itself
    payload = b"Exif\x00\x00" + thumbnail
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    with_thumbnail = whole[:2] + app1 + whole[2:]
    (tmp_path / "padded.jpg").write_bytes(whole + b"\x00" * 100 + b"camera trailer")
    (tmp_path / "thumb.jpg").write_bytes(with_thumbnail)
    (tmp_path / "thumb_cut.jpg").write_bytes(with_thumbnail[:-200])
    assert read_image(tmp_path / "padded.jpg", 3).shape == (64, 64, 3)
    assert read_image(tmp_path / "thumb.jpg", 3).shape == (64, 64, 3)
    with pytest.raises(TruncatedImageError):
        read_image(tmp_path / "thumb_cut.jpg", 3)


def test_predict_skips_a_truncated_image(tmp_path):
    whole = jpeg_bytes(gradient(64))
    (tmp_path / "cut.jpg").write_bytes(whole[:-100])
    with pytest.raises(MediaReadError, match=r"cut\.jpg: truncated"):
        list(read_frames(Source("image", tmp_path / "cut.jpg", "cut.jpg")))


# ---- 3. paths outside the data folder ------------------------------------------------------
def test_paths_outside_the_index_folder_need_allow_outside_root(tmp_path):
    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    for path in (root / "images/in.png", elsewhere / "out.png"):
        write_png(path, gradient())
    names = ["images/in.png", "../elsewhere/out.png", str(elsewhere / "out.png")]
    names.append(str(root / "images/./in2.png"))
    write_png(root / "images/in2.png", gradient())
    make_index(root, names)
    with pytest.raises(IndexFormatError) as raised:
        read_index(root)
    assert str(raised.value) == (
        f"{root}/index.csv: 2 image path(s) point outside the index folder {root} (set "
        f"data.allow_outside_root=true if that is meant): row 3 ../elsewhere/out.png, "
        f"row 4 {elsewhere}/out.png"
    )
    index = read_index(root, check_images=True, allow_outside_root=True)
    assert [p.resolve() for p in index.image_paths()][1:3] == [(elsewhere / "out.png")] * 2


def test_data_allow_outside_root_reaches_the_data_module():
    """The key exists in every data config and the data module takes it."""
    from au.data.datamodule import AUDataModule
    from au.run.config import compose_config

    for data in ("index", "synthetic", "synthetic_posed", "synthetic_wild", "disfa", "combined"):
        config = compose_config("fit", [f"data={data}", "data.index_csv=/x"])
        assert config.data.allow_outside_root is False, data
    module = AUDataModule(index_csv="/x", allow_outside_root=True)
    assert module.allow_outside_root is True


# ---- 4. a label scale that leaves no positive ----------------------------------------------
def label_index(folder: Path, meta: dict, **columns) -> Path:
    n = len(next(iter(columns.values())))
    table = pd.DataFrame({"path": [f"{i}.png" for i in range(n)], "subject": ["S1"] * n})
    for au, values in columns.items():
        table[au] = values
    return write_index(table, folder, meta)


INTENSITY = {"label_type": "intensity", "positive_threshold": 2}


def test_occurrence_labels_under_an_intensity_index_json_stop_with_the_fix(tmp_path):
    label_index(tmp_path, INTENSITY, AU1=[0, 1, 1, 0], AU12=[1, 0, 0, 0])
    with pytest.raises(IndexFormatError) as raised:
        read_index(tmp_path).labels(["AU1", "AU12", "AU25"])
    assert str(raised.value) == (
        f"{tmp_path}/index.csv: every AU label is 0 or 1 but a label counts as present only "
        "from 2 (label_type 'intensity'), so no row is positive: this looks like 0/1 occurrence "
        "labels; set label_type 'occurrence' and positive_threshold 1 in index.json"
    )
    labels, mask = read_index(tmp_path).labels(["AU1", "AU12"], positive_threshold=1)
    assert labels.sum(0).tolist() == [2, 1] and mask.sum() == 8


def test_an_au_whose_labels_never_reach_the_threshold_is_named(tmp_path):
    label_index(tmp_path, INTENSITY, AU1=[0, 3, 2, 0], AU9=[0, 1, 1, 0], AU12=[0, 0, 0, 0])
    with pytest.raises(IndexFormatError, match=r"1 AU\(s\) have non-zero labels .* AU9 \(max 1\)"):
        read_index(tmp_path).labels(["AU1", "AU9", "AU12"])
    labels, _ = read_index(tmp_path).labels(["AU1", "AU12"])  # all-zero AU12: no scale issue
    assert labels.sum(0).tolist() == [2, 0]


def test_no_positive_for_any_au_is_an_error(tmp_path):
    label_index(tmp_path, {"label_type": "occurrence"}, AU1=[0, 0], AU12=[0, np.nan])
    with pytest.raises(IndexFormatError, match=r"no row has a positive label for any of the AUs"):
        read_index(tmp_path).labels(["AU1", "AU12"])


def test_data_module_stops_on_the_scale_mismatch_before_training(tmp_path):
    for i in range(6):
        write_png(tmp_path / f"{i}.png", gradient())
    table = pd.DataFrame({"path": [f"{i}.png" for i in range(6)], "subject": list("AABBCC")})
    table["AU12"] = [0, 1, 0, 1, 0, 1]
    write_index(table, tmp_path, INTENSITY)
    module = AUDataModule(index_csv=str(tmp_path), aus=["AU12"], image_size=32, num_folds=3)
    with pytest.raises(IndexFormatError, match="looks like 0/1 occurrence labels"):
        module.setup()


# ---- 5. empty indexes and one image under two spellings -------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("path,subject,AU12\n", "has a header but no image row"),
    ],
)
def test_empty_and_header_only_index_say_so(tmp_path, content, message):
    (tmp_path / "index.csv").write_text(content)
    with pytest.raises(IndexFormatError) as raised:
        read_index(tmp_path)
    expected = "expected a header line (path,subject,AU1,...) and one row per image"
    assert str(raised.value) == f"index CSV {tmp_path}/index.csv {message}: {expected}"


def test_one_image_under_several_spellings_is_a_duplicate(tmp_path):
    names = ["images/a.jpg", "./images/a.jpg", "images//a.jpg", str(tmp_path / "images/a.jpg")]
    make_index(tmp_path, [*names, "images/b.jpg"])
    with pytest.raises(IndexFormatError) as raised:
        read_index(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}/index.csv: 1 image path(s) appear on more than one row: "
        "images/a.jpg (rows 2 3 4 5)"
    )


def test_index_json_is_untouched_by_the_checks(tmp_path):
    path = make_index(tmp_path, ["a.png", "./a.png"])
    before = (path.read_bytes(), (tmp_path / "index.json").read_text())
    with pytest.raises(IndexFormatError):
        read_index(tmp_path)
    assert (path.read_bytes(), (tmp_path / "index.json").read_text()) == before
    assert json.loads(before[1]) == {"label_type": "occurrence"}


def test_read_image_error_names_a_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match=rf"cannot read image {tmp_path}/no\.png: missing"):
        read_image(tmp_path / "no.png", 3)
