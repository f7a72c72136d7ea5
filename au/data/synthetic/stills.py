"""Still-image regimes of the synthetic benchmark: posed sets and in-the-wild stills.

The default regime (``video``) renders DISFA-like videos. The two still regimes render face crops
of single frames instead: ``posed`` imitates CK+, JAFFE and BU-3DFE (a neutral frame and the apex
of posed prototypes per identity, grayscale, lab conditions; :mod:`au.data.synthetic.posed`) and
``wild`` FER-2013 and AffectNet (one spontaneous-looking still per identity under varied
conditions and resolution; :mod:`au.data.synthetic.wild`). Both plan a subject as a
:class:`StillsPlan`; the writer turns it into index rows and JPEG crops like a video.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from au.aus import DISFA_AUS
from au.data.synthetic.episodes import code_intensities
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import Nuisance, nuisance_record
from au.data.synthetic.render import render_face

STILL_REGIMES = ("posed", "wild")
#: Stills are face crops: the face is drawn this much larger than in the video frames, so that
#: the crop holds the face and a little hair, as a face detector's box does.
CROP_ZOOM = 1.2
#: Automatic exposure brightens a frame towards this mean grey level, by a gain of at most
#: :data:`MAX_EXPOSURE_GAIN` (so a dark shot comes out brighter, flatter and noisier).
EXPOSURE_TARGET, MAX_EXPOSURE_GAIN = 110.0, 2.5
#: Per-regime stream of ``numpy.random.SeedSequence([seed, stream, subject])``: the regimes
#: render other people than the videos (stream 0).
REGIME_STREAMS = {"posed": 10, "wild": 20}


@dataclass(frozen=True)
class StillFrame:
    """One still: what the face shows, its labels and its conditions."""

    intensities: np.ndarray  # (12,) float in [0, 5], DISFA_AUS order
    emotion: str
    episode: int  # 0 neutral; posed: the posed sequence 1..; wild: 1 inside an episode
    phase: str  # neutral | apex | near_apex (posed) | onset | apex | offset (wild)
    nuisance: Nuisance
    resolution: int = 0  # wild: side the frame was reduced to before upsampling; 0 = none
    auto_exposure: bool = False  # wild: brightened as a camera's automatic exposure would
    extras: dict[str, int | float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class StillsPlan:
    """Everything that determines one identity's stills, before rendering."""

    identity: Identity
    frames: list[StillFrame]


def subject_streams(
    seed: int, regime: str, subject_index: int
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators (identity, expressions, conditions) of one still subject."""
    streams = np.random.SeedSequence([seed, REGIME_STREAMS[regime], subject_index]).spawn(3)
    identity_rng, expression_rng, nuisance_rng = (np.random.default_rng(s) for s in streams)
    return identity_rng, expression_rng, nuisance_rng


def cropped(nuisance: Nuisance) -> Nuisance:
    """``nuisance`` framed as a face crop (see :data:`CROP_ZOOM`)."""
    return replace(nuisance, scale=round(nuisance.scale * CROP_ZOOM, 3))


def still_records(plan: StillsPlan, subject: str, fold: int) -> list[dict[str, object]]:
    """One index row per frame of the plan (records, cheaper than a table per identity)."""
    codes = code_intensities(np.stack([f.intensities for f in plan.frames]))  # (F, 12)
    rows = []
    for number, (frame, frame_codes) in enumerate(zip(plan.frames, codes.tolist(), strict=True)):
        row = {"path": f"images/{subject}/{number:05d}.jpg", "subject": subject, "frame": number}
        row |= dict(zip(DISFA_AUS, frame_codes, strict=True))
        row |= {"fold": fold, "emotion": frame.emotion, "episode": frame.episode}
        row |= {"phase": frame.phase, **nuisance_record(frame.nuisance), **frame.extras}
        rows.append(row)
    return rows


def render_still(
    identity: Identity, frame: StillFrame, size: int, shading: str = "flat"
) -> np.ndarray:
    """Render one still; a wild frame is exposed and loses resolution before its JPEG.

    ``shading`` is :func:`au.data.synthetic.render.render_face`'s.

    Returns:
        uint8 (size, size, 3) for RGB, (size, size) for gray and thermal.
    """
    if not frame.auto_exposure and (frame.resolution <= 0 or frame.resolution >= size):
        return render_face(identity, frame.intensities, frame.nuisance, size, shading=shading)
    unsaved = replace(frame.nuisance, jpeg_quality=0)
    image = render_face(identity, frame.intensities, unsaved, size, shading=shading)
    if frame.auto_exposure:
        image = exposed(image)
    if 0 < frame.resolution < size:
        side = (frame.resolution, frame.resolution)
        small = cv2.resize(image, side, interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    return jpeg_roundtrip(image, frame.nuisance.jpeg_quality)


def exposed(image: np.ndarray) -> np.ndarray:
    """``image`` brightened towards :data:`EXPOSURE_TARGET` (never darkened), uint8."""
    gain = min(MAX_EXPOSURE_GAIN, max(1.0, EXPOSURE_TARGET / max(float(image.mean()), 1.0)))
    return np.clip(image.astype(np.float32) * np.float32(gain) + 0.5, 0, 255).astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` compressed as JPEG at ``quality`` and decoded (unchanged when quality is 0)."""
    if quality <= 0:
        return image
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
