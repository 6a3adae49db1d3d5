"""Pulling a zoo entry into the cache (and optionally a folder of the user's).

The guarantees, in order:

1. Every file name of the entry is checked before anything is written
   (:func:`spinlock_spec.zoo.names.check_file_name`).
2. Files are downloaded into a private staging folder inside the cache and
   verified (size and sha256) while they stream in.
3. Only a fully verified staging folder, completion marker included, becomes
   the entry folder, by one ``os.replace``.  On any failure the staging folder
   is deleted: the cache is left exactly as it was.
4. A file lock per entry serialises concurrent pulls; the second one finds the
   finished entry and is served from the cache.
5. A cached entry is re-verified (sha256 of every file) before it is used.
6. Offline (``offline=True`` or ``SPINLOCK_SPEC_OFFLINE=1``) no registry is
   read at all; only verified cached entries are served.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from spinlock_spec.errors import ZooError
from spinlock_spec.zoo import cache, names
from spinlock_spec.zoo.fetch import EntryFolder, Progress, Source, copy_verified
from spinlock_spec.zoo.index import ZooEntry, default_registry, load_index, write_json_atomic

ENV_OFFLINE = "SPINLOCK_SPEC_OFFLINE"
LOCK_TIMEOUT_S = 600.0

Log = Callable[[str], None]


def offline_from_env() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class PullResult:
    path: Path                 # folder holding the entry's files
    entry: ZooEntry
    from_cache: bool           # True when nothing had to be downloaded
    note: str | None = None    # e.g. "registry unreachable, using the cached version"

    @property
    def spec_path(self) -> Path:
        return self.path / self.entry.spec


def _lock(path: Path):
    from filelock import FileLock

    return FileLock(str(path), timeout=LOCK_TIMEOUT_S)


def _acquire(lock, label: str):
    from filelock import Timeout

    try:
        lock.acquire()
    except Timeout:
        raise ZooError(f"zoo entry {label}: another pull has held {lock.lock_file} for "
                       f"{LOCK_TIMEOUT_S:.0f} s", code="Z041",
                       hint="wait for it to finish, or delete the lock file if no pull is running") from None


def _stage_entry(entry: ZooEntry, source: Source, staging: Path, registry_label: str) -> None:
    """Download and verify every file of ``entry`` into the empty folder ``staging``,
    then write the completion marker there."""
    for f in entry.files:
        names.check_file_name(f.path, entry.ref)
        label = f"zoo entry {entry.ref}, file {f.path}"
        location = source.file_location(entry.name, entry.version, f.path)
        stream, declared = source.open_file(entry.name, entry.version, f.path)
        target = staging / f.path
        progress = Progress(f"{entry.ref} {f.path}", f.size) if source.remote else None
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
            with os.fdopen(fd, "wb") as sink:
                copy_verified(stream, sink, size=f.size, sha256=f.sha256, label=label,
                              location=location, declared_length=declared, progress=progress)
                sink.flush()
                os.fsync(sink.fileno())
        finally:
            stream.close()
            if progress is not None:
                progress.close()
    write_json_atomic(staging / cache.MARKER, cache.marker_record(entry.to_dict(), registry_label))


def materialize(entry: ZooEntry, source: Source, target: Path, *, staging_root: Path,
                registry_label: str) -> bool:
    """Make ``target`` a verified copy of ``entry`` taken from ``source``.
    The caller holds the entry's lock.  Returns True when ``target`` already
    was a verified copy (nothing fetched)."""
    for f in entry.files:                      # before any write
        names.check_file_name(f.path, entry.ref)
    good, _ = cache.verify_folder(target, expected=entry)
    if good is not None:
        return True
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.ref}.pid{os.getpid()}.", dir=staging_root))
    trash: Path | None = None
    try:
        _stage_entry(entry, source, staging, registry_label)
        os.chmod(staging, 0o755)       # mkdtemp makes it private; the entry folder is not
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            # an older, corrupt or different copy: move it aside, then swap
            trash = Path(tempfile.mkdtemp(prefix=f".old-{entry.ref}.pid{os.getpid()}.", dir=staging_root))
            os.replace(target, trash / "entry")
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(trash / "entry", target)
                raise
        else:
            os.replace(staging, target)
    except OSError as exc:
        raise ZooError(f"zoo entry {entry.ref}: cannot write {target}: {exc.strerror or exc}",
                       code="Z040") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    return False


def _cached_hit(name: str, version: str, root: Path) -> ZooEntry | None:
    folder = root / name / version
    entry, _ = cache.verify_folder(folder)
    if entry is not None and entry.name == name and entry.version == version:
        return entry
    return None


def _newest_cached(name: str, root: Path) -> ZooEntry | None:
    for version in reversed(cache.cached_versions(name, root)):
        entry = _cached_hit(name, version, root)
        if entry is not None:
            return entry
    return None


def _offline(name: str, version: str | None, root: Path) -> PullResult:
    if version is not None:
        entry = _cached_hit(name, version, root)
    else:
        entry = _newest_cached(name, root)
    if entry is None:
        what = f"{name}@{version}" if version else name
        cached = cache.cached_versions(name, root)
        extra = f" (cached versions: {', '.join(cached)})" if cached and version else ""
        raise ZooError(f"zoo entry {what} is not in the cache {root}{extra}, and offline mode "
                       "forbids downloading it", code="Z050",
                       hint=f"run `spinlock-spec zoo pull {what}` once without --offline "
                            f"(and with {ENV_OFFLINE} unset)")
    return PullResult(root / entry.name / entry.version, entry, True)


def pull_entry(name: str, version: str | None = None, registry: str | os.PathLike | None = None,
               dest: str | os.PathLike | None = None, offline: bool | None = None,
               log: Log | None = None) -> PullResult:
    """Pull ``name[@version]`` and describe what happened (see :func:`pull`)."""
    names.check_name(name)
    if version is not None:
        names.check_version(version)
    offline = offline_from_env() if offline is None else bool(offline)
    root = cache.cache_root()

    if offline:
        result = _offline(name, version, root)
    else:
        result = None
        if version is not None:
            hit = _cached_hit(name, version, root)
            if hit is not None:              # versions are immutable: no network needed
                result = PullResult(root / name / version, hit, True)
        if result is None:
            result = _online(name, version, registry, root, log)
    if dest is not None:
        result = _copy_to_dest(result, Path(dest), root)
    return result


def _online(name, version, registry, root: Path, log: Log | None) -> PullResult:
    registry = registry if registry is not None else default_registry()
    try:
        index = load_index(registry)
    except ZooError as exc:
        # unreachable registry: an unversioned pull may fall back to the newest cached copy
        fallback = _newest_cached(name, root) if version is None and exc.code in ("Z023", "Z024") else None
        if fallback is None:
            raise
        return PullResult(root / fallback.name / fallback.version, fallback, True,
                          note=f"registry unreachable ({exc.message}); using the cached "
                               f"{fallback.ref}")
    entry = index.get(name, version)
    for f in entry.files:
        names.check_file_name(f.path, entry.ref)
    cache.ensure_dirs(root)
    cache.remove_stale_staging(root)
    target = root / entry.name / entry.version
    lock = _lock(cache.lock_path(entry.name, entry.version, root))
    _acquire(lock, entry.ref)
    try:
        if log is not None and cache.verify_folder(target, expected=entry)[0] is None:
            log(f"pulling {entry.ref} from {index.location}")
        was_cached = materialize(entry, index.source, target, staging_root=cache.staging_dir(root),
                                 registry_label=index.location)
    finally:
        lock.release()
    return PullResult(target, entry, was_cached)


def _copy_to_dest(result: PullResult, dest: Path, root: Path) -> PullResult:
    """Copy a verified cached entry into the user's folder ``dest`` (atomically)."""
    dest = dest.expanduser().absolute()
    entry = result.entry
    if dest.exists() and not dest.is_dir():
        raise ZooError(f"--dest {dest} exists and is not a folder", code="Z042")
    if dest.is_dir() and any(dest.iterdir()):
        good, _ = cache.verify_folder(dest, expected=entry)
        if good is None:
            raise ZooError(f"--dest {dest} is not empty and does not hold {entry.ref}; refusing to "
                           "overwrite it", code="Z042", hint="choose a new or empty folder")
        return PullResult(dest, entry, True, result.note)
    cache.ensure_dirs(root)
    import hashlib

    key = hashlib.sha256(str(dest).encode()).hexdigest()[:16]
    lock = _lock(root / cache.LOCKS / f"dest-{key}.lock")
    _acquire(lock, entry.ref)
    try:
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        was_there = materialize(entry, EntryFolder(result.path), dest, staging_root=dest.parent,
                                registry_label=f"cache {result.path}")
    finally:
        lock.release()
    return PullResult(dest, entry, result.from_cache and was_there, result.note)


def pull(name: str, version: str | None = None, registry: str | os.PathLike | None = None,
         dest: str | os.PathLike | None = None, offline: bool = False) -> Path:
    """Pull zoo entry ``name`` (``version`` default: the newest) and return the
    local folder holding its verified files.

    ``name`` may also be a reference ``zoo:NAME@VERSION``.  ``registry`` is an
    http(s) URL, a folder or an index file (default ``SPINLOCK_SPEC_REGISTRY``,
    else the bundled zoo).  ``dest`` also copies the entry into that folder
    (which must be new or empty) and returns it.  ``offline`` (or
    ``SPINLOCK_SPEC_OFFLINE=1``) serves only cached entries.
    """
    if version is None and ("@" in name or name.startswith(names.REF_PREFIX)):
        name, version = names.parse_ref(name)
    return pull_entry(name, version, registry=registry, dest=dest,
                      offline=True if offline else None).path
