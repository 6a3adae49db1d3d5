"""Folder registries (the bundled zoo included), --dest, zoo: references."""
from __future__ import annotations

import os

import pytest

from spinlock_spec.errors import ZooError
from spinlock_spec.resources import zoo_dir
from spinlock_spec.zoo import entry_dir, pull, pull_entry, resolve_spec_ref
from test_zoo_support import snapshot, simple_entry, write_registry


def test_bundled_entry_pulls_into_cache_and_resolves(zoo_cache):
    spec = resolve_spec_ref("zoo:static_baseline")
    assert spec == zoo_cache / "static_baseline" / "1.0.0" / "spec.yaml"
    assert spec.read_bytes() == (zoo_dir() / "static_baseline" / "1.0.0" / "spec.yaml").read_bytes()
    assert entry_dir("zoo:static_baseline@1.0.0") == spec.parent
    with pytest.raises(ZooError, match="no zoo entry named"):
        resolve_spec_ref("zoo:no_such_entry")


def test_offline_env_applies_to_references(zoo_cache, monkeypatch):
    monkeypatch.setenv("SPINLOCK_SPEC_OFFLINE", "1")
    with pytest.raises(ZooError, match="not in the cache"):
        resolve_spec_ref("zoo:static_baseline")
    monkeypatch.delenv("SPINLOCK_SPEC_OFFLINE")
    path = resolve_spec_ref("zoo:static_baseline")
    monkeypatch.setenv("SPINLOCK_SPEC_OFFLINE", "1")
    assert resolve_spec_ref("zoo:static_baseline") == path


def test_spec_extends_a_zoo_entry(zoo_cache, tmp_path):
    spec_layer = pytest.importorskip("spinlock_spec.config")
    child = tmp_path / "child.yaml"
    child.write_text("extends: zoo:static_baseline\ntraining:\n  num_epochs: 2\n")
    resolved = spec_layer.resolve(child, resolve_ref=resolve_spec_ref)   # the zoo resolves, config loads
    assert resolved.data["training"]["num_epochs"] == 2
    assert resolved.data["training"]["category_assignment"] == "auto"


@pytest.mark.parametrize("where", ["file", "version_dir", "name_dir", "index"])
def test_symlinks_in_a_folder_registry_are_refused(tmp_path, zoo_cache, where):
    record, stored = simple_entry("linked", "1.0.0", weights=b"weights")
    root = write_registry(tmp_path / "registry", [(record, stored)])
    outside = tmp_path / "outside"
    outside.mkdir()
    if where == "file":
        target = outside / "model.safetensors"
        target.write_bytes(b"weights")
        (root / "linked" / "1.0.0" / "model.safetensors").unlink()
        os.symlink(target, root / "linked" / "1.0.0" / "model.safetensors")
    elif where == "version_dir":
        os.rename(root / "linked" / "1.0.0", outside / "v")
        os.symlink(outside / "v", root / "linked" / "1.0.0")
    elif where == "name_dir":
        os.rename(root / "linked", outside / "n")
        os.symlink(outside / "n", root / "linked")
    else:
        os.rename(root / "index.json", outside / "index.json")
        os.symlink(outside / "index.json", root / "index.json")
    with pytest.raises(ZooError, match="symbolic link"):
        pull("linked", registry=str(root))
    assert snapshot(zoo_cache) == {}


def test_file_url_registry(tmp_path, zoo_cache):
    record, stored = simple_entry("viafile", "3", weights=b"abc")
    root = write_registry(tmp_path / "registry", [(record, stored)])
    path = pull("viafile", registry=root.as_uri())
    assert (path / "model.safetensors").read_bytes() == b"abc"


def test_dest_copies_a_verified_entry(tmp_path, zoo_cache):
    record, stored = simple_entry("tocopy", "1.0.0")
    root = write_registry(tmp_path / "registry", [(record, stored)])
    dest = tmp_path / "mine"
    result = pull_entry("tocopy", registry=str(root), dest=dest)
    assert result.path == dest
    for fname, data in stored.items():
        assert (dest / fname).read_bytes() == data
        assert (zoo_cache / "tocopy" / "1.0.0" / fname).read_bytes() == data
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no staging left
    again = pull_entry("tocopy", registry=str(root), dest=dest)
    assert again.from_cache and again.path == dest
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ZooError, match="not empty"):
        pull("tocopy", registry=str(root), dest=busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert pull("tocopy", registry=str(root), dest=empty) == empty
    assert (empty / "spec.yaml").exists()


def test_stale_staging_of_dead_process_is_removed(tmp_path, zoo_cache):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = zoo_cache / ".staging" / f".tiny@1.0.0.pid{dead}.abc"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    record, stored = simple_entry("tiny", "1.0.0")
    root = write_registry(tmp_path / "registry", [(record, stored)])
    pull("tiny", registry=str(root))
    assert not stale.exists()


def test_missing_registry_folder(tmp_path, zoo_cache):
    with pytest.raises(ZooError, match="does not exist"):
        pull("tiny", registry=str(tmp_path / "nowhere"))


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from spinlock_spec.zoo.fetch import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for stream, expect_bar in ((io.StringIO(), False), (Tty(), True)):
        monkeypatch.setattr("sys.stderr", stream)
        bar = Progress("e@1 model.safetensors", 1024 * 1024)
        for _ in range(4):
            bar.update(256 * 1024)
        bar.close()
        assert ("100.0%" in stream.getvalue()) is expect_bar
