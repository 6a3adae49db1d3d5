"""Runs that cannot be lost, mixed or silently changed (issue 17): a non-empty --out,
the recorded data source on --resume, checkpoints committed as one unit (real SIGKILL
between the two writes), encode's output never an input, and the run-folder lock."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import spinlock_spec as ss
from spinlock_spec.errors import CheckpointError, DataError
from spinlock_spec.runs.guard import RunLock, data_fingerprint, prepare_out, resume_data
from helpers import ROOT, assert_user_error, cli, main_exit_code, train_tiny_run

TINY = ("dataset:\n  path: null\n  synthetic:\n    n_samples: 400\nfamilies:\n  summary:\n"
        "    encoder: identity\nrandom_seed: 3\ntraining:\n  batch_size: 64\n  num_epochs: 1\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder trained 1 epoch on d.h5, the data file, the spec file)."""
    return train_tiny_run(tmp_path_factory.mktemp("guards"), TINY)


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    (to / ".lock").unlink(missing_ok=True)
    return to


# --------------------------------------------------------------------------- 1. --out
def test_non_empty_out_is_refused_and_left_alone(trained, capsys):
    run, data, spec = trained
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main_exit_code(["train", spec, "--data", data, "--out", run]) == 2
    err = capsys.readouterr().err
    assert f"--out {run}: is a run folder" in err and "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_out_naming_a_file_or_a_non_run_folder(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(CheckpointError, match="is a file, not a folder") as err:
        prepare_out(tmp_path / "f.txt")
    assert err.value.exit_code == 2
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="holds no run files; nothing was removed"):
        prepare_out(mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_overwrite_replaces_the_old_run_whole(trained, tmp_path):
    run, data, spec = trained
    old = _copy(run, tmp_path / "B")
    (old / "model_epoch_0007.json").write_text("{}")          # a file the new run would not rewrite
    ss.train(spec, data=str(data), out=old, overwrite=True, quiet=True, progress=False,
             overrides=["random_seed=11"])
    assert not (old / "model_epoch_0007.json").exists()
    assert "random_seed: 11" in (old / "config.yaml").read_text()
    epochs = [json.loads(line)["epoch"] for line in (old / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".B.replaced")]


# --------------------------------------------------------------------------- 2. data source
def test_data_source_is_recorded(trained):
    run, data, _ = trained
    record = json.loads((run / "data_source.json").read_text())
    assert record["path"] == str(data.resolve()) and record["size"] == data.stat().st_size
    assert record["sha256_sample"] == data_fingerprint(data)["sha256_sample"]


def test_resume_uses_the_recorded_data_and_refuses_a_changed_or_missing_file(trained, tmp_path):
    run, data, _ = trained
    moved = tmp_path / "d.h5"
    shutil.copy(data, moved)
    r = _copy(run, tmp_path / "R")
    record = json.loads((r / "data_source.json").read_text())
    (r / "data_source.json").write_text(json.dumps({**record, "path": str(moved)}))
    assert resume_data(r, None) == (str(moved), f"Resuming on the run's data {moved}")
    with open(moved, "r+b") as fh:               # same size, other content in the first rows
        fh.seek(5000)
        fh.write(b"\x00" * 64)
    with pytest.raises(DataError, match="changed since the run was trained") as err:
        resume_data(r, None)
    assert err.value.code == "D051" and "--data-changed-ok" in err.value.hint
    path, note = resume_data(r, None, data_changed_ok=True)
    assert path == str(moved) and "--data-changed-ok" in note
    path, note = resume_data(r, str(data))
    assert path == str(data) and "given explicitly" in note
    moved.unlink()
    with pytest.raises(DataError, match="is missing") as err:
        resume_data(r, None)
    assert "--data FILE" in err.value.hint


def test_resume_trains_on_the_recorded_data(trained, tmp_path):
    run, data, _ = trained
    r = _copy(run, tmp_path / "R")
    result = ss.train(resume=r, epochs=2, quiet=True, progress=False)
    assert result.history["epochs"] == [1, 2]
    line = json.loads((r / "resumes.jsonl").read_text().splitlines()[-1])
    assert line["after_epoch"] == 1 and str(data.resolve()) in line["data"]
    assert {"key": "training.num_epochs", "from": 1, "to": 2} in line["changes"]
    assert "num_epochs: 2" in (r / "config.yaml").read_text()


# --------------------------------------------------------------------------- 3. checkpoint unit
CHILD = """
import os, sys, torch
from spinlock_spec.runs.folder import RunDir
from spinlock_spec.train import checkpoint as c
run = RunDir(sys.argv[1])
meta = {"format": c.STATE_FORMAT, "format_version": 1}
c.write_pair(run, "checkpoint", {"w": torch.zeros(3)}, {**meta, "epoch": 1})
os.environ["SPINLOCK_SPEC_TEST_HOLD_WRITE"] = "checkpoint:" + sys.argv[2]
c.write_pair(run, "checkpoint", {"w": torch.ones(3)}, {**meta, "epoch": 2})
"""


@pytest.mark.parametrize("step", ["weights", "json"])
def test_killed_between_the_writes_of_a_checkpoint_falls_back_to_the_last_complete_one(tmp_path, step, caplog):
    import torch

    from spinlock_spec.runs.folder import RunDir
    from spinlock_spec.train import checkpoint as c

    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), step], cwd=ROOT)
    marker = folder / f".test-held-checkpoint-{step}"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the child never reached the hold point"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the project logger stops propagation once any CLI run in this process configured it:
    # listen on it directly
    from spinlock_spec.logs import get_logger

    logger = get_logger()
    logger.addHandler(caplog.handler)
    try:
        tensors, meta = c.read_pair(folder / "checkpoint.json", expected_format=c.STATE_FORMAT)
    finally:
        logger.removeHandler(caplog.handler)
    assert meta["epoch"] == 1 and torch.equal(tensors["w"], torch.zeros(3))
    assert "using the last complete checkpoint" in caplog.text and "checkpoint.prev.safetensors" in caplog.text
    run = RunDir(folder)
    c.write_pair(run, "checkpoint", {"w": torch.full((3,), 2.0)}, {"format": c.STATE_FORMAT, "epoch": 3})
    tensors, meta = c.read_pair(folder / "checkpoint.json", expected_format=c.STATE_FORMAT)
    assert meta["epoch"] == 3 and torch.equal(tensors["w"], torch.full((3,), 2.0))
    assert not (folder / "checkpoint.prev.safetensors").exists() and run.leftover_temp_files() == []


