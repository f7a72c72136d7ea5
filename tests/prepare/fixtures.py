"""Builders of tiny synthetic releases in the exact layouts and file formats of the real ones.

Each frame shows a bright ellipse (the "face") on a dark background; the landmarks lie on that
ellipse, with the eyes inside it, so a correct crop is centred on the ellipse. Labels follow
known formulas (``disfa_value``, ...) that tests compare against.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import scipy.io

from au.alignment import landmark_affine
from au.aus import BP4D_AUS, DISFA_AUS

FRAME_SIZE = (200, 150)  # (width, height)
AXES = (26, 34)  # ellipse half-width, half-height


def face_centre(t: int) -> tuple[int, int]:
    """Where the face of frame ``t`` is drawn: it moves right by 4 px a frame."""
    return 70 + 4 * t, 72


#: Where the fixture face's nose tip and mouth corners are, in ellipse half-axes from its centre.
NOSE_TIP, MOUTH_CORNERS = (0.0, 0.1), ((-0.35, 0.4), (0.35, 0.4))
#: The fixture face's 5 template points in ellipse half-axes: eye centres, nose tip, mouth.
FIVE_POINTS = ((-0.4, -0.25), (0.4, -0.25), NOSE_TIP, *MOUTH_CORNERS)


def face_landmarks(centre: tuple[float, float], n: int = 66) -> np.ndarray:
    """``n`` points (66/68/49 schemes): eyes, nose tip and mouth corners inside the ellipse (at
    the scheme's indices), the rest on its outline."""
    cx, cy = centre
    a, b = AXES
    eyes = {66: (36, 42), 68: (36, 42), 49: (19, 25)}[n]
    outline = n - 12
    angles = np.linspace(0, 2 * np.pi, outline, endpoint=False)
    points = [(cx + a * np.cos(t), cy + b * np.sin(t)) for t in angles]
    left = [(cx - 0.4 * a + 3 * np.cos(t), cy - 0.25 * b + 2 * np.sin(t)) for t in range(6)]
    right = [(cx + 0.4 * a + 3 * np.cos(t), cy - 0.25 * b + 2 * np.sin(t)) for t in range(6)]
    points[eyes[0] : eyes[0]] = left
    points[eyes[1] : eyes[1]] = right
    nose, mouth = (30, (48, 54)) if n in (66, 68) else (13, (31, 37))
    for index, (dx, dy) in zip((nose, *mouth), (NOSE_TIP, *MOUTH_CORNERS), strict=True):
        points[index] = (cx + dx * a, cy + dy * b)
    return np.array(points[:n], dtype=np.float64)


def rotate_about(points: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """Rotate (N, 2) image points about ``centre`` (positive: clockwise on screen, y down)."""
    t = np.deg2rad(degrees)
    rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (np.asarray(points, float) - centre) @ rotation.T + centre


def draw_face(
    centre: tuple[int, int],
    size: tuple[int, int] = FRAME_SIZE,
    angle: float = 0.0,
    axes: tuple[int, int] = AXES,
) -> np.ndarray:
    """A BGR frame with a light ellipse at ``centre`` (tilted by ``angle``) and darker eyes."""
    frame = np.full((size[1], size[0], 3), 20, dtype=np.uint8)
    cv2.ellipse(frame, centre, axes, angle, 0, 360, (230, 230, 230), -1)
    eyes = [(centre[0] + dx * axes[0], centre[1] - 0.25 * axes[1]) for dx in (-0.4, 0.4)]
    for x, y in rotate_about(np.array(eyes), centre, angle):
        cv2.circle(frame, (int(round(x)), int(round(y))), 3, (90, 90, 90), -1)
    return frame


def write_video(path: Path, frames: int, gray: bool = False) -> None:
    """An MJPG ``.avi`` with ``frames`` frames, the face moving as ``face_centre``.

    Colour frames get a faint blue tint so that they are not three identical channels.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, 20, FRAME_SIZE, isColor=not gray)
    for t in range(frames):
        frame = draw_face(face_centre(t))
        if gray:
            frame = frame[:, :, 0]
        else:
            frame[:, :, 0] = np.clip(frame[:, :, 0].astype(int) + 20, 0, 255).astype(np.uint8)
        writer.write(frame)
    writer.release()


def disfa_value(subject: str, au_index: int, t: int) -> int:
    """The intensity written for ``DISFA_AUS[au_index]`` of ``subject`` at frame ``t``."""
    return (t + au_index + int(subject[2:])) % 6


def make_disfa(
    root: Path,
    subjects: dict[str, int],
    *,
    label_lines: dict[str, int] | None = None,
    video_dir: str = "Videos_LeftCamera",
    video_suffix: str = "_comp",
    landmark_dir: str = "tmp_frame_lm",
    landmark_names: str = "subject",
    flat_labels: bool = False,
    gray: bool = False,
) -> Path:
    """A DISFA release with ``subjects`` (name -> video frames) under ``root``.

    ``label_lines`` overrides the number of label lines per subject (default: frames).
    ``landmark_names`` is ``"subject"`` (``SN001_0000_lm.mat``, 0-based) or ``"l0"``
    (``l00001_lm.mat``, 1-based).
    """
    label_lines = label_lines or {}
    for subject, frames in subjects.items():
        write_video(root / video_dir / f"LeftVideo{subject}{video_suffix}.avi", frames, gray)
        labels = root / "ActionUnit_Labels" / ("" if flat_labels else subject)
        labels.mkdir(parents=True, exist_ok=True)
        lines = label_lines.get(subject, frames)
        for j, au in enumerate(DISFA_AUS):
            rows = [f"{t + 1},{disfa_value(subject, j, t)}" for t in range(lines)]
            (labels / f"{subject}_au{au[2:]}.txt").write_text("\n".join(rows) + "\n")
        folder = root / "Landmark_Points" / subject / landmark_dir
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(frames):
            name = f"{subject}_{t:04d}" if landmark_names == "subject" else f"l0{t + 1:04d}"
            scipy.io.savemat(folder / f"{name}_lm.mat", {"pts": face_landmarks(face_centre(t))})
    return root


def bright_centroid(image: np.ndarray) -> tuple[float, float]:
    """The (x, y) centroid of the bright (face) pixels of a crop."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ys, xs = np.nonzero(gray > 128)
    return float(xs.mean()), float(ys.mean())


def template_face_centre(
    size: int, axes: tuple[float, float] = AXES, five=FIVE_POINTS
) -> tuple[float, float]:
    """Where a ``template5`` crop of ``size`` puts the centre of an upright fixture face.

    The crop is the similarity taking the face's 5 points (``five``, in half-axes ``axes``
    from the centre) onto the template, so the centre lands where it takes the origin.
    """
    matrix = landmark_affine(np.asarray(five) * axes, size)
    return float(matrix[0, 2]), float(matrix[1, 2])


def assert_crops_centred(index, size: int, at: tuple[float, float] | None = None) -> None:
    """Every crop of ``index`` is a ``size`` square colour image with the face's centre at
    ``at`` (default: the crop's centre), within 1.5 px."""
    at = at or (size / 2, size / 2)
    for path in index.image_paths():
        crop = cv2.imread(str(path))
        assert crop.shape == (size, size, 3)
        x, y = bright_centroid(crop)
        assert abs(x - at[0]) < 1.5 and abs(y - at[1]) < 1.5


def disfa_plus_value(trial: int, au_index: int, t: int) -> int:
    """The DISFA+ intensity of ``DISFA_AUS[au_index]`` in trial number ``trial`` at image ``t``."""
    return (2 * t + au_index + trial) % 6


def make_disfa_plus(root: Path, subjects: dict[str, dict[str, int]], *, mat: bool = True) -> Path:
    """A DISFA+ release: ``subjects`` maps subject -> {trial name: images}.

    With ``mat``, each trial has its ``*_FaceCropped.mat`` (the released face crop is the whole
    frame here); without, only ``Images/`` (crops then come from the face detector).
    """
    for subject, trials in subjects.items():
        for k, (trial, count) in enumerate(sorted(trials.items())):
            images = root / "Images" / subject / trial
            labels = root / "Labels" / subject / trial
            images.mkdir(parents=True, exist_ok=True)
            labels.mkdir(parents=True, exist_ok=True)
            cells = np.empty((1, count), dtype=object)
            for t in range(count):
                frame = draw_face(face_centre(t))
                cv2.imwrite(str(images / f"{t:03d}.jpg"), frame)
                cells[0, t] = {
                    "imgID": f"{t:03d}.jpg",
                    "ImgCropped": cv2.cvtColor(frame, cv2.COLOR_BGR2RGB),
                    "LndPntCropped": face_landmarks(face_centre(t), 49),
                }
            for j, au in enumerate(DISFA_AUS):
                rows = [f"{t:03d}.jpg     {disfa_plus_value(k, j, t)}" for t in range(count)]
                text = f"{subject} {trial} {au}\nImage     Intensity\n" + "\n".join(rows) + "\n"
                (labels / f"{au}.txt").write_text(text)
            if mat:
                folder = root / "FaceLandmarks" / subject
                folder.mkdir(parents=True, exist_ok=True)
                scipy.io.savemat(folder / f"{trial}_FaceCropped.mat", {"FaceImg_CropResize": cells})
    return root


#: AU columns of the fixture's BP4D CSVs: more than the 12 BP4D AUs, as in the release.
BP4D_CSV_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 23, 24, 25)


def bp4d_value(au_number: int, frame: int) -> int:
    """The occurrence code (0, 1 or 9 = not coded) of an AU at a frame."""
    return 9 if (frame + au_number) % 5 == 0 else (frame + au_number) % 2


def make_bp4d(
    root: Path, subjects: dict[str, dict[str, range]], *, missing: tuple[str, ...] = ()
) -> Path:
    """A BP4D release: ``subjects`` maps subject -> {task: coded frame numbers}.

    Task ``T1`` images use the plain frame number, others 4-digit zero padding; image files named
    in ``missing`` (``"F001/T1/101"``) are left out.
    """
    for subject, tasks in subjects.items():
        for task, frames in tasks.items():
            csv = root / "AUCoding" / "AU_OCC" / f"{subject}_{task}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            lines = [",".join(["0", *map(str, BP4D_CSV_AUS)])]
            lines += [
                ",".join([str(f), *(str(bp4d_value(a, f)) for a in BP4D_CSV_AUS)]) for f in frames
            ]
            csv.write_text("\n".join(lines) + "\n")
            folder = root / "Sequences" / subject / task
            folder.mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(frames):
                if f"{subject}/{task}/{frame}" in missing:
                    continue
                name = str(frame) if task == "T1" else f"{frame:04d}"
                cv2.imwrite(str(folder / f"{name}.jpg"), draw_face(face_centre(t)))
    return root


def bp4d_expected(frame: int) -> list[float]:
    """The 12 BP4D labels of a fixture frame as the index should hold them (NaN for 9)."""
    values = [bp4d_value(int(au[2:]), frame) for au in BP4D_AUS]
    return [float("nan") if v == 9 else float(v) for v in values]


CELEBA_ATTRIBUTES = [
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
]
#: Fixture images: (identity, official partition). Identity 10 spans train and test.
CELEBA_IMAGES = [("10", 0), ("10", 0), ("10", 2), ("7", 1), ("7", 1), ("2880", 2), ("2880", 2)]
CELEBA_SIZE, CELEBA_CENTRE, CELEBA_AXES = (178, 218), (89, 120), (40, 52)
#: The 5 CelebA landmarks in half-axes from the face's centre (written rounded to pixels).
CELEBA_FIVE = ((-0.4, -0.3), (0.4, -0.3), (0.0, 0.0), (-0.3, 0.3), (0.3, 0.3))


def celeba_attributes(i: int) -> list[int]:
    """The 40 attribute values (-1/1) of fixture image ``i`` (0-based)."""
    values = [1 if (i + k) % 3 == 0 else -1 for k in range(40)]
    values[CELEBA_ATTRIBUTES.index("Smiling")] = 1 if i % 2 == 0 else -1
    values[CELEBA_ATTRIBUTES.index("Mouth_Slightly_Open")] = 1 if i % 3 == 0 else -1
    return values


def make_celeba(root: Path) -> Path:
    """A CelebA release (``Anno/``, ``Eval/``, ``Img/img_align_celeba/``) with CRLF text files."""
    for folder in ("Anno", "Eval", "Img/img_align_celeba"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    centre, axes = np.array(CELEBA_CENTRE), np.array(CELEBA_AXES)
    marks = (centre + np.array(CELEBA_FIVE) * axes).ravel()
    n = len(CELEBA_IMAGES)
    attr = [str(n), " ".join(CELEBA_ATTRIBUTES) + " "]
    land = [
        str(n),
        "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x "
        "leftmouth_y rightmouth_x rightmouth_y",
    ]
    ids, parts = [], []
    for i, (identity, partition) in enumerate(CELEBA_IMAGES):
        name = f"{i + 1:06d}.jpg"
        attr.append(name + " " + " ".join(f"{v:2d}" for v in celeba_attributes(i)))
        land.append(f"{name:<10}" + "".join(f"{round(v):>5d}" for v in marks))
        ids.append(f"{name} {identity}")
        parts.append(f"{name} {partition}")
        image = draw_face(CELEBA_CENTRE, CELEBA_SIZE, axes=CELEBA_AXES)
        cv2.imwrite(str(root / "Img/img_align_celeba" / name), image)
    for path, lines in (
        ("Anno/list_attr_celeba.txt", attr),
        ("Anno/list_landmarks_align_celeba.txt", land),
        ("Anno/identity_CelebA.txt", ids),
        ("Eval/list_eval_partition.txt", parts),
    ):
        (root / path).write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return root


BOSPHORUS_LANDMARKS = {
    "Outer left eyebrow": (-0.7, -0.6),
    "Middle left eyebrow": (-0.45, -0.7),
    "Inner left eyebrow": (-0.2, -0.6),
    "Inner right eyebrow": (0.2, -0.6),
    "Middle right eyebrow": (0.45, -0.7),
    "Outer right eyebrow": (0.7, -0.6),
    "Outer left eye corner": (-0.6, -0.25),
    "Inner left eye corner": (-0.2, -0.25),
    "Inner right eye corner": (0.2, -0.25),
    "Outer right eye corner": (0.6, -0.25),
    "Nose saddle left": (-0.1, -0.2),
    "Nose saddle right": (0.1, -0.2),
    "Left nose peak": (-0.2, 0.15),
    "Nose tip": (0.0, 0.1),
    "Right nose peak": (0.2, 0.15),
    "Left mouth corner": (-0.35, 0.4),
    "Upper lip outer middle": (0.0, 0.32),
    "Right mouth corner": (0.35, 0.4),
    "Upper lip inner middle": (0.0, 0.38),
    "Lower lip inner middle": (0.0, 0.42),
    "Lower lip outer middle": (0.0, 0.5),
    "Chin middle": (0.0, 0.7),
}


def write_lm2(path: Path, centre: tuple[int, int], angle: float = 0.0) -> None:
    """A ``.lm2`` file with the 22 Bosphorus landmarks around a face at ``centre``."""
    names = list(BOSPHORUS_LANDMARKS)
    offsets = np.array([BOSPHORUS_LANDMARKS[n] for n in names]) * AXES
    points = rotate_about(offsets + centre, centre, angle)
    lines = [
        "# LM2 - 2D Landmark File",
        "",
        f"{len(names)} landmarks:",
        "Labels:",
        *names,
        "",
        "2D Image coordinates:",
        *(f"{x:.3f} {y:.3f}" for x, y in points),
    ]
    path.write_text("\n".join(lines) + "\n")


def make_bosphorus(
    root: Path,
    subjects: dict[str, list[str]],
    tilt: dict[str, float] | None = None,
    gray: bool = False,
) -> Path:
    """A Bosphorus release under ``root/BosphorusDB``: subject -> file stems without subject.

    E.g. ``{"bs000": ["N_N_0", "LFAU_12_0"]}``. ``tilt`` rotates the face of a stem by degrees;
    ``gray`` stores single-channel PNGs.
    """
    tilt = tilt or {}
    centre = (100, 75)
    for subject, stems in subjects.items():
        folder = root / "BosphorusDB" / subject
        folder.mkdir(parents=True, exist_ok=True)
        for stem in stems:
            angle = tilt.get(stem, 0.0)
            image = draw_face(centre, angle=angle)
            cv2.imwrite(str(folder / f"{subject}_{stem}.png"), image[:, :, 0] if gray else image)
            write_lm2(folder / f"{subject}_{stem}.lm2", centre, angle)
    return root
