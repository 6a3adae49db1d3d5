"""Where zoo bytes come from: an http(s) registry, a registry folder, or an
entry folder (the cache).  Every file is streamed through
:func:`copy_verified`, which counts and hashes the bytes and refuses them
unless size and sha256 match the index.  Nothing here decides where files end
up; :mod:`spinlock_spec.zoo.pull` does that.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from spinlock_spec.errors import ZooError

ENV_TIMEOUT = "SPINLOCK_SPEC_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
MAX_INDEX_BYTES = 16 * 1024 * 1024
CHUNK = 256 * 1024
INDEX_FILE = "index.json"


def timeout_s() -> float:
    raw = os.environ.get(ENV_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ZooError(f"{ENV_TIMEOUT}={raw!r} is not a number of seconds", code="Z002") from None
    if not value > 0 or value == float("inf"):       # NaN compares false
        raise ZooError(f"{ENV_TIMEOUT}={raw!r} must be a positive, finite number of seconds", code="Z002")
    return value


def is_url(text: str) -> bool:
    try:
        return urllib.parse.urlsplit(text).scheme.lower() in ("http", "https")
    except ValueError:                      # "http://[::1": a URL, malformed (open_registry says so)
        return text.lower().startswith(("http:", "https:"))


def check_url(text: str) -> None:
    """An http(s) registry URL must parse, name a host and a valid port, and hold no spaces."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port                          # noqa: B018 - raises ValueError for a bad port
        problem = ("no host" if not parts.hostname
                   else "spaces or control characters" if any(c.isspace() or ord(c) < 32 for c in text)
                   else None)
    except ValueError as exc:
        problem = str(exc)
    if problem:
        raise ZooError(f"malformed registry URL {text!r}: {problem}", code="Z002",
                       hint="write e.g. https://host/zoo/ or a folder")


# --------------------------------------------------------------------------- progress

class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, *, min_size: int = 64 * 1024):
        self.label = label
        self.total = total
        self.done = 0
        self._last = 0.0
        self.enabled = (bool(getattr(sys.stderr, "isatty", lambda: False)())
                        and (total is None or total >= min_size))

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (self.total is None or self.done < self.total):
            return
        self._last = now
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 30)
            text = f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% {_mib(self.done)}/{_mib(self.total)}"
        else:
            text = f"\r{self.label} {_mib(self.done)}"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


# --------------------------------------------------------------------------- verification

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_verified(stream: BinaryIO, sink: BinaryIO, *, size: int, sha256: str, label: str,
                  location: str, declared_length: int | None = None,
                  progress: Progress | None = None) -> None:
    """Copy ``stream`` into ``sink``; raise :class:`ZooError` unless exactly ``size``
    bytes with the given ``sha256`` arrived.  Never reads more than ``size + 1``
    bytes, so a registry sending too much cannot fill the disk."""
    if declared_length is not None and declared_length != size:
        raise ZooError(f"{label}: wrong size from {location}: the server announces "
                       f"{declared_length} bytes, the index says {size}",
                       code="Z021", hint="the registry's file and its index disagree; nothing was kept")
    digest = hashlib.sha256()
    received = 0
    while True:
        want = min(CHUNK, size + 1 - received)
        try:
            chunk = stream.read(want) if want > 0 else b""
        except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
            raise ZooError(f"{label}: download from {location} broke off after {received} of {size} "
                           f"bytes ({_describe_exc(exc)})", code="Z023",
                           hint="try again; nothing was kept") from None
        if not chunk:
            break
        received += len(chunk)
        if received > size:
            raise ZooError(f"{label}: wrong size from {location}: more than the {size} bytes "
                           "the index announces", code="Z021",
                           hint="the registry's file and its index disagree; nothing was kept")
        digest.update(chunk)
        sink.write(chunk)
        if progress is not None:
            progress.update(len(chunk))
    if received < size:
        if declared_length is not None:
            raise ZooError(f"{label}: truncated body from {location}: got {received} of "
                           f"{declared_length} bytes", code="Z023", hint="try again; nothing was kept")
        raise ZooError(f"{label}: wrong size from {location}: got {received} bytes, the index says {size}",
                       code="Z021", hint="the registry's file and its index disagree; nothing was kept")
    actual = digest.hexdigest()
    if actual != sha256:
        raise ZooError(f"{label}: checksum mismatch for {location}: sha256 {actual}, "
                       f"the index says {sha256}", code="Z022",
                       hint="the file is corrupt or was tampered with; nothing was kept")


