"""Generate a synthetic AU set (videos, posed stills or wild stills) as an index with JPEGs.

``generate_synthetic`` renders every subject's video (in parallel over subjects, each seeded from
``(seed, subject)`` so the output does not depend on the number of workers) into a hidden staging
folder and renames it into place only when complete; ``ensure_synthetic`` reuses a finished folder,
and where two processes rendered the same set at once, the first finished copy stays in place.
The folder name holds the regime and a hash of the config and of the package's source that the
regime uses, so changing either gives a new data set instead of silently reusing a stale one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from au.aus import DISFA_AUS
from au.data.index import INDEX_CSV, INDEX_JSON, write_index
from au.data.synthetic.dealing import DEALT_CONDITIONS, deal_conditions
from au.data.synthetic.episodes import SubjectPlan, code_intensities, plan_subject
from au.data.synthetic.nuisances import DIFFICULTY_LEVELS, nuisance_record
from au.data.synthetic.posed import plan_posed_subject
from au.data.synthetic.relief import SHADINGS
from au.data.synthetic.render import render_face
from au.data.synthetic.stills import STILL_REGIMES, StillsPlan, render_still, still_records
from au.data.synthetic.wild import plan_wild_subject
from au.processes import die_with_parent

MODALITIES = ("rgb", "gray", "thermal")
#: video: DISFA-like videos (the default); posed: CK+-like stills; wild: FER-2013-like stills.
REGIMES = ("video", *STILL_REGIMES)
_PACKAGE_DIR = Path(__file__).resolve().parent
#: Modules only the still regimes use: the video set's hash leaves them out.
_STILLS_MODULES = ("stills.py", "posed.py", "wild.py")
#: What each regime changes from the video defaults: posed = 100 identities x (a neutral frame,
#: 6 apexes, 3 near-apexes), 64 px gray, lab conditions (difficulty 1); wild = 2400 identities x
#: 1 still, 48 px gray, conditions of all levels up to 3 (see the data set cards).
REGIME_DEFAULTS: dict[str, dict[str, int | str]] = {
    "video": {},
    "posed": dict(num_subjects=100, frames_per_subject=10, image_size=64, difficulty=1,
                  modality="gray"),
    "wild": dict(num_subjects=2400, frames_per_subject=1, image_size=48, difficulty=3,
                 modality="gray"),
}  # fmt: skip


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate; every field changes the data and therefore the folder's hash."""

    seed: int = 0
    num_subjects: int = 24
    frames_per_subject: int = 150
    image_size: int = 128
    difficulty: int = 2
    modality: str = "rgb"
    num_folds: int = 3
    jpeg_quality: int = 95
    regime: str = "video"
    shading: str = "flat"  # or "relief" (a height map lit in 3D) or "mixed"; experiment 009

    def __post_init__(self) -> None:
        checks = {
            "regime": (self.regime in REGIMES, f"one of {list(REGIMES)}"),
            "num_subjects": (self.num_subjects >= 1, "at least 1"),
            "frames_per_subject": (self.frames_per_subject >= 1, "at least 1"),
            "image_size": (self.image_size >= 16, "at least 16 pixels"),
            "difficulty": (self.difficulty in DIFFICULTY_LEVELS, f"one of {[*DIFFICULTY_LEVELS]}"),
            "modality": (self.modality in MODALITIES, f"one of {list(MODALITIES)}"),
            "num_folds": (1 <= self.num_folds <= self.num_subjects, "1..num_subjects"),
            "jpeg_quality": (1 <= self.jpeg_quality <= 100, "1..100"),
            "shading": (self.shading in SHADINGS, f"one of {list(SHADINGS)}"),
        }
        if self.regime == "posed":
            checks["frames_per_subject"] = (
                self.frames_per_subject >= 2,
                "at least 2 for regime posed (a neutral frame and a posed one)",
            )
        for key, (valid, expected) in checks.items():
            if not valid:
                raise ValueError(f"synthetic.{key}={getattr(self, key)!r}: expected {expected}")

    @classmethod
    def for_regime(cls, regime: str, **overrides: int | str) -> SyntheticConfig:
        """The config of ``regime`` with its defaults (:data:`REGIME_DEFAULTS`), overridden."""
        if regime not in REGIMES:
            raise ValueError(f"synthetic.regime={regime!r}: expected one of {list(REGIMES)}")
        return cls(**{"regime": regime, **REGIME_DEFAULTS[regime], **overrides})

    @property
    def channels(self) -> int:
        """3 for RGB images, 1 for grayscale and thermal ones."""
        return 3 if self.modality == "rgb" else 1


