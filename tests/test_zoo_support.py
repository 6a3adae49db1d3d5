"""Helpers for the zoo tests: build registry folders, serve them over real HTTP
on 127.0.0.1, snapshot a cache.  (Imported by the other test_zoo_* modules.)"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path


from helpers import MINIMAL_SPEC as SPEC_TEXT  # noqa: F401  (re-exported to the zoo tests)
from helpers import ROOT as REPO
from helpers import cli


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_record(path: str, data: bytes, role: str) -> dict:
    return {"path": path, "sha256": sha(data), "size": len(data), "role": role}


def entry_record(name: str, version: str, files: dict[str, tuple[bytes, str]], **over) -> dict:
    spec = next(p for p, (_, role) in files.items() if role == "spec")
    record = {
        "name": name, "version": version, "description": f"test entry {name}", "spec": spec,
        "files": [file_record(p, data, role) for p, (data, role) in files.items()],
        "metrics": {"quality": 0.9, "utilization": 0.5}, "training_data": {"description": "synthetic"},
        "spec_hash": None, "license": "MIT", "needs_dataset": False,
    }
    record.update(over)
    return record


def write_registry(root: Path, entries: list[tuple[dict, dict[str, bytes]]]) -> Path:
    """A registry folder: ``root/index.json`` + ``root/NAME/VERSION/FILE`` for
    each (index record, {file name: bytes actually stored})."""
    root.mkdir(parents=True, exist_ok=True)
    for record, stored in entries:
        folder = root / record["name"] / record["version"]
        folder.mkdir(parents=True, exist_ok=True)
        for fname, data in stored.items():
            if "/" in fname or "\\" in fname or fname.startswith("."):
                continue                         # hostile names are only in the index
            (folder / fname).write_bytes(data)
    index = {"format": "spinlock-spec-zoo", "format_version": 1,
             "entries": [record for record, _ in entries]}
    (root / "index.json").write_text(json.dumps(index, indent=1))
    return root


def simple_entry(name="tiny", version="1.0.0", weights: bytes | None = None):
    """(record, stored) of an entry with a spec and (default 300 KiB) weights."""
    weights = weights if weights is not None else os.urandom(300 * 1024)
    files = {"spec.yaml": (SPEC_TEXT.encode(), "spec"),
             "model.safetensors": (weights, "weights"),
             "categories.json": (b'{"categories": [[0, 1], [2]]}', "categories")}
    record = entry_record(name, version, files)
    return record, {p: data for p, (data, _) in files.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not answer")


class Server:
    """A real HTTP server in a subprocess, bound to 127.0.0.1."""

    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}/"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_http_server(directory: Path) -> Server:
    """``python -m http.server`` serving ``directory`` on a free 127.0.0.1 port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(proc, port)
    try:
        wait_until_up(server.url + "index.json", proc)
    except Exception:
        server.stop()
        raise
    return server


# A tiny http.server variant: paths listed in TRUNCATE get an honest
# Content-Length but only half of the body before the connection closes;
# with SLOW > 0 every 16 KiB chunk is followed by a pause.
MISBEHAVING_SERVER = textwrap.dedent('''
    import functools, http.server, os, sys, time
    directory, port, slow = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    truncate = set(sys.argv[4:])

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        def log_message(self, *args):
            pass
        def do_GET(self):
            path = self.translate_path(self.path)
            if not os.path.isfile(path):
                self.send_error(404)
                return
            data = open(path, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            body = data[: len(data) // 2] if self.path.lstrip("/") in truncate else data
            for i in range(0, len(body), 16384):
                self.wfile.write(body[i:i + 16384])
                self.wfile.flush()
                if slow:
                    time.sleep(slow)
            self.close_connection = True

    handler = functools.partial(Handler, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
''')


def start_misbehaving_server(directory: Path, tmp: Path, *, truncate=(), slow: float = 0.0) -> Server:
    script = tmp / "misbehaving_server.py"
    script.write_text(MISBEHAVING_SERVER)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), str(directory), str(port), str(slow), *truncate],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port)
    try:
        wait_until_up(server.url + "index.json", proc)
    except Exception:
        server.stop()
        raise
    return server


def snapshot(root: Path) -> dict[str, str]:
    """Every path under a cache root with a digest of its content, except the
    lock files (which stay by design) and the empty staging folder itself."""
    state = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == ".locks" or rel.startswith(".locks/") or rel == ".staging":
            continue
        state[rel] = sha(path.read_bytes()) if path.is_file() else "dir"
    return state


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, run from the repository root."""
    return cli(*args, cwd=REPO, env=env, timeout=timeout)

