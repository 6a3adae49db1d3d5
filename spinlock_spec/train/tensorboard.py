"""TensorBoard logging of a run (``logging.tensorboard: true``): the per-epoch
scalars of ``metrics.jsonl`` and, for a learnable run, the assignment matrix as
an image, written with ``torch.utils.tensorboard.SummaryWriter`` into
``RUN/tensorboard/``.

TensorBoard is an optional extra (``pip install tensorboard``, or ``pip install -e ".[tensorboard]"``);
asking for it without it installed is a :class:`UserError` raised when the
trainer is created, before any training.  The event file is created on the
first epoch (a run that fails earlier leaves no folder behind).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import numpy as np

from ..errors import UserError

INSTALL_HINT = 'pip install tensorboard  (or set logging.tensorboard: false)'
# record keys holding {name: value} dicts, logged as "<key>/<name>"
_GROUPS = ("components", "val_components", "terms", "val_terms", "assign")
_SCALARS = {"train_loss": "loss/train", "val_loss": "loss/val", "assign_total": "assign/total",
            "temperature": "assignment/temperature", "lr": "lr", "time_s": "time_s"}


def summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter``, or a UserError saying how to install it."""
    try:
        import tensorboard  # noqa: F401  (torch's module imports it lazily; check up front)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("logging.tensorboard is true but TensorBoard is not installed", code="E510",
                        hint=INSTALL_HINT) from None
    return SummaryWriter


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def epoch_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """Tag -> value for one epoch record (the line metrics.jsonl holds for it)."""
    out: dict[str, float] = {}
    for key, tag in _SCALARS.items():
        v = _number(record.get(key))
        if v is not None:
            out[tag] = v
    for group in _GROUPS:
        for name, value in (record.get(group) or {}).items():
            v = _number(value)
            if v is not None:
                out[f"{group}/{name}"] = v
    for name, value in (record.get("metrics") or {}).items():
        if name in ("epoch", "temperature"):
            continue
        if name == "utilization_per_level" and isinstance(value, list):
            for level, u in enumerate(value):
                if _number(u) is not None:
                    out[f"metrics/utilization_level_{level}"] = float(u)
            continue
        v = _number(value)
        if v is not None:       # per-codebook keys keep their "category/level_l/stat" path
            out[f"metrics/{name}"] = v
    return out


def assignment_image(probs: np.ndarray, feature_names, category_names, temperature: float | None) -> np.ndarray:
    """[H, W, 3] uint8 picture of the assignment matrix: the report's labelled heatmap
    when matplotlib is available, else the sorted matrix itself scaled up."""
    from spinlock_spec.assignment_plot import assignment_height, block_order, draw_assignment, new_figure, render_rgb

    F, K = probs.shape
    try:
        fig = new_figure(max(7.0, 0.55 * K + 4.5), min(assignment_height(F), 16.0))
    except ImportError:
        m = np.asarray(probs, dtype=float)[block_order(probs)]
        gray = (255 * (1.0 - np.clip(m, 0.0, 1.0))).astype(np.uint8)
        big = np.kron(gray, np.ones((6, 24), dtype=np.uint8))
        return np.repeat(big[..., None], 3, axis=2)
    draw_assignment(fig, probs, list(feature_names), list(category_names), learnable=True,
                    temperature=temperature)
    return render_rgb(fig)


class TensorBoardWriter:
    """Writes one run's epochs to ``log_dir`` (created on the first epoch)."""

    def __init__(self, log_dir: str | Path):
        self._cls = summary_writer_class()
        self.log_dir = Path(log_dir)
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            self._writer = self._cls(log_dir=str(self.log_dir))
        return self._writer

    def log_epoch(self, record: Mapping[str, Any], model: Any = None) -> None:
        step = int(record["epoch"])
        for tag, value in epoch_scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        if model is not None and hasattr(model, "assignment_probs"):
            self.log_assignment(model, step)
        self.writer.flush()

    def log_assignment(self, model: Any, step: int) -> None:
        import torch

        from .metrics import category_names

        with torch.no_grad():
            probs = model.assignment_probs().detach().float().cpu().numpy()
        image = assignment_image(probs, model.feature_names, category_names(model, probs.shape[1]),
                                 float(getattr(model, "temperature", float("nan"))))
        self.writer.add_image("assignment/matrix", image, step, dataformats="HWC")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
