"""The in-the-wild regime: one spontaneous-looking still per identity (FER-2013/AffectNet-like).

Web images of faces show an expression caught at any moment: rising, at its peak or fading, weak
or strong, under any pose, light, occlusion and camera, often small and recompressed. A wild
still is a random frame of one expression episode of the video generator (where the expression
is visible, so its label follows the same rule as a video frame's), its emotion drawn with
FER-2013's class shares; its conditions come from a difficulty level drawn per frame (uniformly
from 1..difficulty), the camera's automatic exposure brightens dark shots (gain up to 2.5, which
also amplifies their noise), and its resolution is reduced to 1/2-1 of the crop side before it
is scaled back up and JPEG-compressed at the level's quality.

``other`` (non-prototypical movements such as speech) is never drawn: like AffectNet's
``none``/``uncertain`` images in its 7/8-class benchmark, it is left out, and the 7 classes are
those of FER-2013.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from au.data.synthetic.episodes import (
    EPISODE_KINDS,
    VISIBLE_INTENSITY,
    EpisodeKind,
    resting_intensities,
    sample_episode,
)
from au.data.synthetic.identity import sample_identity
from au.data.synthetic.nuisances import Nuisance, sample_nuisance
from au.data.synthetic.stills import StillFrame, StillsPlan, cropped, subject_streams

#: FER-2013's training-set class counts (28,709 faces), the shares wild stills are drawn with.
FER2013_COUNTS: dict[str, int] = {
    "neutral": 4965,
    "happiness": 7215,
    "sadness": 4830,
    "surprise": 3171,
    "fear": 4097,
    "anger": 3995,
    "disgust": 436,
}
#: The lowest resolution of a wild still, as a fraction of its side.
MIN_RESOLUTION = 0.5
_KIND_OF_EMOTION: dict[str, EpisodeKind] = {
    kind.emotion: kind for kind in EPISODE_KINDS if kind.name == kind.emotion
}


@lru_cache(maxsize=4)
def stratified_emotions(seed: int, num_subjects: int, frames: int) -> np.ndarray:
    """Emotions (subjects, frames) at FER-2013's shares, stratified across subjects.

    Round ``j`` splits [0, 1) into one stratum per subject in a random order, so that even a
    small set holds close to the target share of each class. Cached (every subject of a set
    reads its row): do not modify the result.
    """
    rng = np.random.default_rng([seed, 3, num_subjects])
    strata = np.stack([rng.permutation(num_subjects) for _ in range(frames)], axis=1)
    draws = (strata + rng.random((num_subjects, frames))) / num_subjects
    names = list(FER2013_COUNTS)
    upper = np.cumsum(list(FER2013_COUNTS.values())) / sum(FER2013_COUNTS.values())
    picks = np.minimum(np.searchsorted(upper, draws, side="right"), len(names) - 1)
    return np.array(names, dtype=object)[picks]


def spontaneous_expression(emotion: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """(12,) intensities of a random visible moment of an ``emotion`` episode, and its phase."""
    rest = resting_intensities(1, rng)[0]
    if emotion == "neutral":
        return rest, "neutral"
    while True:
        episode, canvas, moved = sample_episode(_KIND_OF_EMOTION[emotion], rng)
        visible = np.flatnonzero(np.where(moved, canvas, 0).max(axis=1) >= VISIBLE_INTENSITY)
        if len(visible):
            break
    frame = int(rng.choice(visible))
    phase = (
        "onset"
        if frame < episode.apex_start
        else ("apex" if frame < episode.offset_start else "offset")
    )
    return np.where(moved[frame], canvas[frame], rest), phase


def wild_conditions(
    rng: np.random.Generator, difficulty: int, modality: str, size: int
) -> tuple[Nuisance, int, int]:
    """A still's nuisances (as a crop), the side its resolution drops to, and its level."""
    levels = np.arange(1, difficulty + 1)
    level = int(rng.choice(levels)) if difficulty > 0 else 0
    nuisance = cropped(sample_nuisance(rng, level, modality))
    low = max(8, round(MIN_RESOLUTION * size))
    resolution = int(rng.integers(low, size + 1)) if level > 0 else size
    return nuisance, resolution, level


def plan_wild_subject(
    seed: int,
    subject_index: int,
    num_subjects: int,
    num_frames: int,
    difficulty: int,
    modality: str,
    size: int,
) -> StillsPlan:
    """The stills of wild identity ``subject_index`` of ``num_subjects`` (pure function)."""
    identity_rng, expression_rng, nuisance_rng = subject_streams(seed, "wild", subject_index)
    emotions = stratified_emotions(seed, num_subjects, num_frames)[subject_index]
    frames = []
    for emotion in emotions:
        intensities, phase = spontaneous_expression(str(emotion), expression_rng)
        nuisance, resolution, level = wild_conditions(nuisance_rng, difficulty, modality, size)
        frames.append(
            StillFrame(
                intensities,
                str(emotion),
                int(phase != "neutral"),
                phase,
                nuisance,
                resolution=resolution,
                auto_exposure=True,
                extras={"resolution": resolution, "difficulty": level},
            )
        )
    return StillsPlan(identity=sample_identity(identity_rng), frames=frames)
