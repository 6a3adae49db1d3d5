"""Outputs that cannot be written and sizes that cannot be allocated (issue 17): each is one
located exit-2 message, never an internal error.

A full disk is a real file size limit (RLIMIT_FSIZE, set in the child process: writes past it
fail with EFBIG, as on a full device); memory is a real address-space limit (RLIMIT_AS) in a
child process."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import MINIMAL_SPEC, main_exit_code, train_tiny_run

TINY = MINIMAL_SPEC + "training:\n  batch_size: 64\n  num_epochs: 1\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("limits"), TINY)


def _limited(args, *, fsize: int, cwd: Path) -> subprocess.CompletedProcess:
    """``spinlock-spec ARGS`` in a child whose files may not grow past ``fsize`` bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-m", "spinlock_spec", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, preexec_fn=limit, timeout=300,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _assert_write_error(proc, name: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "error[E020]: cannot write" in text and name in text, text
    assert "internal error" not in text and "Traceback" not in text, text


# --------------------------------------------------------------------------- full disk
def test_full_disk_while_encoding_names_the_output(trained, tmp_path):
    run, data, _ = trained
    proc = _limited(["encode", run, "--data", data, "--out", "t.npz"], fsize=2000, cwd=tmp_path)
    _assert_write_error(proc, "t.npz")
    assert not list(tmp_path.iterdir()), "no partial or temporary file is left"


def test_full_disk_while_writing_data(tmp_path):
    proc = _limited(["data", "synth", "--out", "x.h5", "--n", 1000], fsize=2000, cwd=tmp_path)
    _assert_write_error(proc, "x.h5")
    assert not list(tmp_path.iterdir())


def test_full_disk_while_training_leaves_a_resumable_folder(trained, tmp_path):
    _, data, spec = trained
    proc = _limited(["train", spec, "--data", data, "--out", "R", "--quiet"], fsize=20000, cwd=tmp_path)
    _assert_write_error(proc, "R/")
    assert not [p for p in (tmp_path / "R").iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["report", "resume"])
def test_full_disk_in_report_and_resume(trained, tmp_path, command):
    run, _, _ = trained
    import shutil

    copy = tmp_path / "A"
    shutil.copytree(run, copy)
    args = (["report", copy, "--out", "rep"] if command == "report"
            else ["train", "--resume", copy, "--epochs", 2, "--quiet"])
    proc = _limited(args, fsize=20000, cwd=tmp_path)
    _assert_write_error(proc, "rep/" if command == "report" else str(copy))


# --------------------------------------------------------------------------- unwritable places
def test_out_that_cannot_be_created(trained, tmp_path, capsys):
    run, data, spec = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main_exit_code(["train", spec, "--out", blocker / "run"]) == 2
    err = capsys.readouterr().err
    assert "error[E420]: --out" in err and "a-file" in err and "internal error" not in err
    assert main_exit_code(["encode", run, "--data", data, "--out", blocker / "t.npz"]) == 2
    err = capsys.readouterr().err
    assert "error[E420]: --out" in err and "is a file, not a folder" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs procfs (refuses new files, even to root)")
def test_out_on_a_file_system_that_refuses_new_files(trained, capsys):
    run, data, spec = trained
    assert main_exit_code(["train", spec, "--out", "/proc/spinlock-spec-run"]) == 2
    err = capsys.readouterr().err
    assert "error[E420]: --out /proc/spinlock-spec-run: cannot create the folder" in err
    assert main_exit_code(["encode", run, "--data", data, "--out", "/proc/spinlock-spec.npz"]) == 2
    err = capsys.readouterr().err
    assert "/proc/spinlock-spec.npz" in err and "internal error" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(trained, tmp_path, capsys):
    run, data, spec = trained
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main_exit_code(["train", spec, "--out", ro / "run"]) == 2
        assert "is not writable" in capsys.readouterr().err
        assert main_exit_code(["encode", run, "--data", data, "--out", ro / "t.npz"]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- sizes
def test_hdf5_declaring_rows_it_does_not_hold(trained, tmp_path, capsys):
    run, _, spec = trained
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("features/summary/aggregated/features", shape=(10 ** 9, 60), dtype="f4",
                              chunks=(1024, 60))
        ds[:100] = np.random.default_rng(0).random((100, 60))
    assert path.stat().st_size < 10 ** 6
    for argv in (["train", spec, "--data", path, "--out", tmp_path / "R"],
                 ["encode", run, "--data", path, "--out", tmp_path / "t.npz"]):
        assert main_exit_code(argv) == 2
        err = capsys.readouterr().err
        assert ("error[D003]: " in err and "declares shape (1000000000, 60) but only 1 of its 976563 chunks"
                in err), err
    assert not (tmp_path / "R").exists() or not any((tmp_path / "R").iterdir())


def test_npz_header_declaring_more_than_it_holds(trained, tmp_path, capsys):
    run, _, _ = trained
    import io
    import zipfile

    member = io.BytesIO()                 # a .npy whose header says 10**11 rows over 100 rows of data
    np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10 ** 11, 60)})
    member.write(np.ones((100, 60), np.float32).tobytes())
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("summary.npy", member.getvalue())
    assert main_exit_code(["encode", run, "--data", path, "--out", tmp_path / "t.npz"]) == 2
    err = capsys.readouterr().err
    assert "error[D003]" in err and "lie.npz" in err and "declares shape (100000000000, 60)" in err, err


def test_loading_more_than_the_memory_allows_is_refused_before_reading(tmp_path):
    """An NPZ that expands to ~240 MB (compressed to almost nothing), loaded in a child whose
    address space leaves it ~300 MB: refused by the size check, nothing allocated."""
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, summary=np.zeros((1_000_000, 60), np.float32))
    assert path.stat().st_size < 2_000_000
    code = (
        "import resource, sys\n"
        "from spinlock_spec.data.sources import load_dataset\n"
        "from spinlock_spec.errors import DataError\n"
        "vm = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    load_dataset(sys.argv[1], ['summary'])\n"
        "except DataError as exc:\n"
        "    print(exc.code, exc.message)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("D014 ") and "loading and normalizing 1000000 rows of summary" in proc.stdout


def test_streaming_auto_decides_from_the_features_not_the_file(tmp_path):
    from spinlock_spec.data.sources import file_features_bytes
    from spinlock_spec.data.streaming import should_stream

    path = tmp_path / "compressed.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("features/summary/aggregated/features", data=np.zeros((200_000, 60), np.float32),
                         chunks=(8192, 60), compression="gzip")
    features = file_features_bytes(path, ["summary"])
    assert features == 200_000 * 60 * 4
    assert path.stat().st_size * 50 < features
    budget = features // 2                     # bigger than the file, smaller than its features
    assert path.stat().st_size < budget
    assert should_stream("auto", str(path), features, budget=budget)
    assert not should_stream("auto", str(path), features, budget=features)


def test_a_model_that_cannot_be_allocated(tmp_path, capsys):
    spec = tmp_path / "big.yaml"
    spec.write_text(TINY + "model:\n  group_embedding_dim: 1e12\n")
    assert main_exit_code(["train", spec, "--out", tmp_path / "R"]) == 2
    err = capsys.readouterr().err
    assert "model: error[E300]: the model does not fit in memory (it tried to allocate" in err, err
    assert "group_embedding_dim" in err
