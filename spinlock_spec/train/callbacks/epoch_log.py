"""The console block of every epoch (train/epoch_log.py formats it) and its JSON event.

Learnable runs add the assignment lines the guide shows: the ARI against planted groups
(when known), the features moved from their initial category, and the notes other
callbacks left in the record (temperature frozen, pruned, merged).  No checkpoint state.
"""
from __future__ import annotations

from typing import Any

from ..epoch_log import epoch_text_lines
from .base import Callback


class EpochLog(Callback):
    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        lines = epoch_text_lines(
            epoch=record["epoch"], num_epochs=record["num_epochs"], seconds=record["time_s"],
            components=record["components"], val_loss=record["val_loss"],
            utilization=record["utilization"], assign=record.get("assign"),
            temperature=record.get("temperature"))
        if "assignment_ari" in record:
            lines.append(f"  Assignment ARI vs planted groups: {record['assignment_ari']:.2f}")
        if "features_moved" in record:
            lines.append(f"  Features moved from their initial category: {record['features_moved']} "
                         f"of {len(self.trainer.initial_assignment)}")
        lines += record.get("assignment_notes", [])
        console = self.trainer.console
        console.info(*lines)
        console.event({"event": "epoch", **{k: v for k, v in record.items() if k != "metrics"}})
