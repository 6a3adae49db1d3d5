"""Atomic writes: complete files only, no temporary leftovers, ordinary permissions."""
import os
import stat

import pytest

from spinlock_spec.atomic import atomic_write_bytes, atomic_write_text


def test_written_files_get_the_umask_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a" / "f.json", "{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a" / "f.json").stat().st_mode)
    assert mode == 0o644
    assert (tmp_path / "a" / "f.json").read_text() == "{}"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")


    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())          # not bytes: the write fails midway
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
