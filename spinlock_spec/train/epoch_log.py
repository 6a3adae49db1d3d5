"""Formatting of the trainer's console output (text and JSON).

The text lines are the ones the learnable-mode guide tells users to look for
(shared/seed/learnable-mode-complete-guide.txt); they are produced verbatim:

    Epoch 1/100 (15.2s): train=15.234 val=16.891
      Components: recon=12.180 vq=1.024 ortho=0.815 info=0.508 topo=0.707
                  assign_orthogonality=0.423
                  assign_balance=0.156
                  assign_total=0.579
      Temperature: 1.00
      Utilization: 11.2%

Every number under ``Components`` is a weighted contribution to the objective.
``train`` is printed as the sum of the five printed model components and
``assign_total`` as the sum of the two printed assignment components, so the
arithmetic a user does on the printed numbers always checks out.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any
from collections.abc import Callable, Mapping

from ..runs.folder import to_jsonable

MODEL_TERMS = ("recon", "vq", "ortho", "info", "topo")
ASSIGN_TERMS = ("assign_orthogonality", "assign_balance")
_INDENT = " " * len("  Components: ")


def _r3(x: float) -> float:
    return round(float(x), 3)


def epoch_text_lines(*, epoch: int, num_epochs: int, seconds: float, components: Mapping[str, float],
                     val_loss: float, utilization: float, assign: Mapping[str, float] | None = None,
                     temperature: float | None = None) -> list[str]:
    shown = [_r3(components.get(name, 0.0)) for name in MODEL_TERMS]
    train_shown = round(sum(shown), 3)
    lines = [
        f"Epoch {epoch}/{num_epochs} ({seconds:.1f}s): train={train_shown:.3f} val={float(val_loss):.3f}",
        "  Components: " + " ".join(f"{n}={v:.3f}" for n, v in zip(MODEL_TERMS, shown)),
    ]
    if assign is not None:
        a = [_r3(assign.get(name, 0.0)) for name in ASSIGN_TERMS]
        lines += [f"{_INDENT}{n}={v:.3f}" for n, v in zip(ASSIGN_TERMS, a)]
        lines.append(f"{_INDENT}assign_total={round(sum(a), 3):.3f}")
    if temperature is not None:
        lines.append(f"  Temperature: {float(temperature):.2f}")
    lines.append(f"  Utilization: {100.0 * float(utilization):.1f}%")
    return lines


class Console:
    """Where the trainer's messages go.

    ``log`` may be a callable taking one string (default: ``print`` to stdout),
    or a :class:`logging.Logger`.  ``quiet`` drops info messages (warnings stay);
    ``fmt="json"`` turns every event into one JSON object per line.  With a logger
    in json mode, the events are written to stdout directly (whatever the logger's
    level) and the human lines still go to the logger (the CLI points it at stderr).
    """

    def __init__(self, log: Callable[[str], Any] | logging.Logger | None = None, *,
                 quiet: bool = False, fmt: str = "text"):
        if fmt not in ("text", "json"):
            raise ValueError(f"log_format must be 'text' or 'json', got {fmt!r}")
        self.log = log
        self.quiet = quiet
        self.fmt = fmt

    @property
    def is_json(self) -> bool:
        return self.fmt == "json"

    def _out(self, line: str, *, warning: bool = False) -> None:
        log = self.log
        if isinstance(log, logging.Logger):   # a warning already written as a JSON event is marked
            (log.warning if warning else log.info)(line, extra={"json_event_written": self.is_json})
        elif log is None:
            print(line, flush=True)
        else:
            log(line)

    def _json(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(to_jsonable(dict(record)), allow_nan=False)
        if isinstance(self.log, logging.Logger):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        else:
            self._out(line)

    def info(self, *lines: str) -> None:
        if self.quiet or (self.is_json and not isinstance(self.log, logging.Logger)):
            return
        for line in lines:
            self._out(line)

    def warning(self, message: str, **fields: Any) -> None:
        if self.is_json:
            self._json({"event": "warning", "message": message, **fields})
            if isinstance(self.log, logging.Logger):
                self._out(message, warning=True)
        elif isinstance(self.log, logging.Logger):
            self._out(message, warning=True)
        else:
            self._out(message if message.startswith("[WARNING]") else f"[WARNING] {message}",
                      warning=True)

    def event(self, record: Mapping[str, Any]) -> None:
        """A structured event: printed as JSON in json mode, ignored in text mode."""
        if self.is_json:
            self._json(record)


class ProgressBar:
    """A one-line batch progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, *, enabled: bool, label: str = ""):
        self.total = total
        self.enabled = enabled and total > 1 and _stderr_is_tty()
        self.label = label
        self._last = 0.0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        width = 30
        filled = int(width * done / self.total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * (len(self.label) + 50) + "\r")
            sys.stderr.flush()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
