"""Per-subject AU timelines: expression episodes with onset, apex and offset between neutral rests.

A synthetic subject's video is a sequence of episodes separated by neutral stretches. Each episode
is one kind of :data:`EPISODE_KINDS`: an EMFACS emotion prototype restricted to the 12 rendered
DISFA AUs, or a non-prototypical movement (speech, concentration, ...) labelled ``"other"``. Within
an episode every AU rises over its onset frames, holds at its apex with a small fluctuation and
falls over its offset; the first AU of the episode (its main AU) sets the episode's phases, the
others follow with slight timing jitter. The kind weights, durations and gains are tuned so that
per-frame positive rates (rounded intensity >= 2) follow DISFA's (see ``datasets/synthetic``).

:func:`sample_nuisance_track` makes the frame conditions of a video temporally smooth, and
:func:`plan_subject` combines identity, expressions and conditions into one subject's plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from au.aus import DISFA_AUS
from au.data.synthetic.identity import Identity, sample_identity
from au.data.synthetic.nuisances import Nuisance, sample_nuisance, with_glasses

#: The labels a synthetic frame carries: neutral, six basic emotions, or "other" movement.
EPISODE_LABELS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "other",
)  # fmt: skip
#: Continuous intensity at or above which a frame shows the episode's expression (code >= 1).
VISIBLE_INTENSITY = 1.0
_BASELINE_MAX = 0.45  # resting micro-movements stay below code 1 (rounded intensity 0)
_AU_INDEX = {au: i for i, au in enumerate(DISFA_AUS)}
_GOLDEN = 0.6180339887  # spreads the optional AUs of a kind over different parts of its stratum


@dataclass(frozen=True)
class Component:
    """An AU of an episode kind: how often it joins and its apex relative to the episode's."""

    au: str
    probability: float = 1.0
    gain: float = 1.0


@dataclass(frozen=True)
class EpisodeKind:
    """A kind of expression episode and how often it occurs."""

    name: str
    emotion: str
    weight: float
    components: tuple[Component, ...] = ()
    random_pool: tuple[str, ...] = ()  # when set: 1-3 AUs drawn from it instead of components
    phase_frames: tuple[tuple[int, int], ...] = ((3, 8), (5, 20), (3, 9))  # onset, apex, offset
    apex_beta: tuple[float, float] = (2.5, 3.0)  # apex intensity = 1 + 4 * Beta(a, b)
    speech: bool = False  # mouth AUs open and close like syllables during the episode


def _kind(name: str, emotion: str, weight: float, *aus: str | tuple, **options) -> EpisodeKind:
    parts = tuple(Component(a) if isinstance(a, str) else Component(*a) for a in aus)
    return EpisodeKind(name, emotion, weight, parts, **options)


MOUTH_AUS = ("AU25", "AU26")
#: EMFACS prototypes on the rendered AUs (AU7, AU10, AU16 and AU23 are not rendered: fear loses
#: AU7, anger keeps only 4+5 (+17), disgust keeps 9+15 (+17)), then non-prototypical movements.
EPISODE_KINDS: tuple[EpisodeKind, ...] = (
    _kind("happiness", "happiness", 30.0, "AU12", ("AU6", 0.75, 0.85), ("AU25", 0.6, 0.9)),
    _kind("sadness", "sadness", 5.0, "AU4", ("AU1", 0.5, 0.7), ("AU15", 1.0, 0.7),
          ("AU17", 0.5, 0.8)),
    _kind("surprise", "surprise", 5.5, "AU2", "AU1", ("AU5", 0.6, 0.6), ("AU26", 1.0, 0.9),
          ("AU25", 0.9, 1.0)),
    _kind("fear", "fear", 4.5, "AU20", "AU1", "AU2", "AU4", ("AU5", 0.6, 0.6), "AU26",
          ("AU25", 0.9, 1.0)),
    _kind("anger", "anger", 5.0, "AU4", ("AU5", 0.4, 0.6), ("AU17", 0.6, 0.9)),
    _kind("disgust", "disgust", 10.0, "AU9", ("AU15", 0.6, 0.6), ("AU17", 0.8, 0.9)),
    _kind("speech", "other", 33.0, "AU25", ("AU26", 0.5, 0.7), speech=True,
          phase_frames=((2, 5), (10, 40), (2, 6))),
    _kind("concentration", "other", 22.0, "AU4"),
    _kind("lips_apart", "other", 2.0, "AU25"),
    _kind("mix", "other", 3.0, random_pool=("AU1", "AU4", "AU5", "AU9", "AU12", "AU15", "AU17",
          "AU20", "AU25")),
)  # fmt: skip


