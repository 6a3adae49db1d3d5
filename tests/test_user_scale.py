"""Quality on the user's scale, column fates and invertible transforms (issue 16).

Unit parts on small arrays; the end-to-end part trains on scikit-learn's breast-cancer
table (ships with scikit-learn, no download) through the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spinlock_spec.data.dataset import Dataset
from spinlock_spec.data.decode import decode_tabular, input_feature_report
from spinlock_spec.data.preprocess import Preprocessor, fit_preprocessor
from spinlock_spec.data.transforms import fit_transform_params, heavy_tailed

ROOT = Path(__file__).resolve().parent.parent


def _table(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    heavy = rng.standard_t(df=2, size=n) * 3 + 10            # heavy tails
    skewed = rng.lognormal(0, 1.2, size=n)                   # one-sided tail
    twin = 2.5 * a - 4.0 + rng.normal(scale=1e-3, size=n)    # |r| > 0.99 with a
    const = np.full(n, 7.0)
    gone = np.full(n, np.nan)
    x = np.stack([a, heavy, twin, skewed, const, gone], axis=1).astype(np.float32)
    names = ["a", "heavy", "twin_of_a", "skewed", "const", "gone"]
    return Dataset({"summary": x}, column_names={"summary": names}, n_samples=n)


def test_every_column_has_a_fate_and_decodes_back():
    ds = _table()
    pre = fit_preprocessor(ds, {"enabled": True}, "standard")
    stats = pre.families["summary"]
    fates = {r["name"]: r for r in stats.column_fates()}
    assert [fates[n]["fate"] for n in ["a", "heavy", "twin_of_a", "skewed", "const", "gone"]] == [
        "tokenized", "tokenized", "twin", "tokenized", "constant", "missing"]
    assert fates["twin_of_a"]["twin"] == "a"
    assert fates["twin_of_a"]["slope"] == pytest.approx(2.5, abs=1e-3)
    assert fates["twin_of_a"]["intercept"] == pytest.approx(-4.0, abs=1e-2)
    decoded = decode_tabular(stats, pre.transform(ds).arrays["summary"])
    raw = ds.arrays["summary"].astype(np.float64)
    assert decoded.shape == raw.shape
    # not clipped: the rows inside the clip bounds come back exactly, the twin to its noise
    inside = (raw[:, [0, 1, 3]] > stats.clip_low) & (raw[:, [0, 1, 3]] < stats.clip_high)
    np.testing.assert_allclose(decoded[:, [0, 1, 3]][inside], raw[:, [0, 1, 3]][inside], rtol=1e-4, atol=1e-4)
    assert np.abs(decoded[:, 2] - raw[:, 2])[inside[:, 0]].max() < 0.01
    assert np.all(decoded[:, 4] == 7.0) and np.isnan(decoded[:, 5]).all()


@pytest.mark.parametrize("method", ["yeo-johnson", "quantile", "auto"])
def test_transforms_invert_and_survive_the_npz(method, tmp_path):
    ds = _table()
    pre = fit_preprocessor(ds, {"enabled": False}, method)
    path = pre.save(tmp_path / "norm.npz")
    with np.load(path, allow_pickle=False) as npz:           # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)
    loaded = Preprocessor.load(path)
    raw = ds.arrays["summary"].astype(np.float64)
    y = loaded.transform(ds).arrays["summary"]
    np.testing.assert_array_equal(y, pre.transform(ds).arrays["summary"])
    decoded = decode_tabular(loaded.families["summary"], y)
    cols = [0, 1, 3]
    tol = 1e-3 if method != "quantile" else 0.05             # quantile: piecewise linear, float32
    rel = np.abs(decoded[:, cols] - raw[:, cols]) / (np.abs(raw[:, cols]) + 1.0)
    assert np.median(rel) < tol
    # the heavy column is far less heavy after the transform (Yeo-Johnson fixes skew more than
    # symmetric tails: from ~900 to ~130 here; the quantile map to a normal, to ~0)
    kurt = lambda v: float(((v - v.mean()) ** 4).mean() / v.var() ** 2 - 3)  # noqa: E731
    heavy_pos = list(loaded.families["summary"].kept).index(1)
    assert kurt(raw[:, 1]) > 100 and kurt(y[:, heavy_pos].astype(np.float64)) < kurt(raw[:, 1]) / 5


def test_inverse_stays_bounded_beyond_the_transform_range():
    """A model output far outside the training range (or beyond the domain of the inverse
    Yeo-Johnson, lambda < 0) decodes to at most one training range past the extremes."""
    rng = np.random.default_rng(2)
    x = np.stack([rng.lognormal(0, 1.5, size=3000), rng.standard_t(2, size=3000)], axis=1)
    params = fit_transform_params(x, "yeo-johnson")
    assert params.lambdas[0] == 0.0                # its own fit is < 0: held at 0, onto the line
    t = params.forward(x)
    wild = np.array([[t[:, 0].max() + 50.0, t[:, 1].min() - 50.0]])
    back = params.inverse(wild)
    span = x.max(0) - x.min(0)
    assert np.isfinite(back).all()
    assert back[0, 0] <= x[:, 0].max() + span[0] + 1e-9 and back[0, 1] >= x[:, 1].min() - span[1] - 1e-9
    np.testing.assert_allclose(params.inverse(t), x, rtol=1e-6, atol=1e-9)


def test_yeo_johnson_inverse_is_well_conditioned_on_a_real_table():
    """Breast cancer's heavy columns fit lambda < 0 on their own (one -0.43): the right side
    would saturate at 1 / |lambda| and the training max would sit next to the asymptote,
    where the inverse turns a small decoding error into many standard deviations.  Held
    in [0, 2], a quarter of a normalized unit beyond the training max decodes within 3
    standard deviations of it (lambda free: 11.8, the clamp at one range beyond), and the
    round trip is exact."""
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data.astype(np.float64)
    params = fit_transform_params(x, "auto")
    cols = np.flatnonzero(params.kind == 1)
    assert cols.size >= 5 and ((params.lambdas[cols] >= 0) & (params.lambdas[cols] <= 2)).all()
    t = params.forward(x)
    np.testing.assert_allclose(params.inverse(t), x, rtol=1e-6, atol=1e-9)
    step = t.std(axis=0)[cols] * 0.25                    # a quarter unit of the normalized column
    top = t.max(axis=0)
    beyond = t[:1].copy()
    beyond[0, cols] = top[cols] + step
    moved = (params.inverse(beyond)[0, cols] - x.max(axis=0)[cols]) / x.std(axis=0)[cols]
    assert (moved > 0).all() and moved.max() < 3.0, moved


def test_auto_picks_the_heavy_columns_only():
    rng = np.random.default_rng(1)
    x = np.stack([rng.normal(size=5000), rng.uniform(size=5000), rng.standard_t(2, size=5000),
                  rng.lognormal(0, 1.5, size=5000)], axis=1)
    assert heavy_tailed(x).tolist() == [False, False, True, True]
    params = fit_transform_params(x, "auto")
    assert params.kind.tolist() == [0, 0, 1, 1]
    assert params.lambdas[0] == 1.0 and params.lambdas[3] < 0.5     # log-like for the lognormal


# --------------------------------------------------------------------------- real table, CLI
def cli(*args, timeout=600):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "spinlock_spec", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def breast_cancer_run(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer

    from spinlock_spec.data.npz import write_npz

    tmp = tmp_path_factory.mktemp("bc")
    bunch = load_breast_cancer()
    x = bunch.data.astype(np.float32)
    data = write_npz(Dataset({"summary": x}, column_names={"summary": list(bunch.feature_names)},
                             n_samples=len(x)), tmp / "bc.npz")
    np.savez(tmp / "labels.npz", labels=bunch.target)
    spec = tmp / "spec.yaml"
    spec.write_text("families:\n  summary:\n    encoder: identity\n"
                    "training:\n  batch_size: 64\n  num_epochs: 4\nrandom_seed: 0\n")
    out = tmp / "run"
    proc = cli("train", spec, "--data", data, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp, data, out, proc.stdout + proc.stderr, x


def test_breast_cancer_decodes_every_column_and_quality_is_recomputable(breast_cancer_run):
    tmp, data, out, log, x = breast_cancer_run
    assert "not tokenized themselves" in log            # the duplicated perimeters/areas are named
    cats = json.loads((out / "categories.json").read_text())
    assert len(cats["input_features"]) == 30
    assert {r["fate"] for r in cats["input_features"]} <= {"tokenized", "twin"}
    assert all("category" in r for r in cats["input_features"])
    final = json.loads((out / "training_history.json").read_text())["final_metrics"]
    assert final["quality_scale"] == "user" and "quality_clipped" in final
    assert len(final["feature_r2"]["summary"]) == 30

    # the validation rows of the run (same split), decoded through the CLI
    from spinlock_spec.data.dataset import Dataset as DS
    from spinlock_spec.data.npz import write_npz

    full = DS({"summary": x}, n_samples=len(x))
    train_idx, val_idx = full.split_indices(0.1, 0)
    val_file = write_npz(DS({"summary": x[val_idx]}, n_samples=len(val_idx)), tmp / "val.npz")
    proc = cli("encode", out, "--which", "final", "--data", val_file, "--out", tmp / "tok.npz",
               "--reconstructions")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(tmp / "tok.npz", allow_pickle=False) as npz:
        decoded = npz["decoded/summary"]
        assert [str(s) for s in npz["decoded/summary/column_names"]] == list(
            cats_names := [r["name"] for r in cats["input_features"]])
    assert decoded.shape == (len(val_idx), 30) and np.isfinite(decoded).all()
    assert len(cats_names) == 30
    # recomputed here from the raw table: z-scores with the validation rows' own mean and std
    val = x[val_idx].astype(np.float64)
    mu, sd = val.mean(axis=0), val.std(axis=0)
    z_true = (x[val_idx] - mu) / sd
    z_pred = (decoded - mu) / sd
    recomputed = 1.0 - float(((z_pred - z_true) ** 2).mean())
    assert final["quality"] == pytest.approx(recomputed, abs=1e-4)
    r2 = 1 - ((z_pred - z_true) ** 2).sum(0) / ((z_true - z_true.mean(0)) ** 2).sum(0)
    got = np.array([final["feature_r2"]["summary"][n] for n in cats_names])
    np.testing.assert_allclose(got, r2, atol=1e-4)


def test_evaluate_with_labels_probe_table_and_report(breast_cancer_run, capsys):
    """evaluate and encode through real subprocesses; the text form, an error and the report
    section in this process (the same command line, through the console entry point)."""
    from helpers import main_exit_code

    tmp, data, out, _, x = breast_cancer_run
    proc = cli("evaluate", out, "--which", "final", "--data", data, "--labels", tmp / "labels.npz",
               "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    # quality of every row, recomputed from decode output (encode --reconstructions)
    proc = cli("encode", out, "--which", "final", "--data", data, "--out", tmp / "all.npz", "--reconstructions")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(tmp / "all.npz", allow_pickle=False) as npz:
        decoded = npz["decoded/summary"]
        tokens = npz["tokens"]
    sd = x.astype(np.float64).std(0)      # every row's own std (the mean cancels in decoded - x)
    recomputed = 1.0 - float((((decoded - x) / sd) ** 2).mean())
    assert result["quality"] == pytest.approx(recomputed, abs=1e-4)
    assert len(result["feature_r2"]["summary"]) == 30
    # usage per category x level from the same tokens
    k, levels = tokens.shape[1:]
    assert len(result["usage"]) == k * levels
    for row in result["usage"]:
        kk = [u["category"] for u in result["usage"]].index(row["category"]) // levels
        used = len(np.unique(tokens[:, kk, row["level"]]))
        assert row["utilization"] == pytest.approx(used / row["codebook"])
        assert row["dead_codes"] == row["codebook"] - used
    rows = result["probe"]["rows"]
    assert list(rows) == ["tokens level 0", "tokens levels 0..1", "tokens all levels", "raw features (ceiling)"]
    assert rows["raw features (ceiling)"]["accuracy"] > 0.9          # the table is linearly separable
    assert rows["tokens all levels"]["accuracy"] > 0.8                # tokens keep most of it
    # text form and the report section
    capsys.readouterr()
    assert main_exit_code(["evaluate", out, "--data", data, "--labels", "labels"]) == 2  # a key of the data file
    assert "neither a file nor an array" in capsys.readouterr().err
    np.savez(tmp / "bc_labeled.npz", summary=x, labels=np.load(tmp / "labels.npz")["labels"])
    assert main_exit_code(["evaluate", out, "--data", tmp / "bc_labeled.npz", "--labels", "labels"]) == 0
    text = capsys.readouterr().out
    assert "raw features (ceiling)" in text and "quality (user scale" in text, text
    assert main_exit_code(["report", out, "--format", "json", "--no-data"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluation"]["probe"]["n_classes"] == 2
    assert len(summary["input_features"]) == 30


def test_input_feature_report_names_the_twin_category():
    ds = _table()
    pre = fit_preprocessor(ds, {"enabled": True}, "standard")
    report = input_feature_report(pre, {"categories": [
        {"name": "c0", "features": [{"name": "summary:a"}, {"name": "summary:heavy"}]},
        {"name": "c1", "features": [{"name": "summary:skewed"}]}]})
    by_name = {r["name"]: r for r in report}
    assert by_name["twin_of_a"]["category"] == "c0" and by_name["skewed"]["category"] == "c1"
    assert "category" not in by_name["const"] and by_name["gone"]["fate"] == "missing"


def test_low_utilization_warning_names_the_level_and_categories():
    from spinlock_spec.train.user_quality import low_utilization_warnings

    final = {"utilization_per_level": [0.9, 0.3],
             "category_0/level_1/utilization": 0.1, "category_1/level_1/utilization": 0.5,
             "category_0/level_0/utilization": 0.9}
    lines = low_utilization_warnings(final)
    assert len(lines) == 1 and "level 1 ends at 30.0%" in lines[0]
    assert lines[0].index("category_0 10%") < lines[0].index("category_1 50%")
    assert low_utilization_warnings({"utilization_per_level": [0.5, 0.6]}) == []
    # 40 evaluated rows can use at most 40 of 64 codes: 35% of 64 is 56% of what they reach
    sizes = np.array([[64, 8], [64, 8]])
    assert low_utilization_warnings({"utilization_per_level": [0.35, 0.9], "n_samples": 40}, sizes) == []
    assert len(low_utilization_warnings({"utilization_per_level": [0.2, 0.9], "n_samples": 40}, sizes)) == 1


def test_evaluate_names_its_stages_for_the_progress_lines(breast_cancer_run):
    """`evaluate` tells the CLI's progress lines what it is doing: reading, encoding, probing."""
    from spinlock_spec import api
    from spinlock_spec.evaluate import evaluate_run

    tmp, data, out, _, x = breast_cancer_run
    seen: list[str] = []
    labels = str(tmp / "labels.npz")
    evaluate_run(api.load_run(out), data, labels, stage=seen.append)
    assert seen == [f"reading {data}", f"encoding and decoding {len(x)} rows",
                    f"linear probes of {labels} (tokens and raw features)"]


