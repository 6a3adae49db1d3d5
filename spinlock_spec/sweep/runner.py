"""Start a sweep: check every trial's spec, create or join the study, start the workers
(one process each; a GPU each when ``gpus`` are given, else a share of the CPU threads)
and wait for them.  Ctrl-C / SIGTERM stop the workers cleanly: finished trials stay,
the running ones are queued again for the next start."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from spinlock_spec.sweep import study as st
from spinlock_spec.sweep.params import check_all, grid, is_grid, parse_params


@dataclass
class SweepOptions:
    spec: str
    params: tuple
    fixed: tuple = ()
    metric: str = "quality"
    trials: int | None = None
    jobs: int = 1
    out: str = "sweeps/sweep"
    epochs: int | None = None
    storage: str | None = None
    study: str = "sweep"
    gpus: tuple = ()
    prune: bool = True
    seed: int = 0
    labels: str | None = None


def prepare(opts: SweepOptions):
    """Parse and check everything (no trial runs); returns (definition, grid values, params)."""
    st.require_optuna()
    params = parse_params(opts.params)
    fixed = list(opts.fixed) + ([f"training.num_epochs={int(opts.epochs)}"] if opts.epochs else [])
    labels = _labels(opts)
    checked = check_all(opts.spec, params, fixed)
    grid_values = None
    if is_grid(params):
        combos = grid(params)
        n = len(combos) if opts.trials is None else min(opts.trials, len(combos))
        if n < len(combos):
            combos = random.Random(opts.seed).sample(combos, n)
        grid_values, trials = combos, n
    else:
        if opts.trials is None:
            raise st.SweepError("a sweep with ranges needs --trials N", code="E012",
                                hint="e.g. --trials 20 (lists alone make a grid and need no --trials)")
        trials = opts.trials
    definition = {"spec": str(opts.spec), "base_hash": checked.base_hash,
                  "params": [p.text for p in params], "fixed": fixed, "metric": opts.metric,
                  "trials": int(trials), "prune": bool(opts.prune), "seed": int(opts.seed),
                  "grid": grid_values is not None}
    if labels is not None:
        definition["labels"] = labels
    return definition, grid_values, params


def _labels(opts: SweepOptions) -> str | None:
    """The probe's labels as stored in the sweep: a file's absolute path, or a data-file key."""
    if opts.metric == "probe" and not opts.labels:
        raise st.SweepError("--metric probe needs --labels NAME: the probe predicts those labels from "
                            "every trial's tokens", code="E013",
                            hint="--labels KEY (an array of the spec's data file) or --labels FILE "
                                 "(.npy, one-array .npz, text: one label per line)")
    if opts.labels and opts.metric != "probe":
        raise st.SweepError(f"--labels is read by --metric probe only (this sweep's metric is "
                            f"{opts.metric})", code="E013", hint="drop --labels, or use --metric probe")
    if not opts.labels:
        return None
    path = Path(opts.labels)
    return str(path.resolve()) if path.is_file() else opts.labels


def start(opts: SweepOptions) -> dict:
    """Create/join the study and write the sweep folder's sweep.json; returns its content."""
    definition, grid_values, _ = prepare(opts)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / st.TRIALS_DIR).mkdir(exist_ok=True)
    url = opts.storage or st.default_storage(out)
    storage = st.open_storage(url)
    st.create_or_join(storage, opts.study, definition, grid_values, opts.seed)
    spec = opts.spec if str(opts.spec).startswith("zoo:") else str(Path(opts.spec).resolve())
    info = {"storage": url, "study": opts.study, "spec": spec, "definition": definition}
    st.write_sweep_file(out, info)
    return info


def worker_env(slot: int, jobs: int, gpus: tuple) -> dict:
    env = dict(os.environ)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(gpus[slot % len(gpus)])
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        from spinlock_spec.sweep.worker import THREADS_ENV

        env[THREADS_ENV] = str(threads)
    return env


def _stderr_fd():
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):     # no real stream (embedded, captured)
        return None


def run_workers(sweep_dir, jobs: int, gpus: tuple = ()) -> int:
    """Run ``jobs`` worker processes to the end; 130 when interrupted."""
    procs = [subprocess.Popen([sys.executable, "-m", "spinlock_spec.sweep.worker", str(sweep_dir), str(i)],
                              env=worker_env(i, jobs, gpus), start_new_session=True,
                              stdout=_stderr_fd())     # progress lines: stderr (stdout: the table)
             for i in range(jobs)]  # own session: a terminal Ctrl-C reaches them once, from here
    stopping = []

    def stop(signum, frame):  # noqa: ARG001
        stopping.append(signum)
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGINT)
                except OSError:
                    pass

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = []
        for p in procs:
            while True:
                try:
                    codes.append(p.wait())
                    break
                except KeyboardInterrupt:      # pragma: no cover (the handler takes SIGINT)
                    stop(signal.SIGINT, None)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stopping or 130 in codes:
        return 130
    return max(codes, default=0)
