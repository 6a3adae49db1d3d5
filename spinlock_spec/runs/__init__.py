"""The run folder: its file names, atomic commits and readers.

The layer below ``train``, ``report`` and ``zoo`` (see docs/architecture.md): it
imports nothing of spinlock_spec but ``errors``, ``atomic`` and ``lazy``, and no
torch.  ``names`` holds every file name of a run folder; ``folder`` the
:class:`RunDir` writer (atomic writes, Ctrl-C held off around multi-file
commits); ``reader`` the tolerant reader used by the report.
"""
from __future__ import annotations

from spinlock_spec.lazy import lazy_exports

_EXPORTS = {
    "RunDir": "folder", "dumps_json": "folder", "to_jsonable": "folder", "sigint_deferred": "folder",
    "RunFiles": "reader", "read_run": "reader", "records_from_history": "reader",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
