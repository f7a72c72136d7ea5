"""Generate (or reuse) the synthetic AU set and print its statistics.

Usage::

    python -m au.data.synthetic                       # the default set, reused when present
    python -m au.data.synthetic --difficulty 3 --modality thermal --force
    python -m au.data.synthetic --preview-dir datasets/synthetic   # also write the previews
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from au.aus import DISFA_AUS
from au.data.index import read_index
from au.data.synthetic.episodes import plan_subject
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import DIFFICULTY_LEVELS
from au.data.synthetic.preview import au_intensity_sheet, label_grid
from au.data.synthetic.stats import format_statistics
from au.data.synthetic.writer import (
    MODALITIES,
    SyntheticConfig,
    dataset_folder,
    generate_synthetic,
    is_complete,
    subject_name,
)

PREVIEW_ROWS, PREVIEW_COLUMNS = 4, 6


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; defaults are those of :class:`SyntheticConfig`."""
    default = SyntheticConfig()
    parser = argparse.ArgumentParser(
        prog="python -m au.data.synthetic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--subjects", type=int, default=default.num_subjects)
    parser.add_argument("--frames", type=int, default=default.frames_per_subject)
    parser.add_argument("--size", type=int, default=default.image_size)
    parser.add_argument(
        "--difficulty", type=int, default=default.difficulty, choices=sorted(DIFFICULTY_LEVELS)
    )
    parser.add_argument("--modality", default=default.modality, choices=MODALITIES)
    parser.add_argument("--folds", type=int, default=default.num_folds)
    parser.add_argument("--jpeg-quality", type=int, default=default.jpeg_quality)
    parser.add_argument(
        "--root", type=Path, default=None, help="default: $AU_DATA_ROOT or ~/.cache/au/data"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    parser.add_argument("--preview-dir", type=Path, default=None, help="write preview PNGs here")
    return parser.parse_args(argv)


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def frame_caption(row: pd.Series) -> str:
    """``"S03 f41: 6 12 25 | low light, glasses"``: positive AUs and the frame's key nuisances."""
    present = " ".join(au[2:] for au in DISFA_AUS if row[au] >= 2) or "-"
    return f"{row['subject']} f{row['frame']}: {present} | {describe_nuisances(row)}"


def describe_nuisances(row: pd.Series) -> str:
    """The notable conditions of a frame in a few words (``"clean"`` when none)."""
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
    return ", ".join(notes) or "clean"


def sheet_subject(cfg: SyntheticConfig) -> tuple[str, Identity]:
    """The first subject without a beard (else S01), whose face shows every AU most plainly."""
    for index in range(cfg.num_subjects):
        plan = plan_subject(cfg.seed, index, cfg.num_subjects, 1, cfg.difficulty, cfg.modality)
        if plan.identity.beard == "none" or index == cfg.num_subjects - 1:
            return subject_name(index), plan.identity
    raise ValueError("the config has no subject")


def pick_preview_frames(table: pd.DataFrame, count: int, seed: int) -> np.ndarray:
    """Rows of ``count`` random frames, expressive ones (some AU >= 2) three times as likely."""
    expressive = (table[list(DISFA_AUS)] >= 2).any(axis=1).to_numpy()
    weights = np.where(expressive, 3.0, 1.0)
    count = min(count, len(table))
    rows = np.random.default_rng(seed).choice(
        len(table), count, replace=False, p=weights / weights.sum()
    )
    return np.sort(rows)


def write_previews(cfg: SyntheticConfig, folder: Path, preview_dir: Path) -> list[Path]:
    """Write one subject's AU-intensity sheet and a captioned grid of random frames."""
    _, identity = sheet_subject(cfg)
    sheet_path = preview_dir / "preview_au_intensities.png"
    _write_png(sheet_path, au_intensity_sheet(identity))
    index = read_index(folder)
    picks = pick_preview_frames(index.table, PREVIEW_ROWS * PREVIEW_COLUMNS, cfg.seed)
    paths = index.image_paths()
    images = [cv2.imread(str(paths[i]), cv2.IMREAD_UNCHANGED) for i in picks]
    images = [cv2.cvtColor(im, cv2.COLOR_BGR2RGB) if im.ndim == 3 else im for im in images]
    captions = [frame_caption(index.table.iloc[i]) for i in picks]
    frames_path = preview_dir / "preview_frames.png"
    _write_png(frames_path, label_grid(images, captions, columns=PREVIEW_COLUMNS))
    return [sheet_path, frames_path]


def main(argv: list[str] | None = None) -> Path:
    """Generate or reuse the set, print timing, folder and statistics, write previews if asked."""
    args = parse_args(argv)
    try:
        cfg = SyntheticConfig(
            seed=args.seed,
            num_subjects=args.subjects,
            frames_per_subject=args.frames,
            image_size=args.size,
            difficulty=args.difficulty,
            modality=args.modality,
            num_folds=args.folds,
            jpeg_quality=args.jpeg_quality,
        )
    except ValueError as err:
        raise SystemExit(f"python -m au.data.synthetic: error: {err}") from err
    folder = dataset_folder(cfg, args.root)
    if is_complete(folder) and not args.force:
        print(f"reusing existing data set (use --force to regenerate): {folder}")
    else:
        start = time.perf_counter()
        folder = generate_synthetic(cfg, root=args.root, workers=args.workers)
        frames = cfg.num_subjects * cfg.frames_per_subject
        print(f"generated {frames} frames in {time.perf_counter() - start:.1f} s "
              f"with {args.workers} workers: {folder}")  # fmt: skip
    print(format_statistics(read_index(folder).table, DISFA_AUS))
    if args.preview_dir is not None:
        subject, _ = sheet_subject(cfg)
        for path in write_previews(cfg, folder, args.preview_dir):
            print(f"wrote {path}")
        print(f"(the AU-intensity sheet shows subject {subject})")
    return folder


if __name__ == "__main__":
    main()
