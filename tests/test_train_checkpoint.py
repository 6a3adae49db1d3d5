"""Run folder, safetensors checkpoints, load_model, atomic writes, early stopping."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from spinlock_spec.errors import CheckpointError
from spinlock_spec.train.checkpoint import load_model, model_state_tensors, strip_compile_prefix
from spinlock_spec.atomic import atomic_write_bytes
from spinlock_spec.runs.folder import RunDir
from test_train_helpers import (build_model, make_trainer, planted_arrays, split, training_cfg,
                                true_labels)

RUN_FILES = {"best_model.json", "best_model.safetensors", "final_model.json", "final_model.safetensors",
             "checkpoint.json", "checkpoint.safetensors", "training_history.json", "metrics.jsonl",
             "categories.json"}


@pytest.fixture(scope="module")
def static_run(tmp_path_factory):
    run = RunDir(tmp_path_factory.mktemp("static") / "run")
    trainer = make_trainer(False, run, tcfg=training_cfg(num_epochs=3), spec_hash="f" * 64,
                           true_labels=true_labels(), metadata={"spec_name": "unit"})
    trainer.fit()
    return run, trainer


@pytest.fixture(scope="module")
def learnable_run(tmp_path_factory):
    run = RunDir(tmp_path_factory.mktemp("learnable") / "run")
    trainer = make_trainer(True, run, tcfg=training_cfg(num_epochs=3), true_labels=true_labels())
    trainer.fit()
    return run, trainer


def test_run_folder_contents(static_run):
    run, trainer = static_run
    names = {p.name for p in run.path.iterdir()}
    assert names == RUN_FILES                           # and no temp files
    assert run.leftover_temp_files() == []
    history = run.read_json("training_history.json")
    for key in ("train_loss", "val_loss", "metrics", "final_metrics", "train_components", "val_components"):
        assert key in history
    assert len(history["train_loss"]) == len(history["metrics"]) == 3
    fm = history["final_metrics"]
    for key in ("quality", "recon_mse", "token_quality", "utilization", "perplexity", "dead_codes",
                "topo_pre", "ari", "category_0/level_0/utilization", "category_3/level_1/perplexity"):
        assert key in fm, key
    assert fm["quality"] > 0.03 and fm["ari"] == pytest.approx(1.0)    # above the clamp: the mean predictor scores 0
    lines = run.file("metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    meta = run.read_json("best_model.json")
    assert meta["spec_hash"] == "f" * 64 and meta["spec_name"] == "unit"
    assert meta["model_class"] == "CategoricalHierarchicalVQVAE"
    assert meta["model_config"]["categories"] == trainer.model.export_config()["categories"]
    assert meta["feature_names"] == trainer.model.feature_names
    assert meta["codebook_sizes"] == [[8, 4]] * 4
    cats = run.read_json("categories.json")
    assert cats["mode"] == "static"
    assert [c["size"] for c in cats["categories"]] == [4, 4, 4, 4]
    assert cats["categories"][0]["features"][0]["name"] == "summary:col0"


def test_learnable_categories_json_has_mass_and_confidence(learnable_run):
    run, trainer = learnable_run
    cats = run.read_json("categories.json")
    assert cats["mode"] == "learnable" and cats["temperature"] == pytest.approx(0.1)
    hard = trainer.model.hard_assignment().tolist()
    probs = trainer.model.assignment_probs().detach()
    for cat in cats["categories"]:
        for feat in cat["features"]:
            assert hard[feat["index"]] == cat["index"]
            assert feat["confidence"] == pytest.approx(float(probs[feat["index"]].max()))
            assert 0.0 < feat["mass"] <= 1.0
    meta = run.read_json("final_model.json")
    assert meta["hard_assignment"] == hard and meta["temperature"] == pytest.approx(0.1)
    history = run.read_json("training_history.json")
    assert history["temperature"] == pytest.approx([1.0, 0.55, 0.1])
    record = json.loads(run.file("metrics.jsonl").read_text().splitlines()[-1])
    assert set(record["assign"]) == {"assign_orthogonality", "assign_balance"}
    assert record["temperature"] == pytest.approx(0.1)


@pytest.mark.parametrize("which", ["best", "final"])
@pytest.mark.parametrize("fixture", ["static_run", "learnable_run"])
def test_load_model_round_trip_gives_identical_outputs(which, fixture, request):
    run, trainer = request.getfixturevalue(fixture)
    model, meta = load_model(run.path, which=which)
    assert type(model) is type(trainer.model)
    assert meta["epoch"] >= 1
    _, val = split(planted_arrays())
    if which == "final":
        ref = trainer.model
    else:   # rebuild the best epoch's weights through the file pair, compare with load_model's result
        ref, _ = load_model(run.file("best_model.safetensors"))
    ref.eval()
    assert torch.equal(model.encode(val), ref.encode(val))
    with torch.no_grad():
        a, b = model(val), ref(val)
    for fam in a.reconstruction:
        assert torch.equal(a.reconstruction[fam], b.reconstruction[fam])
    if fixture == "learnable_run":
        assert torch.equal(model.hard_assignment(), ref.hard_assignment())


def _copy_run(run: RunDir, dest) -> RunDir:
    dest.mkdir()
    for p in run.path.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return RunDir(dest)


def test_corrupt_weights_raise_checkpoint_error(static_run, tmp_path):
    run = _copy_run(static_run[0], tmp_path / "c")
    data = bytearray(run.file("best_model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF
    run.file("best_model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_model(run.path)
    assert "best_model.safetensors" in str(err.value) and "checksum" in str(err.value)
    assert err.value.exit_code == 2


def test_truncated_weights_with_matching_hash_are_still_refused(static_run, tmp_path):
    run = _copy_run(static_run[0], tmp_path / "t")
    run.file("final_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    meta = run.read_json("final_model.json")
    import hashlib
    meta["weights_sha256"] = hashlib.sha256(run.file("final_model.safetensors").read_bytes()).hexdigest()
    run.write_json("final_model.json", meta)
    with pytest.raises(CheckpointError, match="final_model"):
        load_model(run.path, which="final")


def test_missing_and_garbage_files(static_run, tmp_path):
    with pytest.raises(CheckpointError, match="no best_model.json"):
        load_model(tmp_path)
    run = _copy_run(static_run[0], tmp_path / "g")
    os.unlink(run.file("final_model.safetensors"))
    with pytest.raises(CheckpointError, match="final_model.safetensors: weights file not found"):
        load_model(run.path, which="final")
    run.file("best_model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint metadata"):
        load_model(run.path)
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04pickle")
    with pytest.raises(CheckpointError, match="pickled"):
        load_model(pt)


def test_mismatched_weights_and_foreign_spec(static_run, tmp_path):
    run = _copy_run(static_run[0], tmp_path / "m")
    meta = run.read_json("best_model.json")
    meta["model_config"]["levels"] = [[[16, 2], [4, 2]]] * 4     # other codebook sizes
    run.write_json("best_model.json", meta)
    with pytest.raises(CheckpointError, match="do not match the model"):
        load_model(run.path)
    with pytest.raises(CheckpointError, match="another spec"):
        load_model(static_run[0].path, expected_spec_hash="0" * 64)
    meta["model_class"] = "os.system"
    run.write_json("best_model.json", meta)
    with pytest.raises(CheckpointError, match="unknown model_class"):
        load_model(run.path)


def test_compile_prefix_is_stripped():
    model = build_model(False)
    state = {f"_orig_mod.{k}": v for k, v in model_state_tensors(model).items()}
    assert set(strip_compile_prefix(state)) == set(model.state_dict())


def test_atomic_writes_leave_no_temp_files(tmp_path):
    run = RunDir(tmp_path / "new")
    assert not run.path.exists()                     # created on first write only
    run.write_text("config.yaml", "a: 1\n")
    run.write_npz("normalization_stats.npz", {"summary_mean": np.zeros(3)}, summary_std=np.ones(3))
    run.write_json("x.json", {"v": float("nan")})
    assert json.loads(run.file("x.json").read_text()) == {"v": None}
    assert set(np.load(run.file("normalization_stats.npz"))) == {"summary_mean", "summary_std"}

    class Boom(bytes):
        pass

    with pytest.raises(TypeError):                   # failure mid-write: old file kept, temp removed
        atomic_write_bytes(run.file("config.yaml"), object())   # type: ignore[arg-type]
    assert run.file("config.yaml").read_text() == "a: 1\n"
    assert run.leftover_temp_files() == []
    assert sorted(p.name for p in run.path.iterdir()) == ["config.yaml", "normalization_stats.npz", "x.json"]


def test_early_stopping_counts_epochs(tmp_path):
    lines: list[str] = []
    trainer = make_trainer(False, RunDir(tmp_path / "es"), lines=lines,
                           tcfg=training_cfg(num_epochs=20, early_stopping_patience=2,
                                             early_stopping_min_delta=1e6))
    history = trainer.fit()
    # epoch 1 sets the reference; epochs 2 and 3 do not improve by min_delta -> stop after epoch 3
    assert len(history["train_loss"]) == 3 and history["stopped_early"]
    assert any(line.startswith("Early stopping at epoch 3") for line in lines)
    assert RunDir(tmp_path / "es").read_json("final_model.json")["epoch"] == 3


def test_early_stopping_disabled_by_zero():
    trainer = make_trainer(False, None, tcfg=training_cfg(num_epochs=3, early_stopping_patience=0,
                                                          early_stopping_min_delta=1e6))
    assert len(trainer.fit()["train_loss"]) == 3
