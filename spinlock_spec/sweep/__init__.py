"""Sweeps: many specs from one base spec and ``-p`` parameters, run as an Optuna study by
worker processes on one machine or many (docs/sweeps.md).  Above train and the API; the
config and compile layers know nothing of it."""
from spinlock_spec.sweep.params import Param, check_all, parse_params

__all__ = ["Param", "check_all", "parse_params"]
