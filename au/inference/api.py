"""A notebook API over the predict loop: ``Detector.from_checkpoint(path).predict(input)``.

The DataFrame holds exactly the rows and columns of the ``predictions.csv`` that
``python -m au.predict`` writes for the same input and options (both run
:class:`au.inference.pipeline.PredictionRunner`).

Example:
    >>> from au import Detector
    >>> det = Detector.from_checkpoint("RUN/checkpoints/best.ckpt", detector="mtcnn")
    >>> df = det.predict("clip.mp4")  # an image, a folder, or a list of RGB arrays
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from au.errors import MediaReadError
from au.inference.align import EyeFinder
from au.inference.detector import AUDetector
from au.inference.faces import build_face_detector
from au.inference.media import Frame, Source, find_sources
from au.inference.pipeline import PredictionRunner, PredictSummary
from au.inference.tracking import FaceTracker


def build_tracker(
    detector: str | None,
    options: dict | None = None,
    align: bool = True,
    detect_every: int = 1,
    smoothing: float = 0.6,
) -> FaceTracker | None:
    """The face finder called ``detector`` (``None`` for ``"none"``: images are faces)."""
    if detector in ("none", None):
        return None
    eyes = EyeFinder() if align else None
    face_detector = build_face_detector(detector, **(options or {}))
    return FaceTracker(face_detector, detect_every, smoothing, eyes=eyes)


class RowCollector:
    """Holds the predict loop's rows in memory (a :class:`PredictionTable` without files)."""

    def __init__(self, columns: Sequence[str]):
        self.columns = list(columns)
        self.rows: list[dict] = []

    def write(self, rows: Sequence[dict]) -> None:
        """Append rows (absent keys are missing values)."""
        self.rows += [{column: row.get(column) for column in self.columns} for row in rows]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame, missing values as NaN (as ``pd.read_csv`` gives them)."""
        table = pd.DataFrame(self.rows, columns=self.columns)
        return table.fillna(value=np.nan).infer_objects()


def array_frames(images: Sequence[np.ndarray], bgr: bool = False) -> Iterator[Frame]:
    """Frames of in-memory images, one source each, named ``array<index>``.

    Raises:
        MediaReadError: For an item that is not a uint8 (H, W, 3) array.
    """
    for index, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise MediaReadError(
                f"images[{index}]: expected a uint8 (H, W, 3) array, got {image.dtype} "
                f"{image.shape}"
            )
        image = np.ascontiguousarray(image[..., ::-1] if bgr else image)
        yield Frame(Source("array", index, f"array{index}"), 0, None, image)


class Detector:
    """Faces ▸ AUs and emotions as a DataFrame, for notebooks (see the module docstring).

    Args:
        model: The loaded checkpoint.
        tracker: Finds and follows faces (``None``: every image is one cropped face).
        margin: Crop margin; ``None``: the checkpoint's (see :class:`PredictionRunner`).
        batch_size: Faces per model call.
    """

    def __init__(
        self,
        model: AUDetector,
        tracker: FaceTracker | None,
        margin: float | None = None,
        batch_size: int = 32,
    ):
        self.model, self.tracker = model, tracker
        self.margin, self.batch_size = margin, batch_size
        self.summary: PredictSummary | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        detector: str = "mtcnn",
        runtime: str = "torch",
        device: str = "cpu",
        align: bool = True,
        margin: float | None = None,
        detect_every: int = 1,
        smoothing: float = 0.6,
        batch_size: int = 32,
        threads: int | None = None,
        clahe: bool | None = None,
        renders_template: bool = True,
        **face_options,
    ) -> Detector:
        """Load a checkpoint written by ``au.fit``; options as in ``configs/predict.yaml``.

        ``face_options`` go to the face detector (e.g. ``min_face=40`` for ``mtcnn``).

        Raises:
            CheckpointError: If ``path`` is not a usable checkpoint.
        """
        model = AUDetector.from_checkpoint(
            path,
            device=device,
            runtime=runtime,
            threads=threads,
            clahe=clahe,
            renders_template=renders_template,
        )
        tracker = build_tracker(detector, face_options, align, detect_every, smoothing)
        return cls(model, tracker, margin=margin, batch_size=batch_size)

    def predict(
        self,
        inputs: str | Path | Sequence[np.ndarray],
        every: int = 1,
        max_frames: int | None = None,
        bgr: bool = False,
        progress: bool = False,
    ) -> pd.DataFrame:
        """One row per face per frame, the columns of ``predictions.csv``.

        Args:
            inputs: An image or video path, a folder of them, or a list of uint8 (H, W, 3)
                arrays: RGB, or BGR (as ``cv2.imread`` gives) with ``bgr=True``.
            every: Videos: keep every n-th frame.
            max_frames: Videos: stop each after this many frames.
            bgr: The arrays of ``inputs`` are BGR.
            progress: Show a progress bar.

        Raises:
            FileNotFoundError: If a path does not exist.
            MediaReadError: If nothing could be read, or an array is not uint8 (H, W, 3).
        """
        collector = RowCollector(self.model.layout.columns())
        runner = PredictionRunner(
            self.model, self.tracker, collector, batch_size=self.batch_size, margin=self.margin
        )
        if isinstance(inputs, (str, Path)):
            summary = runner.run(find_sources(inputs), every, max_frames, progress)
            if summary.frames == 0 and summary.skipped:
                raise MediaReadError(f"nothing could be read from input {inputs}")
        else:
            frames = list(array_frames(inputs, bgr))
            summary = runner.run_frames(iter(frames), len(frames), progress)
        self.summary = summary
        return collector.frame()
