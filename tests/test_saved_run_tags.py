"""Saved run configs of the original tool (yaml.dump of Python objects) are read as data.

The fixtures in tests/fixtures/saved_runs/ are real ``yaml.dump`` output (PyYAML 6, numpy 2,
Python 3.11; the *_numpy1 file is the same run as numpy 1.x / Python 3.13 spell it)."""
from __future__ import annotations

import math
import sys

import numpy  # noqa: F401 - imported up front so the sys.modules check below sees only new imports
import pytest
from helpers import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from spinlock_spec.compile import compile_spec
from spinlock_spec.config import resolve
from spinlock_spec.config.safe_yaml import parse_yaml
from spinlock_spec.errors import SpecError

SAVED = FIXTURES / "saved_runs"


def _errors(text: str, name: str = "f.yaml"):
    with pytest.raises(SpecError) as info:
        parse_yaml(text, name)
    return info.value.diagnostics


def test_saved_run_config_compiles_with_decoded_values():
    compiled = compile_spec(SAVED / "saved_run_config.yaml")
    spec = compiled.spec
    assert spec["dataset"]["path"].endswith("saved_runs/datasets/100k_full_features.h5")
    assert spec["training"]["batch_size"] == 1024 and type(spec["training"]["batch_size"]) is int
    assert spec["training"]["max_clusters"] == 25
    assert spec["training"]["use_torch_compile"] is True
    assert spec["training"]["learning_rate"] == 0.001
    # a float32 keeps its float32 value (what the original trained with)
    assert spec["model"]["commitment_cost"] == float(numpy.float32(0.35)) != 0.35
    assert spec["feature_cleaning"]["percentile_range"] == [0.5, 99.5]
    assert spec["families"]["summary"]["encoder_params"]["hidden_dims"] == [512, 256]
    assert spec["families"]["summary"]["encoder_params"]["output_dim"] == 128


def test_every_decoded_tag_is_an_located_info():
    text = (SAVED / "saved_run_config.yaml").read_text()
    resolved = resolve(SAVED / "saved_run_config.yaml")
    infos = [d for d in resolved.diagnostics if d.code == "I102"]
    tagged_lines = [i + 1 for i, line in enumerate(text.splitlines())
                    if "!!python/object/apply:pathlib" in line or "multiarray.scalar" in line
                    or (line.rstrip().endswith("!!python/tuple") and "state:" not in line)]
    assert sorted(d.line for d in infos) == tagged_lines
    assert all(d.severity == "info" and d.file.endswith("saved_run_config.yaml") for d in infos)
    paths = [d for d in infos if "PosixPath" in d.message]
    assert [d.pointer for d in paths] == ["/dataset_path", "/training/checkpoint_dir"]
    assert "'/home/researcher/spinlock/checkpoints/production/run1'" in paths[1].message


def test_numpy1_and_python313_spellings_give_the_same_spec():
    a = compile_spec(SAVED / "saved_run_config.yaml")
    b = compile_spec(SAVED / "saved_run_config_numpy1.yaml")
    assert "numpy.core.multiarray.scalar" in (SAVED / "saved_run_config_numpy1.yaml").read_text()
    assert a.hash == b.hash


def test_absolute_path_tuple_and_byte_orders():
    text = ("p: !!python/object/apply:pathlib.PosixPath\n- /\n- data\n- x.h5\n"
            "t: !!python/tuple [1, !!python/tuple [2, 3]]\n"
            "big: !!python/object/apply:numpy.core.multiarray.scalar\n"
            "- !!python/object/apply:numpy.dtype\n  args: [i4, false, true]\n"
            "  state: !!python/tuple [3, '>', null, null, null, -1, -1, 0]\n"
            "- !!binary AAABAA==\n"
            "flag: !!python/object/apply:numpy.core.multiarray.scalar\n"
            "- !!python/object/apply:numpy.dtype {args: [b1, false, true], state: !!python/tuple [3, '|']}\n"
            "- !!binary AA==\n")
    data, pos = parse_yaml(text, "f.yaml")
    assert data == {"p": "/data/x.h5", "t": [1, [2, 3]], "big": 256, "flag": False}
    assert [(n.code, n.line) for n in pos.notes] == [("I102", 1), ("I102", 5), ("I102", 5), ("I102", 6),
                                                    ("I102", 11)]


