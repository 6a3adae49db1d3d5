"""``logging.tensorboard``: per-epoch scalars (and the assignment image) in RUN/tensorboard,
written after the epoch's files (train/tensorboard.py does the writing).  No checkpoint
state: a resumed run appends to the same event folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Callback


class TensorBoardLog(Callback):
    def __init__(self, trainer: Any, run_path: Path):
        super().__init__(trainer)
        from ...runs.names import TENSORBOARD_DIR
        from ..tensorboard import TensorBoardWriter
        self.writer = TensorBoardWriter(Path(run_path) / TENSORBOARD_DIR)

    def epoch_saved(self, record: dict[str, Any]) -> None:
        self.writer.log_epoch(record, self.trainer.model)

    def finish(self) -> None:
        self.writer.close()
