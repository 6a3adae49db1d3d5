"""Temperature schedules for the learnable assignment, stepped once per epoch.

With ``n = num_epochs`` and the progress ``p = e / (n - 1)`` of epoch index
``e`` (0-based; p = 1 when n == 1; e is clamped to [0, n - 1]):

- linear:      tau = start + (end - start) * p
- exponential: tau = start * (end / start) ** p        (geometric; start, end > 0)
- cosine:      tau = end + (start - end) * (1 + cos(pi * p)) / 2

Epoch 0 gives ``start`` and the last epoch (n - 1) gives ``end`` for every kind.

- adaptive:    the linear values until the trainer freezes the temperature (the
               assignment has stabilised, see LearnableVQVAETrainer); from then on
               the trainer holds the value it froze at.  ``temperature_at`` gives
               the linear value (the schedule before the freeze).
"""
from __future__ import annotations

import math

SCHEDULES = ("linear", "exponential", "cosine")
ADAPTIVE = "adaptive"


def temperature_at(epoch_index: int, num_epochs: int, start: float, end: float, kind: str = "linear") -> float:
    if kind == ADAPTIVE:
        kind = "linear"
    if kind not in SCHEDULES:
        raise ValueError(f"unknown temperature schedule {kind!r}; valid: {', '.join(SCHEDULES + (ADAPTIVE,))}")
    n = int(num_epochs)
    if n < 1:
        raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
    start, end = float(start), float(end)
    p = 1.0 if n == 1 else min(max(int(epoch_index), 0), n - 1) / (n - 1)
    if kind == "linear":
        return start + (end - start) * p
    if kind == "exponential":
        if start <= 0 or end <= 0:
            raise ValueError("the exponential schedule needs start > 0 and end > 0")
        return start * (end / start) ** p
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * p))
