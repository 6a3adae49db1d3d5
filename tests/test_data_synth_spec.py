"""``spinlock-spec data synth --spec SPEC`` writes exactly the data SPEC reads, and SPEC trains on it."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from helpers import EXAMPLES, FIXTURES, assert_user_error, cli

FOUR = FIXTURES / "four_family_hybrid.yaml"


def _synth_and_train(spec: Path, tmp_path: Path, *synth_args):
    data, run = tmp_path / "d.h5", tmp_path / "run"
    proc = cli("data", "synth", "--spec", spec, "--out", data, *synth_args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = cli("train", spec, "--data", data, "--epochs", 1, "--out", run, "--quiet", timeout=600)
    assert proc.returncode == 0, (spec.name, proc.stdout + proc.stderr)
    history = json.loads((run / "training_history.json").read_text())
    assert len(history["train_loss"]) == 1 and (run / "best_model.safetensors").is_file()
    return data, run


def test_four_family_spec_with_hybrid_and_temporal_trains_on_its_synthesized_file(tmp_path):
    data, run = _synth_and_train(FOUR, tmp_path)
    with h5py.File(data, "r") as f:
        assert f["features/initial/aggregated/features"].shape == (400, 14)          # manual_dim
        assert f["inputs/fields"].shape == (400, 3, 16, 16)                           # in_channels
        assert f["features/temporal/features"].shape == (400, 24, 10)                 # T, input_dim
        assert f["features/summary/aggregated/features"].shape == (400, 60)
        assert f["features/architecture/aggregated/features"].shape == (400, 6)
        assert "inputs/initial" not in f and "features/initial/aggregated/true_groups" in f
    config = (run / "config.yaml").read_text()
    assert "initial_hybrid" in config and "temporal_cnn" in config


def test_families_of_any_name_get_what_their_encoder_reads(tmp_path):
    spec = tmp_path / "named.yaml"
    spec.write_text("dataset: {feature_type: per_run, synthetic: {n_samples: 50, field_channels: 2}}\n"
                    "families:\n  ic: {encoder: ic_cnn}\n  dynamics: {encoder: td_cnn}\n"
                    "  params: {encoder: identity, encoder_params: {input_dim: 7}}\n")
    data = tmp_path / "d.h5"
    proc = cli("data", "synth", "--spec", spec, "--out", data, "--n", 80, "--variable-length")
    assert proc.returncode == 0, proc.stderr
    assert "ic fields [2, 16, 16], dynamics [32, 8], params [7]" in proc.stdout
    with h5py.File(data, "r") as f:
        assert f["inputs/ic/fields"].shape == (80, 2, 16, 16) and "features/ic" not in f
        assert f["features/dynamics/per_run/features"].shape == (80, 32, 8)
        assert f["features/dynamics/per_run/lengths"].shape == (80,)
        assert f["features/params/per_run/features"].shape == (80, 7)
    proc = cli("compile", spec, "--data", data)
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stdout + proc.stderr


def test_spec_and_families_together_is_a_usage_error(tmp_path):
    proc = cli("data", "synth", "--spec", FOUR, "--families", "summary", "--out", tmp_path / "d.h5")
    assert_user_error(proc, "--spec decides the families")
    assert not (tmp_path / "d.h5").exists()


def test_invalid_spec_is_a_located_error(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("families: {initial: {encoder: ICCNNEncoder}}\n")
    proc = cli("data", "synth", "--spec", spec, "--out", tmp_path / "d.h5")
    assert_user_error(proc, "bad.yaml:1:", "E207")
    assert not (tmp_path / "d.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_trains_on_its_synthesized_file(example, tmp_path):
    _synth_and_train(example, tmp_path)
