"""Loading: positions, refused tags, duplicate keys, extends, --set, provenance."""
from __future__ import annotations

import os

import pytest

from spinlock_spec.errors import SpecError
from spinlock_spec.config import load_spec, resolve
from spinlock_spec.config.safe_yaml import parse_yaml

MINIMAL = "families:\n  summary:\n    encoder: identity\n"


def _errors(fn, *args, **kw):
    with pytest.raises(SpecError) as info:
        fn(*args, **kw)
    return info.value.diagnostics


def test_positions_of_keys_and_values():
    data, pos = parse_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": "x"}}
    assert (pos.values[("a", "b", 1)].line, pos.values[("a", "b", 1)].col) == (2, 10)
    assert (pos.keys[("a", "c")].line, pos.keys[("a", "c")].col) == (3, 3)
    assert str(pos.values[("a", "c")]) == "f.yaml:3:6"


def test_yaml_12_scalars():
    data, _ = parse_yaml("lr: 1e-3\nflag: yes\nn: 0x10\nz: ~\nt: True\ns: '1'\n", "f.yaml")
    assert data == {"lr": 0.001, "flag": "yes", "n": 16, "z": None, "t": True, "s": "1"}


def test_python_tag_refused_and_never_executed(tmp_path):
    marker = tmp_path / "x"
    text = f'families: !!python/object/apply:os.system ["touch {marker}"]\n'
    diags = _errors(parse_yaml, text, "evil.yaml")
    assert diags[0].code == "E102" and (diags[0].line, diags[0].col) == (1, 11)
    assert "python/object/apply" in diags[0].message
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["!foo 1", "!!binary aGk=", "!!set {a}", "!!python/name:os.system ''",
                                 "!!omap [a: 1]"])
def test_other_tags_refused(tag):
    diags = _errors(parse_yaml, f"a: {tag}\n", "f.yaml")
    assert [d.code for d in diags] == ["E102"]


def test_all_tag_and_duplicate_problems_reported_together():
    diags = _errors(parse_yaml, "a: !foo 1\nb: !bar 2\na: 3\n", "f.yaml")
    assert [(d.code, d.line) for d in diags] == [("E102", 1), ("E102", 2), ("E101", 3)]
    assert "first at line 1" in diags[2].message


def test_syntax_error_is_located():
    diags = _errors(parse_yaml, "a:\n  b: [1, 2\n", "f.yaml")
    assert diags[0].code == "E100" and diags[0].line is not None


def test_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    diags = _errors(parse_yaml, "\n".join(lines) + "\n", "bomb.yaml")
    assert diags[0].code == "E105"


