"""End-to-end timing of the predict path on generated media (``au.bench_predict``'s second part).

Two inputs stand for the two uses: a 640x480 video with one moving face (camera-like), and a
folder of already-cropped faces (``detector=none``). Both go through :class:`PredictionRunner`
exactly as ``au.predict`` runs them, writing the CSV and JSON lines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from au.inference.api import build_tracker
from au.inference.detector import AUDetector
from au.inference.media import find_sources
from au.inference.pipeline import PredictionRunner, PredictSummary
from au.inference.records import PredictionTable
from au.inference.tracking import FaceTracker


def synthetic_faces(count: int, size: int) -> list[np.ndarray]:
    """``count`` rendered synthetic faces (RGB ``size`` squares), varied expressions."""
    from au.data.synthetic.identity import sample_identity
    from au.data.synthetic.render import render_face

    rng = np.random.default_rng(0)
    identities = [sample_identity(np.random.default_rng(seed)) for seed in range(4)]
    return [render_face(identities[i % 4], rng.uniform(0, 4, 12), size=size) for i in range(count)]


def write_face_video(path: Path, frames: int, size=(640, 480), face_side: int = 200) -> Path:
    """An MJPG video of one rendered face drifting across a textured background."""
    width, height = size
    face = synthetic_faces(1, face_side)[0]
    rng = np.random.default_rng(1)
    background = cv2.GaussianBlur(rng.integers(60, 200, (height, width, 3), np.uint8), (0, 0), 6)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, size)
    for index in range(frames):
        frame = background.copy()
        x = int((width - face_side) / 2 + 80 * np.sin(index / 40))
        y = int((height - face_side) / 2 + 30 * np.sin(index / 25))
        frame[y : y + face_side, x : x + face_side] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_face_crops(folder: Path, count: int, size: int) -> Path:
    """``count`` face crops as JPEG files (quality 95, like prepared crops)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, face in enumerate(synthetic_faces(count, size)):
        cv2.imwrite(str(folder / f"face{index:04d}.jpg"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    return folder


def run_on(
    detector: AUDetector,
    location: Path,
    tracker: FaceTracker | None,
    batch_size: int = 16,
) -> PredictSummary:
    """``au.predict`` on ``location`` (outputs to a temporary folder); returns its summary."""
    columns = detector.layout.columns()
    with tempfile.TemporaryDirectory() as out, PredictionTable(Path(out), columns) as table:
        runner = PredictionRunner(detector, tracker, table, batch_size=batch_size)
        return runner.run(find_sources(location), progress=False)


def video_tracker(
    detect_every: int, align: bool = True, max_side: int = 320, detector: str = "haar"
) -> FaceTracker:
    """The face finder ``au.predict`` builds for a video with these settings (its own builder).

    ``detector``: ``haar`` (detecting on the frame scaled to ``max_side``) or ``mtcnn`` (the
    default of ``au.predict``).
    """
    options = {"max_side": max_side} if detector == "haar" else {}
    return build_tracker(detector, options, align, detect_every)
