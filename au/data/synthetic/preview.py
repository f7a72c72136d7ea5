"""Preview sheets of the synthetic data set: one subject's AUs by intensity, captioned grids."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from au.aus import DISFA_AUS, au_name
from au.data.synthetic.identity import Identity
from au.data.synthetic.render import render_face

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PAPER = (255, 255, 255)
_INK = (20, 20, 20)
INTENSITY_COLUMNS = (0, 1, 2, 3, 4, 5)


def au_intensity_sheet(identity: Identity, size: int = 96, shading: str = "flat") -> np.ndarray:
    """One row per AU (DISFA_AUS order), one column per intensity 0-5, all other AUs at 0.

    ``shading`` is :func:`au.data.synthetic.render.render_face`'s.

    Returns:
        uint8 RGB sheet with the AU named left of each row and intensities above the columns.
    """
    label_width, header, gap = 190, 22, 2
    width = label_width + len(INTENSITY_COLUMNS) * (size + gap)
    sheet = np.full((header + len(DISFA_AUS) * (size + gap), width, 3), _PAPER, np.uint8)
    for column, intensity in enumerate(INTENSITY_COLUMNS):
        x = label_width + column * (size + gap)
        _put_text(sheet, str(intensity), (x + size // 2 - 4, header - 6), 0.5)
    for row, au in enumerate(DISFA_AUS):
        y = header + row * (size + gap)
        _put_text(sheet, au, (6, y + size // 2 - 4), 0.5)
        _put_text(sheet, au_name(au).lower(), (6, y + size // 2 + 14), 0.4)
        for column, intensity in enumerate(INTENSITY_COLUMNS):
            levels = np.zeros(len(DISFA_AUS))
            levels[row] = intensity
            x = label_width + column * (size + gap)
            face = render_face(identity, levels, size=size, shading=shading)
            sheet[y : y + size, x : x + size] = face
    return sheet


def label_grid(images: list[np.ndarray], captions: list[str], columns: int) -> np.ndarray:
    """Tile images (same size, RGB or single-channel shown as grey) with a caption under each.

    Raises:
        ValueError: If there are no images, or captions and images differ in number.
    """
    if not images or len(images) != len(captions):
        raise ValueError(
            f"label_grid needs one caption per image, got {len(images)} images and "
            f"{len(captions)} captions"
        )
    tiles = [_as_rgb(image) for image in images]
    height, width = tiles[0].shape[:2]
    scale = max(0.3, min(0.45, width / 300))
    caption_lines = [_wrap(caption, width, scale) for caption in captions]
    caption_height = 4 + 14 * max(len(lines) for lines in caption_lines)
    rows = -(-len(tiles) // columns)
    cell_h, cell_w = height + caption_height, width + 4
    grid = np.full((rows * cell_h, columns * cell_w, 3), _PAPER, np.uint8)
    for index, (tile, lines) in enumerate(zip(tiles, caption_lines, strict=True)):
        y, x = (index // columns) * cell_h, (index % columns) * cell_w
        grid[y : y + height, x : x + width] = tile
        for k, line in enumerate(lines):
            _put_text(grid, line, (x + 2, y + height + 12 + 14 * k), scale)
    return grid


def frame_caption(row: pd.Series, size: int = 0) -> str:
    """``"S03 f41: 6 12 25 | low light, glasses"``: positive AUs and the frame's key nuisances.

    A still (a row with a ``phase``) shows its emotion and phase instead of the frame number:
    ``"S0012 fear/onset: 1 2 4 | yaw +20, 30 px"``.
    """
    present = " ".join(au[2:] for au in DISFA_AUS if row[au] >= 2) or "-"
    where = f"f{row['frame']}"
    if "phase" in row:
        where = row["emotion"] if row["phase"] == "neutral" else f"{row['emotion']}/{row['phase']}"
    return f"{row['subject']} {where}: {present} | {describe_nuisances(row, size)}"


def describe_nuisances(row: pd.Series, size: int = 0) -> str:
    """The notable conditions of a frame in a few words (``"clean"`` when none).

    ``size``: the image side, to show a still whose ``resolution`` was reduced below it.
    """
    notes = ["low light"] if row.get("low_light", 0) else []
    if row.get("glasses", "none") != "none":
        notes.append(f"{row['glasses']} glasses")
    if row.get("occlusion", "none") != "none":
        notes.append(f"{row['occlusion']} occludes")
    for angle, limit in (("yaw", 12), ("pitch", 10), ("roll", 10)):
        if abs(row.get(angle, 0.0)) >= limit:
            notes.append(f"{angle} {row[angle]:+.0f}")
    if row.get("blur_sigma", 0.0) >= 0.6:
        notes.append("blur")
    if 0 < row.get("resolution", 0) < size:
        notes.append(f"{row['resolution']} px")
    return ", ".join(notes) or "clean"


def posed_preview_rows(table: pd.DataFrame, subjects: int) -> np.ndarray:
    """Rows of the first ``subjects`` identities: neutral, then each emotion's apex (a sheet)."""
    order = ["neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust"]
    rows = []
    for subject in sorted(table["subject"].unique())[:subjects]:
        frames = table[(table["subject"] == subject) & table["phase"].isin(["neutral", "apex"])]
        rank = frames["emotion"].map({e: i for i, e in enumerate(order)})
        rows.extend(frames.index[np.argsort(rank.to_numpy(), kind="stable")])
    return np.array(rows, dtype=np.int64)


def enlarged(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` with every pixel shown as a ``factor`` x ``factor`` block (no smoothing)."""
    height, width = image.shape[:2]
    return cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_NEAREST)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2RGB)
    return image


def _wrap(text: str, width: int, scale: float) -> list[str]:
    """Split ``text`` into lines that fit ``width`` pixels."""
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if cv2.getTextSize(candidate, _FONT, scale, 1)[0][0] <= width - 4 or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    return [*lines, current] if current else lines or [""]


def _put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    cv2.putText(image, text, origin, _FONT, scale, _INK, 1, cv2.LINE_AA)