def test_rows_scale_bounds_what_a_rare_value_costs_on_digits():
    """The scale of quality on a real table: digits' validation rows hold pixel values that
    are (nearly) never non-zero in the training rows, so on the training std they are tens
    of standard deviations; on the validation rows' own std every column with spread has
    unit variance there, so predicting its mean costs exactly 1, like every other column."""
    from sklearn.datasets import load_digits

    from spinlock_spec.data.decode import UserScaleError, rows_scale

    x = load_digits().data.astype(np.float64)
    full = Dataset({"summary": x}, n_samples=len(x))
    train_idx, val_idx = full.split_indices(0.2, 0)
    pre = fit_preprocessor(Dataset({"summary": x[train_idx]}, n_samples=len(train_idx)))
    stats = pre.families["summary"]
    val = x[val_idx]
    mean_pred = np.broadcast_to(val.mean(axis=0), val.shape)     # the best constant prediction
    on_train, on_rows = UserScaleError(), UserScaleError()
    on_train.update_tabular("summary", stats, val, mean_pred)
    on_rows.update_tabular("summary", stats, val, mean_pred, rows_scale(stats, val))
    spread = val.std(axis=0) > 0
    assert on_train.column_mse("summary")[spread].max() > 20           # a rare pixel, on the training std
    np.testing.assert_allclose(on_rows.column_mse("summary")[spread], 1.0, rtol=1e-9)
    assert (on_rows.column_mse("summary")[~spread] == 0).all()          # no spread, predicted exactly


