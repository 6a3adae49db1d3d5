"""The core training loop, VQVAETrainer (LearnableVQVAETrainer: train/learnable.py).

What varies around the loop is in callbacks (train/callbacks/), called once per epoch and
each owning its checkpoint state.  Design points (see also docs/architecture.md):

* Data stay resident on the device as tensors; a batch is an index into them.
  The order of epoch ``e`` is ``randperm`` from a generator seeded with
  ``(seed, e)`` and the global torch RNG (dropout, Gumbel noise, dead-code
  re-seeding) is re-seeded from ``(seed, e)`` at the start of every epoch, so
  a run resumed after epoch k reproduces the uninterrupted run exactly.
* Loss terms come unweighted from the model (``out.terms``); the trainer
  weights them with the ``training`` section.  Per-batch values are
  accumulated on the device and read once per epoch (no ``.item()`` per batch).
* Early stopping counts EPOCHS without an improvement larger than
  ``early_stopping_min_delta`` of the validation loss; 0/None disables it.
* With a run folder: ``checkpoint.*`` (resumable state) after every epoch,
  ``best_model.*`` on every new best validation loss, ``final_model.*``,
  ``training_history.json``, ``metrics.jsonl`` and ``categories.json``.
* Ctrl-C: the state of the last completed epoch is on disk; ``fit`` raises
  :class:`TrainingInterrupted` (a KeyboardInterrupt with ``exit_code`` 130 and
  the checkpoint path) for the CLI to turn into exit status 130.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import torch

from ..errors import UserError
from . import checkpoint as ckpt, trainer_state
from .divergence import TrainingDivergedError, TrainingInterrupted, check as check_divergence
from .callbacks import Callback
from .config import LearnableConfig, TrainingConfig
from .device import compile_mode, compiled_forward, epoch_seed, resolve_device, to_device_arrays
from .epoch_log import MODEL_TERMS, Console, ProgressBar
from .history import append_epoch, empty_history
from .lr_schedule import lr_factor
from .optimizers import make_optimizer
from .trainers import has_assignment
from .metrics import CodeUsage, category_names, evaluate, n_rows, take_rows, usage_metrics
from ..runs.folder import RunDir, sigint_deferred
from ..runs.names import (BEST_MODEL_FILE, BEST_STEM, CATEGORIES_FILE, CHECKPOINT_STEM, FINAL_STEM, HISTORY_FILE,
                          METRICS_FILE)

__all__ = ["VQVAETrainer", "TrainingInterrupted", "TrainingDivergedError", "compile_mode", "epoch_seed"]

PROGRESS_MIN_BATCHES = 50


class VQVAETrainer:
    """Trains a :class:`CategoricalHierarchicalVQVAE` (categories fixed)."""

    trainer_type = "VQVAETrainer"
    learns_assignment = False         # LearnableVQVAETrainer: reads the learnable_assignment section

    def __init__(self, model: torch.nn.Module, train_arrays: Mapping[str, Any],
                 val_arrays: Mapping[str, Any], training_cfg: Mapping[str, Any] | None,
                 learnable_cfg: Mapping[str, Any] | None = None, run_dir: RunDir | str | Path | None = None,
                 log: Callable[[str], Any] | logging.Logger | None = None,
                 device: str | torch.device | None = None, *, seed: int | None = None,
                 spec_hash: str | None = None, quiet: bool = False, log_format: str = "text",
                 true_labels: Sequence[int] | None = None, metadata: Mapping[str, Any] | None = None,
                 progress: bool = True, tensorboard: bool = False, dist: Any = None,
                 train_stream: Any = None, final_metrics: Callable[..., dict] | None = None):
        from spinlock_spec import preload
        from .distributed import DistContext
        preload.wait()          # torch.compile and the first optimizer step import torch._dynamo
        self.final_metrics = final_metrics      # (model, metrics) -> metrics: the user-scale quality
        self.dist = dist if dist is not None else DistContext()
        self.cfg = TrainingConfig.from_dict(training_cfg, random_seed=seed)
        self.learnable = LearnableConfig.from_dict(learnable_cfg) if self.learns_assignment else None
        self.device = resolve_device(device if device is not None else self.cfg.device)
        self.seed = self.cfg.random_seed
        self.spec_hash = spec_hash
        self.run_dir = RunDir(run_dir) if isinstance(run_dir, (str, Path)) else run_dir
        self.console = Console(log, quiet=quiet, fmt=log_format)
        self.progress = progress and not quiet and log_format == "text"
        self.true_labels = list(true_labels) if true_labels is not None else None
        self.extra_metadata = dict(metadata or {})
        # what varies around the loop, called in this order once per epoch (train/callbacks/)
        self.callbacks: list[Callback] = self.make_callbacks(tensorboard=tensorboard)

        self.model = model.to(self.device)
        # train_stream (data/streaming.py): training rows read in chunks, not resident
        self.train_stream = train_stream
        self.train_arrays = (to_device_arrays(train_arrays, self.device) if train_stream is None
                             else {})
        self.val_arrays = to_device_arrays(val_arrays, self.device)
        self.n_train = n_rows(self.train_arrays) if train_stream is None else int(train_stream.n_train)
        self.n_val = n_rows(self.val_arrays)
        if self.n_train < 2:
            raise UserError(f"training needs at least 2 rows, got {self.n_train}")
        if self.n_val < 1:
            raise UserError("the validation split is empty")

        self.weights = self.cfg.loss_weights
        self._weight_vectors: dict[tuple[str, ...], torch.Tensor] = {}
        self.use_cuda = self.device.type == "cuda"
        self.autocast_bf16 = self.use_cuda and self.cfg.precision in ("bf16", "auto")
        # eager or recorded steps, flat-gradient all-reduce across processes (train/fast_step.py)
        from .fast_step import StepEngine
        self.steps = StepEngine(self)
        self._forward = compiled_forward(self.model, self.cfg, self.dist.enabled) if self.use_cuda else self.model

        self.optimizers: dict[str, torch.optim.Optimizer] = self.build_optimizers()
        self.base_lrs = {name: [g["lr"] for g in opt.param_groups]
                         for name, opt in self.optimizers.items()}

        # progress state (restored by resume_from)
        self.epoch = 0                       # last completed epoch
        self.schedule_epochs: int | None = None   # the schedules' horizon (kept on resume)
        self.best_val = math.inf
        self.best_epoch = 0
        self.es_best = math.inf              # reference value for early stopping
        self.epochs_without_improvement = 0
        self.stopped_early = False
        self.history: dict[str, Any] = empty_history()
        self.records: list[dict[str, Any]] = []

        self.console.info(f"{self.trainer_type} created", *self.steps.describe())
        self.console.event({"event": "trainer_created", "trainer_type": self.trainer_type,
                            "device": str(self.device), "train_samples": self.n_train,
                            "val_samples": self.n_val})

    # ------------------------------------------------------------------ parts
    def make_callbacks(self, *, tensorboard: bool) -> list[Callback]:
        """The callbacks of this trainer, in call order (the learnable trainer adds its own first)."""
        from .callbacks.epoch_log import EpochLog
        callbacks: list[Callback] = [EpochLog(self)]
        if tensorboard and self.run_dir is not None:
            from .callbacks.tensorboard import TensorBoardLog
            callbacks.append(TensorBoardLog(self, self.run_dir.path))
        return callbacks

    def categories_changed(self) -> None:
        """Tell every callback that the model lost categories (pruning, merging)."""
        for cb in self.callbacks:
            cb.categories_changed()

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if has_assignment(self.model):
            raise TypeError(f"{type(self.model).__name__} learns its category assignment: "
                            "train it with LearnableVQVAETrainer (make_trainer picks it)")
        return {"model": self.build_optimizers_for([p for p in self.model.parameters() if p.requires_grad])}

    def build_optimizers_for(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """The model optimizer (``training.optimizer``, ``learning_rate``) over ``params``."""
        return make_optimizer(params, self.cfg.learning_rate, self.cfg, self.device)

    def _clip_groups(self) -> list[tuple[list[torch.nn.Parameter], float | None]]:
        return [(self.optimizers["model"].param_groups[0]["params"], self.cfg.gradient_clip_norm)]

    def _clip_gradients(self) -> None:
        for params, max_norm in self._clip_groups():
            if max_norm:       # foreach: one C++ loop over the grads on CPU too (default: Python)
                torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)

    def _term_names(self) -> tuple[str, ...]:
        return MODEL_TERMS

    def _term_weight(self, name: str) -> float:
        return self.weights.get(name, 0.0)

    def _schedule_lrs(self, epoch: int, batch: int, num_batches: int) -> None:
        factor = lr_factor(self.cfg, epoch, batch, num_batches)
        for group, base in zip(self.optimizers["model"].param_groups, self.base_lrs["model"]):
            group["lr"] = base * factor

    @property
    def horizon(self) -> int:
        """Epochs the temperature schedule (straight-through, assignment warm-up) spans: the
        run's first ``num_epochs``, kept on resume (the learning rate follows ``num_epochs``)."""
        return int(self.schedule_epochs or self.cfg.num_epochs)

    # ------------------------------------------------------------------ batches
    def num_batches(self) -> int:
        n, bs = self.n_train, self.cfg.batch_size
        full, rest = divmod(n, bs)
        # a trailing batch of a single row (per process) is dropped (batch statistics need >= 2 rows)
        return full + (1 if rest >= 2 * self.dist.world_size or full == 0 else 0)

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The row permutation of ``epoch``: a pure function of (seed, epoch)."""
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        return torch.randperm(self.n_train, generator=gen).to(self.device)

    def _autocast(self):
        if self.autocast_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ one epoch
    def _loss_vector(self, terms: Mapping[str, torch.Tensor], names: Sequence[str]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(weighted terms [T], raw terms [T]) in ``names`` order (absent term = 0)."""
        zero = torch.zeros((), device=self.device)
        raw = torch.stack([terms[n].float() if n in terms else zero for n in names])
        key = tuple(names)
        w = self._weight_vectors.get(key)
        if w is None:      # built once per term list: no host->device copy per batch
            w = self._weight_vectors[key] = torch.tensor([self._term_weight(n) for n in names],
                                                         device=self.device)
        return raw * w, raw

    def _epoch_batches(self, epoch: int, order: torch.Tensor | None, nb: int):
        """This process's step inputs of ``epoch``: row indices into the resident data
        (``{"rows": idx}``), or the stream's chunk-shuffled batches (each process takes its
        slice of a global batch)."""
        bs = self.cfg.batch_size
        if self.train_stream is None:
            for b in range(nb):
                lo, hi = self.dist.local_slice(b * bs, min(self.n_train, (b + 1) * bs))
                yield {"rows": order[lo:hi]}
            return
        name = self.train_stream.family
        for rows in self.train_stream.epoch_batches(epoch_seed(self.seed, epoch), bs):
            lo, hi = self.dist.local_slice(0, len(rows))
            t = torch.from_numpy(rows[lo:hi])
            if self.use_cuda:
                t = t.pin_memory().to(self.device, non_blocking=True)
            yield {name: t}

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        self.model.train()
        names = self._term_names()
        order = self.epoch_order(epoch) if self.train_stream is None else None
        nb = self.num_batches()
        self.steps.begin_epoch(names)     # the step adds its loss terms to the epoch's sums
        seen = 0
        bar = ProgressBar(nb, enabled=self.progress and nb >= PROGRESS_MIN_BATCHES,
                          label=f"Epoch {epoch}/{self.cfg.num_epochs}")
        for b, inputs in enumerate(self._epoch_batches(epoch, order, nb)):
            self._schedule_lrs(epoch, b, nb)
            seen += self.steps.run(inputs)
            bar.update(b + 1)
        bar.close()
        sums = self.steps.epoch_sums()
        if self.dist.enabled:              # global means: one all-reduce per epoch
            from .distributed import all_reduce_sum
            sums = all_reduce_sum(torch.cat([sums, sums.new_tensor([seen])]))
            sums, seen = sums[:-1], float(sums[-1])
        means = (sums / seen).cpu().tolist()
        weighted_means = dict(zip(names, means[: len(names)]))
        raw_means = dict(zip(names, means[len(names):]))
        return {"components": weighted_means, "terms": raw_means}

    def train_step(self, batch: Mapping[str, torch.Tensor], names: Sequence[str]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step on ``batch``, with no host synchronisation (it may be
        recorded as a CUDA graph, train/fast_step.py): forward, weighted loss, backward,
        gradient average over processes, clipping, optimizer steps.  Returns the (weighted,
        raw) term vectors, still on the device."""
        with self._autocast():
            out = self._forward(batch)
        weighted, raw = self._loss_vector(out.terms, names)
        self.steps.zero_grad()
        weighted.sum().backward()
        self.steps.reduce_gradients()
        self._clip_gradients()
        for opt in self.optimizers.values():
            opt.step()
        return weighted, raw

    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        self.model.eval()
        names = self._term_names()
        usage = CodeUsage(self.model.codebook_sizes, self.device)
        sums = torch.zeros(2 * len(names), dtype=torch.float64, device=self.device)
        feature_sq = torch.zeros(self.model.num_features, dtype=torch.float64, device=self.device)
        bs = self.cfg.batch_size
        starts = range(0, self.n_val, bs)
        if self.dist.enabled:            # sharded: every world_size-th batch, sums all-reduced
            starts = starts[self.dist.rank::self.dist.world_size]
        for start in starts:
            batch = take_rows(self.val_arrays, slice(start, min(self.n_val, start + bs)))
            with self._autocast():
                out = self.model(batch)
            weighted, raw = self._loss_vector(out.terms, names)
            sums += torch.cat([weighted, raw]).double() * int(out.codes.shape[0])
            usage.update(out.codes)
            feature_sq += self.model.identity_square_errors(out).double()
        if self.dist.enabled:
            from .distributed import all_reduce_sum
            all_reduce_sum(sums)
            all_reduce_sum(usage.counts)
        means = (sums / self.n_val).cpu().tolist()
        self.val_feature_mse = (feature_sq / self.n_val).cpu().tolist()   # this process's rows (move audit)
        metrics = usage_metrics(usage, category_names(self.model, usage.K))
        return {"components": dict(zip(names, means[: len(names)])), "terms": dict(zip(names, means[len(names):])),
                "metrics": metrics}

    # ------------------------------------------------------------------ fit
    def fit(self, num_epochs: int | None = None) -> dict[str, Any]:
        """Train until ``num_epochs`` (default: the config's) or early stopping.

        Continues after ``self.epoch`` (non-zero after :meth:`resume_from`).
        Returns the training history (also written to ``training_history.json``).
        """
        total = int(num_epochs or self.cfg.num_epochs)
        if num_epochs and num_epochs != self.cfg.num_epochs:
            self.cfg = TrainingConfig.from_dict({**self._cfg_dict(), "num_epochs": total},
                                                random_seed=self.seed)
        if self.schedule_epochs is None:     # a new run: its schedules span its epochs
            self.schedule_epochs = total
        if self.run_dir is not None and self.epoch == 0:
            self._save_state()          # resumable even if interrupted during epoch 1
        try:
            while self.epoch < total and not self.stopped_early:
                self._run_epoch(self.epoch + 1, total)
        except KeyboardInterrupt:
            path = self.run_dir.file(f"{CHECKPOINT_STEM}.json") if self.run_dir else None
            if self.dist.enabled:       # the launcher (cli/launcher.py) says it once
                raise TrainingInterrupted(self.epoch, path) from None
            self.console.warning(
                f"Interrupted: training stopped during epoch {self.epoch + 1}"
                + (f"; resumable checkpoint of epoch {self.epoch} saved in {path} "
                   f"(resume with --resume {self.run_dir.path})" if path else ""))
            raise TrainingInterrupted(self.epoch, path) from None
        return self._finish()

    def _cfg_dict(self) -> dict[str, Any]:
        from dataclasses import asdict
        d = asdict(self.cfg)
        d.update(d.pop("extra"))
        return d

    def _run_epoch(self, epoch: int, total: int) -> None:
        torch.manual_seed(epoch_seed(self.seed, epoch))
        for cb in self.callbacks:
            cb.before_epoch(epoch)
        t0 = time.perf_counter()
        train = self.train_epoch(epoch)
        if self.use_cuda:
            torch.cuda.synchronize(self.device)
        train["train_time_s"] = time.perf_counter() - t0
        reset = self._maybe_reset_dead_codes(epoch)
        if self.dist.enabled:
            from .distributed import divergence
            train["ddp_divergence"] = divergence(self.model)
        val = self.validate()
        seconds = time.perf_counter() - t0
        train_loss = sum(train["components"][n] for n in MODEL_TERMS)
        val_loss = sum(val["components"][n] for n in MODEL_TERMS)
        check_divergence(self, epoch, train_loss, val_loss)     # before any file of the epoch
        # From here on the epoch is complete: bookkeeping and files happen as one unit
        # (a Ctrl-C is held until the checkpoint of this epoch is on disk).
        with sigint_deferred():
            self._complete_epoch(epoch, total, seconds, train, val, train_loss, val_loss, reset)

    def _complete_epoch(self, epoch, total, seconds, train, val, train_loss, val_loss, reset) -> None:
        self.epoch = epoch
        record = self.epoch_record(epoch, total, seconds, train, val, train_loss, val_loss)
        record["train_time_s"] = train["train_time_s"]
        if "ddp_divergence" in train:
            record["world_size"] = self.dist.world_size
            record["ddp_divergence"] = train["ddp_divergence"]
            if train["ddp_divergence"] > 1e-6:
                self.console.warning(f"ranks differ after epoch {epoch} "
                                     f"(state fingerprint difference {train['ddp_divergence']:.3g})")
        if reset is not None:
            record["dead_codes_reset"] = reset
        for cb in self.callbacks:
            cb.after_epoch(epoch, record)

        improved = val_loss < self.best_val
        if improved:
            self.best_val, self.best_epoch = val_loss, epoch
        if val_loss < self.es_best - self.cfg.early_stopping_min_delta:
            self.es_best = val_loss
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        patience = self.cfg.early_stopping_patience
        stop = bool(patience and self.epochs_without_improvement >= patience and epoch < total)
        if self.dist.enabled and patience:    # rank 0 decides: every rank stops at the same epoch
            from .distributed import broadcast_flag
            stop = broadcast_flag(stop, self.device)
        if stop:
            self.stopped_early = True
            self.console.info(f"Early stopping at epoch {epoch}: no improvement of val loss by more "
                              f"than {self.cfg.early_stopping_min_delta:g} for {patience} epochs "
                              f"(best val={self.best_val:.3f} at epoch {self.best_epoch})")
            self.console.event({"event": "early_stopping", "epoch": epoch,
                                "best_epoch": self.best_epoch, "best_val": self.best_val})
        append_epoch(self.history, record, best_epoch=self.best_epoch, best_val=self.best_val,
                     stopped_early=self.stopped_early)
        self.records.append(record)
        if self.run_dir is not None:
            if improved:
                ckpt.save_model(self.run_dir, BEST_STEM, self.model, spec_hash=self.spec_hash,
                                epoch=epoch, metrics=record["metrics"], extra=self.extra_metadata)
                self.console.event({"event": "checkpoint", "name": "best_model", "epoch": epoch,
                                    "val_loss": val_loss, "path": str(self.run_dir.file("best_model.json"))})
            if self.cfg.save_every and epoch % self.cfg.save_every == 0:
                ckpt.save_model(self.run_dir, f"model_epoch_{epoch:04d}", self.model,
                                spec_hash=self.spec_hash, epoch=epoch, metrics=record["metrics"],
                                extra=self.extra_metadata)
            self.run_dir.append_jsonl(METRICS_FILE, record)
            self.run_dir.write_json(HISTORY_FILE, self.history)
            self._save_state()
        for cb in self.callbacks:
            cb.epoch_saved(record)

    def _maybe_reset_dead_codes(self, epoch: int) -> int | None:
        """``training.dead_code_reset_interval`` (in epochs): re-seed codes whose EMA
        count is below ``dead_code_threshold`` at the end of every N-th epoch
        (the model also re-seeds on its own schedule, see ``model.dead_code_interval``)."""
        interval = self.cfg.dead_code_reset_interval
        quantizer = getattr(self.model, "quantizer", None)
        if not interval or epoch % interval or not hasattr(quantizer, "reset_dead_codes"):
            return None
        return int(quantizer.reset_dead_codes(self.cfg.dead_code_threshold or None))

    def epoch_record(self, epoch, total, seconds, train, val, train_loss, val_loss) -> dict[str, Any]:
        comps = {n: train["components"][n] for n in MODEL_TERMS}
        record: dict[str, Any] = {
            "epoch": epoch, "num_epochs": total, "time_s": seconds,
            "train_loss": train_loss, "val_loss": val_loss,
            "components": comps,
            "val_components": {n: val["components"][n] for n in MODEL_TERMS},
            "terms": train["terms"], "val_terms": val["terms"],
            "utilization": val["metrics"]["utilization"],
            "lr": self.optimizers["model"].param_groups[0]["lr"],
            "metrics": {"epoch": epoch, "val_loss": val_loss, **val["metrics"]},
        }
        return record

    def _finish(self) -> dict[str, Any]:
        self.history["step"] = self.steps.close()    # graphs released before the process group
        final = self.evaluate()
        if self.final_metrics is not None:
            final = self.final_metrics(self.model, final)
        self.history["final_metrics"] = final
        self.history["trainer_type"] = self.trainer_type
        clipped = f" (clipped targets: {final['quality_clipped']:.3f})" if "quality_clipped" in final else ""
        self.console.info(
            f"Training finished after {self.epoch} epochs: best val={self.best_val:.3f} "
            f"(epoch {self.best_epoch}), quality={final['quality']:.3f}{clipped}, "
            f"utilization={100 * final['utilization']:.1f}%")
        self.console.event({"event": "finished", "epoch": self.epoch, "best_epoch": self.best_epoch,
                            "best_val": self.best_val, "final_metrics": final})
        if self.run_dir is not None:
            ckpt.save_model(self.run_dir, FINAL_STEM, self.model, spec_hash=self.spec_hash,
                            epoch=self.epoch, metrics=final, extra=self.extra_metadata)
            if not self.run_dir.exists(BEST_MODEL_FILE):
                ckpt.save_model(self.run_dir, BEST_STEM, self.model, spec_hash=self.spec_hash,
                                epoch=self.epoch, metrics=final, extra=self.extra_metadata)
            self.run_dir.write_json(CATEGORIES_FILE, self.categories_report())
            self.run_dir.write_json(HISTORY_FILE, self.history)
        for cb in self.callbacks:
            cb.finish()
        return self.history

    def evaluate(self, arrays: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Full metrics (see train/metrics.py) on ``arrays`` (default: the validation set)."""
        data = self.val_arrays if arrays is None else to_device_arrays(arrays, self.device)
        weights = {n: self._term_weight(n) for n in self._term_names()}
        return evaluate(self.model, data, batch_size=self.cfg.batch_size,
                        true_labels=self.true_labels, loss_weights=weights)

    def categories_report(self) -> dict[str, Any]:
        from .categories_report import categories_report
        return categories_report(self.model)

    # ------------------------------------------------------------------ state
    def _save_state(self) -> Path:
        tensors, meta = trainer_state.capture(self)
        return ckpt.write_pair(self.run_dir, CHECKPOINT_STEM, tensors, meta)

    def save_checkpoint(self) -> Path:
        """Write the resumable state of the last completed epoch now."""
        if self.run_dir is None:
            raise ValueError("trainer has no run_dir")
        return self._save_state()

    def resume_from(self, run: RunDir | str | Path, *, check_spec_hash: bool = True) -> int:
        """Restore the state saved in ``run`` (a run folder or its checkpoint.json).

        Restores model weights, optimizer(s), early stopping, RNG, epoch, history and
        every callback's state (train/trainer_state.py); returns the epoch to continue
        after.  :meth:`fit` then carries on from there.
        """
        json_path, tensors, meta = trainer_state.open_checkpoint(run, self, check_spec_hash=check_spec_hash)
        self.steps.invalidate()           # the optimizer state gets new tensors
        trainer_state.restore(self, json_path, tensors, meta)
        if self.run_dir is not None:
            # drop lines of epochs whose checkpoint never landed
            self.run_dir.write_jsonl(METRICS_FILE, self.records)
            self.run_dir.write_json(HISTORY_FILE, self.history)
        self.console.info(f"Resumed from {json_path} at epoch {self.epoch}")
        self.console.event({"event": "resumed", "epoch": self.epoch, "checkpoint": str(json_path)})
        return self.epoch
