"""Each compatibility rule has a spec that triggers it (and the examples trigger none)."""
from __future__ import annotations

import json

import pytest

from spinlock_spec.compile import compile_spec
from spinlock_spec.compile.rules import RULES

FAM = "families: {initial: {encoder: identity}, summary: {encoder: identity}}\n"
LEARN = "training: {category_assignment: learnable}\n"


def _mapping(tmp_path, content):
    path = tmp_path / "map.json"
    path.write_text(json.dumps(content) if not isinstance(content, str) else content)
    return str(path)


CASES = {
    "learnable-encoder-fallback": lambda t: ("families: {summary: {encoder: static_only_plugin}}\n" + LEARN, []),
    "learnable-hybrid-supported": lambda t: ("families: {initial: {encoder: initial_hybrid}}\n" + LEARN, []),
    "manual-needs-mapping-file": lambda t: (FAM + "training: {category_assignment: manual}\n", []),
    "mapping-file-missing": lambda t: (FAM, ["training.category_assignment=manual",
                                             f"training.category_mapping_file={t / 'nope.json'}"]),
    "mapping-file-invalid": lambda t: (FAM, ["training.category_assignment=manual",
                                             f"training.category_mapping_file={_mapping(t, {'a': [0, 999]})}"]),
    "mapping-file-initialises-learnable": lambda t: (FAM + LEARN, [
        f"training.category_mapping_file={_mapping(t, {'a': [0, 1, 2], 'b': [3, 4, 5]})}"]),
    "mapping-file-ignored": lambda t: (FAM, [f"training.category_mapping_file={_mapping(t, {'a': [0]})}"]),
    "learnable-section-unused": lambda t: (FAM + "learnable_assignment: {balance_weight: 0.2}\n", []),
    "compile-mode-unused": lambda t: (FAM + "training: {compile_mode: max-autotune}\n", []),
    "temperature-rises": lambda t: (FAM + LEARN + "learnable_assignment: {temperature_end: 2.0}\n", []),
    "straight-through-exceeds-epochs": lambda t: (FAM + LEARN, ["learnable_assignment.straight_through_epochs=30",
                                                                "training.num_epochs=20"]),
    "isolated-family-unknown": lambda t: (FAM, ["training.category_assignment_config.isolated_families=[nope]"]),
    "discovery-method-not-implemented": lambda t: (FAM, ["training.category_assignment_config.method=gradient"]),
    "categories-exceed-max-clusters": lambda t: (FAM, ["training.num_categories_auto=30",
                                                       "training.max_clusters=10"]),
    "temporal-encoder-needs-series": lambda t: ("families: {summary: {encoder: PyramidTemporalEncoder}}\n", []),
    "tabular-encoder-needs-table": lambda t: ("families: {temporal: {encoder: identity}}\n", []),
    "encoder-needs-fields": lambda t: ("families: {summary: {encoder: initial_cnn}}\n", []),
    "fields-channels-mismatch": lambda t: ("families: {initial: {encoder: ic_cnn, encoder_params: "
                                           "{in_channels: 3}}}\n", []),
    "manual-dim-mismatch": lambda t: ("families: {initial: {encoder: initial_hybrid, encoder_params: "
                                      "{manual_dim: 14}}}\n", []),
    "input-dim-mismatch": lambda t: ("families: {summary: {encoder: MLPEncoder, encoder_params: "
                                     "{input_dim: 360}}}\n", []),
    "levels-latent-dim-mismatch": lambda t: (FAM + "model: {level_structure: residual, levels: [{num_tokens: 8, "
                                             "latent_dim: 4}, {num_tokens: 4, latent_dim: 2}]}\n", []),
    "levels-parallel-from-latent-dims": lambda t: (FAM + "model: {levels: [{num_tokens: 8, latent_dim: 4}, "
                                                   "{num_tokens: 4, latent_dim: 2}]}\n", []),
    "batch-size-exceeds-data": lambda t: (FAM, ["dataset.synthetic.n_samples=100", "training.batch_size=512"]),
    "no-validation-rows": lambda t: (FAM, ["dataset.synthetic.n_samples=5", "dataset.val_fraction=0.05"]),
    "warmup-exceeds-epochs": lambda t: (FAM, ["training.warmup_epochs=30", "training.num_epochs=20"]),
    "use-ema-unsupported": lambda t: (FAM + "model: {use_ema: false}\n", []),
}


