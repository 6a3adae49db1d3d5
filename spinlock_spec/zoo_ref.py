"""The syntax of zoo references, ``zoo:NAME`` and ``zoo:NAME@VERSION``: its one owner.

Standard library only, so every layer may use it: the spec loader (``extends:
zoo:NAME``) recognises a reference here and hands it to a resolver callback
(:data:`RefResolver`, given by the API or the CLI, which pass
:func:`spinlock_spec.zoo.resolve_spec_ref`); the zoo parses it here before it
pulls; the API names runs after :func:`entry_name`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from spinlock_spec.errors import ZooError

REF_PREFIX = "zoo:"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
VERSION_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"

_NAME_RE = re.compile(NAME_PATTERN)
_VERSION_RE = re.compile(VERSION_PATTERN)

# A callback that turns ``zoo:NAME[@VERSION]`` into the local path of the entry's spec file.
RefResolver = Callable[[str], Path]


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


def entry_name(ref: str) -> str:
    """The entry name of a reference, without validating it (for display: run folder names)."""
    text = ref.strip()
    if text.startswith(REF_PREFIX):
        text = text[len(REF_PREFIX):]
    return text.partition("@")[0]


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
