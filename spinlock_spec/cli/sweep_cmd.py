"""``spinlock-spec sweep SPEC -p KEY=VALUES ...``: many specs from one, trained by parallel
workers as an Optuna study (resumable, joinable from other machines); ``sweep show DIR``:
the table, the best spec and its diff against the base."""
from __future__ import annotations

import sys

import click

from spinlock_spec.cli.output import format_option


class SweepGroup(click.Group):
    """``sweep SPEC ...`` runs a sweep; ``sweep show DIR`` shows one."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("sweep", cls=SweepGroup)
def sweep_group():
    """Sweep a spec: `sweep SPEC -p KEY=A,B -p KEY=LOW:HIGH ...` runs trials (see `sweep run
    --help`); `sweep show DIR` prints the table, the best spec and its diff (docs/sweeps.md)."""


@sweep_group.command("run")
@click.argument("spec", type=str)
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUES",
              help="A swept value: a list A,B,C (grid / choices) or a range LOW:HIGH[:log] (searched). "
                   "Repeatable.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Trials to run (default for lists alone: the whole grid; ranges need it).")
@click.option("--metric", type=click.Choice(["quality", "val_loss", "probe"]), default="quality",
              show_default=True, help="What the sweep optimizes (quality, probe: higher; val_loss: lower).")
@click.option("--labels", type=str, default=None,
              help="With --metric probe: the labels a linear probe predicts from each trial's tokens "
                   "(an array of the spec's data file, or a file: .npy, one-array .npz, one label per line).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine (each trains one trial at a time).")
@click.option("--out", type=str, default=None, help="Sweep folder (default sweeps/<spec-name>).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="training.num_epochs of every trial.")
@click.option("--set", "fixed", multiple=True, metavar="KEY=VALUE", help="A fixed override of every trial.")
@click.option("--storage", type=str, default=None,
              help="Study database URL (default sqlite:///OUT/study.db); a shared PostgreSQL/MySQL URL "
                   "lets workers on other machines join.")
@click.option("--study", "study_name", type=str, default="sweep", show_default=True,
              help="Study name inside the storage.")
@click.option("--gpus", type=str, default=None,
              help="GPU ids for the workers, e.g. 0,1,2,3: worker i sees only GPU i (mod the list); "
                   "--jobs defaults to their number.")
@click.option("--no-prune", is_flag=True, help="Never stop a trial early (default: median pruner on "
                                               "the per-epoch validation loss).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler.")
@format_option(help="text: the final table for people; json: it as one JSON document on stdout (errors "
                   "too). Worker progress lines go to stderr.")
@click.pass_context
def sweep_run(ctx, spec, params, trials, metric, labels, jobs, out, epochs, fixed, storage, study_name, gpus,
              no_prune, seed, fmt):
    """Run (or resume, or join) a sweep of SPEC.

    Every trial's spec is compiled before any trial runs; trials whose specs compile to the
    same hash run once.  Ctrl-C stops cleanly; the same command resumes."""
    from pathlib import Path

    from spinlock_spec.sweep.runner import SweepOptions, run_workers, start

    gpu_list = tuple(g.strip() for g in gpus.split(",") if g.strip()) if gpus else ()
    if gpu_list and ctx.get_parameter_source("jobs").name == "DEFAULT":
        jobs = len(gpu_list)
    name = Path(spec[4:] if spec.startswith("zoo:") else spec).stem
    opts = SweepOptions(spec=spec, params=tuple(params), fixed=tuple(fixed), metric=metric, trials=trials,
                        jobs=jobs, out=out or f"sweeps/{name}", epochs=epochs, storage=storage,
                        study=study_name, gpus=gpu_list, prune=not no_prune, seed=seed,
                        labels=labels)
    info = start(opts)
    d = info["definition"]
    click.echo(f"sweep {opts.out}: {d['trials']} trial(s) of {spec}, {metric}, {jobs} worker(s); "
               f"storage {info['storage']}", err=True)
    code = run_workers(opts.out, jobs, gpu_list)
    _show(opts.out, fmt)
    if code == 130:
        click.echo("Interrupted: finished trials are kept; run the same command to resume.", err=True)
    sys.exit(code)


@sweep_group.command("show")
@click.argument("sweep_dir", type=click.Path(path_type=str))
@format_option()
def sweep_show(sweep_dir, fmt):
    """Print the table of the sweep in SWEEP_DIR, write its best spec (best.yaml) and show
    the semantic diff of the best against the base spec."""
    _show(sweep_dir, fmt)


def _show(sweep_dir, fmt) -> None:
    from spinlock_spec.sweep.table import summary_json, sweep_summary, table_text

    summary = sweep_summary(sweep_dir)
    click.echo(summary_json(summary) if fmt == "json" else table_text(summary), nl=fmt == "json")
