"""Where the renderer puts a face's 5 template points, and where they sit on average in a set.

The 5 points are those of :mod:`au.alignment` (eye centres, nose tip, mouth corners; image-left
first): here the pupils, the nose tip and the mouth corners of the rendered face. Their mean
position over a set's frames, as fractions of the image (:func:`mean_template`), says how the
set frames its faces; ``au.predict`` cuts a detected face onto it (a ``template5`` crop on the
set's own template instead of ArcFace's), so a model trained on the renders sees real faces
framed as it saw the renders.
"""

from __future__ import annotations

import numpy as np

from au.data.synthetic.canvas import HeadProjector, Pose
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import Nuisance
from au.data.synthetic.render import _face_geometry
from au.data.synthetic.stills import StillsPlan
from au.data.synthetic.writer import SyntheticConfig, plan_for

#: Subjects and frames per subject :func:`mean_template` averages (spread over the set).
TEMPLATE_SUBJECTS = 12
TEMPLATE_FRAMES = 10


def rendered_landmarks(
    identity: Identity, intensities: np.ndarray, nuisance: Nuisance, size: int
) -> np.ndarray:
    """Pupils, nose tip and mouth corners (5, 2) of a face that ``render_face`` drew, in pixels.

    Image-left first; the arguments are ``render_face``'s.
    """
    parts, mouth = _face_geometry(identity, intensities)
    eyes = sorted((eye.pupil.mean(axis=0) for eye in parts.eyes), key=lambda p: p[0])
    corners = sorted(mouth.corners, key=lambda p: p[0])
    nose = np.array([0.0, identity.nose_length - 0.005])
    points = np.array([*eyes, nose, *corners])
    pose = Pose(nuisance.yaw, nuisance.pitch, nuisance.roll, nuisance.scale, nuisance.shift_x,
                nuisance.shift_y)  # fmt: skip
    return HeadProjector(pose, parts.profile_y, parts.profile_w)(points) * size


def frame_landmarks(cfg: SyntheticConfig, plan, frame: int) -> np.ndarray:
    """The 5 points (5, 2) of frame ``frame`` of a subject's plan (video or stills), in pixels."""
    if isinstance(plan, StillsPlan):
        still = plan.frames[frame]
        return rendered_landmarks(plan.identity, still.intensities, still.nuisance, cfg.image_size)
    intensities = plan.timeline.intensities[frame]
    return rendered_landmarks(plan.identity, intensities, plan.nuisances[frame], cfg.image_size)


def mean_template(cfg: SyntheticConfig) -> np.ndarray:
    """The mean of the 5 points (5, 2) over frames spread across the set, as image fractions.

    :data:`TEMPLATE_SUBJECTS` subjects and :data:`TEMPLATE_FRAMES` frames of each, evenly
    spaced; deterministic (the plans are).
    """
    subjects = np.linspace(0, cfg.num_subjects - 1, min(TEMPLATE_SUBJECTS, cfg.num_subjects))
    points = []
    for subject in np.unique(subjects.round().astype(int)):
        plan = plan_for(cfg, int(subject))
        count = len(plan.frames) if isinstance(plan, StillsPlan) else len(plan.nuisances)
        for frame in np.unique(np.linspace(0, count - 1, TEMPLATE_FRAMES).round().astype(int)):
            points.append(frame_landmarks(cfg, plan, int(frame)))
    return np.mean(points, axis=0) / cfg.image_size
