"""A category mapping file that lists feature NAMES compiles and trains (one parser for both)."""
from __future__ import annotations

import json

import pytest

import spinlock_spec as ss
from spinlock_spec.data.mapping import CategoryMapping, index_problems, read_mapping
from spinlock_spec.errors import DataError

SPEC = """\
dataset: {synthetic: {n_samples: 400, n_groups: 2, features_per_group: 3, seed: 5}}
families: {summary: {encoder: identity}}
model: {levels: [{num_tokens: 4, latent_dim: 2}]}
training: {category_assignment: manual, category_mapping_file: map.json, batch_size: 64}
"""
# names in both accepted forms: "family:column" and the unique short "column"
MAPPING = {"low": ["summary:summary_000", "summary_001", "summary:summary_002"],
           "high": ["summary_003", "summary:summary_004", 5]}


def _spec(tmp_path, mapping=MAPPING):
    (tmp_path / "map.json").write_text(json.dumps(mapping))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return spec


def test_mapping_by_names_compiles_without_findings(tmp_path):
    compiled = ss.compile_spec(str(_spec(tmp_path)))
    assert compiled.ok, [d.format() for d in compiled.errors]
    assert not [d for d in compiled.diagnostics if d.code.startswith("mapping-file")]
    assert compiled.graph.nodes["categories"]["num_categories"] == 2


def test_mapping_by_names_trains_and_keeps_the_mapping(tmp_path):
    result = ss.train(str(_spec(tmp_path)), epochs=1, out=tmp_path / "run", quiet=True, progress=False)
    cats = json.loads((result.run_dir / "categories.json").read_text())["categories"]
    members = [sorted(f["name"] for f in c["features"]) for c in cats]      # in file order
    assert members == [["summary:summary_000", "summary:summary_001", "summary:summary_002"],
                       ["summary:summary_003", "summary:summary_004", "summary:summary_005"]]


def test_compile_and_data_loading_refuse_the_same_malformed_file(tmp_path):
    spec = _spec(tmp_path, {"low": ["summary_000", 1.5]})
    compiled = ss.compile_spec(str(spec))
    found = [d.message for d in compiled.errors if d.code == "mapping-file-invalid"]
    with pytest.raises(DataError) as info:
        read_mapping(tmp_path / "map.json")
    assert found == [info.value.message]


def test_index_problems_need_no_data():
    mapping = CategoryMapping(None, (("a", (0, "x:y", 7)), ("b", (0,))))
    assert index_problems(mapping, 6) == ["category 'a': column 7 is outside 0..5",
                                          "column 0 is in both 'a' and 'b'"]