@dataclass(frozen=True)
class Episode:
    """One expression episode; frame bounds are those of its main AU (end exclusive)."""

    episode_id: int
    kind: str
    emotion: str
    aus: tuple[str, ...]
    start: int
    apex_start: int
    offset_start: int
    end: int

    @property
    def main_au(self) -> str:
        """The AU whose onset, apex and offset define the episode's phases."""
        return self.aus[0]


@dataclass(frozen=True)
class Timeline:
    """A subject's video plan: what every frame expresses."""

    intensities: np.ndarray  # (T, 12) float32 in [0, 5], columns in DISFA_AUS order
    emotions: np.ndarray  # (T,) str, one of EPISODE_LABELS
    episode_ids: np.ndarray  # (T,) int, 0 in neutral stretches, 1.. inside episodes
    episodes: tuple[Episode, ...]


def code_intensities(intensities: np.ndarray) -> np.ndarray:
    """Integer 0-5 codes of continuous intensities (round half up), as a human coder's."""
    return np.clip(np.floor(np.asarray(intensities) + 0.5), 0, 5).astype(np.int64)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


def _envelope(onset: int, apex: int, offset: int, rng: np.random.Generator) -> np.ndarray:
    """Unit profile: strictly rising onset, apex near 1 with slow fluctuation, falling offset."""
    rise = _smoothstep(np.arange(1, onset + 1) / (onset + 1))
    wobble = np.cumsum(rng.normal(0.0, 0.03, apex))
    hold = 1.0 + np.clip(wobble - wobble.mean(), -0.08, 0.08)
    fall = _smoothstep(1.0 - np.arange(1, offset + 1) / (offset + 1))
    return np.concatenate([rise, hold, fall])


def _speech_modulation(length: int, rng: np.random.Generator) -> np.ndarray:
    """Syllable-like opening and closing of the mouth, between 0.45 and 1."""
    period = rng.uniform(5.0, 9.0)
    phase = rng.uniform(0, 2 * np.pi)
    return 0.45 + 0.55 * np.abs(np.sin(np.pi * np.arange(length) / period + phase))


