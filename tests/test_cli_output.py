"""The output convention of every command (spinlock_spec/cli/output.py), through real
subprocesses: bare command, exit codes in help, errors as JSON under --format json."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import cli


def test_bare_command_prints_help_and_succeeds():
    proc = cli()
    assert proc.returncode == 0, proc.stderr
    assert "Usage: spinlock-spec" in proc.stdout and "compile" in proc.stdout and "zoo" in proc.stdout


@pytest.mark.parametrize(("args", "extra"), [(["diff"], "1 the specs differ"),
                                              (["compile"], "1 a compatibility rule"),
                                              (["zoo", "pull"], None), (["encode"], None)])
def test_help_lists_exit_codes(args, extra):
    proc = cli(*args, "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "Exit codes: 0 success; 2 invalid input" in text
    if extra:
        assert extra in text


def test_report_json_prints_errors_as_json(tmp_path):
    proc = cli("report", tmp_path, "--format", "json")
    assert proc.returncode == 2
    payload = json.loads(proc.stdout)
    assert payload["ok"] is False and payload["exit_code"] == 2
    assert str(tmp_path) in payload["error"]["message"] + str(payload["error"]["location"])
    assert "Traceback" not in proc.stderr


def test_text_format_keeps_errors_off_stdout(tmp_path):
    proc = cli("report", tmp_path, "--format", "text", "--no-data")
    assert proc.returncode == 2 and proc.stdout == "" and "error[" in proc.stderr


def test_usage_error_as_json():
    proc = cli("zoo", "list", "--format", "json", "--no-such-option")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "usage"


def test_doctor_reports_versions_devices_and_locations(tmp_path):
    import torch

    import spinlock_spec

    env = {**os.environ, "SPINLOCK_SPEC_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "spinlock_spec", "doctor", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["spinlock_spec"] == spinlock_spec.__version__ and facts["torch"] == torch.__version__
    assert facts["cuda_build"] == torch.version.cuda
    assert facts["cuda_available"] == torch.cuda.is_available()
    assert len(facts["devices"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert facts["zoo_cache"] == str(tmp_path / "cache")
    text = cli("doctor").stdout
    assert "torch:" in text and torch.__version__ in text and "zoo cache:" in text


def test_progress_lines_only_for_slow_work():
    import io
    import time

    from spinlock_spec.cli.progress import Progress

    quick = io.StringIO()
    with Progress("encode", after=0.5, stream=quick) as p:
        p.stage("loading")
    assert quick.getvalue() == ""
    slow = io.StringIO()
    with Progress("encode", after=0.2, every=0.4, stream=slow) as p:
        p.stage("loading the run")
        time.sleep(0.5)
        p.stage("encoding 10 rows")
        time.sleep(0.7)
    lines = slow.getvalue().splitlines()
    assert lines[0] == "encode: loading the run..." and lines[1] == "encode: encoding 10 rows..."
    assert any(line.startswith("encode: encoding 10 rows... (") for line in lines[2:-1])
    assert lines[-1].startswith("encode: done in ")


def test_one_install_story_in_readme_and_quickstart():
    from helpers import ROOT

    def commands(path):
        return [line.split("#")[0].strip() for line in (ROOT / path).read_text().splitlines()
                if line.startswith("pip install")]

    readme, quickstart = commands("README.md"), commands("docs/quickstart.md")
    assert readme and quickstart == readme[:len(quickstart)]
    assert readme == ['pip install torch==2.13.0 -e ".[dev]"']     # one install command, torch pinned
    for path in ("README.md", "docs/quickstart.md", "docs/troubleshooting.md"):
        text = (ROOT / path).read_text()
        assert "pip install spinlock-spec" not in text and 'pip install "spinlock-spec' not in text, path


def test_data_inspect_json(tmp_path):
    from helpers import cli_inproc

    data = tmp_path / "d.h5"
    assert cli_inproc("data", "synth", "--out", data, "--n", 50, "--families", "summary,temporal")[0] == 0
    code, out, _ = cli_inproc("data", "inspect", data, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["rows"] == 50 and doc["shapes"]["temporal"] == [32, 8]


def test_train_json_error_is_one_event_line(tmp_path):
    proc = cli("train", tmp_path / "missing.yaml", "--log-format", "json")
    assert proc.returncode == 2
    (line,) = proc.stdout.splitlines()
    event = json.loads(line)
    assert event["event"] == "error" and event["ok"] is False and "missing.yaml" in json.dumps(event)
