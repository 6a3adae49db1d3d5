"""The index format: the bundled zoo, validation, references, maintainer writes."""
from __future__ import annotations

import copy
import json

import pytest

from spinlock_spec.errors import ZooError
from spinlock_spec.resources import zoo_dir
from spinlock_spec.zoo import add_entry_files, load_index, parse_ref, rebuild_index
from spinlock_spec.zoo.index import parse_index
from spinlock_spec.zoo.names import file_name_problem, newest, version_key
from test_zoo_support import SPEC_TEXT, sha, simple_entry, write_registry

BUNDLED = {"learnable_simple_test", "learnable_vqvae_variable_length", "learnable_assignment",
           "static_baseline", "production_four_family"}


def test_bundled_index_is_valid_and_matches_its_files():
    index = load_index(zoo_dir())
    assert BUNDLED <= set(index.names())
    for entry in index.entries:
        folder = zoo_dir() / entry.name / entry.version
        for f in entry.files:
            data = (folder / f.path).read_bytes()
            assert len(data) == f.size and sha(data) == f.sha256, f"{entry.ref}/{f.path}: rerun build"
        assert entry.files_with_role("spec")[0].path == entry.spec
    prod = index.get("production_four_family")
    assert prod.needs_dataset and not prod.has_weights
    text = (zoo_dir() / prod.name / prod.version / prod.spec).read_text()
    assert "dataset_path:" in text and "initial_hybrid" in text and "MLPEncoder" in text
    assert "TemporalCNNEncoder" in text and "architecture:" in text
    assert not index.get("static_baseline").needs_dataset


def test_bundled_specs_resolve_with_the_spec_layer():
    spec = pytest.importorskip("spinlock_spec.config")
    index = load_index(zoo_dir())
    for entry in index.entries:
        spec.resolve(zoo_dir() / entry.name / entry.version / entry.spec)


def _valid_index() -> dict:
    record, _ = simple_entry("a", "1.0.0", weights=b"w")
    return {"format": "spinlock-spec-zoo", "format_version": 1, "entries": [record]}


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.pop("entries"), "'entries' is a required property"),
    (lambda d: d.update(format_version=2), "format_version"),
    (lambda d: d["entries"][0].pop("license"), "'license' is a required property"),
    (lambda d: d["entries"][0]["files"][0].update(sha256="XYZ"), "/entries/0/files/0/sha256"),
    (lambda d: d["entries"][0]["files"][0].update(size=-1), "/entries/0/files/0/size"),
    (lambda d: d["entries"][0]["files"][1].update(role="pickle"), "/entries/0/files/1/role"),
    (lambda d: d["entries"][0].update(name="Bad Name"), "/entries/0/name"),
    (lambda d: d["entries"][0].update(version="latest"), "/entries/0/version"),
    (lambda d: d["entries"][0].update(needs_dataset="no"), "/entries/0/needs_dataset"),
    (lambda d: d["entries"][0]["metrics"].update(quality=1.5), "/entries/0/metrics/quality"),
    (lambda d: d["entries"][0].update(surprise=1), "surprise"),
    (lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])), "listed twice"),
    (lambda d: d["entries"][0]["files"][1].update(role="spec"), "exactly one file with role 'spec'"),
    (lambda d: d["entries"][0].update(spec="other.yaml"), "the spec file is"),
    (lambda d: d["entries"][0]["files"].append(dict(d["entries"][0]["files"][0])), "listed twice"),
    (lambda d: d["entries"][0]["files"][0].update(path="../x.yaml"), "climbs out"),
])
def test_invalid_indexes_are_refused_with_a_located_message(mutate, words):
    data = _valid_index()
    parse_index(json.dumps(data).encode(), "idx")          # the baseline is valid
    mutate(data)
    with pytest.raises(ZooError) as err:
        parse_index(json.dumps(data).encode(), "idx")
    assert words in err.value.message


def test_non_json_index_is_refused():
    with pytest.raises(ZooError, match="not valid JSON"):
        parse_index(b"\x80not json", "idx")


