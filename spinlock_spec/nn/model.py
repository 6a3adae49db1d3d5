"""Categorical hierarchical VQ-VAE (static and learnable category assignment).

The parts live in modules named for what they do: ``inputs`` (FamilyInput,
ModelOutput, level lists), ``categorical`` (the static model), ``learnable`` (the
learnable assignment and pruning).  This module names them together.
"""
from __future__ import annotations

from .categorical import CONFIG_FORMAT, CONFIG_VERSION, CategoricalHierarchicalVQVAE
from .inputs import FamilyInput, ModelOutput, resolve_levels
from .learnable import CREDIT_ROWS, LearnableCategoricalVQVAE

MODEL_CLASSES = {cls.__name__: cls for cls in (CategoricalHierarchicalVQVAE, LearnableCategoricalVQVAE)}

__all__ = ["CONFIG_FORMAT", "CONFIG_VERSION", "CREDIT_ROWS", "MODEL_CLASSES", "CategoricalHierarchicalVQVAE",
           "FamilyInput", "LearnableCategoricalVQVAE", "ModelOutput", "resolve_levels"]
