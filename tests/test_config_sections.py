"""One source of truth: the typed sections take every default and bound from the schema
source, the rest of the program restates none of them, renamed keys keep working."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from spinlock_spec.compile.hashing import spec_hash
from spinlock_spec.config import resolve
from spinlock_spec.config import schema_source as source
from spinlock_spec.config.sections import (LearnableConfig, ModelConfig, PruningConfig, TrainingConfig,
                                           schema_defaults, sections_of)
from spinlock_spec.errors import SpecError
from spinlock_spec.registry import ENCODERS, INPUT_DIM_PARAM

PACKAGE = Path(__file__).resolve().parent.parent / "spinlock_spec"
MINIMAL = "families:\n  summary:\n    encoder: identity\n"
# keys too generic to grep for (``torch.autocast(..., enabled=False)`` is no pruning default)
GENERIC = {"enabled"}
OFF_WHEN_ZERO = {"save_every", "early_stopping_patience", "dead_code_reset_interval"}


def _scalar_defaults(section: dict) -> dict:
    return {k: v for k, v in schema_defaults(section).items() if not isinstance(v, dict) or not v}


@pytest.mark.parametrize("cls,section", [(ModelConfig, source.MODEL), (LearnableConfig, source.LEARNABLE),
                                         (PruningConfig, source.LEARNABLE["properties"]["pruning"]),
                                         (TrainingConfig, source.TRAINING)])
def test_empty_section_is_exactly_the_schema_defaults(cls, section):
    built = cls.from_dict({}).to_dict()
    for key, default in _scalar_defaults(section).items():
        if cls is TrainingConfig and key in OFF_WHEN_ZERO:
            assert built[key] == (default or None), key          # 0 = off is read as None
        else:
            assert built[key] == default and type(built[key]) is type(default), key
    if cls is LearnableConfig:
        assert built["pruning"] == schema_defaults(section["properties"]["pruning"])


def test_resolved_spec_and_empty_dict_give_the_same_sections():
    resolved = sections_of(resolve(MINIMAL).data)
    assert resolved["model"] == ModelConfig.from_dict({})
    assert resolved["learnable_assignment"] == LearnableConfig.from_dict({})
    assert resolved["training"] == TrainingConfig.from_dict({}, random_seed=42)


def _default_literals(value) -> list[str]:
    if isinstance(value, bool):
        return ["True", "False"][:1] if value else ["False"]
    if isinstance(value, (int, float)):
        text = {repr(value), repr(float(value))}
        if isinstance(value, float) and value.is_integer():
            text.add(str(int(value)))
        if value and abs(value) < 0.01:
            text.add(f"{value:g}")
        return sorted(text)
    if isinstance(value, str):
        return [f'"{value}"', f"'{value}'"]
    return []


@pytest.mark.parametrize("section", ["MODEL", "TRAINING", "LEARNABLE"])
def test_nn_train_data_restate_no_schema_default(section):
    """A key of the model, training or learnable section is never given a literal default
    (``key=32``, ``key: int = 32``, ``.get("key", 32)``) outside the schema source."""
    defaults = _scalar_defaults(getattr(source, section))
    if section == "LEARNABLE":
        defaults.update(_scalar_defaults(source.LEARNABLE["properties"]["pruning"]))
    sources = {p: p.read_text() for d in ("nn", "train", "data", "assemble") for p in (PACKAGE / d).glob("*.py")}
    found = []
    for key, default in defaults.items():
        for lit in _default_literals(default) if key not in GENERIC else ():
            pattern = re.compile(rf"(\b{key}\s*(:\s*[\w\[\]| .]+)?\s*=\s*|\.get\(\s*[\"']{key}[\"']\s*,\s*)"
                                 rf"{re.escape(lit)}(?![\w.])")
            found += [f"{p.relative_to(PACKAGE)}: {m.group(0)}" for p, text in sources.items()
                      for m in pattern.finditer(text)]
    assert not found, found


def test_bounds_come_from_the_schema():
    with pytest.raises(SpecError, match="learning_rate"):
        TrainingConfig.from_dict({"learning_rate": 0.0})
    with pytest.raises(SpecError, match="kmeans, random"):
        ModelConfig.from_dict({"codebook_init": "uniform"})
    with pytest.raises(SpecError, match="credit_mask_probability"):
        LearnableConfig.from_dict({"credit_mask_probability": 1.0})
    assert ModelConfig.from_dict({"dropout": None}).dropout == source.MODEL["properties"]["dropout"]["default"]


@pytest.mark.parametrize("old,new,value,expected", [
    ("model:\n  uniform_codebook_init: false\n", ("model", "codebook_init"), "random", "random"),
    ("model:\n  uniform_codebook_init: true\n", ("model", "codebook_init"), "kmeans", "kmeans"),
    ("learnable_assignment:\n  credit_mask: 0.4\n", ("learnable_assignment", "credit_mask_probability"), 0.4, 0.4),
])
def test_renamed_keys_still_work_with_a_warning_and_the_same_hash(old, new, value, expected):
    legacy = resolve(MINIMAL + old)
    assert legacy.data[new[0]][new[1]] == expected
    assert old.split("\n")[1].split(":")[0].strip() not in legacy.data[new[0]]
    warnings = [d for d in legacy.diagnostics if d.code == "W303"]
    assert len(warnings) == 1 and ".".join(new) in warnings[0].message
    assert warnings[0].line == 5                              # located at the old key (line 5)
    current = resolve(MINIMAL + f"{new[0]}:\n  {new[1]}: {value}\n")
    assert not [d for d in current.diagnostics if d.code == "W303"]
    assert spec_hash(current.data) == spec_hash(legacy.data)


def test_hash_of_the_default_spec_names_the_old_keys():
    """The hash is computed with renamed keys under their old names, so the hashes of specs
    written before a rename (zoo weights are verified against them) do not change."""
    import hashlib
    import json

    data = resolve(MINIMAL).data
    old = json.loads(json.dumps(data))
    old["model"]["uniform_codebook_init"] = old["model"].pop("codebook_init") == "kmeans"
    la = old["learnable_assignment"]
    la["credit_mask"] = la.pop("credit_mask_probability")
    from spinlock_spec.compile.hashing import canonical_json

    assert spec_hash(data) == hashlib.sha256(canonical_json(old).encode()).hexdigest()


def test_old_and_new_name_together_is_an_error():
    with pytest.raises(SpecError) as info:
        resolve(MINIMAL + "model:\n  uniform_codebook_init: true\n  codebook_init: random\n")
    assert any(d.code == "E206" and "model.codebook_init" in d.message for d in info.value.diagnostics)


def test_old_checkpoint_model_config_is_read_under_the_new_names():
    assert ModelConfig.from_dict({"uniform_codebook_init": False}).codebook_init == "random"
    assert LearnableConfig.from_dict({"credit_mask": 0.1}).credit_mask_probability == 0.1


def test_effective_assignment_lr_is_the_configured_rate_times_the_visible_unit():
    assert LearnableConfig.from_dict({"assignment_lr": 0.002}).effective_assignment_lr == pytest.approx(2.0)


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_params_are_declared_once(name):
    """Constructors carry no defaults; the registry declaration gives them all, and the
    declared out_dim matches the built module's width."""
    entry = ENCODERS.get(name)
    sig = inspect.signature(entry.load_builder())
    params = [p for p in sig.parameters.values() if p.name not in ("self", "input_shape", "fields_shape")]
    assert all(p.default is inspect.Parameter.empty for p in params), name
    # input_dim: the original format's field, accepted by every encoder and never passed on
    assert {p.name for p in params} == set(entry.params_schema["properties"]) - {INPUT_DIM_PARAM}
    shapes = {"tabular": ((6,), None), "temporal": ((16, 3), None), "fields": ((2, 8, 8), (2, 8, 8)),
              "hybrid": ((4,), (2, 8, 8))}[entry.input_kind]
    enc = entry.build(*shapes)
    shape = shapes[1] if entry.input_kind == "fields" else shapes[0]
    assert enc.out_dim == entry.out_dim(entry.params(), shape)
