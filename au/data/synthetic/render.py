"""Render one synthetic face: an identity showing AU intensities under a frame's nuisances.

Shapes are drawn flat and anti-aliased at ``size * supersample`` pixels, downsampled with area
averaging, then shaded and lit at the output size (see :mod:`au.data.synthetic.appearance`),
occluded, and passed through the sensor (blur, noise, JPEG). Rendering is a pure function of its
arguments: the same call returns the same bytes.
"""

from __future__ import annotations

import cv2
import numpy as np

from au.data.synthetic import head
from au.data.synthetic.appearance import FacePlane, Palette, lit, roundness, warmed
from au.data.synthetic.canvas import FRAME_CENTER_Y, FRAME_ZOOM, Canvas, HeadProjector, Pose
from au.data.synthetic.expressions import expression_controls
from au.data.synthetic.face import FaceParts, add_cheeks, face_outline
from au.data.synthetic.identity import Identity
from au.data.synthetic.lower_face import Mouth, add_chin, add_nose, build_mouth
from au.data.synthetic.nuisances import Nuisance
from au.data.synthetic.props import apply_sensor, draw_glasses, draw_occluder
from au.data.synthetic.relief import (
    SHADINGS,
    face_points,
    mixed_relief_weight,
    relief_light,
    sample_grid,
)
from au.data.synthetic.upper_face import add_brows, add_eyes

# Face regions in face coordinates (x0, y0, x1, y1); they hold every identity's features.
_FACE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "brows": (-0.25, -0.29, 0.25, -0.085),  # brows, forehead lines, furrows between the brows
    "eyes": (-0.27, -0.125, 0.27, 0.0),  # lids, crow's feet, the fold under the eyes
    "nose": (-0.12, -0.07, 0.12, 0.16),
    "cheeks": (-0.30, -0.06, 0.30, 0.20),  # cheek bulges and nasolabial folds
    "mouth": (-0.20, 0.12, 0.20, 0.31),
    "chin": (-0.31, 0.20, 0.31, 0.50),  # chin boss, jaw line and the shadow under it
}


def _image_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    corners = [
        0.5 + FRAME_ZOOM * x0,
        FRAME_CENTER_Y + FRAME_ZOOM * y0,
        0.5 + FRAME_ZOOM * x1,
        FRAME_CENTER_Y + FRAME_ZOOM * y1,
    ]
    return tuple(round(min(max(c, 0.0), 1.0), 3) for c in corners)


#: Face regions as normalized (x0, y0, x1, y1) image boxes of the clean frontal face.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    name: _image_box(box) for name, box in _FACE_BOXES.items()
}

#: The regions each AU changes; pixels outside their union stay (almost) the same.
AU_REGIONS: dict[str, tuple[str, ...]] = {
    "AU1": ("brows",),
    "AU2": ("brows",),
    "AU4": ("brows", "eyes"),
    "AU5": ("eyes",),
    "AU6": ("eyes", "cheeks"),
    "AU9": ("nose", "mouth"),
    "AU12": ("mouth", "cheeks"),
    "AU15": ("mouth", "chin"),
    "AU17": ("mouth", "chin"),
    "AU20": ("mouth",),
    "AU25": ("mouth",),
    "AU26": ("mouth", "chin"),
}

_CLEAN = Nuisance()


