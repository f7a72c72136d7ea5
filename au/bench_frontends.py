"""``python -m au.bench_frontends``: AU F1 on faces cut from each front end's detections.

On the test subjects (or, ``split=val``, the validation subjects of the training folds, the
split that decides a default) of a checkpoint trained on the synthetic set, each frame is placed
in the middle of a canvas twice its size (as :mod:`au.bench_faces` does) and each front end (MTCNN,
BlazeFace when ``ai-edge-litert`` and its weights are there, Haar) finds the largest face. The
face is cut as ``au.predict`` cuts it (:func:`au.inference.pipeline.face_geometry` and
:func:`~au.inference.pipeline.cut_detected_face`: 5-landmark ``template5`` crops where the
front end gives landmarks, eye-levelled boxes otherwise; a checkpoint trained on renders that
records their template is cut onto it, and MTCNN's faces also onto ArcFace's template, as
before) and scored at the checkpoint's thresholds. Printed:

1. each front end's recall, and its average F1 on all frames, a missed face counted as no
   AU at all (what a user gets);
2. average F1 on the frames every front end found (the crops compared on the same faces), each
   against MTCNN's with the paired bootstrap over subjects.

Example:
    python -m au.bench_frontends ckpt_path=logs/fit/runs/.../checkpoints/best.ckpt [split=val]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tabulate import tabulate  # noqa: E402

from au.alignment import CROP_MARGIN, CropGeometry  # noqa: E402
from au.bench_align import (  # noqa: E402
    checkpoint_argument,
    decision_counts,
    scored_variants,
    split_frames,
    subject_counts,
)
from au.data.dataset import read_image  # noqa: E402
from au.errors import MissingPackageError, PretrainedWeightsError  # noqa: E402
from au.inference.detector import AUDetector  # noqa: E402
from au.inference.faces import (  # noqa: E402
    BlazeFaceDetector,
    FaceBox,
    HaarFaceDetector,
    MTCNNFaceDetector,
)
from au.inference.pipeline import cut_detected_face, face_geometry  # noqa: E402

#: MTCNN's faces cut onto ArcFace's template, beside the checkpoint's own (synthetic) template.
ARCFACE_ROW = "MTCNN, ArcFace template5"


def front_ends() -> dict[str, object]:
    """The front ends to compare; BlazeFace only where its runtime and weights are."""
    found: dict[str, object] = {"MTCNN": MTCNNFaceDetector()}
    try:
        found["BlazeFace"] = BlazeFaceDetector()
    except (MissingPackageError, PretrainedWeightsError) as err:
        print(f"BlazeFace left out: {err}")
    found["Haar"] = HaarFaceDetector()
    return found


def face_crop(
    detector: AUDetector, canvas: np.ndarray, face: FaceBox, trained: CropGeometry | None = None
) -> np.ndarray:
    """The model's input for ``face``, cut as ``au.predict`` cuts it (``align=true``).

    ``trained``: the crop geometry to cut as (``None``: the checkpoint's).
    """
    trained = trained or detector.crop_geometry
    margin = trained.margin if trained else CROP_MARGIN
    geometry, _ = face_geometry(trained, margin, True, face.landmarks is not None)
    return cut_detected_face(canvas, face, geometry, detector.image_size)


def main(argv: list[str]) -> None:
    """Detect, cut and score with every front end; print the two tables."""
    ckpt_path, split = checkpoint_argument(argv, __doc__)
    rows, folder, level = split_frames(ckpt_path, split)
    detector = AUDetector.from_checkpoint(ckpt_path)
    finders = front_ends()
    crops: dict[str, list[np.ndarray | None]] = {name: [] for name in finders}
    onto_template = detector.crop_geometry is not None and detector.crop_geometry.template
    if onto_template:  # the renders' own template: also as before it, onto ArcFace's
        crops[ARCFACE_ROW] = []
    for path in rows["path"]:
        frame = read_image(folder / path, 3)
        side = frame.shape[0] // 2
        canvas = cv2.copyMakeBorder(frame, side, side, side, side, cv2.BORDER_REPLICATE)
        for name, finder in finders.items():
            faces = sorted(finder(canvas), key=lambda f: f.w * f.h, reverse=True)
            crops[name].append(face_crop(detector, canvas, faces[0]) if faces else None)
            if onto_template and name == "MTCNN":
                arcface = face_crop(detector, canvas, faces[0], CropGeometry()) if faces else None
                crops[ARCFACE_ROW].append(arcface)
    users, recall, everywhere = {}, {}, np.ones(len(rows), bool)
    for name, cut in crops.items():
        found = np.array([c is not None for c in cut])
        everywhere &= found
        recall[name] = round(100 * found.mean(), 1)
        decisions = np.zeros((len(rows), len(detector.aus)), bool)  # a missed face: no AU
        if found.any():
            kept = [c for c in cut if c is not None]
            decisions[found] = detector.probabilities(kept) > detector.thresholds
        users[name] = decision_counts(detector, decisions, rows, level)
    frames = [read_image(folder / path, 3) for path in rows["path"]]
    users["whole frame (as trained)"] = subject_counts(detector, frames, rows, level)
    recall["whole frame (as trained)"] = "-"
    print(f"{len(rows)} {split} frames of {folder} (the checkpoint's split), each on a 2x canvas\n")
    table = scored_variants(users, "front end (all frames, a miss = no AU)")
    for row in table:
        row["recall %"] = recall[row["front end (all frames, a miss = no AU)"]]
    print(tabulate(table, headers="keys", tablefmt="github"))
    shared = {
        name: subject_counts(
            detector, [c for c, keep in zip(cut, everywhere, strict=True) if keep],
            rows[everywhere], level,
        )
        for name, cut in crops.items()
    }  # fmt: skip
    kept_frames = [frame for frame, keep in zip(frames, everywhere, strict=True) if keep]
    shared["whole frame (as trained)"] = subject_counts(
        detector, kept_frames, rows[everywhere], level
    )
    print(f"\nframes every front end found: {int(everywhere.sum())}\n")
    print(tabulate(scored_variants(shared, "front end (same faces)"), headers="keys",
                   tablefmt="github"))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