def test_leftover_temp_files_are_removed_by_the_next_write(tmp_path):
    import torch

    from spinlock_spec.runs.folder import RunDir
    from spinlock_spec.train import checkpoint as c

    run = RunDir(tmp_path)
    (tmp_path / ".tmp-checkpoint.safetensors.abc").write_bytes(b"half")
    c.write_pair(run, "checkpoint", {"w": torch.zeros(2)}, {"format": c.STATE_FORMAT})
    assert run.leftover_temp_files() == []


# --------------------------------------------------------------------------- 4. encode output
def test_encode_refuses_an_output_that_is_an_input(trained, tmp_path, capsys):
    run, data, _ = trained
    copy = tmp_path / "d.h5"
    shutil.copy(data, copy)
    before = copy.read_bytes()
    assert main_exit_code(["encode", run, "--data", copy, "--out", copy]) == 2
    assert "is the --data file" in capsys.readouterr().err and copy.read_bytes() == before
    stats = (run / "normalization_stats.npz").read_bytes()
    assert main_exit_code(["encode", run, "--data", copy, "--out", run / "normalization_stats.npz"]) == 2
    assert "inside the run folder" in capsys.readouterr().err
    assert (run / "normalization_stats.npz").read_bytes() == stats
    assert main_exit_code(["encode", run, "--data", copy, "--out", tmp_path]) == 2
    assert f"--out {tmp_path}: is a folder" in capsys.readouterr().err
    assert main_exit_code(["encode", run, "--data", copy, "--out", tmp_path / "t.npz"]) == 0
    assert np.load(tmp_path / "t.npz")["tokens"].shape[0] == 300


