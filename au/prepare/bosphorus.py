"""Bosphorus: 105 subjects, 2D images of posed AUs, emotions, neutral faces, poses, occlusions.

Release layout read (subject folders at the root or under ``BosphorusDB/``)::

    <raw>/bs001/bs001_LFAU_12_0.png   2D texture image; the name codes what is shown
    <raw>/bs001/bs001_LFAU_12_0.lm2   2D landmarks: "<N> landmarks:", "Labels:" + N names,
                                      "2D Image coordinates:" + N "x y" lines

File-name codes: ``N_N`` neutral; ``LFAU_<code>`` / ``UFAU_<code>`` a posed lower / upper face
AU (``12``, ``12L``, ``12LW``: suffixes mark side or weak intensity, the AU is still present);
``CAU_<code>`` AU combinations (``A22A25``); ``E_<EMOTION>``; ``YR_``/``PR_``/``CR_`` head poses
and ``O_`` occlusions (only with ``include_pose`` / ``include_occlusion``).

Labels: a posed-AU file marks its AU(s) present and masks every other AU (posing one AU often
recruits others, e.g. 12 with 6 or 25, and the file name does not say which), unless
``unlisted="absent"``; a neutral file marks every AU absent; emotion, pose and occlusion files
carry no AU label (all masked), emotion files set ``emotion``.

Crops: by default the 5 template points of the ``.lm2`` landmarks (eye centres from the eye
corners, the nose tip, the mouth corners) mapped onto the ArcFace template (``template5``, as
``au.predict`` cuts MTCNN faces); a file that lacks one of them (pose and occlusion files may)
is cut as ``eyes``: the square around its landmarks, eyes levelled. ``--crop-geometry eyes`` or
``box`` cut every file that way.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from au.alignment import CROP_MARGIN, CropGeometry
from au.aus import au_key
from au.prepare import Part, register_reader
from au.prepare.common import (
    PrepareError,
    log,
    probe_gray,
    read_image,
    require_dir,
    require_file,
    select_subjects,
)
from au.prepare.reader_base import (
    CropWriter,
    common_options,
    folds_in_turn,
    geometry_meta,
    landmark_geometry,
    prepare_units,
)

#: The AUs Bosphorus poses (lower face, upper face), the index's AU columns.
BOSPHORUS_AUS: tuple[str, ...] = tuple(
    au_key(n) for n in (1, 2, 4, 9, 10, 12, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28, 43)
)
BOSPHORUS_EMOTIONS = {
    "ANGER": "anger",
    "DISGUST": "disgust",
    "FEAR": "fear",
    "HAPPY": "happiness",
    "SADNESS": "sadness",
    "SURPRISE": "surprise",
}
AU_KINDS = ("LFAU", "UFAU", "CAU")
POSE_KINDS = ("YR", "PR", "CR")
META = {
    "name": "bosphorus",
    "label_type": "occurrence",
    "positive_threshold": 1,
    "aus": list(BOSPHORUS_AUS),
    "num_folds": 3,
    "split": "subjects sorted by name assigned to folds 1, 2, 3 in turn (no standard split)",
}
#: Landmarks in a full ``.lm2`` file.
LM2_POINTS = 22
#: How a file lacking one of the 5 template points is cut when the others are ``template5``.
WITHOUT_TEMPLATE_POINTS = CropGeometry("eyes", CROP_MARGIN, LM2_POINTS)
_NAME = re.compile(r"^(bs\d{3})_([A-Z]+)_([A-Za-z0-9]+)_(\d+)$")
_SUBJECT = re.compile(r"^bs\d{3}$")


def parse_name(stem: str) -> tuple[str, str, int] | None:
    """``"bs001_LFAU_12LW_0"`` -> ``("LFAU", "12LW", 0)``; ``None`` if not a Bosphorus name."""
    match = _NAME.match(stem)
    return (match.group(2), match.group(3), int(match.group(4))) if match else None


def labels_of(kind: str, code: str, unlisted: str) -> tuple[dict[str, float], str] | None:
    """AU labels (1 present, 0 absent, NaN masked) and emotion of one file; ``None`` to skip."""
    masked = dict.fromkeys(BOSPHORUS_AUS, np.nan)
    if kind == "N":
        return dict.fromkeys(BOSPHORUS_AUS, 0.0), "neutral"
    if kind == "E":
        return masked, BOSPHORUS_EMOTIONS.get(code.upper(), code.lower())
    if kind in POSE_KINDS or kind == "O":
        return masked, ""
    if kind not in AU_KINDS:
        return None
    posed = [au_key(int(n)) for n in re.findall(r"\d+", code)]
    if not posed or any(au not in BOSPHORUS_AUS for au in posed):
        return None
    other = 0.0 if unlisted == "absent" else np.nan
    return {au: 1.0 if au in posed else other for au in BOSPHORUS_AUS}, ""


def read_lm2(path: Path) -> tuple[list[str], np.ndarray]:
    """Landmark names and (N, 2) x/y points of a ``.lm2`` file.

    Section headers are matched in any case (``22 landmarks:`` or ``22 Landmarks:``).
    """
    lines = [
        ln.strip()
        for ln in require_file(path, "Bosphorus .lm2 landmark file")
        .read_bytes()
        .decode("latin-1")
        .splitlines()
    ]
    headers = [ln.lower().rstrip(":").strip() for ln in lines]  # writers differ in case
    try:
        count = next(
            int(m.group(1)) for ln in lines if (m := re.match(r"(\d+)\s+landmarks", ln, re.I))
        )
        start = headers.index("labels") + 1
        names = lines[start : start + count]
        first = headers.index("2d image coordinates") + 1
        rows = [ln.split() for ln in lines[first:] if ln][:count]
        points = np.array([[float(v) for v in row[:2]] for row in rows], dtype=np.float64)
    except (StopIteration, ValueError) as err:
        raise PrepareError(
            f"cannot parse {path}: expected '<N> landmarks:', 'Labels:' and "
            f"'2D Image coordinates:' sections ({err})"
        ) from err
    if points.shape != (count, 2) or count < 2:
        raise PrepareError(f"{path}: expected {count} 'x y' lines, found {len(points)}")
    return names, points


def lm2_eyes(names: list[str], points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Centres of the named left and right eye corners, if both eyes are annotated.

    ``Inner left eye corner`` counts, ``Inner left eyebrow`` does not.
    """
    lower = [n.lower() for n in names]
    left = [i for i, n in enumerate(lower) if re.search(r"\bleft eye\b", n)]
    right = [i for i, n in enumerate(lower) if re.search(r"\bright eye\b", n)]
    if not left or not right:
        return None
    return points[left].mean(axis=0), points[right].mean(axis=0)


