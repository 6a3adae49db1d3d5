"""Names, versions, references and file names of zoo entries.

Everything a registry sends us that later becomes part of a path on disk goes
through this module first: entry names and versions become cache folders, file
names become files inside them.  The rules are strict on purpose, so that no
name can climb out of its folder, whatever the registry says.
"""
from __future__ import annotations

import re

from spinlock_spec.errors import ZooError

NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
VERSION_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"
FILE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"

# config: the resolved spec the weights were trained with (a run folder's config.yaml), so
# that a pulled entry with weights is a loadable run folder (api.load_run("zoo:NAME")).
ROLES = ("spec", "weights", "weights_meta", "normalization", "categories", "config", "card")

REF_PREFIX = "zoo:"

_NAME_RE = re.compile(NAME_PATTERN)
_VERSION_RE = re.compile(VERSION_PATTERN)
_FILE_RE = re.compile(FILE_PATTERN)


def is_zoo_ref(text: object) -> bool:
    """True for strings of the form ``zoo:NAME`` or ``zoo:NAME@VERSION``."""
    return isinstance(text, str) and text.startswith(REF_PREFIX)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``zoo:NAME[@VERSION]`` (the ``zoo:`` prefix is optional) into
    ``(name, version or None)``; raise :class:`ZooError` for a malformed one."""
    if not isinstance(ref, str) or not ref.strip():
        raise ZooError(f"empty zoo reference {ref!r}", code="Z001",
                       hint="write zoo:NAME or zoo:NAME@VERSION")
    text = ref.strip()
    if text.startswith(REF_PREFIX):
        text = text[len(REF_PREFIX):]
    name, sep, version = text.partition("@")
    check_name(name, ref)
    if sep:
        check_version(version, ref)
        return name, version
    return name, None


def check_name(name: str, context: str | None = None) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        where = f" in {context!r}" if context and context != name else ""
        raise ZooError(f"invalid zoo entry name {name!r}{where}", code="Z001",
                       hint="entry names use lower-case letters, digits, '_' and '-' (at most 64)")
    return name


def check_version(version: str, context: str | None = None) -> str:
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        where = f" in {context!r}" if context else ""
        raise ZooError(f"invalid zoo entry version {version!r}{where}", code="Z001",
                       hint="versions are dotted numbers such as 1, 1.0 or 1.2.3")
    return version


def version_key(version: str) -> tuple[int, ...]:
    """Sort key: ``1.10`` is newer than ``1.9``; ``1.0`` and ``1.0.0`` rank equal."""
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def newest(versions) -> str | None:
    versions = list(versions)
    if not versions:
        return None
    return max(versions, key=version_key)


def file_name_problem(path: object) -> str | None:
    """Why ``path`` may not be used as a file of an entry, or None when it is safe.

    Entry files lie directly in the entry folder: a plain name of letters,
    digits, '_', '.', '-', not starting with '.'.  Anything else (``../x``,
    ``/etc/x``, ``C:x``, ``a\\b``, ``sub/x``, ``.hidden``) is refused."""
    if not isinstance(path, str) or not path:
        return "is empty"
    if "\x00" in path:
        return "contains a NUL byte"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is an absolute path"
    parts = path.split("/")
    if any(p == ".." for p in parts):
        return "climbs out of the entry folder ('..')"
    if len(parts) > 1:
        return "lies in a sub-folder (entry files must sit directly in the entry folder)"
    if path in (".", "..") or path.startswith("."):
        return "is a hidden or special name"
    if not _FILE_RE.match(path):
        return "uses characters other than letters, digits, '_', '.' and '-' (or is longer than 128)"
    return None


def check_file_name(path: object, entry_label: str) -> str:
    problem = file_name_problem(path)
    if problem is not None:
        raise ZooError(f"zoo entry {entry_label}: file name {path!r} {problem}; refused",
                       code="Z010",
                       hint="the registry's index is unsafe or corrupt; nothing was written")
    return path  # type: ignore[return-value]