def config_hash(cfg: SyntheticConfig) -> str:
    """Short sha256 of the config and of the source of every module of this package it uses."""
    digest = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    for module in sorted(_PACKAGE_DIR.glob("*.py")):
        if cfg.regime == "video" and module.name in _STILLS_MODULES:
            continue
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()[:10]


def default_data_root() -> Path:
    """``$AU_DATA_ROOT`` when set, else ``~/.cache/au/data``."""
    return Path(os.environ.get("AU_DATA_ROOT") or Path.home() / ".cache" / "au" / "data")


def dataset_folder(
    cfg: SyntheticConfig, root: str | Path | None = None, digest: str | None = None
) -> Path:
    """Where ``cfg``'s data set lives: ``root/synthetic/<modality>-d<difficulty>-<hash>``.

    The still regimes put theirs beside it, prefixed with the regime: ``posed-gray-d1-<hash>``;
    relief- and mixed-shaded sets say so: ``relief-rgb-d2-<hash>``.
    """
    root = Path(root).expanduser() if root is not None else default_data_root()
    digest = config_hash(cfg) if digest is None else digest
    prefix = "" if cfg.regime == "video" else f"{cfg.regime}-"
    prefix += "" if cfg.shading == "flat" else f"{cfg.shading}-"
    return root / "synthetic" / f"{prefix}{cfg.modality}-d{cfg.difficulty}-{digest}"


def subject_name(index: int, num_subjects: int = 0) -> str:
    """``0 -> "S01"``; zero-padded to the digits of ``num_subjects`` (``0, 2400 -> "S0001"``)."""
    return f"S{index + 1:0{max(2, len(str(num_subjects)))}d}"


def assign_folds(cfg: SyntheticConfig) -> dict[str, int]:
    """Subjects shuffled by the seed and dealt round-robin into folds 1..num_folds."""
    order = np.random.default_rng([cfg.seed, 1, 0]).permutation(cfg.num_subjects)
    return {
        subject_name(int(s), cfg.num_subjects): 1 + i % cfg.num_folds for i, s in enumerate(order)
    }


def subject_rows(cfg: SyntheticConfig, index: int, plan: SubjectPlan, fold: int) -> pd.DataFrame:
    """The index rows of one subject (labels and metadata, no rendering)."""
    subject, frames = subject_name(index, cfg.num_subjects), np.arange(cfg.frames_per_subject)
    columns = {
        "path": [f"images/{subject}/{f:05d}.jpg" for f in frames],
        "subject": subject,
        "frame": frames,
    }
    codes = code_intensities(plan.timeline.intensities)  # (T, 12)
    columns |= {au: codes[:, j] for j, au in enumerate(DISFA_AUS)}
    columns |= {
        "fold": fold,
        "emotion": plan.timeline.emotions,
        "episode": plan.timeline.episode_ids,
    }
    nuisances = pd.DataFrame([nuisance_record(n) for n in plan.nuisances])
    return pd.concat([pd.DataFrame(columns), nuisances], axis=1)


@functools.lru_cache(maxsize=8)
def dealt_conditions(cfg: SyntheticConfig) -> list[frozenset[str]]:
    """The conditions dealt to each subject of ``cfg`` (see :mod:`au.data.synthetic.dealing`).

    The wild regime deals none: its thousands of one-still identities hold every condition by
    chance.
    """
    if cfg.regime == "wild":
        return [frozenset()] * cfg.num_subjects
    folds = assign_folds(cfg)
    by_index = [folds[subject_name(i, cfg.num_subjects)] for i in range(cfg.num_subjects)]
    conditions = ("glasses",) if cfg.regime == "posed" else DEALT_CONDITIONS
    return deal_conditions(cfg.seed, by_index, cfg.difficulty, conditions)


