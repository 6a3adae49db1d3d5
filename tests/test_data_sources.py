import h5py
import numpy as np
import pytest

from spinlock_spec.data.hdf5 import HDF5Reader, write_hdf5
from spinlock_spec.data.npz import write_npz
from spinlock_spec.data.sources import (N_KEY, load_dataset, load_from_config, read_shapes,
                                        shapes_from_config)
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.errors import DataError, UserError

from helpers import main_exit_code

FAMILIES = ["summary", "temporal", "initial", "architecture"]


@pytest.fixture(scope="module")
def synthetic():
    return generate_synthetic({"n_samples": 120, "variable_length": True, "field_channels": 2,
                               "seed": 11}, FAMILIES)


@pytest.fixture
def h5file(tmp_path, synthetic):
    return write_hdf5(synthetic, tmp_path / "data.h5")


def _assert_same(a, b):
    assert set(a.arrays) == set(b.arrays)
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
        assert a.arrays[key].dtype == b.arrays[key].dtype, key
    assert a.column_names == b.column_names
    assert set(a.true_groups) == set(b.true_groups)
    for fam in a.true_groups:
        np.testing.assert_array_equal(a.true_groups[fam], b.true_groups[fam])


def test_hdf5_layout_is_the_spinlock_one(h5file, synthetic):
    with h5py.File(h5file, "r") as f:
        assert f["features/summary/aggregated/features"].shape == (120, 60)
        assert f["features/architecture/aggregated/features"].shape == (120, 6)
        assert f["features/initial/aggregated/features"].shape == (120, 12)
        assert f["features/temporal/features"].shape == (120, 32, 8)
        assert f["features/temporal/lengths"].shape == (120,)
        assert f["inputs/fields"].shape == (120, 2, 16, 16)
        np.testing.assert_array_equal(f["features/summary/aggregated/true_groups"][()],
                                      synthetic.true_groups["summary"])
    assert not list(h5file.parent.glob(".*.tmp"))        # temp file renamed away


def test_hdf5_round_trip(h5file, synthetic):
    loaded = load_dataset(h5file, FAMILIES, need_fields={"initial"})
    _assert_same(synthetic, loaded)
    assert loaded.n_samples == 120 and str(h5file) in loaded.source


def test_max_samples_and_no_fields_unless_needed(h5file, synthetic):
    loaded = load_dataset(h5file, ["summary", "initial"], max_samples=30)
    assert loaded.n_samples == 30 and "initial/fields" not in loaded.arrays
    np.testing.assert_array_equal(loaded.arrays["summary"], synthetic.arrays["summary"][:30])