def _describe_exc(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed early"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out after {timeout_s():g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc) or type(exc).__name__
    return text


# --------------------------------------------------------------------------- sources

class Source:
    """A place that holds an index and entry files."""

    location: str = ""
    remote: bool = False

    def read_index(self) -> bytes:          # pragma: no cover - interface
        raise NotImplementedError

    def file_location(self, name: str, version: str, filename: str) -> str:   # pragma: no cover
        raise NotImplementedError

    def open_file(self, name: str, version: str, filename: str) -> tuple[BinaryIO, int | None]:
        """An open binary stream and the announced length (or None)."""
        raise NotImplementedError           # pragma: no cover


class HttpRegistry(Source):
    """A registry served over http(s): ``BASE/index.json`` and ``BASE/NAME/VERSION/FILE``."""

    remote = True

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        if path.endswith(".json"):
            index_path = path
            base_path = path.rsplit("/", 1)[0] + "/"
        else:
            base_path = path if path.endswith("/") else path + "/"
            index_path = base_path + INDEX_FILE
        self.base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))
        self.index_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, index_path, parts.query, ""))
        self.location = self.index_url

    def file_location(self, name: str, version: str, filename: str) -> str:
        quoted = "/".join(urllib.parse.quote(p, safe="") for p in (name, version, filename))
        return self.base_url + quoted

    def _open(self, url: str, what: str):
        request = urllib.request.Request(url, headers={"User-Agent": "spinlock-spec-zoo",
                                                       "Accept-Encoding": "identity"})
        try:
            return urllib.request.urlopen(request, timeout=timeout_s())  # noqa: S310 (http/https only)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ZooError(f"{what}: HTTP {exc.code} {exc.reason} from {url}", code="Z020",
                           hint="check the registry URL (--registry / SPINLOCK_SPEC_REGISTRY)") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = _describe_exc(reason) if isinstance(reason, BaseException) else str(reason)
            raise ZooError(f"{what}: cannot reach {url}: {text}", code="Z024",
                           hint="check the network or use --offline for cached entries") from None
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            raise ZooError(f"{what}: cannot reach {url}: {_describe_exc(exc)}", code="Z024",
                           hint="check the network or use --offline for cached entries") from None

    def read_index(self) -> bytes:
        response = self._open(self.index_url, "zoo index")
        with response:
            try:
                data = response.read(MAX_INDEX_BYTES + 1)
            except (http.client.HTTPException, OSError) as exc:
                raise ZooError(f"zoo index: download from {self.index_url} broke off "
                               f"({_describe_exc(exc)})", code="Z023") from None
            length = response.headers.get("Content-Length")
        if len(data) > MAX_INDEX_BYTES:
            raise ZooError(f"zoo index at {self.index_url} is larger than {MAX_INDEX_BYTES} bytes",
                           code="Z011")
        if length is not None and length.isdigit() and int(length) != len(data):
            raise ZooError(f"zoo index: truncated body from {self.index_url}: got {len(data)} of "
                           f"{length} bytes", code="Z023", hint="try again")
        return data

    def open_file(self, name: str, version: str, filename: str):
        url = self.file_location(name, version, filename)
        response = self._open(url, f"zoo entry {name}@{version}, file {filename}")
        length = response.headers.get("Content-Length")
        declared = int(length) if length is not None and length.strip().isdigit() else None
        return response, declared


def _open_regular_nofollow(path: Path, what: str) -> BinaryIO:
    """Open an existing regular file, refusing a symbolic link in its place."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        if os.path.islink(path):
            raise ZooError(f"{what}: {path} is a symbolic link; links are refused in a zoo folder",
                           code="Z012")
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ZooError(f"{what}: {path} does not exist", code="Z020") from None
    except ZooError:
        raise
    except OSError as exc:
        raise ZooError(f"{what}: cannot read {path}: {exc.strerror or exc}", code="Z020") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ZooError(f"{what}: {path} is not a regular file", code="Z012")
    return os.fdopen(fd, "rb")


class FolderRegistry(Source):
    """A registry in a local folder: ``ROOT/index.json`` and ``ROOT/NAME/VERSION/FILE``.
    Symbolic links inside the registry (entry folders, files, the index) are refused."""

    def __init__(self, path: Path):
        path = Path(path).expanduser()
        if path.is_dir():
            self.root = path
            self.index_path = path / INDEX_FILE
        else:
            self.root = path.parent
            self.index_path = path
        self.location = str(self.index_path)

    def read_index(self) -> bytes:
        if not self.root.exists():
            raise ZooError(f"zoo registry folder {self.root} does not exist", code="Z020",
                           hint="check --registry / SPINLOCK_SPEC_REGISTRY")
        with _open_regular_nofollow(self.index_path, "zoo index") as fh:
            data = fh.read(MAX_INDEX_BYTES + 1)
        if len(data) > MAX_INDEX_BYTES:
            raise ZooError(f"zoo index {self.index_path} is larger than {MAX_INDEX_BYTES} bytes",
                           code="Z011")
        return data

    def file_location(self, name: str, version: str, filename: str) -> str:
        return str(self.root / name / version / filename)

    def open_file(self, name: str, version: str, filename: str):
        what = f"zoo entry {name}@{version}, file {filename}"
        for folder in (self.root / name, self.root / name / version):
            if folder.is_symlink():
                raise ZooError(f"{what}: {folder} is a symbolic link; links are refused in a zoo folder",
                               code="Z012")
        fh = _open_regular_nofollow(self.root / name / version / filename, what)
        return fh, os.fstat(fh.fileno()).st_size


class EntryFolder(Source):
    """One entry's files lying directly in a folder (a cache entry)."""

    def __init__(self, path: Path):
        self.root = Path(path)
        self.location = str(self.root)

    def read_index(self) -> bytes:           # pragma: no cover - never asked
        raise ZooError(f"{self.root} is an entry folder, not a registry", code="Z020")

    def file_location(self, name: str, version: str, filename: str) -> str:
        return str(self.root / filename)

    def open_file(self, name: str, version: str, filename: str):
        fh = _open_regular_nofollow(self.root / filename, f"zoo entry {name}@{version}, file {filename}")
        return fh, os.fstat(fh.fileno()).st_size


def open_registry(registry: str | os.PathLike) -> Source:
    """A :class:`Source` for an http(s) URL, a ``file://`` URL, a folder or an index file."""
    text = os.fspath(registry)
    if is_url(text):
        check_url(text)
        return HttpRegistry(text)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme == "file":
        return FolderRegistry(Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path)))
    if scheme and len(scheme) > 1:
        raise ZooError(f"unsupported registry {text!r}: use an http(s) URL or a folder", code="Z002")
    return FolderRegistry(Path(text))