def plan_for(cfg: SyntheticConfig, index: int) -> SubjectPlan | StillsPlan:
    """Subject ``index``'s plan in ``cfg``'s regime (both kinds have an ``identity``)."""
    frames, modality = cfg.frames_per_subject, cfg.modality
    dealt = dealt_conditions(cfg)[index]
    if cfg.regime == "posed":
        return plan_posed_subject(cfg.seed, index, frames, cfg.difficulty, modality, dealt)
    if cfg.regime == "wild":
        return plan_wild_subject(
            cfg.seed, index, cfg.num_subjects, frames, cfg.difficulty, modality, cfg.image_size
        )
    return plan_subject(cfg.seed, index, cfg.num_subjects, frames, cfg.difficulty, modality, dealt)


Rows = pd.DataFrame | list[dict[str, object]]


def _rows(cfg: SyntheticConfig, index: int, plan: SubjectPlan | StillsPlan, fold: int) -> Rows:
    """A video subject's rows as a table, a still identity's as records (tiny tables are slow)."""
    if isinstance(plan, StillsPlan):
        return still_records(plan, subject_name(index, cfg.num_subjects), fold)
    return subject_rows(cfg, index, plan, fold)


def _combined(parts: list[Rows]) -> pd.DataFrame:
    """One table of the subjects' rows, in subject order."""
    if parts and isinstance(parts[0], list):
        return pd.DataFrame([row for part in parts for row in part])
    return pd.concat(parts, ignore_index=True)


def label_table(cfg: SyntheticConfig) -> pd.DataFrame:
    """The full index table of ``cfg`` without rendering an image (fast: for statistics)."""
    folds = assign_folds(cfg)
    tables = []
    for index in range(cfg.num_subjects):
        fold = folds[subject_name(index, cfg.num_subjects)]
        tables.append(_rows(cfg, index, plan_for(cfg, index), fold))
    return _combined(tables)


def _encode(image: np.ndarray, quality: int) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def render_subject(cfg: SyntheticConfig, index: int, fold: int, folder: Path) -> Rows:
    """Render one subject's frames into ``folder`` and return its index rows."""
    plan = plan_for(cfg, index)
    rows = _rows(cfg, index, plan, fold)
    (folder / "images" / subject_name(index, cfg.num_subjects)).mkdir(parents=True, exist_ok=True)
    if isinstance(plan, StillsPlan):
        for row, frame in zip(rows, plan.frames, strict=True):
            image = render_still(plan.identity, frame, cfg.image_size, cfg.shading)
            (folder / row["path"]).write_bytes(_encode(image, cfg.jpeg_quality))
        return rows
    for path, intensities, nuisance in zip(
        rows["path"], plan.timeline.intensities, plan.nuisances, strict=True
    ):
        image = render_face(
            plan.identity, intensities, nuisance, size=cfg.image_size, shading=cfg.shading
        )
        (folder / path).write_bytes(_encode(image, cfg.jpeg_quality))
    return rows


def _start_worker(owner_pid: int) -> None:
    """One OpenCV thread per render worker; the worker ends when ``owner_pid`` ends."""
    cv2.setNumThreads(1)
    die_with_parent(owner_pid)


def _rendered_subjects(jobs: list[tuple], workers: int) -> Iterator[Rows]:
    """Render the subjects of ``jobs``, yielding their rows in subject order."""
    if workers <= 1:
        yield from (render_subject(*job) for job in jobs)
        return
    # One OpenCV thread per worker process: the parallelism is over subjects. Workers start
    # from a fork server: forking a process whose OpenCV/torch thread pools are running can
    # deadlock the child. A killed parent takes its workers with it (au.processes).
    processes = min(workers, len(jobs))
    chunks = max(1, len(jobs) // (8 * processes))  # many one-frame subjects: fewer round trips
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    ) as pool:
        try:
            yield from pool.map(render_subject, *zip(*jobs, strict=True), chunksize=chunks)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # do not render the rest after a failure
            raise