def _au_timing(
    phases: tuple[int, int, int], is_main: bool, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """(delay, onset, apex, offset) of one AU: the main AU exact, the others jittered."""
    onset, apex, offset = phases
    if is_main:
        return 0, onset, apex, offset
    delay = int(rng.integers(-1, 3))
    onset_j = max(2, round(onset * rng.uniform(0.75, 1.25)))
    offset_j = max(2, round(offset * rng.uniform(0.75, 1.25)))
    apex_j = max(2, apex + int(rng.integers(-2, 3)))
    return delay, onset_j, apex_j, offset_j


def _sample_episode_aus(
    kind: EpisodeKind, within: float, rng: np.random.Generator
) -> list[tuple[str, float]]:
    """The (AU, gain) pairs one episode of ``kind`` moves, main AU first.

    ``within`` (uniform in [0, 1): where the episode's kind draw fell in the kind's stratum)
    decides which optional AUs join, so that they are as evenly spread as the kinds.
    """
    if kind.random_pool:
        count = int(rng.integers(1, 4))
        chosen = rng.choice(len(kind.random_pool), size=count, replace=False)
        return [(kind.random_pool[i], rng.uniform(0.6, 1.0)) for i in chosen]
    return [
        (c.au, c.gain)
        for position, c in enumerate(kind.components)
        if (within + _GOLDEN * position) % 1.0 < c.probability
    ]


def _place_episode(
    kind: EpisodeKind,
    within: float,
    start: int,
    episode_id: int,
    canvas: np.ndarray,
    rng: np.random.Generator,
) -> tuple[Episode, np.ndarray]:
    """Draw one episode onto ``canvas`` (frames, 12); returns it and its (frames, 12) AU mask."""
    phases = tuple(int(rng.integers(lo, hi + 1)) for lo, hi in kind.phase_frames)
    apex_intensity = 1.0 + 4.0 * rng.beta(*kind.apex_beta)
    moved = np.zeros(canvas.shape, dtype=bool)
    aus = _sample_episode_aus(kind, within, rng)
    syllables = _speech_modulation(2 * sum(phases) + 8, rng) if kind.speech else None
    for position, (au, gain) in enumerate(aus):
        delay, onset, apex, offset = _au_timing(phases, position == 0, rng)
        profile = _envelope(onset, apex, offset, rng)
        if syllables is not None and au in MOUTH_AUS:
            profile = profile * syllables[2 + delay :][: len(profile)]
        peak = min(5.0, apex_intensity * gain * rng.uniform(0.85, 1.15))
        first, stop = max(0, start + delay), min(len(canvas), start + delay + len(profile))
        if stop <= first:
            continue  # this AU would start after the end of the video
        frames = slice(first, stop)
        part = profile[first - (start + delay) :][: stop - first]
        column = _AU_INDEX[au]
        canvas[frames, column] = np.maximum(canvas[frames, column], peak * part)
        moved[frames, column] = True
    onset, apex, offset = phases
    episode = Episode(
        episode_id=episode_id,
        kind=kind.name,
        emotion=kind.emotion,
        aus=tuple(au for au, _ in aus),
        start=start,
        apex_start=start + onset,
        offset_start=start + onset + apex,
        end=start + onset + apex + offset,
    )
    return episode, moved


def _resting_movement(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Slow sub-threshold twitches of every AU, (T, 12) in [0, _BASELINE_MAX)."""
    noise = rng.normal(0.0, 1.0, (num_frames + 20, len(DISFA_AUS)))
    kernel = np.hanning(15) / np.hanning(15).sum()
    smooth = np.stack([np.convolve(n, kernel, mode="same") for n in noise.T], axis=1)[10:-10]
    return np.clip(0.5 * smooth, 0.0, _BASELINE_MAX - 1e-3)


def _kind_for(draw: float) -> tuple[EpisodeKind, float]:
    """The episode kind at quantile ``draw`` of the kind weights, and where in its stratum."""
    weights = np.array([k.weight for k in EPISODE_KINDS])
    upper = np.cumsum(weights) / weights.sum()
    index = min(int(np.searchsorted(upper, draw, side="right")), len(EPISODE_KINDS) - 1)
    lower = upper[index] - weights[index] / weights.sum()
    return EPISODE_KINDS[index], float(np.clip((draw - lower) / (upper[index] - lower), 0, 0.999))


def stratified_kind_draws(seed: int, num_subjects: int, num_frames: int) -> np.ndarray:
    """Uniform draws (subjects, rounds) choosing episode kinds, stratified across subjects.

    Round ``j`` gives the ``j``-th episode of every subject one of ``num_subjects`` equal strata
    of [0, 1) in a random order, so that a data set's mix of kinds (and thus its AU rates) stays
    close to the weights even with few episodes per subject.
    """
    rng = np.random.default_rng([seed, 2, num_subjects])
    rounds = num_frames // 6 + 1  # more than the episodes a video of num_frames can hold
    strata = np.stack([rng.permutation(num_subjects) for _ in range(rounds)], axis=1)
    return (strata + rng.random((num_subjects, rounds))) / num_subjects


def sample_subject_timeline(
    rng: np.random.Generator, num_frames: int, kind_draws: np.ndarray | None = None
) -> Timeline:
    """Sample the expressions of one subject's video.

    Args:
        rng: The subject's random generator (the timeline is a pure function of its state).
        num_frames: Length of the video in frames.
        kind_draws: Uniform draws in [0, 1), one per episode, choosing the episodes' kinds (see
            :func:`stratified_kind_draws`); drawn from ``rng`` when absent or used up.

    Returns:
        The per-frame intensities, emotion labels and episode ids, and the episode records.
    """
    rest_scale = rng.uniform(0.8, 1.25)  # some subjects are more expressive than others
    canvas = np.zeros((num_frames, len(DISFA_AUS)))
    moved = np.zeros(canvas.shape, dtype=bool)
    emotions = np.full(num_frames, "neutral", dtype=object)
    episode_ids = np.zeros(num_frames, dtype=np.int64)
    episodes: list[Episode] = []
    cursor = int(rng.integers(0, 12))
    while cursor < num_frames:
        number = len(episodes)
        draws_left = kind_draws is not None and number < len(kind_draws)
        kind, within = _kind_for(kind_draws[number] if draws_left else rng.random())
        episode, episode_moved = _place_episode(kind, within, cursor, number + 1, canvas, rng)
        span = episode_moved.any(axis=1)
        visible = span & (np.where(episode_moved, canvas, 0).max(axis=1) >= VISIBLE_INTENSITY)
        episode_ids[span] = episode.episode_id
        emotions[visible] = episode.emotion
        moved |= episode_moved
        episodes.append(episode)
        last_frame = int(np.flatnonzero(span).max()) if span.any() else episode.end
        cursor = last_frame + 1 + round(rest_scale * rng.integers(2, 18))
    intensities = np.where(moved, canvas, _resting_movement(num_frames, rng))
    return Timeline(
        intensities=np.clip(intensities, 0.0, 5.0).astype(np.float32),
        emotions=emotions.astype(str),
        episode_ids=episode_ids,
        episodes=tuple(episodes),
    )


# How the conditions of a video change: fixed for the subject's session (camera, glasses),
# drifting smoothly between keyframes (head pose, framing, focus), or held for a segment and
# changing at its end (lighting, an occluding hand or bar).
_SESSION_FIELDS = ("glasses", "modality", "white_balance", "noise_sigma", "jpeg_quality")
_DRIFTING_FIELDS = ("yaw", "pitch", "roll", "scale", "shift_x", "shift_y", "blur_sigma")
SEGMENT_FRAMES = (30, 70)


def _ease(here: Nuisance, there: Nuisance, fraction: float) -> Nuisance:
    """``here`` with its drifting fields moved ``fraction`` of the way (eased) to ``there``."""
    weight = float(_smoothstep(np.asarray(fraction)))
    drift = {}
    for name in _DRIFTING_FIELDS:
        start, stop = getattr(here, name), getattr(there, name)
        drift[name] = round(start + weight * (stop - start), 3)
    return replace(here, **drift)


def sample_nuisance_track(
    rng: np.random.Generator,
    num_frames: int,
    difficulty: int,
    modality: str,
    dealt: frozenset[str] = frozenset(),
) -> list[Nuisance]:
    """Temporally smooth per-frame nuisances of one video, built from keyframe samples.

    Each segment (30-70 frames) starts at a keyframe drawn by ``sample_nuisance``; drifting
    fields ease towards the next keyframe, segment fields hold, session fields stay those of the
    first keyframe, and every frame gets its own noise seed. ``dealt`` (see
    :mod:`au.data.synthetic.dealing`) decides the glasses and forces low light or an occluder on
    one drawn segment.
    """
    bounds = [0]
    while bounds[-1] < num_frames:
        bounds.append(bounds[-1] + int(rng.integers(SEGMENT_FRAMES[0], SEGMENT_FRAMES[1] + 1)))
    forced_segment = {c: int(rng.integers(len(bounds) - 1)) for c in ("low_light", "occlusion")}
    keys = [
        sample_nuisance(
            rng, difficulty, modality, frozenset(c for c in dealt if forced_segment.get(c) == k)
        )
        for k in range(len(bounds))
    ]
    keys[0] = with_glasses(keys[0], "glasses" in dealt, rng)
    session = {name: getattr(keys[0], name) for name in _SESSION_FIELDS}
    seeds = rng.integers(2**31, size=num_frames)
    track = []
    for frame in range(num_frames):
        segment = int(np.searchsorted(bounds, frame, side="right")) - 1
        start, stop = bounds[segment], bounds[segment + 1]
        eased = _ease(keys[segment], keys[segment + 1], (frame - start) / (stop - start))
        track.append(replace(eased, **session, seed=int(seeds[frame])))
    return track


@dataclass(frozen=True)
class SubjectPlan:
    """Everything that determines one subject's video, before rendering."""

    identity: Identity
    timeline: Timeline
    nuisances: list[Nuisance]


def plan_subject(
    seed: int,
    subject_index: int,
    num_subjects: int,
    num_frames: int,
    difficulty: int,
    modality: str,
    dealt: frozenset[str] = frozenset(),
) -> SubjectPlan:
    """The video of subject ``subject_index`` of ``num_subjects``, a pure function of the args.

    Identity, expressions and conditions use independent streams, so that changing e.g. the
    difficulty keeps the same people making the same expressions. ``dealt``: the conditions
    this subject was dealt (:func:`au.data.synthetic.dealing.deal_conditions`).
    """
    streams = np.random.SeedSequence([seed, 0, subject_index]).spawn(3)
    identity_rng, timeline_rng, nuisance_rng = (np.random.default_rng(s) for s in streams)
    kind_draws = stratified_kind_draws(seed, num_subjects, num_frames)[subject_index]
    return SubjectPlan(
        identity=sample_identity(identity_rng),
        timeline=sample_subject_timeline(timeline_rng, num_frames, kind_draws),
        nuisances=sample_nuisance_track(nuisance_rng, num_frames, difficulty, modality, dealt),
    )


def sample_episode(
    kind: EpisodeKind, rng: np.random.Generator
) -> tuple[Episode, np.ndarray, np.ndarray]:
    """One episode of ``kind`` starting at frame 0, alone (for stills cut from an episode).

    Returns:
        The episode, its (L, 12) intensities and its (L, 12) mask of the AUs it moves, where L
        holds the whole episode.
    """
    length = 2 * sum(hi for _, hi in kind.phase_frames) + 8
    canvas = np.zeros((length, len(DISFA_AUS)))
    episode, moved = _place_episode(kind, float(rng.random()), 0, 1, canvas, rng)
    return episode, canvas, moved


def resting_intensities(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(T, 12) sub-threshold micro-movements of a face at rest (every code 0)."""
    return _resting_movement(num_frames, rng)
