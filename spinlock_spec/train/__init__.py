"""train layer: trainers, metrics and checkpoints (see docs/architecture.md).

Public names are imported lazily, so importing the package does not pull in torch.
The run folder (``RunDir``, file names) lives in :mod:`spinlock_spec.runs`.
"""
from __future__ import annotations

from spinlock_spec.lazy import lazy_exports

_EXPORTS = {
    "VQVAETrainer": "trainer", "LearnableVQVAETrainer": "learnable", "make_trainer": "trainers",
    "trainer_class": "trainers",
    "TrainingInterrupted": "trainer", "TrainingDivergedError": "trainer",
    "load_model": "checkpoint", "save_model": "checkpoint",
    "evaluate": "metrics", "labels_from_true_groups": "metrics",
    "TrainingConfig": "config", "LearnableConfig": "config",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)


class _CallableTrainModule(__import__("types").ModuleType):
    """Importing this subpackage sets ``spinlock_spec.train`` to the module, replacing the
    API function of the same name; calling the module keeps ``spinlock_spec.train(...)``
    working as documented (it forwards to :func:`spinlock_spec.api.train`)."""

    def __call__(self, *args, **kwargs):
        from spinlock_spec.api import train

        return train(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableTrainModule
