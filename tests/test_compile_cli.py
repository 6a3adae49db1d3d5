"""The compile and schema commands: acceptance cases, exit codes, formats, no traceback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


from helpers import FIXTURES, ROOT, cli_inproc

run = cli_inproc


def test_learnable_simple_test_summary():
    code, out, _ = run("compile", str(ROOT / "examples" / "learnable_simple_test.yaml"))
    assert code == 0
    assert "assignment learnable" in out and "LearnableVQVAETrainer" in out
    assert "LearnableCategoricalVQVAE" in out and "linear 1.0 \u2192 0.1" in out
    assert "pyramid_temporal" in out and "0 error(s)" in out


def test_original_layout_hybrid_learnable_is_learnable():
    code, out, _ = run("compile", str(FIXTURES / "original_hybrid_learnable.yaml"))
    assert code == 0
    assert "[WARNING]" not in out and "Falling back" not in out and "falls back" not in out
    assert "trainer   LearnableVQVAETrainer" in out and "assignment learnable" in out
    assert "initial hybrid: 12 manual + 8 CNN features, learnable" in out


def test_typo_exit_2_with_position_and_suggestion(tmp_path):
    spec = tmp_path / "typo.yaml"
    spec.write_text("families:\n  summary: {encoder: identity}\nlearnable_assignment:\n  temperture_start: 1.0\n")
    code, out, err = run("compile", str(spec))
    assert code == 2
    assert f"{spec}:4:3: error[E200]" in err or "typo.yaml:4:3: error[E200]" in err
    assert "temperature_start" in err and "Traceback" not in err


def test_json_format_lists_the_same_errors(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("families: {summary: {encoder: identity}}\ntraining: {batch_size: x, optimizer: sgdd}\n")
    code, out, _ = run("compile", str(spec), "--format", "json")
    assert code == 2
    doc = json.loads(out)
    assert [(d["code"], d["line"], d["pointer"]) for d in doc["diagnostics"]] == [
        ("E201", 2, "/training/batch_size"), ("E202", 2, "/training/optimizer")]


def test_rule_error_exits_1_and_graph_formats():
    spec = str(ROOT / "examples" / "static_baseline.yaml")
    assert run("compile", spec, "--set", "model.level_structure=residual", "--set",
               "model.levels=[{num_tokens: 8, latent_dim: 4}, {num_tokens: 4, latent_dim: 3}]")[0] == 1
    code, out, _ = run("compile", spec, "--format", "json")
    assert code == 0 and json.loads(out)["graph"]["trainer_type"] == "VQVAETrainer"
    assert run("compile", spec, "--format", "dot")[1].startswith("digraph")
    assert run("compile", spec, "--format", "mermaid")[1].startswith("flowchart")


def test_lock_option(tmp_path):
    lock = tmp_path / "spec.lock"
    code, out, _ = run("compile", str(ROOT / "examples" / "static_baseline.yaml"), "--lock", str(lock))
    assert code == 0 and lock.exists() and "lock written" in out
    code2, out2, _ = run("compile", str(lock))
    assert code2 == 0 and out.split("sha256:")[1][:16] == out2.split("sha256:")[1][:16]


def test_schema_command(tmp_path):
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["title"].startswith("spinlock-spec")
    target = tmp_path / "s.json"
    assert run("schema", "--out", str(target))[0] == 0
    assert json.loads(target.read_text()) == json.loads(out)


@pytest.mark.parametrize("content", [b"", b"\x00\xff garbage", b"a: [1,\n", b"- list\n", b"a: 1\na: 2\n",
                                     b"families: !!python/object/apply:os.system ['true']\n", b"\xef\xbb\xbf"])
def test_no_traceback_for_bad_inputs(tmp_path, content):
    spec = tmp_path / "s.yaml"
    spec.write_bytes(content)
    code, out, err = run("compile", str(spec))
    assert code == 2 and "Traceback" not in err and "error[" in err


def test_missing_file_and_directory(tmp_path):
    assert run("compile", str(tmp_path / "none.yaml"))[0] == 2
    code, _, err = run("compile", str(tmp_path))
    assert code == 2 and "directory" in err


def _subprocess(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, **kw)


def test_unsafe_tag_refused_and_nothing_executed(tmp_path):
    marker = tmp_path / "x"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'families:\n  summary: {{encoder: identity}}\nlogging: !!python/object/apply:os.system '
                    f'["touch {marker}"]\n')
    proc = _subprocess(["-m", "spinlock_spec", "compile", str(spec)])
    assert proc.returncode == 2 and "E102" in proc.stderr and "evil.yaml:3:10" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


def test_compile_and_diff_do_not_import_torch_or_sklearn():
    probe = (
        "import sys\n"
        "from spinlock_spec.cli.main import main\n"
        "for args in (['compile', 'examples/learnable_simple_test.yaml'],\n"
        "             ['diff', 'examples/learnable_simple_test.yaml', 'examples/static_baseline.yaml'],\n"
        "             ['schema']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('torch', 'sklearn', 'scipy') if m in sys.modules)\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    proc = _subprocess(["-c", probe])
    assert "HEAVY=\n" in proc.stderr, proc.stderr[-2000:]


def _hash_of(path, *extra) -> str:
    code, out, _ = run("compile", str(path), *extra, "--format", "json")
    assert code == 0, out
    return json.loads(out)["graph"]["spec_hash"]


@pytest.mark.parametrize("spec", [ROOT / "examples" / "learnable_simple_test.yaml",
                                  FIXTURES / "original_hybrid_learnable.yaml"])
@pytest.mark.parametrize("origins", [False, True])
def test_print_compiles_to_the_same_hash(spec, origins, tmp_path):
    extra = ["--origins"] if origins else []
    code, out, _ = run("compile", str(spec), "--print", *extra, "--set", "random_seed=5")
    assert code == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(out)
    want = _hash_of(spec, "--set", "random_seed=5")
    assert _hash_of(printed) == want and out.startswith(f"# spec hash sha256:{want}")
    assert want != _hash_of(spec)                  # the override is in the printed spec
    code, out, _ = run("compile", str(spec), "--print", "--format", "json", "random_seed=5")
    assert code == 0 and json.loads(out)["spec_hash"] == want


def test_origins_name_file_positions_overrides_and_defaults(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("families:\n  summary:\n    encoder: identity\ntraining:\n  num_epochs: 7\n")
    code, out, _ = run("compile", str(spec), "--origins", "--format", "json", "training.batch_size=32")
    assert code == 0
    origins = json.loads(out)["origins"]
    assert origins["training.num_epochs"] == f"{spec}:5:15"
    assert origins["families.summary.encoder"] == f"{spec}:3:14"
    assert origins["training.batch_size"] == "--set training.batch_size=32"
    assert origins["training.learning_rate"] == "default"
    code, out, _ = run("compile", str(spec), "--print", "--origins")
    assert code == 0 and re.search(rf"num_epochs: 7 +# {re.escape(str(spec))}:5:15\n", out)


def test_bare_arguments_are_overrides_or_refused_with_a_hint():
    spec = str(ROOT / "examples" / "static_baseline.yaml")
    assert _hash_of(spec, "training.batch_size=64") == _hash_of(spec, "--set", "training.batch_size=64")
    code, _, err = run("compile", spec, "other.yaml")
    assert code == 2 and "--set" in err and "KEY=VALUE" in err


def test_lock_dash_prints_the_lock():
    spec = str(ROOT / "examples" / "static_baseline.yaml")
    code, out, _ = run("compile", spec, "--lock", "-")
    assert code == 0 and out.startswith(f"# spinlock-spec lock: sha256:{_hash_of(spec)}")
    assert not Path("-").exists()
