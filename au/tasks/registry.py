"""The task registry: a task is one module in ``au/tasks/`` and one YAML in ``configs/task/``.

A task module decorates its :class:`~au.tasks.base.Task` subclass with
``@register_task("<name>")``; ``configs/task/<name>.yaml`` (``# @package _global_``) sets
``task.name: <name>``, the constructor's keyword arguments and the checkpoint monitor. Every
module of this package is imported when the names are first needed (not at import: the task
modules import the models, which import this registry), so ``task=<name>`` trains, evaluates
and compares it with no other edit. :func:`build_task` builds the task of a config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from au.run.discovery import import_submodules
from au.tasks.base import Task

_TASKS: dict[str, type[Task]] = {}


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: make a :class:`Task` subclass available as ``task=<name>``.

    The class's ``name`` attribute becomes ``name``.
    """

    def register(cls: type[Task]) -> type[Task]:
        if _TASKS.get(name, cls) is not cls:
            raise ValueError(f"task name {name!r} is taken by {_TASKS[name].__qualname__}")
        _TASKS[name] = cls
        cls.name = name
        return cls

    return register


def registered_tasks() -> dict[str, type[Task]]:
    """Name -> class of every registered task (the modules of ``au.tasks`` imported first)."""
    import_submodules("au.tasks")
    return dict(_TASKS)


class _RegisteredTasks(Mapping):
    """A read-only, always current view of :func:`registered_tasks` (name -> class)."""

    def __getitem__(self, name: str) -> type[Task]:
        return registered_tasks()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(registered_tasks())

    def __len__(self) -> int:
        return len(registered_tasks())


#: Name -> class of every registered task, read-only (``TASKS[name].headline``).
TASKS: Mapping[str, type[Task]] = _RegisteredTasks()


def build_task(options: Mapping | None = None) -> Task:
    """The task of ``{"name": ..., **options}`` (``None``: AU occurrence).

    Raises:
        ConfigValueError: On an unknown task name, an option the task does not take or a bad
            option value (a ``ValueError``; ``au.fit`` prints it as one ``error:`` line).
    """
    from au.run.config_checks import ConfigValueError  # imports au.models.module, which needs us

    options = dict(options or {})
    name = options.pop("name", "au")
    tasks = registered_tasks()
    if name not in tasks:
        raise ConfigValueError(f"task={name!r}: choose one of {', '.join(sorted(tasks))}")
    try:
        return tasks[name](**options)
    except (TypeError, ValueError) as err:
        raise ConfigValueError(f"task={name}: {err}") from err


__all__ = ["TASKS", "Task", "build_task", "register_task", "registered_tasks"]
