"""``spinlock-spec report RUN``: PNG figures + an HTML page (or a JSON summary) of a run folder.

Works on a run that is still training (it reads what is there).  A folder that
is not a run, or a corrupt file in it, is a CheckpointError (exit 2)."""
from __future__ import annotations

import click

from spinlock_spec.cli.output import format_option
from spinlock_spec.cli.progress import Progress


@click.command("report")
@click.argument("run", type=click.Path(path_type=str))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Folder for index.html, summary.json and the PNG figures [default: RUN/report].")
@format_option("html", help="text (or html): write the figures and the page, print where; json: print "
              "the summary to stdout (writes nothing; errors as JSON too).")
@click.option("--no-data", "no_data", is_flag=True, default=False,
              help="Do not encode the validation split (skips code-usage histograms and the "
                   "per-category reconstruction error).")
def report_cmd(run, out, fmt, no_data):
    """Plot and summarize the training run in folder RUN (or the sweep in a sweep folder:
    the metric against each swept value and the trial table)."""
    from pathlib import Path

    from spinlock_spec.errors import UserError

    if (Path(run) / "sweep.json").is_file():
        _sweep_report(run, out, fmt)
        return

    if fmt == "json":
        from spinlock_spec.report import build_summary

        with Progress("report") as progress:
            progress.stage("reading the run" + ("" if no_data else " and encoding its validation split"))
            summary = build_summary(run, use_data=not no_data)
        from spinlock_spec.runs.folder import dumps_json

        click.echo(dumps_json(summary))
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("the report needs matplotlib", code="E500",
                        hint='pip install matplotlib (or, in the checkout: pip install -e .)') from None
    from spinlock_spec.report import make_report

    with Progress("report") as progress:
        progress.stage("reading the run, " + ("" if no_data else "encoding its validation split, ")
                       + "drawing the figures")
        result = make_report(run, out, use_data=not no_data)
    for note in result.summary.get("notes") or []:
        click.echo(f"note: {note}", err=True)
    click.echo(f"Report: {result.html} ({len(result.figures)} figures)")


def _sweep_report(folder: str, out, fmt: str) -> None:
    from pathlib import Path

    from spinlock_spec.sweep.table import summary_json, sweep_summary

    summary = sweep_summary(folder)
    if fmt == "json":
        click.echo(summary_json(summary))
        return
    from spinlock_spec.report.sweep_page import make_sweep_report

    summary = {**summary, "diff": summary["diff"].to_dict() if summary["diff"] is not None else None}
    page, figures = make_sweep_report(summary, out or Path(folder) / "report")
    click.echo(f"Report: {page} ({len(figures)} figures)")


__all__ = ["report_cmd"]
