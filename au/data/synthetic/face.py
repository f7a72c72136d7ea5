"""Face geometry: the parts every region builder fills in, the outline and the cheeks.

Everything is in face coordinates (see :mod:`au.data.synthetic.canvas`), built for the right
half of the face and mirrored. Besides polygons, the geometry carries *marks* (wrinkles and
creases drawn as semi-transparent lines) and *blobs* (soft shading: highlights and shadows added
at output resolution). Brows and eyes are built in :mod:`au.data.synthetic.upper_face`; nose,
mouth and chin in :mod:`au.data.synthetic.lower_face`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from au.data.synthetic.canvas import mirror
from au.data.synthetic.expressions import Controls
from au.data.synthetic.identity import Identity

EYE_Y = -0.055  # height of the eye axis
BROW_Y = -0.128  # height of the head of the brow
HEAD_TOP = 0.40  # from the cheekbone line up to the top of the skull


@dataclass(frozen=True)
class Mark:
    """A crease or wrinkle: a polyline drawn darker than the skin, with an opacity."""

    points: np.ndarray
    alpha: float
    width: float = 0.003
    filled: bool = False  # a small filled spot (skin texture) rather than a line


@dataclass(frozen=True)
class Blob:
    """Soft shading: a Gaussian of ``value`` (relative brightness) with ``axes`` radii."""

    center: tuple[float, float]
    axes: tuple[float, float]
    value: float


@dataclass(frozen=True)
class Eye:
    """One eye: the opening between the lids and what shows through it."""

    opening: np.ndarray
    upper_lid: np.ndarray
    lower_lid: np.ndarray
    iris: np.ndarray
    pupil: np.ndarray
    glint: np.ndarray


@dataclass
class FaceParts:
    """The drawable pieces of a face, filled in by the builders of each region."""

    outline: np.ndarray
    profile_y: np.ndarray
    profile_w: np.ndarray
    brows: list[np.ndarray] = field(default_factory=list)
    eyes: list[Eye] = field(default_factory=list)
    nostrils: list[np.ndarray] = field(default_factory=list)
    nose_lines: list[np.ndarray] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    blobs: list[Blob] = field(default_factory=list)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def strength(value: float) -> float:
    """A control clipped to the [0, 1] range of wrinkle opacities."""
    return min(max(value, 0.0), 1.0)


def mouth_line_y(identity: Identity) -> float:
    """Height of the resting lip line."""
    return identity.nose_length + identity.philtrum


def face_outline(identity: Identity, jaw_drop: float, count: int = 40) -> FaceParts:
    """The face outline; the jaw drop lowers the jaw below the mouth, lengthening the face."""
    angle = np.linspace(-np.pi / 2, np.pi / 2, count)
    cos, sin = np.cos(angle), np.sin(angle)
    power = 2.0 / (1.8 + 1.5 * identity.jaw_squareness)
    lower = sin > 0
    x = identity.face_width * np.where(lower, np.abs(cos) ** power, cos)
    y = np.where(lower, identity.face_length * np.abs(sin) ** power, HEAD_TOP * sin)
    jaw_top = mouth_line_y(identity) + 0.045
    y = y + jaw_drop * smoothstep((y - jaw_top) / (identity.face_length - jaw_top))
    right = np.stack([x, y], axis=1)
    outline = np.concatenate([right, mirror(right[::-1][1:-1])])
    return FaceParts(outline=outline, profile_y=y, profile_w=x)


def add_cheeks(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    """Cheek highlights (raised and brighter with AU6, a little with AU12) and temple shading."""
    cheek = (identity.eye_spacing + 0.012, 0.058 - controls.cheek_raise)
    for side in (1.0, -1.0):
        parts.blobs += [
            Blob((side * cheek[0], cheek[1]), (0.058, 0.042), 0.05 + controls.cheek_glow),
            Blob((side * (identity.face_width - 0.03), -0.14), (0.035, 0.08), -0.06),
        ]
    parts.blobs.append(Blob((0.0, -0.25), (0.12, 0.05), 0.05))
