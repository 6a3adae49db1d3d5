"""Atomic file writes shared by every layer (standard library and ``errors`` only).

A file is written to a temporary name in its folder, flushed, fsynced and moved
over the final name with ``os.replace``: a reader only ever sees a complete old
or a complete new version, and a crash leaves no partial file behind.  The file
gets the permissions a plain ``open`` would give it (0666 less the umask), not the
private 0600 of a temporary file.  A write that fails (disk full, file size limit,
read-only, permission) is one :class:`~spinlock_spec.errors.OutputError` (E020) naming the
file; the temporary file is removed.  Temporary files of the same name that a killed write
left behind (older than :data:`STALE_TMP_S`) are removed by the next write of that name."""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from pathlib import Path

from spinlock_spec.errors import output_error

TMP_PREFIX = ".tmp-"
STALE_TMP_S = 60.0       # older than this, a temporary file of our name is no write in progress


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + os.replace)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    started = time.time()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=folder)
    except OSError as exc:                     # read-only, permission, a parent that is a file
        raise output_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
        _remove_stale(folder, path.name, started - STALE_TMP_S)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):           # disk full (ENOSPC), size limit (EFBIG), ...
            raise output_error(path, exc) from None
        raise


def _remove_stale(folder: Path, name: str, before: float) -> None:
    """Remove ``.tmp-NAME.*`` files in ``folder`` last written before ``before`` (epoch s)."""
    with contextlib.suppress(OSError):
        for leftover in folder.glob(glob.escape(TMP_PREFIX + name) + ".*"):
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < before:
                    leftover.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
