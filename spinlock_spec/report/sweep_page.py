"""The report of a sweep folder: the metric against each swept value (one panel per ``-p``
parameter), the trial table and the best trial, as PNG + HTML + summary.json.

Takes the summary dict of ``spinlock_spec.sweep.table.sweep_summary`` (the CLI builds it), so
the report layer needs neither optuna nor the sweep package."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from .figures import FigureInfo, _save, new_figure
from .html_page import CSS, _cell, _kv_table

SWEEP_FIGURE = "sweep_metric.png"


def _numeric(values: list) -> list[float] | None:
    out = []
    for v in values:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(x):
            return None
        out.append(x)
    return out


def sweep_figure(summary: dict[str, Any], out: Path) -> FigureInfo | None:
    """Metric of each finished trial against each swept value; the best trial in red."""
    rows = [r for r in summary["trials"] if r["status"] == "complete" and r["metric"] is not None]
    keys = [p.split("=", 1)[0] for p in summary["params"]]
    if not rows or not keys:
        return None
    best = (summary.get("best") or {}).get("trial")
    fig = new_figure(4.2 * len(keys), 3.4)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        raw = [r["values"].get(key) for r in rows]
        xs = _numeric(raw)
        if xs is None:                     # categorical: one position per value, in first-seen order
            labels = list(dict.fromkeys(str(v) for v in raw))
            xs = [labels.index(str(v)) for v in raw]
            ax.set_xticks(range(len(labels)), labels)
        elif min(xs) > 0 and max(xs) / min(xs) >= 20:
            ax.set_xscale("log")
        ys = [r["metric"] for r in rows]
        colors = ["#c0392b" if r["trial"] == best else "#2c6fbb" for r in rows]
        ax.scatter(xs, ys, c=colors, s=28)
        ax.set_xlabel(key)
        ax.set_ylabel(summary["metric"])
        ax.grid(alpha=0.3)
    fig.suptitle(f"{summary['metric']} per trial ({summary['direction']}; best in red)")
    fig.tight_layout()
    _save(fig, out, SWEEP_FIGURE)
    return FigureInfo(SWEEP_FIGURE, "Metric against each swept value",
                      f"{len(rows)} finished trial(s); one point per trial, the best in red.")


def render_sweep_page(summary: dict[str, Any], figure: FigureInfo | None) -> str:
    keys = [p.split("=", 1)[0] for p in summary["params"]]
    title = f"spinlock-spec sweep: {summary['sweep']}"
    best = summary.get("best")
    overview = [("spec", summary["spec"]), ("metric", f"{summary['metric']} ({summary['direction']})"),
                ("trials", f"{len(summary['trials'])} of {summary['planned_trials']} planned"),
                ("states", summary["counts"]), ("fixed", ", ".join(summary["fixed"]) or None),
                ("best trial", best["trial"] if best else None), ("best value", best["metric"] if best else None),
                ("best spec", summary.get("best_spec"))]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trial", *keys, summary["metric"], "seconds", "status"])
    body = "".join("<tr>" + _cell(r["trial"]) + "".join(_cell(r["values"].get(k)) for k in keys)
                   + _cell(r["metric"]) + _cell(r["seconds"])
                   + _cell(r["status"] + (f": {r['error'].splitlines()[0]}" if r.get("error") else "")) + "</tr>"
                   for r in summary["trials"])
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
             f"</title><style>{CSS}</style></head><body><h1>Sweep report</h1>"
             f"<p class=\"sub\">{html.escape(summary['sweep'])}</p>",
             "<h2>Summary</h2>" + _kv_table(overview)]
    if figure is not None:
        parts.append(f"<figure id=\"sweep\"><h3>{html.escape(figure.title)}</h3><img src=\"{figure.file}\" "
                     f"alt=\"{html.escape(figure.title)}\"><figcaption>{html.escape(figure.caption)}"
                     "</figcaption></figure>")
    parts.append(f"<h2>Trials</h2><table><tr>{head}</tr>{body}</table>")
    data = {k: v for k, v in summary.items() if k not in ("best_yaml",)}
    parts.append("<h2>Summary as JSON</h2><pre>" + html.escape(json.dumps(data, indent=2, default=str))
                 + "</pre></body></html>\n")
    return "\n".join(parts)


def make_sweep_report(summary: dict[str, Any], out: str | Path) -> tuple[Path, list[Path]]:
    """Write the figure, summary.json and index.html of a sweep into ``out``."""
    from spinlock_spec.atomic import atomic_write_text

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = sweep_figure(summary, out_dir)
    data = {k: v for k, v in summary.items() if k != "best_yaml"}
    atomic_write_text(out_dir / "summary.json", json.dumps(data, indent=2, default=str) + "\n")
    page = out_dir / "index.html"
    atomic_write_text(page, render_sweep_page(summary, figure))
    return page, ([out_dir / figure.file] if figure is not None else [])
