"""Where face points land on the image (head pose), and anti-aliased drawing in face coordinates.

Face coordinates are in face units, x to the right and y down from the cheekbone line on the
midline; the face spans roughly x in [-0.33, 0.33] and y in [-0.40, 0.45] and the frontal face
fills the image (one unit is :data:`FRAME_ZOOM` image widths). A :class:`HeadProjector` maps them to
pixels through a 2D approximation of head pose: each point on the face gets a depth from a
rounded head model, yaw and pitch turn that head (features slide sideways or up/down and the far
side compresses), then roll, scale and shift act in the image plane. A :class:`Canvas` draws
polygons and lines through a projector with OpenCV's anti-aliasing and sub-pixel coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

SUBPIXEL_BITS = 4
_SUBPIXEL = 1 << SUBPIXEL_BITS
#: Depth of the head at the centre of a horizontal slice, as a fraction of the slice half-width.
DEPTH_RATIO = 0.8
#: How the frontal face is framed: magnification, and the image height of the face origin.
FRAME_ZOOM = 1.1
FRAME_CENTER_Y = 0.47

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees and image units (scale 1 and shift 0 put the face in the centre)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0


class HeadProjector:
    """Maps face coordinates to normalized image coordinates for one pose and face outline.

    Args:
        pose: The head pose.
        profile_y: Increasing heights of the right half of the face outline.
        profile_w: Half-widths of the face at those heights (the depth model follows them).
    """

    def __init__(self, pose: Pose, profile_y: np.ndarray, profile_w: np.ndarray) -> None:
        self.pose = pose
        self.profile_y, self.profile_w = profile_y, profile_w
        yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
        self._yaw = (math.cos(yaw), math.sin(yaw))
        self._pitch = (math.cos(pitch), math.sin(pitch))
        self._roll = (math.cos(roll), math.sin(roll))
        # A turned ellipsoid keeps a silhouette this much narrower (or shorter).
        self._silhouette = (
            math.hypot(self._yaw[0], DEPTH_RATIO * self._yaw[1]),
            math.hypot(self._pitch[0], DEPTH_RATIO * self._pitch[1]),
        )
        self.frontal = pose.yaw == 0.0 and pose.pitch == 0.0
        self.zoom = float(pose.scale) * FRAME_ZOOM  # image widths per face unit

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Depth towards the viewer of face points: a rounded head plus the nose."""
        half_width = np.interp(y, self.profile_y, self.profile_w)
        taper = np.sqrt(np.clip(1.0 - (y / 0.5) ** 2, 0.0, 1.0))
        head = DEPTH_RATIO * np.sqrt(np.clip(half_width**2 - x**2, 0.0, None)) * taper
        nose = 0.05 * np.exp(-((x / 0.03) ** 2) - ((y - 0.06) / 0.07) ** 2)
        return head + nose

    def __call__(
        self, points: np.ndarray, surface: bool | np.ndarray = True, lift: float | np.ndarray = 0.0
    ) -> np.ndarray:
        """Project ``points`` (N, 2) to normalized image coordinates (N, 2).

        Args:
            points: Face coordinates.
            surface: True for points on the face (they follow the head's depth); False for the
                silhouette, hair and things beside the head, which only shrink with the turn; or
                a boolean array (N,) choosing per point.
            lift: Extra depth (or one per point), e.g. for glasses in front of the face.
        """
        x, y = self._turn(points[:, 0], points[:, 1], surface, lift)
        cr, sr = self._roll
        u = (x * cr - y * sr) * self.zoom + self.pose.shift_x + 0.5
        v = (x * sr + y * cr) * self.zoom + self.pose.shift_y + FRAME_CENTER_Y
        return np.stack([u, v], axis=1)

    def _turn(
        self, x: np.ndarray, y: np.ndarray, surface: bool | np.ndarray, lift: float | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply yaw and pitch."""
        if self.frontal:
            return x, y
        outline = (x * self._silhouette[0], y * self._silhouette[1])
        if surface is False or (isinstance(surface, np.ndarray) and not surface.any()):
            return outline
        turned_x, turned_y, _ = self.rotate(x, y, self.depth(x, y) + lift)
        turned = (turned_x, turned_y)
        if surface is True or surface.all():
            return turned
        return np.where(surface, turned[0], outline[0]), np.where(surface, turned[1], outline[1])

    def rotate(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectors (x right, y down, z towards the viewer) turned by yaw, then pitch."""
        (cy, sy), (cp, sp) = self._yaw, self._pitch
        x, z = x * cy + z * sy, z * cy - x * sy
        y, z = y * cp + z * sp, z * cp - y * sp
        return x, y, z

    def to_face_plane(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undo shift, roll and scale: normalized image coordinates to face-aligned ones."""
        cr, sr = self._roll
        du = (u - 0.5 - self.pose.shift_x) / self.zoom
        dv = (v - FRAME_CENTER_Y - self.pose.shift_y) / self.zoom
        return du * cr + dv * sr, -du * sr + dv * cr


@dataclass(frozen=True)
class _Command:
    """One recorded drawing call: what to draw and the points it needs projected."""

    shapes: list[np.ndarray]
    color: Color
    alpha: float
    surface: bool | np.ndarray
    lift: float
    thickness: int  # 0 fills, otherwise the line width in pixels
    closed: bool = False


class Canvas:
    """An image (H, W, C) or (H, W) uint8 drawn on in face coordinates, anti-aliased.

    Calls are recorded and run by :meth:`flush`, which projects the points of all of them at
    once (projecting is the costly part in Python).

    Args:
        image: The pixels, modified in place by :meth:`flush`.
        projector: Where face points land.
    """

    def __init__(self, image: np.ndarray, projector: HeadProjector) -> None:
        self.image = image
        self.projector = projector
        self.size = image.shape[1]
        self._commands: list[_Command] = []

    def pixel_width(self, width: float) -> int:
        """A line width in face units as whole pixels (at least one)."""
        return max(1, round(width * self.size * self.projector.zoom))

    def fill(
        self,
        polygons: Sequence[np.ndarray],
        color: Color,
        surface: bool | np.ndarray = True,
        lift: float = 0.0,
        alpha: float = 1.0,
    ) -> None:
        """Fill polygons (a list of (N, 2) arrays; where they overlap they make holes).

        Args:
            polygons: Face-coordinate outlines.
            color: RGB (or a grey level repeated) 0-255.
            surface: True for points on the face, False for the silhouette (see
                :class:`HeadProjector`), or a per-point mask when there is one polygon.
            lift: Extra depth towards the viewer.
            alpha: Opacity.
        """
        self._commands.append(_Command(list(polygons), color, alpha, surface, lift, 0))

    def stroke(
        self,
        lines: Sequence[np.ndarray],
        color: Color,
        width: float,
        surface: bool | np.ndarray = True,
        closed: bool = False,
        lift: float = 0.0,
        alpha: float = 1.0,
    ) -> None:
        """Draw polylines ``width`` face units wide (other arguments as in :meth:`fill`)."""
        thickness = self.pixel_width(width)
        self._commands.append(_Command(list(lines), color, alpha, surface, lift, thickness, closed))

    def flush(self) -> np.ndarray:
        """Project every recorded shape in one go, draw them in order, return the image."""
        shapes = [shape for command in self._commands for shape in command.shapes]
        if not shapes:
            return self.image
        lengths = [len(shape) for shape in shapes]
        surface, lift = True, 0.0
        if not self.projector.frontal:  # yaw and pitch need to know what is on the face
            surface = _per_point([c.surface for c in self._commands for _ in c.shapes], lengths)
            lift = np.repeat([c.lift for c in self._commands for _ in c.shapes], lengths)
        pixels = self.projector(np.concatenate(shapes), surface, lift) * (self.size * _SUBPIXEL)
        pixels = np.round(pixels).astype(np.int32)
        ends = np.cumsum(lengths).tolist()
        fixed = [pixels[end - length : end] for end, length in zip(ends, lengths, strict=True)]
        start = 0
        for command in self._commands:
            stop = start + len(command.shapes)
            self._draw(command, fixed[start:stop])
            start = stop
        self._commands.clear()
        return self.image

    def _draw(self, command: _Command, fixed: list[np.ndarray]) -> None:
        if command.alpha >= 1.0:
            _rasterize(self.image, command, fixed)
            return
        corners = np.concatenate(fixed) >> SUBPIXEL_BITS
        pad = command.thickness + 2
        height, width = self.image.shape[:2]
        x0, y0 = np.maximum(corners.min(axis=0) - pad, 0)
        x1, y1 = np.minimum(corners.max(axis=0) + pad + 1, (width, height))
        if x1 <= x0 or y1 <= y0:
            return
        region = self.image[y0:y1, x0:x1]
        layer = region.copy()
        offset = np.array([x0, y0], dtype=np.int32) << SUBPIXEL_BITS
        _rasterize(layer, command, [p - offset for p in fixed])
        alpha = command.alpha
        self.image[y0:y1, x0:x1] = cv2.addWeighted(layer, alpha, region, 1.0 - alpha, 0.0)


def _rasterize(image: np.ndarray, command: _Command, fixed: list[np.ndarray]) -> None:
    if command.thickness == 0:
        cv2.fillPoly(image, fixed, command.color, cv2.LINE_AA, SUBPIXEL_BITS)
    else:
        cv2.polylines(
            image,
            fixed,
            command.closed,
            command.color,
            command.thickness,
            cv2.LINE_AA,
            SUBPIXEL_BITS,
        )


def _per_point(surfaces: list[bool | np.ndarray], lengths: list[int]) -> np.ndarray:
    """One surface flag per point from flags or masks given per shape."""
    if not any(isinstance(surface, np.ndarray) for surface in surfaces):
        return np.repeat(np.array(surfaces, dtype=bool), lengths)
    return np.concatenate(
        [
            surface if isinstance(surface, np.ndarray) else np.full(length, surface)
            for surface, length in zip(surfaces, lengths, strict=True)
        ]
    )


def ellipse(
    center: tuple[float, float], axes: tuple[float, float], angle: float = 0.0, count: int = 24
) -> np.ndarray:
    """Points (count, 2) on an ellipse; ``angle`` in degrees."""
    cos, sin = _unit_circle(count)
    x, y = axes[0] * cos, axes[1] * sin
    if angle:
        rad = math.radians(angle)
        ca, sa = math.cos(rad), math.sin(rad)
        x, y = x * ca - y * sa, x * sa + y * ca
    return np.stack([center[0] + x, center[1] + y], axis=1)


@lru_cache(maxsize=16)
def _unit_circle(count: int) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    return np.cos(theta), np.sin(theta)


def mirror(points: np.ndarray) -> np.ndarray:
    """The left-right mirror image of face points (faces are symmetric about x = 0)."""
    return points * np.array([-1.0, 1.0])


def bezier(start: np.ndarray, control: np.ndarray, end: np.ndarray, count: int = 12) -> np.ndarray:
    """Points (count, 2) on a quadratic Bezier curve."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
