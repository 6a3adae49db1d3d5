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


def test_next_write_removes_stale_temp_files_of_its_name(tmp_path):
    """A killed write leaves `.tmp-NAME.*`; the next write of NAME removes it once it is older
    than STALE_TMP_S, and leaves fresh ones (a write in progress) and other names alone."""
    import os
    import time

    from spinlock_spec.atomic import STALE_TMP_S, TMP_PREFIX, atomic_write_bytes

    target = tmp_path / "tokens[1].npz"                  # glob characters in the name
    stale = tmp_path / f"{TMP_PREFIX}{target.name}.k1ll3d"
    fresh = tmp_path / f"{TMP_PREFIX}{target.name}.wr1t1ng"
    other = tmp_path / f"{TMP_PREFIX}other.npz.k1ll3d"
    for p in (stale, fresh, other):
        p.write_bytes(b"partial")
    old = time.time() - STALE_TMP_S - 30
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_bytes(target, b"complete")
    assert target.read_bytes() == b"complete"
    assert not stale.exists() and fresh.exists() and other.exists()
