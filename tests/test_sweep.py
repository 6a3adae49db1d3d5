"""Sweeps (spinlock_spec/sweep, `spinlock-spec sweep`): parameter parsing, every trial's spec
checked before anything runs, and real sweeps in real processes on the embedded data: a 4-trial
sweep interrupted by SIGINT and resumed, two workers sharing one SQLite study, a failing trial."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import EXAMPLES, SMALL_SET_ARGS, assert_user_error, cli, cli_inproc

from spinlock_spec.errors import SpecError
from spinlock_spec.sweep.params import check_all, parse_param, parse_params

SPEC = EXAMPLES / "static_baseline.yaml"
GRID = ["-p", "training.learning_rate=1e-3,3e-4", "-p", "model.commitment_cost=0.25,0.5"]


def test_param_forms():
    lst = parse_param("training.learning_rate=1e-3,3e-4", 1)
    assert (lst.is_range, lst.choices) == (False, ("1e-3", "3e-4"))
    assert lst.override("3e-4") == "training.learning_rate=3e-4"
    rng = parse_param("model.commitment_cost=0.25:0.5", 2)
    assert (rng.low, rng.high, rng.log, rng.integer) == (0.25, 0.5, False, False)
    assert rng.override(0.3) == "model.commitment_cost=0.3"
    ints = parse_param("training.batch_size=32:128", 3)
    assert ints.integer and ints.override(64.0) == "training.batch_size=64"
    log = parse_param("training.learning_rate=1e-4:1e-2:log", 4)
    assert log.log and log.low == pytest.approx(1e-4)
    # a colon that is not a numeric range stays a choice
    assert parse_param("dataset.path=a:b", 5).choices == ("a:b",)


def test_bad_params_reported_together():
    with pytest.raises(SpecError) as info:
        parse_params(["nokey", "model.commitment_cost=0.5:0.25", "training.learning_rate=1e-3:1e-2:cube",
                      "training.learning_rate=-1:1:log", "model.decay=0.9,0.9"])
    text = info.value.format()
    for where in ("-p nokey (argument 1)", "(argument 2)", "(argument 3)", "(argument 4)", "(argument 5)"):
        assert where in text, text
    assert "LOW must be below HIGH" in text and "log range needs LOW > 0" in text


def test_every_trial_spec_checked_before_running(tmp_path):
    """Spec errors of several -p values come out at once, each at its argument and value;
    nothing is created."""
    with pytest.raises(SpecError) as info:
        check_all(SPEC, parse_params(["model.commitment_cost=abc,0.25", "training.batch_size=64,zero",
                                      "model.decay=0.9"]))
    text = info.value.format()
    assert "-p model.commitment_cost=abc,0.25 (argument 1), value abc" in text, text
    assert "-p training.batch_size=64,zero (argument 2), value zero" in text, text
    assert "value 0.25" not in text and "argument 3" not in text
    # through the CLI: exit 2, one message per problem, no sweep folder written
    out = tmp_path / "sw"
    proc = cli("sweep", SPEC, "-p", "model.commitment_cost=abc,0.25", "-p", "training.batch_size=64,zero",
               "--out", out)
    assert_user_error(proc, "value abc", "value zero")
    assert not out.exists()


def test_grid_combinations_compiled_and_hashed():
    checked = check_all(SPEC, parse_params(["training.learning_rate=1e-3,0.001,3e-4"]))
    hashes = checked.hashes
    assert hashes[("1e-3",)] == hashes[("0.001",)] != hashes[("3e-4",)]


def test_missing_optuna_is_one_clear_message(tmp_path):
    fake = tmp_path / "fake"
    (fake / "optuna").mkdir(parents=True)
    (fake / "optuna" / "__init__.py").write_text("raise ImportError('No module named optuna')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")])}
    proc = cli("sweep", SPEC, *GRID, "--out", tmp_path / "sw", env=env)
    assert_user_error(proc, "sweeps need Optuna", 'pip install -e ".[sweep]"')


def _sweep_cmd(out: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "spinlock_spec", "sweep", str(SPEC), *GRID, "--epochs", "2",
            *SMALL_SET_ARGS, "--out", str(out), *extra]


def _complete_trials(out: Path) -> dict:
    import optuna

    from spinlock_spec.sweep.study import DB_FILE

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / DB_FILE}")
    except Exception:        # not created yet
        return {}
    return {t.number: t for t in study.get_trials() if t.state.name == "COMPLETE"}


def _show(out: Path) -> dict:
    """``sweep show --format json`` in this process (a sweep's trials ran in subprocesses)."""
    code, stdout, stderr = cli_inproc("sweep", "show", out, "--format", "json")
    assert code == 0, stderr
    return json.loads(stdout)


def _started(text: str) -> set[int]:
    return {int(line.split("trial ")[1].split()[0]) for line in text.splitlines() if line.endswith(": started")}


def test_sweep_interrupted_and_resumed(tmp_path):
    """4 trials x 2 epochs, 2 workers; SIGINT once the first trial is complete; the same
    command resumes and runs only what was not finished."""
    out = tmp_path / "sw"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_sweep_cmd(out, "--jobs", "2"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    deadline = time.monotonic() + 300
    while not _complete_trials(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    first_out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, first_out
    before = _complete_trials(out)
    assert 1 <= len(before) < 4, first_out
    stamps = {n: Path(t.user_attrs["run_dir"], "final_model.json").stat().st_mtime_ns for n, t in before.items()}

    resumed = subprocess.run(_sweep_cmd(out, "--jobs", "2"), capture_output=True, text=True, env=env,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not _started(resumed.stderr) & set(before), resumed.stderr      # nothing finished is redone
    for n, t in before.items():
        assert Path(t.user_attrs["run_dir"], "final_model.json").stat().st_mtime_ns == stamps[n]
    summary = _show(out)
    rows = summary["trials"]
    assert [r["status"] for r in rows] == ["complete"] * 4, rows
    combos = {(r["values"]["training.learning_rate"], r["values"]["model.commitment_cost"]) for r in rows}
    assert combos == {(lr, c) for lr in ("1e-3", "3e-4") for c in ("0.25", "0.5")}
    best = max(rows, key=lambda r: r["metric"])
    assert summary["best"]["trial"] == best["trial"]
    # best.yaml compiles, and the diff names the swept and fixed changes against the base
    from spinlock_spec.api import compile_spec

    compiled = compile_spec(out / "best.yaml")
    assert compiled.spec["training"]["num_epochs"] == 2
    assert compiled.spec["training"]["learning_rate"] == float(best["values"]["training.learning_rate"])
    changed = {c["path"] if isinstance(c["path"], str) else ".".join(c["path"])
               for c in summary["diff"]["changes"]}
    assert {"training.num_epochs", "training.batch_size"} <= changed
    code, text, _ = cli_inproc("sweep", "show", out)
    assert code == 0 and "best: trial" in text and text.count("complete") >= 4, text
    # report on a sweep folder: the metric-vs-value figure and the trial table
    code, _, stderr = cli_inproc("report", out)
    assert code == 0, stderr
    assert (out / "report" / "sweep_metric.png").stat().st_size > 1000
    page = (out / "report" / "index.html").read_text()
    assert page.count("<td>complete</td>") == 4


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path):
    """Two sweep processes (standing in for two machines) on one SQLite storage run disjoint
    trials that together cover the grid once."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen(_sweep_cmd(tmp_path / name, "--storage", url), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env) for name in ("a", "b")]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ran = [{int(d.name.split("-")[1]) for d in (tmp_path / name / "trials").iterdir() if d.is_dir()}
           for name in ("a", "b")]
    assert ran[0] and ran[1] and not ran[0] & ran[1], ran
    assert ran[0] | ran[1] == {0, 1, 2, 3}
    rows = _show(tmp_path / "a")["trials"]
    assert sorted(r["trial"] for r in rows if r["status"] == "complete") == [0, 1, 2, 3]


@pytest.mark.slow
def test_failing_trial_recorded_and_duplicate_reused(tmp_path):
    """A trial whose training fails is recorded with its message and the sweep goes on; a
    value that compiles to the same spec as another runs once."""
    out = tmp_path / "sw"
    proc = cli("sweep", SPEC, "-p", "training.batch_size=64,100000", "-p", "training.learning_rate=1e-3,0.001",
               "--epochs", "1", "--set", "dataset.synthetic.n_samples=600", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _show(out)["trials"]
    by = {(r["values"]["training.batch_size"], r["values"]["training.learning_rate"]): r for r in rows}
    assert len(by) == 4
    for lr in ("1e-3", "0.001"):
        assert by[("100000", lr)]["status"] == "failed"
        assert "fewer than one batch" in by[("100000", lr)]["error"]
        assert by[("64", lr)]["status"] == "complete"
    assert by[("64", "1e-3")]["metric"] == by[("64", "0.001")]["metric"]
    assert sum(r["reused_from"] is not None for r in rows) == 2
    assert len([d for d in (out / "trials").iterdir() if d.is_dir()]) == 2     # the reused trials trained nothing


@pytest.mark.slow
def test_pruner_stops_a_bad_trial(tmp_path):
    """The median pruner, fed each epoch's validation loss from metrics.jsonl, stops a trial
    whose learning rate barely trains, after three finished trials, at epoch 3."""
    out = tmp_path / "sw"
    proc = cli("sweep", SPEC, "-p", "training.learning_rate=1e-3,2e-3,3e-3,1e-7", "--epochs", "8",
               *SMALL_SET_ARGS, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["values"]["training.learning_rate"]: r for r in _show(out)["trials"]}
    assert [rows[lr]["status"] for lr in ("1e-3", "2e-3", "3e-3")] == ["complete"] * 3
    bad = rows["1e-7"]
    assert bad["status"] == "pruned", bad
    epochs = (Path(bad["run_dir"]) / "metrics.jsonl").read_text().splitlines()
    assert 3 <= len(epochs) < 8


@pytest.mark.slow
def test_search_workers_draw_different_values(tmp_path):
    """A range search with two workers started together: each worker's sampler has its own
    seed, so the first trials are not the same draw twice."""
    out = tmp_path / "sw"
    proc = cli("sweep", SPEC, "-p", "training.learning_rate=1e-4:1e-2:log", "-p", "training.batch_size=32:128",
               "--trials", "3", "--epochs", "1", "--set", "dataset.synthetic.n_samples=600", "--jobs", "2",
               "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _show(out)["trials"]
    assert len(rows) == 3 and all(r["status"] == "complete" for r in rows)
    draws = {(r["values"]["training.learning_rate"], r["values"]["training.batch_size"]) for r in rows}
    assert len(draws) == 3
    assert all(1e-4 <= lr <= 1e-2 and 32 <= bs <= 128 and isinstance(bs, int) for lr, bs in draws)


def test_probe_metric_needs_labels(tmp_path):
    """--metric probe without --labels (or --labels with another metric) stops before any
    trial runs, located at the option."""
    proc = cli("sweep", SPEC, *GRID, "--metric", "probe", "--out", tmp_path / "sw")
    assert_user_error(proc, "E013", "--metric probe needs --labels")
    assert not (tmp_path / "sw").exists()
    proc = cli("sweep", SPEC, *GRID, "--labels", "y", "--out", tmp_path / "sw2")
    assert_user_error(proc, "E013", "--labels is read by --metric probe only")


@pytest.mark.slow
def test_probe_metric_sweep_on_breast_cancer(tmp_path):
    """`--metric probe --labels FILE`: each trial's figure is the probe accuracy of its tokens
    (all levels) on the spec's own data, the same figure its evaluation.json shows."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    from spinlock_spec.data.dataset import Dataset
    from spinlock_spec.data.npz import write_npz

    bunch = load_breast_cancer()
    x = bunch.data.astype(np.float32)
    data = write_npz(Dataset({"summary": x}, column_names={"summary": list(bunch.feature_names)},
                             n_samples=len(x)), tmp_path / "bc.npz")
    np.save(tmp_path / "labels.npy", bunch.target)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"dataset:\n  path: {data}\nfamilies:\n  summary:\n    encoder: identity\n"
                    "training:\n  batch_size: 64\nrandom_seed: 0\n")
    out = tmp_path / "sw"
    proc = cli("sweep", spec, "-p", "model.commitment_cost=0.25,0.5", "--epochs", "2", "--metric", "probe",
               "--labels", tmp_path / "labels.npy", "--no-prune", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _show(out)["trials"]
    assert [r["status"] for r in rows] == ["complete", "complete"], rows
    majority = max(np.mean(bunch.target), 1 - np.mean(bunch.target))
    for row in rows:
        evaluation = json.loads((Path(row["run_dir"]) / "evaluation.json").read_text())
        table = evaluation["probe"]["rows"]
        assert row["metric"] == pytest.approx(table["tokens all levels"]["accuracy"])
        assert row["metric"] > majority + 0.1        # the tokens carry the diagnosis
        assert evaluation["n_rows"] == len(x)
