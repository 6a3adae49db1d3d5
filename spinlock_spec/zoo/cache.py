"""The local zoo cache.

Layout (root = ``$SPINLOCK_SPEC_CACHE`` or the platform's user cache folder
for "spinlock-spec", plus ``zoo/``)::

    ROOT/NAME/VERSION/<entry files>      a complete, verified entry
    ROOT/NAME/VERSION/.zoo-entry.json    its completion marker: the index record
    ROOT/.staging/                       downloads in progress (never read)
    ROOT/.locks/NAME@VERSION.lock        one file lock per entry

An entry folder only ever appears by an atomic rename of a fully verified
staging folder that already holds the marker, so a folder without a marker
is never produced by this code; one found anyway (or one whose files no
longer match the marker) counts as not cached.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from spinlock_spec.errors import ZooError
from spinlock_spec.zoo import names

ENV_CACHE = "SPINLOCK_SPEC_CACHE"
MARKER = ".zoo-entry.json"
MARKER_FORMAT = "spinlock-spec-zoo-cache"
STAGING = ".staging"
LOCKS = ".locks"


def cache_root() -> Path:
    """Root of the zoo cache: ``$SPINLOCK_SPEC_CACHE`` when set, else
    ``<user cache dir of spinlock-spec>/zoo``."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("spinlock-spec", appauthor=False)) / "zoo"


def entry_path(name: str, version: str, root: Path | None = None) -> Path:
    names.check_name(name)
    names.check_version(version)
    return (root or cache_root()) / name / version


def staging_dir(root: Path | None = None) -> Path:
    return (root or cache_root()) / STAGING


def lock_path(name: str, version: str, root: Path | None = None) -> Path:
    names.check_name(name)
    names.check_version(version)
    return (root or cache_root()) / LOCKS / f"{name}@{version}.lock"


def ensure_dirs(root: Path) -> None:
    try:
        (root / STAGING).mkdir(parents=True, exist_ok=True)
        (root / LOCKS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the zoo cache in {root}: {exc.strerror or exc}", code="Z040",
                       hint=f"set {ENV_CACHE} to a writable folder") from None


def marker_record(entry_dict: dict, registry: str) -> dict:
    import datetime

    return {"format": MARKER_FORMAT, "format_version": 1, "registry": registry,
            "pulled_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "entry": entry_dict}


def read_marker(folder: Path):
    """The :class:`ZooEntry` recorded in ``folder``'s marker, or None when the
    marker is missing or unreadable."""
    from spinlock_spec.zoo.index import parse_index
    from spinlock_spec.zoo.schema import INDEX_FORMAT, INDEX_FORMAT_VERSION

    path = Path(folder) / MARKER
    if path.is_symlink() or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(4 * 1024 * 1024).decode("utf-8"))
        if data.get("format") != MARKER_FORMAT:
            return None
        wrapped = {"format": INDEX_FORMAT, "format_version": INDEX_FORMAT_VERSION,
                   "entries": [data["entry"]]}
        entries, _ = parse_index(json.dumps(wrapped).encode(), str(path))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ZooError):
        return None
    return entries[0]


def verify_folder(folder: Path, expected=None) -> tuple[object | None, str | None]:
    """Check a cached entry folder completely: marker present, every file a
    regular file with the recorded size and sha256, and (when ``expected`` is a
    :class:`ZooEntry`) the same files as ``expected``.  Returns
    ``(entry, None)`` when it is good, ``(None, reason)`` otherwise."""
    from spinlock_spec.zoo.fetch import sha256_file

    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return None, "not cached"
    entry = read_marker(folder)
    if entry is None:
        return None, f"{folder} has no valid completion marker"
    if expected is not None and sorted(entry.files, key=lambda f: f.path) != \
            sorted(expected.files, key=lambda f: f.path):
        return None, "the cached copy differs from the registry's entry"
    for f in entry.files:
        path = folder / f.path
        if path.is_symlink() or not path.is_file():
            return None, f"cached file {path} is missing"
        if path.stat().st_size != f.size:
            return None, f"cached file {path} has the wrong size"
        if sha256_file(path) != f.sha256:
            return None, f"cached file {path} fails its sha256 check"
    return entry, None


def cached_versions(name: str, root: Path | None = None) -> list[str]:
    """Versions of ``name`` with a completion marker in the cache, oldest first."""
    folder = (root or cache_root()) / names.check_name(name)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        if names.file_name_problem(child.name) is None and child.is_dir() and (child / MARKER).is_file():
            try:
                names.check_version(child.name)
            except ZooError:
                continue
            found.append(child.name)
    return sorted(found, key=names.version_key)


def list_cached(root: Path | None = None) -> list:
    """Every cached entry (by marker; files are not re-hashed)."""
    root = root or cache_root()
    entries = []
    if not root.is_dir():
        return entries
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or not child.is_dir():
            continue
        try:
            versions = cached_versions(child.name, root)
        except ZooError:
            continue
        for version in versions:
            entry = read_marker(child / version)
            if entry is not None and entry.name == child.name and entry.version == version:
                entries.append(entry)
    return entries


def remove_cached(refs: list[str] | None, root: Path | None = None) -> list[Path]:
    """Delete cached entries: ``NAME`` (every version) or ``NAME@VERSION``; every entry when
    ``refs`` is None.  Each is removed under its entry lock.  A ref not in the cache is a
    ZooError.  Returns the folders removed."""
    from filelock import FileLock

    root = root or cache_root()
    wanted = []
    cached = list_cached(root)
    if refs is None:
        wanted = [(e.name, e.version) for e in cached]
    for ref in refs or []:
        name, version = names.parse_ref(ref)
        found = [(e.name, e.version) for e in cached if e.name == name and (version is None
                                                                             or e.version == version)]
        if not found:
            raise ZooError(f"{ref} is not in the cache {root}", code="Z063",
                           hint="`spinlock-spec zoo cache list` shows what is cached")
        wanted += found
    removed = []
    for name, version in dict.fromkeys(wanted):
        folder = entry_path(name, version, root)
        lock = lock_path(name, version, root)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock), timeout=60):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
                removed.append(folder)
        parent = folder.parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    return removed


def remove_stale_staging(root: Path) -> None:
    """Delete staging folders left by processes that no longer run (a crash or
    a kill in the middle of a download).  Staging names carry the owner's pid."""
    folder = root / STAGING
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        token = next((p for p in child.name.split(".") if p.startswith("pid")), "")
        pid = int(token[3:]) if token[3:].isdigit() else None
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            try:
                child.unlink()
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True
