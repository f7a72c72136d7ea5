"""Command line: ``python -m au.prepare <name> --raw PATH [--out PATH] [options]``.

Prepares one data set from its original release into face crops plus ``index.csv`` /
``index.json``. A problem with the release (wrong folder, missing or corrupt file, label/frame
count mismatch) is printed as one line naming the file, without a traceback, and the exit status
is 2, as for every bad input au refuses (argparse's own errors exit 2 too). See
``datasets/README.md`` for the expected release layouts.

The data set names are the registered readers (:mod:`au.prepare.registry`); each reader names
the data-set-specific options below that it takes, and giving one to another reader is an error.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
from collections.abc import Sequence

from au.alignment import CUT_METHODS
from au.prepare import PrepareError, default_out, prepare, registered_readers
from au.prepare.registry import Reader

DEFAULT_CROP_SIZE = 128


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m au.prepare``."""
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m au.prepare", description=description)
    parser.add_argument("name", choices=sorted(registered_readers()), help="data set to prepare")
    parser.add_argument("--raw", required=True, help="folder of the release as distributed")
    parser.add_argument(
        "--out", help="output folder (default: $AU_DATA_ROOT/<name> or ~/.cache/au/data/<name>)"
    )
    parser.add_argument(
        "--crop-size",
        type=int,
        help=f"side of the square crops (default {DEFAULT_CROP_SIZE}; FER-2013: its own 48)",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    parser.add_argument(
        "--limit-subjects",
        nargs="+",
        metavar="SUBJECT",
        help="prepare only these subjects (CelebA: identities)",
    )
    parser.add_argument("--force", action="store_true", help="redo subjects already prepared")
    parser.add_argument(
        "--crop-geometry",
        choices=CUT_METHODS,
        help="readers that crop from landmarks: template5 (default: the 5 points onto the "
        "ArcFace template, as au.predict aligns MTCNN faces), eyes (the square around the "
        "landmarks, eyes levelled) or box (that square upright)",
    )
    parser.add_argument(
        "--no-rotate",
        dest="rotate",
        action="store_false",
        default=None,
        help="upright crops: --crop-geometry box (readers that crop from landmarks)",
    )
    parser.add_argument("--camera", choices=("left", "right", "both"), help="DISFA camera(s)")
    parser.add_argument("--frame-offset", type=int, help="BP4D: image number - CSV frame number")
    parser.add_argument(
        "--include-pose",
        action="store_true",
        default=None,
        help="Bosphorus: also the head-pose files (YR/PR/CR)",
    )
    parser.add_argument(
        "--include-occlusion",
        action="store_true",
        default=None,
        help="Bosphorus: also the occlusion files (O_)",
    )
    parser.add_argument(
        "--unlisted-aus",
        dest="unlisted",
        choices=("masked", "absent"),
        help="Bosphorus: label of the AUs a posed-AU file does not name",
    )
    parser.add_argument(
        "--val-fraction", type=float, help="FER-2013 folders: share of each train/ class for val"
    )
    parser.add_argument("--split-seed", type=int, help="FER-2013 folders: seed choosing val")
    return parser


def options_of(args: argparse.Namespace) -> dict:
    """Keyword options for ``prepare``; a data-set specific option given to another is an error."""
    readers = registered_readers()
    crop_size = args.crop_size
    if crop_size is None and not readers[args.name].native_size:
        crop_size = DEFAULT_CROP_SIZE
    options = {
        "crop_size": crop_size,
        "workers": args.workers,
        "force": args.force,
        "limit_subjects": args.limit_subjects,
    }
    options.update(rotate_option(args, readers))
    options.update(specific_options(args, readers))
    if (crop_size is not None and crop_size < 8) or args.workers < 1:
        raise PrepareError("--crop-size must be at least 8 and --workers at least 1")
    return options


def takes_rotate(reader: Reader) -> bool:
    """Whether a reader crops from eye positions, so ``--no-rotate`` means something to it."""
    return "rotate" in inspect.signature(reader.prepare).parameters


def rotate_option(args: argparse.Namespace, readers: dict[str, Reader]) -> dict:
    """``rotate`` and ``crop_geometry`` for a reader that crops from landmarks, else an error.

    Raises:
        PrepareError: For ``--no-rotate`` or ``--crop-geometry`` given to another reader.
    """
    if takes_rotate(readers[args.name]):
        options = {"rotate": args.rotate is not False}
        return options | ({"crop_geometry": args.crop_geometry} if args.crop_geometry else {})
    refused = {
        "--no-rotate": (args.rotate is False, "its crops are never rotated"),
        "--crop-geometry": (args.crop_geometry, "it does not crop from landmarks"),
    }
    for flag, (given, why) in refused.items():
        if given:
            names = sorted(name for name, reader in readers.items() if takes_rotate(reader))
            raise PrepareError(
                f"{flag} applies to {', '.join(names)} only, not {args.name} ({why})"
            )
    return {}


def specific_options(args: argparse.Namespace, readers: dict[str, Reader]) -> dict:
    """The data-set-specific options given, each checked to be one the chosen reader takes.

    Raises:
        PrepareError: For an option only other readers take, naming them.
    """
    options = {}
    specific = dict.fromkeys(key for reader in readers.values() for key in reader.options)
    for key in specific:
        value = getattr(args, key)  # an option a reader names is one of the parser's
        if value is None:
            continue
        names = [name for name, reader in readers.items() if key in reader.options]
        if args.name not in names:
            flag = "--unlisted-aus" if key == "unlisted" else "--" + key.replace("_", "-")
            raise PrepareError(f"{flag} applies to {', '.join(names)} only, not {args.name}")
        options[key] = value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        index = prepare(args.name, args.raw, args.out or default_out(args.name), **options_of(args))
    except PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished subjects are kept; re-run to continue", file=sys.stderr)
        return 130
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
