"""Collapse watch of the learned assignment: one warning (with the settings to change) when
one category takes more than half of the features or a category empties, repeated only
after the assignment has recovered (or the categories changed).

Checkpoint key: ``collapsed`` (whether the last epoch was collapsed).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Callback


def collapse_state(model: Any) -> tuple[bool, list[int]]:
    """(collapsed?, feature count per category) from the hard assignment."""
    with torch.no_grad():
        hard = model.hard_assignment().cpu()
    K = int(model.codebook_sizes.shape[0])
    counts = torch.bincount(hard, minlength=K).tolist()
    F = len(hard)
    if K < 2:
        return False, counts
    return (max(counts) > F / 2 or min(counts) == 0), counts


class CollapseWatch(Callback):
    def __init__(self, trainer: Any):
        super().__init__(trainer)
        self.collapsed = False

    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        t = self.trainer
        collapsed, counts = collapse_state(t.model)
        record["category_sizes"] = counts
        if collapsed and not self.collapsed:
            lc = t.learnable
            F = sum(counts)
            big = max(range(len(counts)), key=counts.__getitem__)
            empty = [k for k, c in enumerate(counts) if c == 0]
            what = []
            if counts[big] > F / 2:
                what.append(f"category {big} holds {counts[big]} of {F} features "
                            f"({100 * counts[big] / F:.0f}%)")
            if empty:
                what.append(f"empty categories: {', '.join(map(str, empty))}")
            t.console.warning(
                f"Category collapse at epoch {epoch}: {'; '.join(what)}. "
                f"Increase learnable_assignment.balance_weight from {lc.balance_weight:.2f} "
                f"to {2 * lc.balance_weight:.2f}, or temperature_end from {lc.temperature_end:.1f} "
                f"to {3 * lc.temperature_end:.1f} (slower annealing).",
                epoch=epoch, category_sizes=counts)
            t.history.setdefault("collapse_warnings", []).append(
                {"epoch": epoch, "category_sizes": counts})
        self.collapsed = collapsed

    def categories_changed(self) -> None:
        self.collapsed = False

    def state_dict(self) -> dict[str, Any]:
        return {"collapsed": self.collapsed}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        self.collapsed = bool(meta.get("collapsed", False))
