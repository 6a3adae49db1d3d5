"""Temperature schedule of the learned assignment, and its adaptive freezing.

Before each epoch: the temperature from ``learnable_assignment.temperature_schedule``
(epoch e uses the schedule's value at index e-1), the straight-through (hard) forward pass
(every epoch with ``forward_assignment: hard``, else the last ``straight_through_epochs``)
and the credit mask outside the last ``straight_through_epochs``.  After each epoch, with
``temperature_schedule: adaptive``: once the hard assignment has been unchanged from one
epoch to the next with a mean max-probability >= ``adaptive_threshold`` for
``adaptive_patience`` consecutive epochs, the temperature is frozen at its current value.

Checkpoint keys: ``temperature`` (the model's current temperature) and
``adaptive_temperature`` (the freezing state).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Callback, hard_ids, note


class TemperatureSchedule(Callback):
    def __init__(self, trainer: Any):
        super().__init__(trainer)
        self.adaptive = {"frozen": False, "epoch": None, "temperature": None, "stable": 0,
                         "previous": None}

    def temperature_for_epoch(self, epoch: int) -> float:
        from ...nn.schedules import temperature_at
        lc = self.trainer.learnable
        if lc.temperature_schedule == "adaptive" and self.adaptive["frozen"]:
            return float(self.adaptive["temperature"])       # held since the assignment stabilised
        horizon = self.trainer.horizon      # after it (a resume that extends the run): the end value
        return float(temperature_at(min(epoch, horizon) - 1, horizon, lc.temperature_start,
                                    lc.temperature_end, lc.temperature_schedule))

    def straight_through_epochs(self) -> int:
        """``straight_through_epochs``, or when unset the last sixth of the run (30 -> 5, 5 -> 0)."""
        st = self.trainer.learnable.straight_through_epochs
        return int(st) if st is not None else self.trainer.horizon // 6

    def before_epoch(self, epoch: int) -> None:
        model = self.trainer.model
        model.temperature = self.temperature_for_epoch(epoch)
        st = self.straight_through_epochs()
        hard_phase = bool(st) and epoch > self.trainer.horizon - st
        lc = self.trainer.learnable
        if hasattr(model, "straight_through"):
            # forward_assignment hard: the model trains on the argmax categories from the
            # first epoch (the logits still get the soft gradient at this temperature)
            model.straight_through = hard_phase or lc.forward_assignment == "hard"
        if hasattr(model, "fix_epoch_assignment"):   # moves take effect between epochs
            model.fix_epoch_assignment()
        if hasattr(model, "credit_mask"):
            # masked credit outside the final epochs, measured on the first credit_row_fraction
            # of each batch's rows by the model's credit pass
            model.credit_mask = 0.0 if hard_phase else lc.credit_mask_probability
            model.credit_row_fraction = float(lc.credit_row_fraction)
            model.credit_margin = float(lc.move_margin)
        if hasattr(model, "credit_generator"):     # the CPU credit mask's own stream, per epoch
            from ..device import epoch_seed
            model.credit_generator.manual_seed(epoch_seed(self.trainer.seed, epoch) + 1)

    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        t = self.trainer
        lc, st, model = t.learnable, self.adaptive, t.model
        if lc.temperature_schedule != "adaptive":
            return
        if not st["frozen"]:
            with torch.no_grad():
                mmp = float(model.assignment_probs().max(-1).values.mean())
            hard = hard_ids(model)
            previous = st["previous"] if st["previous"] is not None else t.initial_assignment.tolist()
            stable = hard == [int(c) for c in previous] and mmp >= lc.adaptive_threshold
            st["stable"] = st["stable"] + 1 if stable else 0
            st["previous"] = hard
            record["mean_max_probability"] = mmp
            if st["stable"] >= lc.adaptive_patience:
                st.update(frozen=True, epoch=epoch, temperature=float(model.temperature),
                          mean_max_probability=mmp)
                t.history["temperature_frozen_epoch"] = epoch
                note(t, record, f"  Temperature frozen at epoch {epoch} (assignment stable for "
                                f"{st['stable']} epochs, mean max-probability {mmp:.2f}); "
                                f"held at {model.temperature:.3f}",
                     {"event": "temperature_frozen", "temperature": float(model.temperature),
                      "mean_max_probability": mmp, "stable_epochs": st["stable"]})
        record["temperature_frozen"] = bool(st["frozen"])
        record["metrics"]["temperature_frozen"] = bool(st["frozen"])

    def state_dict(self) -> dict[str, Any]:
        return {"temperature": float(self.trainer.model.temperature),
                "adaptive_temperature": dict(self.adaptive)}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        self.trainer.model.temperature = float(meta["temperature"])
        if meta.get("adaptive_temperature"):
            self.adaptive = dict(meta["adaptive_temperature"])
