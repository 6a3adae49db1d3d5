"""Guards around a run folder: never mix two runs, never let two writers in, never
switch the data of a run without saying so.

* :func:`prepare_out` — a new run's ``--out``: refused when it is a file or a non-empty
  folder, unless ``overwrite`` (a previous *run* folder is then removed whole: renamed
  aside first, so no file of it can end up next to the new run's files).
* :func:`RunLock` — an exclusive lock (``.lock`` in the run folder, ``filelock``) held
  by the one process writing the run; a second writer gets a clear error.
* :func:`data_fingerprint` / :func:`check_data` — the data source of a run (path, size,
  sha256 of the file's first 64 KiB and of 16 blocks spread over the rest) recorded
  in ``data_source.json`` and checked on resume.

Standard library and ``filelock`` only (this package sits below ``train``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from spinlock_spec.errors import CheckpointError, DataError
from spinlock_spec.runs.names import DATA_SOURCE_FILE, LOCK_FILE, RUN_MARKERS

_HEAD = 64 * 1024
_BLOCK = 4096
_BLOCKS = 16


# --------------------------------------------------------------------------- --out
def _writable_parent(path: Path) -> Path:
    """The nearest existing ancestor of ``path`` (where the folder will be created)."""
    parent = path.parent if str(path.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / m).is_file() for m in RUN_MARKERS)


def prepare_out(out: str | os.PathLike, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Check (and with ``overwrite`` clear) the folder a new run will write; returns it."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{option} {path}: is a file, not a folder", code="E420",
                              hint=f"give {option} a folder name (the run folder is created)")
    if path.is_dir() and any(p.name != LOCK_FILE for p in path.iterdir()):
        if not overwrite:
            kind = "a run folder" if is_run_folder(path) else "a folder that is not empty"
            raise CheckpointError(
                f"{option} {path}: is {kind}; a new run would mix its files with the old ones",
                code="E420", hint=f"continue that run with --resume {path}, replace it with --overwrite, "
                                  f"or choose another {option}")
        if not is_run_folder(path):
            raise CheckpointError(f"{option} {path}: --overwrite only replaces a run folder, and this "
                                  "folder holds no run files; nothing was removed", code="E420",
                                  hint=f"choose another {option}")
        aside = path.with_name(f".{path.name}.replaced-{os.getpid()}-{int(time.time())}")
        try:
            os.replace(path, aside)       # one rename: the old run leaves the name whole
            shutil.rmtree(aside)
        except OSError as exc:
            raise CheckpointError(f"{option} {path}: cannot remove the old run folder ({exc.strerror})",
                                  code="E420") from None
    check_writable(path, option)
    return path


def check_writable(path: Path, option: str = "--out") -> None:
    """``path`` (a folder, existing or to be created) can be written."""
    target = path if path.is_dir() else _writable_parent(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{option} {path}: is a file, not a folder", code="E420",
                              hint=f"choose another {option}")
    if not target.is_dir():
        raise CheckpointError(f"{option} {path}: {target} is not a folder", code="E420")
    if not os.access(target, os.W_OK | os.X_OK):
        raise CheckpointError(f"{option} {path}: {target} is not writable (permission denied or "
                              "read-only file system)", code="E420", hint=f"choose another {option}")
    if target != path:                 # the folder will be created: try it now (/proc, ...), then undo
        created = [p for p in (path, *path.parents) if p != target and target in p.parents]
        try:
            path.mkdir(parents=True, exist_ok=True)
            for folder in created:     # deepest first; only folders this check made, still empty
                folder.rmdir()
        except OSError as exc:
            from spinlock_spec.errors import write_reason

            raise CheckpointError(f"{option} {path}: cannot create the folder ({write_reason(exc)})",
                                  code="E420", hint=f"choose another {option}") from None


# --------------------------------------------------------------------------- lock
class RunLock:
    """Exclusive lock on a run folder while a process writes it (context manager)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._lock = None

    def acquire(self) -> RunLock:
        from filelock import FileLock, Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.folder / LOCK_FILE), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise CheckpointError(f"{self.folder}: another spinlock-spec process is writing this run "
                                  "folder", code="E421",
                                  hint="wait until it finishes (or stop it), then --resume") from None
        except OSError as exc:
            raise CheckpointError(f"{self.folder}: cannot lock the run folder ({exc.strerror})",
                                  code="E420") from None
        self._lock = lock
        return self

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# --------------------------------------------------------------------------- data source
def data_fingerprint(path: str | os.PathLike | None) -> dict[str, Any]:
    """What identifies the data of a run: ``{"path": None}`` for the embedded synthetic data,
    else the absolute path, the size and a sha256 of the head and 16 blocks of the file."""
    if path is None:
        return {"path": None}
    p = Path(path)
    try:
        size = p.stat().st_size
        digest = hashlib.sha256()
        with open(p, "rb") as fh:
            digest.update(fh.read(_HEAD))
            if size > _HEAD:
                for i in range(_BLOCKS):
                    fh.seek(_HEAD + (size - _HEAD) * i // _BLOCKS)
                    digest.update(fh.read(_BLOCK))
    except OSError as exc:
        raise DataError(f"{p}: cannot read the data file ({exc.strerror})", code="D001") from None
    return {"path": str(p.resolve()), "size": size, "sha256_sample": digest.hexdigest()}


def read_data_source(folder: Path) -> dict[str, Any] | None:
    """The run's recorded data source, or None for a run written before it was recorded."""
    path = folder / DATA_SOURCE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt JSON ({exc})", code="E401") from None
    if not isinstance(record, dict) or "path" not in record or not (
            record["path"] is None or isinstance(record["path"], str)):
        raise CheckpointError(f"{path}: not a data source record (needs 'path': a string or null)",
                              code="E401")
    return record


def _same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("size"), a.get("sha256_sample")) == (b.get("size"), b.get("sha256_sample"))


def resume_data(folder: Path, data: str | None, *, data_changed_ok: bool = False
                ) -> tuple[str | None, str | None]:
    """The data a resumed run trains on, and a line saying which (None: nothing to say).

    ``data`` given: that file (said when it is not the recorded one).  Otherwise the
    recorded file, refused when it is missing or its fingerprint changed unless
    ``data_changed_ok``."""
    record = read_data_source(folder)
    if record is None:
        return data, None
    recorded = record["path"]
    if data is not None:
        now = data_fingerprint(data)
        if now["path"] == recorded and _same_content(now, record):
            return data, None
        was = recorded if recorded is not None else "the spec's embedded synthetic data"
        return data, f"Resuming on --data {data} (given explicitly); the run was trained on {was}"
    if recorded is None:
        return None, None
    if not Path(recorded).is_file():
        raise DataError(f"--resume {folder}: the run's data file {recorded} is missing", code="D050",
                        hint="pass --data FILE to continue on another file")
    if not _same_content(data_fingerprint(recorded), record):
        if not data_changed_ok:
            raise DataError(f"--resume {folder}: the run's data file {recorded} changed since the run "
                            f"was trained (size or content differs from {DATA_SOURCE_FILE})",
                            code="D051", hint="--data-changed-ok continues on the changed file; "
                                              "--data FILE continues on another file")
        return recorded, f"Resuming on {recorded}, changed since the run was trained (--data-changed-ok)"
    return recorded, f"Resuming on the run's data {recorded}"
