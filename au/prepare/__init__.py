"""Prepare real AU data sets from their original releases into the index format.

``python -m au.prepare <name> --raw PATH`` reads a licence-restricted release exactly as
distributed and writes face crops plus ``index.csv``/``index.json`` (see ``au.data.index`` and
``datasets/README.md``). Work is split into units (a subject, or a shard of identities); each
finished unit is saved atomically under ``<out>/.parts/``, so an interrupted run loses nothing
already prepared and a re-run skips finished units (``force=True`` redoes them).

Each reader is one module of this package whose ``prepare(raw, out, **options)`` function is
decorated with :func:`~au.prepare.registry.register_reader`; :func:`prepare` and the command
line find it by name (:mod:`au.prepare.registry`), so a new data set needs no edit here. What
the built-in readers share (the common options, cutting and writing crops, the run that writes
the index) is in :mod:`au.prepare.reader_base`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from au.data.dataset import ImageReadError
from au.data.index import write_index
from au.prepare.common import PrepareError, log
from au.prepare.registry import reader, register_reader, registered_readers
from au.processes import die_with_parent

__all__ = [
    "Part",
    "PrepareError",
    "default_out",
    "prepare",
    "register_reader",
    "registered_readers",
    "run_units",
    "write_prepared_index",
]

PARTS_DIR = ".parts"


@dataclass
class Part:
    """The index rows of one finished unit and the channel count of its crops (1 or 3)."""

    table: pd.DataFrame
    channels: int


def default_out(name: str) -> Path:
    """``$AU_DATA_ROOT/<name>``, or ``~/.cache/au/data/<name>`` when the variable is unset.

    ``<name>`` is the reader's ``out_name`` (FER-2013's two releases share ``fer2013``).
    """
    root = os.environ.get("AU_DATA_ROOT")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "au" / "data"
    readers = registered_readers()
    return base / (readers[name].out_name if name in readers else name)


def prepare(name: str, raw: str | Path, out: str | Path | None = None, **options) -> Path:
    """Prepare data set ``name`` from ``raw`` into ``out``; returns the written ``index.csv``.

    Raises:
        PrepareError: On an unknown ``name`` (naming the known ones) or a problem with the
            release (an image that is missing, cut short or corrupt included).
    """
    prepare_release = reader(name).prepare
    target = Path(out).expanduser() if out else default_out(name)
    try:
        return prepare_release(Path(raw).expanduser(), target, **options)
    except ImageReadError as err:
        raise PrepareError(str(err)) from err


def _part_paths(out: Path, unit: str) -> tuple[Path, Path]:
    folder = out / PARTS_DIR
    return folder / f"{unit}.csv", folder / f"{unit}.json"


def _save_part(out: Path, unit: str, part: Part, options: dict) -> None:
    csv_path, marker = _part_paths(out, unit)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = csv_path.with_suffix(".csv.tmp")
    part.table.to_csv(tmp, index=False)
    tmp.replace(csv_path)
    marker_tmp = marker.with_suffix(".json.tmp")
    info = {"rows": len(part.table), "channels": part.channels, "options": options}
    marker_tmp.write_text(json.dumps(info, sort_keys=True))
    marker_tmp.replace(marker)


def _load_part(out: Path, unit: str) -> Part:
    csv_path, marker = _part_paths(out, unit)
    info = json.loads(marker.read_text())
    if info["rows"] == 0:
        return Part(pd.DataFrame(), info["channels"])
    table = pd.read_csv(csv_path, dtype={"subject": str, "path": str})
    return Part(table, info["channels"])


def _is_done(out: Path, unit: str, options: dict) -> bool:
    csv_path, marker = _part_paths(out, unit)
    if not (marker.is_file() and csv_path.is_file()):
        return False
    try:
        saved = json.loads(marker.read_text()).get("options")
    except json.JSONDecodeError:
        return False
    return saved == json.loads(json.dumps(options, sort_keys=True))


def run_units(
    units: Sequence[str],
    work: Callable[[str], Part],
    out: Path,
    *,
    options: dict | None = None,
    force: bool = False,
    workers: int = 1,
    desc: str = "prepare",
) -> list[Part]:
    """Run ``work`` on every unit not yet finished (all with ``force``), saving each atomically.

    A unit counts as finished when its part was saved with the same ``options`` (crop size,
    camera, ...), so changing an option redoes it. ``work`` must be picklable (a module-level
    function or a ``functools.partial`` of one) when ``workers > 1``. Returns the parts of all
    ``units``, in order.
    """
    options = options or {}
    todo = [u for u in units if force or not _is_done(out, u, options)]
    if len(todo) < len(units):
        log.info(
            "%d of %d units already prepared in %s: skipping them (--force redoes them)",
            len(units) - len(todo),
            len(units),
            out,
        )
    with tqdm(total=len(units), initial=len(units) - len(todo), desc=desc, unit="unit") as bar:
        if workers <= 1:
            for unit in todo:
                _save_part(out, unit, work(unit), options)
                bar.update()
        else:
            _run_parallel(todo, work, out, options, workers, bar)
    return [_load_part(out, u) for u in units]


def _run_parallel(
    units: Sequence[str], work: Callable, out: Path, options: dict, workers: int, bar: tqdm
) -> None:
    """Run units in ``workers`` processes, saving each as it finishes; stop at the first error."""
    with ProcessPoolExecutor(
        max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:  # a killed au.prepare takes its workers with it
        futures = {pool.submit(work, unit): unit for unit in units}
        try:
            for future in as_completed(futures):
                _save_part(out, futures[future], future.result(), options)
                bar.update()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def write_prepared_index(parts: Sequence[Part], out: Path, meta: dict) -> Path:
    """Concatenate the parts and write ``index.csv`` and ``index.json`` (channels, folds added)."""
    tables = [p.table for p in parts if len(p.table)]
    if not tables:
        raise PrepareError(f"nothing was prepared into {out}: no usable image in the release")
    table = pd.concat(tables, ignore_index=True)
    meta = dict(meta)
    meta["channels"] = 1 if all(p.channels == 1 for p in parts if len(p.table)) else 3
    if "fold" in table.columns:
        groups = table.groupby("fold")["subject"].unique()
        meta["folds"] = {str(int(k)): sorted(map(str, v)) for k, v in groups.items()}
        meta.setdefault("num_folds", int(table["fold"].max()))
    path = write_index(table, out, meta)
    log.info("wrote %s (%d rows, %d subjects)", path, len(table), table["subject"].nunique())
    return path
