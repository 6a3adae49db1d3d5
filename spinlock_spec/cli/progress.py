"""Progress lines on stderr for commands that work for a while (encode, report, export).

Nothing is printed for work that ends within ``after`` seconds.  Past that, the current stage
is printed (``encode: encoding 20,000 rows...``), then every ``every`` seconds the elapsed time,
and at the end ``encode: done in 6.3s``.  stdout is never touched, so ``--format json`` output
stays clean."""
from __future__ import annotations

import sys
import threading
import time


class Progress:
    """``with Progress("encode") as p: p.stage("loading the run"); ...``"""

    def __init__(self, command: str, *, after: float = 2.0, every: float = 5.0, stream=None):
        self.command, self.after, self.every = command, after, every
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.current: str | None = None
        self.shown: str | None = None        # the stage last printed
        self.printed = False
        self.last_print = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        self._thread.join()
        if self.printed and exc_type is None:
            self._write(f"{self.command}: done in {time.monotonic() - self.start:.1f}s")

    def stage(self, text: str) -> None:
        """Enter a stage; printed at once when the command is already past ``after`` seconds."""
        with self._lock:
            self.current = text
        self._tick()

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _tick(self) -> None:
        now = time.monotonic()
        elapsed = now - self.start
        with self._lock:
            if self.current is None or elapsed < self.after:
                return
            if self.current != self.shown:
                self._write(f"{self.command}: {self.current}...")
                self.shown, self.printed, self.last_print = self.current, True, now
            elif now - self.last_print >= self.every:
                self._write(f"{self.command}: {self.current}... ({elapsed:.0f}s)")
                self.last_print = now

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._tick()
