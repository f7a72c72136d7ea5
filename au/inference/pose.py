"""Head pose (yaw, pitch, roll in degrees) from the 5 landmarks of a face.

Roll is the angle of the eye line (positive when the right-hand eye is lower: the head turned
clockwise in the image). Yaw and pitch come from a perspective-n-point fit (``cv2.solvePnP``,
SQPnP) of the 5 points to the same points on a generic 3-D face (:data:`FACE_MODEL`, millimetres,
proportions of ArcFace's 5-point template with typical depths), seen by a pinhole camera whose
focal length is the frame's longer side and whose centre is the frame's centre. Signs follow the
synthetic renderer (:mod:`au.data.synthetic.nuisances`): positive yaw turns the face towards the
image's right, positive pitch tilts it down.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Generic face, x to the image's right, y down, z away from the camera, origin at the nose tip:
#: left eye, right eye, nose tip, mouth left, mouth right (the order of MTCNN's landmarks).
FACE_MODEL = np.array(
    [
        [-31.5, -36.0, 30.0],
        [31.5, -36.0, 30.0],
        [0.0, 0.0, 0.0],
        [-26.0, 37.0, 22.0],
        [26.0, 37.0, 22.0],
    ]
)


def eye_line_roll(landmarks: np.ndarray) -> float:
    """Roll in degrees from the two eye points (the first two of the 5)."""
    (lx, ly), (rx, ry) = sorted(np.asarray(landmarks, np.float64)[:2].tolist())
    return math.degrees(math.atan2(ry - ly, rx - lx))


def camera_matrix(width: int, height: int) -> np.ndarray:
    """A pinhole camera for a ``width`` x ``height`` frame: focal length its longer side."""
    focal = float(max(width, height))
    return np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])


def rotation_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees of ``rotation`` = Rz(roll) @ Rx(pitch) @ Ry(-yaw)."""
    pitch = math.asin(float(np.clip(rotation[2, 1], -1.0, 1.0)))
    yaw = -math.atan2(-rotation[2, 0], rotation[2, 2])
    roll = math.atan2(-rotation[0, 1], rotation[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def rotation_of(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation (3, 3) that :func:`rotation_angles` reads back as these degrees."""
    y, p, r = (math.radians(a) for a in (-yaw, pitch, roll))
    turn_y = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    turn_x = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    turn_z = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return turn_z @ turn_x @ turn_y


def head_pose(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """Yaw, pitch (PnP fit) and roll (eye line) in degrees of a face's 5 landmarks (5, 2)."""
    points = np.asarray(landmarks, np.float64).reshape(5, 1, 2)
    found, rvec, _ = cv2.solvePnP(
        FACE_MODEL, points, camera_matrix(width, height), None, flags=cv2.SOLVEPNP_SQPNP
    )
    roll = eye_line_roll(landmarks)
    if not found:
        return math.nan, math.nan, roll
    yaw, pitch, _ = rotation_angles(cv2.Rodrigues(rvec)[0])
    return yaw, pitch, roll
