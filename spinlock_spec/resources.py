"""Locate files shipped with the package (schemas/, zoo/) in a wheel or a source tree."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _locate(package: str, source_dir: str) -> Path:
    try:
        path = Path(str(resources.files(package)))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _ROOT / source_dir


def schema_dir() -> Path:
    """Folder holding the JSON Schema files (top-level ``schemas/``)."""
    return _locate("spinlock_spec._schemas", "schemas")


def zoo_dir() -> Path:
    """Folder holding the bundled zoo index and entries (top-level ``zoo/``)."""
    return _locate("spinlock_spec._zoo", "zoo")
