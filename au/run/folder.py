"""Run folders: unique names, and none left behind by a run that never started.

Importing this module registers the ``au.run_stamp`` resolver that the Hydra run and sweep
folders are named with: the time to the millisecond plus a random suffix, so two runs started
in the same second (concurrent runs, multiruns, SLURM arrays) never share a folder. It is
cached per config like Hydra's ``now``, so every job of a sweep sees the same sweep folder.

``bad_input_stops_run`` wraps a command: it checks the config values, and turns an error the
user can fix (bad config value, index, split, checkpoint, weights file, missing file) into one
``error:`` message on stderr and exit status 2. Whatever stops a command (a user error, a
crash, Ctrl-C), a run folder holding only what Hydra wrote before the command began
(``.hydra/``, the job log) is removed, with any parents left empty; errors other than the
user's keep their traceback.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from au.errors import (
    CheckpointError,
    CheckpointWriteError,
    ConfigValueError,
    ExportUnavailableError,
    ImageReadError,
    IndexFormatError,
    MediaReadError,
    MissingPackageError,
    NoWindowError,
    PretrainedWeightsError,
    RunFolderError,
    SplitError,
    UnknownAUError,
    UnknownBackboneError,
)
from au.run.config_checks import check_config_values

#: Errors caused by input a user can fix: reported in one message, without a traceback.
INPUT_ERRORS = (
    ConfigValueError,
    IndexFormatError,
    SplitError,
    CheckpointError,
    CheckpointWriteError,
    ExportUnavailableError,
    NoWindowError,
    UnknownBackboneError,
    PretrainedWeightsError,
    MissingPackageError,
    ImageReadError,
    MediaReadError,
    UnknownAUError,
    RunFolderError,
    FileNotFoundError,
)
#: What Hydra writes into a run folder before the command starts.
HYDRA_ENTRIES = (".hydra",)


def run_stamp() -> str:
    """``2026-12-02_16-10-05.123-9f3a1c``: local time to the millisecond, 6 random hex digits."""
    now = datetime.now()
    return f"{now:%Y-%m-%d_%H-%M-%S}.{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


OmegaConf.register_new_resolver("au.run_stamp", run_stamp, use_cache=True, replace=True)


def holds_only_hydra_files(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but Hydra's ``.hydra/`` and job ``*.log`` files."""
    return all(p.name in HYDRA_ENTRIES or p.suffix == ".log" for p in folder.iterdir())


def remove_unstarted_run(folder: str | Path) -> bool:
    """Remove a run folder holding only Hydra's files, then its parents left empty.

    Parents are removed up to the first one that holds something else; the working folder and
    its ancestors are never removed. Returns whether ``folder`` was removed.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir() or not holds_only_hydra_files(folder):
        return False
    shutil.rmtree(folder)
    keep = {Path.cwd().resolve(), *Path.cwd().resolve().parents, Path.home().resolve()}
    for parent in folder.parents:
        if parent in keep or any(parent.iterdir()):
            break
        parent.rmdir()
    return True


@contextmanager
def bad_input_stops_run(
    config: DictConfig, command_keys: Mapping[str, object] | None = None
) -> Iterator[None]:
    """Check ``config``'s values, then run the body; bad input exits with one message.

    ``command_keys`` types the keys the command reads itself (its ``CONFIG_KEYS``, see
    :func:`~au.run.config_checks.check_config_values`).

    Any other exception propagates with its traceback; in both cases a run folder holding
    only Hydra's files is removed (:func:`remove_unstarted_run`).

    Raises:
        SystemExit: Status 2 after printing ``error: <message>`` (one such line per line of
            the message) for an error in :data:`INPUT_ERRORS`.
    """
    try:
        check_config_values(config, command_keys)
        yield
    except INPUT_ERRORS as err:
        remove_this_run_if_unstarted()
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    except BaseException:
        remove_this_run_if_unstarted()
        raise


def remove_this_run_if_unstarted() -> None:
    """Remove the current Hydra job's run folder if it holds only Hydra's files."""
    if HydraConfig.initialized():
        remove_unstarted_run(HydraConfig.get().runtime.output_dir)
