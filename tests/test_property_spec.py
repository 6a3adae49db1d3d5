"""Property tests (hypothesis; profile from SPINLOCK_HYPOTHESIS_PROFILE, see conftest.py).

(a) any spec drawn from the schema compiles, twice to the same hash and graph
(b) dump -> load keeps the hash
(c) diff(a, a) is empty; diff(b, a) is diff(a, b) reversed
(d) a random mutation is accepted or rejected with a located error, never an exception
(e) --set k=v equals editing the file
"""
from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinlock_spec.compile import compile_spec, diff_specs
from spinlock_spec.errors import SpecError
from spinlock_spec.registry import ENCODERS
from spinlock_spec.config import dump_resolved
from spinlock_spec.config.schema import load_schema

SCHEMA = load_schema()
SKIP = {"path", "category_mapping_file", "extends", "families"}   # no files; families drawn apart
SECTIONS = ("dataset", "model", "training", "learnable_assignment", "feature_cleaning", "logging")
FAMILY_NAMES = ("summary", "temporal", "initial", "architecture", "extra")


def _bounds(schema):
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    return lo, hi


def value_strategy(schema, name=""):
    """A strategy of valid values for one schema property."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", "string")
    types = types if isinstance(types, list) else [types]
    options = [_typed(t, schema, name) for t in types]
    return st.one_of(*options) if len(options) > 1 else options[0]


def _typed(kind, schema, name):
    lo, hi = _bounds(schema)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = int(lo if lo is not None else -5) + (1 if "exclusiveMinimum" in schema else 0)
        return st.integers(min_value=low, max_value=int(hi) if hi is not None else low + 300)
    if kind == "number":
        low = float(lo) if lo is not None else -10.0
        return st.floats(min_value=low, max_value=float(hi) if hi is not None else low + 100.0,
                         exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema,
                         allow_nan=False, allow_infinity=False)
    if kind == "string":
        if name == "compression_ratios":
            return st.sampled_from(["auto", "0.5:1:1.5", "1:2"])
        if name == "architecture":
            return st.integers(1, 4).map(lambda n: f"resnet1d_{n}")
        return st.sampled_from(["aggregated", "per_trajectory"])
    if kind == "array":
        if name == "levels":
            return st.integers(1, 16).flatmap(lambda d: st.lists(
                st.builds(lambda n: {"num_tokens": n, "latent_dim": d}, st.integers(2, 64)), max_size=3))
        if name in ("latents_per_group", "percentile_range"):
            item = _typed(schema["items"]["type"], schema["items"], "")
            return st.tuples(item, item).map(sorted)
        if name == "isolated_families":
            return st.just([])
        return st.lists(st.integers(1, 64), min_size=1, max_size=3)
    if kind == "object":
        return object_strategy(schema)
    raise AssertionError(kind)


def object_strategy(schema):
    props = {k: value_strategy(v, k) for k, v in schema.get("properties", {}).items() if k not in SKIP}
    return st.fixed_dictionaries({}, optional=props)


def family_strategy():
    def for_entry(entry):
        names = st.sampled_from([entry.name, *entry.aliases])
        params = object_strategy(entry.params_schema)
        return st.fixed_dictionaries({"encoder": names}, optional={"encoder_params": params})
    return st.sampled_from(ENCODERS.entries()).flatmap(for_entry)


def spec_strategy():
    sections = {k: value_strategy(SCHEMA["properties"][k], k) for k in SECTIONS}
    sections["normalization_method"] = value_strategy(SCHEMA["properties"]["normalization_method"])
    sections["random_seed"] = st.integers(0, 2**31 - 1)
    families = st.dictionaries(st.sampled_from(FAMILY_NAMES), family_strategy(), min_size=1, max_size=3)
    return st.fixed_dictionaries({"families": families}, optional=sections)


def to_yaml(data) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def _graph_data(compiled):
    import networkx as nx

    return json.dumps(nx.node_link_data(compiled.graph, edges="links"), sort_keys=True, default=str)


FAST = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(spec_strategy())
def test_a_drawn_specs_compile_deterministically(spec):
    text = to_yaml(spec)
    first, second = compile_spec(text), compile_spec(text)
    assert first.hash == second.hash
    assert _graph_data(first) == _graph_data(second)


@FAST
@given(spec_strategy())
def test_b_dump_load_keeps_the_hash(spec):
    compiled = compile_spec(spec)
    again = compile_spec(dump_resolved(compiled.resolved))
    assert again.hash == compiled.hash and again.spec == compiled.spec


@FAST
@given(spec_strategy(), spec_strategy())
def test_c_diff_identity_and_antisymmetry(a, b):
    ca, cb = compile_spec(a), compile_spec(b)
    assert diff_specs(ca, ca).same
    assert diff_specs(cb, ca).to_dict() == diff_specs(ca, cb).reversed().to_dict()
    assert diff_specs(ca, cb).same == (ca.hash == cb.hash)


# --------------------------------------------------------------------------- (d) mutations


def _paths(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield path + (k,)
            yield from _paths(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield path + (i,)
            yield from _paths(v, path + (i,))


def _parent(data, path):
    for p in path[:-1]:
        data = data[p]
    return data


@st.composite
def mutated(draw):
    spec = draw(spec_strategy())
    kind = draw(st.sampled_from(["wrong_type", "unknown_key", "misspelt_key", "missing_required", "bad_enum",
                                 "broken_yaml", "unsafe_tag"]))
    paths = list(_paths(spec))
    path = draw(st.sampled_from(paths))
    parent = _parent(spec, path)
    if kind == "wrong_type":
        parent[path[-1]] = draw(st.sampled_from(["text", [1, "x"], {"k": 1}, 3.5, True, None]))
    elif kind == "unknown_key" and isinstance(parent, dict):
        parent[draw(st.sampled_from(["bogus", "temperture_start", "batchsize", "x_1"]))] = 1
    elif kind == "misspelt_key" and isinstance(parent, dict):
        key = path[-1]
        i = draw(st.integers(0, max(len(key) - 1, 0)))
        parent[key[:i] + key[i + 1:] + "z"] = parent.pop(key)
    elif kind == "missing_required":
        if draw(st.booleans()):
            spec.pop("families")
        else:
            fam = next(iter(spec["families"].values()))
            fam.pop("encoder")
    elif kind == "bad_enum":
        parent[path[-1]] = draw(st.sampled_from(["linaer", "learned", "minmax", "adamm", "Identity"]))
    text = to_yaml(spec)
    if kind == "broken_yaml":
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(["[", "{", ": :", "\t", "'", "- a\nb: [", "&x *y"])) + text[pos:]
    elif kind == "unsafe_tag":
        text += "logging: !!python/object/apply:os.system ['echo pwned']\n"
    return text


@FAST
@given(mutated())
def test_d_mutations_are_accepted_or_located(text):
    try:
        compiled = compile_spec(text)
    except SpecError as exc:
        assert exc.diagnostics, exc
        for d in exc.diagnostics:
            if d.severity == "error":
                assert d.file == "<text>", d.format()
                assert d.line is not None and d.col is not None, d.format()
                assert d.pointer is not None
        return
    assert compiled.hash


# --------------------------------------------------------------------------- (e) --set


def _settable():
    out = []
    for section in SECTIONS:
        for key, sub in SCHEMA["properties"][section]["properties"].items():
            if key not in SKIP and sub.get("type") != "object":
                out.append(((section, key), sub))
    return out


@FAST
@given(spec_strategy(), st.sampled_from(_settable()).flatmap(
    lambda ps: st.tuples(st.just(ps[0]), value_strategy(ps[1], ps[0][-1]))))
def test_e_set_equals_editing_the_file(spec, change):
    path, value = change
    via_set = compile_spec(to_yaml(spec), overrides=[f"{'.'.join(path)}={json.dumps(value)}"])
    section = spec.get(path[0])
    if not isinstance(section, dict):
        spec[path[0]] = section = {}
    section[path[1]] = value
    edited = compile_spec(to_yaml(spec))
    assert via_set.hash == edited.hash