def test_read_shapes_is_lazy(h5file, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("read_shapes must not load data")

    monkeypatch.setattr(HDF5Reader, "read", no_reading)
    shapes = read_shapes(h5file, FAMILIES)
    assert shapes == {"summary": (60,), "temporal": (32, 8), "temporal/lengths": (), "initial": (12,),
                      "architecture": (6,), "initial/fields": (2, 16, 16), N_KEY: (120,)}
    assert "initial/fields" not in read_shapes(h5file, ["initial"], need_fields=set())


def test_npz_round_trip_and_lazy_shapes(tmp_path, synthetic, monkeypatch):
    path = write_npz(synthetic, tmp_path / "data.npz")
    _assert_same(synthetic, load_dataset(path, FAMILIES, need_fields={"initial"}))
    from spinlock_spec.data.npz import NPZReader

    monkeypatch.setattr(NPZReader, "read", lambda *a, **k: pytest.fail("loaded data"))
    shapes = read_shapes(path, FAMILIES)
    assert shapes["temporal"] == (32, 8) and shapes[N_KEY] == (120,) and shapes["initial/fields"] == (2, 16, 16)


def test_npz_double_underscore_keys(tmp_path):
    path = tmp_path / "plain.npz"
    rng = np.random.default_rng(0)
    np.savez(path, summary=rng.standard_normal((10, 4)), temporal=rng.standard_normal((10, 6, 2)),
             temporal__lengths=np.full(10, 4), initial=rng.standard_normal((10, 3)),
             initial__fields=rng.standard_normal((10, 1, 4, 4)))
    ds = load_dataset(path, ["summary", "temporal", "initial"], need_fields={"initial"})
    assert ds.arrays["temporal/lengths"].tolist() == [4] * 10
    assert ds.arrays["initial/fields"].shape == (10, 1, 4, 4)
    assert ds.arrays["summary"].dtype == np.float32
    assert ds.column_names["summary"] == ["summary_000", "summary_001", "summary_002", "summary_003"]
    assert ds.true_groups == {}


def test_fields_only_family(h5file, tmp_path):
    ds = load_dataset(h5file, ["summary", "initial"], fields_only={"initial"})
    assert set(ds.arrays) == {"summary", "initial/fields"} and ds.families == ["summary", "initial"]
    assert read_shapes(h5file, ["initial"], fields_only={"initial"}) == {"initial/fields": (2, 16, 16),
                                                                         N_KEY: (120,)}
    cfg = {"path": None, "synthetic": {"n_samples": 30}}
    synth = load_from_config(cfg, ["summary", "initial"], fields_only={"initial"})
    assert set(synth.arrays) == {"summary", "initial/fields"} and "initial" not in synth.true_groups
    assert set(shapes_from_config(cfg, ["initial"], fields_only={"initial"})) == {"initial/fields", N_KEY}
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["features/initial/aggregated/features"] = np.ones((4, 2))
    with pytest.raises(DataError, match="needs raw initial-condition fields"):
        load_dataset(tmp_path / "f.h5", ["initial"], fields_only={"initial"})


def test_from_config(h5file):
    cfg = {"path": None, "max_samples": 50, "feature_type": "aggregated",
           "synthetic": {"n_samples": 80, "n_groups": 3, "features_per_group": 4}}
    ds = load_from_config(cfg, ["summary", "initial"])
    assert ds.n_samples == 50 and ds.arrays["summary"].shape == (50, 12)
    shapes = shapes_from_config(cfg, ["summary", "initial"])
    assert shapes == {"summary": (12,), "initial": (6,), "initial/fields": (1, 16, 16), N_KEY: (50,)}
    file_cfg = {"path": str(h5file), "max_samples": None, "feature_type": "aggregated"}
    assert shapes_from_config(file_cfg, ["summary"])[N_KEY] == (120,)
    assert load_from_config(file_cfg, ["summary"]).n_samples == 120


# -- bad input: one DataError each, naming the file and the array --------------------

def _error(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, UserError) and info.value.exit_code == 2
    return str(info.value)


def test_missing_file(tmp_path):
    msg = _error(lambda: load_dataset(tmp_path / "none.h5", ["summary"]))
    assert msg == f"dataset file not found: {tmp_path / 'none.h5'}"
    assert "not found" in _error(lambda: read_shapes(tmp_path / "none.h5", ["summary"]))


def test_not_a_dataset_file(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("this is not HDF5\n")
    assert _error(lambda: load_dataset(path, ["summary"])) == \
        f"{path} is neither an HDF5 nor an NPZ file (unrecognized content)"
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert "(empty)" in _error(lambda: read_shapes(empty, ["summary"]))


def test_truncated_hdf5(tmp_path, h5file):
    cut = tmp_path / "cut.h5"
    cut.write_bytes(h5file.read_bytes()[:4000])
    msg = _error(lambda: load_dataset(cut, ["summary"]))
    assert msg.startswith(f"cannot open {cut} as HDF5: the file is corrupt or truncated")


def test_truncated_npz(tmp_path, synthetic):
    path = write_npz(synthetic, tmp_path / "data.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:3000])
    msg = _error(lambda: load_dataset(cut, ["summary"]))
    assert str(cut) in msg and "corrupt or truncated" in msg


def test_family_missing_lists_families(h5file):
    msg = _error(lambda: load_dataset(h5file, ["summary", "nonsense"]))
    assert msg == (f"{h5file}: family 'nonsense' not found (expected features/nonsense/aggregated/features); "
                   f"families in the file: architecture, initial, summary, temporal")
    msg = _error(lambda: read_shapes(h5file, ["summary"], feature_type="per_trajectory"))
    assert "no dataset at features/summary/per_trajectory/features" in msg
    assert "feature types: aggregated" in msg


def test_wrong_ndim(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["features/summary/aggregated/features"] = np.zeros(10)
        f["features/temporal/features"] = np.zeros((10, 3))
    msg = _error(lambda: load_dataset(path, ["summary"]))
    assert msg == (f"{path}:features/summary/aggregated/features: family 'summary' must be "
                   f"[N, D] or [N, T, D], found shape (10,)")
    msg = _error(lambda: read_shapes(path, ["temporal"]))
    assert "features/temporal/features: family 'temporal' must be [N, T, D], found shape (10, 3)" in msg
    with h5py.File(path, "a") as f:
        f["features/architecture/aggregated/features"] = np.zeros((10, 2, 2))
    msg = _error(lambda: load_dataset(path, ["architecture"], expected_ndim={"architecture": 2}))
    assert "family 'architecture' must be [N, D], found shape (10, 2, 2)" in msg


def test_fields_missing_when_needed(tmp_path):
    ds = generate_synthetic({"n_samples": 20}, ["summary", "initial"])
    del ds.arrays["initial/fields"]
    path = write_hdf5(ds, tmp_path / "nofields.h5")
    msg = _error(lambda: load_dataset(path, ["initial"], need_fields={"initial"}))
    assert msg == (f"{path}: family 'initial' needs raw initial-condition fields (its encoder is "
                   f"initial_cnn or initial_hybrid) but the file has no inputs/fields")
    assert load_dataset(path, ["initial"]).n_samples == 20      # fine when not needed
    _error(lambda: read_shapes(path, ["initial"], need_fields={"initial"}))


def test_all_nan_family(tmp_path):
    path = tmp_path / "nan.h5"
    with h5py.File(path, "w") as f:
        f["features/summary/aggregated/features"] = np.full((8, 3), np.nan)
        f["features/initial/aggregated/features"] = np.ones((8, 3))
    msg = _error(lambda: load_dataset(path, ["initial", "summary"]))
    assert msg == f"{path}:features/summary/aggregated/features: family 'summary' is all NaN"


def test_row_count_mismatch(tmp_path):
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        f["features/summary/aggregated/features"] = np.ones((8, 3))
        f["features/temporal/features"] = np.ones((7, 4, 2))
        f["inputs/fields"] = np.ones((8, 1, 2, 2))
    msg = _error(lambda: read_shapes(path, ["summary", "temporal"]))
    assert msg == (f"{path}: families have different numbers of rows: summary has 8 "
                   f"(features/summary/aggregated/features), temporal has 7 (features/temporal/features)")
    with h5py.File(path, "a") as f:
        f["features/initial/aggregated/features"] = np.ones((8, 2))
        del f["inputs/fields"]
        f["inputs/fields"] = np.ones((9, 1, 2, 2))
    msg = _error(lambda: load_dataset(path, ["summary", "initial"], need_fields={"initial"}))
    assert "initial/fields has 9 (inputs/fields)" in msg


def test_bad_lengths(tmp_path):
    path = tmp_path / "len.h5"
    with h5py.File(path, "w") as f:
        f["features/temporal/features"] = np.ones((4, 5, 2))
        f["features/temporal/lengths"] = np.array([5, 3, 6, 1])
    msg = _error(lambda: load_dataset(path, ["temporal"]))
    assert msg == (f"{path}:features/temporal/lengths: lengths of family 'temporal' must be in [1, 5]; "
                   f"row 2 has 6 (1 bad row(s))")


def test_npz_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, summary=np.array([[1, "a"], [2, None]], dtype=object))
    msg = _error(lambda: load_dataset(path, ["summary"]))
    assert "refusing to unpickle" in msg or "must hold real numbers" in msg
    assert str(path) in msg


_cli = main_exit_code


def test_cli_synth_and_inspect(tmp_path, capsys):
    out = tmp_path / "d.h5"
    assert _cli(["data", "synth", "--out", str(out), "--n", "300", "--groups", "4", "--variable-length",
                 "--families", "summary,temporal,initial"]) == 0
    shapes = read_shapes(out, ["summary", "temporal", "initial"])
    assert shapes == {"summary": (40,), "temporal": (32, 8), "temporal/lengths": (), "initial": (8,),
                      "initial/fields": (1, 16, 16), N_KEY: (300,)}
    assert load_dataset(out, ["summary"]).true_groups["summary"].shape == (40,)
    capsys.readouterr()
    assert _cli(["data", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "N = 300" in text and "temporal/lengths" in text and "[32, 8]" in text
    assert _cli(["data", "inspect", str(tmp_path / "missing.h5")]) == 2
    err = capsys.readouterr().err
    assert "dataset file not found" in err and "Traceback" not in err


def test_cli_synth_workload(tmp_path):
    out = tmp_path / "a.h5"
    assert _cli(["data", "synth", "--out", str(out), "--workload", "A", "--n", "500"]) == 0
    assert read_shapes(out, ["summary"]) == {"summary": (120,), N_KEY: (500,)}
