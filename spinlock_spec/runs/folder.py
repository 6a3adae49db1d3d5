"""The run folder writer: atomic file writes and multi-file commits.

Every file of a run is written to a temporary name in the same folder, flushed,
fsynced and moved over the final name with ``os.replace`` so that a reader (or
a resumed run after a crash / Ctrl-C) only ever sees a complete old or a
complete new version.  The folder itself is created on the first write, so a
run that fails before writing anything leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np

from spinlock_spec.atomic import TMP_PREFIX as _TMP_PREFIX
from spinlock_spec.atomic import atomic_write_bytes
from spinlock_spec.errors import output_error

_defer_depth = 0


def to_jsonable(obj: Any) -> Any:
    """Plain-JSON version of metric/config structures (numpy and torch scalars included)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return _finite_or_none(float(obj))
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        return _finite_or_none(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):      # torch tensors
        return to_jsonable(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _finite_or_none(x: float) -> float | None:
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=False, allow_nan=False)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block is done (used around multi-file checkpoint writes);
    also a SIGTERM when a handler takes it as Ctrl-C (cli/launcher.py's children).

    Only possible in the main thread; elsewhere the block simply runs.  Nested
    blocks are part of the outermost one (the interrupt is raised when it ends).
    """
    global _defer_depth
    if _defer_depth or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def _remember(signum, frame):  # noqa: ARG001
        received.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, _remember)
    except ValueError:     # not allowed here (embedded interpreter)
        yield
        return
    previous_term = signal.getsignal(signal.SIGTERM)
    if previous_term not in (signal.SIG_DFL, signal.SIG_IGN, None):
        signal.signal(signal.SIGTERM, _remember)   # SIGTERM taken as Ctrl-C (--nproc children)
    _defer_depth += 1
    try:
        yield
    finally:
        _defer_depth -= 1
        signal.signal(signal.SIGINT, previous)
        if previous_term not in (signal.SIG_DFL, signal.SIG_IGN, None):
            signal.signal(signal.SIGTERM, previous_term)
    if received:            # only reached when the block itself did not raise
        raise KeyboardInterrupt


class RunDir:
    """A run output folder.  Nothing is created until the first write."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @classmethod
    def new(cls, parent: str | os.PathLike, spec_name: str) -> RunDir:
        """``parent/<spec_name>-<YYYYmmdd-HHMMSS>`` (with a suffix if that exists already)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(parent) / f"{spec_name}-{stamp}"
        candidate, n = base, 1
        while candidate.exists():
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        return cls(candidate)

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return (self.path / name).is_file()

    # -- writers -----------------------------------------------------------------
    def write_bytes(self, name: str, data: bytes) -> Path:
        target = self.path / name
        atomic_write_bytes(target, data)
        return target

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, obj: Any) -> Path:
        return self.write_text(name, dumps_json(obj) + "\n")

    def write_npz(self, name: str, arrays: dict[str, np.ndarray] | None = None, **kw: np.ndarray
                  ) -> Path:
        buf = io.BytesIO()
        np.savez(buf, **{**(arrays or {}), **kw})
        return self.write_bytes(name, buf.getvalue())

    def write_jsonl(self, name: str, records: list[Any]) -> Path:
        text = "".join(dumps_json(r, indent=None) + "\n" for r in records)
        return self.write_text(name, text)

    def append_jsonl(self, name: str, record: Any) -> Path:
        """Append one line; a single ``write`` on an O_APPEND file, flushed and fsynced.

        (The trainer rewrites the whole file atomically on resume, so a line of an
        epoch whose checkpoint never landed does not survive.)
        """
        target = self.path / name
        line = (dumps_json(record, indent=None) + "\n").encode("utf-8")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:                  # disk full, size limit, read-only: E020
            raise output_error(target, exc) from None
        return target

    # -- readers -----------------------------------------------------------------
    def read_json(self, name: str) -> Any:
        with open(self.path / name, encoding="utf-8") as fh:
            return json.load(fh)

    def clean_temp_files(self) -> list[Path]:
        """Remove ``.tmp-*`` files left by writes that were killed (only the process holding
        the run's lock writes it, so none of them is in flight)."""
        removed = self.leftover_temp_files()
        for p in removed:
            with contextlib.suppress(OSError):
                p.unlink()
        return removed

    def leftover_temp_files(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.name.startswith(_TMP_PREFIX))
