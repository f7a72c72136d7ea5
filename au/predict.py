"""``python -m au.predict``: AUs and emotions of the faces in images, folders, videos or a camera.

Any task's checkpoint works (``task=au``, ``intensity``, ``emotion``, ``joint``); its rows hold
what the model gives (see :mod:`au.inference.records`): AU probabilities ``p_<AU>`` or
intensities ``i_<AU>`` (0-5) with decisions ``<AU>`` (0/1), and ``emotion_<name>`` scores with
``top_emotion``. The emotions come from the model's emotion head (``emotion``, ``joint``), else
from the AU read-out (:func:`au.emotions.readout.emotion_scores`, calibrated rule, the
model's own thresholds); a joint model writes the read-out beside its head as ``readout_<name>``
and ``readout_emotion``. The command prints which source the emotions come from.

Examples:
    python -m au.predict ckpt_path=logs/fit/runs/.../checkpoints/best.ckpt input=photos/
    python -m au.predict ckpt_path=best.ckpt input=interview.mp4 annotate=true every=2
    python -m au.predict ckpt_path=best.ckpt input=0 annotate=true        # camera 0, Ctrl-C stops
    python -m au.predict ckpt_path=best.ckpt input=crops/ detector=none   # already-cropped faces
    python -m au.predict ckpt_path=best.ckpt input=clip.mp4 runtime=onnx detect_every=5

Writes ``predictions.csv`` and ``predictions.jsonl`` (one row per face per frame; a frame without
a face gets one row with ``face = -1``) and, with ``annotate=true``, annotated media under
``annotated/`` in ``output_dir`` (default ``logs/predict/runs/<time>``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from au.inference.annotate import VIDEO_CODECS, AnnotationWriter  # noqa: E402
from au.inference.api import build_tracker as face_tracker  # noqa: E402
from au.inference.blazeface import MODELS as BLAZEFACE_MODELS  # noqa: E402
from au.inference.detector import AUDetector  # noqa: E402
from au.inference.faces import FACE_DETECTORS  # noqa: E402
from au.inference.live import LiveView, NoWindowError, opencv_window  # noqa: E402
from au.inference.media import MediaReadError, Source, find_sources  # noqa: E402
from au.inference.pipeline import PredictionRunner, PredictSummary  # noqa: E402
from au.inference.records import PredictionTable  # noqa: E402
from au.inference.runtime import RUNTIMES  # noqa: E402
from au.inference.tracking import FaceTracker  # noqa: E402
from au.run.folder import bad_input_stops_run  # noqa: E402

log = logging.getLogger("au.predict")

#: The types of the keys au.predict reads itself (configs/predict.yaml), checked before any work.
CONFIG_KEYS: dict[str, object] = {
    "ckpt_path": str,
    "input": str | int,
    "device": str,
    "runtime": Literal[RUNTIMES],
    "threads": int | None,
    "clahe": bool | None,
    "detector": Literal[FACE_DETECTORS],
    "margin": float | None,
    "align": bool,
    "renders_template": bool,
    "detect_every": int,
    "smoothing": float,
    "mtcnn.min_face": int,
    "mtcnn.thresholds": list[float],
    "blazeface.model": Literal[tuple(BLAZEFACE_MODELS)],
    "blazeface.score_threshold": float,
    "blazeface.tiles": int,
    "haar.cascade": str,
    "haar.scale_factor": float,
    "haar.min_neighbors": int,
    "haar.min_size": int,
    "haar.max_side": int,
    "batch_size": int,
    "every": int,
    "max_frames": int | None,
    "progress": bool,
    "show": bool | Literal["auto"],
    "annotate": bool,
    "annotate_codec": Literal[tuple(VIDEO_CODECS)],
}


def build_tracker(config: DictConfig) -> FaceTracker | None:
    """The face finder of ``config`` (``None`` for ``detector=none``: images are faces)."""
    name = config.detector
    options = OmegaConf.to_container(config[name]) if name and name in config else {}
    return face_tracker(
        config.detector, options, config.align, config.detect_every, config.smoothing
    )


def build_live_view(config: DictConfig, sources: list[Source]) -> LiveView | None:
    """The live window: ``show=true``, or ``show=auto`` with a camera input.

    Raises:
        NoWindowError: With ``show=true`` where OpenCV cannot open a window (``show=auto``
            then predicts without one, saying so).
    """
    if config.show is True:
        return LiveView(opencv_window())
    if config.show == "auto" and any(s.kind == "camera" for s in sources):
        try:
            return LiveView(opencv_window())
        except NoWindowError as err:
            log.warning("no live window: %s", str(err).removeprefix("show=true: "))
    return None


def check_cameras(sources: list[Source]) -> None:
    """Open and release every camera input once, before the model is loaded.

    Raises:
        MediaReadError: ``camera <index> could not be opened``, for the first that cannot.
    """
    for source in sources:
        if source.kind != "camera":
            continue
        quiet = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            capture = cv2.VideoCapture(source.location)
            opened = capture.isOpened()
            capture.release()
        finally:
            cv2.utils.logging.setLogLevel(quiet)
        if not opened:
            raise MediaReadError(
                f"camera {source.location} could not be opened (input={source.location}): no "
                "such camera, or it is in use; pass another index, a video or an image folder"
            )


def run_predict(config: DictConfig, show=None) -> PredictSummary:
    """Predict as configured (see ``configs/predict.yaml``); returns the run's summary.

    ``show`` replaces the OpenCV window of the live view (an RGB frame in, ``False`` to stop).
    """
    sources = find_sources(config.input)
    check_cameras(sources)
    tracker = build_tracker(config)  # a damaged MTCNN weights cache stops here, before any work
    detector = AUDetector.from_checkpoint(
        config.ckpt_path,
        device=config.device,
        runtime=config.runtime,
        threads=config.threads,
        clahe=config.clahe,
        renders_template=config.renders_template,
    )
    print(detector.emotion_source)
    coverage = detector.coverage()
    if coverage is not None:
        print(coverage)
    live = LiveView(show) if show is not None else build_live_view(config, sources)
    output_dir = Path(config.output_dir)
    annotator = None
    if config.annotate:
        annotator = AnnotationWriter(output_dir / "annotated", config.annotate_codec, config.every)
    with PredictionTable(output_dir, detector.layout.columns()) as table:
        runner = PredictionRunner(
            detector,
            tracker,
            table,
            annotator,
            batch_size=config.batch_size,
            margin=config.margin,
            live=live,
        )
        summary = runner.run(sources, config.every, config.max_frames, config.progress)
    print(summary.format())
    if summary.frames == 0 and summary.skipped:
        raise MediaReadError(f"nothing could be read from input {config.input}")
    print(f"predictions: {table.csv_path} and {table.jsonl_path.name}")
    if annotator is not None:
        print(f"annotated media: {annotator.folder}")
    return summary


@hydra.main(version_base="1.3", config_path="../configs", config_name="predict")
def main(config: DictConfig) -> None:
    """Hydra entry point."""
    with bad_input_stops_run(config, CONFIG_KEYS):
        run_predict(config)


if __name__ == "__main__":
    main()
