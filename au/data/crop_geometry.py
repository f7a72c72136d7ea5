"""What a data set's face crops are: the crop geometry a data module hands to its checkpoints.

A prepared index records its crops in ``index.json`` (``crop_geometry``, written by
``au.prepare``: see :class:`au.alignment.CropGeometry`); the synthetic generator's sets are
described by :func:`synthetic_crop_geometry`. :class:`~au.data.datamodule.AUDataModule` keeps
the geometry of what it serves and ``au.fit`` saves it in the checkpoint's ``data_config``, so
``au.predict`` cuts faces the way the model saw them in training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from au.data.index import AUIndex
from au.errors import IndexFormatError

log = logging.getLogger(__name__)


def synthetic_crop_geometry(regime: str, config: dict | None = None) -> dict:
    """How the synthetic generator frames its faces (``crop_geometry`` of its sets).

    Renders are not aligned: a frontal, unshifted head has its face origin (cheekbone line,
    midline) at ``face_centre`` (fractions of the image) and one face unit spans ``face_zoom``
    image widths (stills are drawn larger, as crops), and each frame's head pose (yaw, pitch,
    roll, scale, shift) moves the face from there. With the set's ``config``
    (:class:`~au.data.synthetic.SyntheticConfig`'s fields), ``template`` holds the mean position
    of the 5 template points over the set's frames (:func:`au.data.synthetic.landmarks.
    mean_template`), onto which ``au.predict`` cuts detected faces.
    """
    from au.data.synthetic.canvas import FRAME_CENTER_Y, FRAME_ZOOM
    from au.data.synthetic.stills import CROP_ZOOM, STILL_REGIMES

    zoom = FRAME_ZOOM * (CROP_ZOOM if regime in STILL_REGIMES else 1.0)
    record = {
        "method": "synthetic",
        "regime": regime,
        "face_zoom": round(zoom, 6),
        "face_centre": [0.5, FRAME_CENTER_Y],
        "aligned": False,
    }
    if config is not None:
        from au.data.synthetic import SyntheticConfig
        from au.data.synthetic.landmarks import mean_template

        try:
            settings = SyntheticConfig(**config)
        except (TypeError, ValueError) as err:  # a hand-edited index.json
            raise IndexFormatError(f"synthetic set config {config!r}: {err}") from err
        points = mean_template(settings)
        record["template"] = [[round(float(x), 4), round(float(y), 4)] for x, y in points]
    return record


def crop_geometry_of(index: AUIndex) -> dict | None:
    """What an index's crops are: ``index.json``'s ``crop_geometry`` (``None``: not recorded).

    A synthetic set (its ``index.json`` names its ``regime``) gets
    :func:`synthetic_crop_geometry`.
    """
    meta = index.meta
    if "crop_geometry" in meta:
        return dict(meta["crop_geometry"])
    if str(meta.get("name", "")).startswith("synthetic") and "regime" in meta:
        return synthetic_crop_geometry(meta["regime"], meta.get("config"))
    return None


def combined_crop_geometry(indexes: Sequence[AUIndex]) -> dict | None:
    """The crop geometry the indexes share; ``{"method": "mixed", "parts": ...}`` if they differ."""
    geometries = [crop_geometry_of(index) for index in indexes]
    if all(geometry == geometries[0] for geometry in geometries):
        return geometries[0]
    names = [index.meta.get("name", index.root.name) for index in indexes]
    parts = [{"name": n, "crop_geometry": g} for n, g in zip(names, geometries, strict=True)]
    log.warning("the combined data sets were cropped differently: %s", parts)
    return {"method": "mixed", "parts": parts}
