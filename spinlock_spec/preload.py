"""Modules imported ahead of need on a background thread (``train`` on a GPU: scikit-learn
and torch._dynamo while the main thread prepares the data), and the one rule that makes it
safe: the main thread calls :func:`wait` before its own first import of any of them.

Two threads importing modules that import each other can meet Python's import deadlock
avoidance, which hands one of them a partially initialised module (seen: ``torch.compile``
on the main thread importing ``torch._inductor`` while the preload thread was inside
``torch._dynamo``: "cannot import name 'IndentedBuffer' from partially initialized module").
Torch-free, so every layer may call :func:`wait`."""
from __future__ import annotations

import importlib
import threading

from spinlock_spec.background import SWITCH_INTERVAL_S, short_switch_interval  # noqa: F401

_thread: threading.Thread | None = None


def start(names: tuple[str, ...]) -> None:
    """Import ``names`` on a background thread (at most one preload at a time)."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _thread = threading.Thread(target=_import_all, args=(names,), name="spinlock-preload", daemon=True)
    _thread.start()


def wait() -> None:
    """Return once the background imports (if any were started) are done."""
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _import_all(names: tuple[str, ...]) -> None:
    """Import ``names`` (a missing or broken one is skipped: the main thread meets it).

    Importing is pure Python and holds the GIL; a numpy call of the main thread that
    released it would wait up to the interpreter's switch interval (5 ms) to get it back,
    after every short call.  While the imports run the interval is :data:`SWITCH_INTERVAL_S`,
    so the data preparation keeps its pace."""
    with short_switch_interval():
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported where the module is really needed
                continue
