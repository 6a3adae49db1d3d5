"""Console logging for commands that train or encode.

Messages go to stdout as plain lines (the indicators users grep for are printed
verbatim); warnings are prefixed ``[WARNING]`` as in the seed guide.
"""
from __future__ import annotations

import json
import logging
import sys

LOGGER_NAME = "spinlock_spec"


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and not message.startswith("[WARNING]"):
            message = f"[WARNING] {message}"
        return message


class _JsonWarnings(logging.Handler):
    """``--format json``: every warning also as a ``{"event": "warning"}`` line on stdout
    (unless the trainer's console wrote it as an event already)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "json_event_written", False):
            return
        message = record.getMessage().removeprefix("[WARNING] ")
        sys.stdout.write(json.dumps({"event": "warning", "message": message}) + "\n")
        sys.stdout.flush()


def get_logger() -> logging.Logger:
    """The project's logger.  A library's ``logging.config.fileConfig``/``dictConfig`` (Optuna's
    database migration calls one) disables every logger that existed before it; our warnings
    must never be swallowed that way, so the logger is switched back on here."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.disabled = False
    return logger


def configure(*, quiet: bool = False, verbose: bool = False, stream=None,
              json_warnings: bool = False) -> logging.Logger:
    """Route the project's logger to ``stream`` (stdout by default).

    quiet: warnings only; verbose: debug details too; json_warnings: every warning
    also as a JSON event line on stdout (``--format json``)."""
    logger = get_logger()
    for handler in list(logger.handlers):
        if getattr(handler, "_spinlock_console", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler._spinlock_console = True  # type: ignore[attr-defined]
    handler.setFormatter(_PlainFormatter())
    logger.addHandler(handler)
    if json_warnings:
        events = _JsonWarnings()
        events._spinlock_console = True  # type: ignore[attr-defined]
        logger.addHandler(events)
    logger.setLevel(logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO))
    logger.propagate = False
    return logger


def warnings_to_debug_log() -> None:
    """Library warnings (numpy's RuntimeWarnings, torch's UserWarnings, ...) go to the debug
    log (shown with ``--verbose``), never straight to the console: what a user should act on
    is said by the project's own messages.  Installed by the command line only."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
        get_logger().debug(f"[{category.__name__}] {message} ({filename}:{lineno})")

    warnings.showwarning = show
