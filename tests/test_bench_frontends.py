"""au.bench_frontends: faces cut as au.predict cuts them, and front ends that cannot run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from au import bench_frontends
from au.alignment import CropGeometry
from au.errors import MissingPackageError
from au.inference.faces import FaceBox

#: The ArcFace template's 5 points for a 112 px crop, as landmarks of a face in a canvas.
POINTS = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]])


def _canvas() -> np.ndarray:
    canvas = np.zeros((224, 224, 3), np.uint8)
    canvas[64:80, 50:66] = 255  # a white patch over the left eye (x 58.3, y 71.7)
    return canvas


def test_a_face_with_landmarks_is_cut_on_them_and_one_without_from_its_box():
    detector = SimpleNamespace(crop_geometry=None, image_size=112)
    with_marks = FaceBox(20, 20, 80, 90, 0.99, POINTS + 20)
    crop = bench_frontends.face_crop(detector, _canvas(), with_marks)
    assert crop.shape == (112, 112, 3)
    # template5 puts the left eye where the template has it (upper left): so does the patch
    # (template (38.3, 51.7), pulled toward the centre by the 0.15 margin: rows 47-58, cols 36-47)
    assert crop[49:57, 38:46].mean() > 200 and crop[:, 56:].mean() < 1
    box_only = FaceBox(20, 20, 80, 90, 0.99, None)
    assert bench_frontends.face_crop(detector, _canvas(), box_only).shape == (112, 112, 3)
    trained = SimpleNamespace(crop_geometry=CropGeometry("box", 0.3), image_size=64)
    assert bench_frontends.face_crop(trained, _canvas(), box_only).shape == (64, 64, 3)


def test_blazeface_is_left_out_with_the_reason_when_it_cannot_run(monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise MissingPackageError("detector=blazeface needs ai-edge-litert")

    monkeypatch.setattr(bench_frontends, "MTCNNFaceDetector", lambda: "mtcnn")
    monkeypatch.setattr(bench_frontends, "BlazeFaceDetector", missing)
    finders = bench_frontends.front_ends()
    assert list(finders) == ["MTCNN", "Haar"]
    assert "BlazeFace left out: detector=blazeface needs ai-edge-litert" in capsys.readouterr().out
