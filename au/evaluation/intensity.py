"""AU intensity evaluator: ICC(3,1), Pearson r and MAE per AU beside the training-mean baseline.

:class:`IntensityEvaluator` implements :class:`au.evaluation.evaluator.Evaluator` for
``task=intensity``. Its result holds the tables ``intensity_metrics`` (per AU and averaged:
model and baseline ICC, PCC, MAE and the occurrence F1 derived from the estimate,
:func:`au.evaluation.intensity_metrics.intensity_metrics`) and ``intensity_predictions`` (one
row per frame: index row, subject, frame, estimate and coded intensity per AU); its headline is
``icc``. With a ``figure_dir`` it also draws estimated vs coded intensity per AU and, for the
test video (subject) with the most frames, intensity over time against the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch

from au.data.datamodule import split_frames
from au.evaluation.evaluator import EvaluationResult
from au.evaluation.intensity_metrics import intensity_metrics, intensity_table, training_mean

#: What :meth:`IntensityEvaluator.process` reads from each batch of outputs.
OUTPUT_KEYS = ("intensity_estimates", "intensity", "mask", "ids")
#: Summary key -> column of the average row of ``intensity_metrics``.
SUMMARY_COLUMNS = {
    "icc": "icc", "pcc": "pearson", "mae": "mae", "occurrence_f1": "f1",
    "baseline_icc": "baseline_icc", "baseline_pcc": "baseline_pearson",
    "baseline_mae": "baseline_mae", "baseline_occurrence_f1": "baseline_f1",
}  # fmt: skip


class IntensityEvaluator:
    """Scores AU intensity estimates the way the intensity literature reports them.

    Args:
        aus: AU keys in output order.
        train_mean: Mean coded training intensity per AU (A,) (the baseline's constant).
        positive_threshold: Intensity at or above which an AU counts as present (occurrence F1).
        frames: The split's index rows, one per sample id, with a ``row`` column; ``None``: no
            per-frame table.
        figure_dir: Where to write the PNGs; ``None``: none.
    """

    def __init__(
        self,
        aus: Sequence[str],
        train_mean: torch.Tensor,
        positive_threshold: float = 2.0,
        frames: pd.DataFrame | None = None,
        figure_dir: str | Path | None = None,
    ):
        self.aus = list(aus)
        self.figure_dir = Path(figure_dir) if figure_dir is not None else None
        self.train_mean = torch.as_tensor(train_mean).double().cpu()
        self.positive_threshold = float(positive_threshold)
        self.frames = frames
        self._parts: dict[str, list[torch.Tensor]] = {}
        self.reset()

    @classmethod
    def for_model(cls, model, datamodule, split: str, figure_dir=None) -> IntensityEvaluator:
        """The evaluator of an intensity model on a data module's split."""
        train = datamodule.datasets["train"]
        threshold = datamodule.positive_threshold
        if threshold is None:
            threshold = datamodule.index.positive_threshold
        return cls(
            model.aus,
            train_mean=training_mean(train.targets["intensity"], train.mask),
            positive_threshold=threshold,
            frames=split_frames(datamodule, split),
            figure_dir=figure_dir,
        )

    def reset(self) -> None:
        """Forget every prediction processed so far."""
        self._parts = {key: [] for key in OUTPUT_KEYS}

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Add ``intensity_estimates``, ``intensity`` and ``mask`` (B, A) and sample ``ids``."""
        for key in OUTPUT_KEYS:
            self._parts[key].append(torch.as_tensor(outputs[key]).detach().cpu())

    def evaluate(self) -> EvaluationResult:
        """Per-AU and average scores of the model and the baseline, per-frame estimates."""
        if not self._parts["ids"]:
            raise ValueError("IntensityEvaluator.evaluate: no predictions were processed")
        values = {key: torch.cat(parts) for key, parts in self._parts.items()}
        order = torch.argsort(values["ids"].long(), stable=True)
        values = {key: value[order] for key, value in values.items()}
        metrics = intensity_metrics(
            values["intensity_estimates"].double(),
            values["intensity"].double(),
            values["mask"],
            self.aus,
            self.train_mean,
            self.positive_threshold,
        )
        tables = {"intensity_metrics": metrics}
        average = metrics.iloc[-1]
        summary = {key: float(average[column]) for key, column in SUMMARY_COLUMNS.items()}
        summary |= {"positive_threshold": self.positive_threshold, "frames": len(order)}
        if self.frames is not None:
            frames = self.frames.iloc[values["ids"].long().numpy()]
            tables["intensity_predictions"] = self._predictions(frames, values)
            summary["subjects"] = sorted(map(str, frames["subject"].unique()))
        if self.figure_dir is not None:
            summary["figures"] = self._figures(values)
        return EvaluationResult("icc", summary, tables, [self._section(metrics)])

    def _predictions(self, frames: pd.DataFrame, values: dict) -> pd.DataFrame:
        table = pd.DataFrame(
            {"row": frames["row"].to_numpy(), "subject": frames["subject"].astype(str).to_numpy()}
        )
        if "frame" in frames:
            table["frame"] = frames["frame"].to_numpy()
        coded = values["mask"].numpy() > 0
        for j, au in enumerate(self.aus):
            table[f"estimate/{au}"] = values["intensity_estimates"][:, j].numpy().round(4)
            label = pd.Series(values["intensity"][:, j].numpy(), dtype="Float64")
            table[f"label/{au}"] = label.where(coded[:, j])
        return table

    def _figures(self, values: dict[str, torch.Tensor]) -> list[str]:
        from au.evaluation.intensity_plots import plot_intensity_over_time, plot_intensity_scatter

        estimates, labels, mask = values["intensity_estimates"], values["intensity"], values["mask"]
        paths = [
            plot_intensity_scatter(estimates, labels, mask, self.aus,
                                   self.figure_dir / "intensity_scatter.png",
                                   self.positive_threshold)
        ]  # fmt: skip
        frames = None if self.frames is None else self.frames.iloc[values["ids"].long().numpy()]
        if frames is not None and "frame" in frames:
            subject = frames["subject"].astype(str).value_counts().index[0]
            rows = torch.tensor((frames["subject"].astype(str) == subject).to_numpy())
            paths.append(
                plot_intensity_over_time(
                    frames["frame"].to_numpy()[rows.numpy()], estimates[rows], labels[rows],
                    mask[rows], self.aus, self.figure_dir / "intensity_over_time.png",
                    f"Test subject {subject}: coded (grey) and estimated (blue) intensity",
                    self.positive_threshold,
                )
            )  # fmt: skip
        return [path.name for path in paths]

    def _section(self, metrics: pd.DataFrame) -> str:
        return (
            "AU intensity (0-5): ICC(3,1), Pearson r (PCC) and MAE of the model beside the "
            "baseline that predicts each AU's mean training intensity ('mean'); F1 (%) of "
            f"occurrence derived from the estimate (>= {self.positive_threshold:g}):\n\n"
            + intensity_table(metrics)
        )
