"""The move audit of the learned assignment (``learnable_assignment.move_audit_epochs``).

The credit moves a feature to the category that predicts it best *without seeing it*; that
does not say the new category will reconstruct it as well as the old one did while seeing
it (on real tables a feature that nothing else predicts well can lose most of its R² in the
move).  So every move is checked by what it did: the features that moved in an epoch, and
every feature of the categories they left and joined ("touched"), are compared with the
same features' validation error in the epoch before the move, ``move_audit_epochs`` epochs
later.  The untouched features are the control: their error ratio over the same epochs is
the trend training alone gives.  When the touched features' summed error is above their
reference times that trend, the moves are undone: each moved feature gets back its logits
from before the move, its logits are held from then on (no gradient, Adam moments zeroed),
and a line under the epoch says so.  A feature whose move was kept is audited again if it
moves again.

Errors: each identity feature's mean squared error on the validation rows (the rows the
quality is measured on), from the trainer's validation pass of the epoch
(``val_feature_mse``), from the end of the assignment warm-up to the epoch before the
last.  Not with distributed training (each process holds other rows).

Checkpoint key: ``move_audit`` (the previous epoch's hard assignment, errors and logits,
the pending audits and the held features).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Callback, hard_ids, note


class MoveAudit(Callback):
    def __init__(self, trainer: Any):
        super().__init__(trainer)
        self.previous: dict[str, Any] | None = None   # hard ids, errors, logits after the last epoch
        self.pending: list[dict[str, Any]] = []
        self.held: list[int] = []

    def _epochs(self) -> int:
        return int(self.trainer.learnable.move_audit_epochs)

    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        k = self._epochs()
        t = self.trainer
        if k <= 0 or t.dist.enabled or epoch < t.assignment_warmup() or epoch >= t.horizon:
            return                     # (the last epoch's moves cannot be judged; its audits were)
        self.observe(epoch, list(t.val_feature_mse), record)

    def observe(self, epoch: int, errors: list[float], record: dict[str, Any]) -> None:
        """One epoch's per-feature errors: judge the audits that are due, start new ones."""
        k = self._epochs()
        model = self.trainer.model
        hard = hard_ids(model)
        for audit in [a for a in self.pending if epoch >= a["due"]]:
            self.pending.remove(audit)
            self._judge(audit, errors, hard, epoch, record)
        hard = hard_ids(model)                          # after any undone move
        prev = self.previous
        if prev is not None and epoch + k < self.trainer.horizon:
            moved = [f for f, (a, b) in enumerate(zip(prev["hard"], hard)) if a != b and f not in self.held]
            fresh = []
            for f in moved:
                audit = next((a for a in self.pending if f in a["features"]), None)
                if audit is None:
                    fresh.append(f)
                    continue
                # moved again before its audit: judged later, still against where it came from
                audit["touched"] = sorted(set(audit["touched"]) | {g for g in range(len(hard)) if hard[g] == hard[f]})
                self._mark_busy(audit["touched"])
                audit["due"] = epoch + k
            if fresh:
                cats = {prev["hard"][f] for f in fresh} | {hard[f] for f in fresh}
                touched = [g for g in range(len(hard)) if prev["hard"][g] in cats or hard[g] in cats]
                # features that other moves may be changing in this audit's window: not a control
                busy = set().union(*(a["touched"] for a in self.pending)) if self.pending else set()
                self._mark_busy(touched)
                self.pending.append({"epoch": epoch, "due": epoch + k, "features": fresh,
                                     "from": [prev["hard"][f] for f in fresh], "touched": touched,
                                     "busy": sorted(busy), "reference": prev["errors"],
                                     "logits": [prev["logits"][f] for f in fresh]})
        self.previous = {"hard": hard, "errors": errors,
                         "logits": model.assignment_logits.detach().cpu().tolist()}

    def _mark_busy(self, touched: list[int]) -> None:
        """Features a move is changing now: not a control for any pending audit."""
        for audit in self.pending:
            audit["busy"] = sorted(set(audit["busy"]) | set(touched))

    def _judge(self, audit: dict[str, Any], errors: list[float], hard: list[int], epoch: int,
               record: dict[str, Any]) -> None:
        """Keep the audit's moves, or undo those still in place (see the module docstring)."""
        touched = set(audit["touched"])
        ref = audit["reference"]
        others = [g for g in range(len(errors)) if g not in touched and g not in set(audit["busy"])]
        ref_others = sum(ref[g] for g in others)
        trend = sum(errors[g] for g in others) / ref_others if others and ref_others > 0 else 1.0
        before = sum(ref[g] for g in touched)
        now = sum(errors[g] for g in touched)
        expected = before * trend
        names = self.trainer.model.feature_names
        moved = [(f, row) for f, a, row in zip(audit["features"], audit["from"], audit["logits"]) if hard[f] != a]
        if not moved:
            return
        what = ", ".join(names[f] for f, _ in moved)
        change = now / expected - 1.0 if expected > 0 else 0.0
        event = {"event": "move_audit", "features": [names[f] for f, _ in moved], "moved_epoch": audit["epoch"],
                 "error_change": change, "kept": now <= expected}
        if now <= expected:
            note(self.trainer, record, f"  Move audit: kept the move of {what} (epoch {audit['epoch']}): "
                                       f"the touched categories' error {100 * change:+.1f}% against the trend",
                 event)
            return
        self._undo(moved)
        note(self.trainer, record, f"  Move audit: undid the move of {what} (epoch {audit['epoch']}): the touched "
                                   f"categories' error {100 * change:+.1f}% against the trend; held where it was",
             event)

    def _undo(self, moved: list[tuple[int, list[float]]]) -> None:
        model = self.trainer.model
        logits = model.assignment_logits
        state = self.trainer.optimizers["assignment"].state.get(logits, {})
        with torch.no_grad():            # in place: a recorded CUDA graph keeps reading the same storage
            for f, row in moved:
                logits[f].copy_(torch.tensor(row, dtype=logits.dtype, device=logits.device))
                model.held_features[f] = 1.0
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in state:
                        state[key][f].zero_()
                self.held.append(int(f))

    def categories_changed(self) -> None:
        """Pruning or merging renumbered the categories: the saved logits rows no longer
        fit; the pending audits are dropped and the next epoch starts a new reference."""
        self.pending = []
        self.previous = None

    def state_dict(self) -> dict[str, Any]:
        return {"move_audit": {"previous": self.previous, "pending": list(self.pending), "held": list(self.held)}}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        st = meta.get("move_audit") or {}
        self.previous = st.get("previous")
        self.pending = list(st.get("pending", []))
        self.held = [int(f) for f in st.get("held", [])]
        with torch.no_grad():
            for f in self.held:
                self.trainer.model.held_features[f] = 1.0
