import logging

import numpy as np
import pytest

from spinlock_spec.data.dataset import Dataset
from spinlock_spec.data.preprocess import Preprocessor, fit_preprocessor
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.errors import DataError

FAMILIES = ["summary", "temporal", "initial", "architecture"]
NO_CLEANING = {"enabled": False}


@pytest.fixture(scope="module")
def data():
    return generate_synthetic({"n_samples": 600, "variable_length": True, "field_channels": 2, "seed": 4},
                              FAMILIES)


def _tabular(x, names=None):
    x = np.asarray(x, np.float32)
    names = names or [f"c{j}" for j in range(x.shape[1])]
    return Dataset(arrays={"summary": x}, column_names={"summary": names},
                   true_groups={"summary": np.arange(x.shape[1])}, n_samples=x.shape[0], source="test")


@pytest.mark.parametrize("method", ["standard", "mad"])
def test_fitted_on_train_only(data, method):
    train, val = data.split(0.2, seed=0)
    pre = fit_preprocessor(train, {"enabled": True}, method)
    before = pre.to_npz_dict()
    # wildly different validation rows, transformed with the fitted stats, change nothing in them
    crazy = val.subset(np.arange(val.n_samples))
    for key, arr in crazy.arrays.items():
        if arr.dtype == np.float32:
            crazy.arrays[key] = arr * 1000.0 + 77.0
    pre.transform(crazy)
    d1, d2 = before, pre.to_npz_dict()
    assert d1.keys() == d2.keys()
    for key in d1:
        np.testing.assert_array_equal(d1[key], d2[key])
    # the same train rows next to other validation rows give identical statistics
    other = Dataset(arrays={k: np.concatenate([train.arrays[k], crazy.arrays[k]]) for k in train.arrays},
                    column_names=train.column_names, true_groups=train.true_groups,
                    n_samples=train.n_samples + crazy.n_samples, source="x")
    train_again, _ = other.subset(np.arange(train.n_samples)), None
    d3 = fit_preprocessor(train_again, {"enabled": True}, method).to_npz_dict()
    for key in d1:
        np.testing.assert_array_equal(d1[key], d3[key])
    # ... while fitting on all rows would differ (the test can fail)
    leaky = fit_preprocessor(data, {"enabled": True}, method).to_npz_dict()
    c = "summary_mean" if method == "standard" else "summary_median"
    assert not np.array_equal(leaky[c], d1[c])
    # training rows come out normalized
    t = pre.transform(train)
    if method == "standard":
        np.testing.assert_allclose(t.arrays["summary"].mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(t.arrays["summary"].std(axis=0), 1.0, atol=1e-3)
        np.testing.assert_allclose(t.arrays["initial/fields"].mean(axis=(0, 2, 3)), 0.0, atol=1e-4)
    else:
        np.testing.assert_allclose(np.median(t.arrays["summary"], axis=0), 0.0, atol=1e-4)


def test_npz_dict_and_file_round_trip(tmp_path, data):
    train, val = data.split(0.2, seed=1)
    pre = fit_preprocessor(train, {"enabled": True, "outlier_method": "iqr"}, "mad")
    expected = pre.transform(val)
    d = pre.to_npz_dict()
    assert {"summary_median", "summary_mad", "summary_kept_columns", "summary_clip_low",
            "summary_clip_high", "temporal_median", "temporal_mad", "initial_fields_median"} <= set(d)
    assert all(arr.dtype != object for arr in d.values())
    again = Preprocessor.from_npz_dict(d).transform(val)
    path = pre.save(tmp_path / "normalization_stats.npz")
    with np.load(path, allow_pickle=False) as npz:       # loadable without pickle
        assert "summary_median" in npz.files
    loaded = Preprocessor.load(path).transform(val)
    for result in (again, loaded):
        assert result.column_names == expected.column_names
        for key in expected.arrays:
            np.testing.assert_array_equal(result.arrays[key], expected.arrays[key])
        np.testing.assert_array_equal(result.true_groups["summary"], expected.true_groups["summary"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_standard_key_scheme(data):
    d = fit_preprocessor(data, NO_CLEANING, "standard").to_npz_dict()
    assert {"summary_mean", "summary_std", "temporal_mean", "temporal_std", "architecture_mean"} <= set(d)


def test_all_nan_column_dropped_with_warning_and_nan_inf_imputed(caplog):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4))
    x[:, 1] = np.nan
    x[3, 0], x[4, 2] = np.nan, np.inf
    ds = _tabular(x)
    with caplog.at_level(logging.WARNING, logger="spinlock_spec"):
        pre = fit_preprocessor(ds, NO_CLEANING, "standard")
    assert "dropping 1 all-NaN column(s) of family 'summary': c1" in caplog.text
    out = pre.transform(ds)
    assert out.column_names["summary"] == ["c0", "c2", "c3"]
    assert out.true_groups["summary"].tolist() == [0, 2, 3]
    assert np.isfinite(out.arrays["summary"]).all()
    med = np.nanmedian(x[:, 0])
    assert out.arrays["summary"][3, 0] == pytest.approx((med - pre.families["summary"].center[0])
                                                        / pre.families["summary"].scale[0], abs=1e-5)


def test_cleaning_variance_dedup_and_clipping():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((1000, 3))
    x = np.column_stack([base, base[:, 0] * 3 + 1, np.full(1000, 5.0)])   # col 3 dup of 0, col 4 constant
    x[0, 1] = 1e6                                                          # an outlier
    pre = fit_preprocessor(_tabular(x), {"enabled": True, "percentile_range": [1, 99]}, "standard")
    stats = pre.families["summary"]
    assert stats.kept.tolist() == [0, 1, 2]
    out = pre.transform(_tabular(x)).arrays["summary"]
    assert out[:, 1].max() < 5                                             # clipped, not 1e6 / std
    off = fit_preprocessor(_tabular(x), NO_CLEANING, "standard")
    assert off.families["summary"].kept.tolist() == [0, 1, 2, 3, 4]


def test_intelligent_dedup_keeps_the_most_complete_copy():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(500)
    x = np.column_stack([a, a * 2.0, rng.standard_normal(500)])
    x[:50, 0] = np.nan                                                     # the first copy is gappy
    smart = fit_preprocessor(_tabular(x), {"use_intelligent_dedup": True, "deduplicate_threshold": 0.9})
    plain = fit_preprocessor(_tabular(x), {"use_intelligent_dedup": False, "deduplicate_threshold": 0.9})
    assert smart.families["summary"].kept.tolist() == [1, 2]
    assert plain.families["summary"].kept.tolist() == [0, 2]


def test_sparse_column_is_not_flattened_by_iqr_clipping():
    x = np.zeros((400, 2))
    x[::10, 0] = 1.0                                                       # 90% zeros: IQR = 0
    x[:, 1] = np.random.default_rng(3).standard_normal(400)
    pre = fit_preprocessor(_tabular(x), {"outlier_method": "iqr"})
    assert pre.families["summary"].kept.tolist() == [0, 1]
    assert np.ptp(pre.transform(_tabular(x)).arrays["summary"][:, 0]) > 1


def test_temporal_stats_ignore_padding_and_keep_it_zero(data):
    pre = fit_preprocessor(data, NO_CLEANING, "standard")
    changed = data.subset(np.arange(data.n_samples))
    series = changed.arrays["temporal"].copy()
    pad = np.arange(series.shape[1])[None, :] >= changed.arrays["temporal/lengths"][:, None]
    series[pad] = 123.0
    changed.arrays["temporal"] = series
    pre2 = fit_preprocessor(changed, NO_CLEANING, "standard")
    np.testing.assert_allclose(pre.families["temporal"].center, pre2.families["temporal"].center)
    np.testing.assert_allclose(pre.families["temporal"].scale, pre2.families["temporal"].scale)
    out = pre2.transform(changed)
    assert np.all(out.arrays["temporal"][pad] == 0.0)
    valid = out.arrays["temporal"][~pad]
    np.testing.assert_allclose(valid.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(valid.std(axis=0), 1.0, atol=1e-3)
    assert out.arrays["temporal/lengths"].tolist() == data.arrays["temporal/lengths"].tolist()


def test_transform_rejects_mismatched_data(data):
    pre = fit_preprocessor(data, NO_CLEANING, "standard")
    narrow = data.subset(np.arange(10))
    narrow.arrays["summary"] = narrow.arrays["summary"][:, :5]
    with pytest.raises(DataError, match=r"family 'summary' has shape \(5,\) per sample; the normalization "
                                        r"was fitted on \(60,\)"):
        pre.transform(narrow)
    only_summary = generate_synthetic({"n_samples": 10}, ["summary"])
    with pytest.raises(DataError, match="missing families temporal, initial, architecture"):
        pre.transform(only_summary)


def test_cleaning_that_removes_everything_and_bad_method():
    with pytest.raises(DataError, match="removed every column of family 'summary'"):
        fit_preprocessor(_tabular(np.ones((20, 2))), {"enabled": True})
    with pytest.raises(DataError, match="unknown normalization_method 'zscore'"):
        Preprocessor("zscore")


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="normalization statistics not found"):
        Preprocessor.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(DataError, match="cannot read normalization statistics"):
        Preprocessor.load(bad)
    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, summary_mean=np.zeros(3))
    with pytest.raises(DataError, match="invalid normalization statistics"):
        Preprocessor.load(incomplete)
