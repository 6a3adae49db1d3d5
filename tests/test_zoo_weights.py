"""The pretrained weights of the bundled zoo (scripts/train_zoo_weights.py), used the way
users use them: pulled into a cache, evaluated on regenerated training data, encoded with,
fine-tuned from (``--init-from``), and refused for another architecture.

Every test pulls from the bundled zoo into a private cache (``SPINLOCK_SPEC_CACHE``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_zoo_support import REPO, run_cli, snapshot

ZOO = REPO / "zoo"
# How close the metrics of pulled weights, evaluated on regenerated data, must be to the
# index.  On the machine that trained them they agree to ~1e-6; the margin covers other
# BLAS / CPU builds (a few codes at a Voronoi boundary flipping).
TOLERANCE = {"quality": 0.01, "token_quality": 0.01, "utilization": 0.02, "ari": 0.02}
ROLES_NEEDED = {"spec", "weights", "weights_meta", "normalization", "categories", "config"}


def _index() -> dict:
    return json.loads((ZOO / "index.json").read_text())


def _weight_entries() -> list[dict]:
    return [e for e in _index()["entries"] if any(f["role"] == "weights" for f in e["files"])]


WEIGHT_NAMES = [e["name"] for e in _weight_entries()]


def _entry(name: str) -> dict:
    return next(e for e in _weight_entries() if e["name"] == name)


def test_at_least_two_entries_carry_complete_small_weights():
    from spinlock_spec import compile_spec

    assert {"static_baseline", "learnable_simple_test"} <= set(WEIGHT_NAMES)
    for entry in _weight_entries():
        folder = ZOO / entry["name"] / entry["version"]
        roles = {f["role"] for f in entry["files"]}
        assert ROLES_NEEDED <= roles, (entry["name"], roles)
        paths = {f["path"] for f in entry["files"]}
        assert {"best_model.safetensors", "best_model.json", "normalization_stats.npz", "categories.json",
                "initial_categories.json", "config.yaml"} <= paths
        for f in entry["files"]:
            assert f["size"] < 5 * 1024 * 1024, f
            assert (folder / f["path"]).stat().st_size == f["size"]
        # the shipped weights are good ones: they found the planted groups and use their codebooks
        floors = {"quality": 0.6, "token_quality": 0.6, "utilization": 0.8, "ari": 0.95}
        for key, floor in floors.items():
            assert entry["metrics"][key] >= floor, (entry["name"], key, entry["metrics"][key])
        data = entry["training_data"]
        assert data["source"] == "synthetic" and isinstance(data["synthetic"]["seed"], int)
        assert entry["training"]["epochs"] >= 1 and entry["training"]["script"] == "scripts/train_zoo_weights.py"
        # the weights belong to the shipped config: the index and the weights record one spec hash,
        # and the config compiles (a schema change may move its hash: rerun the script then)
        assert json.loads((folder / "best_model.json").read_text())["spec_hash"] == entry["spec_hash"]
        assert compile_spec(str(folder / "config.yaml")).ok


def _regenerated_val_metrics(name: str) -> dict:
    """Pull ``name``, rebuild its training data from the index record (not from the entry's
    config), split and normalize it as in training, and evaluate the pulled weights."""
    import torch

    from spinlock_spec import api
    from spinlock_spec.assemble.categories import true_feature_labels
    from spinlock_spec.assemble.families import family_inputs
    from spinlock_spec.nn.layout import feature_layout
    from spinlock_spec.train.metrics import evaluate

    record = _entry(name)["training_data"]
    run = api.load_run(f"zoo:{name}")
    overrides = [f"dataset.synthetic.{k}={json.dumps(v)}" for k, v in record["synthetic"].items()]
    overrides += [f"dataset.val_fraction={record['val_fraction']}", f"random_seed={record['split_seed']}",
                  "dataset.path=null"]
    compiled = api.compile_spec(str(run.path / "config.yaml"), overrides)
    assert compiled.ok, compiled.errors
    prepared = api.prepare_data(compiled, preprocessor=run.preprocessor)
    labels = true_feature_labels(feature_layout(family_inputs(compiled.graph, prepared.train)), prepared.train)
    arrays = {k: torch.as_tensor(v) for k, v in prepared.val.arrays.items()}
    return evaluate(run.model, arrays, batch_size=int(compiled.spec["training"]["batch_size"]),
                    true_labels=labels)


@pytest.mark.parametrize("name", WEIGHT_NAMES)
def test_pulled_weights_reproduce_the_index_metrics_on_regenerated_data(name, zoo_cache):
    metrics = _regenerated_val_metrics(name)
    recorded = _entry(name)["metrics"]
    for key, tol in TOLERANCE.items():
        assert abs(metrics[key] - recorded[key]) <= tol, (name, key, metrics[key], recorded[key])
    assert (zoo_cache / name).is_dir()          # it went through a real pull into the cache


def test_metrics_check_can_fail_other_data_gives_other_numbers(zoo_cache):
    """The same weights on data of another seed (other planted groups) are measurably worse,
    so the reproduction test above does depend on regenerating the right data."""
    from spinlock_spec import api
    from spinlock_spec.train.metrics import evaluate
    import torch

    run = api.load_run("zoo:static_baseline")
    compiled = api.compile_spec(str(run.path / "config.yaml"), ["dataset.synthetic.seed=12345"])
    prepared = api.prepare_data(compiled, preprocessor=run.preprocessor)
    arrays = {k: torch.as_tensor(v) for k, v in prepared.val.arrays.items()}
    other = evaluate(run.model, arrays, batch_size=256)
    assert other["quality"] < _entry("static_baseline")["metrics"]["quality"] - TOLERANCE["quality"]


def test_zoo_list_shows_weights_and_metrics(zoo_cache):
    proc = run_cli("zoo", "list")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:] if line.strip()}
    for name in WEIGHT_NAMES:
        assert rows[name][2] == "yes"
        assert float(rows[name][3]) == pytest.approx(_entry(name)["metrics"]["quality"], abs=5e-4)
    assert rows["learnable_assignment"][2] == "no"


def test_pull_then_encode_model_zoo_ref_and_second_pull_from_cache(zoo_cache, tmp_path):
    proc = run_cli("zoo", "pull", "learnable_simple_test")
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder.parent.parent == zoo_cache and (folder / "best_model.safetensors").is_file()
    data = tmp_path / "d.h5"
    proc = run_cli("data", "synth", "--out", str(data), "--n", "300", "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    before = snapshot(zoo_cache)
    out = tmp_path / "tokens.npz"
    proc = run_cli("encode", "--model", "zoo:learnable_simple_test", "--data", str(data), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out, allow_pickle=False) as z:
        tokens, sizes = z["tokens"], z["codebook_sizes"]
    assert tokens.shape[0] == 300 and tokens.shape[1:] == sizes.shape
    assert tokens.dtype == np.int64 and (tokens >= 0).all() and (tokens < sizes[None]).all()
    proc = run_cli("zoo", "pull", "learnable_simple_test")
    assert proc.returncode == 0 and Path(proc.stdout.strip()) == folder
    assert "served from the cache" in proc.stderr
    assert snapshot(zoo_cache) == before


def test_spec_only_entry_has_no_weights_to_load(zoo_cache):
    from spinlock_spec import api
    from spinlock_spec.errors import CheckpointError

    with pytest.raises(CheckpointError, match="spec-only zoo entry"):
        api.load_run("zoo:learnable_assignment")


def test_train_zoo_ref_init_from_zoo_fine_tunes(zoo_cache, tmp_path):
    """The fine-tuned run starts where the weights are: its first epoch is far below the first
    epoch of the same spec trained from scratch."""
    from spinlock_spec import api

    ft = tmp_path / "ft"
    proc = run_cli("train", "zoo:static_baseline", "--epochs", "2", "--init-from", "zoo:static_baseline",
                   "--out", str(ft), timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Initialized weights from zoo:static_baseline" in proc.stdout
    tuned = json.loads((ft / "training_history.json").read_text())["val_loss"]
    assert len(tuned) == 2
    scratch = api.train("zoo:static_baseline", epochs=1, out=tmp_path / "scratch", quiet=True,
                        progress=False).history["val_loss"]
    assert tuned[0] < 0.6 * scratch[0], (tuned, scratch)
    # the fine-tuned run folder is a complete run of the entry's spec (epochs aside)
    tuned_run = api.load_run(ft)
    assert tuned_run.compiled.spec["model"] == api.load_run("zoo:static_baseline").compiled.spec["model"]


OTHER_ARCH = """\
extends: zoo:static_baseline
model:
  group_embedding_dim: 48