# --------------------------------------------------------------------------- 6. lock
def test_a_second_writer_is_refused(trained, tmp_path):
    run, _, _ = trained
    r = _copy(run, tmp_path / "R")
    with RunLock(r):
        proc = cli("train", "--resume", r, "--epochs", 2)
    assert_user_error(proc, f"{r}: another spinlock-spec process is writing this run folder")
    assert [json.loads(x)["epoch"] for x in (r / "metrics.jsonl").read_text().splitlines()] == [1]


# --------------------------------------------------------------------------- 8. resume rule
def test_extending_a_run_holds_the_schedules_end_values(tmp_path):
    from spinlock_spec.runs.folder import RunDir
    from test_train_helpers import learnable_cfg, make_trainer, training_cfg

    run = RunDir(tmp_path / "run")
    lc = learnable_cfg(temperature_start=1.0, temperature_end=0.1)
    first = make_trainer(True, run, tcfg=training_cfg(num_epochs=3), lcfg=lc)
    first.fit()
    assert first.history["temperature"][-1] == pytest.approx(0.1)
    second = make_trainer(True, run, tcfg=training_cfg(num_epochs=5, learning_rate=1e-4), lcfg=lc)
    second.resume_from(run)
    history = second.fit()
    assert history["temperature"][:3] == first.history["temperature"]
    assert history["temperature"][3:] == pytest.approx([0.1, 0.1])          # held, not re-stretched
    from spinlock_spec.train.lr_schedule import lr_factor

    lrs = [r["lr"] for r in second.records]      # the new rate on the cosine of the 5 epochs
    nb = second.num_batches()
    assert lrs[3] == pytest.approx(1e-4 * lr_factor(second.cfg, 4, nb - 1, nb))
    assert lrs[2] == pytest.approx(first.records[2]["lr"])
    assert json.loads(run.file("checkpoint.json").read_text())["schedule_epochs"] == 3


def test_resume_refuses_changes_outside_the_rule(trained, tmp_path, capsys):
    run, _, _ = trained
    r = _copy(run, tmp_path / "R")
    config = (r / "config.yaml").read_text()
    assert main_exit_code(["train", "--resume", r, "--batch-size", 32]) == 2
    err = capsys.readouterr().err
    assert "error[E422]" in err and "training.batch_size: 64 -> 32" in err
    assert main_exit_code(["train", "--resume", r, "--set", "training.scheduler=cosine"]) == 2
    assert "training.scheduler" in capsys.readouterr().err
    assert (r / "config.yaml").read_text() == config and not (r / "resumes.jsonl").exists()


def test_resume_applies_and_records_a_new_learning_rate(trained, tmp_path):
    run, _, _ = trained
    r = _copy(run, tmp_path / "R")
    ss.train(resume=r, epochs=2, learning_rate=5e-4, quiet=True, progress=False)
    records = [json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines()]
    assert records[1]["lr"] == pytest.approx(5e-4) and records[0]["lr"] != pytest.approx(5e-4)
    assert "learning_rate: 0.0005" in (r / "config.yaml").read_text()
    line = json.loads((r / "resumes.jsonl").read_text())
    assert {"key": "training.learning_rate", "from": 0.001, "to": 0.0005} in line["changes"]


