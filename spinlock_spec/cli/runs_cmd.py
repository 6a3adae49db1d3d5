"""``spinlock-spec runs list [DIR]`` and ``runs compare RUN RUN...``."""
from __future__ import annotations

import click

from spinlock_spec.cli.output import echo_json, format_option


@click.group("runs")
def runs_group():
    """List run folders and compare them (metrics side by side, spec diff)."""


@runs_group.command("list")
@click.argument("folder", required=False, default="runs", type=click.Path(path_type=str))
@format_option()
def list_cmd(folder, fmt):
    """List the run folders in FOLDER [default: runs]: name, spec, status, epochs, quality, utilization."""
    from spinlock_spec.runs_table import find_runs, list_text, summarize

    records = [summarize(p) for p in find_runs(folder)]
    if fmt == "json":
        echo_json({"folder": folder, "runs": records})
        return
    click.echo(list_text(records) if records else "(no runs)", nl=not records)
    click.echo(f"{len(records)} run{'s' if len(records) != 1 else ''} in {folder}", err=True)


@runs_group.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=str))
@format_option()
def compare_cmd(runs, fmt):
    """Compare RUNS: their metrics side by side, then what differs in each spec from the first
    (architecture / training / cosmetic, as `diff` shows it)."""
    from spinlock_spec.runs_table import compare, compare_json, compare_text

    if len(runs) < 2:
        raise click.UsageError("give two run folders or more")
    result = compare(list(runs))
    click.echo(compare_json(result) if fmt == "json" else compare_text(result), nl=fmt == "json")