def _render_all(cfg: SyntheticConfig, folder: Path, workers: int, progress: bool) -> pd.DataFrame:
    folds = assign_folds(cfg)
    names = [subject_name(i, cfg.num_subjects) for i in range(cfg.num_subjects)]
    jobs = [(cfg, i, folds[name], folder) for i, name in enumerate(names)]
    total = cfg.num_subjects * cfg.frames_per_subject
    tables = []
    with tqdm(total=total, unit="frame", desc="synthetic", disable=not progress) as bar:
        for table in _rendered_subjects(jobs, workers):
            tables.append(table)
            bar.update(len(table))
    return _combined(tables)


def _subjects_by_fold(cfg: SyntheticConfig) -> dict[str, list[str]]:
    by_fold: dict[str, list[str]] = {str(k): [] for k in range(1, cfg.num_folds + 1)}
    for subject, fold in sorted(assign_folds(cfg).items()):
        by_fold[str(fold)].append(subject)
    return by_fold


def _index_meta(cfg: SyntheticConfig, digest: str) -> dict:
    return {
        "name": "synthetic" if cfg.regime == "video" else f"synthetic_{cfg.regime}",
        "regime": cfg.regime,
        "label_type": "intensity",
        "positive_threshold": 2,
        "aus": list(DISFA_AUS),
        "channels": cfg.channels,
        "num_folds": cfg.num_folds,
        "folds": _subjects_by_fold(cfg),
        "config": asdict(cfg),
        "hash": digest,
    }


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` is a finished data set (only finished ones are renamed into place)."""
    return (folder / INDEX_CSV).is_file() and (folder / INDEX_JSON).is_file()


def _remove_abandoned_builds(folder: Path) -> None:
    """Delete staging folders of ``folder`` left by processes that no longer run."""
    for staging in folder.parent.glob(f".{folder.name}.*-*-*"):
        pid = staging.name.rsplit(".", 1)[-1].split("-")[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except PermissionError:
            pass  # alive, owned by someone else


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``, replacing an existing one."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _keep_first_finished(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder`` unless another process finished ``folder`` first.

    The rename is atomic and refuses a non-empty target, so a process reading the set another
    one put in place never sees it disappear; the same config renders the same files, so the
    later copy is dropped. An existing folder that is not a finished set is replaced.
    """
    try:
        staging.rename(folder)
    except OSError:
        if not is_complete(folder):
            _move_into_place(staging, folder)
            return
        shutil.rmtree(staging, ignore_errors=True)


def generate_synthetic(
    cfg: SyntheticConfig,
    root: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
    replace: bool = True,
) -> Path:
    """Render ``cfg``'s data set and return its folder.

    Args:
        cfg: What to generate.
        root: Data root (default :func:`default_data_root`).
        workers: Processes rendering subjects in parallel; the output does not depend on it.
        progress: Show a progress bar.
        replace: Replace an existing copy; ``False`` keeps a finished copy another process put
            in place while this one rendered (two fits started together on a fresh data root).

    Returns:
        The folder holding ``index.csv``, ``index.json`` and ``images/``.
    """
    digest = config_hash(cfg)
    folder = dataset_folder(cfg, root, digest)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(folder)
    staging = folder.with_name(f".{folder.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        staging.mkdir()
        table = _render_all(cfg, staging, workers, progress)
        write_index(table, staging, meta=_index_meta(cfg, digest))
        if replace:
            _move_into_place(staging, folder)
        else:
            _keep_first_finished(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def ensure_synthetic(
    cfg: SyntheticConfig, root: str | Path | None = None, workers: int = 2
) -> Path:
    """Return ``cfg``'s data set folder, generating it first if it is not there yet."""
    folder = dataset_folder(cfg, root)
    if is_complete(folder):
        return folder
    return generate_synthetic(cfg, root=root, workers=workers, replace=False)
