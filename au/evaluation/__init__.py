"""Evaluation core: the metrics, baselines, reports and plots of each task (AU, emotion)."""
