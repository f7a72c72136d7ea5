"""Inference: face detection, the AU detector on face crops, media I/O, annotation and export."""

from au.inference.detector import AUDetector
from au.inference.faces import FaceBox, build_face_detector, face_crops
from au.inference.media import MediaReadError, Source, find_sources, read_frames
from au.inference.records import FacePredictions

__all__ = [
    "AUDetector",
    "FaceBox",
    "FacePredictions",
    "MediaReadError",
    "Source",
    "build_face_detector",
    "face_crops",
    "find_sources",
    "read_frames",
]
