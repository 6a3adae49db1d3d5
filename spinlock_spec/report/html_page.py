"""The report's HTML page: one file, inline CSS, no scripts, no external resources;
figures are <img> tags with relative paths to the PNGs next to it."""
from __future__ import annotations

import html
import json
from typing import Any
from collections.abc import Sequence

from .figures import FigureInfo

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 1300px;
       color: #1d2330; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.sub { color: #5a6270; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d5d9e0; padding: 0.25em 0.7em; text-align: left; vertical-align: top; }
th { background: #f1f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes { background: #fff6dc; border: 1px solid #e9d38a; padding: 0.5em 1em; border-radius: 4px; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #e3e6ea; }
figcaption { color: #4a5160; font-size: 0.9em; margin-top: 0.3em; }
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def _cell(value: Any) -> str:
    cls = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{cls}>{html.escape(_fmt(value))}</td>"


def _kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th>{_cell(v)}</tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _categories_table(categories: list[dict[str, Any]]) -> str:
    if not categories:
        return "<p>No category information yet.</p>"
    cols = [("name", "category"), ("features", "features"), ("utilization_per_level", "utilization per level"),
            ("perplexity_per_level", "perplexity per level"), ("recon_mse", "reconstruction MSE")]
    cols = [c for c in cols if any(c[0] in row for row in categories)]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = "".join("<tr>" + "".join(_cell(row.get(key)) for key, _ in cols) + "</tr>" for row in categories)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_page(summary: dict[str, Any], figures: Sequence[FigureInfo], notes: Sequence[str]) -> str:
    title = f"spinlock-spec report: {summary['run']}"
    overview = [("status", summary["status"]), ("trainer", summary.get("trainer_type")),
                ("model", summary.get("model_class")), ("assignment", summary.get("assignment")),
                ("epochs", f"{summary['epochs_done']} of {_fmt(summary.get('num_epochs'))}"),
                ("best epoch", summary.get("best_epoch")), ("best validation loss", summary.get("best_val_loss")),
                ("stopped early", summary.get("stopped_early")), ("initial ARI", summary.get("initial_ari")),
                ("spec hash", (summary.get("spec_hash") or "")[:16] or None)]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>Run report</h1><p class=\"sub\">{html.escape(summary['run'])}</p>"]
    if notes:
        parts.append("<div class=\"notes\"><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                     + "</ul></div>")
    parts.append("<h2>Summary</h2>" + _kv_table(overview))
    last = summary.get("last_epoch")
    if last:
        rows = [(k, last.get(k)) for k in ("epoch", "train_loss", "val_loss", "components", "utilization",
                                           "utilization_per_level", "perplexity", "temperature", "assign", "lr")
                if last.get(k) is not None]
        parts.append("<h2>Last completed epoch</h2>" + _kv_table(rows))
    if summary.get("final_metrics"):
        parts.append("<h2>Final metrics (validation set)</h2>" + _kv_table(list(summary["final_metrics"].items())))
    parts.append("<h2>Categories</h2>" + _categories_table(summary.get("categories") or []))
    parts += _data_honesty_sections(summary)
    parts.append("<h2>Figures</h2>" if figures else "<h2>Figures</h2><p>Nothing to plot yet.</p>")
    for fig in figures:
        parts.append(f"<figure id=\"{html.escape(fig.file.rsplit('.', 1)[0])}\"><h3>{html.escape(fig.title)}</h3>"
                     f"<img src=\"{html.escape(fig.file)}\" alt=\"{html.escape(fig.title)}\">"
                     f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
    parts.append("<h2>Summary as JSON</h2><pre>" + html.escape(json.dumps(summary, indent=2, default=str))
                 + "</pre></body></html>\n")
    return "\n".join(parts)


def _data_honesty_sections(summary: dict[str, Any]) -> list[str]:
    """Where every input column went, and the run's last ``evaluate`` (probe, usage)."""
    parts = []
    features = summary.get("input_features")
    if features:
        rows = [(f"{r.get('family')}:{r.get('name')}",
                 r.get("fate") + (f" of {r['twin']} ({r['slope']:.4g} x + {r['intercept']:.4g})"
                                  if r.get("fate") == "twin" else ""),
                 r.get("category", "-"), r.get("transform", "-")) for r in features]
        parts.append("<h2>Input features</h2>" + _table(("column", "fate", "category", "transform"), rows))
    ev = summary.get("evaluation")
    if ev:
        head = [("data", ev.get("data")), ("rows", ev.get("n_rows")), ("weights", ev.get("weights")),
                ("quality (user scale)", ev.get("quality")), ("utilization", ev.get("utilization")),
                ("perplexity", ev.get("perplexity")), ("dead codes", ev.get("dead_codes"))]
        parts.append("<h2>Evaluation (spinlock-spec evaluate)</h2>" + _kv_table(head))
        probe = ev.get("probe")
        if probe:
            rows = [(name, f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}") for name, r in probe["rows"].items()]
            parts.append(f"<h3>Linear probe of {html.escape(str(probe.get('labels')))} "
                         f"({probe.get('n_classes')} classes, {html.escape(str(probe.get('protocol')))})</h3>"
                         + _table(("input", "accuracy", "macro-F1"), rows))
        usage = ev.get("usage") or []
        if usage:
            rows = [(u["category"], u["level"], u["codebook"], f"{100 * u['utilization']:.1f}%",
                     f"{u['perplexity']:.2f}", u["dead_codes"]) for u in usage]
            parts.append("<h3>Codebook usage</h3>" + _table(
                ("category", "level", "size", "utilization", "perplexity", "dead codes"), rows))
    return parts


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
