"""``train --nproc 2`` with real processes on CPU (gloo): the workers die with their
parent (killed with SIGKILL, nothing writes the run folder afterwards), and a SIGTERM
to the parent stops like Ctrl-C: exit 130 and the resume hint of one process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                   reason="/proc and PR_SET_PDEATHSIG")]

SPEC = """
dataset: {synthetic: {n_samples: 3000, n_groups: 4, features_per_group: 6, seed: 3}}
families: {summary: {encoder: identity}}
training: {batch_size: 64, num_epochs: 500, use_torch_compile: false}
random_seed: 0
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(tmp_path) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "spinlock_spec", "train", str(spec), "--nproc", "2",
                             "--out", str(run), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        metrics = run / "metrics.jsonl"
        if metrics.is_file() and metrics.read_text().count("\n") >= 1:
            return proc, run
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("no epoch finished: " + (proc.communicate()[1] or ""))


def _wait_gone(pids: list[int], timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "a worker outlived its parent"


def test_workers_die_with_their_parent(tmp_path):
    proc, run = _start(tmp_path)
    workers = _children(proc.pid)
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_gone(workers)
    sizes = {p.name: p.stat().st_size for p in run.iterdir()}
    time.sleep(2)
    assert {p.name: p.stat().st_size for p in run.iterdir()} == sizes      # nothing writes any more


def test_sigterm_stops_like_ctrl_c_with_the_resume_hint(tmp_path):
    proc, run = _start(tmp_path)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=150)
    assert proc.returncode == 130, err
    assert f"(resume with --resume {run})" in err and "resumable checkpoint of epoch" in err
    _wait_gone(workers, 10)
    assert "Traceback" not in err and "internal error" not in err
