"""The run summary: one JSON-able dict (``report --format json`` prints it; the
HTML page shows it as tables)."""
from __future__ import annotations

from typing import Any

from .model_stats import ModelStats
from spinlock_spec.runs.reader import RunFiles
from .series import codebook_grid

FINAL_METRIC_KEYS = ("quality", "quality_clipped", "recon_mse_user", "recon_mse", "token_quality",
                     "token_recon_mse", "utilization", "perplexity", "dead_codes", "codebook_entries", "topo_pre", "ari", "loss", "n_samples")


def _status(run: RunFiles) -> str:
    if run.finished:
        return "finished"
    if run.records:
        return "training or interrupted"
    return "no completed epoch"


def build_summary_dict(run: RunFiles, stats: ModelStats | None) -> dict[str, Any]:
    records, history, meta = run.records, run.history or {}, run.model_meta or {}
    last = records[-1] if records else {}
    metrics = last.get("metrics") or {}
    num_epochs = last.get("num_epochs")
    summary: dict[str, Any] = {
        "run": str(run.path),
        "status": _status(run),
        "trainer_type": history.get("trainer_type") or meta.get("trainer_type"),
        "model_class": meta.get("model_class"),
        "assignment": "learnable" if run.learnable else "static",
        "epochs_done": int(last["epoch"]) if "epoch" in last else 0,
        "num_epochs": num_epochs,
        "best_epoch": history.get("best_epoch"),
        "best_val_loss": history.get("best_val_loss"),
        "stopped_early": history.get("stopped_early"),
        "spec_hash": meta.get("spec_hash"),
    }
    if summary["best_epoch"] is None and records:
        valid = [r for r in records if isinstance(r.get("val_loss"), (int, float))]
        if valid:
            best = min(valid, key=lambda r: r["val_loss"])
            summary["best_epoch"], summary["best_val_loss"] = best["epoch"], best["val_loss"]
    summary["last_epoch"] = None if not records else {
        "epoch": last.get("epoch"), "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
        "components": last.get("components"), "utilization": metrics.get("utilization"),
        "utilization_per_level": metrics.get("utilization_per_level"),
        "perplexity": metrics.get("perplexity"), "temperature": last.get("temperature"),
        "assign": last.get("assign"), "lr": last.get("lr")}
    final = history.get("final_metrics") if isinstance(history.get("final_metrics"), dict) else None
    summary["final_metrics"] = None if final is None else {
        k: final[k] for k in FINAL_METRIC_KEYS if k in final}
    summary["categories"] = _categories(run, stats, metrics)
    summary["initial_ari"] = meta.get("initial_ari", (run.initial_categories or {}).get("ari"))
    summary["input_features"] = (run.categories or {}).get("input_features")
    summary["evaluation"] = _evaluation(run)
    return summary


def _evaluation(run: RunFiles) -> dict[str, Any] | None:
    """RUN/evaluation.json, written by ``spinlock-spec evaluate`` (None when absent or unreadable)."""
    import json

    from spinlock_spec.runs.names import EVALUATION_FILE

    path = run.path / EVALUATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    keep = ("data", "n_rows", "weights", "quality", "utilization", "perplexity", "dead_codes",
            "codebook_entries", "probe", "usage")
    return {k: data[k] for k in keep if k in data}


def _categories(run: RunFiles, stats: ModelStats | None, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    cats, _, grid = codebook_grid(metrics)
    names = list(stats.category_names) if stats is not None else (
        [str(c.get("name")) for c in (run.categories or {}).get("categories", [])] or cats)
    sizes: list[int | None] = [None] * len(names)
    if stats is not None:
        import numpy as np

        m = np.asarray(stats.assignment)
        hard = np.where(m.max(axis=1) > 0, m.argmax(axis=1), -1)
        sizes = [int((hard == k).sum()) for k in range(len(names))]
    elif run.categories:
        sizes = [c.get("size") for c in run.categories.get("categories", [])]
    out = []
    for k, name in enumerate(names):
        row: dict[str, Any] = {"name": name, "features": sizes[k] if k < len(sizes) else None}
        if name in cats:
            i = cats.index(name)
            row["utilization_per_level"] = grid["utilization"][i]
            row["perplexity_per_level"] = grid["perplexity"][i]
        if stats is not None and stats.category_recon_mse is not None:
            row["recon_mse"] = stats.category_recon_mse[k]
        out.append(row)
    return out
