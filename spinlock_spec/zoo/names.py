"""Names, versions, references and file names of zoo entries (the reference syntax,
names and versions are :mod:`spinlock_spec.zoo_ref`'s, re-exported here).

Everything a registry sends us that later becomes part of a path on disk goes
through this module first: entry names and versions become cache folders, file
names become files inside them.  The rules are strict on purpose, so that no
name can climb out of its folder, whatever the registry says.
"""
from __future__ import annotations

import re

from spinlock_spec.errors import ZooError
from spinlock_spec.zoo_ref import (NAME_PATTERN, REF_PREFIX, VERSION_PATTERN, check_name, check_version,
                                   is_zoo_ref, parse_ref)

__all__ = ["NAME_PATTERN", "VERSION_PATTERN", "FILE_PATTERN", "ROLES", "REF_PREFIX", "check_name", "check_version",
           "is_zoo_ref", "parse_ref", "version_key", "newest", "file_name_problem", "check_file_name"]

FILE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"

# config: the resolved spec the weights were trained with (a run folder's config.yaml), so
# that a pulled entry with weights is a loadable run folder (api.load_run("zoo:NAME")).
ROLES = ("spec", "weights", "weights_meta", "normalization", "categories", "config", "card")

_FILE_RE = re.compile(FILE_PATTERN)


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
