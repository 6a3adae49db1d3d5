"""``spinlock-spec report``: figures, an HTML page and a JSON summary of a run folder.

Reads whatever a run folder holds (a run that is still training gives a partial
report).  Matplotlib and torch are imported only by the parts that need them::

    from spinlock_spec.report import make_report
    result = make_report("runs/demo")          # writes runs/demo/report/index.html + PNGs
    result.summary["epochs_done"]
"""
from __future__ import annotations

from spinlock_spec.lazy import lazy_exports

_EXPORTS = {
    "make_report": "builder", "ReportResult": "builder", "build_summary": "builder",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
