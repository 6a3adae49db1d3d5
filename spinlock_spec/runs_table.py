"""``spinlock-spec runs list|compare``: run folders as rows of a table, and side by side.

Reads only what a run folder holds (tolerant of runs still training, like the report);
compares specs with the semantic diff of ``compile.diff``.  Torch-free."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spinlock_spec.errors import CheckpointError
from spinlock_spec.runs.names import CONFIG_FILE

# rows of `runs compare`: (key, label); values from the final metrics, else the last epoch
COMPARED = (("status", "status"), ("epochs", "epochs"), ("best_epoch", "best epoch"),
            ("best_val_loss", "best val loss"), ("quality", "quality"), ("token_quality", "token quality"),
            ("utilization", "utilization"), ("perplexity", "perplexity"), ("dead_codes", "dead codes"),
            ("ari", "ARI vs planted"), ("train_seconds", "training time (s)"), ("trainer", "trainer"),
            ("spec_hash", "spec hash"))
SPEC_LINE = "# spec: "          # first line of a run's config.yaml: where the spec came from


def _read_run(path):
    from spinlock_spec.runs.reader import read_run

    return read_run(path)


def spec_name(folder: Path) -> str | None:
    """The spec a run was trained from, as ``train`` recorded it in config.yaml's header."""
    try:
        with open(folder / CONFIG_FILE, encoding="utf-8") as fh:
            for _ in range(5):
                line = fh.readline()
                if line.startswith(SPEC_LINE):
                    return line[len(SPEC_LINE):].strip() or None
    except OSError:
        return None
    return None


def summarize(path) -> dict[str, Any]:
    """One run folder as a flat record (status, epochs, metrics, spec)."""
    run = _read_run(path)
    history = run.history or {}
    final = history.get("final_metrics") or {}
    last = run.records[-1] if run.records else {}
    last_metrics = last.get("metrics") or {}
    total = last.get("num_epochs")
    done = len(run.records)
    if run.finished:
        status = "stopped early" if history.get("stopped_early") else "finished"
    else:
        status = "incomplete" if done else "empty"

    def metric(key):
        for source in (final, last_metrics, last):
            value = source.get(key)
            if isinstance(value, (int, float)) and value == value:
                return value
        return None

    meta = run.model_meta or {}
    times = [r.get("time_s") for r in run.records if isinstance(r.get("time_s"), (int, float))]
    return {
        "name": run.path.name, "path": str(run.path), "spec": spec_name(run.path),
        "status": status, "epochs": done, "num_epochs": total,
        "best_epoch": history.get("best_epoch"), "best_val_loss": history.get("best_val_loss"),
        "quality": metric("quality"), "token_quality": metric("token_quality"),
        "utilization": metric("utilization"), "perplexity": metric("perplexity"),
        "dead_codes": metric("dead_codes"), "ari": metric("ari"),
        "train_seconds": round(sum(times), 1) if times else None,
        "trainer": history.get("trainer_type") or meta.get("trainer_type"),
        "spec_hash": meta.get("spec_hash") or (run.initial_categories or {}).get("spec_hash"),
    }


def find_runs(root) -> list[Path]:
    """Run folders directly in ``root`` (or ``root`` itself when it is one), by name."""
    from spinlock_spec.runs.names import RUN_MARKERS

    root = Path(root)
    if not root.is_dir():
        raise CheckpointError(f"{root}: no such folder", code="E400",
                              hint="runs are written under runs/ by default (train --out sets the folder)")
    if any((root / m).is_file() for m in RUN_MARKERS):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and any((p / m).is_file() for m in RUN_MARKERS))


def compare(paths) -> dict[str, Any]:
    """Metrics side by side and the spec diff of every run against the first."""
    from spinlock_spec.compile.diff import diff_specs

    runs = [summarize(p) for p in paths]
    diffs = []
    first = Path(paths[0]) / CONFIG_FILE
    for path in paths[1:]:
        other = Path(path) / CONFIG_FILE
        if first.is_file() and other.is_file():
            diffs.append({"a": runs[0]["name"], "b": Path(path).name, "diff": diff_specs(first, other)})
    return {"runs": runs, "diffs": diffs}


def cell(value, float_format: str = ".3f") -> str:
    """One table cell: ``-`` for a missing value, floats in ``float_format``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, float_format)
    return str(value)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows])


def list_text(records: list[dict]) -> str:
    header = ["NAME", "SPEC", "STATUS", "EPOCHS", "QUALITY", "UTILIZATION"]
    rows = [[r["name"], r["spec"] or (f"sha256:{r['spec_hash'][:12]}" if r["spec_hash"] else "-"), r["status"],
             f"{r['epochs']}/{r['num_epochs']}" if r["num_epochs"] else str(r["epochs"]),
             cell(r["quality"]), "-" if r["utilization"] is None else f"{100 * r['utilization']:.1f}%"]
            for r in records]
    return table(header, rows)


def compare_text(result: dict) -> str:
    from spinlock_spec.compile.diff import diff_text

    runs = result["runs"]
    rows = [[label] + [cell(r[key][:12] if key == "spec_hash" and r[key] else r[key]) for r in runs]
            for key, label in COMPARED]
    out = table(["", *[r["name"] for r in runs]], rows)
    for d in result["diffs"]:
        out += f"\nspec {d['a']} -> {d['b']}:\n" + _indent(diff_text(d["diff"]))
    return out


def compare_json(result: dict) -> str:
    doc = {"runs": result["runs"],
           "diffs": [{"a": d["a"], "b": d["b"], "diff": d["diff"].to_dict()} for d in result["diffs"]]}
    return json.dumps(doc, indent=2, default=str)


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())
