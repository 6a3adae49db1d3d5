"""One call on a daemon thread whose value (or exception) the caller collects later.

``train`` prepares its data (loading or generating it, the cleaning and normalization fit:
numpy, which releases the GIL) on such a thread while the main thread imports torch and
starts CUDA: on a GPU machine those are ~1-2 s each and used to run one after the other
(docs/decisions.md §9).  While one runs, the interpreter's switch interval is
:data:`SWITCH_INTERVAL_S`: the importing thread holds the GIL for long stretches, and the
other thread's short numpy calls would otherwise wait up to 5 ms for it after each call.
Torch-free, so every layer may use it.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

SWITCH_INTERVAL_S = 2e-4


_lock = threading.Lock()
_holders = 0
_previous = 0.0


@contextmanager
def short_switch_interval():
    """The GIL changes hands every :data:`SWITCH_INTERVAL_S` at most inside; the interval
    before the first of several overlapping users is restored when the last one leaves."""
    global _holders, _previous
    with _lock:
        if _holders == 0:
            _previous = sys.getswitchinterval()
            sys.setswitchinterval(min(_previous, SWITCH_INTERVAL_S))
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                sys.setswitchinterval(_previous)


class BackgroundCall:
    """``fn(*args, **kwargs)`` started on a daemon thread (a process that ends on an error
    of the main thread does not wait for it); :meth:`result` waits and returns its value
    or raises its exception, traceback included, on the caller's thread."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "spinlock-background", **kwargs: Any):
        self._value: Any = None
        self._error: BaseException | None = None

        def work() -> None:
            try:
                with short_switch_interval():
                    self._value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
                self._error = exc

        self._thread = threading.Thread(target=work, name=name, daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the call to end, keeping its value or exception for :meth:`result`."""
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value
