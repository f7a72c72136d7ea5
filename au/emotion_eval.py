"""Evaluate emotion classification the way the emotion-recognition papers report it.

:func:`emotion_report` computes accuracy, per-class precision/recall/F1, the row-normalised
confusion matrix and one-vs-rest ROC curves with AUC (torchmetrics does the counting);
:func:`save_report` writes them as CSV, JSON and PNG. :func:`read_emotion_folders` and
:func:`read_fer2013_csv` read the two common layouts of labelled expression data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from torchmetrics.functional import classification as tmc

from au.emotions import EMOTION_SYNONYMS, EMOTIONS, parse_emotion

#: FER-2013 emotion codes 0-6 (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral).
FER2013_EMOTIONS: tuple[str, ...] = (
    "anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral",
)  # fmt: skip
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
_FER_PIXELS = 48 * 48


@dataclass
class EmotionReport:
    """Emotion classification results.

    Attributes:
        classes: Class names, in the order of the score columns.
        accuracy: Fraction of samples classified correctly.
        per_class: Index ``class``; columns precision, recall, f1, support, auc. Classes that
            occur in neither ``y_true`` nor ``y_pred`` get NaN precision/recall/F1.
        macro: precision, recall, f1 (torchmetrics' macro: mean over classes that occur in
            ``y_true`` or ``y_pred``) and auc (mean over classes with an AUC; NaN if none).
        confusion: Rows = true class, columns = predicted class, each row divided by its
            support (NaN for classes absent from ``y_true``).
        counts: The same matrix in sample counts.
        roc: One-vs-rest ``(fpr, tpr)`` per class that has scores, positives and negatives.
    """

    classes: list[str]
    accuracy: float
    per_class: pd.DataFrame
    macro: dict[str, float]
    confusion: pd.DataFrame
    counts: pd.DataFrame
    roc: dict[str, tuple[np.ndarray, np.ndarray]]


def emotion_report(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    scores: np.ndarray | None = None,
    classes: Sequence[str] = EMOTIONS,
) -> EmotionReport:
    """Compare predicted with true emotion labels.

    Args:
        y_true: True class name per sample.
        y_pred: Predicted class name per sample.
        scores: Optional ``(N, C)`` class scores for ROC/AUC; any monotone scale works. A class
            whose column is all NaN (e.g. an emotion the AU model cannot express) gets no curve.
        classes: The class names, in the order of the score columns.

    Returns:
        The :class:`EmotionReport`.
    """
    classes = list(classes)
    target, preds = _encode(y_true, classes, "y_true"), _encode(y_pred, classes, "y_pred")
    if len(target) != len(preds) or len(target) == 0:
        raise ValueError(
            f"y_true and y_pred need the same, non-zero length: {len(target)} vs {len(preds)}"
        )
    args = {"preds": preds, "target": target, "num_classes": len(classes)}
    functions = {"precision": tmc.multiclass_precision, "recall": tmc.multiclass_recall}
    functions["f1"] = tmc.multiclass_f1_score
    counts = tmc.multiclass_confusion_matrix(**args).numpy()  # (C, C), rows = true
    support, predicted = counts.sum(1), counts.sum(0)
    per_class = pd.DataFrame({k: f(**args, average=None).numpy() for k, f in functions.items()})
    per_class[(support + predicted) == 0] = np.nan
    per_class["support"] = support
    roc, auc = _roc_curves(scores, target, classes) if scores is not None else ({}, None)
    per_class["auc"] = np.nan if auc is None else auc
    per_class.index = pd.Index(classes, name="class")
    macro = {k: float(f(**args, average="macro")) for k, f in functions.items()}
    macro["auc"] = float(np.nanmean(auc)) if auc is not None and roc else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = counts / support[:, None]
    frame = {"index": pd.Index(classes, name="true"), "columns": pd.Index(classes, name="pred")}
    return EmotionReport(
        classes=classes,
        accuracy=float(tmc.multiclass_accuracy(**args, average="micro")),
        per_class=per_class,
        macro=macro,
        confusion=pd.DataFrame(normalized, **frame),
        counts=pd.DataFrame(counts, **frame),
        roc=roc,
    )


def _encode(labels: Sequence[str], classes: list[str], name: str) -> torch.Tensor:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ValueError(f"{name} has labels {unknown} that are not among classes {classes}")
    return torch.tensor([index[label] for label in labels], dtype=torch.long)


def _roc_curves(
    scores: np.ndarray, target: torch.Tensor, classes: list[str]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    values = torch.as_tensor(np.asarray(scores, dtype=np.float64))  # (N, C)
    if values.shape != (len(target), len(classes)):
        raise ValueError(
            f"scores has shape {tuple(values.shape)}; expected "
            f"({len(target)}, {len(classes)}) = (samples, classes)"
        )
    roc, auc = {}, np.full(len(classes), np.nan)
    for i, name in enumerate(classes):
        column, positive = values[:, i], (target == i).long()  # (N,), (N,)
        missing = torch.isnan(column)
        if missing.all() or int(positive.sum()) in (0, len(positive)):
            continue  # no scores, or no positives / no negatives: the curve is undefined
        if missing.any():
            raise ValueError(f"scores for class {name!r} are NaN in some rows but not all")
        fpr, tpr, _ = tmc.binary_roc(column, positive)
        roc[name] = (fpr.numpy(), tpr.numpy())
        auc[i] = float(tmc.binary_auroc(column, positive))
    return roc, auc


def save_report(report: EmotionReport, out_dir: Path) -> dict[str, Path]:
    """Write the report's tables and figures to ``out_dir`` (created if needed).

    Writes ``emotion_metrics.csv``, ``emotion_summary.json``, ``confusion_matrix.csv``,
    ``confusion_matrix.png`` and, when the report has ROC curves, ``roc_curves.png``.

    Returns:
        The written paths by file name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {n: out_dir / n for n in ("emotion_metrics.csv", "emotion_summary.json")}
    paths |= {n: out_dir / n for n in ("confusion_matrix.csv", "confusion_matrix.png")}
    report.per_class.to_csv(paths["emotion_metrics.csv"], float_format="%.6g")
    summary = {"n": int(report.counts.to_numpy().sum()), "accuracy": report.accuracy}
    summary |= {f"macro_{k}": v for k, v in report.macro.items()}
    summary = {k: _json_number(v) for k, v in summary.items()}
    summary["classes"] = report.classes
    paths["emotion_summary.json"].write_text(json.dumps(summary, indent=2) + "\n")
    report.confusion.to_csv(paths["confusion_matrix.csv"], float_format="%.6g")
    plot_confusion(report).savefig(paths["confusion_matrix.png"], dpi=150)
    if report.roc:
        paths["roc_curves.png"] = out_dir / "roc_curves.png"
        plot_roc(report).savefig(paths["roc_curves.png"], dpi=150)
    return paths