def test_merge_keys_keep_positions():
    data, pos = parse_yaml("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert data["d"] == {"x": 1, "y": 3}
    assert pos.values[("d", "x")].line == 1


@pytest.mark.parametrize("content,code", [(b"", "E203"), (b"\x00\x01\x02binary", "E103"),
                                          (b"\xff\xfe\xfa", "E103"), (b"- 1\n- 2\n", "E104"),
                                          (b"just a string", "E104")])
def test_bad_files_give_located_errors(tmp_path, content, code):
    spec = tmp_path / "s.yaml"
    spec.write_bytes(content)
    diags = _errors(resolve, spec)
    assert diags[0].code == code
    assert diags[0].file and diags[0].file.endswith("s.yaml")


def test_missing_file_and_directory(tmp_path):
    assert _errors(resolve, tmp_path / "nope.yaml")[0].code == "E103"
    assert _errors(resolve, tmp_path)[0].code == "E103"


# --------------------------------------------------------------------------- extends


def _write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_extends_merges_maps_and_replaces_lists(tmp_path):
    _write(tmp_path, "base/base.yaml", MINIMAL + "model:\n  levels: [{num_tokens: 8, latent_dim: 4},"
           " {num_tokens: 4, latent_dim: 4}]\n  dropout: 0.2\ntraining: {batch_size: 32, num_epochs: 3}\n")
    child = _write(tmp_path, "child.yaml", "extends: base/base.yaml\nmodel:\n  levels: [{num_tokens: 16, "
                   "latent_dim: 4}]\ntraining: {batch_size: 64}\n")
    r = resolve(child)
    assert r.data["model"]["levels"] == [{"num_tokens": 16, "latent_dim": 4}]
    assert r.data["model"]["dropout"] == 0.2
    assert r.data["training"]["batch_size"] == 64 and r.data["training"]["num_epochs"] == 3
    origin = r.origin(("training", "num_epochs"))
    assert origin.file.endswith("base.yaml") and origin.line == 7
    assert origin.chain[0].endswith("child.yaml")
    assert r.origin(("training", "batch_size")).file.endswith("child.yaml")
    assert r.origin(("training", "learning_rate")).kind == "default"
    assert len(r.files) == 2


def test_error_in_base_carries_the_chain(tmp_path):
    _write(tmp_path, "base.yaml", MINIMAL + "training: {batch_sise: 3}\n")
    child = _write(tmp_path, "child.yaml", "extends: base.yaml\n")
    diags = _errors(resolve, child)
    assert diags[0].file.endswith("base.yaml") and diags[0].line == 4
    assert diags[0].chain and diags[0].chain[0].endswith("child.yaml")
    assert "via" in diags[0].format()


def test_extends_cycle_detected(tmp_path):
    _write(tmp_path, "a.yaml", "extends: b.yaml\n" + MINIMAL)
    _write(tmp_path, "b.yaml", "extends: a.yaml\n")
    diags = _errors(resolve, tmp_path / "a.yaml")
    assert diags[0].code == "E107" and "cycle" in diags[0].message


def test_extends_missing_base_is_located(tmp_path):
    child = _write(tmp_path, "c.yaml", MINIMAL + "extends: nothere.yaml\n")
    d = _errors(resolve, child)[0]
    assert d.code == "E103" and d.line == 4


def test_extends_zoo_without_a_resolver_is_located(tmp_path):
    child = _write(tmp_path, "c.yaml", "families: {}\nextends: zoo:tiny\n")
    d = _errors(resolve, child)[0]
    assert d.code == "E111" and "without a zoo resolver" in d.message and d.line == 2


def test_extends_zoo_resolves_through_the_callback(tmp_path):
    base = _write(tmp_path, "zoo_entry.yaml", MINIMAL + "training: {batch_size: 16}\n")
    asked = []

    def resolver(ref):
        asked.append(ref)
        if ref != "zoo:tiny":
            raise KeyError(ref)
        return base

    child = _write(tmp_path, "c.yaml", "extends: zoo:tiny\ntraining: {num_epochs: 2}\n")
    r = resolve(child, resolve_ref=resolver)
    assert r.data["training"]["batch_size"] == 16 and r.data["training"]["num_epochs"] == 2
    assert asked == ["zoo:tiny"]
    d = _errors(lambda spec: resolve(spec, resolve_ref=resolver), "extends: zoo:other\n")[0]
    assert d.code == "E111" and "zoo:other" in d.message


# --------------------------------------------------------------------------- --set


def test_set_overrides_parse_yaml_values():
    r = resolve(MINIMAL, ["training.batch_size=64", "model.levels=[{num_tokens: 8, latent_dim: 4}]",
                          "dataset.synthetic.variable_length=true"])
    assert r.data["training"]["batch_size"] == 64
    assert r.data["model"]["levels"] == [{"num_tokens": 8, "latent_dim": 4}]
    assert r.data["dataset"]["synthetic"]["variable_length"] is True
    assert str(r.origin(("training", "batch_size"))) == "--set training.batch_size=64"


def test_set_errors_are_reported_with_the_option():
    d = _errors(resolve, MINIMAL, ["training.batch_size=abc"])[0]
    assert d.file == "--set training.batch_size=abc" and d.code == "E201"
    assert _errors(resolve, MINIMAL, ["novalue"])[0].code == "E108"
    assert _errors(resolve, MINIMAL, ["a..b=1"])[0].code == "E108"
    assert _errors(resolve, MINIMAL, ["x=!!python/object:os.system 1"])[0].code == "E102"
    assert _errors(resolve, MINIMAL, ["extends=other.yaml"])[0].code == "E108"


def test_set_into_list_items():
    text = MINIMAL + "model:\n  levels: [{num_tokens: 8, latent_dim: 4}, {num_tokens: 4, latent_dim: 4}]\n"
    r = resolve(text, ["model.levels.1.num_tokens=6"])
    assert r.data["model"]["levels"][1]["num_tokens"] == 6
    assert _errors(resolve, text, ["model.levels.5.num_tokens=6"])[0].code == "E108"


def test_load_spec_text_versus_path(tmp_path):
    path = _write(tmp_path, "s.yaml", MINIMAL)
    assert load_spec(str(path)).source.endswith("s.yaml")
    assert load_spec(MINIMAL).source == "<text>"
    assert load_spec({"families": {"s": {"encoder": "identity"}}}).source == "<dict>"
    assert os.path.isabs(resolve(MINIMAL, ["dataset.path=data.h5"]).data["dataset"]["path"])
