"""Tasks: the head, loss, metrics and report sections of AU occurrence, intensity, emotion.

:func:`au.tasks.registry.build_task` gives the :class:`~au.tasks.base.Task` of
``configs/task/<name>.yaml`` that :class:`~au.models.module.AULitModule` builds and
:class:`~au.data.datamodule.AUDataModule` is given. The emotion vocabulary and the AU ->
emotion read-out (FACS/EMFACS prototypes and their scoring) are :mod:`au.emotions`.
"""