def _json_number(value: object) -> object:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def plot_confusion(report: EmotionReport) -> Figure:
    """Draw the row-normalised confusion matrix with each cell's fraction and count."""
    n = len(report.classes)
    fig = Figure(figsize=(2.5 + 0.85 * n, 1.5 + 0.8 * n), layout="constrained")
    ax = fig.add_subplot()
    values, counts = report.confusion.to_numpy(), report.counts.to_numpy()
    cmap = colormaps["Blues"].with_extremes(bad="0.85")  # grey rows: class absent
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1)
    for i, j in np.ndindex(values.shape):
        text = "n/a" if np.isnan(values[i, j]) else f"{values[i, j]:.2f}\n({counts[i, j]})"
        color = "white" if values[i, j] > 0.6 else "black"
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(n), report.classes, rotation=40, ha="right")
    ax.set_yticks(range(n), report.classes)
    ax.set(xlabel="predicted", ylabel="true")
    total = int(counts.sum())
    ax.set_title(f"Confusion matrix, rows normalised (accuracy {report.accuracy:.1%}, n={total})")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def plot_roc(report: EmotionReport) -> Figure:
    """Draw the one-vs-rest ROC curves with each class's AUC and the chance diagonal."""
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for index, (name, (fpr, tpr)) in enumerate(report.roc.items()):
        auc = report.per_class.loc[name, "auc"]
        ax.plot(fpr, tpr, color=f"C{index % 10}", label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="chance (AUC 0.5)")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate")
    ax.set_aspect("equal")
    ax.set_title(f"One-vs-rest ROC (macro AUC {report.macro['auc']:.3f})")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def read_emotion_folders(root: str | Path) -> pd.DataFrame:
    """List images in a layout with one folder per emotion (``root/happy/img.jpg``, ...).

    Folder names are matched case-insensitively with common synonyms ("happy", "angry", "sad",
    "surprised", "fearful", "disgusted"); images in sub-folders of an emotion folder count too.

    Returns:
        Columns ``path`` (str) and ``emotion`` (canonical name), sorted by folder then path.

    Raises:
        FileNotFoundError: If ``root`` is not a folder.
        ValueError: If a folder is not an emotion, or no image is found.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"emotion image root {root} is not a folder")
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            emotion = parse_emotion(folder.name)
        except ValueError:
            raise ValueError(
                f"folder {folder} is not named after an emotion; expected one folder per "
                f"emotion named one of (any case): {', '.join(EMOTION_SYNONYMS)}"
            ) from None
        images = [p for p in sorted(folder.rglob("*")) if _is_image(p)]
        rows += [(str(p), emotion) for p in images]
    if not rows:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}/<emotion>/")
    return pd.DataFrame(rows, columns=["path", "emotion"])


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def read_fer2013_csv(path: str | Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Read FER-2013's CSV (columns emotion, pixels, Usage; 48x48 grayscale faces).

    Emotion codes 0-6 are Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral. Column names are
    stripped of spaces; a file without ``Usage`` (Kaggle's train.csv) gets empty usages.

    Returns:
        ``images`` uint8 ``(N, 48, 48)``, canonical emotion names and the Usage of each row.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: On a missing column, an unknown emotion code or a bad pixels row (named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER-2013 CSV {path} not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = frame.columns.str.strip()
    missing = [c for c in ("emotion", "pixels") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks column(s) {missing}; FER-2013 has emotion,pixels,Usage "
            f"but this file has {list(frame.columns)}"
        )
    codes = [_fer_code(text, i, path) for i, text in enumerate(frame["emotion"])]
    images = np.stack([_fer_pixels(text, i, path) for i, text in enumerate(frame["pixels"])])
    usage = frame["Usage"].str.strip().tolist() if "Usage" in frame else [""] * len(frame)
    return images.reshape(-1, 48, 48), [FER2013_EMOTIONS[c] for c in codes], usage


def _fer_code(text: str, row: int, path: Path) -> int:
    if text.strip() in {str(c) for c in range(7)}:
        return int(text)
    raise ValueError(
        f"{path} row {row + 1} (line {row + 2}): emotion {text!r} is not a code "
        "0-6 (0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral)"
    )


def _fer_pixels(text: str, row: int, path: Path) -> np.ndarray:
    where = f"{path} row {row + 1} (line {row + 2})"
    tokens = text.split()
    if len(tokens) != _FER_PIXELS:
        raise ValueError(f"{where}: pixels has {len(tokens)} values; expected 2304 (48x48)")
    try:
        values = np.array(tokens, dtype=np.int64)  # (2304,)
    except ValueError:
        raise ValueError(
            f"{where}: pixels must be 2304 integers 0-255, got {text[:40]!r}..."
        ) from None
    if values.min() < 0 or values.max() > 255:
        raise ValueError(
            f"{where}: pixel values must lie in 0-255, found {values.min()}..{values.max()}"
        )
    return values.astype(np.uint8)
