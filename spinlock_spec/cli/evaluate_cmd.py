"""``spinlock-spec evaluate RUN --data FILE [--labels NAME] [--format text|json]``."""
from __future__ import annotations

import click


@click.command("evaluate")
@click.argument("run", type=str)
@click.option("--data", "data", required=True, type=str, help="Dataset file (HDF5 spinlock layout or NPZ).")
@click.option("--labels", "labels", type=str, default=None,
              help="Labels for a linear probe: an array of the data file (NPZ key / HDF5 path) or a "
                   "file (.npy, one-array .npz, text with one label per line).")
@click.option("--which", type=click.Choice(["best", "final"]), default="best", show_default=True,
              help="Which weights of the run.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-save", is_flag=True, help="Do not write RUN/evaluation.json (shown by `report`).")
def evaluate_cmd(run, data, labels, which, fmt, no_save):
    """Judge a run's tokens on a dataset: user-scale quality, per-feature R^2, code usage of every
    category x level, and with --labels a linear probe from tokens beside the raw features."""
    import json

    from spinlock_spec import api
    from spinlock_spec.cli.progress import Progress
    from spinlock_spec.evaluate import evaluate_run, format_text, save_evaluation

    with Progress("evaluate") as progress:
        progress.stage(f"loading {run}")
        loaded = api.load_run(run, which=which)
        result = evaluate_run(loaded, data, labels, stage=progress.stage)
    result["weights"] = which
    if not no_save and not str(run).startswith("zoo:"):
        save_evaluation(loaded.path, result)
    click.echo(json.dumps(result, indent=2) if fmt == "json" else format_text(result))