@pytest.mark.parametrize("payload, where", [
    ("!!python/object/apply:os.system ['touch /tmp/x']", 1),
    ("!!python/object/apply:pathlib.WindowsPath [C:, x]", 1),
    ("!!python/object/new:pathlib.PosixPath [a]", 1),
    ("!!python/name:pathlib.PosixPath ''", 1),
    ("!!python/object/apply:numpy.dtype {args: [f8, false, true]}", 1),        # a dtype is not a value
    ("!!python/object/apply:pathlib.PosixPath {args: [a], state: {x: 1}}", 1),
    ("!!python/object/apply:pathlib.PosixPath [[a, b]]", 1),
    ("!!python/object/apply:numpy.core.multiarray.scalar\n"
     "- !!python/object/apply:numpy.dtype {args: ['O', false, true]}\n- !!binary AAAAAAAAAAA=", 2),
    ("!!python/object/apply:numpy.core.multiarray.scalar\n"
     "- !!python/object/apply:numpy.dtype {args: [f8, false, true]}\n- !!binary AAAA", 3),   # 3 bytes
    ("!!python/object/apply:numpy.core.multiarray.scalar\n"
     "- !!python/object/apply:os.system {args: [f8]}\n- !!binary AAAAAAAAAAA=", 2),
    ("!!python/object/apply:numpy.core.multiarray.scalar\n"
     "- !!python/object/apply:numpy.dtype {args: [f8], state: !!python/tuple [3, 'x']}\n"
     "- !!binary AAAAAAAAAAA=", 2),
    ("!!python/object/apply:numpy.core.multiarray.scalar\n"
     "- !!python/object/apply:numpy.dtype {args: [f8]}\n- '\\0\\0\\0\\0\\0\\0\\0\\0'", 3),   # not !!binary
    ("!!python/tuple {a: 1}", 1),
])
def test_other_tags_and_malformed_payloads_are_located_errors(payload, where):
    diags = _errors(f"v: {payload}\n")
    assert diags and all(d.code == "E102" for d in diags)
    assert diags[0].line == where and diags[0].col is not None and diags[0].file == "f.yaml"


# --------------------------------------------------------------------------- property

_TAG_CHARS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-", min_size=1,
                     max_size=30)
_KNOWN = ["python/object/apply:pathlib.PosixPath", "python/object/apply:pathlib._local.PosixPath",
          "python/object/apply:numpy.core.multiarray.scalar", "python/object/apply:numpy._core.multiarray.scalar",
          "python/object/apply:numpy.dtype", "python/tuple", "binary", "python/object/apply:",
          "python/object/new:", "python/name:", "python/module:", "set", "omap"]
tags = st.one_of(st.sampled_from(_KNOWN), st.builds(lambda a, b: a + b, st.sampled_from(_KNOWN), _TAG_CHARS),
                 _TAG_CHARS.map(lambda s: "python/object/apply:spinlock_canary_" + s.replace("/", "_")))


def _tagged(tag: str, body: str) -> str:
    return f"!!{tag} {body}"


scalars = st.one_of(st.sampled_from(["a", "'x y'", "1", "-2", "3.5", "null", "true", "/", "f8", "b1", "'<'",
                                     "'|'", "O", "i8", "AAAAAAAAAAA=", "AQ==", "'not base64!'", "''"]),
                    st.integers(-10**6, 10**6).map(str))
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.sampled_from(["args", "state", "x", "listitems"]), inner, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"),
        st.tuples(tags, inner).map(lambda t: _tagged(*t)),
    ),
    max_leaves=12,
)


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


@settings(max_examples=200, deadline=None)
@given(tag=tags, payload=payloads)
def test_any_tag_and_payload_is_plain_data_or_a_located_error(tag, payload):
    before = set(sys.modules)
    text = f"a: 1\nv: {_tagged(tag, payload)}\n"
    try:
        data, _ = parse_yaml(text, "f.yaml")
    except SpecError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.severity == "error" and d.file == "f.yaml" and d.line is not None, d.format()
    else:
        assert _plain(data) and data["a"] == 1
        if isinstance(data["v"], float) and not math.isfinite(data["v"]):
            pass   # a NaN/inf is data too; validation reports it where a number is expected
    assert set(sys.modules) == before, set(sys.modules) - before   # nothing imported by name
