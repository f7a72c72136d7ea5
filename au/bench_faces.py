"""``python -m au.bench_faces``: MTCNN against the Haar cascade and BlazeFace on synthetic frames.

Each test frame of a synthetic video set is placed in the middle of a canvas twice its size (as
:mod:`au.bench_align` does) and given to each detector. Printed per nuisance condition:
1. face recall of Haar, MTCNN and BlazeFace (a face counts when the detector's largest box holds
   the rendered face's nose tip);
2. MTCNN's landmark error: the mean distance of its 5 points to where the renderer put the eye
   centres (pupils), nose tip and mouth corners, as % of the true inter-ocular distance (NME);
3. MTCNN's head pose error: mean absolute yaw, pitch and roll error in degrees against the
   pose the renderer used (the index's ``yaw``, ``pitch``, ``roll``), and the median signed
   error (bias of the generic 3-D face model on the renderer's faces);
4. with BlazeFace (where ``ai-edge-litert`` and its models are there; else one line says why
   not): its recall, the NME of MTCNN and of BlazeFace over the points BlazeFace has (eye
   centres, nose tip), and BlazeFace's pose errors (its mouth corners are placed, not found);
then the milliseconds per 640x480 frame of each detector.

Examples:
    python -m au.bench_faces                        # the default synthetic set, test fold 1
    python -m au.bench_faces --data ~/.cache/au/data/synthetic/rgb-d2-28b935f99f --frames 600
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402

from au.bench_align import CONDITIONS  # noqa: E402
from au.data.dataset import read_image  # noqa: E402
from au.data.synthetic import SyntheticConfig, ensure_synthetic  # noqa: E402
from au.data.synthetic.landmarks import frame_landmarks  # noqa: E402
from au.data.synthetic.writer import plan_for  # noqa: E402
from au.errors import MissingPackageError  # noqa: E402
from au.evaluation.frame_subset import select_frames  # noqa: E402
from au.inference.faces import (  # noqa: E402
    BlazeFaceDetector,
    FaceBox,
    HaarFaceDetector,
    MTCNNFaceDetector,
)
from au.inference.pose import head_pose  # noqa: E402
from au.models.pretrained import PretrainedWeightsError  # noqa: E402


def true_landmarks(cfg: SyntheticConfig, subject: int, frame: int, plans: dict) -> np.ndarray:
    """Where the renderer put a frame's pupils, nose tip and mouth corners (5, 2), in pixels."""
    if subject not in plans:
        plans[subject] = plan_for(cfg, subject)
    return frame_landmarks(cfg, plans[subject], frame)


def holds(face: FaceBox | None, point: np.ndarray) -> bool:
    """Whether a box contains a point (x, y)."""
    if face is None:
        return False
    return face.x <= point[0] <= face.x + face.w and face.y <= point[1] <= face.y + face.h


def build_blazeface():
    """BlazeFace with its defaults, or ``None`` and one line saying why it is left out."""
    try:
        return BlazeFaceDetector(), ""
    except (MissingPackageError, PretrainedWeightsError) as err:
        return None, f"BlazeFace left out: {err}"


def landmark_errors(face: FaceBox, truth: np.ndarray, row, size: tuple[int, int]) -> dict:
    """NME % over all 5 points and over the eyes and nose, and the pose errors of ``face``."""
    inter_ocular = np.linalg.norm(truth[1] - truth[0])
    distances = np.linalg.norm(face.landmarks - truth, axis=1)  # (5,)
    result = {"NME %": 100 * distances.mean() / inter_ocular}
    result["eyes+nose NME %"] = 100 * distances[:3].mean() / inter_ocular
    pose = head_pose(face.landmarks, *size)
    for name, value in zip(("yaw", "pitch", "roll"), pose, strict=True):
        result[f"{name} error"] = value - getattr(row, name)
    return result


def measure(
    rows: pd.DataFrame, folder: Path, cfg: SyntheticConfig, detectors: dict
) -> pd.DataFrame:
    """Per frame: whether each detector found the face; landmark and pose errors of each.

    Columns ``<name> found`` and, where the face has landmarks, ``<name> <error>``.
    """
    plans, results = {}, []
    for row in rows.itertuples():
        image = read_image(folder / row.path, 3)
        pad = image.shape[0] // 2
        canvas = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        subject = int(str(row.subject).lstrip("S")) - 1
        truth = true_landmarks(cfg, subject, int(row.frame), plans) + pad
        result = {}
        for name, detect in detectors.items():
            face = next(iter(detect(canvas)), None)
            result[f"{name} found"] = holds(face, truth[2])
            if result[f"{name} found"] and face.landmarks is not None:
                errors = landmark_errors(face, truth, row, canvas.shape[1::-1])
                result |= {f"{name} {key}": value for key, value in errors.items()}
        results.append(result)
    return pd.DataFrame(results, index=rows.index)


