"""LearnableVQVAETrainer: the core loop (train/trainer.py) for a model that learns its
category assignment, with the callbacks that go with it (train/callbacks/)."""
from __future__ import annotations

import math
from typing import Any

import torch

from .callbacks import Callback
from .callbacks.base import hard_ids
from .callbacks.collapse import CollapseWatch
from .callbacks.move_audit import MoveAudit
from .callbacks.pruning import CategoryPruning
from .callbacks.temperature import TemperatureSchedule
from .epoch_log import ASSIGN_TERMS, MODEL_TERMS
from .optimizers import fused
from .trainer import VQVAETrainer

from .config import ASSIGNMENT_LR_UNIT     # assignment_lr x ASSIGNMENT_LR_UNIT = the most a logit moves per epoch


def _fmt_clip(value: float | None) -> str:
    return "off" if not value else f"{value:.1f}" if float(value).is_integer() else f"{value:g}"


class LearnableVQVAETrainer(VQVAETrainer):
    """Trains a :class:`LearnableCategoricalVQVAE`: model and assignment logits together.

    Two optimizers: the model's parameters at ``training.learning_rate`` (with
    the schedule and warmup), the assignment logits at
    ``learnable_assignment.assignment_lr`` (constant).  Gradients are clipped
    per optimizer: model parameters at ``training.gradient_clip_norm``, the logits
    at ``learnable_assignment.gradient_clip_norm``.  The temperature follows
    ``temperature_schedule`` (callbacks/temperature.py).  The objective is ``train``
    (sum of weighted model terms) + ``assign_total`` (weighted assign_orthogonality +
    assign_balance).  Callbacks, in order: collapse watch, temperature schedule (with
    adaptive freezing), the move audit, pruning and merging, then the core's epoch log and
    TensorBoard.
    """

    trainer_type = "LearnableVQVAETrainer"
    learns_assignment = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        lc = self.learnable
        self.console.info("Learnable assignment training enabled:",
                          f"  Assignment LR: {lc.assignment_lr:g}",
                          f"  Temperature schedule: {lc.temperature_schedule}",
                          f"  Gradient clip norm: {_fmt_clip(lc.gradient_clip_norm)}",
                          f"  Effective assignment LR: {lc.effective_assignment_lr:g} per epoch "
                          f"(assignment_lr x {ASSIGNMENT_LR_UNIT:g}: the most a logit moves in an epoch)")
        self.console.event({"event": "learnable_assignment_enabled",
                            "assignment_lr": lc.assignment_lr, "effective_assignment_lr": lc.effective_assignment_lr,
                            "assignment_step": self.assignment_step(),
                            "temperature_schedule": lc.temperature_schedule,
                            "temperature_start": lc.temperature_start,
                            "temperature_end": lc.temperature_end,
                            "gradient_clip_norm": lc.gradient_clip_norm})
        # the assignment training starts from (initial categories): "moved" counts against it
        self.initial_assignment = self.model.hard_assignment().detach().cpu().clone()
        if hasattr(self.model, "gumbel_noise"):
            self.model.gumbel_noise = lc.gumbel_scale

    def make_callbacks(self, *, tensorboard: bool) -> list[Callback]:
        own = [CollapseWatch(self), TemperatureSchedule(self), MoveAudit(self), CategoryPruning(self)]
        return own + super().make_callbacks(tensorboard=tensorboard)

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        model_params = [p for p in self.model.model_parameters() if p.requires_grad]
        assign_params = [p for p in self.model.assignment_parameters() if p.requires_grad]
        if not assign_params:
            raise ValueError("LearnableVQVAETrainer: the model has no assignment parameters")
        ids = {id(p) for p in assign_params}
        if any(id(p) in ids for p in model_params):
            raise ValueError("model_parameters() and assignment_parameters() overlap")
        return {"model": self.build_optimizers_for(model_params),
                "assignment": torch.optim.Adam(assign_params, lr=self.assignment_step(),
                                               **fused(self.device))}

    def assignment_warmup(self) -> int:
        """Epochs during which the logits hold still (default: a fifth of the run, at least 1):
        an untrained model's reconstruction credit is noise and would scatter a good start."""
        w = self.learnable.assignment_warmup_epochs
        return int(w) if w is not None else max(1, self.horizon // 5)

    def _schedule_lrs(self, epoch: int, batch: int, num_batches: int) -> None:
        super()._schedule_lrs(epoch, batch, num_batches)
        lr = 0.0 if epoch <= self.assignment_warmup() else self.assignment_step()
        for group in self.optimizers["assignment"].param_groups:
            group["lr"] = lr

    def assignment_step(self) -> float:
        """Adam learning rate of the logits per batch: ``assignment_lr`` is per-epoch, in
        units of 1/ASSIGNMENT_LR_UNIT logit (Adam moves a parameter by about its lr per
        step), so ``assignment_lr`` x ASSIGNMENT_LR_UNIT is the most a logit can move in
        one epoch whatever the dataset size and batch size (0.001 -> 1.0 per epoch)."""
        return self.learnable.effective_assignment_lr / max(self.num_batches(), 1)

    def _clip_groups(self):
        return [(self.optimizers["model"].param_groups[0]["params"], self.cfg.gradient_clip_norm),
                (self.optimizers["assignment"].param_groups[0]["params"],
                 self.learnable.gradient_clip_norm)]

    def _clip_gradients(self) -> None:
        """Each optimizer's gradients clipped to its own norm; the model's norm leaves out
        the probe's gradients (the decoder outputs of features a category does not hold,
        see LearnableCategoricalVQVAE._recon_loss), so the model is clipped exactly as
        static mode clips it (torch's clip_grad_norm_ in its two public halves)."""
        from torch.nn.utils import clip_grads_with_norm_, get_total_norm

        for (params, max_norm), own in zip(self._clip_groups(), (True, False)):
            if not max_norm:
                continue
            grads = [p.grad for p in params if p.grad is not None]
            if own and hasattr(self.model, "held_gradients"):
                grads = self.model.held_gradients(params)
            total = get_total_norm(grads, foreach=True)
            clip_grads_with_norm_(params, max_norm, total, foreach=True)

    def _term_names(self) -> tuple[str, ...]:
        return MODEL_TERMS + ASSIGN_TERMS

    def _term_weight(self, name: str) -> float:
        if name in ASSIGN_TERMS:
            return self.learnable.loss_weights[name]
        return self.weights.get(name, 0.0)

    def epoch_record(self, epoch, total, seconds, train, val, train_loss, val_loss):
        record = super().epoch_record(epoch, total, seconds, train, val, train_loss, val_loss)
        record["assign"] = {n: train["components"][n] for n in ASSIGN_TERMS}
        record["assign_total"] = sum(record["assign"].values())
        record["temperature"] = float(self.model.temperature)
        record["metrics"]["temperature"] = record["temperature"]
        hard = torch.tensor(hard_ids(self.model))
        record["features_moved"] = int((hard != self.initial_assignment).sum())
        record["metrics"]["features_moved"] = record["features_moved"]
        if self.true_labels is not None and len(self.true_labels) == len(hard):
            from .metrics import adjusted_rand_index
            ari = adjusted_rand_index(self.true_labels, hard.tolist())
            if math.isfinite(ari):
                record["assignment_ari"] = ari
                record["metrics"]["assignment_ari"] = ari
        return record

    def categories_report(self) -> dict[str, Any]:
        from .categories_report import learned_categories_report
        return learned_categories_report(self.model)
