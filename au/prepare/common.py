"""Shared helpers of the prepare scripts: clear errors, release discovery, face crops, frames.

Every prepare module reads a release exactly as distributed and turns it into face crops plus an
index (``au.data.index``). The helpers here keep the modules short: one error type a user sees
(:class:`PrepareError`), lookup of the folder-name variants releases come in, OpenCV's bundled
face detector as a fallback where a release ships no landmarks, and video frame reading. The
face-crop geometry (a square around landmarks or a box, eyes levelled) is :mod:`au.alignment`'s,
shared with ``au.predict``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from au.data.dataset import has_text_name, printable_path, read_image

# read_image: au's one image reader, here for the readers (as stored: BGR or 2-D gray)
from au.errors import PrepareError

log = logging.getLogger("au.prepare")


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a folder, else raise naming it and what it should hold."""
    if not path.is_dir():
        raise PrepareError(f"{what} not found: expected a folder at {path}")
    return path


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise naming it and what it should be."""
    if not path.is_file():
        raise PrepareError(f"{what} not found: expected a file at {path}")
    return path


def find_dir(root: Path, names: Sequence[str], what: str) -> Path:
    """Find the first of the folder-name variants ``names`` under ``root``.

    A variant may also sit one level deeper under its own name (``X/X``), as unzipping often
    leaves it. Raises :class:`PrepareError` listing every path that was tried.
    """
    require_dir(root, "raw release root")
    tried = []
    for name in names:
        for candidate in (root / name / name, root / name):
            tried.append(candidate)
            if candidate.is_dir():
                return candidate
    listed = ", ".join(str(p) for p in tried)
    raise PrepareError(f"{what} not found under {root}: tried {listed}")


_DETECTOR: cv2.CascadeClassifier | None = None


def detect_face(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest frontal face OpenCV's bundled Haar cascade finds, as ``(x, y, w, h)``."""
    global _DETECTOR
    if _DETECTOR is None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        _DETECTOR = cv2.CascadeClassifier(str(path))
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, 320.0 / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale) if scale < 1 else gray
    faces = _DETECTOR.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5)
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return tuple(int(round(v / scale)) for v in (x, y, w, h))


def centre_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """The largest centred square of an image, as ``(x, y, w, h)``."""
    height, width = image.shape[:2]
    side = min(height, width)
    return ((width - side) // 2, (height - side) // 2, side, side)


def normalise_channels(image: np.ndarray, gray: bool) -> np.ndarray:
    """Drop alpha; return a single-channel image when ``gray``, else BGR."""
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if gray and image.ndim == 3:
        return image[:, :, 0]
    if not gray and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


def is_gray(image: np.ndarray) -> bool:
    """Whether an image is single-channel, or has three identical channels that are not blank."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    bgr = image[:, :, :3]
    same = (bgr[:, :, 0] == bgr[:, :, 1]).all() and (bgr[:, :, 1] == bgr[:, :, 2]).all()
    return bool(same and bgr.std() > 0)


def probe_gray(path: Path | None) -> bool:
    """Whether a release is single-channel, judged on one of its files (``None``: colour).

    A still image is gray when stored with one channel (a black-and-white photo stored as RGB
    stays colour, so a colour release keeps one channel count); a video when its first frame is
    (codecs decode gray video to three identical channels). Every crop of a data set is written
    with the channel count found here, which ``index.json`` records as ``channels``.
    """
    if path is None:
        return False
    if path.suffix.lower() in (".avi", ".mp4", ".mov", ".mkv", ".wmv"):
        return is_gray(next(iter_video(path)))
    return read_image(path).ndim == 2


def write_image(path: Path, image: np.ndarray) -> None:
    """Write a crop as JPEG (quality 95), creating its folder."""
    encode_to_file(path, image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])


def encode_to_file(path: Path, image: np.ndarray, suffix: str, params: Sequence[int] = ()) -> None:
    """Encode ``image`` as ``suffix`` (``.jpg``, ``.png``) into ``path``, creating its folder.

    The bytes are written by Python, so any file name works (OpenCV's own writer crashes on
    names that are not valid UTF-8).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(suffix, image, list(params))
    try:
        if not ok:
            raise OSError("the encoder refused the image")
        data.tofile(path)
    except OSError as err:
        raise PrepareError(
            f"cannot write image {printable_path(path)}: is the output folder writable? "
            f"({err.strerror or err})"
        ) from err


def iter_video(path: Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video in order; raise naming a missing or unreadable file."""
    require_file(path, "video")
    if not has_text_name(path):  # OpenCV would crash on it
        raise PrepareError(f"cannot open video {printable_path(path)}: rename it to valid UTF-8")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise PrepareError(f"cannot open video {path}: expected a video file OpenCV can decode")
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield frame
    finally:
        capture.release()
    if count == 0:
        raise PrepareError(f"no frame could be decoded from video {path}: is it truncated?")


def select_subjects(found: Sequence[str], limit: Sequence[str] | None, root: Path) -> list[str]:
    """The subjects to prepare: all ``found`` ones, or the ``limit`` ones (which must exist)."""
    if not found:
        raise PrepareError(f"no subject found under {root}: is this the right release folder?")
    if not limit:
        return list(found)
    missing = [s for s in limit if s not in found]
    if missing:
        raise PrepareError(
            f"--limit-subjects names {missing}, not found under {root} (found: {', '.join(found)})"
        )
    return [s for s in found if s in set(limit)]


def parse_intensity(text: str, path: Path, line: int, allowed: range = range(6)) -> int:
    """Parse one integer label, raising with the file and line when it is not in ``allowed``."""
    try:
        value = int(float(text))
    except ValueError:
        value = None
    if value is None or value not in allowed:
        raise PrepareError(f"{path}, line {line}: label {text!r} is not one of {list(allowed)}")
    return value
