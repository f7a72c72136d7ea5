"""Tasks: the head, loss, metrics and report sections of AU occurrence, intensity, emotion.

:func:`au.tasks.registry.build_task` gives the :class:`~au.tasks.base.Task` of
``configs/task/<name>.yaml`` that :class:`~au.models.module.AULitModule` and
:class:`~au.data.datamodule.AUDataModule` call. The AU -> emotion read-out (the emotion
vocabulary, FACS/EMFACS prototypes and their scoring) is :mod:`au.tasks.emotion_readout`.

This file imports nothing, so the data readers can import the emotion vocabulary without
loading every task (which import the data readers).
"""
