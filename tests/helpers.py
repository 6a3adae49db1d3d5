"""Helpers shared by the test modules: repository paths, the CLI run three ways, spec files.

Fixtures live in conftest.py; plain functions and constants live here and are imported
(`from helpers import ...`), since pytest puts this folder on sys.path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).parent / "fixtures"

#: --set overrides that keep a training run on the embedded data small and fast.
SMALL_OVERRIDES = ["dataset.synthetic.n_samples=600", "training.batch_size=64"]
SMALL_SET_ARGS = [arg for value in SMALL_OVERRIDES for arg in ("--set", value)]

#: The smallest spec that compiles: one identity-encoded family on the embedded data.
MINIMAL_SPEC = "dataset:\n  path: null\nfamilies:\n  summary:\n    encoder: identity\nrandom_seed: 3\n"


def cli(*args, cwd=None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m spinlock_spec ARGS`` in a real subprocess (text output captured)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "spinlock_spec", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=timeout)


def cli_inproc(*args, **kw) -> tuple[int, str, str]:
    """Run the click command group in this process: (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from spinlock_spec.cli.main import cli as group

    result = CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False, **kw)
    return result.exit_code, result.stdout, result.stderr


def main_exit_code(argv) -> int:
    """Call the console entry point with ARGV and return the exit code it ends with."""
    from spinlock_spec.cli.main import main

    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code or 0
    return 0


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """A user-caused failure: exit 2, no traceback, and every needle in the output."""
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in text, text


def write_spec(folder: Path, body: str, name: str = "spec.yaml") -> Path:
    """Write BODY as FOLDER/NAME and return the path."""
    path = Path(folder) / name
    path.write_text(body)
    return path


def train_tiny_run(root: Path, spec_text: str) -> tuple[Path, Path, Path]:
    """Train ``spec_text`` on a fresh 300-row synthesized HDF5 into ``root/A`` (in this process,
    lock released): (run folder, data file, spec file)."""
    import spinlock_spec as ss

    data = root / "d.h5"
    assert main_exit_code(["data", "synth", "--out", data, "--n", 300, "--seed", 1]) == 0
    spec = root / "tiny.yaml"
    spec.write_text(spec_text)
    ss.train(spec, data=str(data), out=root / "A", quiet=True, progress=False)
    (root / "A" / ".lock").unlink(missing_ok=True)
    return root / "A", data, spec
