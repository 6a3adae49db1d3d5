"""runs list / runs compare over three small real training runs; diff of run folders."""
from __future__ import annotations

import json
import shutil

import pytest

import spinlock_spec as ss
from helpers import EXAMPLES, assert_user_error, cli, cli_inproc

TINY = ["dataset.synthetic.n_samples=300", "training.batch_size=64"]


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, spec, extra in (("static_a", "static_baseline", []),
                              ("static_b", "static_baseline", ["training.learning_rate=0.003"]),
                              ("learn", "learnable_simple_test", [])):
        result = ss.train(str(EXAMPLES / f"{spec}.yaml"), overrides=TINY + extra, epochs=1, out=root / name,
                          quiet=True, progress=False)
        made[name] = result
    return root, made


def test_runs_list_shows_each_run(three_runs):
    root, made = three_runs
    partial = root / "partial"                    # a run stopped before it finished
    shutil.copytree(root / "static_a", partial)
    for name in ("final_model.json", "final_model.safetensors"):
        (partial / name).unlink()
    code, out, _ = cli_inproc("runs", "list", root, "--format", "json")
    assert code == 0
    runs = {r["name"]: r for r in json.loads(out)["runs"]}
    assert sorted(runs) == ["learn", "partial", "static_a", "static_b"]
    for name, result in made.items():
        r = runs[name]
        final = result.history["final_metrics"]
        assert r["status"] == "finished" and (r["epochs"], r["num_epochs"]) == (1, 1)
        assert r["quality"] == pytest.approx(final["quality"]) and r["utilization"] == pytest.approx(
            final["utilization"])
        assert r["spec"].endswith(("static_baseline.yaml", "learnable_simple_test.yaml"))
    assert runs["partial"]["status"] == "incomplete"
    assert runs["learn"]["trainer"] == "LearnableVQVAETrainer"
    code, text, _ = cli_inproc("runs", "list", root)
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "SPEC", "STATUS", "EPOCHS", "QUALITY", "UTILIZATION"]
    row = next(line for line in lines if line.startswith("static_b "))
    assert "finished" in row and "1/1" in row and f"{made['static_b'].history['final_metrics']['quality']:.3f}" in row


def test_runs_compare_metrics_and_spec_diff(three_runs):
    root, made = three_runs
    code, out, _ = cli_inproc("runs", "compare", root / "static_a", root / "static_b", root / "learn",
                              "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]] == ["static_a", "static_b", "learn"]
    assert [(d["a"], d["b"]) for d in doc["diffs"]] == [("static_a", "static_b"), ("static_a", "learn")]
    first = {c["path"]: c for c in doc["diffs"][0]["diff"]["changes"]}
    assert set(first) == {"training.learning_rate"} and first["training.learning_rate"]["impact"] == "training"
    assert any(c["impact"] == "architecture" for c in doc["diffs"][1]["diff"]["changes"])
    code, text, _ = cli_inproc("runs", "compare", root / "static_a", root / "static_b")
    assert code == 0 and "quality" in text and "training.learning_rate: 0.001 -> 0.003" in text


def test_diff_accepts_run_folders(three_runs):
    root, _ = three_runs
    code, out, _ = cli_inproc("diff", root / "static_a", root / "static_b")
    assert code == 1 and "training.learning_rate" in out
    code, _, _ = cli_inproc("diff", root / "static_a", root / "static_a")
    assert code == 0


def test_runs_errors_are_user_errors(tmp_path):
    assert_user_error(cli("runs", "list", tmp_path / "nowhere"), "no such folder")
    assert_user_error(cli("runs", "compare", tmp_path), "two run folders")
    proc = cli("runs", "list", tmp_path / "nowhere", "--format", "json")
    assert json.loads(proc.stdout)["error"]["code"] == "E400"