def lm2_five(names: list[str], points: np.ndarray) -> np.ndarray | None:
    """The 5 template points (5, 2) of a ``.lm2`` file, image-left first; ``None`` if one lacks.

    Eye centres are the means of each eye's corners; then the nose tip and the mouth corners.
    """
    lower = [n.lower() for n in names]
    eyes = lm2_eyes(names, points)
    wanted = ("nose tip", "left mouth corner", "right mouth corner")
    if eyes is None or any(name not in lower for name in wanted):
        return None
    nose, *mouth = (points[lower.index(name)] for name in wanted)
    return np.array([*_image_left_first(eyes), nose, *_image_left_first(mouth)])


def _image_left_first(pair) -> list[np.ndarray]:
    return sorted(pair, key=lambda point: point[0])


def _wanted(kind: str, opts: dict) -> bool:
    if kind in POSE_KINDS:
        return opts["include_pose"]
    return opts["include_occlusion"] if kind == "O" else True


def _prepare_subject(subject: str, root: Path, crops: CropWriter, opts: dict) -> Part:
    """Crop and label the wanted images of one subject."""
    rows, skipped, levelled = [], [], []
    for image_path in sorted((root / subject).glob("*.png")):
        parsed = parse_name(image_path.stem)
        if parsed is None or not _wanted(parsed[0], opts):
            continue
        result = labels_of(parsed[0], parsed[1], opts["unlisted"])
        if result is None:
            skipped.append(image_path.name)
            continue
        names, points = read_lm2(image_path.with_suffix(".lm2"))
        five, writer = lm2_five(names, points), crops
        if five is None and crops.geometry.method == "template5":
            writer = replace(crops, geometry=WITHOUT_TEMPLATE_POINTS)
            levelled.append(image_path.name)
        eyes = lm2_eyes(names, points)
        crop = writer.from_points(read_image(image_path), points, eyes=eyes, five=five)
        rel = crops.write(f"images/{subject}/{image_path.stem}.jpg", crop)
        labels, emotion = result
        rows.append(
            {
                "path": rel,
                "subject": subject,
                "kind": parsed[0],
                "code": parsed[1],
                "take": parsed[2],
                **labels,
                "emotion": emotion,
            }
        )
    if skipped:
        log.warning(
            "%s: skipped %d files coding AUs au does not label: %s",
            subject,
            len(skipped),
            ", ".join(skipped),
        )
    if levelled:
        log.warning(
            "%s: %d files lack one of the 5 template points; cut as %s: %s",
            subject,
            len(levelled),
            WITHOUT_TEMPLATE_POINTS.describe(),
            ", ".join(levelled),
        )
    columns = ["path", "subject", "kind", "code", "take", *BOSPHORUS_AUS, "emotion"]
    table = pd.DataFrame(rows, columns=columns)
    table["fold"] = opts["folds"][subject]
    return crops.part(table)


