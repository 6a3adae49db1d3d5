import subprocess
import sys

import numpy as np
import pytest

from spinlock_spec.data.dataset import Dataset
from spinlock_spec.data.shapes import synthetic_shapes
from spinlock_spec.data.synthetic import WORKLOADS, generate_synthetic, workload
from spinlock_spec.errors import DataError

FAMILIES = ["summary", "temporal", "initial", "architecture"]
SMALL = {"n_samples": 400, "seed": 3}


def test_shapes_match_generator_for_every_family():
    for cfg in (SMALL, {**SMALL, "variable_length": True, "field_channels": 3, "field_size": 8,
                        "n_groups": 4, "features_per_group": 7, "temporal_length": 20, "temporal_dim": 5}):
        ds = generate_synthetic(cfg, FAMILIES + ["extra"])
        predicted = synthetic_shapes(cfg, FAMILIES + ["extra"])
        assert ds.shapes() == predicted
        assert ds.n_samples == cfg["n_samples"]
    assert "temporal/lengths" in predicted and predicted["temporal/lengths"] == ()
    assert predicted["summary"] == (28,) and predicted["initial"] == (8,)
    assert predicted["architecture"] == (4,) and predicted["initial/fields"] == (3, 8, 8)


def test_defaults_and_dtypes():
    ds = generate_synthetic({"n_samples": 200})
    assert ds.shapes() == {"summary": (60,), "temporal": (32, 8), "initial": (12,),
                           "initial/fields": (1, 16, 16), "architecture": (6,)}
    for key, arr in ds.arrays.items():
        assert arr.dtype == np.float32, key
        assert np.isfinite(arr).all(), key


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = generate_synthetic({**SMALL, "variable_length": True}, FAMILIES)
    b = generate_synthetic({**SMALL, "variable_length": True}, FAMILIES)
    c = generate_synthetic({**SMALL, "seed": 4, "variable_length": True}, FAMILIES)
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
        assert not np.array_equal(a.arrays[key], c.arrays[key]), key
    for fam in a.true_groups:
        np.testing.assert_array_equal(a.true_groups[fam], b.true_groups[fam])


def test_a_family_does_not_depend_on_the_other_families_requested():
    alone = generate_synthetic(SMALL, ["summary"])
    together = generate_synthetic(SMALL, FAMILIES)
    np.testing.assert_array_equal(alone.arrays["summary"], together.arrays["summary"])


def test_true_groups_balanced_shuffled_and_names_neutral():
    ds = generate_synthetic(SMALL, FAMILIES)
    groups = ds.true_groups["summary"]
    assert np.bincount(groups).tolist() == [10] * 6
    assert not np.array_equal(groups, np.sort(groups))          # columns shuffled
    assert np.bincount(ds.true_groups["initial"]).tolist() == [2] * 6
    assert np.bincount(ds.true_groups["architecture"]).tolist() == [1] * 6
    assert "temporal" not in ds.true_groups
    assert ds.column_names["summary"] == [f"summary_{j:03d}" for j in range(60)]
    # random per-column scale and offset: raw columns are not standardized
    x = ds.arrays["summary"]
    assert np.ptp(x.std(axis=0)) > 1.0 and np.abs(x.mean(axis=0)).max() > 5.0


def test_columns_correlate_within_groups_not_across():
    ds = generate_synthetic({"n_samples": 3000, "seed": 1}, ["summary"])
    r = np.abs(np.corrcoef(ds.arrays["summary"], rowvar=False))
    g = ds.true_groups["summary"]
    same = (g[:, None] == g[None, :]) & ~np.eye(len(g), dtype=bool)
    other = g[:, None] != g[None, :]
    assert r[same].mean() > 0.45
    assert r[other].max() < 0.12


def test_columns_are_nonlinear_in_the_latents():
    from spinlock_spec.data.synthetic import draw_latents
    from spinlock_spec.data.shapes import with_defaults

    cfg = with_defaults({"n_samples": 4000, "noise": 0.0, "seed": 2})
    z = draw_latents(cfg)
    ds = generate_synthetic(cfg, ["summary"])
    x, g = ds.arrays["summary"].astype(np.float64), ds.true_groups["summary"]
    residual_share = []
    for j in range(x.shape[1]):
        design = np.column_stack([z[g[j]], np.ones(len(x))])
        coef, *_ = np.linalg.lstsq(design, x[:, j], rcond=None)
        resid = x[:, j] - design @ coef
        residual_share.append(resid.var() / x[:, j].var())
    # noise-free, yet a linear model of the latents leaves a real part unexplained
    assert np.median(residual_share) > 0.05
    assert max(residual_share) < 0.5


