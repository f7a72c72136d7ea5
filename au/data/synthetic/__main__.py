"""Generate (or reuse) a synthetic AU set and print its statistics.

Usage::

    python -m au.data.synthetic                       # the default set, reused when present
    python -m au.data.synthetic --difficulty 3 --modality thermal --force
    python -m au.data.synthetic --preview-dir datasets/synthetic   # also write the previews
    python -m au.data.synthetic --regime posed        # CK+-like posed stills (data=synthetic_posed)
    python -m au.data.synthetic --regime wild         # FER-like wild stills (data=synthetic_wild)

Regimes: video (DISFA-like videos, the default), posed (100 identities x a neutral frame and 9
posed apex frames, 64 px gray), wild (2400 identities x 1 still, 48 px gray, varied conditions
and resolution). Unset options take the regime's defaults.
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
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import DIFFICULTY_LEVELS
from au.data.synthetic.preview import (
    au_intensity_sheet,
    enlarged,
    frame_caption,
    label_grid,
    posed_preview_rows,
)
from au.data.synthetic.relief import SHADINGS
from au.data.synthetic.stats import format_statistics
from au.data.synthetic.writer import (
    MODALITIES,
    REGIMES,
    SyntheticConfig,
    dataset_folder,
    generate_synthetic,
    is_complete,
    plan_for,
    subject_name,
)

PREVIEW_ROWS, PREVIEW_COLUMNS = 4, 6
#: Stills are shown with every pixel as a block of this side, so that 48 px faces are readable.
STILL_ENLARGEMENT = 2
#: ``SyntheticConfig`` field of each option that defaults to the regime's value.
_REGIME_OPTIONS = {
    "subjects": "num_subjects",
    "frames": "frames_per_subject",
    "size": "image_size",
    "difficulty": "difficulty",
    "modality": "modality",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset ones take the defaults of the regime's config."""
    default = SyntheticConfig()
    parser = argparse.ArgumentParser(
        prog="python -m au.data.synthetic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--regime", default=default.regime, choices=REGIMES)
    parser.add_argument("--seed", type=int, default=default.seed)
    regime_default = "default: the regime's (video: %s)"
    parser.add_argument("--subjects", type=int, help=regime_default % default.num_subjects)
    parser.add_argument("--frames", type=int, help=regime_default % default.frames_per_subject)
    parser.add_argument("--size", type=int, help=regime_default % default.image_size)
    parser.add_argument(
        "--difficulty",
        type=int,
        choices=sorted(DIFFICULTY_LEVELS),
        help=regime_default % default.difficulty,
    )
    parser.add_argument("--modality", choices=MODALITIES, help=regime_default % default.modality)
    parser.add_argument("--folds", type=int, default=default.num_folds)
    parser.add_argument("--jpeg-quality", type=int, default=default.jpeg_quality)
    parser.add_argument(
        "--shading",
        choices=SHADINGS,
        default=default.shading,
        help="flat: 2D shading (default); relief: a height map lit in 3D; mixed: each frame a "
        "drawn blend of the two (experiment 009)",
    )
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


def config_from_args(args: argparse.Namespace) -> SyntheticConfig:
    """The config the options ask for (unset ones from the regime's defaults).

    Raises:
        ValueError: If a value is out of range.
    """
    chosen = {field: getattr(args, option) for option, field in _REGIME_OPTIONS.items()}
    overrides = {field: value for field, value in chosen.items() if value is not None}
    return SyntheticConfig.for_regime(
        args.regime,
        seed=args.seed,
        num_folds=args.folds,
        jpeg_quality=args.jpeg_quality,
        shading=args.shading,
        **overrides,
    )


def sheet_subject(cfg: SyntheticConfig) -> tuple[str, Identity]:
    """The first subject without a beard (else S01), whose face shows every AU most plainly."""
    for index in range(cfg.num_subjects):
        identity = plan_for(cfg, index).identity
        if identity.beard == "none" or index == cfg.num_subjects - 1:
            return subject_name(index, cfg.num_subjects), identity
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


def frames_grid(cfg: SyntheticConfig, folder: Path) -> np.ndarray:
    """Captioned grid of the set's frames: random ones; for posed, whole identities by row."""
    index = read_index(folder)
    columns, enlargement = PREVIEW_COLUMNS, 1
    if cfg.regime == "posed":
        picks, columns = posed_preview_rows(index.table, PREVIEW_ROWS), 7
    else:
        picks = pick_preview_frames(index.table, PREVIEW_ROWS * PREVIEW_COLUMNS, cfg.seed)
    if cfg.regime != "video":
        enlargement = STILL_ENLARGEMENT
    paths = index.image_paths()
    images = [cv2.imread(str(paths[i]), cv2.IMREAD_UNCHANGED) for i in picks]
    images = [cv2.cvtColor(im, cv2.COLOR_BGR2RGB) if im.ndim == 3 else im for im in images]
    images = [enlarged(im, enlargement) for im in images]
    captions = [frame_caption(index.table.iloc[i], cfg.image_size) for i in picks]
    return label_grid(images, captions, columns=columns)


def write_previews(cfg: SyntheticConfig, folder: Path, preview_dir: Path) -> list[Path]:
    """Write a captioned grid of frames and, for videos, one subject's AU-intensity sheet.

    (The sheet shows the renderer's AUs in colour at 96 px: the video set's card has it.)
    """
    frames_path = preview_dir / "preview_frames.png"
    _write_png(frames_path, frames_grid(cfg, folder))
    if cfg.regime != "video":
        return [frames_path]
    _, identity = sheet_subject(cfg)
    sheet_path = preview_dir / "preview_au_intensities.png"
    _write_png(sheet_path, au_intensity_sheet(identity, shading=cfg.shading))
    return [sheet_path, frames_path]


def main(argv: list[str] | None = None) -> Path:
    """Generate or reuse the set, print timing, folder and statistics, write previews if asked."""
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
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
    table = read_index(folder).table
    print(format_statistics(table, DISFA_AUS, targets=cfg.regime == "video"))
    if args.preview_dir is not None:
        for path in write_previews(cfg, folder, args.preview_dir):
            print(f"wrote {path}")
        if cfg.regime == "video":
            print(f"(the AU-intensity sheet shows subject {sheet_subject(cfg)[0]})")
    return folder


if __name__ == "__main__":
    main()
