"""When training has diverged: a loss that is not finite, or that exploded.

The trainer checks after every epoch, before anything of the epoch is written, so
the run folder keeps the checkpoint of the last good epoch; the error says how to
resume from it with a lower learning rate (a change the resume rule allows).
"""
from __future__ import annotations

from pathlib import Path

import math
from typing import Any

from ..errors import UserError

#: A loss above this, or above EXPLOSION_FACTOR x the best validation loss so far, has exploded.
ABSOLUTE_LIMIT = 1e9
EXPLOSION_FACTOR = 1e6


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by ``fit`` on Ctrl-C after the resumable state is safe on disk."""

    exit_code = 130

    def __init__(self, epoch: int, checkpoint: Path | None):
        self.epoch = epoch
        self.checkpoint = checkpoint
        where = f"; resumable checkpoint of epoch {epoch}: {checkpoint}" if checkpoint else ""
        super().__init__(f"training interrupted{where}")


class TrainingDivergedError(UserError):
    """The loss became NaN or infinite, or exploded."""


def check(trainer: Any, epoch: int, train_loss: float, val_loss: float) -> None:
    """Raise :class:`TrainingDivergedError` when the epoch's losses show divergence."""
    best = trainer.best_val if math.isfinite(trainer.best_val) else None
    limit = ABSOLUTE_LIMIT if best is None else min(ABSOLUTE_LIMIT, max(EXPLOSION_FACTOR * abs(best), 1e3))
    finite = math.isfinite(train_loss) and math.isfinite(val_loss)
    if finite and max(train_loss, val_loss) <= limit:
        return
    what = "is not finite" if not finite else f"exploded (above {limit:.3g})"
    lr = trainer.optimizers["model"].param_groups[0]["lr"] or trainer.cfg.learning_rate
    lower = f"{trainer.cfg.learning_rate / 10:g}"
    run = trainer.run_dir
    if run is not None:
        kept = (f"the checkpoint of epoch {epoch - 1} is kept in {run.file('checkpoint.json')}"
                + (f" (best model: epoch {trainer.best_epoch})" if best is not None else ""))
        how = f"spinlock-spec train --resume {run.path} --learning-rate {lower}"
    else:
        kept, how = "nothing was saved (no run folder)", f"train again with learning_rate {lower}"
    raise TrainingDivergedError(
        f"training diverged at epoch {epoch}: the loss {what} (train={train_loss:.4g}, "
        f"val={val_loss:.4g}, learning rate {lr:g}); stopped, {kept}", code="E423",
        hint=f"{how} (or set training.gradient_clip_norm)")
