"""End to end through the real CLI (subprocesses): train, compile the run's config, encode,
resume, and one clear error (exit 2, no traceback, nothing half-written) per bad input."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import EXAMPLES, SMALL_SET_ARGS, assert_user_error, cli, main_exit_code, write_spec

SMALL = SMALL_SET_ARGS


@pytest.fixture(scope="module")
def static_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "static"
    # --log-format json, read through a pipe: the events on stdout, the human lines on stderr
    proc = cli("train", EXAMPLES / "static_baseline.yaml", "--epochs", 2, "--verbose", "--out", out, *SMALL,
               "--log-format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stderr, proc.stdout


def test_json_log_format_every_stdout_line_is_an_event(static_run):
    out, _, stdout = static_run
    events = [json.loads(line) for line in stdout.splitlines()]      # every line parses
    kinds = [e["event"] for e in events]
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert kinds[-1] == "finished" and kinds.count("finished") == 1
    finished = events[-1]
    history = json.loads((out / "training_history.json").read_text())
    assert finished["final_metrics"]["quality"] == pytest.approx(history["final_metrics"]["quality"])
    checkpoints = [e for e in events if e["event"] == "checkpoint"]
    assert checkpoints and checkpoints[-1]["epoch"] == history["best_epoch"]
    assert "Epoch 1/2" not in stdout


def test_static_train_prints_indicators_and_writes_run_folder(static_run):
    out, log, _ = static_run
    assert "Auto-discovering categories" in log
    # the count says which categories clustering found and which an encoded family adds
    assert "  7 categories: 6 from clustering + 1 for the temporal family's embedding " \
        "(features per category: 12, 12, 12, 12, 12, 12, 16)" in log
    assert "VQVAETrainer" in log and "LearnableVQVAETrainer" not in log
    assert "[LEARNABLE ASSIGNMENT MODE]" not in log
    assert "Epoch 1/2 (" in log and "Epoch 2/2 (" in log
    assert "  Components: recon=" in log and "  Utilization: " in log
    assert "assign_orthogonality" not in log and "Temperature:" not in log
    for name in ("best_model.safetensors", "best_model.json", "final_model.safetensors", "final_model.json",
                 "normalization_stats.npz", "training_history.json", "config.yaml", "metrics.jsonl",
                 "categories.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "training_history.json").read_text())
    assert len(history["train_loss"]) == 2 and len(history["val_loss"]) == 2
    assert "quality" in history["final_metrics"]
    stats = np.load(out / "normalization_stats.npz", allow_pickle=False)
    assert "summary_mean" in stats and "summary_std" in stats
    assert not list(out.glob("*.tmp*"))


def test_run_config_compiles_again(static_run):
    out, _, _ = static_run
    proc = cli("compile", out / "config.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CategoricalHierarchicalVQVAE" in proc.stdout


def test_encode_writes_tokens_for_a_synthesized_file(static_run, tmp_path):
    out, _, _ = static_run
    data = tmp_path / "d.h5"
    assert cli("data", "synth", "--out", data, "--n", 300).returncode == 0
    tokens = tmp_path / "tokens.npz"
    proc = cli("encode", out, "--data", data, "--out", tokens, "--reconstructions")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(tokens, allow_pickle=False) as npz:
        codes, sizes = npz["tokens"], npz["codebook_sizes"]
        assert codes.shape[0] == 300 and codes.shape[1:] == sizes.shape
        assert (codes >= 0).all() and (codes < sizes[None]).all()
        assert npz["reconstruction/summary"].shape == (300, 60)


def test_train_on_a_synthesized_hdf5_file(tmp_path):
    data = tmp_path / "d.h5"
    assert cli("data", "synth", "--out", data, "--n", 800).returncode == 0
    out = tmp_path / "run"
    proc = cli("train", EXAMPLES / "static_baseline.yaml", "--data", data, "--epochs", 1, "--out", out,
               "--batch-size", 64)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(data) in (out / "final_model.json").read_text() or (out / "final_model.json").is_file()
    assert "Epoch 1/1" in proc.stdout


def test_original_flags_and_dry_run(tmp_path):
    out = tmp_path / "run"
    proc = cli("train", "--config", EXAMPLES / "static_baseline.yaml", "--output", out, "--dry-run",
               "--no-torch-compile", "--learning-rate", "0.002", *SMALL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Dry run" in proc.stdout
    assert not out.exists()
    # the resolved spec, each value with its origin
    import re
    assert re.search(r"learning_rate: 0.002 +# --set training.learning_rate=0.002\n", proc.stdout)
    assert re.search(r"n_samples: 600 +# --set dataset.synthetic.n_samples=600\n", proc.stdout)
    assert re.search(r"val_fraction: 0.1 +# default\n", proc.stdout)


def test_cli_resume_continues_to_the_same_weights(tmp_path):
    """The two first runs go through the console entry point in this process (the same command
    line, without two more interpreter and torch start-ups); the resume is a real subprocess."""
    from safetensors.numpy import load_file

    full, part = tmp_path / "full", tmp_path / "part"
    args = ["train", EXAMPLES / "static_baseline.yaml", *SMALL, "--set", "training.num_epochs=2", "--quiet"]
    assert main_exit_code([*args, "--out", full]) == 0
    assert main_exit_code([*args, "--epochs", 1, "--out", part]) == 0
    proc = cli("train", "--resume", part, "--epochs", 2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Epoch 2/2" in proc.stdout and "Epoch 1/" not in proc.stdout
    a, b = load_file(full / "final_model.safetensors"), load_file(part / "final_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


# --------------------------------------------------------------------------- bad input
def _spec(tmp_path, body: str) -> Path:
    return write_spec(tmp_path, body)


def test_missing_data_file(tmp_path):
    out = tmp_path / "run"
    proc = cli("train", EXAMPLES / "static_baseline.yaml", "--data", tmp_path / "nope.h5", "--out", out)
    assert_user_error(proc, "nope.h5")
    assert not out.exists()


def test_corrupt_hdf5_file(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 50)
    out = tmp_path / "run"
    assert_user_error(cli("train", EXAMPLES / "static_baseline.yaml", "--data", bad, "--out", out), "bad.h5")
    assert not out.exists()


def test_family_missing_from_file(tmp_path):
    data = tmp_path / "d.h5"
    assert cli("data", "synth", "--out", data, "--n", 300, "--families", "summary").returncode == 0
    out = tmp_path / "run"
    proc = cli("train", EXAMPLES / "static_baseline.yaml", "--data", data, "--out", out)
    assert_user_error(proc, "not found", "families in the file: summary")
    assert not out.exists()


def test_wrong_shape_for_temporal_family(tmp_path):
    data = tmp_path / "d.h5"
    with h5py.File(data, "w") as f:
        f["features/summary/aggregated/features"] = np.random.rand(300, 10).astype("f4")
        f["features/temporal/features"] = np.random.rand(300, 10).astype("f4")
    spec = _spec(tmp_path, "families:\n  summary: {encoder: identity}\n"
                           "  temporal: {encoder: TemporalCNNEncoder}\ntraining: {batch_size: 32}\n")
    out = tmp_path / "run"
    assert_user_error(cli("train", spec, "--data", data, "--out", out), "temporal")
    assert not out.exists()


def test_all_nan_family(tmp_path):
    data = tmp_path / "d.h5"
    with h5py.File(data, "w") as f:
        f["features/summary/aggregated/features"] = np.full((300, 10), np.nan, dtype="f4")
    spec = _spec(tmp_path, "families:\n  summary: {encoder: identity}\ntraining: {batch_size: 32}\n")
    out = tmp_path / "run"
    assert_user_error(cli("train", spec, "--data", data, "--out", out), "NaN")
    assert not out.exists()


def test_fewer_rows_than_one_batch(tmp_path):
    spec = _spec(tmp_path, "dataset: {synthetic: {n_samples: 100}}\nfamilies:\n  summary: {encoder: identity}\n"
                           "training: {batch_size: 512}\n")
    out = tmp_path / "run"
    assert_user_error(cli("train", spec, "--out", out), "fewer than one batch", "batch_size")
    assert not out.exists()


def test_resume_with_a_checkpoint_of_another_spec(static_run, tmp_path):
    run, _, _ = static_run
    before = sorted(p.name for p in run.iterdir())
    spec = _spec(tmp_path, "dataset: {synthetic: {n_samples: 600}}\nfamilies:\n  summary: {encoder: identity}\n"
                           "training: {batch_size: 64}\n")
    assert_user_error(cli("train", spec, "--resume", run), "another spec", "families.temporal")
    assert sorted(p.name for p in run.iterdir()) == before


def test_encode_with_a_folder_that_is_not_a_run(tmp_path):
    assert_user_error(cli("encode", tmp_path, "--data", tmp_path / "x.h5"), "not a spinlock-spec run folder")
