"""The task names of ``configs/task/<name>.yaml`` and :func:`build_task`."""

from __future__ import annotations

from collections.abc import Mapping

from au.tasks.au import AUTask
from au.tasks.base import Task
from au.tasks.emotion import EmotionTask
from au.tasks.intensity import IntensityTask
from au.tasks.joint import JointTask

TASKS: dict[str, type[Task]] = {
    "au": AUTask,
    "intensity": IntensityTask,
    "emotion": EmotionTask,
    "joint": JointTask,
}


def build_task(options: Mapping | None = None) -> Task:
    """The task of ``{"name": ..., **options}`` (``None``: AU occurrence).

    Raises:
        ConfigValueError: On an unknown task name, an option the task does not take or a bad
            option value (a ``ValueError``; ``au.fit`` prints it as one ``error:`` line).
    """
    from au.run.config_checks import ConfigValueError  # imports au.models.module, which needs us

    options = dict(options or {})
    name = options.pop("name", "au")
    if name not in TASKS:
        raise ConfigValueError(f"task={name!r}: choose one of {', '.join(TASKS)}")
    try:
        return TASKS[name](**options)
    except (TypeError, ValueError) as err:
        raise ConfigValueError(f"task={name}: {err}") from err


__all__ = ["TASKS", "Task", "build_task"]
