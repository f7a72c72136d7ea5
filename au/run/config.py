"""Composing au's Hydra configs from Python (tests, benchmarks, cross-validation)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

#: The repository's ``configs/`` (au installs editable, so it sits beside the package).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def compose_config(name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose ``configs/<name>.yaml`` with command-line style overrides.

    ``paths.output_dir`` must be among the overrides when the config refers to Hydra's
    runtime output folder (as ``fit`` does), since no Hydra run is active.
    """
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(
            f"au's configs are not at {CONFIG_DIR}: install au editable (pip install -e .)"
        )
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides or []))