@pytest.mark.slow
def test_digits_quality_is_measured_on_the_evaluated_rows_scale(tmp_path):
    """Digits has pixels that are non-zero in a handful of the 1,797 images: on the training
    rows' std one such value in a validation row was hundreds of standard deviations and
    quality was 0.000 for every model.  On the validation rows' own scale a short run
    reaches well above what predicting every column's mean gives (0 by construction),
    and the figure equals the mean over columns of their R^2 (no value is missing)."""
    from sklearn.datasets import load_digits

    from spinlock_spec import api
    from spinlock_spec.data.npz import write_npz

    bunch = load_digits()
    x = bunch.data.astype(np.float32)
    data = write_npz(Dataset({"summary": x}, column_names={"summary": list(bunch.feature_names)},
                             n_samples=len(x)), tmp_path / "digits.npz")
    spec = ("families:\n  summary:\n    encoder: identity\n"
            "training:\n  batch_size: 64\n  num_epochs: 4\nrandom_seed: 0\n")
    result = api.train(spec, data=data, out=tmp_path / "run", quiet=True, progress=False)
    final = result.history["final_metrics"]
    assert final["quality"] > 0.5
    # each column's MSE on its own validation scale is 1 - its R^2; a column without spread
    # there (R^2 undefined) counts its error on the training scale
    r2, mse = final["feature_r2"]["summary"], final["feature_mse"]["summary"]
    per_column = [1.0 - r2[n] if r2[n] is not None else mse[n] for n in bunch.feature_names]
    assert sum(v is None for v in r2.values()) >= 1          # pixel_0_0 is 0 in every image
    assert final["quality"] == pytest.approx(1.0 - float(np.mean(per_column)), abs=1e-6)
