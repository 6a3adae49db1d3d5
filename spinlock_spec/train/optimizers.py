"""The optimizers a trainer builds: Adam or AdamW (``training.optimizer``), fused where torch
has a fused kernel."""
from __future__ import annotations

from typing import Any

import torch


def fused(device: torch.device) -> dict[str, Any]:
    # fused: one kernel for all parameters, on CUDA and on CPU (torch >= 2.4 has a fused
    # CPU Adam; ~8% of a workload-A step, where the default is a per-parameter loop)
    return {"fused": True} if device.type in ("cuda", "cpu") else {}


def make_optimizer(params, lr: float, cfg: Any, device: torch.device) -> torch.optim.Optimizer:
    """``training.optimizer`` over ``params`` at ``lr`` with ``training.weight_decay``."""
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=cfg.weight_decay, **fused(device))
