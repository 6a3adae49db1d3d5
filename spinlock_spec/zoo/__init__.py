"""The model zoo: a registry index, verified pulls and a local cache.

Torch-free on purpose: ``zoo list``/``show``/``pull`` and the ``zoo:NAME``
references of the spec loader must not pay for torch.  See docs/zoo.md.

Public API::

    pull(name, version=None, registry=None, dest=None, offline=False) -> Path
    resolve_spec_ref("zoo:NAME[@VERSION]") -> Path      # the entry's spec file
    entry_dir("zoo:NAME[@VERSION]") -> Path             # the entry's folder (weights, ...)
    load_index(registry=None) -> ZooIndex
    add_entry_files(name, version, files={role: path}, metrics={...}, ...)   # maintainers
    rebuild_index(zoo_root=None)                                             # maintainers
"""
from __future__ import annotations

import os
from pathlib import Path

from spinlock_spec.zoo.cache import cache_root
from spinlock_spec.zoo.index import (ZooEntry, ZooFile, ZooIndex, add_entry_files, default_registry,
                                     load_index, rebuild_index)
from spinlock_spec.zoo.names import is_zoo_ref, parse_ref
from spinlock_spec.zoo.pull import PullResult, offline_from_env, pull, pull_entry

__all__ = [
    "pull", "pull_entry", "PullResult", "resolve_spec_ref", "entry_dir", "resolve_entry",
    "load_index", "add_entry_files", "rebuild_index", "default_registry", "cache_root",
    "ZooEntry", "ZooFile", "ZooIndex", "is_zoo_ref", "parse_ref", "offline_from_env",
]


def resolve_entry(ref: str, *, registry: str | os.PathLike | None = None,
                  offline: bool | None = None) -> PullResult:
    """Pull ``zoo:NAME[@VERSION]`` if needed (offline from ``SPINLOCK_SPEC_OFFLINE``
    unless given) and return what was resolved."""
    name, version = parse_ref(ref)
    return pull_entry(name, version, registry=registry, offline=offline)


def resolve_spec_ref(ref: str) -> Path:
    """Local path of the spec file of ``zoo:NAME`` or ``zoo:NAME@VERSION``
    (pulled into the cache first when needed)."""
    return resolve_entry(ref).spec_path


def entry_dir(ref: str) -> Path:
    """Local folder holding every file of ``zoo:NAME[@VERSION]`` (spec, weights,
    normalization, categories), pulled into the cache first when needed."""
    return resolve_entry(ref).path
