"""Which trainer trains a model: the one place that maps the compiled graph's
``trainer_type`` (compile/graph.py decides it from the assignment mode) to a class."""
from __future__ import annotations

from typing import Any

import torch


def has_assignment(model: torch.nn.Module) -> bool:
    """Whether ``model`` learns its category assignment (LearnableVQVAETrainer trains it)."""
    params = getattr(model, "assignment_parameters", None)
    return callable(params) and len(list(params())) > 0


def trainer_class(trainer_type: str) -> type:
    """The trainer class named ``trainer_type`` (a compiled graph's ``trainer_type``)."""
    from .learnable import LearnableVQVAETrainer
    from .trainer import VQVAETrainer
    classes = {cls.trainer_type: cls for cls in (VQVAETrainer, LearnableVQVAETrainer)}
    if trainer_type not in classes:
        raise ValueError(f"unknown trainer_type {trainer_type!r} (known: {', '.join(classes)})")
    return classes[trainer_type]


def make_trainer(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
    """The right trainer for an already built ``model`` (when no compiled graph is at hand):
    LearnableVQVAETrainer when it has assignment logits."""
    from .learnable import LearnableVQVAETrainer
    from .trainer import VQVAETrainer
    cls = LearnableVQVAETrainer if has_assignment(model) else VQVAETrainer
    return cls(model, *args, **kwargs)
