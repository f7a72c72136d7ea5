"""Read what ``au.predict`` is pointed at: an image, a folder, a video file or a camera.

Every frame comes out as uint8 RGB (H, W, 3). A file that cannot be read raises
:class:`MediaReadError` naming it, so the caller can report it and go on with the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from au.data.dataset import ImageReadError, has_text_name, printable_path, read_image
from au.errors import MediaReadError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".wmv"})


@dataclass(frozen=True)
class Source:
    """One thing to read frames from.

    Attributes:
        kind: ``"image"``, ``"video"`` or ``"camera"``.
        location: The file, or the camera index.
        name: How outputs refer to it: the path relative to the input folder, the file name,
            or ``camera<index>``.
    """

    kind: str
    location: Path | int
    name: str


@dataclass
class Frame:
    """A decoded frame of a source: number within it, time in seconds (video/camera), RGB image."""

    source: Source
    index: int
    time_s: float | None
    image: np.ndarray  # (H, W, 3) uint8 RGB


def media_kind(path: Path) -> str | None:
    """``"image"`` or ``"video"`` by file suffix, else ``None``."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def find_sources(location: str | int | Path) -> list[Source]:
    """The sources of an input: a camera index, an image or video file, or a folder of them.

    An int (or a string of digits that is not an existing path) is a camera index.

    A folder is searched recursively, in sorted order; files of other types are ignored, and
    files whose names are not valid UTF-8 are skipped with a warning naming them.

    Raises:
        FileNotFoundError: If the path does not exist.
        MediaReadError: If the file's name is not valid UTF-8.
        ValueError: If a file is neither an image nor a video, or a folder holds none.
    """
    path = Path(str(location)).expanduser()
    if isinstance(location, int) or (str(location).strip().isdigit() and not path.exists()):
        return [Source("camera", int(location), f"camera{int(location)}")]
    if not path.exists():
        raise FileNotFoundError(f"predict input not found: {path}")
    if path.is_file():
        if not has_text_name(path):
            raise MediaReadError(
                f"predict input {printable_path(path)}: file name is not valid UTF-8 (rename it)"
            )
        if media_kind(path) is None:
            raise ValueError(f"predict input {path} is not an image or video ({_known_types()})")
        return [Source(media_kind(path), path, path.name)]
    files = sorted(p for p in path.rglob("*") if p.is_file() and media_kind(p))
    named = [p for p in files if has_text_name(p)]
    for unnamed in sorted(set(files) - set(named)):
        log.warning(
            "skipping %s: its file name is not valid UTF-8, so outputs cannot name it (rename it)",
            printable_path(unnamed),
        )
    if not named:
        raise ValueError(f"no images or videos in folder {path} ({_known_types()})")
    return [Source(media_kind(p), p, p.relative_to(path).as_posix()) for p in named]


def _known_types() -> str:
    return "known suffixes: " + " ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))


def count_frames(source: Source, every: int = 1) -> int | None:
    """Frames :func:`read_frames` will yield at most, if known without decoding (not cameras)."""
    if source.kind == "image":
        return 1
    if source.kind == "camera":
        return None
    capture = cv2.VideoCapture(str(source.location))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    return -(-max(total, 0) // every)


def read_frames(
    source: Source, every: int = 1, max_frames: int | None = None
) -> Generator[Frame, None, str | None]:
    """Frames of a source: every ``every``-th video/camera frame, at most ``max_frames``.

    Returns (as the generator's value, ``note = yield from read_frames(...)``) a note when a
    video ended before the frame count its container lists (a cut or damaged file), else None.

    Raises:
        MediaReadError: If the file is missing, corrupt, or a video yields no frame.
    """
    if source.kind == "image":
        try:
            yield Frame(source, 0, None, read_image(source.location, channels=3))
        except ImageReadError as err:
            raise MediaReadError(str(err)) from err
        return
    capture = _open_capture(source)
    fps = capture.get(cv2.CAP_PROP_FPS) if source.kind == "video" else 0.0
    listed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if source.kind == "video" else 0
    started, index, yielded, ended = time.perf_counter(), 0, 0, False
    try:
        while max_frames is None or yielded < max_frames:
            ok, image = capture.read() if index % every == 0 else (capture.grab(), None)
            if not ok:
                ended = True
                break
            if image is not None:
                seconds = index / fps if fps > 0 else time.perf_counter() - started
                yield Frame(source, index, seconds, _to_rgb(image))
                yielded += 1
            index += 1
    finally:
        capture.release()
    if yielded == 0 and (max_frames is None or max_frames > 0):
        raise MediaReadError(f"cannot read video {source.location}: no decodable frame")
    if ended and listed - index > max(1, listed // 100):
        return f"ended early: {index} of the {listed} frames its container lists decoded"
    return None


def _open_capture(source: Source) -> cv2.VideoCapture:
    if source.kind == "video" and not Path(source.location).is_file():
        raise MediaReadError(f"cannot read video {printable_path(source.location)}: missing")
    if source.kind == "video" and not has_text_name(source.location):  # OpenCV would crash
        raise MediaReadError(
            f"cannot open video {printable_path(source.location)}: name is not valid UTF-8"
        )
    location = source.location if source.kind == "camera" else str(source.location)
    capture = cv2.VideoCapture(location)
    if not capture.isOpened():
        what = "camera" if source.kind == "camera" else "video"
        raise MediaReadError(f"cannot open {what} {source.location}")
    return capture


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
