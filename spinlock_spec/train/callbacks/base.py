"""The callback interface of the training loop, and two helpers the learnable callbacks share.

The core loop (train/trainer.py) calls every hook of every callback in list order, once per
epoch or once per run, never per batch.  A callback keeps the trainer it was made for
(``self.trainer``) and reads the model, config, console and history through it.

Checkpoint state: ``state_dict()`` returns the top-level keys of ``checkpoint.json`` the
callback owns (they must be JSON values); ``load_state_dict(meta)`` reads them back from a
checkpoint's metadata, and must accept checkpoints written before the callback existed.
"""
from __future__ import annotations

from typing import Any


class Callback:
    """Does nothing at every hook; subclasses override the hooks they need."""

    def __init__(self, trainer: Any):
        self.trainer = trainer

    def before_epoch(self, epoch: int) -> None:
        """Before the first batch of ``epoch`` (the epoch's RNG is already seeded)."""

    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        """After validation, with the epoch's record (before early stopping and the files)."""

    def epoch_saved(self, record: dict[str, Any]) -> None:
        """After the epoch's files (metrics.jsonl, history, checkpoint) are written."""

    def categories_changed(self) -> None:
        """The model lost categories (pruning or merging)."""

    def finish(self) -> None:
        """After the final model and reports are written."""

    def prepare_resume(self, meta: dict[str, Any]) -> None:
        """Before a checkpoint's weights are loaded: give the model the checkpoint's shape."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        """Restore from a checkpoint's metadata (all of it: read only your own keys)."""


def hard_ids(model: Any) -> list[int]:
    """The hard assignment as ORIGINAL category indices (stable across pruning)."""
    hard = model.hard_assignment().detach().cpu().tolist()
    ids = getattr(model, "category_ids", None)
    return [int(ids[c]) for c in hard] if ids is not None else [int(c) for c in hard]


def note(trainer: Any, record: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    """A line printed under the epoch's block (``assignment_notes``) and its JSON event."""
    record.setdefault("assignment_notes", []).append(text)
    trainer.console.event({**event, "epoch": record["epoch"], "message": text.strip()})