def render_face(
    identity: Identity,
    intensities: np.ndarray,
    nuisance: Nuisance | None = None,
    size: int = 128,
    supersample: int = 4,
    shading: str = "flat",
) -> np.ndarray:
    """Render a face.

    Args:
        identity: The subject.
        intensities: AU intensities (12,) in [0, 5], in the order of ``au.aus.DISFA_AUS``.
        nuisance: The frame's conditions; None for a clean, frontal, well-lit RGB face.
        size: Output width and height in pixels.
        supersample: Drawing resolution factor (anti-aliasing).
        shading: ``flat`` (2D highlights and a darker rim), ``relief`` (a height map lit in
            3D, :mod:`au.data.synthetic.relief`) or
            ``mixed`` (a blend of the two whose share of relief each frame draws from its
            nuisance seed: the rendering style itself randomized).

    Returns:
        uint8 RGB (size, size, 3) for modality "rgb", uint8 (size, size) for "gray" and
        "thermal".
    """
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {list(SHADINGS)}, got {shading!r}")
    nuisance = nuisance or _CLEAN
    parts, mouth = _face_geometry(identity, intensities)
    pose = Pose(nuisance.yaw, nuisance.pitch, nuisance.roll, nuisance.scale, nuisance.shift_x,
                nuisance.shift_y)  # fmt: skip
    projector = HeadProjector(pose, parts.profile_y, parts.profile_w)
    thermal = nuisance.modality == "thermal"
    backdrop = head.backdrop(identity, thermal, size * supersample)
    palette = backdrop.palette
    canvas = Canvas(backdrop.background.copy(), projector)
    _draw_head(canvas, identity, backdrop, parts)
    _draw_features(canvas, parts, mouth, palette)
    for hair in backdrop.hair_front:  # one by one: overlapping polygons in one call make holes
        canvas.fill([hair], palette.hair, surface=False)
    if backdrop.strands:
        canvas.stroke(backdrop.strands, palette.strand, 0.004, surface=False, alpha=0.3)
    draw_glasses(canvas, identity, nuisance, thermal)
    small = cv2.resize(canvas.flush(), (size, size), interpolation=cv2.INTER_AREA)
    return _finish(small, identity, backdrop, parts, projector, nuisance, shading)


def _face_geometry(identity: Identity, intensities: np.ndarray) -> tuple[FaceParts, Mouth]:
    """The identity's face showing ``intensities`` on top of its resting face."""
    controls = expression_controls(intensities, identity.resting_aus)
    parts = face_outline(identity, controls.jaw_drop)
    add_brows(parts, identity, controls)
    add_eyes(parts, identity, controls)
    add_nose(parts, identity, controls)
    add_cheeks(parts, identity, controls)
    mouth = build_mouth(parts, identity, controls)
    add_chin(parts, identity, controls)
    return parts, mouth


def _finish(
    small: np.ndarray,
    identity: Identity,
    backdrop: head.Backdrop,
    parts: FaceParts,
    projector: HeadProjector,
    nuisance: Nuisance,
    shading: str,
) -> np.ndarray:
    """Occlude, shade, light and pass through the sensor."""
    size = small.shape[0]
    thermal = nuisance.modality == "thermal"
    mask = _skin_mask(backdrop, parts, projector, size)
    if identity.beard == "stubble":
        small = _stubble(small, identity, backdrop.palette, parts, projector)
    if nuisance.occlusion != "none":
        for target, stencil in ((small, False), (mask, True)):
            canvas = Canvas(target, projector)
            draw_occluder(canvas, identity, nuisance, thermal, stencil=stencil)
            canvas.flush()
    skin = mask.astype(np.float32) * np.float32(1.0 / 255.0)
    plane = FacePlane(projector, size)
    blobs = plane.blobs(parts.blobs)  # unrolled, as every field until lit() rolls them
    if thermal:
        image = warmed(small, identity, plane, skin, blobs + roundness(identity, plane))
    else:
        fixed = {"flat": 0.0, "relief": 1.0}
        weight = fixed[shading] if shading in fixed else mixed_relief_weight(nuisance)
        image = 0.0
        if weight < 1.0:
            flat = lit(small, blobs + roundness(identity, plane), skin, plane, identity, nuisance)
            image = image + np.float32(1.0 - weight) * flat
        if weight > 0.0:
            u, v = np.broadcast_arrays(plane.u, plane.v)
            face_x, face_y = face_points(projector, u, v)
            grid = relief_light(identity, parts, projector, nuisance)
            face_light = sample_grid(grid, face_x, face_y)
            relief = lit(small, blobs, skin, plane, identity, nuisance, face_light)
            image = image + np.float32(weight) * relief
    if nuisance.modality == "gray":
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return apply_sensor(image, nuisance)


