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


# The package ``spinlock_spec`` defines a function ``train`` (forwarding to the API); importing
# this subpackage replaces that attribute with the module.  Keep it callable by forwarding to
# the function, captured here before the replacement: the train layer never imports the API.
_facade = getattr(__import__("sys").modules.get("spinlock_spec"), "train", None)


class _CallableTrainModule(__import__("types").ModuleType):
    """Calling the module keeps ``spinlock_spec.train(...)`` working as documented (it is
    :func:`spinlock_spec.train`, which forwards to :func:`spinlock_spec.api.train`)."""

    def __call__(self, *args, **kwargs):
        if not callable(_facade) or isinstance(_facade, __import__("types").ModuleType):
            raise TypeError("spinlock_spec.train is a package here; call spinlock_spec.api.train")
        return _facade(*args, **kwargs)

    @property
    def __signature__(self):       # inspect.signature / help() show the function's parameters
        import inspect

        return inspect.signature(_facade)


__import__("sys").modules[__name__].__class__ = _CallableTrainModule
