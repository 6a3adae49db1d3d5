"""Pulls from a zoo served over real HTTP on 127.0.0.1 (python -m http.server,
or a small misbehaving http.server variant in a subprocess)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from spinlock_spec.errors import ZooError
from spinlock_spec.zoo import pull, pull_entry
from spinlock_spec.zoo.cache import MARKER
from test_zoo_support import (REPO, SPEC_TEXT, entry_record, free_port, run_cli, sha, simple_entry,
                              snapshot, start_http_server, start_misbehaving_server, write_registry)


@pytest.fixture
def served(tmp_path):
    """A registry folder with entries 'tiny' (1.0.0 and 1.2.0) and 'other', served by
    python -m http.server; yields (server, {ref: stored files})."""
    tiny1, stored1 = simple_entry("tiny", "1.0.0")
    tiny2, stored2 = simple_entry("tiny", "1.2.0")
    other, stored3 = simple_entry("other", "2.0")
    root = write_registry(tmp_path / "registry", [(tiny1, stored1), (tiny2, stored2), (other, stored3)])
    server = start_http_server(root)
    try:
        yield server, root, {"tiny@1.0.0": stored1, "tiny@1.2.0": stored2, "other@2.0": stored3}
    finally:
        server.stop()


def test_pull_over_http_verifies_and_lands_in_cache(served, zoo_cache):
    server, _, stored = served
    result = pull_entry("tiny", registry=server.url)
    assert result.entry.ref == "tiny@1.2.0"              # newest by default
    assert result.path == zoo_cache / "tiny" / "1.2.0"
    assert not result.from_cache
    for fname, data in stored["tiny@1.2.0"].items():
        assert (result.path / fname).read_bytes() == data
    marker = json.loads((result.path / MARKER).read_text())
    assert marker["registry"] == server.url + "index.json"
    assert {f["path"] for f in marker["entry"]["files"]} == set(stored["tiny@1.2.0"])
    assert list((zoo_cache / ".staging").iterdir()) == []
    # an explicit older version, through the public pull()
    path = pull("tiny", "1.0.0", registry=server.url)
    assert (path / "model.safetensors").read_bytes() == stored["tiny@1.0.0"]["model.safetensors"]


def test_registry_from_environment(served, zoo_cache, monkeypatch):
    server, _, _ = served
    monkeypatch.setenv("SPINLOCK_SPEC_REGISTRY", server.url)
    assert pull("zoo:other").name == "2.0"


def test_second_pull_is_served_from_cache_without_network(served, zoo_cache):
    server, _, _ = served
    first = pull_entry("tiny", "1.2.0", registry=server.url)
    server.stop()
    again = pull_entry("tiny", "1.2.0", registry=server.url)        # server is gone
    assert again.from_cache and again.path == first.path and again.note is None
    unversioned = pull_entry("tiny", registry=server.url)
    assert unversioned.from_cache and unversioned.entry.ref == "tiny@1.2.0"
    assert "unreachable" in unversioned.note
    cli = run_cli("zoo", "pull", "tiny@1.2.0", "--registry", server.url,
                  env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    assert cli.returncode == 0, cli.stderr
    assert "served from the cache" in cli.stderr
    assert cli.stdout.strip() == str(first.path)


def _corrupt_registry(tmp_path, mutate):
    """A registry whose 'bad' entry has its weights changed by ``mutate(bytes) -> bytes``
    after the index was written."""
    record, stored = simple_entry("bad", "1.0.0")
    stored = dict(stored)
    stored["model.safetensors"] = mutate(stored["model.safetensors"])
    return write_registry(tmp_path / "registry", [(record, stored)])


def _flip(data: bytes) -> bytes:
    i = len(data) // 3
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def test_flipped_byte_fails_checksum_and_leaves_cache_untouched(tmp_path, zoo_cache):
    root = _corrupt_registry(tmp_path, _flip)
    # something already in the cache must survive untouched
    good, good_stored = simple_entry("good", "1.0.0")
    write_registry(tmp_path / "other", [(good, good_stored)])
    pull("good", registry=str(tmp_path / "other"))
    before = snapshot(zoo_cache)
    server = start_http_server(root)
    try:
        with pytest.raises(ZooError) as err:
            pull("bad", registry=server.url)
    finally:
        server.stop()
    text = err.value.format()
    assert "checksum mismatch" in text and "bad@1.0.0" in text and "model.safetensors" in text
    assert server.url + "bad/1.0.0/model.safetensors" in text
    assert snapshot(zoo_cache) == before
    assert not (zoo_cache / "bad").exists()


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d[:-10], "wrong size"),                    # shorter file, honest Content-Length
    (lambda d: d + b"0123456789", "wrong size"),          # longer file
])
def test_wrong_size_is_refused(tmp_path, zoo_cache, mutate, words):
    server = start_http_server(_corrupt_registry(tmp_path, mutate))
    try:
        with pytest.raises(ZooError) as err:
            pull("bad", registry=server.url)
    finally:
        server.stop()
    assert words in err.value.message and "bad@1.0.0" in err.value.message
    assert snapshot(zoo_cache) == {}


def test_http_404_names_entry_file_and_url(served, zoo_cache):
    server, root, _ = served
    (root / "other" / "2.0" / "categories.json").unlink()
    with pytest.raises(ZooError) as err:
        pull("other", registry=server.url)
    message = err.value.message
    assert "HTTP 404" in message and "other@2.0" in message and "categories.json" in message
    assert server.url + "other/2.0/categories.json" in message
    assert snapshot(zoo_cache) == {}


def test_truncated_body_is_refused(tmp_path, zoo_cache):
    record, stored = simple_entry("cut", "1.0.0")
    root = write_registry(tmp_path / "registry", [(record, stored)])
    server = start_misbehaving_server(root, tmp_path, truncate=["cut/1.0.0/model.safetensors"])
    try:
        with pytest.raises(ZooError) as err:
            pull("cut", registry=server.url)
    finally:
        server.stop()
    message = err.value.message
    assert "truncated" in message or "broke off" in message
    assert "cut@1.0.0" in message and "model.safetensors" in message
    assert snapshot(zoo_cache) == {}


@pytest.mark.parametrize("bad_name", ["../evil.bin", "../../etc/passwd", "/tmp/abs.bin",
                                      "sub/dir.bin", "a\\b.bin", ".hidden", "C:evil"])
def test_path_escaping_file_names_are_refused_before_any_write(tmp_path, zoo_cache, bad_name):
    spec = SPEC_TEXT.encode()
    record = entry_record("evil", "1.0.0", {"spec.yaml": (spec, "spec"), bad_name: (b"x", "weights")})
    root = write_registry(tmp_path / "registry", [(record, {"spec.yaml": spec})])
    server = start_http_server(root)
    try:
        with pytest.raises(ZooError) as err:
            pull("evil", registry=server.url)
    finally:
        server.stop()
    assert repr(bad_name) in err.value.message and "refused" in err.value.message
    assert snapshot(zoo_cache) == {}
    assert not (tmp_path / "evil.bin").exists() and not (tmp_path / "abs.bin").exists()


def test_connection_refused_is_one_clear_error(zoo_cache):
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(ZooError) as err:
        pull("tiny", registry=url)
    assert "cannot reach" in err.value.message and url in err.value.message
    assert snapshot(zoo_cache) == {}


def test_timeout_is_one_clear_error(zoo_cache, monkeypatch):
    monkeypatch.setenv("SPINLOCK_SPEC_TIMEOUT", "0.5")
    with socket.socket() as listener:           # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ZooError) as err:
            pull("tiny", registry=url)
    assert "timed out" in err.value.message and url in err.value.message


def test_offline_on_uncached_entry_fails_clearly_without_network(served, zoo_cache):
    server, _, _ = served
    server.stop()           # any network access would fail differently
    proc = run_cli("zoo", "pull", "tiny", "--offline", "--registry", server.url,
                   env={"SPINLOCK_SPEC_CACHE": str(zoo_cache)})
    assert proc.returncode == 2
    assert "not in the cache" in proc.stderr and "offline" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("zoo", "pull", "tiny@1.0.0", env={"SPINLOCK_SPEC_CACHE": str(zoo_cache),
                                                    "SPINLOCK_SPEC_OFFLINE": "1",
                                                    "SPINLOCK_SPEC_REGISTRY": server.url})
    assert proc.returncode == 2 and "not in the cache" in proc.stderr


def test_offline_serves_a_cached_entry(served, zoo_cache, monkeypatch):
    server, _, _ = served
    path = pull("tiny", registry=server.url)
    server.stop()
    monkeypatch.setenv("SPINLOCK_SPEC_OFFLINE", "1")
    assert pull("tiny") == path
    assert pull("tiny", "1.2.0") == path
    with pytest.raises(ZooError, match="not in the cache"):
        pull("tiny", "1.0.0")


def test_corrupted_cache_is_repaired_online_and_refused_offline(served, zoo_cache):
    server, _, stored = served
    path = pull("tiny", "1.2.0", registry=server.url)
    weights = path / "model.safetensors"
    weights.write_bytes(_flip(weights.read_bytes()))
    with pytest.raises(ZooError, match="not in the cache"):
        pull("tiny", "1.2.0", registry=server.url, offline=True)
    result = pull_entry("tiny", "1.2.0", registry=server.url)
    assert not result.from_cache
    assert weights.read_bytes() == stored["tiny@1.2.0"]["model.safetensors"]
    assert [p.name for p in (zoo_cache / ".staging").iterdir()] == []


def test_two_concurrent_cli_pulls_both_succeed_with_one_copy(tmp_path, zoo_cache):
    record, stored = simple_entry("shared", "1.0.0", weights=bytes(range(256)) * 2048)   # 512 KiB
    root = write_registry(tmp_path / "registry", [(record, stored)])
    server = start_misbehaving_server(root, tmp_path, slow=0.01)   # ~0.3 s per download
    env = dict(__import__("os").environ, SPINLOCK_SPEC_CACHE=str(zoo_cache))
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "spinlock_spec", "zoo", "pull", "shared",
                                   "--registry", server.url], cwd=str(REPO), env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        server.stop()
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert out.strip() == str(zoo_cache / "shared" / "1.0.0")
    messages = " ".join(err for _, err in outs)
    assert messages.count("pulled and verified") == 1          # the other waited on the lock
    assert messages.count("served from the cache") == 1
    assert sorted(p.name for p in (zoo_cache / "shared").iterdir()) == ["1.0.0"]
    assert list((zoo_cache / ".staging").iterdir()) == []
    for fname, data in stored.items():
        assert (zoo_cache / "shared" / "1.0.0" / fname).read_bytes() == data


def test_two_threads_pulling_together(served, zoo_cache):
    server, _, stored = served
    results, errors = [], []

    def worker():
        try:
            results.append(pull_entry("other", registry=server.url))
        except Exception as exc:         # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len({r.path for r in results}) == 1
    assert sum(not r.from_cache for r in results) == 1     # exactly one download
    assert sha((results[0].path / "model.safetensors").read_bytes()) == \
        sha(stored["other@2.0"]["model.safetensors"])
