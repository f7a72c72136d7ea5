"""W&B gets a run record's figures and small tables (an emotion run's confusion matrix)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from au.evaluation.evaluator import EvaluationResult
from au.fit import log_record_media


def _record(tmp_path) -> EvaluationResult:
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(tmp_path / "emotion_confusion.png")
    confusion = pd.DataFrame({"true": ["happiness", "neutral"], "happiness": [0.9, 0.2],
                              "neutral": [0.1, 0.8]})  # fmt: skip
    summary = {"macro_f1": 0.85, "figures": ["emotion_confusion.png"]}
    return EvaluationResult("macro_f1", summary, {"emotion_confusion": confusion})


def test_an_offline_wandb_run_keeps_the_confusion_matrix(tmp_path, monkeypatch):
    import wandb
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="au-test")
    csv = CSVLogger(save_dir=tmp_path)  # no media: skipped
    log_record_media([csv, logger], _record(tmp_path), tmp_path)
    run_dir = Path(logger.experiment.dir)
    wandb.finish()
    images = list(run_dir.glob("media/images/test/emotion_confusion_*.png"))
    tables = list(run_dir.glob("media/table/test/emotion_confusion_*.table.json"))
    assert len(images) == 1 and len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["true", "happiness", "neutral"]
    assert table["data"][0] == ["happiness", 0.9, 0.1]