def condition_table(rows: pd.DataFrame, scores: pd.DataFrame) -> list[dict]:
    """Recall, NME and pose errors per condition of :data:`au.bench_align.CONDITIONS`.

    BlazeFace's columns come where ``scores`` has them.
    """
    table = []
    for name, query in CONDITIONS.items():
        part = scores[select_frames(rows, query)]
        hit = part[part["mtcnn found"]]
        entry = {"condition": name, "frames": len(part)}
        entry["Haar recall %"] = round(100 * part["haar found"].mean(), 1)
        entry["MTCNN recall %"] = round(100 * part["mtcnn found"].mean(), 1)
        entry["NME % (median)"] = round(hit["mtcnn NME %"].median(), 1)
        for angle in ("yaw", "pitch", "roll"):
            errors = hit[f"mtcnn {angle} error"]
            entry[f"{angle} MAE / bias"] = f"{errors.abs().mean():.1f} / {errors.median():+.1f}"
        if "blazeface found" in part:
            entry |= blazeface_entry(part)
        table.append(entry)
    return table


def blazeface_entry(part: pd.DataFrame) -> dict:
    """BlazeFace's recall, both detectors' eyes-and-nose NME and BlazeFace's pose MAE."""
    found = part[part["blazeface found"]]
    entry = {"BlazeFace recall %": round(100 * part["blazeface found"].mean(), 1)}
    mtcnn = part.loc[part["mtcnn found"], "mtcnn eyes+nose NME %"].median()
    blazeface = found["blazeface eyes+nose NME %"].median()
    entry["eyes+nose NME % MTCNN / BlazeFace"] = f"{mtcnn:.1f} / {blazeface:.1f}"
    errors = [found[f"blazeface {angle} error"].abs().mean() for angle in ("yaw", "pitch", "roll")]
    entry["BlazeFace yaw / pitch / roll MAE"] = " / ".join(f"{e:.1f}" for e in errors)
    return entry


def frame_640x480(folder: Path, path: str) -> np.ndarray:
    """A test face (enlarged to 200 px) on a noisy 640x480 grey frame."""
    frame = np.random.default_rng(0).normal(120, 12, (480, 640, 3)).clip(0, 255).astype(np.uint8)
    frame[140:340, 220:420] = cv2.resize(read_image(folder / path, 3), (200, 200))
    return frame


def median_ms(detect, frame: np.ndarray, repeats: int) -> float:
    """Median wall time of ``detect(frame)`` in milliseconds (after one warm-up call)."""
    detect(frame)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        detect(frame)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the measurements, print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m au.bench_faces",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, help="a synthetic video set (default: au.fit's)")
    parser.add_argument("--fold", type=int, default=1, help="test fold (default 1, as au.fit)")
    parser.add_argument("--frames", type=int, default=None, help="at most this many, evenly")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per detector")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.data is None:
        cfg = SyntheticConfig(num_subjects=80, frames_per_subject=60)  # configs/data/synthetic
        folder = ensure_synthetic(cfg)
    else:
        folder = args.data.expanduser()
        cfg = SyntheticConfig(**json.loads((folder / "index.json").read_text())["config"])
    rows = pd.read_csv(folder / "index.csv")
    rows = rows[rows["fold"] == args.fold]
    if args.frames is not None and args.frames < len(rows):
        rows = rows.iloc[np.linspace(0, len(rows) - 1, args.frames).round().astype(int)]
    detectors = {"haar": HaarFaceDetector(), "mtcnn": MTCNNFaceDetector()}
    blazeface, why_not = build_blazeface()
    if blazeface is not None:
        detectors["blazeface"] = blazeface
    scores = measure(rows, folder, cfg, detectors)
    print(f"{len(rows)} test frames (fold {args.fold}) of {folder}, each on a 2x canvas\n")
    print(tabulate(condition_table(rows, scores), headers="keys", tablefmt="github"))
    if why_not:
        print(why_not)
    frame = frame_640x480(folder, rows["path"].iloc[0])
    print(f"\n640x480 frame, {torch.get_num_threads()} torch threads\n")
    speed = speed_table(frame, args.repeats, detectors["haar"], blazeface is not None)
    print(tabulate(speed, headers="keys", tablefmt="github", floatfmt=".1f"))


def speed_table(frame: np.ndarray, repeats: int, haar, blazeface: bool) -> list[dict]:
    """Milliseconds per ``frame`` of Haar, MTCNN at two ``min_face`` and BlazeFace's models."""
    speed = [{"detector": "Haar (max_side 640)", "ms / frame": median_ms(haar, frame, repeats)}]
    for min_face in (20, 40):
        detector = MTCNNFaceDetector(min_face=min_face)
        ms = median_ms(detector, frame, repeats)
        speed.append({"detector": f"MTCNN min_face={min_face}", "ms / frame": ms})
    if blazeface:
        for model, tiles in (("full", 1), ("short", 1), ("full", 2)):
            ms = median_ms(BlazeFaceDetector(model=model, tiles=tiles), frame, repeats)
            speed.append({"detector": f"BlazeFace {model} tiles={tiles}", "ms / frame": ms})
    return speed


if __name__ == "__main__":
    main()
