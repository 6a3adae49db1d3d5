"""``spinlock-spec zoo list|show|pull`` as a user runs them (subprocesses)."""
from __future__ import annotations

import json
import sys

from test_zoo_support import REPO, run_cli, simple_entry, write_registry

NO_TORCH = """
import sys
from spinlock_spec.cli.main import main
main({args!r})
heavy = sorted(m for m in ("torch", "sklearn") if m in sys.modules)
assert not heavy, "imported " + ", ".join(heavy)
print("NO-TORCH-OK", file=sys.stderr)
"""


def _run_python(code: str, env: dict):
    import os
    import subprocess

    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO),
                          env=full, timeout=60)


def test_list_and_show_never_import_torch(zoo_cache):
    env = {"SPINLOCK_SPEC_CACHE": str(zoo_cache)}
    for args in (["zoo", "list"], ["zoo", "list", "--format", "json"], ["zoo", "show", "static_baseline"],
                 ["zoo", "pull", "learnable_simple_test"]):
        proc = _run_python(NO_TORCH.format(args=args), env)
        assert proc.returncode == 0, proc.stderr
        assert "NO-TORCH-OK" in proc.stderr


def test_list_table_and_json(zoo_cache, tmp_path):
    proc = run_cli("zoo", "list", env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header[:4] == ["NAME", "VERSION", "WEIGHTS", "QUALITY"]
    assert "production_four_family" in proc.stdout and "static_baseline" in proc.stdout
    record, stored = simple_entry("tiny", "1.0.0", weights=b"w")
    root = write_registry(tmp_path / "reg", [(record, stored)])
    proc = run_cli("zoo", "list", "--format", "json", "--registry", str(root),
                   env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    data = json.loads(proc.stdout)
    assert [e["name"] for e in data["entries"]] == ["tiny"]
    assert data["entries"][0]["has_weights"] is True and data["entries"][0]["cached"] is False
    proc = run_cli("zoo", "list", "--registry", str(root), env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    row = [line for line in proc.stdout.splitlines() if line.startswith("tiny")][0].split()
    assert row[:5] == ["tiny", "1.0.0", "yes", "0.900", "0.500"]


def test_show_prints_card_and_spec(zoo_cache):
    proc = run_cli("zoo", "show", "production_four_family", env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("production_four_family@1.0.0")
    assert "needs dataset: yes" in out and "license:" in out and "files:" in out
    assert "--- spec.yaml ---" in out and "initial_hybrid" in out
    assert not (zoo_cache / "production_four_family").exists()       # show does not write the cache


def test_pull_prints_where_and_errors_are_one_message(zoo_cache, tmp_path):
    env = {"SPINLOCK_SPEC_CACHE": str(zoo_cache)}
    proc = run_cli("zoo", "pull", "learnable_simple_test", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(zoo_cache / "learnable_simple_test" / "1.0.0")
    assert "pulled and verified" in proc.stderr
    proc = run_cli("zoo", "pull", "learnable_simple_test", env=env)
    assert "served from the cache" in proc.stderr
    dest = tmp_path / "here"
    proc = run_cli("zoo", "pull", "static_baseline@1.0.0", "--dest", str(dest), env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == str(dest)
    assert (dest / "spec.yaml").is_file()
    for args in (["zoo", "pull", "nope"], ["zoo", "pull", "../x"], ["zoo", "show", "static_baseline@9"],
                 ["zoo", "pull", "tiny", "--registry", str(tmp_path / "missing")]):
        proc = run_cli(*args, env=env)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and "error[Z" in proc.stderr, proc.stderr