def test_every_rule_has_a_case():
    assert {r.id for r in RULES} == set(CASES)


def test_rules_have_unique_ids_and_text():
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.severity in ("error", "warning", "info") and r.summary and r.hint


def static_only_plugin():
    """A plug-in encoder registered with learnable_compatible=False (no built-in one is)."""
    from spinlock_spec.registry import TABULAR, Entry

    return Entry(name="static_only_plugin", builder="spinlock_spec.nn.encoders:IdentityEncoder",
                 params_schema={"type": "object", "properties": {}, "additionalProperties": False},
                 input_kind=TABULAR, description="test plug-in", out_dim=lambda p, s: (s[-1] if s else None),
                 trainable=False, learnable_compatible=False)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_triggers(rule, tmp_path):
    from spinlock_spec.registry import ENCODERS

    text, overrides = CASES[rule.id](tmp_path)
    if rule.id == "learnable-encoder-fallback":
        with ENCODERS.registered(static_only_plugin()):
            c = compile_spec(text, overrides=overrides)
    else:
        c = compile_spec(text, overrides=overrides)
    hits = [d for d in c.diagnostics if d.code == rule.id]
    assert hits, [d.format() for d in c.diagnostics]
    assert all(d.severity == rule.severity and d.hint and d.pointer is not None for d in hits)
    assert c.ok == (not any(d.severity == "error" for d in c.diagnostics))


def test_compile_mode_with_compile_on_is_silent():
    c = compile_spec(FAM + "training: {use_torch_compile: true, compile_mode: max-autotune}\n")
    assert not [d for d in c.diagnostics if d.code == "compile-mode-unused"]


def test_rule_findings_are_located():
    c = compile_spec("families:\n  summary:\n    encoder: PyramidTemporalEncoder\n")
    d = [d for d in c.diagnostics if d.code == "temporal-encoder-needs-series"][0]
    assert (d.file, d.line, d.col) == ("<text>", 3, 14)
    assert d.pointer == "/families/summary/encoder"


def test_identity_initial_is_compatible_with_learnable():
    c = compile_spec(FAM + LEARN)
    assert c.diagnostics == [] and c.trainer_type == "LearnableVQVAETrainer"


def test_every_rule_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "spec.md").read_text()
    missing = [r.id for r in RULES if f"`{r.id}`" not in doc]
    assert not missing


def test_levels_of_different_latent_dim_compile_to_parallel():
    lv = "levels: [{num_tokens: 16, latent_dim: 32}, {num_tokens: 8, latent_dim: 24}, {num_tokens: 4, latent_dim: 16}]"
    implicit = compile_spec(FAM + "model: {" + lv + "}\n")
    explicit = compile_spec(FAM + "model: {level_structure: parallel, " + lv + "}\n")
    assert implicit.ok and implicit.spec["model"]["level_structure"] == "parallel"
    assert [d.code for d in implicit.diagnostics if d.code.startswith("levels-")] == ["levels-parallel-from-latent-dims"]
    assert not [d for d in explicit.diagnostics if d.code.startswith("levels-")]
    assert implicit.hash == explicit.hash          # the derived setting is part of the spec
    same = compile_spec(FAM + "model: {levels: [{num_tokens: 16, latent_dim: 8}, {num_tokens: 8, latent_dim: 8}]}\n")
    assert same.spec["model"]["level_structure"] == "residual"
    residual = compile_spec(FAM + "model: {level_structure: residual, " + lv + "}\n")
    assert [d.code for d in residual.errors] == ["levels-latent-dim-mismatch"]
