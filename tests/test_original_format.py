"""Every key, null and older layout of the original format compiles with its documented mapping
or warning (shared/reference/spinlock-format.md; docs/migration.md)."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import FIXTURES as ALL_FIXTURES
from helpers import cli

from spinlock_spec.compile import compile_spec
from spinlock_spec.config import resolve
from spinlock_spec.errors import SpecError
from spinlock_spec.registry import ENCODERS


def _error(text: str):
    with pytest.raises(SpecError) as info:
        resolve(text)
    return [d for d in info.value.diagnostics if d.severity == "error"]


# --------------------------------------------------------------------------- encoder names

def test_unknown_encoder_names_the_nearest_registry_entry_with_all_its_spellings(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("families:\n  initial: {encoder: ICCNNEncoder}\n")
    proc = cli("compile", spec)
    assert proc.returncode == 2, proc.stderr
    assert "s.yaml:2:22: error[E207]" in proc.stderr
    assert "did you mean 'ic_cnn' / 'initial_cnn' / 'InitialCNNEncoder'?" in proc.stderr


@pytest.mark.parametrize("typo, expected", [
    ("TDCNNEncoder", "temporal_cnn"), ("MLPEncodr", "mlp"), ("initial_hybrd", "initial_hybrid"),
    ("PyramidEncoder", "pyramid_temporal"), ("IdentEncoder", "identity")])
def test_nearest_encoder_is_the_right_entry(typo, expected):
    assert ENCODERS.nearest(typo)[0][0] in (ENCODERS.get(expected).name, *ENCODERS.get(expected).aliases)
    (err,) = _error(f"families: {{x: {{encoder: {typo}}}}}\n")
    assert err.code == "E207" and f"'{expected}'" in err.hint.split("valid values")[0]


def test_a_tie_names_both_entries():
    (err,) = _error("families: {x: {encoder: cnn}}\n")
    suggestion = err.hint.split("valid values")[0]
    assert "'td_cnn'" in suggestion and "'ic_cnn'" in suggestion and "'identity'" not in suggestion


# --------------------------------------------------------------------------- keys, nulls, layouts

FIXTURES = ALL_FIXTURES / "original_format"

# file -> ({resolved path: value}, [(code, line) of the diagnostics the mapping must give])
EXPECTED = {
    "older_dataset_layout.yaml": (
        {("families",): {"architecture": {"encoder": "identity", "encoder_params": {}},
                         "summary": {"encoder": "identity", "encoder_params": {}}},
         ("dataset", "val_fraction"): 0.2, ("training", "val_every_n_epochs"): 5},
        [("W304", 4), ("I301", 6), ("I301", 7)]),
    "older_flat_single_family.yaml": (
        {("families", "temporal", "encoder"): "temporal_cnn", ("training", "num_epochs"): 30,
         ("model", "levels"): [{"num_tokens": 16, "latent_dim": 8}, {"num_tokens": 8, "latent_dim": 8}],
         ("dataset", "feature_type"): "aggregated"},
        [("I301", 2), ("W300", 3), ("I301", 4), ("W304", 5), ("I301", 6), ("I301", 9)]),
    "nulls.yaml": (
        {("families",): {"summary": {"encoder": "identity", "encoder_params": {}}},
         ("model", "levels"): [], ("training", "save_every"): 0},
        [("I303", 2), ("I303", 4), ("I303", 6)]),
    "cleaning_parameters.yaml": (
        {("feature_cleaning", "iqr_multiplier"): 3.0, ("feature_cleaning", "mad_threshold"): 5.0,
         ("feature_cleaning", "max_variance_threshold"): 1e8, ("feature_cleaning", "max_cv_threshold"): 50.0},
        []),
    "flattened_cleaning_parameters.yaml": (
        {("feature_cleaning", "outlier_method"): "mad", ("feature_cleaning", "mad_threshold"): 4.0,
         ("feature_cleaning", "max_variance_threshold"): None, ("feature_cleaning", "iqr_multiplier"): 1.5},
        [("I301", 4), ("I301", 5), ("I301", 6)]),
    "encoder_params.yaml": (
        {("families", "initial", "encoder_params", "cnn_embedding_dim"): 8,
         ("families", "summary", "encoder_params", "input_dim"): 360,
         ("families", "temporal", "encoder_params", "input_dim"): 8},
        [("input-dim-mismatch", 8), ("I302", 5)]),
    "encode_manual_true.yaml": ({("families", "initial", "encoder"): "initial_hybrid"},
                                [("W300", 5), ("W300", 6), ("W300", 7)]),
    "no_effect_keys.yaml": ({("model", "levels"): []}, [("W300", 4), ("W300", 5), ("W300", 7)]),
}


def _at(data, path):
    for part in path:
        data = data[part]
    return data


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_original_format_file_compiles_with_its_mapping(name):
    values, diagnostics = EXPECTED[name]
    compiled = compile_spec(FIXTURES / name)
    assert compiled.ok
    for path, value in values.items():
        assert _at(compiled.spec, path) == value, path
    got = sorted((d.code, d.line) for d in compiled.diagnostics if d.code != "learnable-section-unused")
    assert got == sorted(diagnostics), [d.format() for d in compiled.diagnostics]
    assert all(d.file.endswith(name) for d in compiled.diagnostics)


def test_every_fixture_compiles_with_exit_0_on_the_command_line():
    files = sorted(FIXTURES.glob("*.yaml"))
    assert {f.name for f in files} == set(EXPECTED)
    for f in files:
        proc = cli("compile", f)
        assert proc.returncode == 0, (f.name, proc.stderr)


def test_older_layout_warning_names_the_modern_form():
    (w,) = [d for d in resolve(FIXTURES / "older_dataset_layout.yaml").diagnostics if d.code == "W304"]
    assert "families: {architecture: {encoder: identity}, summary: {encoder: identity}}" in w.hint


def test_older_layout_next_to_families_has_no_effect():
    r = resolve("families: {summary: {encoder: identity}}\nfeature_family: temporal\n")
    assert list(r.data["families"]) == ["summary"]
    assert [(d.code, d.line) for d in r.diagnostics] == [("W300", 2)]


def test_bad_older_layout_value_is_a_located_error():
    errs = {e.code: e for e in _error("dataset: {feature_families: [1, summary]}\n")}
    assert sorted(errs) == ["E203", "E205"] and errs["E205"].line == 1
    assert "feature_families" in errs["E205"].message and "families" in errs["E203"].message


def test_input_dim_is_not_passed_to_the_encoder():
    from spinlock_spec.assemble.families import family_inputs
    from spinlock_spec.data.synthetic import generate_synthetic

    compiled = compile_spec(FIXTURES / "encoder_params.yaml")
    data = generate_synthetic(dict(compiled.spec["dataset"]["synthetic"], n_samples=20),
                              list(compiled.spec["families"]))
    params = {f.name: f.encoder_params for f in family_inputs(compiled.graph, data)}
    assert "input_dim" not in params["summary"] and params["summary"]["output_dim"] == 16


# --------------------------------------------------------------------------- cleaning parameters

def _fit(x, **cleaning):
    from spinlock_spec.data.dataset import Dataset
    from spinlock_spec.data.preprocess import fit_preprocessor

    x = np.asarray(x, np.float32)
    ds = Dataset(arrays={"summary": x}, column_names={"summary": [f"c{j}" for j in range(x.shape[1])]},
                 true_groups={}, n_samples=x.shape[0], source="test")
    return fit_preprocessor(ds, cleaning, "standard").families["summary"]


def test_mad_threshold_sets_the_clip_width_in_unscaled_mads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 1))
    med = np.median(x[:, 0])
    mad = np.median(np.abs(x[:, 0] - med))
    for k in (3.0, 5.0):
        stats = _fit(x, outlier_method="mad", mad_threshold=k)
        assert stats.clip_high[0] == pytest.approx(med + k * mad, rel=1e-5)
        assert stats.clip_low[0] == pytest.approx(med - k * mad, rel=1e-5)


def test_iqr_multiplier_sets_the_fences():
    x = np.random.default_rng(1).standard_normal((2000, 1))
    q1, q3 = np.percentile(x[:, 0], [25, 75])
    wide = _fit(x, outlier_method="iqr", iqr_multiplier=3.0)
    assert wide.clip_high[0] == pytest.approx(q3 + 3.0 * (q3 - q1), rel=1e-5)
    default = _fit(x, outlier_method="iqr")
    assert default.clip_high[0] == pytest.approx(q3 + 1.5 * (q3 - q1), rel=1e-5)


def test_extreme_variance_and_cv_drop_a_column_only_together():
    rng = np.random.default_rng(2)
    n = 1000
    z = rng.standard_normal(n)
    z -= z.mean()                                               # mean 0: the coefficient of variation is huge
    x = np.stack([rng.standard_normal(n) + 1.0,                 # ordinary
                  z * 1e6,                                      # variance 1e12 and CV huge -> dropped
                  1e9 + rng.standard_normal(n) * 1e6,           # variance 1e12 but CV 1e-3 -> kept (large scale)
                  z[::-1] * 10.0], axis=1)                      # CV huge, variance 100 -> kept
    assert _fit(x).kept.tolist() == [0, 2, 3]
    assert _fit(x, max_variance_threshold=None).kept.tolist() == [0, 1, 2, 3]
    assert _fit(x, max_cv_threshold=1e30).kept.tolist() == [0, 1, 2, 3]
    assert _fit(x, max_variance_threshold=50.0).kept.tolist() == [0, 2]
