"""What every data set reader shares, so a reader module holds only what its release is about.

A reader (one module of :mod:`au.prepare`) finds the files of its release, reads its labels,
locates each face and names its folds and ``index.json``. The rest is the same for all and is
here:

- :class:`CommonOptions` / :func:`common_options`: the options every reader takes (crop size,
  workers, force, limit_subjects), gathered from a reader's ``**common`` keyword arguments,
  with one clear error for any other, ``rotate`` included where a reader never rotates.
- :func:`landmark_geometry`: the crop geometry of a reader's landmark crops, from its
  ``crop_geometry`` and ``rotate`` options (default ``template5``, as ``au.predict`` cuts
  MTCNN faces); :func:`geometry_meta`: what ``index.json`` records of it.
- :class:`CropWriter`: cut a face from landmarks or a detector box
  (:func:`au.alignment.cut_face`) and write it with the data set's channel count; picklable,
  so worker processes share it.
- :func:`label_table`: index rows with the leading columns first, then one column per AU.
- :func:`subject_folds`, :func:`folds_in_turn`, :func:`warn_outside_split`: subject -> fold.
- :func:`prepare_units`: the resumable run over the units of work, then the index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from au.alignment import CROP_MARGIN, CUT_METHODS, CropGeometry, cut_face, five_points
from au.prepare import Part, run_units, write_prepared_index
from au.prepare.common import PrepareError, log, normalise_channels, write_image


@dataclass(frozen=True)
class CommonOptions:
    """The options every reader takes (the common flags of ``python -m au.prepare``).

    Attributes:
        crop_size: Side of the square crops; ``None`` keeps the released size (FER-2013).
        workers: Parallel processes.
        force: Redo the units already prepared.
        limit_subjects: Prepare only these subjects (CelebA: identities); ``None``: all.
    """

    crop_size: int | None = 128
    workers: int = 1
    force: bool = False
    limit_subjects: list[str] | None = None


COMMON_OPTION_NAMES = tuple(field.name for field in fields(CommonOptions))


def common_options(
    reader: str,
    given: Mapping[str, object],
    *,
    crop_size: int | None = 128,
    never_rotated: str | None = None,
) -> CommonOptions:
    """The common options of ``given`` (a reader's ``**common``), with the reader's defaults.

    Args:
        reader: The reader's name, for the error message.
        given: The keyword arguments a reader's ``prepare`` did not name itself.
        crop_size: The reader's default crop size (``None``: its released size).
        never_rotated: For a reader without a ``rotate`` option, why its crops cannot be
            rotated; it ends the error a ``rotate`` option gets.

    Raises:
        PrepareError: For ``rotate`` given to a reader that never rotates, or any other option
            that is not one of :data:`COMMON_OPTION_NAMES`.
    """
    if "rotate" in given and never_rotated is not None:
        raise PrepareError(
            f"{reader} takes no rotate option: its crops are never rotated ({never_rotated})"
        )
    unknown = sorted(set(given) - set(COMMON_OPTION_NAMES))
    if unknown:
        raise PrepareError(
            f"{reader} takes no option {', '.join(unknown)}: the options every reader takes are "
            f"{', '.join(COMMON_OPTION_NAMES)}, besides its own"
        )
    return CommonOptions(**{"crop_size": crop_size, **given})


#: Crops cut from a face detector's box: upright, :data:`~au.alignment.CROP_MARGIN` around it.
BOX_GEOMETRY = CropGeometry("box", CROP_MARGIN)


def landmark_geometry(
    method: str | None, rotate: bool, *, landmarks: int, margin: float = CROP_MARGIN
) -> CropGeometry:
    """The geometry of a reader's crops from landmarks, from its ``crop_geometry`` and ``rotate``.

    Args:
        method: ``template5``, ``eyes`` or ``box``; ``None``: ``template5`` (the crops
            ``au.predict`` cuts from MTCNN's 5 points), or ``box`` with ``rotate=False``.
        rotate: ``False`` (``--no-rotate``): upright crops, i.e. ``box``.
        landmarks: How many landmarks the release gives per face.
        margin: The margin of ``eyes`` and ``box`` crops around the landmarks' extent
            (``template5`` keeps :data:`~au.alignment.CROP_MARGIN` of the template's box).

    Raises:
        PrepareError: For another method, or ``rotate=False`` with a method that levels the eyes.
    """
    if method is not None and method not in CUT_METHODS:
        raise PrepareError(
            f"--crop-geometry must be one of {', '.join(CUT_METHODS)}, not {method!r}"
        )
    if not rotate and method not in (None, "box"):
        raise PrepareError(
            f"--no-rotate asks for upright crops but --crop-geometry {method} levels the eyes: "
            "give one of them (--no-rotate is --crop-geometry box)"
        )
    method = method or ("template5" if rotate else "box")
    if method == "template5":
        return CropGeometry(method)
    return CropGeometry(method, margin, landmarks)


def geometry_meta(geometry: CropGeometry, fallback: CropGeometry | None = None) -> dict:
    """``index.json``'s ``crop_geometry``, and ``crop_geometry_fallback`` for faces cut otherwise.

    ``fallback`` is the geometry of the faces a reader cuts another way where the release lacks
    what ``geometry`` needs (a detector box where there are no landmarks).
    """
    meta = {"crop_geometry": geometry.to_dict()}
    if fallback is not None and fallback != geometry:
        meta["crop_geometry_fallback"] = fallback.to_dict()
    return meta


@dataclass(frozen=True)
class CropWriter:
    """How a reader cuts its faces and where it writes them.

    Attributes:
        out: The output folder; crops go under it at the index's relative paths.
        size: Side of the square crops.
        gray: Whether the release is single-channel (every crop is then written with one).
        geometry: How crops from landmarks are cut (:func:`landmark_geometry`); crops from a
            detector box are always :data:`BOX_GEOMETRY`.
    """

    out: Path
    size: int
    gray: bool
    geometry: CropGeometry = BOX_GEOMETRY

    @property
    def channels(self) -> int:
        """The channel count of every crop: 1 for a gray release, else 3."""
        return 1 if self.gray else 3

    def from_points(
        self,
        image: np.ndarray,
        points: np.ndarray,
        *,
        eyes: tuple[np.ndarray, np.ndarray] | None = None,
        five: np.ndarray | None = None,
    ) -> np.ndarray:
        """The crop of the face with landmarks ``points`` (N, 2), as :attr:`geometry` says.

        ``template5`` maps ``five`` (the 5 template points) or those of the points' scheme
        (:func:`~au.alignment.five_points`) onto the template; ``eyes`` levels ``eyes`` or,
        for the usual schemes, the eyes found in ``points``.

        Raises:
            PrepareError: For ``template5`` with neither ``five`` nor a known scheme.
        """
        if self.geometry.method != "template5":
            return cut_face(image, self.geometry, self.size, points=points, eyes=eyes)
        five = five_points(points) if five is None else five
        if five is None:
            raise PrepareError(
                f"{len(points)} landmarks: not a scheme whose 5 template points au knows "
                "(5, 49, 66 or 68 points); prepare with --crop-geometry eyes"
            )
        return cut_face(image, self.geometry, self.size, points=five)

    def from_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The crop around a face detector's ``(x, y, w, h)`` box; never rotated (no eyes)."""
        return cut_face(image, BOX_GEOMETRY, self.size, box=box)

    def write(self, rel: str, crop: np.ndarray) -> str:
        """Write ``crop`` as JPEG at ``out / rel`` with the data set's channels; returns ``rel``."""
        write_image(self.out / rel, normalise_channels(crop, self.gray))
        return rel

    def part(self, table: pd.DataFrame) -> Part:
        """The finished unit of index rows ``table``, whose crops this writer wrote."""
        return Part(table, self.channels)


def label_table(labels: np.ndarray, aus: Sequence[str], **leading: object) -> pd.DataFrame:
    """Index rows: the ``leading`` columns in their order (``path``, ``subject``, ...), then AUs.

    Args:
        labels: One row per image, one column per AU of ``aus`` (T, A).
        aus: The AU column names.
        **leading: Column name -> values (one per row, or one for all).
    """
    table = pd.DataFrame(labels, columns=list(aus))
    for position, (name, values) in enumerate(leading.items()):
        table.insert(position, name, values)
    return table


def subject_folds(folds: Mapping[int, Sequence[str]]) -> dict[str, int]:
    """Subject -> fold of a published split given as fold -> its subjects."""
    return {subject: fold for fold, subjects in folds.items() for subject in subjects}


def folds_in_turn(subjects: Sequence[str], order: Sequence[str], num_folds: int = 3) -> dict:
    """Subject -> fold 1, 2, ..., ``num_folds`` in turn, by the subject's position in ``order``."""
    return {subject: order.index(subject) % num_folds + 1 for subject in subjects}


def warn_outside_split(subjects: Sequence[str], split: Mapping[str, int], data_set: str) -> None:
    """Log the subjects that the published split of ``data_set`` does not hold (fold 0)."""
    unknown = [s for s in subjects if s not in split]
    if unknown:
        log.warning("subjects %s are not in the standard %s split: fold 0", unknown, data_set)


def prepare_units(
    units: Sequence[str],
    work: Callable[[str], Part],
    out: Path,
    common: CommonOptions,
    *,
    options: dict,
    meta: dict,
    desc: str = "prepare",
) -> Path:
    """Run ``work`` on every unit (resumably, see :func:`~au.prepare.run_units`), write the index.

    Args:
        units: The units of work (subjects, shards) in index order.
        work: Unit -> its :class:`~au.prepare.Part`; picklable when ``common.workers > 1``.
        out: The output folder.
        common: The options every reader takes (``force`` and ``workers`` are used here).
        options: The options a finished unit was made with; a change redoes the unit.
        meta: The reader's ``index.json`` (channels and folds are added).
        desc: The progress bar's label.

    Returns:
        The written ``index.csv``.
    """
    parts = run_units(
        units,
        work,
        out,
        options=options,
        force=common.force,
        workers=common.workers,
        desc=desc,
    )
    return write_prepared_index(parts, out, meta)
