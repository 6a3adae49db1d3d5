"""zoo push into a folder registry, served by a real http.server on 127.0.0.1, pulled back
(hash-verified) and encoded with; staging for an http registry; zoo cache list / rm."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from test_zoo_support import run_cli, start_http_server


@pytest.fixture
def trained_run(zoo_cache, tmp_path) -> Path:
    """A finished run folder: the pretrained static_baseline entry, copied out of the cache."""
    from spinlock_spec.zoo import entry_dir

    run = tmp_path / "runs" / "static"
    shutil.copytree(entry_dir("zoo:static_baseline"), run, ignore=shutil.ignore_patterns(".*", "spec.yaml"))
    return run


def _env(cache: Path, **extra) -> dict:
    return {"SPINLOCK_SPEC_CACHE": str(cache), **extra}


def test_push_then_pull_over_http_round_trips_and_encodes_identically(trained_run, zoo_cache, tmp_path):
    registry = tmp_path / "registry"
    proc = run_cli("zoo", "push", str(trained_run), "mine", "--version", "2.0.0", "--registry", str(registry),
                   "--format", "json", env=_env(zoo_cache))
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout)["entry"]
    index = json.loads((registry / "index.json").read_text())
    assert [(e["name"], e["version"]) for e in index["entries"]] == [("mine", "2.0.0")]
    roles = {f["role"] for f in entry["files"]}
    assert {"spec", "weights", "weights_meta", "normalization", "categories", "config"} <= roles
    for f in entry["files"]:                                     # sha256 and size of every file
        data = (registry / "mine" / "2.0.0" / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
    meta = json.loads((trained_run / "best_model.json").read_text())
    assert entry["spec_hash"] == meta["spec_hash"] and entry["metrics"]["utilization"] == pytest.approx(
        meta["metrics"]["utilization"], abs=1e-6)

    again = run_cli("zoo", "push", str(trained_run), "mine", "--version", "2.0.0", "--registry", str(registry),
                    env=_env(zoo_cache))
    assert again.returncode == 2 and "Z061" in again.stderr and "--version" in again.stderr

    server = start_http_server(registry)
    try:
        fresh = tmp_path / "fresh-cache"
        pulled = run_cli("zoo", "pull", "mine", "--registry", server.url, env=_env(fresh), timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        assert "pulled and verified" in pulled.stderr
        folder = Path(pulled.stdout.strip())
        assert folder == fresh / "mine" / "2.0.0"
        assert (folder / "best_model.safetensors").read_bytes() == (trained_run / "best_model.safetensors").read_bytes()

        data = tmp_path / "d.h5"
        assert run_cli("data", "synth", "--out", str(data), "--n", "300", "--seed", "5").returncode == 0
        ours = run_cli("encode", str(trained_run), "--data", str(data), "--out", str(tmp_path / "a.npz"),
                       env=_env(fresh), timeout=300)
        theirs = run_cli("encode", "--model", "zoo:mine", "--data", str(data), "--out", str(tmp_path / "b.npz"),
                         env=_env(fresh, SPINLOCK_SPEC_REGISTRY=server.url, SPINLOCK_SPEC_OFFLINE="1"),
                         timeout=300)
        assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
        np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["tokens"], np.load(tmp_path / "b.npz")["tokens"])

        # an http(s) registry: staged for upload with the served index plus the new entry
        stage = tmp_path / "stage"
        staged = run_cli("zoo", "push", str(trained_run), "mine", "--version", "3.0.0", "--registry", server.url,
                         "--out", str(stage), env=_env(zoo_cache))
        assert staged.returncode == 0, staged.stderr
        assert "Upload" in staged.stdout and "index.json" in staged.stdout
        versions = [e["version"] for e in json.loads((stage / "index.json").read_text())["entries"]]
        assert sorted(versions) == ["2.0.0", "3.0.0"]
        shutil.copytree(stage / "mine" / "3.0.0", registry / "mine" / "3.0.0")      # the upload
        shutil.copyfile(stage / "index.json", registry / "index.json")
        newest = run_cli("zoo", "pull", "mine", "--registry", server.url, env=_env(fresh), timeout=120)
        assert newest.returncode == 0 and newest.stdout.strip().endswith("3.0.0"), newest.stderr
    finally:
        server.stop()

    listed = run_cli("zoo", "cache", "list", "--format", "json", env=_env(fresh))
    assert {(e["name"], e["version"]) for e in json.loads(listed.stdout)["entries"]} == {
        ("mine", "2.0.0"), ("mine", "3.0.0")}
    removed = run_cli("zoo", "cache", "rm", "mine@2.0.0", env=_env(fresh))
    assert removed.returncode == 0 and not (fresh / "mine" / "2.0.0").exists()
    assert (fresh / "mine" / "3.0.0").is_dir()
    missing = run_cli("zoo", "cache", "rm", "mine@2.0.0", env=_env(fresh))
    assert missing.returncode == 2 and "not in the cache" in missing.stderr


def test_push_refuses_an_unfinished_run(tmp_path, zoo_cache):
    run = tmp_path / "half"
    run.mkdir()
    (run / "config.yaml").write_text("families: {summary: {encoder: identity}}\n")
    proc = run_cli("zoo", "push", str(run), "half", "--registry", str(tmp_path / "reg"), env=_env(zoo_cache))
    assert proc.returncode == 2 and "not a finished run folder" in proc.stderr and "best_model" in proc.stderr
    assert not (tmp_path / "reg" / "index.json").exists()