"""


def test_extends_zoo_ref_inside_a_spec(zoo_cache, tmp_path):
    from spinlock_spec import compile_spec

    spec = tmp_path / "mine.yaml"
    spec.write_text(OTHER_ARCH)
    mine, base = compile_spec(str(spec)), compile_spec("zoo:static_baseline")
    assert mine.ok, mine.errors
    assert mine.spec["model"]["group_embedding_dim"] == 48
    assert base.spec["model"]["group_embedding_dim"] == 32
    assert mine.spec["families"] == base.spec["families"]
    assert mine.spec["training"] == base.spec["training"]


def test_init_from_with_another_architecture_names_the_parts(zoo_cache, tmp_path):
    spec = tmp_path / "wider.yaml"
    spec.write_text(OTHER_ARCH)
    proc = run_cli("train", str(spec), "--epochs", "1", "--init-from", "zoo:static_baseline",
                   "--out", str(tmp_path / "run"), timeout=300)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err and "error[E410]" in err
    assert "model.group_embedding_dim: 32 -> 48" in err          # the diff's architecture change
    assert "shape (" in err and "here" in err                    # a parameter with both shapes
    assert not (tmp_path / "run").exists()


def test_init_from_reuses_the_source_categories_on_other_data(zoo_cache, tmp_path):
    """Clustering data of another seed groups the features differently; --init-from builds
    the model with the categories the weights were trained with, so they load."""
    from spinlock_spec import api
    from spinlock_spec.train.metrics import feature_categories

    result = api.train("zoo:static_baseline", overrides=["dataset.synthetic.seed=7"], epochs=1,
                       init_from="zoo:static_baseline", dry_run=True, quiet=True, progress=False)
    run = api.load_run("zoo:static_baseline")
    assert feature_categories(result.model).tolist() == feature_categories(run.model).tolist()
    source = json.loads((run.path / "initial_categories.json").read_text())["categories"]
    labels = feature_categories(result.model).tolist()
    assert [sorted({labels[i] for i in cat}) for cat in source] == [[k] for k in range(len(source))]


def test_diff_takes_zoo_refs(zoo_cache, tmp_path):
    spec = tmp_path / "wider.yaml"
    spec.write_text(OTHER_ARCH)
    proc = run_cli("diff", "zoo:static_baseline", str(spec))
    assert proc.returncode == 1, proc.stderr
    assert "[architecture] model.group_embedding_dim: 32 -> 48" in proc.stdout
