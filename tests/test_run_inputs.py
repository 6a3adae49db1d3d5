"""Inputs that used to end as an internal error or hang (issue 17): specs are read only
from regular files and with a size bound (``extends: /dev/zero``, a FIFO), and
``random_seed`` outside 0..2**32-1 is a located schema error."""
from __future__ import annotations

import os
import sys

import pytest

from helpers import main_exit_code


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_extends_a_device_is_refused(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("extends: /dev/zero\nfamilies:\n  summary:\n    encoder: identity\n")
    assert main_exit_code(["compile", spec]) == 2
    err = capsys.readouterr().err
    assert "error[E103]: /dev/zero is not a regular file" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "win32", reason="needs FIFOs")
def test_extends_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    os.mkfifo(tmp_path / "base.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text("extends: base.yaml\nfamilies:\n  summary:\n    encoder: identity\n")
    assert main_exit_code(["compile", spec]) == 2
    assert "base.yaml is not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "4294967296", "9" * 30])
def test_random_seed_out_of_range_is_a_located_error(tmp_path, capsys, seed):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"dataset:\n  path: null\nfamilies:\n  summary:\n    encoder: identity\nrandom_seed: {seed}\n")
    assert main_exit_code(["compile", spec]) == 2
    err = capsys.readouterr().err
    assert f"{spec.name}:6:" in err and "random_seed" in err and "internal error" not in err
