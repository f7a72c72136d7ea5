"""Shared prepare helpers: crop geometry, release lookup, image reading, the resumable runner."""

import math

import cv2
import numpy as np
import pandas as pd
import pytest

from au.alignment import crop_face, face_affine
from au.data.dataset import ImageReadError
from au.prepare import Part, run_units
from au.prepare.common import PrepareError, find_dir, is_gray, normalise_channels, read_image


def apply(matrix, points):
    points = np.asarray(points, float)
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_face_affine_maps_the_landmark_box_to_the_square_with_margin():
    points = [[10, 20], [50, 20], [10, 60], [50, 60]]
    mapped = apply(face_affine(np.array(points), 100, margin=0.25), points)
    # the 40 px box becomes 100 / 1.5 px, centred
    side = 100 / 1.5
    assert mapped.min(axis=0) == pytest.approx([50 - side / 2] * 2)
    assert mapped.max(axis=0) == pytest.approx([50 + side / 2] * 2)


def test_face_affine_levels_tilted_eyes():
    angle = math.radians(30)
    left, right = (
        np.array([40.0, 40.0]),
        np.array([40 + 30 * math.cos(angle), 40 + 30 * math.sin(angle)]),
    )
    points = np.array([left, right, [50, 80]])
    mapped = apply(face_affine(points, 64, eyes=(right, left)), [left, right])
    assert mapped[0, 1] == pytest.approx(mapped[1, 1])
    assert mapped[0, 0] < mapped[1, 0]


def test_crop_face_keeps_single_channel_images():
    image = np.zeros((80, 80), np.uint8)
    cv2.circle(image, (40, 40), 10, 255, -1)
    crop = crop_face(image, [[30, 30], [50, 50]], 32, rotate=False)
    assert crop.shape == (32, 32)
    assert is_gray(np.dstack([image] * 3)) and not is_gray(np.dstack([image, image * 0, image]))
    assert normalise_channels(np.dstack([image] * 3), gray=True).ndim == 2


def test_find_dir_accepts_a_nested_variant_and_lists_what_it_tried(tmp_path):
    (tmp_path / "Labels" / "Labels").mkdir(parents=True)
    assert find_dir(tmp_path, ("Labels",), "labels") == tmp_path / "Labels" / "Labels"
    with pytest.raises(PrepareError, match=r"Videos_LeftCamera.*Video_LeftCamera"):
        find_dir(tmp_path, ("Videos_LeftCamera", "Video_LeftCamera"), "video folder")
    with pytest.raises(PrepareError, match="raw release root not found"):
        find_dir(tmp_path / "nowhere", ("x",), "x")


def test_read_image_names_a_corrupt_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):  # prepare() makes it a PrepareError
        read_image(bad)


def _work(unit: str) -> Part:
    return Part(pd.DataFrame({"path": [f"{unit}.jpg"], "subject": [unit]}), 3)


def test_run_units_in_worker_processes_keeps_unit_order(tmp_path):
    parts = run_units(["b", "a", "c"], _work, tmp_path, workers=2)
    assert [p.table["subject"][0] for p in parts] == ["b", "a", "c"]
    calls = []
    again = run_units(["b", "a", "c"], lambda u: calls.append(u) or _work(u), tmp_path)
    assert calls == [] and len(again) == 3
    run_units(["b", "a", "c"], lambda u: calls.append(u) or _work(u), tmp_path, options={"x": 1})
    assert calls == ["b", "a", "c"]  # changed options redo every unit
