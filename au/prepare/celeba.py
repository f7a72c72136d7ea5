"""CelebA: 202,599 aligned celebrity faces with 40 binary attributes and identities.

Release layout read (the text files may sit in ``Anno/`` and ``Eval/``, or all beside the images
as torchvision and Kaggle copies have them)::

    <raw>/Anno/list_attr_celeba.txt              count, 40 names, "000001.jpg -1  1 ..." rows
    <raw>/Anno/list_landmarks_align_celeba.txt   count, 10 names, "000001.jpg 69 109 ..." rows
    <raw>/Anno/identity_CelebA.txt               "000001.jpg 2880"
    <raw>/Eval/list_eval_partition.txt           "000001.jpg 0"  (0 train, 1 val, 2 test)
    <raw>/Img/img_align_celeba/000001.jpg

CelebA has no AU ground truth. Two attributes are direct proxies of an AU and are mapped (1 -> 1,
-1 -> 0); every other AU is left out of the index and so masked (see ``AU_PROXIES`` and
datasets/README.md for what is excluded and why). ``subject`` is the identity and folds are
identity-disjoint: fold = official partition + 1, with an identity found in several partitions
moved wholly to its majority one. Crops map the 5 released landmarks onto the ArcFace template
(``template5``, as ``au.predict`` cuts MTCNN faces), or take a square ``1 + 2 * MARGIN`` times
their extent (``--crop-geometry eyes`` or ``box``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from au.prepare import Part, register_reader
from au.prepare.common import PrepareError, find_dir, log, probe_gray, read_image, select_subjects
from au.prepare.reader_base import (
    CropWriter,
    common_options,
    geometry_meta,
    landmark_geometry,
    prepare_units,
)

#: CelebA attribute -> AU it is a proxy of. Excluded: High_Cheekbones, Arched_Eyebrows,
#: Narrow_Eyes, Bushy_Eyebrows, Big_Lips, Bags_Under_Eyes (facial build, not a movement).
AU_PROXIES: dict[str, str] = {"Smiling": "AU12", "Mouth_Slightly_Open": "AU25"}
PARTITIONS = ("train", "val", "test")
#: Identities per unit of work (a resumable shard).
SHARD_SIZE = 250
#: Margin of ``eyes`` and ``box`` crops around the 5 landmarks (eyes, nose, mouth corners),
#: which span only the inner face.
MARGIN = 0.55
_FILES = {
    "attributes": "list_attr_celeba.txt",
    "landmarks": "list_landmarks_align_celeba.txt",
    "identities": "identity_CelebA.txt",
    "partitions": "list_eval_partition.txt",
}


def find_file(raw: Path, name: str) -> Path:
    """A release text file in ``raw``, ``raw/Anno`` or ``raw/Eval``; raise listing the tries."""
    tried = [raw / name, raw / "Anno" / name, raw / "Eval" / name]
    for path in tried:
        if path.is_file():
            return path
    raise PrepareError(f"CelebA file {name} not found: tried {', '.join(map(str, tried))}")


def read_rows(path: Path, header_lines: int, width: int) -> tuple[list[str], list[list[str]]]:
    """Header tokens and rows (image + ``width`` fields) of a CelebA text file.

    Robust to CRLF line endings and runs of spaces; a declared row count must match.
    """
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    lines = [ln.split() for ln in lines if ln.strip()]
    header = [tok for line in lines[:header_lines] for tok in line]
    rows = lines[header_lines:]
    for number, row in enumerate(rows, header_lines + 1):
        if len(row) != width + 1:
            raise PrepareError(f"{path}, row {number}: expected an image name and {width} fields")
    if header_lines == 2 and header and header[0].isdigit() and int(header[0]) != len(rows):
        raise PrepareError(f"{path} declares {header[0]} rows but has {len(rows)}: truncated?")
    return header, rows


def read_proxy_labels(raw: Path) -> pd.DataFrame:
    """The AU proxy labels (0/1) of every image, from ``list_attr_celeba.txt``."""
    attr_path = find_file(raw, _FILES["attributes"])
    header, rows = read_rows(attr_path, 2, 40)
    names = header[1:]
    if len(names) != 40 or any(a not in names for a in AU_PROXIES):
        raise PrepareError(
            f"{attr_path}: line 2 must name the 40 attributes, including {list(AU_PROXIES)}"
        )
    table = pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows], columns=names)
    table = table[list(AU_PROXIES)].apply(pd.to_numeric, errors="coerce")
    if not table.isin((-1, 1)).all().all():
        raise PrepareError(f"{attr_path}: attribute values must be -1 or 1")
    return pd.DataFrame({au: (table[a] == 1).astype(int) for a, au in AU_PROXIES.items()})


def read_release(raw: Path) -> pd.DataFrame:
    """One row per image: identity, partition, the 5 landmarks and the proxy labels."""
    labels = read_proxy_labels(raw)
    _, marks = read_rows(find_file(raw, _FILES["landmarks"]), 2, 10)
    _, ids = read_rows(find_file(raw, _FILES["identities"]), 0, 1)
    part_path = find_file(raw, _FILES["partitions"])
    _, parts = read_rows(part_path, 0, 1)
    if any(r[1] not in ("0", "1", "2") for r in parts):
        raise PrepareError(f"{part_path}: partitions must be 0 (train), 1 (val) or 2 (test)")
    frame = pd.DataFrame(index=labels.index)
    frame["subject"] = pd.Series({r[0]: r[1] for r in ids})
    frame["partition"] = pd.Series({r[0]: int(r[1]) for r in parts})
    try:
        points = {r[0]: np.array(r[1:], dtype=np.float64).reshape(5, 2) for r in marks}
    except ValueError as err:
        raise PrepareError(f"{_FILES['landmarks']} under {raw}: non-numeric landmark") from err
    frame["points"] = [points.get(name) for name in frame.index]
    missing = frame[["subject", "partition"]].isna().any(axis=1) | frame["points"].isna()
    if missing.any():
        raise PrepareError(
            f"{frame.index[missing][0]} has attributes but no identity, partition "
            f"or landmarks in the other CelebA files under {raw}"
        )
    return frame.join(labels)


@functools.lru_cache(maxsize=2)
def cached_release(raw: Path) -> pd.DataFrame:
    """``read_release`` once per process (worker processes inherit the parent's copy)."""
    return read_release(raw)


def identity_folds(frame: pd.DataFrame) -> pd.Series:
    """Identity -> fold (official partition + 1), each identity wholly in its majority partition.

    Ties go to the earlier partition. Logs how many identities the official split shares.
    """
    counts = frame.groupby(["subject", "partition"]).size().unstack(fill_value=0)
    shared = int(((counts > 0).sum(axis=1) > 1).sum())
    if shared:
        log.warning(
            "%d identities appear in more than one official CelebA partition: each is "
            "moved wholly to its majority partition so folds are identity-disjoint",
            shared,
        )
    return pd.Series(counts.to_numpy().argmax(axis=1) + 1, index=counts.index)


def shards(identities: list[str]) -> dict[str, list[str]]:
    """Units of work: runs of ``SHARD_SIZE`` identities, keyed by their first and last one."""
    ordered = sorted(identities, key=lambda s: (len(s), s))
    runs = [ordered[i : i + SHARD_SIZE] for i in range(0, len(ordered), SHARD_SIZE)]
    return {f"identities_{run[0]}-{run[-1]}": run for run in runs}


def _prepare_shard(
    key: str, raw: Path, images: Path, crops: CropWriter, shard_identities: dict, folds: dict
) -> Part:
    """Crop and label the images of one shard of identities."""
    frame = cached_release(raw)
    rows = frame[frame["subject"].isin(set(shard_identities[key]))]
    paths = []
    for name, row in rows.iterrows():
        crop = crops.from_points(read_image(images / name), row["points"])
        paths.append(crops.write(f"images/{row['subject']}/{Path(name).stem}.jpg", crop))
    table = pd.DataFrame({"path": paths, "subject": rows["subject"].to_numpy()})
    table["partition"] = [PARTITIONS[p] for p in rows["partition"]]
    for au in AU_PROXIES.values():
        table[au] = rows[au].to_numpy()
    table["fold"] = [folds[s] for s in rows["subject"]]
    return crops.part(table)


@register_reader("celeba")
def prepare(
    raw: Path, out: Path, *, crop_geometry: str | None = None, rotate: bool = True, **common
) -> Path:
    """Prepare CelebA from its release folder ``raw`` into ``out``; returns ``index.csv``.

    ``crop_geometry`` and ``rotate`` say how crops are cut from the 5 released landmarks
    (:func:`~au.prepare.reader_base.landmark_geometry`); ``common`` are the options every
    reader takes (:class:`~au.prepare.reader_base.CommonOptions`; ``limit_subjects`` names
    identities).
    """
    run = common_options("celeba", common)
    geometry = landmark_geometry(crop_geometry, rotate, landmarks=5, margin=MARGIN)
    images = find_dir(raw, ("img_align_celeba", "Img/img_align_celeba"), "CelebA image folder")
    cached_release.cache_clear()
    frame = cached_release(raw)
    identities = sorted(frame["subject"].unique(), key=lambda s: (len(s), s))
    chosen = select_subjects(identities, run.limit_subjects, raw)
    folds = identity_folds(frame)
    units = shards(chosen)
    gray = probe_gray(images / frame.index[frame["subject"] == chosen[0]][0])
    work = functools.partial(
        _prepare_shard,
        raw=raw,
        images=images,
        crops=CropWriter(out, run.crop_size, gray, geometry),
        shard_identities=units,
        folds={s: int(folds[s]) for s in chosen},
    )
    meta = {
        "name": "celeba",
        "label_type": "occurrence",
        "positive_threshold": 1,
        "aus": list(AU_PROXIES.values()),
        "au_proxies": AU_PROXIES,
        "num_folds": 3,
        "crop_size": run.crop_size,
        "split": "official partition + 1 (1 train, 2 val, 3 test), made identity-disjoint",
        **geometry_meta(geometry),
    }
    options = {"crop_size": run.crop_size, **geometry_meta(geometry)}
    return prepare_units(
        list(units), work, out, run, options=options, meta=meta, desc="CelebA identity shards"
    )
