"""``python -m au.bench_align``: faces found, aligned crops and CLAHE on the synthetic set.

On the test subjects (``split=val``: the validation subjects of the training folds, the split
that decides) of a checkpoint trained on the synthetic set, it prints:
1. the Haar face detector's recall per nuisance condition (clean, low light, glasses, head
   roll >= 5 degrees, occlusion), each frame placed in the middle of a canvas twice its size;
2. the average AU F1 (checkpoint thresholds) on frames with roll >= 5 degrees whose face was
   found, for crops cut around the Haar box without and with eye levelling (and the whole frame,
   as the model was trained);
3. the average AU F1 on low-light frames without and with CLAHE at prediction time.

Each difference comes with its 95% interval from the paired bootstrap over subjects.

Example:
    python -m au.bench_align ckpt_path=logs/fit/runs/.../checkpoints/best.ckpt [split=val]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tabulate import tabulate  # noqa: E402

from au.alignment import crop_box  # noqa: E402
from au.data.dataset import read_image  # noqa: E402
from au.data.splits import split_subjects  # noqa: E402
from au.evaluate import checkpoint_data_settings  # noqa: E402
from au.evaluation.frame_subset import select_frames  # noqa: E402
from au.evaluation.paired_bootstrap import (  # noqa: E402
    SubjectCounts,
    average_f1,
    paired_bootstrap,
    verdict,
)
from au.inference.align import EyeFinder, roll_of  # noqa: E402
from au.inference.detector import AUDetector  # noqa: E402
from au.inference.faces import HaarFaceDetector  # noqa: E402

#: The subjects a bench reads: the checkpoint's held-out fold, or its validation subjects.
SPLITS = ("test", "val")
CONDITIONS = {
    "clean": "low_light == 0 and glasses == 'none' and abs(roll) < 5 and occlusion == 'none'",
    "low light": "low_light == 1",
    "low light, no occluder or glasses": "low_light == 1 and occlusion == 'none' "
    "and glasses == 'none'",
    "glasses": "glasses != 'none'",
    "roll >= 5 deg": "abs(roll) >= 5",
    "roll >= 5 deg, no occluder or glasses": "abs(roll) >= 5 and occlusion == 'none' "
    "and glasses == 'none'",
    "occlusion": "occlusion != 'none'",
    "all": "frame >= 0",
}


def split_frames(ckpt_path: Path, split: str = "test") -> tuple[pd.DataFrame, Path, int]:
    """The index rows of the checkpoint's ``split`` subjects, their folder, the positive level.

    ``test``: the held-out fold; ``val``: the validation subjects of the training folds, as
    ``au.fit`` split them (the split that decides a default).
    """
    from au.data.synthetic import SyntheticConfig, ensure_synthetic

    settings = checkpoint_data_settings(ckpt_path)
    folder = ensure_synthetic(SyntheticConfig(**settings["synthetic"]))
    table = pd.read_csv(folder / "index.csv")
    subjects = split_subjects(
        table,
        settings["fold"],
        settings.get("num_folds", 3),
        settings.get("val_fraction", 0.2),
        settings.get("split_seed", 0),
    )[split]
    rows = table[table["subject"].astype(str).isin(subjects)]
    return rows, folder, settings["positive_threshold"]


def subject_counts(
    detector: AUDetector, crops: list[np.ndarray], rows: pd.DataFrame, level: int
) -> SubjectCounts:
    """TP/FP/FN per test subject and AU of the model's decisions (its thresholds) on crops."""
    decisions = detector.probabilities(crops) > detector.thresholds  # (N, A)
    return decision_counts(detector, decisions, rows, level)


def decision_counts(
    detector: AUDetector, decisions: np.ndarray, rows: pd.DataFrame, level: int
) -> SubjectCounts:
    """TP/FP/FN per test subject and AU of ``decisions`` (N, A) on the frames of ``rows``."""
    table = pd.DataFrame({"subject": rows["subject"].astype(str).to_numpy()})
    for j, au in enumerate(detector.aus):
        table[f"decision/{au}"] = decisions[:, j].astype(int)
        table[f"label/{au}"] = (rows[au].to_numpy() >= level).astype(float)
    return SubjectCounts.from_predictions(table)


def scored_variants(variants: dict[str, SubjectCounts], column: str) -> list[dict]:
    """Average F1 (%) of each variant and its paired difference to the first, with a 95% CI.

    The interval is the paired bootstrap over test subjects
    (:func:`au.evaluation.paired_bootstrap.paired_bootstrap`): the same frames and model,
    only the preprocessing differs.
    """
    rows, names = [], list(variants)
    reference = variants[names[0]]
    for name, counts in variants.items():
        row = {column: name, "F1": round(100 * float(average_f1(counts.counts.sum(0))), 1)}
        if name != names[0]:
            result = paired_bootstrap([("test", counts, reference)])
            row["Δ [95% CI]"] = (
                f"{100 * result.mean:+.1f} [{100 * result.low:+.1f}, {100 * result.high:+.1f}]"
            )
            row["verdict"] = verdict(result.low, result.high)
        rows.append(row)
    return rows


