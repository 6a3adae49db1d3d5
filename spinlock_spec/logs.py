"""Console logging for commands that train or encode.

Messages go to stdout as plain lines (the indicators users grep for are printed
verbatim); warnings are prefixed ``[WARNING]`` as in the seed guide.
"""
from __future__ import annotations

import logging
import sys

LOGGER_NAME = "spinlock_spec"


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and not message.startswith("[WARNING]"):
            message = f"[WARNING] {message}"
        return message


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure(*, quiet: bool = False, verbose: bool = False, stream=None) -> logging.Logger:
    """Route the project's logger to ``stream`` (stdout by default).

    quiet: warnings only; verbose: debug details too."""
    logger = get_logger()
    for handler in list(logger.handlers):
        if getattr(handler, "_spinlock_console", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler._spinlock_console = True  # type: ignore[attr-defined]
    handler.setFormatter(_PlainFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO))
    logger.propagate = False
    return logger
