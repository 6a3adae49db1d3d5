"""``spinlock-spec train SPEC``: compile the spec and train it (also the original's flags)."""
from __future__ import annotations

import json
import os
import sys

import click

from spinlock_spec.cli.output import format_option


@click.command("train")
@click.argument("spec", required=False, type=str)
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--config", "config", type=str, default=None, help="The spec (the original tool's flag).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override training.num_epochs.")
@click.option("--data", "--input", "data", type=str, default=None,
              help="Dataset file (HDF5 spinlock layout or NPZ); default: the spec's, or the embedded synthetic data.")
@click.option("--out", "--output", "out", type=str, default=None,
              help="Run folder (default runs/<spec-name>-<timestamp>).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Where to train (default: the spec's training.device, auto = cuda when available).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a spec value, e.g. --set training.batch_size=64. Repeatable.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Override training.batch_size.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override training.learning_rate.")
@click.option("--resume", "--resume-from", "resume", type=str, default=None,
              help="Continue the run in this folder (optimizer, schedule, RNG and epoch restored).")
@click.option("--overwrite", is_flag=True,
              help="Replace the run folder --out names (removed whole first); without it a non-empty "
                   "--out is refused.")
@click.option("--data-changed-ok", is_flag=True,
              help="With --resume: continue on the run's data file even though it changed since.")
@click.option("--init-from", type=str, default=None,
              help="Start from the weights of a run folder or zoo:NAME (same architecture).")
@click.option("--no-torch-compile", is_flag=True, help="Never use torch.compile.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train with N processes (data parallel: gloo on CPU, nccl on GPU, one GPU each); "
                   "training.batch_size is the global batch (docs/gpu.md: batch and learning rate "
                   "for N GPUs). Under torchrun, leave it out.")
@click.option("--dry-run", is_flag=True, help="Compile, load the data and build the model; train nothing. "
              "Prints the resolved spec with each value's origin.")
@click.option("--verbose", "-v", is_flag=True, help="More detail in the log.")
@click.option("--quiet", "-q", is_flag=True, help="Print warnings and errors only (the run folder is written as usual).")
@format_option(aliases=("--log-format",),
               help="json: one JSON object per event and line on stdout (epoch, checkpoint, finished, "
                    "warning, error), the human lines on stderr.")
def train_cmd(spec, assignments, config, epochs, data, out, device, overrides, batch_size, learning_rate, resume,
              overwrite, data_changed_ok, init_from, no_torch_compile, nproc, dry_run, verbose, quiet, fmt):
    """Train the tokenizer described by SPEC (a file or zoo:NAME).

    Prints the build, trainer and per-epoch indicators, and writes the run folder:
    best/final weights (safetensors + JSON), normalization_stats.npz,
    training_history.json, metrics.jsonl, categories.json and config.yaml.
    Overrides can follow SPEC as KEY=VALUE (Hydra style) or be given with --set."""
    from spinlock_spec import api
    from spinlock_spec.cli.compile_cmd import bare_overrides
    from spinlock_spec.logs import configure
    from spinlock_spec.train.divergence import TrainingInterrupted    # torch-free: torch loads later

    if spec and "=" in spec and not os.path.exists(spec):     # train --resume RUN key=value
        spec, assignments = None, (spec, *assignments)
    if spec and config and spec != config:
        raise click.UsageError("give the spec once (SPEC or --config)")
    spec = spec or config
    if spec is None and resume is None:
        raise click.UsageError("missing SPEC (or --resume RUN)")
    log_format = fmt
    # json: the events are the only thing on stdout; every human line goes to stderr
    configure(quiet=quiet, verbose=verbose, stream=sys.stderr if log_format == "json" else None,
              json_warnings=log_format == "json")
    extra = list(overrides) + list(bare_overrides(assignments))
    if no_torch_compile:
        extra.append("training.use_torch_compile=false")
    kwargs = dict(overrides=extra, data=data, epochs=epochs, out=out, device=device,
                  batch_size=batch_size, learning_rate=learning_rate, resume=resume, init_from=init_from,
                  quiet=quiet, log_format=log_format, dry_run=dry_run, overwrite=overwrite,
                  data_changed_ok=data_changed_ok)
    if nproc > 1 and not dry_run:
        from spinlock_spec.cli import launcher
        from spinlock_spec.runs.guard import prepare_out
        from spinlock_spec.train.world import env_world_size

        if env_world_size() > 1:
            raise click.UsageError("--nproc starts its own processes: leave it out under torchrun")
        if out is not None and resume is None:
            prepare_out(out, overwrite=overwrite)       # once, before the processes start
            kwargs["overwrite"] = False
        elif out is None and resume is None:            # the folder is chosen here, known to the launcher
            from spinlock_spec.runs.folder import RunDir

            kwargs["out"] = str(RunDir.new("runs", api.spec_name(spec)).path)
        sys.exit(launcher.launch(nproc, {"spec": spec, **kwargs}, quiet=quiet, verbose=verbose))
    import signal

    from spinlock_spec.cli import launcher

    signal.signal(signal.SIGTERM, launcher.interrupt)     # SIGTERM stops like Ctrl-C: checkpoint, hint
    try:
        result = api.train(spec, **kwargs)
        if dry_run:
            _print_resolved(result.compiled, log_format)
        else:
            from spinlock_spec.cli import fast_exit
            fast_exit.allow()
    except TrainingInterrupted:
        sys.exit(130)
    except Exception as exc:      # several processes (torchrun): show each failure once
        code = _distributed().silent_exit_code(exc) if _distributed() else None
        if code is None:
            raise
        sys.exit(code)
    finally:
        if _distributed():
            _distributed().teardown()


def _distributed():
    """train/distributed.py once this process imported it (it imports torch; a process that
    never did has no process group to end or report on)."""
    return sys.modules.get("spinlock_spec.train.distributed")


def _print_resolved(compiled, log_format: str) -> None:
    """--dry-run: the resolved spec with the origin of each value (YAML), or one JSON event."""
    from spinlock_spec.compile import printing

    if log_format == "json":
        click.echo(json.dumps({"event": "dry_run", "spec_hash": compiled.hash, "spec": compiled.spec,
                               "origins": {r["key"]: r["origin"] for r in printing.origins(compiled)}},
                              default=str))
    else:
        click.echo(printing.resolved_yaml(compiled, with_origins=True), nl=False)
