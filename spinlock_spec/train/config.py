"""The typed sections the trainer reads: ``training`` and ``learnable_assignment``.

They are generated from the schema source, which owns every default and bound
(``spinlock_spec/config/sections.py``); this module only names them for the
``train`` package.
"""
from __future__ import annotations

from spinlock_spec.config.sections import (ASSIGNMENT_LR_UNIT, LearnableConfig, ModelConfig, PruningConfig,
                                           TrainingConfig)

__all__ = ["ASSIGNMENT_LR_UNIT", "LearnableConfig", "ModelConfig", "PruningConfig", "TrainingConfig"]
