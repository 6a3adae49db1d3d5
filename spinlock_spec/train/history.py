"""``training_history.json``: the per-epoch lists a run accumulates (one entry per epoch
record), the best epoch and whether training stopped early."""
from __future__ import annotations

import math
from typing import Any


def empty_history() -> dict[str, Any]:
    return {"train_loss": [], "val_loss": [], "metrics": [], "final_metrics": None,
            "epochs": [], "epoch_time": [], "learning_rate": [],
            "train_components": [], "val_components": [], "train_terms": [], "val_terms": [],
            "best_epoch": None, "best_val_loss": None, "stopped_early": False}


def append_epoch(h: dict[str, Any], record: dict[str, Any], *, best_epoch: int, best_val: float,
                 stopped_early: bool) -> None:
    """Add one epoch's record; learnable runs' records add the assignment terms, the
    temperature, the features moved and (with planted groups) the assignment ARI."""
    h["epochs"].append(record["epoch"])
    h["train_loss"].append(record["train_loss"])
    h["val_loss"].append(record["val_loss"])
    h["metrics"].append(record["metrics"])
    h["epoch_time"].append(record["time_s"])
    h["learning_rate"].append(record["lr"])
    comps = dict(record["components"])
    if "assign" in record:
        comps.update(record["assign"])
        comps["assign_total"] = sum(record["assign"].values())
        h.setdefault("temperature", []).append(record["temperature"])
    h["train_components"].append(comps)
    h["val_components"].append(record["val_components"])
    h["train_terms"].append(record["terms"])
    h["val_terms"].append(record["val_terms"])
    h["best_epoch"] = best_epoch
    h["best_val_loss"] = best_val if math.isfinite(best_val) else None
    h["stopped_early"] = stopped_early
    if "features_moved" in record:
        h.setdefault("features_moved", []).append(record["features_moved"])
    if "assignment_ari" in record:
        h.setdefault("assignment_ari", []).append(record["assignment_ari"])
