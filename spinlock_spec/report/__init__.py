"""``spinlock-spec report``: figures, an HTML page and a JSON summary of a run folder.

Reads whatever a run folder holds (a run that is still training gives a partial
report).  Matplotlib and torch are imported only by the parts that need them::

    from spinlock_spec.report import make_report
    result = make_report("runs/demo")          # writes runs/demo/report/index.html + PNGs
    result.summary["epochs_done"]
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "make_report": "builder", "ReportResult": "builder", "build_summary": "builder",
    "read_run": "run_files", "RunFiles": "run_files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