def test_refs_and_versions():
    assert parse_ref("zoo:static_baseline") == ("static_baseline", None)
    assert parse_ref("zoo:static_baseline@1.2.0") == ("static_baseline", "1.2.0")
    assert parse_ref("tiny@2") == ("tiny", "2")
    for bad in ("zoo:", "zoo:../x", "zoo:a@b", "zoo:A", "zoo:a@1.0/..", ""):
        with pytest.raises(ZooError):
            parse_ref(bad)
    assert newest(["1.9", "1.10", "1.2.3"]) == "1.10"
    assert version_key("1.0") == version_key("1.0.0")
    assert file_name_problem("model.safetensors") is None
    for bad in ("..", "../a", "/a", "a/b", "a\\b", ".x", "C:x", "", "a\x00b", "a b"):
        assert file_name_problem(bad) is not None, bad


def test_get_newest_and_unknown(tmp_path):
    entries = [simple_entry("e", v, weights=b"w") for v in ("1.9.0", "1.10.0", "1.2")]
    index = load_index(write_registry(tmp_path / "r", entries))
    assert index.get("e").version == "1.10.0"
    assert index.get("e", "1.2.0").version == "1.2"            # 1.2 == 1.2.0
    with pytest.raises(ZooError, match="no version '3'"):
        index.get("e", "3")
    with pytest.raises(ZooError) as err:
        index.get("ee")
    assert "did you mean e" in err.value.hint


def test_add_entry_files_copies_hashes_and_keeps_other_roles(tmp_path):
    zoo = tmp_path / "zoo"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_TEXT)
    entry = add_entry_files("demo", "1.0.0", {"spec": spec}, description="demo entry",
                            license="MIT", training_data={"description": "synthetic"}, zoo_root=zoo)
    assert not entry.has_weights and entry.spec == "spec.yaml"
    weights, norm = tmp_path / "model.safetensors", tmp_path / "normalization.npz"
    weights.write_bytes(b"\x00" * 100)
    norm.write_bytes(b"n" * 10)
    entry = add_entry_files("demo", "1.0.0", {"weights": weights, "normalization": norm},
                            metrics={"quality": 0.91, "utilization": 0.4}, spec_hash="a" * 64,
                            zoo_root=zoo)
    index = load_index(zoo)
    got = index.get("demo")
    assert got.has_weights and got.metrics["quality"] == 0.91 and got.spec_hash == "a" * 64
    assert {f.role for f in got.files} == {"spec", "weights", "normalization"}
    w = got.files_with_role("weights")[0]
    assert (w.size, w.sha256) == (100, sha(b"\x00" * 100))
    assert (zoo / "demo" / "1.0.0" / "model.safetensors").read_bytes() == b"\x00" * 100
    # replacing a role under a new file name removes the old file
    weights2 = tmp_path / "model_v2.safetensors"
    weights2.write_bytes(b"\x01" * 7)
    add_entry_files("demo", "1.0.0", {"weights": weights2}, zoo_root=zoo)
    assert not (zoo / "demo" / "1.0.0" / "model.safetensors").exists()
    assert load_index(zoo).get("demo").files_with_role("weights")[0].size == 7
    # a new version inherits the card, needs a spec
    with pytest.raises(ZooError, match="needs a 'spec' file"):
        add_entry_files("demo", "1.1.0", {"weights": weights2}, zoo_root=zoo)
    add_entry_files("demo", "1.1.0", {"spec": spec}, zoo_root=zoo)
    newer = load_index(zoo).get("demo")
    assert newer.version == "1.1.0" and newer.description == "demo entry" and newer.metrics == {}
    # unsafe inputs
    evil = tmp_path / ".evil"
    evil.write_text("x")
    with pytest.raises(ZooError, match="refused"):
        add_entry_files("demo", "1.0.0", {"card": evil}, zoo_root=zoo)
    with pytest.raises(ZooError, match="unknown file role"):
        add_entry_files("demo", "1.0.0", {"pickle": spec}, zoo_root=zoo)


def test_rebuild_index_updates_hashes_after_an_edit(tmp_path):
    zoo = tmp_path / "zoo"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_TEXT)
    add_entry_files("demo", "1.0.0", {"spec": spec}, description="d", zoo_root=zoo)
    assert rebuild_index(zoo) == []
    (zoo / "demo" / "1.0.0" / "spec.yaml").write_text(SPEC_TEXT + "# edited\n")
    assert rebuild_index(zoo) == ["demo@1.0.0"]
    f = load_index(zoo).get("demo").files[0]
    assert f.sha256 == sha((SPEC_TEXT + "# edited\n").encode())
