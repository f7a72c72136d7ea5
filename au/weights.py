"""``python -m au.weights``: fetch ImageNet weights that can be had offline (MobileNetV2).

Examples:
    python -m au.weights                      # fetch, check, convert, cache mobilenetv2_100
    python -m au.weights --from-file mobilenet_v2-b0353104.pth   # use a file you already have
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from au.models.pretrained import (
    SOURCES,
    PretrainedWeightsError,
    fetch_weights,
    install_torchvision_checkpoint,
    weights_cache_dir,
)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m au.weights", description=__doc__)
    parser.add_argument("model", nargs="?", default="mobilenetv2_100", choices=sorted(SOURCES))
    parser.add_argument("--from-file", type=Path, help="a torchvision checkpoint already on disk")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $AU_WEIGHTS_DIR")
    parser.add_argument("--force", action="store_true", help="fetch again even if cached")
    args = parser.parse_args(argv)
    try:
        if args.from_file is not None:
            if not args.from_file.exists():
                raise PretrainedWeightsError(f"no such file: {args.from_file}")
            path = install_torchvision_checkpoint(
                args.from_file, SOURCES[args.model], args.cache_dir
            )
        else:
            path = fetch_weights(args.model, args.cache_dir, force=args.force)
    except PretrainedWeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"ImageNet weights for {args.model}: {path}")
    print(f"(cache folder: {args.cache_dir or weights_cache_dir()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
