"""spinlock-spec diff: resolved values and graphs, impact classes, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from spinlock_spec.cli.main import cli
from spinlock_spec.compile import diff_specs
from spinlock_spec.compile.diff import ARCHITECTURE, COSMETIC, TRAINING, classify, diff_text

ROOT = Path(__file__).resolve().parent.parent
LEARN = ROOT / "examples" / "learnable_simple_test.yaml"
STATIC = ROOT / "examples" / "static_baseline.yaml"
BASE = "families: {summary: {encoder: identity}}\n"


def test_learnable_vs_static_classifies_every_change():
    d = diff_specs(LEARN, STATIC)
    assert not d.same and d.impact == ARCHITECTURE
    by_path = {c.dotted: c for c in d.changes}
    mode = by_path["training.category_assignment"]
    assert (mode.a, mode.b, mode.impact) == ("learnable", "auto", ARCHITECTURE)
    assert mode.a_source.endswith("learnable_simple_test.yaml:30:24")
    assert mode.b_source.endswith("static_baseline.yaml:28:24")
    assert all(c.impact in (ARCHITECTURE, TRAINING, COSMETIC) for c in [*d.changes, *d.graph_changes])
    graph = {(g.kind, g.attr or g.node): g for g in d.graph_changes}
    assert graph[("graph_attr", "model_class")].b == "CategoricalHierarchicalVQVAE"
    assert graph[("graph_attr", "trainer_type")].impact == TRAINING
    assert ("node_removed", "loss:assign_balance") in graph
    text = diff_text(d)
    assert "[architecture] training.category_assignment" in text and "will NOT load" in text


def test_diff_cli_exit_codes(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["diff", str(LEARN), str(STATIC)])
    assert r.exit_code == 1 and "[architecture]" in r.stdout and "[training]" in r.stdout
    r = runner.invoke(cli, ["diff", str(STATIC), str(STATIC), "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["same"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("families: {}\n")
    r = runner.invoke(cli, ["diff", str(STATIC), str(bad)])
    assert r.exit_code == 2 and "E205" in r.stderr
    r = runner.invoke(cli, ["diff", str(STATIC), str(bad), "--format", "json"])
    payload = json.loads(r.stdout)
    assert r.exit_code == 2 and payload["ok"] is False and payload["diagnostics"][0]["code"] == "E205"


def test_impact_classes():
    assert diff_specs(BASE, BASE + "training: {learning_rate: 0.01}\n").impact == TRAINING
    assert diff_specs(BASE, BASE + "logging: {verbose: false}\n").impact == COSMETIC
    assert diff_specs(BASE, BASE + "model: {group_embedding_dim: 8}\n").impact == ARCHITECTURE
    d = diff_specs(BASE, "families: {summary: {encoder: mlp}}\n")
    assert d.impact == ARCHITECTURE and any(g.attr == "out_dim" for g in d.graph_changes)
    assert classify(("dataset", "synthetic", "n_groups")) == ARCHITECTURE
    assert classify(("dataset", "synthetic", "noise")) == TRAINING
    assert classify(("training", "device")) == COSMETIC


def test_added_and_removed_families():
    a = BASE
    b = "families: {summary: {encoder: identity}, temporal: {encoder: td_cnn}}\n"
    d = diff_specs(a, b)
    added = [c for c in d.changes if c.kind == "added"]
    assert [c.dotted for c in added] == ["families.temporal"] and added[0].b["encoder"] == "temporal_cnn"
    assert {g.node for g in d.graph_changes if g.kind == "node_added"} == {"family:temporal", "encoder:temporal"}
    assert [c.kind for c in diff_specs(b, a).changes] == ["removed"]


def test_diff_is_antisymmetric_and_identity_is_empty():
    a, b = LEARN, STATIC
    ab, ba = diff_specs(a, b), diff_specs(b, a)
    assert ab.reversed().to_dict() == ba.to_dict()
    assert diff_specs(a, a).same


def test_sources_show_defaults():
    d = diff_specs(BASE, BASE + "training: {batch_size: 32}\n")
    c = d.changes[0]
    assert c.a_source == "default" and c.b_source == "<text>:2:24"
