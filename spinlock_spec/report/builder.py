"""Assemble the report of a run folder: summary, figures, HTML page."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinlock_spec.runs.reader import RunFiles, read_run
from .series import codebook_grid, series_from_records

REPORT_DIR = "report"
HTML_FILE = "index.html"
SUMMARY_FILE = "summary.json"


@dataclass
class ReportResult:
    summary: dict[str, Any]
    out_dir: Path | None = None
    html: Path | None = None
    figures: list[Path] = field(default_factory=list)


def _model_stats(run: RunFiles, use_model: bool, use_data: bool):
    from .model_stats import assignment_from_categories, load_model_stats

    stats = None
    if use_model:
        stats = load_model_stats(run.path, finished=run.finished, categories=run.categories, use_data=use_data)
    if stats is None and run.categories:
        stats = assignment_from_categories(run.categories)
    return stats


def build_summary(run_path: str | Path, *, use_model: bool = True, use_data: bool = True) -> dict[str, Any]:
    """The summary dict alone (what ``report --format json`` prints)."""
    from .summary import build_summary_dict

    run = read_run(run_path)
    stats = _model_stats(run, use_model, use_data)
    summary = build_summary_dict(run, stats)
    summary["notes"] = run.notes + (stats.notes if stats is not None else [])
    return summary


def make_report(run_path: str | Path, out: str | Path | None = None, *, use_model: bool = True,
                use_data: bool = True) -> ReportResult:
    """Write the PNG figures, ``summary.json`` and ``index.html`` into ``out``
    (default: ``RUN/report``)."""
    from spinlock_spec.atomic import atomic_write_text
    from spinlock_spec.runs.folder import dumps_json

    from . import figures as F
    from .html_page import render_page
    from .summary import build_summary_dict

    run = read_run(run_path)
    out_dir = Path(out) if out is not None else run.path / REPORT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = _model_stats(run, use_model, use_data)
    series = series_from_records(run.records)
    last_metrics = (run.records[-1].get("metrics") or {}) if run.records else {}
    cats, _, grid = codebook_grid(last_metrics)
    made = [
        F.loss_figure(series, out_dir),
        F.codebook_curves_figure(series, out_dir),
        F.learnable_figure(series, out_dir),
        F.codebook_grid_figure(cats, grid, run.records[-1].get("epoch") if run.records else None, out_dir),
        F.assignment_figure(stats, out_dir),
        F.usage_histograms_figure(stats, out_dir),
        F.recon_figure(stats, out_dir),
    ]
    infos = [f for f in made if f is not None]
    produced = {f.file for f in infos}
    for name in F.FIGURE_FILES:              # drop figures of an earlier report that no longer apply
        if name not in produced and (out_dir / name).is_file():
            (out_dir / name).unlink()
    summary = build_summary_dict(run, stats)
    notes = run.notes + (stats.notes if stats is not None else [])
    summary["notes"] = notes
    summary["figures"] = [{"file": f.file, "title": f.title} for f in infos]
    atomic_write_text(out_dir / SUMMARY_FILE, dumps_json(summary) + "\n")
    html_path = out_dir / HTML_FILE
    atomic_write_text(html_path, render_page(summary, infos, notes))
    return ReportResult(summary, out_dir, html_path, [out_dir / f.file for f in infos])
