"""compile_spec: node table, shapes, effective mode, hash, exports, lock, --data."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinlock_spec.compile import compile_file, compile_spec
from spinlock_spec.compile.export import to_dot, to_json, to_mermaid
from spinlock_spec.compile.hashing import canonical_json, spec_hash
from spinlock_spec.compile.lock import write_lock
from spinlock_spec.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_compile_clean(path):
    c = compile_file(path)
    # the only diagnostic an example may show: the info that hybrid INITIAL is learnable
    shown = [d for d in c.diagnostics if d.code != "learnable-hybrid-supported"]
    assert shown == [], [d.format() for d in shown]
    assert all(d.severity == "info" for d in c.diagnostics)
    assert c.spec["dataset"]["path"] is None


def test_every_promised_example_is_there():
    assert {p.stem for p in EXAMPLES} >= {"learnable_simple_test", "learnable_vqvae_variable_length",
                                          "learnable_assignment", "static_baseline", "learnable_hybrid_initial",
                                          "learnable_adaptive_temperature", "learnable_pruning"}


def test_learnable_simple_test_graph():
    import networkx as nx

    c = compile_file(ROOT / "examples" / "learnable_simple_test.yaml")
    g = c.graph
    assert g.graph["model_class"] == "LearnableCategoricalVQVAE"
    assert g.graph["trainer_type"] == "LearnableVQVAETrainer"
    assert g.graph["assignment_mode"] == g.graph["requested_assignment_mode"] == "learnable"
    assert g.graph["spec_hash"] == c.hash
    kinds = {n: a["kind"] for n, a in g.nodes(data=True)}
    assert kinds["dataset"] == "dataset" and kinds["fuse"] == "fusion" and kinds["trainer"] == "trainer"
    assert kinds["family:temporal"] == "family" and kinds["encoder:temporal"] == "family_encoder"
    assert kinds["categories"] == "category" and kinds["quantizer:2"] == "quantizer_level"
    assert {n for n, k in kinds.items() if k == "loss"} == {
        "loss:recon", "loss:vq", "loss:ortho", "loss:info", "loss:topo", "loss:assign_orthogonality",
        "loss:assign_balance"}
    assert nx.is_directed_acyclic_graph(g)
    assert all(a["source"] for _, a in g.nodes(data=True))
    assert g.nodes["family:temporal"]["shape"] == [32, 8]
    assert g.nodes["family:summary"]["shape"] == [60]
    assert g.nodes["encoder:temporal"]["out_dim"] == 16
    assert g.nodes["fuse"]["width"] == 12 + 16 + 60
    assert g.nodes["encoder:temporal"]["source"].startswith("examples/learnable_simple_test.yaml:") or \
        ":" in g.nodes["encoder:temporal"]["source"]
    assert g.nodes["assignment"]["learnable"]["temperature_end"] == 0.1
    assert g.nodes["quantizer:0"]["num_tokens"] is None
    assert g.nodes["loss:assign_balance"]["weight"] == 0.05
    assert g.nodes["decoder"]["model"] == c.spec["model"]
    assert g.nodes["trainer"]["training"] == c.spec["training"]


def test_explicit_levels_give_quantizer_nodes():
    c = compile_file(ROOT / "examples" / "learnable_assignment.yaml")
    q = [a for _, a in c.graph.nodes(data=True) if a["kind"] == "quantizer_level"]
    assert [(a["level"], a["num_tokens"], a["latent_dim"]) for a in q] == [(0, 16, 8), (1, 8, 8)]


def test_hybrid_learnable_is_learnable():
    c = compile_file(FIXTURES / "original_hybrid_learnable.yaml")
    assert c.trainer_type == "LearnableVQVAETrainer" and c.model_class == "LearnableCategoricalVQVAE"
    assert c.assignment_mode == "learnable" == c.graph.graph["requested_assignment_mode"]
    assert not [d for d in c.diagnostics if d.code == "learnable-encoder-fallback"]
    assert not any("Falling back" in d.message for d in c.diagnostics)
    info = [d for d in c.diagnostics if d.code == "learnable-hybrid-supported"][0]
    assert info.severity == "info" and info.line == 8
    assert "12 manual + 8 CNN features" in info.message
    assert "loss:assign_balance" in c.graph.nodes and c.graph.nodes["encoder:initial"]["learnable_compatible"]
    assert c.ok


def test_hash_is_sha256_of_canonical_json_and_stable():
    a = compile_file(ROOT / "examples" / "static_baseline.yaml")
    b = compile_file(ROOT / "examples" / "static_baseline.yaml")
    assert a.hash == b.hash == spec_hash(a.spec)
    import hashlib
    assert a.hash == hashlib.sha256(canonical_json(a.spec).encode()).hexdigest()
    c = compile_file(ROOT / "examples" / "static_baseline.yaml", overrides=["training.num_epochs=21"])
    assert c.hash != a.hash


def test_exports():
    c = compile_file(ROOT / "examples" / "learnable_simple_test.yaml")
    doc = json.loads(to_json(c))
    assert doc["spec_hash"] == c.hash and {n["id"] for n in doc["nodes"]} == set(c.graph.nodes)
    assert len(doc["edges"]) == c.graph.number_of_edges()
    dot = to_dot(c)
    assert dot.startswith("digraph") and '"encoder:temporal" -> "fuse"' in dot
    mer = to_mermaid(c)
    assert mer.startswith("flowchart LR") and "n_encoder_temporal --> n_fuse" in mer


def test_lock_file_compiles_to_the_same_hash(tmp_path):
    c = compile_file(FIXTURES / "reference_original.yaml")
    lock = tmp_path / "sub" / "spec.lock.yaml"
    write_lock(c, lock)
    text = lock.read_text()
    assert f"sha256:{c.hash}" in text.splitlines()[0]
    assert compile_file(lock).hash == c.hash
    assert not [p for p in lock.parent.iterdir() if p.name != lock.name]


def test_shapes_from_a_data_file(tmp_path):
    np = pytest.importorskip("numpy")
    data = tmp_path / "d.npz"
    np.savez(data, summary=np.zeros((40, 7), np.float32), temporal=np.zeros((40, 10, 3), np.float32))
    text = "families: {summary: {encoder: identity}, temporal: {encoder: td_cnn}}\ntraining: {batch_size: 64}\n"
    c = compile_spec(text, data=str(data))
    assert c.graph.nodes["family:summary"]["shape"] == [7]
    assert c.graph.nodes["family:temporal"]["shape"] == [10, 3]
    assert c.graph.nodes["dataset"]["n_samples"] == 40
    assert "batch-size-exceeds-data" in {d.code for d in c.diagnostics}
    with pytest.raises(UserError):
        compile_spec(text, data=str(tmp_path / "missing.npz"))


def test_dataset_path_without_data_leaves_shapes_unknown():
    c = compile_spec("dataset: {path: /nonexistent/x.h5}\nfamilies: {summary: {encoder: mlp}}\n")
    assert c.graph.nodes["family:summary"]["shape"] is None
    assert c.graph.nodes["encoder:summary"]["out_dim"] == 32 and c.ok


def test_compile_accepts_resolved_and_dict():
    from spinlock_spec.config import resolve

    r = resolve(ROOT / "examples" / "static_baseline.yaml")
    assert compile_spec(r).hash == compile_spec(r.data).hash == compile_file(
        ROOT / "examples" / "static_baseline.yaml").hash


def test_auto_levels_match_the_model_layer():
    pytest.importorskip("torch")
    from spinlock_spec.compile.graph import AUTO_LEVELS
    from spinlock_spec.nn.sizing import NUM_LEVELS

    assert AUTO_LEVELS == NUM_LEVELS
