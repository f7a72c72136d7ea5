"""FER-2013's image release: one folder per split and class, into the index format.

Layout read (``python -m au.prepare fer2013-folder --raw PATH``)::

    <raw>/train/<class>/*.jpg    class folders angry, disgust, fear, happy, neutral, sad,
    <raw>/test/<class>/*.jpg     surprise (any case, or a synonym such as happiness, contempt)
    <raw>/val/<class>/*.jpg      optional (also validation/); used as given when present

``split`` is train / val / test from the folders; without a val folder, val is carved from
train/ per class (``val_fraction`` of each class, chosen by ``split_seed``). Everything else
(no subject ids, hence a split that is not subject-independent; no AU labels) is as for the CSV
release, see :mod:`au.prepare.fer2013`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from au.data.dataset import has_text_name, printable_path
from au.emotions import parse_emotion
from au.prepare import Part, register_reader
from au.prepare.common import (
    PrepareError,
    normalise_channels,
    probe_gray,
    read_image,
    require_dir,
)
from au.prepare.fer2013 import fer2013_options, index_meta, index_rows, resized, write_png
from au.prepare.reader_base import prepare_units

SPLIT_FOLDERS = {
    "train": ("train", "Training"),
    "val": ("val", "validation", "PublicTest"),
    "test": ("test", "PrivateTest"),
}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def find_split_folders(raw: Path) -> dict[str, Path]:
    """The release's split folders: ``train`` and ``test`` required, ``val`` optional."""
    require_dir(raw, "FER-2013 image release (train/ and test/ folders)")
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        folders = [raw / n for n in names if (raw / n).is_dir()]
        if folders:
            found[split] = folders[0]
        elif split != "val":
            tried = ", ".join(str(raw / n) for n in names)
            raise PrepareError(f"FER-2013 {split} folder not found: tried {tried}")
    return found


def list_class_images(folder: Path) -> list[tuple[Path, str]]:
    """``(image, emotion)`` pairs of a split folder holding one folder per emotion."""
    pairs = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            emotion = parse_emotion(sub.name)
        except ValueError:
            raise PrepareError(
                f"folder {sub} is not named after an emotion: expected one folder per class "
                f"named angry, disgust, fear, happy, neutral, sad, surprise (or a synonym)"
            ) from None
        images = sorted(p for p in sub.rglob("*") if _is_image(p))
        unnamed = [printable_path(p) for p in images if not has_text_name(p)]
        if unnamed:
            raise PrepareError(
                f"{len(unnamed)} image name(s) under {sub} are not valid UTF-8, so the index "
                f"cannot name them (rename them): {', '.join(unnamed[:10])}"
            )
        pairs += [(p, emotion) for p in images]
    if not pairs:
        raise PrepareError(f"no image under {folder}/<emotion>/: is this the FER-2013 release?")
    return pairs


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def carve_validation(emotions: list[str], val_fraction: float, seed: int) -> list[str]:
    """``"val"`` for ``val_fraction`` of each class (rounded, chosen by ``seed``), else train."""
    if not 0 < val_fraction < 1:
        raise PrepareError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    splits = ["train"] * len(emotions)
    rng = np.random.default_rng(seed)
    for emotion in sorted(set(emotions)):
        rows = [i for i, e in enumerate(emotions) if e == emotion]
        for i in rng.permutation(rows)[: round(val_fraction * len(rows))]:
            splits[int(i)] = "val"
    return splits


def _prepare_folder_unit(unit: str, plan: dict, raw: Path, out: Path, opts: dict) -> Part:
    sources, emotions, splits = plan[unit]
    paths = []
    for source in sources:
        rel = "images/" + Path(source).relative_to(raw).with_suffix(".png").as_posix()
        image = normalise_channels(read_image(Path(source)), opts["gray"])
        write_png(out / rel, resized(image, opts["crop_size"]))
        paths.append(rel)
    return Part(index_rows(paths, emotions, splits), 1 if opts["gray"] else 3)


def plan_folder(raw: Path, val_fraction: float, split_seed: int) -> dict:
    """Unit (``<split folder>-<emotion>``) -> (image paths, emotions, splits)."""
    plan = {}
    folders = find_split_folders(raw)
    has_val = "val" in folders
    for split, folder in folders.items():
        pairs = list_class_images(folder)
        emotions = [e for _, e in pairs]
        carved = carve_validation(emotions, val_fraction, split_seed)
        splits = carved if split == "train" and not has_val else [split] * len(pairs)
        for emotion in dict.fromkeys(emotions):
            rows = [i for i, e in enumerate(emotions) if e == emotion]
            plan[f"{folder.name}-{emotion}"] = (
                [str(pairs[i][0]) for i in rows],
                [emotion] * len(rows),
                [splits[i] for i in rows],
            )
    return plan


@register_reader(
    "fer2013-folder",
    out_name="fer2013",
    options=("val_fraction", "split_seed"),
    native_size=True,
)
def prepare_folder(
    raw: Path, out: Path, *, val_fraction: float = 0.1, split_seed: int = 0, **common
) -> Path:
    """Prepare FER-2013's image release (folders per split and class); returns ``index.csv``.

    Faces are written as PNG at their size or resized to ``crop_size`` (``common`` are the
    options every reader takes, :class:`~au.prepare.reader_base.CommonOptions`, except
    ``limit_subjects``). They are released as aligned crops without landmarks, so nothing is
    rotated: there is no ``rotate`` option, and giving one raises :class:`PrepareError`.
    """
    run = fer2013_options("fer2013-folder", common)
    plan = plan_folder(raw, val_fraction, split_seed)
    gray = probe_gray(Path(next(iter(plan.values()))[0][0]))
    opts = {"crop_size": run.crop_size, "gray": gray}
    work = functools.partial(_prepare_folder_unit, plan=plan, raw=raw, out=out, opts=opts)
    options = opts | {"val_fraction": val_fraction, "split_seed": split_seed}
    carved = f"val = {val_fraction:g} of each train/ class, chosen by split_seed={split_seed}"
    has_val = "val" in find_split_folders(raw)
    split = "partition column 'split' from the folders train/ and test/; " + (
        "val/ as given" if has_val else carved
    )
    meta = index_meta("folder", run.crop_size, split)
    return prepare_units(list(plan), work, out, run, options=options, meta=meta)
