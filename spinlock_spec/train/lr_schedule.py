"""Learning-rate schedule as a pure function of the training position.

The factor multiplying ``learning_rate`` depends only on (epoch, batch, number
of batches, config), never on an internal counter, so a resumed run gets the
same learning rates as an uninterrupted one without restoring scheduler
objects.

* warmup: linear from ``1/warmup_steps`` to 1 over ``warmup_epochs`` epochs,
  stepped per batch;
* ``cosine``: half cosine from 1 down to ``min_lr_ratio`` over the epochs
  after warmup, stepped per batch;
* ``step``: multiplied by ``scheduler_gamma`` every ``scheduler_step_size``
  epochs after warmup;
* ``none``: constant.
"""
from __future__ import annotations

import math

from .config import TrainingConfig


def lr_factor(cfg: TrainingConfig, epoch: int, batch: int, num_batches: int) -> float:
    """Factor for batch ``batch`` (0-based) of epoch ``epoch`` (1-based)."""
    num_batches = max(1, num_batches)
    step = (epoch - 1) * num_batches + batch          # global 0-based step
    warmup_steps = cfg.warmup_epochs * num_batches
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if cfg.scheduler == "cosine":
        total = max(1, (cfg.num_epochs - cfg.warmup_epochs) * num_batches)
        progress = min(1.0, (step - warmup_steps) / total)
        floor = cfg.min_lr_ratio
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.scheduler == "step":
        done_epochs = max(0, epoch - 1 - cfg.warmup_epochs)
        return cfg.scheduler_gamma ** (done_epochs // max(1, cfg.scheduler_step_size))
    return 1.0