def find_faces(rows: pd.DataFrame, folder: Path) -> list[dict]:
    """For each frame: the image on a canvas, the largest Haar face and its eyes."""
    haar, eyes, found = HaarFaceDetector(), EyeFinder(), []
    for path in rows["path"]:
        frame = read_image(folder / path, 3)
        side = frame.shape[0] // 2
        canvas = cv2.copyMakeBorder(frame, side, side, side, side, cv2.BORDER_REPLICATE)
        faces = haar(canvas)
        face = faces[0] if faces else None
        pair = eyes(canvas, face) if face is not None else None
        found.append({"frame": frame, "canvas": canvas, "face": face, "eyes": pair})
    return found


def checkpoint_argument(argv: list[str], doc: str | None = None) -> tuple[Path, str]:
    """The checkpoint of ``ckpt_path=PATH`` (as ``au.evaluate`` takes it) and ``split=``.

    ``split=test`` (the default: the held-out fold) or ``split=val`` (the validation subjects of
    the training folds, the split that decides). ``-h`` / ``--help`` prints ``doc`` (this
    command's description) and exits 0; a missing ``ckpt_path=``, a bad split or any other
    argument exits 2 with one ``error:`` line.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        print(doc or __doc__)
        raise SystemExit(0)
    values = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    unknown = [arg for arg in argv if arg.split("=", 1)[0] not in ("ckpt_path", "split")]
    paths = [arg for arg in argv if arg.startswith("ckpt_path=")]
    split = values.get("split", "test")
    if unknown or len(paths) != 1 or not values.get("ckpt_path") or split not in SPLITS:
        taken = f" (got {' '.join(unknown)})" if unknown else ""
        if split not in SPLITS:
            taken = f" (got split={split}: expected one of {', '.join(SPLITS)})"
        print(
            f"error: expected ckpt_path=PATH [split=test|val]{taken}; see --help", file=sys.stderr
        )
        raise SystemExit(2)
    return Path(values["ckpt_path"]), split


def main(argv: list[str]) -> None:
    """Run the three measurements and print their tables."""
    ckpt_path, split = checkpoint_argument(argv)
    rows, folder, level = split_frames(ckpt_path, split)
    detector = AUDetector.from_checkpoint(ckpt_path)
    found = find_faces(rows, folder)
    has_face = np.array([f["face"] is not None for f in found])
    has_eyes = np.array([f["eyes"] is not None for f in found])
    recall = []
    for name, query in CONDITIONS.items():
        chosen = select_frames(rows, query)
        recall.append(
            {"condition": name, "frames": int(chosen.sum()),
             "face recall %": round(100 * has_face[chosen].mean(), 1),
             "both eyes found %": round(100 * has_eyes[chosen].mean(), 1)}
        )  # fmt: skip
    print(f"{len(rows)} {split} frames of {folder}\n")
    print(tabulate(recall, headers="keys", tablefmt="github"))
    rolled = (rows["roll"].abs() >= 5).to_numpy() & has_face
    picked = [f for f, keep in zip(found, rolled, strict=True) if keep]
    size = detector.image_size

    def crops(align: bool) -> list[np.ndarray]:
        out = []
        for item in picked:
            face = item["face"]
            roll = roll_of(item["eyes"]) if align and item["eyes"] is not None else 0.0
            out.append(crop_box(item["canvas"], (face.x, face.y, face.w, face.h), size, 0.15, roll))
        return out

    subset = rows[rolled]
    table = scored_variants(
        {
            "Haar box, not aligned": subject_counts(detector, crops(False), subset, level),
            "Haar box, eyes levelled": subject_counts(detector, crops(True), subset, level),
            "whole frame (as trained)": subject_counts(
                detector, [f["frame"] for f in picked], subset, level
            ),
        },
        "crop",
    )
    print(f"\nroll >= 5 deg, face found: {len(subset)} frames\n")
    print(tabulate(table, headers="keys", tablefmt="github"))
    dark = rows["low_light"].to_numpy() == 1
    frames = [f["frame"] for f, keep in zip(found, dark, strict=True) if keep]
    lit = scored_variants(
        {
            f"CLAHE {clahe}": subject_counts(
                AUDetector(detector.model, clahe=clahe), frames, rows[dark], level
            )
            for clahe in (False, True)
        },
        "crop",
    )
    print(f"\nlow light, whole frames: {int(dark.sum())} frames\n")
    print(tabulate(lit, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main(sys.argv[1:])
