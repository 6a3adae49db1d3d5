"""Spec and registry inputs that used to end as an internal error or be trusted (issue 17):
a zoo entry's spec may only extend files of its own entry, a malformed registry URL is
Z002, an over-long integer literal is a short located E100, ``--set`` errors are located
at the --set argument, and a normalization_stats.npz of another run is refused."""
from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

import spinlock_spec as ss
from helpers import MINIMAL_SPEC, main_exit_code
from test_zoo_support import entry_record, write_registry


def _registry(tmp_path, spec_text: str, extra: dict[str, bytes] | None = None):
    files = {"spec.yaml": (spec_text.encode(), "spec")}
    files.update({name: (data, "config") for name, data in (extra or {}).items()})
    record = entry_record("evil", "1.0.0", files)
    return write_registry(tmp_path / "registry", [(record, {p: d for p, (d, _) in files.items()})])


@pytest.mark.parametrize("target", ["/etc/hostname", "../../../outside.yaml", "/dev/zero"])
def test_a_zoo_entry_may_not_extend_outside_itself(tmp_path, zoo_cache, monkeypatch, capsys, target):
    (tmp_path / "outside.yaml").write_text(MINIMAL_SPEC)
    root = _registry(tmp_path, f"extends: {target}\n" + MINIMAL_SPEC)
    monkeypatch.setenv("SPINLOCK_SPEC_REGISTRY", str(root))
    child = tmp_path / "child.yaml"
    child.write_text("extends: zoo:evil\n")
    for spec in ("zoo:evil", child):
        assert main_exit_code(["compile", spec]) == 2
        err = capsys.readouterr().err
        assert "error[E112]: a zoo entry's spec may only extend files of its own entry" in err, err
        assert "spec.yaml:1:" in err and target in err


def test_a_zoo_entry_may_extend_its_own_files(tmp_path, zoo_cache, monkeypatch, capsys):
    root = _registry(tmp_path, "extends: base.yaml\ntraining:\n  num_epochs: 7\n",
                     {"base.yaml": MINIMAL_SPEC.encode()})
    monkeypatch.setenv("SPINLOCK_SPEC_REGISTRY", str(root))
    assert main_exit_code(["compile", "zoo:evil", "--print"]) == 0
    assert "num_epochs: 7" in capsys.readouterr().out


@pytest.mark.parametrize("url, why", [("http://[::1", "Invalid IPv6 URL"), ("http://", "no host"),
                                      ("http://127.0.0.1:99999/", "Port out of range"),
                                      ("http://exa mple.com/", "spaces or control characters")])
def test_malformed_registry_url(url, why, zoo_cache, capsys):
    assert main_exit_code(["zoo", "list", "--registry", url]) == 2
    err = capsys.readouterr().err
    assert f"error[Z002]: malformed registry URL {url!r}: {why}" in err, err


def test_integer_literal_over_4300_digits(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL_SPEC + "training:\n  batch_size: " + "9" * 5000 + "\n")
    assert main_exit_code(["compile", spec]) == 2
    err = capsys.readouterr().err
    assert "spec.yaml:8:15: error[E100]: cannot read '9999" in err and "(5000 characters) as int" in err, err
    assert len(err) < 400


@pytest.mark.parametrize("option, message", [
    ("training.batch_size=abc", "--set training.batch_size=abc: error[E201]: training.batch_size must be integer"),
    ("training.batchsize=3", "--set training.batchsize=3: error[E200]: unknown key 'batchsize' in training"),
    ("=3", "--set: error[E108]: --set needs KEY=VALUE"),
])
def test_set_errors_are_located_at_the_set_argument(tmp_path, capsys, option, message):
    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL_SPEC)
    assert main_exit_code(["compile", spec, "--set", option]) == 2
    err = capsys.readouterr().err
    assert message in err and "spec.yaml:" not in err, err


def _opens(path, call) -> int:
    """How many times ``call()`` opens ``path`` (the interpreter's "open" audit events)."""
    seen, listening = [], [True]

    def hook(event, args):
        if listening[0] and event == "open" and isinstance(args[0], (str, os.PathLike)) \
                and os.fspath(args[0]) == os.fspath(path):
            seen.append(event)

    sys.addaudithook(hook)          # hooks cannot be removed: this one goes quiet after the call
    try:
        call()
    finally:
        listening[0] = False
    return len(seen)


def test_normalization_stats_of_another_run_are_refused(tmp_path, capsys):
    """The statistics are read once when a run is loaded (parsed and hashed from the same
    bytes), and a file of another run (same shapes, other statistics) is refused."""
    data = tmp_path / "d.h5"
    assert main_exit_code(["data", "synth", "--out", data, "--n", 300, "--seed", 1]) == 0
    for name, seed in (("A", 3), ("B", 4)):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(MINIMAL_SPEC.replace("random_seed: 3", f"random_seed: {seed}")
                        + "training:\n  batch_size: 64\n  num_epochs: 1\n")
        ss.train(spec, data=str(data), out=tmp_path / name, quiet=True, progress=False)
        (tmp_path / name / ".lock").unlink(missing_ok=True)
    assert _opens(tmp_path / "A" / "normalization_stats.npz", lambda: ss.load_run(tmp_path / "A")) == 1
    a, b = (np.load(tmp_path / n / "normalization_stats.npz") for n in "AB")
    assert any(not np.array_equal(a[k], b[k]) for k in a.files if a[k].dtype.kind == "f")  # really different
    shutil.copy(tmp_path / "B" / "normalization_stats.npz", tmp_path / "A" / "normalization_stats.npz")
    capsys.readouterr()
    assert main_exit_code(["encode", tmp_path / "A", "--data", data, "--out", tmp_path / "t.npz"]) == 2
    err = capsys.readouterr().err
    assert "error[D013]" in err and "is not the file the weights of best_model.json were trained with" in err
    assert main_exit_code(["train", "--resume", tmp_path / "A", "--epochs", 2]) == 2
    assert "error[D013]" in capsys.readouterr().err


def test_resume_refuses_a_config_yaml_of_another_run(tmp_path, capsys):
    """Found by the slow property test: a config.yaml swapped in from another run resumed
    (with exit 0) into other tokens."""
    data = tmp_path / "d.h5"
    assert main_exit_code(["data", "synth", "--out", data, "--n", 300, "--seed", 1]) == 0
    spec = tmp_path / "A.yaml"
    spec.write_text(MINIMAL_SPEC + "training:\n  batch_size: 64\n  num_epochs: 1\n")
    ss.train(spec, data=str(data), out=tmp_path / "A", quiet=True, progress=False)
    (tmp_path / "A" / ".lock").unlink(missing_ok=True)
    config = tmp_path / "A" / "config.yaml"
    config.write_text(config.read_text().replace("random_seed: 3", "random_seed: 4"))
    capsys.readouterr()
    assert main_exit_code(["train", "--resume", tmp_path / "A", "--epochs", 2]) == 2
    err = capsys.readouterr().err
    assert "error[E403]" in err and "does not match the spec this run was trained with" in err, err
