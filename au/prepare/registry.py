"""The reader registry: a data set reader is one module in ``au/prepare/`` and one data YAML.

A reader module decorates its ``prepare(raw, out, **options) -> Path`` function with
``@register_reader("<name>")``; every module of the ``au.prepare`` package is imported when the
names are first needed (not at import, so reader modules can import ``au.prepare``), so
``python -m au.prepare <name>`` and :func:`au.prepare.prepare` find it with no other edit.
``configs/data/<name>.yaml`` then trains on what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from au.errors import PrepareError
from au.registry import Registry

#: Modules of ``au.prepare`` that hold no reader.
NOT_READERS = frozenset({"__main__", "common", "reader_base", "registry"})


@dataclass(frozen=True)
class Reader:
    """A registered reader and what the command line needs to know about it.

    Attributes:
        name: The data set name on the command line (``python -m au.prepare <name>``).
        prepare: ``prepare(raw: Path, out: Path, **options) -> Path`` (the ``index.csv``).
        out_name: Folder under the data root it writes to (releases of one data set share it).
        options: The data-set-specific options of ``python -m au.prepare`` it takes
            (``camera``, ``val_fraction``, ...), besides the ones every reader takes.
        native_size: Whether its faces keep their released size unless ``--crop-size`` is given.
    """

    name: str
    prepare: Callable[..., Path]
    out_name: str
    options: tuple[str, ...] = ()
    native_size: bool = False


#: Name -> reader of every registered reader.
READERS: Registry[Reader] = Registry(
    "data set",
    "au.prepare",
    skip=NOT_READERS,
    error=PrepareError,
    describe=lambda taken: taken.prepare.__module__,
)


def register_reader(
    name: str,
    *,
    out_name: str | None = None,
    options: tuple[str, ...] = (),
    native_size: bool = False,
) -> Callable[[Callable[..., Path]], Callable[..., Path]]:
    """Function decorator: make a ``prepare(raw, out, **options)`` the reader of ``name``.

    Args:
        name: The data set name (``python -m au.prepare <name>``).
        out_name: The default output folder's name (default: ``name``).
        options: The data-set-specific command-line options the function takes.
        native_size: Keep the released image size unless ``--crop-size`` is given.
    """

    def register(function: Callable[..., Path]) -> Callable[..., Path]:
        READERS.add(name, Reader(name, function, out_name or name, tuple(options), native_size))
        return function

    return register


def registered_readers() -> dict[str, Reader]:
    """Name -> reader of every registered reader (the modules of ``au.prepare`` imported first)."""
    return READERS.entries()


def reader(name: str) -> Reader:
    """The reader registered as ``name``.

    Raises:
        PrepareError: Naming the registered readers, if ``name`` is not one.
    """
    return READERS.lookup(name)