def test_temporal_and_fields_are_driven_by_latents():
    from spinlock_spec.data.synthetic import draw_latents
    from spinlock_spec.data.shapes import with_defaults

    cfg = with_defaults({"n_samples": 3000, "seed": 5, "field_channels": 2})
    z = draw_latents(cfg)
    ds = generate_synthetic(cfg, ["temporal", "initial"])
    amp = ds.arrays["temporal"][:, :, 0].std(axis=1)          # channel 0 <- group 0
    assert abs(np.corrcoef(amp, np.tanh(z[0][:, 1]))[0, 1]) > 0.5
    fields = ds.arrays["initial/fields"]
    assert not np.allclose(fields[:, 0], fields[:, 1])           # channels are distinct
    peak_column = fields[:, 0].reshape(len(fields), -1).argmax(axis=1) % 16   # bump centre x <- group 0
    assert np.corrcoef(peak_column, z[0][:, 0])[0, 1] > 0.5


def test_variable_length_lengths_and_zero_padding():
    ds = generate_synthetic({**SMALL, "variable_length": True, "temporal_length": 31}, ["temporal"])
    lengths = ds.arrays["temporal/lengths"]
    series = ds.arrays["temporal"]
    assert lengths.dtype == np.int64 and lengths.shape == (400,)
    assert lengths.min() >= 16 and lengths.max() <= 31 and len(np.unique(lengths)) > 5
    pad = np.arange(31)[None, :] >= lengths[:, None]
    assert np.all(series[pad] == 0.0)
    assert np.all(np.abs(series[~pad]).sum(axis=-1) > 0)
    fixed = generate_synthetic({**SMALL, "temporal_length": 31}, ["temporal"])
    assert "temporal/lengths" not in fixed.arrays
    np.testing.assert_array_equal(series[~pad], fixed.arrays["temporal"][~pad])


def test_workloads():
    a, b = workload("A"), workload("b")
    assert (a["n_samples"], a["n_groups"], a["features_per_group"]) == (20_000, 8, 15)
    assert (b["n_samples"], b["n_groups"], b["features_per_group"]) == (100_000, 12, 17)
    assert a["noise"] == 0.3 and a["latents_per_group"] == [2, 4]
    assert synthetic_shapes(a, ["summary"]) == {"summary": (120,)}
    assert synthetic_shapes(b, ["summary"]) == {"summary": (204,)}
    a["n_samples"] = 1
    assert WORKLOADS["A"]["n_samples"] == 20_000                  # a copy
    with pytest.raises(DataError, match="unknown workload 'C'"):
        workload("C")


@pytest.mark.parametrize("bad, text", [
    ({"n_groups": 0}, "n_groups must be a positive integer"),
    ({"latents_per_group": [3, 2]}, "latents_per_group"),
    ({"noise": -1}, "noise must be a number"),
])
def test_invalid_config_is_a_data_error(bad, text):
    with pytest.raises(DataError, match=text):
        generate_synthetic({**SMALL, **bad}, ["summary"])


def test_dataset_split_is_deterministic_and_disjoint():
    ds = generate_synthetic(SMALL, FAMILIES)
    train, val = ds.split(0.1, seed=7)
    train2, val2 = ds.split(0.1, seed=7)
    assert (train.n_samples, val.n_samples) == (360, 40)
    np.testing.assert_array_equal(val.arrays["summary"], val2.arrays["summary"])
    tr_idx, va_idx = ds.split_indices(0.1, seed=7)
    assert not set(tr_idx) & set(va_idx) and len(set(tr_idx) | set(va_idx)) == 400
    np.testing.assert_array_equal(val.arrays["initial/fields"], ds.arrays["initial/fields"][va_idx])
    _, other = ds.split(0.1, seed=8)
    assert not np.array_equal(other.arrays["summary"], val.arrays["summary"])
    sub = ds.subset([3, 1])
    assert sub.n_samples == 2 and np.array_equal(sub.arrays["summary"][0], ds.arrays["summary"][3])
    with pytest.raises(ValueError):
        Dataset(arrays={"a": np.zeros((3, 2))}, n_samples=4)


def test_shapes_module_imports_no_numpy_and_data_no_sklearn():
    code = ("import sys, spinlock_spec.data.shapes; assert 'numpy' not in sys.modules, 'numpy'; "
            "import spinlock_spec.data.synthetic, spinlock_spec.data.sources, spinlock_spec.data.preprocess, "
            "spinlock_spec.data.discovery; "
            "assert 'sklearn' not in sys.modules, 'sklearn'; assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
