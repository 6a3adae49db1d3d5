"""End a successful command that used CUDA without the interpreter's teardown.

After ``spinlock-spec train`` on an H200 the interpreter's shutdown -- releasing the
CUDA context and graph pools, then tearing down the modules of torch, SciPy and
scikit-learn one by one -- took ~1.4 s, a seventh of a whole 10-epoch run
(benchmarks/RESULTS.md, workload B).  Every file of the run is written, fsynced and
closed by then; this flushes the logs and standard streams and leaves with exit code 0
through ``os._exit``.  Only after a ``train`` command that finished (it calls
:func:`allow`), for the process's own command line (``main()`` without arguments), and
only when CUDA was started: CPU runs, errors, other commands and in-process callers
(tests, notebooks) end as before.
"""
from __future__ import annotations

import logging
import os
import sys


_allowed = False


def allow() -> None:
    """The command's work is done and on disk: the process may end without teardown."""
    global _allowed
    _allowed = True


def exit_now_after_cuda() -> None:
    """:func:`finish` when the command allowed it and this process started CUDA."""
    torch = sys.modules.get("torch")
    if not _allowed or torch is None or not torch.cuda.is_initialized():
        return
    finish()


def finish() -> None:
    """Flush and close the log handlers and the standard streams, then ``os._exit(0)``."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):       # closed or broken pipe: nothing left to say
            pass
    os._exit(0)
