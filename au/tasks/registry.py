"""The task registry: a task is one module in ``au/tasks/`` and one YAML in ``configs/task/``.

A task module decorates its :class:`~au.tasks.base.Task` subclass with
``@register_task("<name>")``; ``configs/task/<name>.yaml`` (``# @package _global_``) sets
``task.name: <name>``, the constructor's keyword arguments and the checkpoint monitor. Every
module of this package is imported when the names are first needed (:class:`au.registry.
Registry`), so ``task=<name>`` trains, evaluates and compares it with no other edit.
:func:`build_task` builds the task of a config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from au.errors import ConfigValueError
from au.registry import Registry
from au.tasks.base import Task

#: Name -> class of every registered task, read-only (``TASKS[name].headline``).
TASKS: Registry[type[Task]] = Registry("task", "au.tasks", error=ConfigValueError)


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: make a :class:`Task` subclass available as ``task=<name>``.

    The class's ``name`` attribute becomes ``name``.
    """

    def register(cls: type[Task]) -> type[Task]:
        TASKS.add(name, cls)
        cls.name = name
        return cls

    return register


def registered_tasks() -> dict[str, type[Task]]:
    """Name -> class of every registered task (the modules of ``au.tasks`` imported first)."""
    return TASKS.entries()


def task_class(name: str) -> type[Task]:
    """The class registered as ``name`` (its class attributes: ``headline``, ``stored_keys``...).

    Raises:
        ConfigValueError: On an unknown task name, naming the registered ones.
    """
    return TASKS.lookup(name)


def build_task(options: Mapping | None = None) -> Task:
    """The task of ``{"name": ..., **options}`` (``None``: AU occurrence).

    Raises:
        ConfigValueError: On an unknown task name, an option the task does not take or a bad
            option value (a ``ValueError``; ``au.fit`` prints it as one ``error:`` line).
    """
    options = dict(options or {})
    name = options.pop("name", "au")
    task = TASKS.lookup(name)
    try:
        return task(**options)
    except (TypeError, ValueError) as err:
        raise ConfigValueError(f"task={name}: {err}") from err


__all__ = ["TASKS", "Task", "build_task", "register_task", "registered_tasks", "task_class"]
