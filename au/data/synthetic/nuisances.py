"""Per-frame nuisances: lighting, glasses, head pose, occlusion, sensor and modality.

A :class:`Nuisance` records everything about a frame that is not the subject or the AUs, so the
generator can write it to the index CSV (:func:`nuisance_record`) and a frame can be rendered
again from its row (:func:`nuisance_from_record`). Rendering is a pure function of its arguments:
the only randomness (sensor noise, colours of props) comes from ``Nuisance.seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

MODALITIES = ("rgb", "gray", "thermal")
GLASSES = ("none", "round", "rectangular")
OCCLUDERS = ("none", "bar", "hand")

#: What each difficulty level of :func:`sample_nuisance` does.
DIFFICULTY_LEVELS: dict[int, str] = {
    0: "clean: frontal, centred, evenly lit, no glasses, occlusion, noise, blur or JPEG",
    1: "mild: small pose/scale jitter (yaw sd 4 deg), slight light changes, 8% glasses, "
    "light noise, JPEG q85-95",
    2: "moderate (default): yaw sd 9, roll sd 5 deg, 15% low light, side light, 20% glasses, "
    "8% occluded, noise, blur, JPEG q60-95",
    3: "hard: yaw sd 16, pitch sd 9, roll sd 11 deg, 35% low light, strong side light, "
    "35% glasses, 30% occluded, heavy noise and blur, JPEG q25-80",
}

# Per level: pose sd (yaw, pitch, roll in degrees), scale range, max shift, low-light chance,
# side-light contrast, white-balance range, glasses chance, occlusion chance, noise sigma range,
# blur sigma range (pixels of a 128-px image), JPEG quality range.
_LEVELS = {
    1: dict(pose=(4, 3, 3), scale=(0.96, 1.04), shift=0.015, low=0.03, contrast=(0.0, 0.2),
            balance=0.3, glasses=0.08, occlusion=0.0, noise=(0.0, 2.0), blur=(0.0, 0.4),
            jpeg=(85, 95)),
    2: dict(pose=(9, 6, 5), scale=(0.9, 1.07), shift=0.035, low=0.15, contrast=(0.0, 0.4),
            balance=0.6, glasses=0.2, occlusion=0.08, noise=(0.5, 4.0), blur=(0.0, 0.8),
            jpeg=(60, 95)),
    3: dict(pose=(16, 9, 11), scale=(0.8, 1.1), shift=0.07, low=0.35, contrast=(0.1, 0.6),
            balance=1.0, glasses=0.35, occlusion=0.3, noise=(2.0, 9.0), blur=(0.0, 1.6),
            jpeg=(25, 80)),
}  # fmt: skip


@dataclass(frozen=True)
class Nuisance:
    """The conditions of one frame. The defaults are a clean, frontal, well-lit RGB face.

    Angles are in degrees: positive ``yaw`` turns the face towards the image's right, positive
    ``pitch`` tilts it down, positive ``roll`` turns it clockwise; ``light_angle`` is the
    direction the light comes from, counter-clockwise from the image's right (90 = from above).
    ``scale`` multiplies the face size and ``shift_x``/``shift_y`` move it, in image widths. The
    occluder's position and size are in face units (see :mod:`au.data.synthetic.canvas`).
    ``jpeg_quality`` 0 means no JPEG; ``seed`` drives the sensor noise.
    """

    light_level: float = 1.0  # overall brightness; below 0.5 is low light
    light_angle: float = 100.0
    light_contrast: float = 0.12  # strength of the side lighting
    white_balance: float = 0.0  # -1 cool (blue) ... 1 warm (orange)
    glasses: str = "none"
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    occlusion: str = "none"
    occlusion_x: float = 0.0
    occlusion_y: float = 0.0
    occlusion_size: float = 0.0  # 0 small ... 1 large
    occlusion_angle: float = 0.0  # where a hand's fingers point (-90 = up); a bar's direction
    noise_sigma: float = 0.0  # Gaussian sensor noise, grey levels
    blur_sigma: float = 0.0  # Gaussian blur, pixels of a 128-px image
    jpeg_quality: int = 0
    modality: str = "rgb"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, allowed in (
            ("modality", MODALITIES),
            ("glasses", GLASSES),
            ("occlusion", OCCLUDERS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Nuisance.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )

    @property
    def low_light(self) -> bool:
        """Whether the frame counts as low light."""
        return self.light_level < 0.5


def condition_chance(difficulty: int, condition: str) -> float:
    """The chance of ``condition`` (glasses, low_light, occlusion) in :func:`sample_nuisance`."""
    if difficulty == 0:
        return 0.0
    key = {"glasses": "glasses", "low_light": "low", "occlusion": "occlusion"}[condition]
    return float(_LEVELS[difficulty][key])


def sample_nuisance(
    rng: np.random.Generator,
    difficulty: int,
    modality: str = "rgb",
    force: frozenset[str] = frozenset(),
) -> Nuisance:
    """Draw the conditions of one frame at a difficulty level (see :data:`DIFFICULTY_LEVELS`).

    ``force`` makes ``low_light`` or ``occlusion`` happen whatever the draw says; an unforced
    frame is drawn exactly as without it.

    Raises:
        ValueError: If ``difficulty`` is not a known level or ``modality`` not a modality.
    """
    if difficulty not in DIFFICULTY_LEVELS:
        raise ValueError(f"difficulty must be one of {sorted(DIFFICULTY_LEVELS)}, got {difficulty}")
    if difficulty == 0:
        return Nuisance(modality=modality)
    level = _LEVELS[difficulty]
    yaw_sd, pitch_sd, roll_sd = level["pose"]
    low = rng.uniform() < level["low"] or "low_light" in force
    occluded = rng.uniform() < level["occlusion"] or "occlusion" in force
    occluder = str(rng.choice(OCCLUDERS[1:])) if occluded else "none"
    has_glasses = rng.uniform() < level["glasses"]
    return Nuisance(
        light_level=_round(rng.uniform(0.22, 0.45) if low else rng.uniform(0.78, 1.15)),
        light_angle=_round(rng.uniform(0.0, 360.0), 1),
        light_contrast=_round(rng.uniform(*level["contrast"])),
        white_balance=_round(rng.uniform(-1.0, 1.0) * level["balance"]),
        glasses=str(rng.choice(GLASSES[1:])) if has_glasses else "none",
        yaw=_round(_clipped_normal(rng, yaw_sd), 2),
        pitch=_round(_clipped_normal(rng, pitch_sd), 2),
        roll=_round(_clipped_normal(rng, roll_sd), 2),
        scale=_round(rng.uniform(*level["scale"])),
        shift_x=_round(rng.uniform(-1, 1) * level["shift"]),
        shift_y=_round(rng.uniform(-1, 1) * level["shift"]),
        **_sample_occlusion(rng, occluder),
        noise_sigma=_round(rng.uniform(*level["noise"]) * (1.5 if low else 1.0), 2),
        blur_sigma=_round(rng.uniform(*level["blur"]), 2),
        jpeg_quality=int(rng.integers(level["jpeg"][0], level["jpeg"][1] + 1)),
        modality=modality,
        seed=int(rng.integers(2**31)),
    )


def _sample_occlusion(rng: np.random.Generator, occluder: str) -> dict[str, float | str]:
    if occluder == "none":
        return {"occlusion": "none"}
    return {
        "occlusion": occluder,
        "occlusion_x": _round(rng.uniform(-0.2, 0.2)),
        "occlusion_y": _round(rng.uniform(-0.12, 0.32)),
        "occlusion_size": _round(rng.uniform(0.0, 1.0)),
        "occlusion_angle": _round(rng.uniform(-160.0, -20.0), 1),
    }


def with_glasses(nuisance: Nuisance, wears: bool, rng: np.random.Generator) -> Nuisance:
    """``nuisance`` with glasses of a drawn style if ``wears``, else without (dealt glasses)."""
    style = str(rng.choice(GLASSES[1:]))
    return replace(nuisance, glasses=style if wears else "none")


def nuisance_record(nuisance: Nuisance) -> dict[str, float | str | int]:
    """Flat columns for the index CSV: every field, plus ``low_light`` (0/1).

    Floats are stored as sampled (already rounded), so :func:`nuisance_from_record` rebuilds the
    exact frame.
    """
    record: dict[str, float | str | int] = asdict(nuisance)
    record["low_light"] = int(nuisance.low_light)
    record["nuisance_seed"] = record.pop("seed")
    return record


def nuisance_from_record(record: dict[str, float | str | int]) -> Nuisance:
    """The Nuisance written as ``record`` by :func:`nuisance_record` (extra keys ignored)."""
    values = {"seed": record["nuisance_seed"]}
    for item in fields(Nuisance):
        if item.name in record:
            values[item.name] = record[item.name]
    kinds = {item.name: type(item.default) for item in fields(Nuisance)}
    return Nuisance(**{name: kinds[name](value) for name, value in values.items()})


def _clipped_normal(rng: np.random.Generator, sd: float) -> float:
    return float(np.clip(rng.normal(0.0, sd), -2.5 * sd, 2.5 * sd))


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)
