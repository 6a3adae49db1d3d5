"""Learnable mode on real tables (issue 16 item 5): it must end at least as good as static
mode on tables that ship with scikit-learn (no download), from the same initial categories.

Before issue 16 the learnable model trained on a soft mixture of categories (at
``assignment_init_scale`` 1 a feature's own category got ~0.3 of its weight) with masked
credit hiding entries in every row of every soft-phase batch, and ended well below static
(breast cancer 0.691 against 0.765 on the user's scale).  The defaults now train the hard
assignment from the first epoch and measure the credit in a side pass that never masks the
batch; with nothing moved, the model is static mode's bit for bit on CPU
(docs/decisions.md, sections 10 and 10a).  The soft forward pass is still reachable by
settings (``SOFT``): the fast test checks that it is what fails, so the test measures the
change and not the table.
"""
from __future__ import annotations

import numpy as np
import pytest

from spinlock_spec import api
from spinlock_spec.data.dataset import Dataset
from spinlock_spec.data.npz import write_npz

SPEC = """families:
  summary:
    encoder: identity
training:
  num_epochs: {epochs}
  batch_size: {batch}
  category_assignment: {mode}
normalization_method: auto
random_seed: {seed}
"""
SOFT = ["learnable_assignment.forward_assignment=soft", "learnable_assignment.assignment_warmup_epochs=1"]


def _table(name: str, folder) -> str:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, np.float32)
    ds = Dataset({"summary": x}, column_names={"summary": [str(n) for n in bunch.feature_names]},
                 n_samples=len(x))
    path = folder / f"{name}.npz"
    write_npz(ds, path)
    return str(path)


def _quality(data, folder, mode, seed, epochs, batch, overrides=()) -> dict:
    out = folder / f"{mode}-{seed}-{len(overrides)}"
    res = api.train(SPEC.format(mode=mode, seed=seed, epochs=epochs, batch=batch), data=data, out=out,
                    quiet=True, progress=False, overrides=list(overrides))
    return res.history["final_metrics"] | {"moved": (res.history.get("features_moved") or [0])[-1]}


def test_learnable_at_least_static_on_breast_cancer_and_the_soft_forward_is_not(tmp_path):
    data = _table("breast_cancer", tmp_path)
    static = _quality(data, tmp_path, "auto", 0, 15, 64)["quality"]
    learn = _quality(data, tmp_path, "learnable", 0, 15, 64)["quality"]
    soft = _quality(data, tmp_path, "learnable", 0, 15, 64, SOFT)["quality"]
    # measured: static 0.7547, learnable 0.7547 (nothing moved: static's model), soft 0.725
    assert learn >= static, (learn, static)
    assert soft < static - 0.02, (soft, static)


@pytest.mark.slow
@pytest.mark.parametrize("table", ["breast_cancer", "wine", "iris"])
def test_learnable_at_least_static_over_seeds_quality_and_probe(table, tmp_path):
    """Mean over three seeds of the user-scale quality and the all-levels linear probe."""
    from spinlock_spec.evaluate import evaluate_run

    from sklearn import datasets
    data = _table(table, tmp_path)
    labels = np.asarray(getattr(datasets, f"load_{table}")().target)
    with np.load(data, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(data, **arrays, labels=labels)
    rows = {"auto": [], "learnable": []}
    for mode in rows:
        for seed in (0, 1, 3):
            out = tmp_path / f"{mode}-{seed}"
            res = api.train(SPEC.format(mode=mode, seed=seed, epochs=15, batch=64), data=data, out=out,
                            quiet=True, progress=False)
            probe = evaluate_run(api.load_run(out, which="final"), data, "labels")["probe"]["rows"]
            rows[mode].append((res.history["final_metrics"]["quality"],
                               probe["tokens all levels"]["accuracy"]))
    static, learn = np.mean(rows["auto"], axis=0), np.mean(rows["learnable"], axis=0)
    assert learn[0] >= static[0] - 0.005, (rows)
    assert learn[1] >= static[1] - 0.01, (rows)
