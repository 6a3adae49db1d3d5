"""Rebuild a trainer's optimizers after the model lost categories, carrying their state:
Adam moments are sliced along the category axis the same way as the parameters, and
each optimizer keeps the learning rates its groups had."""
from __future__ import annotations

from typing import Any

import torch


def _state_by_name(optimizers: dict[str, torch.optim.Optimizer],
                   model: torch.nn.Module) -> dict[str, dict[str, Any]]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for opt in optimizers.values():
        for group in opt.param_groups:
            for p in group["params"]:
                if p in opt.state:
                    out[by_id[id(p)]] = opt.state[p]
    return out


def prune_with_optimizers(trainer: Any, keep: list[int]) -> None:
    """Shrink ``trainer.model`` to the categories ``keep`` and replace ``trainer.optimizers``
    with new ones (``trainer.build_optimizers()``) holding the sliced state."""
    old_state = _state_by_name(trainer.optimizers, trainer.model)
    slicers = trainer.model.prune_categories(keep)
    lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in trainer.optimizers.items()}
    trainer.optimizers = trainer.build_optimizers()
    by_id = {id(p): n for n, p in trainer.model.named_parameters()}
    for name, opt in trainer.optimizers.items():
        for group, lr in zip(opt.param_groups, lrs[name]):
            group["lr"] = lr
        for group in opt.param_groups:
            for p in group["params"]:
                st = old_state.get(by_id[id(p)])
                if st is None:
                    continue
                fn = slicers.get(by_id[id(p)])
                opt.state[p] = {k: (fn(v).clone() if fn is not None and torch.is_tensor(v)
                                    and v.dim() > 0 else v) for k, v in st.items()}
