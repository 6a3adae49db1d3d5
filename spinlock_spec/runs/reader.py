"""Reading a run folder (for the report and the run listings): tolerant of a run that is still training.

Only what is present is read.  A file that exists but cannot be parsed is a
:class:`CheckpointError` (exit 2) naming it, with one exception: the last line of
``metrics.jsonl`` without its newline is a line being written right now and is
skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinlock_spec.errors import CheckpointError
from spinlock_spec.runs import shapes

from spinlock_spec.runs.names import (CATEGORIES_FILE, CONFIG_FILE, FINAL_MODEL_FILE, HISTORY_FILE,
                                      INITIAL_CATEGORIES_FILE, METRICS_FILE, MODEL_FILES, RUN_MARKERS)


@dataclass
class RunFiles:
    """The parsed contents of a run folder (absent files are None / empty)."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)   # one per completed epoch
    history: dict[str, Any] | None = None
    categories: dict[str, Any] | None = None
    initial_categories: dict[str, Any] | None = None
    model_meta: dict[str, Any] | None = None      # final_model.json, else best_model.json
    model_meta_file: str | None = None
    config_text: str | None = None
    notes: list[str] = field(default_factory=list)  # what is missing, for the page

    @property
    def finished(self) -> bool:
        return (self.path / FINAL_MODEL_FILE).is_file()

    @property
    def learnable(self) -> bool:
        if self.categories and self.categories.get("mode") == "learnable":
            return True
        if self.model_meta and self.model_meta.get("model_class") == "LearnableCategoricalVQVAE":
            return True
        return any("temperature" in r for r in self.records)

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()


def read_run(path: str | Path) -> RunFiles:
    """Parse the run folder at ``path``; CheckpointError when it is not one."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such run folder", code="E400")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a run folder (it is a file); pass the folder "
                              "`spinlock-spec train --out` wrote", code="E400")
    if not any((folder / m).is_file() for m in RUN_MARKERS):
        raise CheckpointError(
            f"{folder}: not a spinlock-spec run folder (none of {', '.join(RUN_MARKERS[:3])} found)",
            code="E400", hint="pass the folder `spinlock-spec train` wrote (it prints 'Run folder: ...')")
    run = RunFiles(folder)
    if (folder / METRICS_FILE).is_file():
        run.records = _read_jsonl(folder / METRICS_FILE)
    run.history = _read_json_if_present(folder / HISTORY_FILE, shapes.HISTORY)
    if not run.records and run.history:
        run.records = records_from_history(run.history)
    run.categories = _read_json_if_present(folder / CATEGORIES_FILE, shapes.CATEGORIES)
    run.initial_categories = _read_json_if_present(folder / INITIAL_CATEGORIES_FILE, shapes.INITIAL_CATEGORIES)
    for name in MODEL_FILES:
        meta = _read_json_if_present(folder / name, shapes.MODEL_META)
        if meta is not None:
            run.model_meta, run.model_meta_file = meta, name
            break
    if (folder / CONFIG_FILE).is_file():
        run.config_text = (folder / CONFIG_FILE).read_text(encoding="utf-8", errors="replace")
    if not run.records:
        run.notes.append("no completed epoch yet (metrics.jsonl is empty or missing)")
    if not run.finished:
        run.notes.append(f"{FINAL_MODEL_FILE} is missing: the run is still training or was interrupted; "
                         "this report shows what is there")
    return run


def _read_json_if_present(path: Path, shape: dict) -> Any:
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt JSON ({exc})", code="E401") from None
    return shapes.check(path, doc, shape)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})", code="E401") from None
    lines = text.split("\n")
    complete, partial = lines[:-1], lines[-1]     # partial: "" when the file ends with a newline
    records = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}:{number}: corrupt JSON line ({exc.msg})", code="E401") from None
        if not isinstance(record, dict) or "epoch" not in record:
            raise CheckpointError(f"{path}:{number}: not an epoch record (no 'epoch' key)", code="E401")
        records.append(shapes.check(path, record, shapes.RECORD, number))
    if partial.strip():
        try:                                       # a complete last line missing only its newline
            record = json.loads(partial)
            if isinstance(record, dict) and "epoch" in record:
                records.append(shapes.check(path, record, shapes.RECORD, len(complete) + 1))
        except json.JSONDecodeError:
            pass                                   # being written right now
    return records


def records_from_history(history: dict[str, Any]) -> list[dict[str, Any]]:
    """Epoch records rebuilt from ``training_history.json`` (when metrics.jsonl is absent)."""
    epochs = history.get("epochs") or []
    out = []
    for i, epoch in enumerate(epochs):
        def at(key, default=None, i=i):
            seq = history.get(key) or []
            return seq[i] if i < len(seq) else default
        comps = dict(at("train_components") or {})
        assign = {k: comps.pop(k) for k in list(comps) if k.startswith("assign_") and k != "assign_total"}
        comps.pop("assign_total", None)
        metrics = at("metrics") or {}
        record = {"epoch": epoch, "train_loss": at("train_loss"), "val_loss": at("val_loss"),
                  "components": comps, "val_components": at("val_components") or {},
                  "lr": at("learning_rate"), "metrics": metrics,
                  "utilization": metrics.get("utilization")}
        if assign:
            record["assign"] = assign
        temps = history.get("temperature") or []
        if i < len(temps):
            record["temperature"] = temps[i]
        out.append(record)
    return out
