"""The posed regime: a neutral frame and the apex of posed prototypes per identity (CK+-like).

Posed sets (CK+, JAFFE, BU-3DFE) film actors asked to show each basic emotion: the frames used
are the neutral first frame and the last frames of each sequence, at or near the apex of the
*full* prototype, strong, frontal, evenly lit. Here each identity gets one session (lighting,
glasses, camera fixed, never low light; pose jitters slightly between frames): frame 0 is
neutral, then the six emotions in a random order, each at its apex; with more than 7 frames,
the first emotions of that order also get a ``near_apex`` frame just before the apex (CK+'s last
frames but one).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from au.aus import DISFA_AUS
from au.data.synthetic.episodes import Component, resting_intensities
from au.data.synthetic.identity import sample_identity
from au.data.synthetic.nuisances import Nuisance, sample_nuisance, with_glasses
from au.data.synthetic.stills import StillFrame, StillsPlan, cropped, subject_streams

POSED_EMOTIONS = ("happiness", "sadness", "surprise", "fear", "anger", "disgust")
#: EMFACS prototypes on the rendered AUs, (AU, chance, gain): happiness 6+12, sadness 1+4+15,
#: surprise 1+2+5+26, fear 1+2+4+5+20+26, anger 4+5 (7 and 23 not rendered) with 17, disgust
#: 9+15 (10 and 16 not rendered) with 17; lips part (25) with a dropped jaw, in half the smiles
#: and sad faces with a raised chin in half.
POSED_PROTOTYPES: dict[str, tuple[Component, ...]] = {
    "happiness": (Component("AU12"), Component("AU6", 1.0, 0.9), Component("AU25", 0.5, 0.8)),
    "sadness": (Component("AU15"), Component("AU1", 1.0, 0.9), Component("AU4", 1.0, 0.8),
                Component("AU17", 0.5, 0.8)),
    "surprise": (Component("AU1"), Component("AU2"), Component("AU5", 1.0, 0.7),
                 Component("AU26", 1.0, 0.9), Component("AU25")),
    "fear": (Component("AU20"), Component("AU1"), Component("AU2"), Component("AU4", 1.0, 0.8),
             Component("AU5", 1.0, 0.7), Component("AU26", 1.0, 0.7), Component("AU25")),
    "anger": (Component("AU4"), Component("AU5", 1.0, 0.7), Component("AU17", 1.0, 0.9)),
    "disgust": (Component("AU9"), Component("AU15", 1.0, 0.7), Component("AU17", 1.0, 0.9)),
}  # fmt: skip
#: Apex level of a posed expression (intensity of a gain-1 AU): strong, 3.6-5.
APEX_LEVEL = (3.6, 5.0)
#: A near-apex frame shows the same expression at this fraction of its apex.
NEAR_APEX_FRACTION = (0.6, 0.8)
#: Lab light: a session is never darker than this (low light is below 0.5).
GOOD_LIGHT = 0.8
_AU_INDEX = {au: i for i, au in enumerate(DISFA_AUS)}


def posed_intensities(
    emotion: str, level: float, rest: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(12,) intensities of ``emotion``'s prototype at ``level`` over the resting ``rest``."""
    intensities = rest.copy()
    for component in POSED_PROTOTYPES[emotion]:
        if rng.random() < component.probability:
            value = level * component.gain * rng.uniform(0.9, 1.1)
            intensities[_AU_INDEX[component.au]] = min(5.0, value)
    return intensities


def session_frame(session: Nuisance, rng: np.random.Generator, difficulty: int) -> Nuisance:
    """A frame of ``session``: its own small head movement and noise pattern, as a crop."""
    jitter = sample_nuisance(rng, difficulty, session.modality)
    moved = {k: getattr(jitter, k) for k in ("yaw", "pitch", "roll", "scale", "shift_x")}
    return cropped(replace(session, **moved, shift_y=jitter.shift_y, seed=jitter.seed))


def posed_sequence(num_frames: int, rng: np.random.Generator) -> list[tuple[str, int, str]]:
    """(emotion, sequence, phase) of frames 0..num_frames-1: neutral, then the posed frames."""
    order = [POSED_EMOTIONS[i] for i in rng.permutation(len(POSED_EMOTIONS))]
    posed = num_frames - 1
    repeats = max(0, posed - len(order))
    frames = [("neutral", 0, "neutral")]
    for number in range(posed):
        emotion = order[number % len(order)]
        sequence = number % len(order) + 1
        phases = ["near_apex", "apex"] if number < repeats else ["apex"]
        frames += [(emotion, sequence, phase) for phase in phases]
        if len(frames) >= num_frames:
            break
    return frames[:num_frames]


def plan_posed_subject(
    seed: int,
    subject_index: int,
    num_frames: int,
    difficulty: int,
    modality: str,
    dealt: frozenset[str] = frozenset(),
) -> StillsPlan:
    """The stills of posed identity ``subject_index``, a pure function of the arguments.

    ``dealt`` holds ``"glasses"`` if this identity was dealt glasses for its session.
    """
    identity_rng, expression_rng, nuisance_rng = subject_streams(seed, "posed", subject_index)
    session = sample_nuisance(nuisance_rng, difficulty, modality)
    if difficulty > 0:
        session = with_glasses(session, "glasses" in dealt, nuisance_rng)
    session = replace(session, light_level=max(session.light_level, GOOD_LIGHT))
    rest = resting_intensities(num_frames, expression_rng)  # (F, 12)
    apex: dict[str, float] = {}
    frames = []
    for number, (emotion, sequence, phase) in enumerate(posed_sequence(num_frames, expression_rng)):
        intensities = rest[number]
        if emotion != "neutral":
            level = apex.setdefault(emotion, float(expression_rng.uniform(*APEX_LEVEL)))
            if phase == "near_apex":
                level *= expression_rng.uniform(*NEAR_APEX_FRACTION)
            intensities = posed_intensities(emotion, level, intensities, expression_rng)
        nuisance = session_frame(session, nuisance_rng, difficulty)
        frames.append(StillFrame(intensities, emotion, sequence, phase, nuisance))
    return StillsPlan(identity=sample_identity(identity_rng), frames=frames)
