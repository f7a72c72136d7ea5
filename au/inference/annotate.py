"""Draw faces (box coloured by top emotion, label with active AUs, landmarks); save media."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from au.inference.faces import FaceBox
from au.inference.media import Frame
from au.inference.records import FacePredictions

log = logging.getLogger(__name__)

#: Box colour (RGB) per emotion.
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "neutral": (200, 200, 200),
    "happiness": (255, 200, 0),
    "sadness": (60, 110, 255),
    "surprise": (255, 120, 220),
    "fear": (160, 80, 255),
    "anger": (255, 40, 40),
    "disgust": (60, 200, 60),
    "contempt": (255, 140, 0),
}
#: FourCC codes and file suffixes of the annotated video (``annotate_codec``).
VIDEO_CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}


def face_label(
    emotion: str, active_aus: Sequence[str], intensities: Sequence[float] | None = None
) -> str:
    """The text drawn above a face: top emotion, then the active AUs.

    AU numbers only (``happiness | AU 6 12``), or with an intensity model each active AU with
    its intensity (``happiness | AU6:2.4 AU12:3.2``).
    """
    if intensities is not None:
        levels = " ".join(f"{au}:{i:.1f}" for au, i in zip(active_aus, intensities, strict=True))
        return f"{emotion} | {levels}" if levels else emotion
    numbers = " ".join(au.removeprefix("AU") for au in active_aus)
    return f"{emotion} | AU {numbers}" if numbers else emotion


def face_labels(predictions: FacePredictions, aus: Sequence[str]) -> list[str]:
    """The label of every face: top emotion and the active AUs (with intensities if any)."""
    labels, decisions = [], predictions.au_decisions
    for face, emotion in enumerate(predictions.top_emotions):
        on = [] if decisions is None else np.flatnonzero(decisions[face])
        levels = None if predictions.intensities is None else predictions.intensities[face, on]
        name = "" if emotion is None else str(emotion)  # a task without emotions
        labels.append(face_label(name, [aus[i] for i in on], levels))
    return labels


def draw_face(image: np.ndarray, box: FaceBox, label: str, color: tuple[int, int, int]) -> None:
    """Draw a box and its label on ``image`` (H, W, 3) in place."""
    scale = max(0.35, min(image.shape[:2]) / 800)
    thickness = max(1, round(scale * 1.5))
    line = max(2, round(min(image.shape[:2]) / 250))
    cv2.rectangle(image, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1), color, line)
    (width, height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    top = box.y - height - baseline - 2 if box.y >= height + baseline + 2 else box.y
    cv2.rectangle(image, (box.x, top), (box.x + width + 2, top + height + baseline + 2), color, -1)
    origin = (box.x + 1, top + height + 1)
    cv2.putText(image, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness)
    if box.landmarks is not None:
        draw_landmarks(image, box.landmarks, color, max(2, line))


def draw_landmarks(
    image: np.ndarray, landmarks: np.ndarray, color: tuple[int, int, int], radius: int
) -> None:
    """Draw the 5 landmarks (5, 2) as filled dots ringed in black, in place."""
    shift = 4  # sub-pixel centres
    for x, y in np.asarray(landmarks, np.float64).reshape(-1, 2):
        centre = (round(x * (1 << shift)), round(y * (1 << shift)))
        cv2.circle(image, centre, (radius + 1) << shift, (0, 0, 0), -1, cv2.LINE_AA, shift)
        cv2.circle(image, centre, radius << shift, color, -1, cv2.LINE_AA, shift)


def annotate_frame(
    image: np.ndarray, boxes: Sequence[FaceBox], emotions: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """A copy of an RGB frame with every face drawn."""
    canvas = np.ascontiguousarray(image).copy()
    for box, emotion, label in zip(boxes, emotions, labels, strict=True):
        draw_face(canvas, box, label, EMOTION_COLORS.get(emotion, (255, 255, 255)))
    return canvas


class AnnotationWriter:
    """Save annotated frames: images under their own names, each video as one video file.

    Args:
        folder: Where annotated media go (the input's relative paths are kept).
        codec: ``mp4v`` (.mp4) or ``MJPG`` (.avi) for videos and cameras.
        frame_step: Every how many source frames one was kept (sets the output frame rate).
    """

    def __init__(self, folder: Path, codec: str = "mp4v", frame_step: int = 1):
        if codec not in VIDEO_CODECS:
            raise ValueError(f"annotate_codec={codec!r}: choose one of {', '.join(VIDEO_CODECS)}")
        self.folder, self.codec, self.frame_step = Path(folder), codec, frame_step
        self.video: cv2.VideoWriter | None = None
        self.video_source: str | None = None
        self.written: list[Path] = []

    def write(self, frame: Frame, annotated: np.ndarray) -> None:
        """Add one annotated RGB frame of ``frame``'s source."""
        bgr = cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR)
        if frame.source.kind == "image":
            path = self.folder / frame.source.name
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), bgr):
                log.warning("could not write annotated image %s", path)
            self.written.append(path)
            return
        if frame.source.name != self.video_source:
            self._open_video(frame, bgr.shape[1], bgr.shape[0])
        self.video.write(bgr)

    def _open_video(self, frame: Frame, width: int, height: int) -> None:
        self.close()
        path = self.folder / Path(frame.source.name).with_suffix(VIDEO_CODECS[self.codec])
        path.parent.mkdir(parents=True, exist_ok=True)
        fps = _video_fps(frame) / self.frame_step
        fourcc = cv2.VideoWriter_fourcc(*self.codec)
        self.video = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        self.video_source = frame.source.name
        self.written.append(path)

    def close(self) -> None:
        """Finish the current video file, if any."""
        if self.video is not None:
            self.video.release()
        self.video, self.video_source = None, None


def _video_fps(frame: Frame) -> float:
    if frame.source.kind == "video":
        capture = cv2.VideoCapture(str(frame.source.location))
        fps = capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        if fps > 0:
            return fps
    return 25.0