@register_reader("bosphorus", options=("include_pose", "include_occlusion", "unlisted"))
def prepare(
    raw: Path,
    out: Path,
    *,
    crop_geometry: str | None = None,
    rotate: bool = True,
    include_pose: bool = False,
    include_occlusion: bool = False,
    unlisted: str = "masked",
    **common,
) -> Path:
    """Prepare Bosphorus from its release folder ``raw`` into ``out``; returns ``index.csv``.

    ``crop_geometry`` and ``rotate`` say how crops are cut from each ``.lm2`` file's landmarks
    (:func:`~au.prepare.reader_base.landmark_geometry`); ``common`` are the options every
    reader takes (:class:`~au.prepare.reader_base.CommonOptions`). Folds (no standard protocol
    exists): subjects sorted by name go to folds 1, 2, 3 in turn.
    """
    run = common_options("bosphorus", common)
    geometry = landmark_geometry(crop_geometry, rotate, landmarks=LM2_POINTS)
    if unlisted not in ("masked", "absent"):
        raise PrepareError(f"--unlisted-aus must be masked or absent, not {unlisted!r}")
    require_dir(raw, "Bosphorus release folder")
    root = raw / "BosphorusDB" if (raw / "BosphorusDB").is_dir() else raw
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and _SUBJECT.match(p.name))
    subjects = select_subjects(found, run.limit_subjects, root)
    options = {
        "crop_size": run.crop_size,
        **geometry_meta(geometry),
        "unlisted": unlisted,
        "include_pose": include_pose,
        "include_occlusion": include_occlusion,
    }
    gray = probe_gray(next((root / subjects[0]).glob("*.png"), None))
    crops = CropWriter(out, run.crop_size, gray, geometry)
    opts = {**options, "folds": folds_in_turn(subjects, found)}
    work = functools.partial(_prepare_subject, root=root, crops=crops, opts=opts)
    fallback = WITHOUT_TEMPLATE_POINTS if geometry.method == "template5" else None
    meta = {**META, "crop_size": run.crop_size, "unlisted_aus": unlisted}
    meta |= geometry_meta(geometry, fallback)
    return prepare_units(
        subjects, work, out, run, options=options, meta=meta, desc="Bosphorus subjects"
    )
