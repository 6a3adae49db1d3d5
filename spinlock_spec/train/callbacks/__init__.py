"""Trainer callbacks: the parts of training that vary around the core loop (train/trainer.py).

Each callback is its own module and owns its state (``state_dict``/``load_state_dict``);
see docs/architecture.md ("Trainer: core loop and callbacks").
"""
from .base import Callback

__all__ = ["Callback"]
