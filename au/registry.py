"""Registries of plug-ins by name: losses, tasks and data set readers.

A plug-in is one module of a package that registers itself when imported (``@register_loss``,
``@register_task``, ``@register_reader``). A :class:`Registry` imports every module of its
package each time its names are read, so a new module is found with no other edit, and an
unknown name is one line naming the known ones and the closest.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


def import_submodules(package: str, skip: Iterable[str] = ()) -> None:
    """Import every direct submodule of ``package`` except those named in ``skip``."""
    skipped = set(skip)
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name not in skipped:
            importlib.import_module(f"{package}.{module.name}")


def qualified_name(entry: object) -> str:
    """How a taken name's holder is named: a class's qualified name, else its ``repr``."""
    return getattr(entry, "__qualname__", None) or repr(entry)


class Registry(Mapping[str, T], Generic[T]):
    """Name -> entry of the plug-ins of one package, read-only, always current.

    Reading it (``registry[name]``, ``in``, iterating) first imports every module of
    ``package`` (except ``skip``), so their registrations have run.

    Args:
        kind: What an entry is, in messages (``"loss"``, ``"task"``, ``"data set"``).
        package: The package whose modules register entries (``None``: none to import).
        skip: Modules of the package that register nothing.
        error: The exception type :meth:`lookup` raises for an unknown name.
        describe: Names the holder of a taken name in :meth:`add`'s error.
    """

    def __init__(
        self,
        kind: str,
        package: str | None = None,
        *,
        skip: Iterable[str] = (),
        error: type[Exception] = ValueError,
        describe: Callable[[T], str] = qualified_name,
    ):
        self.kind, self.package, self.skip = kind, package, frozenset(skip)
        self.error, self.describe = error, describe
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` as ``name``.

        Raises:
            ValueError: If ``name`` holds another entry already.
        """
        taken = self._entries.get(name, entry)
        if taken != entry:
            raise ValueError(f"{self.kind} name {name!r} is taken by {self.describe(taken)}")
        self._entries[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated class or function as ``name`` and return it."""

        def register(entry: T) -> T:
            self.add(name, entry)
            return entry

        return register

    def entries(self) -> dict[str, T]:
        """Name -> entry of every registered plug-in (the package's modules imported first)."""
        if self.package is not None:
            import_submodules(self.package, self.skip)
        return dict(self._entries)

    def lookup(self, name: str | None) -> T:
        """The entry registered as ``name``.

        Raises:
            Exception: Of the registry's ``error`` type, in one line: ``unknown <kind> 'name';
                choose one of <names>`` and the closest name, if one is close.
        """
        entries = self.entries()
        if name in entries:
            return entries[name]
        message = f"unknown {self.kind} {name!r}; choose one of {', '.join(sorted(entries))}"
        close = difflib.get_close_matches(str(name), list(entries), n=1)
        raise self.error(message + (f" (did you mean {close[0]}?)" if close else ""))

    def __getitem__(self, name: str) -> T:
        return self.entries()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self.entries())
