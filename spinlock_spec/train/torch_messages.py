"""Torch's own messages go to the debug log, not the user's console.

On the GPU paths torch speaks for itself: dynamo's graph-break and recompilation
warnings, inductor's notes (the TF32 hint among them) and other ``warnings.warn`` calls
from inside torch.  A user's log should hold the trainer's lines only (the indicators of
the learnable-mode guide), so :func:`route_torch_messages` sends these to the project's
logger at DEBUG level (shown with ``--verbose``).  Warnings raised by other code, and
torch warnings about a caller's own misuse that the project turns into messages, are
left alone.
"""
from __future__ import annotations

import logging
import warnings

_TORCH_LOGGERS = ("torch._dynamo", "torch._inductor", "torch.fx.experimental", "torch._functorch")
_ROUTED = False


class _ToDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from ..logs import get_logger

        get_logger().debug(f"[{record.name}] {record.getMessage()}")


def _from_torch(filename: str) -> bool:
    path = str(filename).replace("\\", "/")
    return "/torch/" in path or "/triton/" in path


def route_torch_messages() -> None:
    """Once per process: torch's warnings and its compiler loggers to the debug log."""
    global _ROUTED
    if _ROUTED:
        return
    _ROUTED = True
    from ..logs import get_logger

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if _from_torch(filename):
            get_logger().debug(f"[torch {category.__name__}] {message} ({filename}:{lineno})")
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    for name in _TORCH_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [_ToDebug()]
        logger.propagate = False
