"""The keys each config section takes, read from the code that receives it; unknown keys.

Hydra refuses a command-line key that does not exist (unless it is added with ``+``), but a
misspelled key in a YAML file (an experiment, a data set's own config) or one added with ``+``
would be ignored or fail deep inside training. The keys each section accepts, with their type
hints and defaults, are the parameters of the code that receives it, so a new argument needs no
edit here:

- ``data``: :class:`~au.data.datamodule.AUDataModule`; ``data.synthetic``:
  :class:`~au.data.synthetic.SyntheticConfig`;
- ``schedule``: :class:`~au.callbacks.two_stage.TwoStageFineTuning`;
- ``model.backbone``: :func:`~au.models.backbone.create_backbone`; ``model.head``:
  :class:`~au.tasks.head.AUHead`; ``model.loss``: the registered loss's constructor
  (:mod:`au.losses.registry`); ``model.optimizer``: :data:`OPTIMIZER_KEYS` and the torch
  optimizer's arguments; ``model.decision``: :class:`~au.tasks.decision.AUDecision`;
- ``trainer``: ``lightning.Trainer``; ``task``: the registered task's constructor.

A constructor's ``**kwargs`` is followed to the parent constructor it is passed on to; a class
without a constructor of its own (a loss with no options) takes no key. Each section's schema
(:mod:`au.run.config_schema`) is built from these parameters; :mod:`au.run.config_checks`
validates the config with it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable

import lightning as L  # noqa: N812
from omegaconf import DictConfig, OmegaConf
from torch import nn

from au.callbacks.two_stage import TwoStageFineTuning
from au.data.datamodule import AUDataModule
from au.data.synthetic import SyntheticConfig
from au.losses.registry import losses_for, registered_losses
from au.models.backbone import create_backbone
from au.models.module import OPTIMIZERS
from au.run.config import CONFIG_DIR
from au.tasks.decision import AUDecision
from au.tasks.head import AUHead
from au.tasks.registry import registered_tasks

#: Name -> parameter (with its type hint and default) of the keys a section accepts.
Parameters = dict[str, inspect.Parameter]


def fixed_keys(**types: object) -> Parameters:
    """Parameters of keys read by name rather than passed to a constructor."""
    kind = inspect.Parameter.KEYWORD_ONLY
    return {name: inspect.Parameter(name, kind, annotation=t) for name, t in types.items()}


MODEL_KEYS = fixed_keys(
    backbone=dict, head=dict, loss=dict, optimizer=dict, decision=dict, channels_last=bool
)
OPTIMIZER_KEYS = fixed_keys(name=str, lr=float, finetune_lr=float)
NAME_KEY = fixed_keys(name=str)
#: Arguments the builders pass themselves, so a config may not set them.
SET_BY_CODE = {
    "self", "in_features", "num_aus", "params", "max_epochs", "callbacks", "logger",
    "task",  # the data module's task comes from the `task` group (configs/task/)
    "mean", "std",  # the backbone's normalisation (au.models.preprocessing)
}  # fmt: skip
#: Constructors that take no keyword: a class reaching one without its own takes no key.
NO_OPTIONS = (object.__init__, nn.Module.__init__)
#: Keys that moved: where they are now.
MOVED = {"model.optimizer.head_finetune_lr": "schedule.head_finetune_lr"}


def unknown_choices(config: DictConfig) -> dict[str, str]:
    """Dotted key -> its line, for a loss, optimizer or task name that is not registered."""
    choices = {
        "model.loss.name": losses_for("occurrence"),
        "model.optimizer.name": OPTIMIZERS,
        "task.name": registered_tasks(),
    }
    problems = {}
    for path, names in choices.items():
        problems |= unknown_choice(config, path, names)
    return problems


def section_parameters(config: DictConfig) -> dict[str, Parameters | None]:
    """Section -> the parameters its keys are (``None``: any key, e.g. an unknown loss's)."""
    losses, tasks = registered_losses(), registered_tasks()
    loss = losses.get(OmegaConf.select(config, "model.loss.name", default=None))
    optimizer = OPTIMIZERS.get(OmegaConf.select(config, "model.optimizer.name", default=None))
    task = tasks.get(OmegaConf.select(config, "task.name", default=None))
    return {
        "data": parameters(AUDataModule),
        "data.synthetic": parameters(SyntheticConfig),
        "schedule": parameters(TwoStageFineTuning),
        "model": MODEL_KEYS,
        "model.backbone": parameters(create_backbone),
        "model.head": parameters(AUHead),
        "model.loss": with_keys(NAME_KEY, parameters(loss)) if loss else None,
        "model.optimizer": with_keys(parameters(optimizer), OPTIMIZER_KEYS) if optimizer else None,
        "model.decision": decision_keys(),
        "trainer": parameters(L.Trainer),
        "task": with_keys(NAME_KEY, parameters(task)) if task else None,
    }


def decision_keys() -> Parameters | None:
    """``model.decision``'s keys: :class:`~au.tasks.decision.AUDecision`'s, less the loss.

    The AU task passes the loss (``model.loss.name``) itself.
    """
    accepted = parameters(AUDecision)
    return None if accepted is None else {k: v for k, v in accepted.items() if k != "loss"}


#: ``model.*`` sections some tasks do not read, with their config group (``loss=``).
TASK_SECTIONS = {"loss": "loss", "decision": "decision"}


def ignored_sections(config: DictConfig) -> list[str]:
    """One line per ``model.loss`` / ``model.decision`` set under a task that does not read it.

    A section counts as set when it differs from its group's default in ``configs/fit.yaml``
    (``loss: bce``, ``decision: auto``), however it was set (``loss=lsep``, an experiment,
    ``model.decision.bootstrap=5``); the task's :attr:`~au.tasks.base.Task.model_sections`
    says what it reads.
    """
    task = registered_tasks().get(OmegaConf.select(config, "task.name", default=None))
    if task is None:
        return []
    lines = []
    for section, group in TASK_SECTIONS.items():
        value = OmegaConf.select(config, f"model.{section}", default=None)
        if section in task.model_sections or not isinstance(value, DictConfig):
            continue
        if OmegaConf.to_container(value, resolve=True) != group_default(group):
            lines.append(
                f"model.{section}: task={task.name} does not read it (its loss and decisions are "
                f"its own); drop the {group}= / model.{section}.* override"
            )
    return lines


def group_default(group: str) -> dict:
    """The ``model.<group>`` section set by the default option of ``group`` in fit.yaml."""
    defaults = OmegaConf.load(CONFIG_DIR / "fit.yaml").defaults
    option = next(
        entry[group]
        for entry in defaults
        if isinstance(entry, DictConfig | dict) and group in entry
    )
    node = OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml")
    return OmegaConf.to_container(node, resolve=True)


def with_keys(first: Parameters | None, second: Parameters | None) -> Parameters | None:
    """Both sets of keys (``second`` wins a name in both); ``None`` if either takes any key."""
    return None if first is None or second is None else first | second


def parameters(receiver: Callable) -> Parameters | None:
    """Parameters of a function or a class's constructor a config may set (``None``: any).

    A constructor's ``**kwargs`` adds the parameters of the next constructor in the class's
    method resolution order (where ``super().__init__(**kwargs)`` passes them); a function's
    ``**kwargs``, or one passed on to a constructor that takes none, accepts any key.
    """
    if not isinstance(receiver, type):
        named, open_ended = keyword_parameters(receiver)
        return None if open_ended else named
    found: Parameters = {}
    passed_on = False
    for cls in receiver.__mro__:
        init = vars(cls).get("__init__")
        if init is None:
            continue
        if init in NO_OPTIONS:
            return None if passed_on else found  # **kwargs stop here: the class reads them
        named, open_ended = keyword_parameters(init)
        found = named | found
        if not open_ended:
            return found
        passed_on = True
    return found


def keyword_parameters(function: Callable) -> tuple[Parameters, bool]:
    """``function``'s keyword parameters less :data:`SET_BY_CODE`; whether it has ``**kwargs``."""
    try:
        signature = inspect.signature(function, eval_str=True)
    except NameError:  # a hint naming what is imported for type checkers only
        signature = inspect.signature(function)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    values = signature.parameters.values()
    named = {p.name: p for p in values if p.kind in kinds and p.name not in SET_BY_CODE}
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in values)


def describe_unknown(path: str, key: str, accepted: Iterable[str]) -> str:
    """``data.bach_size: unknown key (did you mean batch_size?)``, or the accepted keys."""
    if path in MOVED:
        return f"{path}: unknown key (moved to {MOVED[path]})"
    if key in SET_BY_CODE:
        return f"{path}: set by au itself, not by the config (e.g. max_epochs from the schedule)"
    accepted = sorted(accepted)
    close = difflib.get_close_matches(key, accepted, n=1)
    if close:
        return f"{path}: unknown key (did you mean {close[0]}?)"
    shown = ", ".join(accepted) if len(accepted) <= 20 else f"{len(accepted)} keys of its code"
    return f"{path}: unknown key (accepted: {shown})"


def unknown_choice(config: DictConfig, path: str, choices: Iterable[str]) -> dict[str, str]:
    """``{path: line}`` if the value at ``path`` is set and not one of ``choices``."""
    value = OmegaConf.select(config, path, default=None)
    choices = sorted(choices)
    if value is None or value in choices:
        return {}
    return {path: f"{path}={value!r}: expected one of {', '.join(choices)}"}
