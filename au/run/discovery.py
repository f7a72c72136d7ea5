"""Plug-in discovery: import every module of a package so its registry decorators run.

Losses (``@register_loss``), data set readers (``@register_reader``) and tasks
(``@register_task``) register themselves when their module is imported; each registry calls
:func:`import_submodules` on its package the first time its names are needed.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable


def import_submodules(package: str, skip: Iterable[str] = ()) -> None:
    """Import every direct submodule of ``package`` except those named in ``skip``."""
    skipped = set(skip)
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name not in skipped:
            importlib.import_module(f"{package}.{module.name}")
