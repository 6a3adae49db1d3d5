"""Schema, validation diagnostics, legacy layout, defaults."""
from __future__ import annotations

from pathlib import Path

import pytest

from spinlock_spec.errors import SpecError
from spinlock_spec.registry import ENCODERS
from spinlock_spec.config import dump_resolved, resolve
from spinlock_spec.config.schema import load_schema, schema_path
from spinlock_spec.config.schema_source import render

FIXTURES = Path(__file__).parent / "fixtures"
MINIMAL = "families:\n  summary:\n    encoder: identity\n"


def _errors(text, overrides=()):
    with pytest.raises(SpecError) as info:
        resolve(text, overrides)
    return [d for d in info.value.diagnostics if d.severity == "error"]


def test_shipped_schema_is_generated_and_valid():
    from jsonschema import Draft202012Validator

    assert schema_path().read_text() == render(), "run: python -m spinlock_spec.config.schema_source"
    Draft202012Validator.check_schema(load_schema())
    assert load_schema()["$schema"].endswith("2020-12/schema")


def _properties(schema, path=""):
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}/{name}", sub
        yield from _properties(sub, f"{path}/{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _properties(extra, f"{path}/*")
    for branch in schema.get("allOf", []):
        yield from _properties(branch.get("then", {}), f"{path}/(then)")


def test_every_property_has_a_description():
    missing = [p for p, sub in _properties(load_schema()) if not sub.get("description")]
    assert not missing


def test_minimal_spec_is_complete():
    r = resolve(MINIMAL)
    assert r.diagnostics == []
    d = r.data
    assert d["dataset"]["path"] is None and d["dataset"]["synthetic"]["n_samples"] == 5000
    assert d["dataset"]["synthetic"]["latents_per_group"] == [2, 4]
    assert d["learnable_assignment"]["temperature_schedule"] == "linear"
    assert d["learnable_assignment"]["straight_through_epochs"] is None      # auto: num_epochs // 6
    assert d["training"]["device"] == "auto" and d["training"]["gradient_clip_norm"] == 1.0
    assert d["families"]["summary"] == {"encoder": "identity", "encoder_params": {}}
    assert r.origin(("training", "batch_size")).kind == "default"
    assert list(d) == ["dataset", "families", "model", "training", "learnable_assignment", "feature_cleaning",
                       "normalization_method", "logging", "random_seed"]


def test_numbers_are_canonical_floats():
    r = resolve(MINIMAL + "training: {learning_rate: 1}\n")
    assert isinstance(r.data["training"]["learning_rate"], float)


def test_typo_is_located_with_did_you_mean():
    errs = _errors(MINIMAL + "learnable_assignment:\n  temperture_start: 2.0\n")
    assert len(errs) == 1
    e = errs[0]
    assert (e.code, e.line, e.col) == ("E200", 5, 3)
    assert "temperature_start" in e.hint and e.pointer == "/learnable_assignment/temperture_start"


def test_misplaced_typo_suggests_the_section():
    e = _errors(MINIMAL + "temperture_start: 2.0\n")[0]
    assert "learnable_assignment.temperature_start" in e.hint


def test_enum_error_lists_valid_values():
    e = _errors(MINIMAL + "learnable_assignment: {temperature_schedule: linaer}\n")[0]
    assert e.code == "E202" and "linear, exponential, cosine" in e.hint and "did you mean 'linear'" in e.hint
    for key, bad in [("training.category_assignment", "learned"), ("normalization_method", "minmax"),
                     ("feature_cleaning.outlier_method", "zscore")]:
        e = _errors(MINIMAL, [f"{key}={bad}"])[0]
        assert e.code == "E202" and "valid values" in e.hint


def test_every_error_is_reported():
    errs = _errors(MINIMAL + "training:\n  batch_size: '64'\n  num_epochs: 0\n  optimiser: adam\n"
                   "model: {levels: [{num_tokens: 1, latent_dim: 4}]}\nbogus: 1\n")
    assert {e.code for e in errs} == {"E201", "E204", "E200"}
    assert len(errs) == 5
    assert all(e.line is not None for e in errs)


def test_encoder_params_checked_against_the_encoder_branch():
    errs = _errors("families:\n  summary:\n    encoder: MLPEncoder\n    encoder_params:\n"
                   "      output_dims: 3\n      activation: swish\n")
    assert [(e.code, e.line) for e in errs] == [("E200", 5), ("E202", 6)]
    assert "output_dim" in errs[0].hint and errs[0].pointer == "/families/summary/encoder_params/output_dims"
    # a param of another encoder is unknown here
    e = _errors("families: {temporal: {encoder: identity, encoder_params: {embedding_dim: 4}}}\n")[0]
    assert e.code == "E200" and "embedding_dim" in e.message


def test_unknown_encoder_suggests_a_name():
    e = _errors("families: {temporal: {encoder: PyramidTemporalEncodr}}\n")[0]
    assert e.code == "E207" and "PyramidTemporalEncoder" in e.hint


def test_aliases_resolve_to_canonical_names():
    for entry in ENCODERS.entries():
        for alias in entry.aliases:
            r = resolve(f"families: {{x: {{encoder: {alias}}}}}\n")
            assert r.data["families"]["x"]["encoder"] == entry.name


def test_missing_families_and_bad_family_name():
    e = _errors("model: {dropout: 0.1}\n")[0]
    assert e.code == "E203" and "families" in e.message
    assert _errors("families: {}\n")[0].code == "E205"
    assert _errors("families: {'a/b': {encoder: identity}}\n")[0].code == "E205"


# --------------------------------------------------------------------------- original layout


def test_reference_yaml_compiles_with_notes():
    r = resolve(FIXTURES / "reference_original.yaml")
    codes = [d.code for d in r.diagnostics]
    assert "E" not in "".join(c[0] for c in codes)
    assert r.data["dataset"]["path"].endswith("datasets/100k_full_features.h5")
    assert r.data["families"]["summary"]["encoder"] == "mlp"
    assert r.data["training"]["category_assignment_config"] == {
        "method": "clustering", "isolated_families": [], "reassign_orphans": True}
    no_effect = {d.pointer for d in r.diagnostics if d.code == "W300"}
    assert "/training/use_smart_reset" in no_effect and "/training/category_assignment_config/device" in no_effect
    assert "use_smart_reset" not in r.data["training"]


def test_learnable_guide_config_compiles():
    r = resolve(FIXTURES / "learnable_guide.yaml")
    assert r.diagnostics == []
    assert r.data["families"]["temporal"]["encoder"] == "pyramid_temporal"
    assert r.data["training"]["category_assignment"] == "learnable"


def test_legacy_names_and_flattened_keys_are_relocated():
    text = ("dataset_path: d.h5\nfeature_type: per_trajectory\nfactors: [{num_tokens: 8, latent_dim: 2}]\n"
            "ema_decay: 0.9\nclean_features: false\ndevice: cpu\nbatch_size: 8\nrandom_seed: 3\n"
            "training: {dropout: 0.2, normalization_method: mad, topo_samples: 64}\n" + MINIMAL)
    r = resolve(text)
    d = r.data
    assert d["dataset"]["feature_type"] == "per_trajectory" and d["model"]["levels"][0]["num_tokens"] == 8
    assert d["model"]["decay"] == 0.9 and d["feature_cleaning"]["enabled"] is False
    assert d["training"]["device"] == "cpu" and d["training"]["batch_size"] == 8
    assert d["model"]["dropout"] == 0.2 and d["normalization_method"] == "mad"
    assert d["training"]["topo_samples"] == 64 and d["random_seed"] == 3
    infos = {d.message.split("'")[1]: d for d in r.diagnostics if d.code == "I301"}
    assert infos["ema_decay"].line == 4 and "model.decay" in infos["ema_decay"].message
    assert r.origin(("model", "decay")).line == 4


def test_no_effect_keys_warn_and_are_dropped():
    r = resolve(MINIMAL + "val_batch_size: 4\nresume_from: x.pt\nlogging: {wandb: true}\n"
                "model: {orthogonality_weight: 0.2, compression_ratios: '0.5:1'}\n")
    warned = {d.pointer: d for d in r.diagnostics if d.severity == "warning"}
    assert set(warned) == {"/val_batch_size", "/resume_from", "/logging/wandb", "/model/orthogonality_weight",
                           "/model/compression_ratios"}
    assert all("no effect" in d.message for d in warned.values())
    assert "val_batch_size" not in r.data


def test_legacy_key_given_twice_is_an_error():
    e = _errors(MINIMAL + "ema_decay: 0.9\nmodel: {decay: 0.8}\n")[0]
    assert e.code == "E206" and e.line == 4


def test_dump_resolved_compiles_again():
    r = resolve(FIXTURES / "reference_original.yaml")
    again = resolve(dump_resolved(r))
    assert again.data == r.data
    assert [d.code for d in again.diagnostics] == [d.code for d in r.diagnostics if d.code == "W301"]
    assert dump_resolved(r).startswith("# yaml-language-server: $schema=")


def test_non_finite_numbers_are_rejected():
    errs = _errors(MINIMAL + "training: {learning_rate: .nan}\nrandom_seed: 1e400\n")
    assert sorted((e.code, e.pointer) for e in errs) == [("E204", "/random_seed"),
                                                         ("E204", "/training/learning_rate")]


def test_integral_floats_become_integers():
    r = resolve(MINIMAL + "training: {batch_size: 1e3}\n")
    assert r.data["training"]["batch_size"] == 1000 and isinstance(r.data["training"]["batch_size"], int)


def test_deep_nesting_is_refused():
    with pytest.raises(SpecError) as info:
        resolve("a: " + "[" * 1200 + "]" * 1200 + "\n")
    assert info.value.diagnostics[0].line == 1
    with pytest.raises(SpecError) as info:
        resolve("a:\n" + "".join(" " * i + "- \n" for i in range(0, 1400, 2)))
    assert info.value.diagnostics[0].code == "E105"