def _stubble(
    small: np.ndarray,
    identity: Identity,
    palette: Palette,
    parts: FaceParts,
    projector: HeadProjector,
) -> np.ndarray:
    """Darken the beard area softly towards the beard colour (uint8 in, uint8 out)."""
    size = small.shape[0]
    points, on_outline = head.beard(identity, parts.outline)
    canvas = Canvas(np.zeros((size, size), np.uint8), projector)
    canvas.fill([points], (255, 255, 255), surface=~on_outline)
    cover = cv2.GaussianBlur(canvas.flush(), (0, 0), 2.0 * size / 128).astype(np.float32)
    cover *= np.float32(0.3 / 255.0)
    if small.ndim == 3:
        cover = cover[..., None]
    channels = small.shape[2] if small.ndim == 3 else 1
    skin, beard = (np.asarray(c[:channels], np.float32) for c in (palette.skin, palette.beard))
    color = np.minimum(beard, 0.75 * skin)  # stubble always darkens
    return (small * (1.0 - cover) + color * cover + 0.5).astype(np.uint8)


def _skin_mask(
    backdrop: head.Backdrop, parts: FaceParts, projector: HeadProjector, size: int
) -> np.ndarray:
    """Where shading applies (face and neck, not hair), uint8 (size, size)."""
    canvas = Canvas(np.zeros((size, size), np.uint8), projector)
    canvas.fill([backdrop.neck], (255, 255, 255), surface=False)
    canvas.fill([parts.outline], (255, 255, 255), surface=False)
    for hair in backdrop.hair_front:
        canvas.fill([hair], (0, 0, 0), surface=False)
    return canvas.flush()


def _draw_head(
    canvas: Canvas, identity: Identity, backdrop: head.Backdrop, parts: FaceParts
) -> None:
    palette = backdrop.palette
    if backdrop.hair_back is not None:
        canvas.fill([backdrop.hair_back], palette.hair, surface=False)
    canvas.fill([backdrop.shirt], palette.shirt, surface=False)
    canvas.fill([backdrop.neck], palette.neck, surface=False)
    canvas.fill(backdrop.ears, palette.skin, surface=False)
    canvas.stroke(backdrop.ear_curves, palette.ear_inner, 0.004, surface=False)
    canvas.fill([parts.outline], palette.skin, surface=False)
    if identity.beard == "full":
        points, on_outline = head.beard(identity, parts.outline)
        canvas.fill([points], palette.beard, surface=~on_outline, alpha=0.92)


def _draw_features(canvas: Canvas, parts: FaceParts, mouth: Mouth, palette: Palette) -> None:
    """Eyes, brows, nose, mouth, then the wrinkles over them."""
    for eye in parts.eyes:
        canvas.fill([eye.opening], palette.sclera)
        canvas.fill([eye.iris], palette.iris)
        canvas.fill([eye.pupil], palette.pupil)
        canvas.fill([eye.glint], palette.glint, alpha=0.85)
    canvas.stroke([e.upper_lid for e in parts.eyes], palette.lash, 0.0055)
    canvas.stroke([e.lower_lid for e in parts.eyes], palette.crease, 0.0025, alpha=0.6)
    canvas.fill(parts.brows, palette.brow, alpha=0.93)
    canvas.stroke(parts.nose_lines, palette.crease, 0.0035, alpha=0.45)
    canvas.fill(parts.nostrils, palette.nostril)
    canvas.fill([mouth.upper_lip], palette.lips)
    canvas.fill([mouth.lower_lip], palette.lips)
    if mouth.opening is not None:
        canvas.fill([mouth.opening], palette.mouth)
        canvas.fill(mouth.teeth, palette.teeth)
    canvas.stroke([mouth.lip_line], palette.lip_line, 0.003, alpha=0.8)
    _draw_marks(canvas, parts, palette)


def _draw_marks(canvas: Canvas, parts: FaceParts, palette: Palette) -> None:
    """Wrinkles and creases, batched by look so each batch is one blend."""
    batches: dict[tuple[float, float, bool], list[np.ndarray]] = {}
    for mark in parts.marks:
        alpha = round(min(mark.alpha, 1.0) * 40) / 40  # fewer distinct opacities, fewer blends
        if alpha > 0.0:
            batches.setdefault((alpha, mark.width, mark.filled), []).append(mark.points)
    for (alpha, width, filled), shapes in batches.items():
        if filled:
            canvas.fill(shapes, palette.crease, alpha=alpha)
        else:
            canvas.stroke(shapes, palette.crease, width, alpha=alpha)