# --------------------------------------------------------------------------- 9. divergence
def test_a_nan_loss_stops_with_a_message_and_the_run_resumes_with_a_lower_rate(trained, tmp_path, capsys):
    _, _, spec = trained
    out = tmp_path / "div"
    code = main_exit_code(["train", spec, "--learning-rate", "1e4", "--set", "training.num_epochs=3",
                           "--set", "training.gradient_clip_norm=null", "--out", out, "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "error[E423]: training diverged at epoch 1" in err and "internal error" not in err
    assert f"--resume {out} --learning-rate 1000" in err
    assert json.loads((out / "checkpoint.json").read_text())["epoch"] == 0
    assert not (out / "metrics.jsonl").exists() or (out / "metrics.jsonl").read_text() == ""
    assert main_exit_code(["train", "--resume", out, "--learning-rate", "1e-3", "-q"]) == 0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3] and all(np.isfinite(r["val_loss"]) for r in records)


def test_a_finite_explosion_is_divergence(tmp_path):
    from spinlock_spec.runs.folder import RunDir
    from spinlock_spec.train.divergence import TrainingDivergedError, check
    from test_train_helpers import make_trainer

    trainer = make_trainer(False, RunDir(tmp_path / "run"))
    check(trainer, 1, 3.0, 2.0)                                   # an ordinary first epoch
    trainer.best_val, trainer.best_epoch = 0.5, 3
    check(trainer, 4, 40.0, 30.0)                                 # worse, not exploded
    with pytest.raises(TrainingDivergedError) as err:
        check(trainer, 4, 1.0, 4.4e21)
    text = err.value.format()
    assert "diverged at epoch 4: the loss exploded" in text and "checkpoint of epoch 3 is kept" in text
    assert f"--resume {tmp_path / 'run'} --learning-rate" in text and err.value.exit_code == 2


# --------------------------------------------------------------------------- 7. run files validated
def _edit_json(path: Path, **fields) -> None:
    meta = json.loads(path.read_text())
    for key, value in fields.items():
        if value is KeyError:
            meta.pop(key)
        else:
            meta[key] = value
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", ["nan", "truncated", "config", "spec_hash", "format_version"])
def test_encode_refuses_damaged_run_files(trained, tmp_path, capsys, damage):
    run, data, _ = trained
    r = _copy(run, tmp_path / "R")
    if damage in ("nan", "truncated"):
        stats = dict(np.load(r / "normalization_stats.npz"))
        stats["summary_std"] = (np.full_like(stats["summary_std"], np.nan) if damage == "nan"
                                else stats["summary_std"][:1])
        np.savez(r / "normalization_stats.npz", **stats)
        needle = "invalid normalization statistics (summary"
    elif damage == "config":
        (r / "config.yaml").write_text((r / "config.yaml").read_text().replace("random_seed: 3", "random_seed: 4"))
        needle = "does not match the spec this run was trained with"
    elif damage == "spec_hash":
        _edit_json(r / "best_model.json", spec_hash="0" * 64)
        needle = "is not one of this run's specs"
    else:
        _edit_json(r / "best_model.json", format_version="abc")
        needle = "format_version must be an integer"
    assert main_exit_code(["encode", r, "--data", data, "--out", tmp_path / "t.npz"]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()


@pytest.mark.parametrize("edit", [{"epoch": "three"}, {"history": None}, {"early_stopping": KeyError}])
def test_resume_refuses_edited_checkpoint_metadata(trained, tmp_path, capsys, edit):
    run, _, _ = trained
    r = _copy(run, tmp_path / "R")
    _edit_json(r / "checkpoint.json", **edit)
    assert main_exit_code(["train", "--resume", r, "--epochs", 2, "-q"]) == 2
    err = capsys.readouterr().err
    key = next(iter(edit))
    assert f"{r / 'checkpoint.json'}: '{key}' must be" in err and "internal error" not in err


# --------------------------------------------------------------------------- 10. located errors
@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a torch without CUDA")
def test_device_cuda_without_cuda_is_refused_before_any_work(trained, tmp_path, capsys):
    _, _, spec = trained
    assert main_exit_code(["train", spec, "--device", "cuda", "--out", tmp_path / "c"]) == 2
    err = capsys.readouterr().err
    assert "training.device (or --device): error[E301]: training.device: cuda" in err
    assert "categories" not in err.lower() and not (tmp_path / "c").exists()
    # the data were not being prepared on a background thread meanwhile (run_data.prepare_early)
    import threading
    assert not any(t.name == "spinlock-prepare-data" for t in threading.enumerate())


@pytest.mark.parametrize("raw", ["nan", "inf", "-1"])
def test_timeout_must_be_a_positive_finite_number(monkeypatch, raw):
    from spinlock_spec.errors import ZooError
    from spinlock_spec.zoo.fetch import timeout_s

    monkeypatch.setenv("SPINLOCK_SPEC_TIMEOUT", raw)
    with pytest.raises(ZooError, match="must be a positive, finite number of seconds"):
        timeout_s()
