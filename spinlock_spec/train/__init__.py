"""train layer: trainers, metrics, checkpoints and the run folder (see docs/architecture.md).

Public names are imported lazily so that ``spinlock_spec.train.run_dir`` (numpy
only) does not pull in torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "VQVAETrainer": "trainer", "LearnableVQVAETrainer": "trainer", "make_trainer": "trainer",
    "TrainingInterrupted": "trainer", "TrainingDivergedError": "trainer",
    "load_model": "checkpoint", "save_model": "checkpoint",
    "RunDir": "run_dir", "atomic_write_bytes": "run_dir", "atomic_write_text": "run_dir",
    "evaluate": "metrics", "labels_from_true_groups": "metrics",
    "TrainingConfig": "config", "LearnableConfig": "config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
