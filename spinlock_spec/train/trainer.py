"""VQVAETrainer (static categories) and LearnableVQVAETrainer (learned assignment).

Design points (see also docs/architecture.md):

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

import numpy as np
import torch

from ..errors import CheckpointError, UserError
from . import checkpoint as ckpt
from .config import LearnableConfig, TrainingConfig
from .epoch_log import ASSIGN_TERMS, MODEL_TERMS, Console, ProgressBar, epoch_text_lines
from .lr_schedule import lr_factor
from .metrics import (CodeUsage, category_names, evaluate, feature_categories, n_rows, take_rows,
                      usage_metrics)
from ..runs.folder import RunDir, sigint_deferred
from ..runs.names import BEST_MODEL_FILE, BEST_STEM, CATEGORIES_FILE, CHECKPOINT_STEM, FINAL_STEM, HISTORY_FILE, \
    METRICS_FILE, TENSORBOARD_DIR
PROGRESS_MIN_BATCHES = 50
# learnable_assignment.assignment_lr x ASSIGNMENT_LR_UNIT = the most a logit moves per epoch
ASSIGNMENT_LR_UNIT = 1000.0


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by ``fit`` on Ctrl-C after the resumable state is safe on disk."""

    exit_code = 130

    def __init__(self, epoch: int, checkpoint: Path | None):
        self.epoch = epoch
        self.checkpoint = checkpoint
        where = f"; resumable checkpoint of epoch {epoch}: {checkpoint}" if checkpoint else ""
        super().__init__(f"training interrupted{where}")


class TrainingDivergedError(UserError):
    """The loss became NaN or infinite."""


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed for everything random in epoch ``epoch`` (1-based) of a run seeded ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 17) % (2 ** 63 - 1)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def compile_mode(setting: str, distributed: bool) -> str:
    """``training.compile_mode`` resolved: ``auto`` is reduce-overhead (CUDA graphs: the
    step of this model is bound by kernel launches, see benchmarks/RESULTS.md) in one
    process, and inductor's default under torch.distributed (DDP's gradient hooks run
    between the compiled pieces of the step)."""
    if setting == "auto":
        return "default" if distributed else "reduce-overhead"
    return setting


def _to_device_arrays(arrays: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in arrays.items():
        t = torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
        out[key] = t.to(device)
    if not out:
        raise ValueError("no arrays given")
    sizes = {int(v.shape[0]) for v in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"arrays have different numbers of rows: {sorted(sizes)}")
    return out


class VQVAETrainer:
    """Trains a :class:`CategoricalHierarchicalVQVAE` (categories fixed)."""

    trainer_type = "VQVAETrainer"

    def __init__(self, model: torch.nn.Module, train_arrays: Mapping[str, Any],
                 val_arrays: Mapping[str, Any], training_cfg: Mapping[str, Any] | None,
                 learnable_cfg: Mapping[str, Any] | None = None, run_dir: RunDir | str | Path | None = None,
                 log: Callable[[str], Any] | logging.Logger | None = None,
                 device: str | torch.device | None = None, *, seed: int | None = None,
                 spec_hash: str | None = None, quiet: bool = False, log_format: str = "text",
                 true_labels: Sequence[int] | None = None, metadata: Mapping[str, Any] | None = None,
                 progress: bool = True, tensorboard: bool = False, dist: Any = None,
                 train_stream: Any = None):
        from .distributed import DistContext
        self.dist = dist if dist is not None else DistContext()
        self.cfg = TrainingConfig.from_dict(training_cfg, random_seed=seed)
        self.learnable = LearnableConfig.from_dict(learnable_cfg) if self._is_learnable() else None
        self.device = resolve_device(device if device is not None else self.cfg.device)
        self.seed = self.cfg.random_seed
        self.spec_hash = spec_hash
        self.run_dir = RunDir(run_dir) if isinstance(run_dir, (str, Path)) else run_dir
        self.console = Console(log, quiet=quiet, fmt=log_format)
        self.progress = progress and not quiet and log_format == "text"
        self.true_labels = list(true_labels) if true_labels is not None else None
        self.extra_metadata = dict(metadata or {})
        # logging.tensorboard: per-epoch scalars (+ assignment image) in RUN/tensorboard (train/tensorboard.py)
        self.tensorboard = None
        if tensorboard and self.run_dir is not None:
            from .tensorboard import TensorBoardWriter
            self.tensorboard = TensorBoardWriter(self.run_dir.path / TENSORBOARD_DIR)

        self.model = model.to(self.device)
        # train_stream (data/streaming.py): training rows read in chunks, not resident
        self.train_stream = train_stream
        self.train_arrays = (_to_device_arrays(train_arrays, self.device) if train_stream is None
                             else {})
        self.val_arrays = _to_device_arrays(val_arrays, self.device)
        self.n_train = n_rows(self.train_arrays) if train_stream is None else int(train_stream.n_train)
        self.n_val = n_rows(self.val_arrays)
        if self.n_train < 2:
            raise UserError(f"training needs at least 2 rows, got {self.n_train}")
        if self.n_val < 1:
            raise UserError("the validation split is empty")

        self.weights = self.cfg.loss_weights
        self._weight_vectors: dict[tuple[str, ...], torch.Tensor] = {}
        self.use_cuda = self.device.type == "cuda"
        self.autocast_bf16 = self.use_cuda and self.cfg.precision == "bf16"
        self._forward = self.model
        if self.dist.enabled:
            from .distributed import attach_quantizer_sync, mark_training_started, wrap_ddp
            mark_training_started()
            attach_quantizer_sync(self.model)
            self._forward = wrap_ddp(self.model, self.dist)
        if self.cfg.use_torch_compile and self.use_cuda:
            # dynamic=False: the short last batch gets its own static graph (dynamic shapes hit an
            # inductor CantSplit error on min(topo_samples, B) with torch 2.11)
            mode = compile_mode(self.cfg.compile_mode, self.dist.enabled)
            self._forward = torch.compile(self._forward, mode=None if mode == "default" else mode,
                                          dynamic=False)

        self.optimizers: dict[str, torch.optim.Optimizer] = self._build_optimizers()
        self.base_lrs = {name: [g["lr"] for g in opt.param_groups]
                         for name, opt in self.optimizers.items()}

        # progress state (restored by resume_from)
        self.epoch = 0                       # last completed epoch
        self.best_val = math.inf
        self.best_epoch = 0
        self.es_best = math.inf              # reference value for early stopping
        self.epochs_without_improvement = 0
        self.stopped_early = False
        self.history: dict[str, Any] = self._empty_history()
        self.records: list[dict[str, Any]] = []

        self.console.info(f"{self.trainer_type} created")
        self.console.event({"event": "trainer_created", "trainer_type": self.trainer_type,
                            "device": str(self.device), "train_samples": self.n_train,
                            "val_samples": self.n_val})
        self._announce()

    # ------------------------------------------------------------------ hooks
    def _is_learnable(self) -> bool:
        return False

    def _announce(self) -> None:
        """Extra start-up lines (learnable trainer)."""

    def _build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if _has_assignment(self.model):
            raise TypeError(f"{type(self.model).__name__} learns its category assignment: "
                            "train it with LearnableVQVAETrainer (make_trainer picks it)")
        params = [p for p in self.model.parameters() if p.requires_grad]
        return {"model": self._make_optimizer(params, self.cfg.learning_rate)}

    def _fused(self) -> dict[str, Any]:
        # fused: one kernel for all parameters, on CUDA and on CPU (torch >= 2.4 has a fused
        # CPU Adam; ~8% of a workload-A step, where the default is a per-parameter loop)
        return {"fused": True} if self.device.type in ("cuda", "cpu") else {}

    def _make_optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        extra = self._fused()
        if self.cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=self.cfg.weight_decay, **extra)
        return torch.optim.Adam(params, lr=lr, weight_decay=self.cfg.weight_decay, **extra)

    def _clip_groups(self) -> list[tuple[list[torch.nn.Parameter], float | None]]:
        return [(self.optimizers["model"].param_groups[0]["params"], self.cfg.gradient_clip_norm)]

    def _before_epoch(self, epoch: int) -> None:
        """Set per-epoch state (temperature) before the epoch's first batch."""

    def _after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        """Per-epoch checks after validation (collapse watch)."""

    def _term_names(self) -> tuple[str, ...]:
        return MODEL_TERMS

    def _term_weight(self, name: str) -> float:
        return self.weights.get(name, 0.0)

    def _schedule_lrs(self, epoch: int, batch: int, num_batches: int) -> None:
        factor = lr_factor(self.cfg, epoch, batch, num_batches)
        for group, base in zip(self.optimizers["model"].param_groups, self.base_lrs["model"]):
            group["lr"] = base * factor

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
        """This process's batches of ``epoch``: index batches of the resident data, or the
        stream's chunk-shuffled batches (each process takes its slice of a global batch)."""
        bs = self.cfg.batch_size
        if self.train_stream is None:
            for b in range(nb):
                lo, hi = self.dist.local_slice(b * bs, min(self.n_train, (b + 1) * bs))
                yield take_rows(self.train_arrays, order[lo:hi])
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
        bs = self.cfg.batch_size
        sums = torch.zeros(2 * len(names), dtype=torch.float64, device=self.device)
        seen = 0
        bar = ProgressBar(nb, enabled=self.progress and nb >= PROGRESS_MIN_BATCHES,
                          label=f"Epoch {epoch}/{self.cfg.num_epochs}")
        for b, batch in enumerate(self._epoch_batches(epoch, order, nb)):
            idx = next(iter(batch.values()))
            self._schedule_lrs(epoch, b, nb)
            with self._autocast():
                out = self._forward(batch)
            weighted, raw = self._loss_vector(out.terms, names)
            loss = weighted.sum()
            for opt in self.optimizers.values():
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for params, max_norm in self._clip_groups():
                if max_norm:       # foreach: one C++ loop over the grads on CPU too (default: Python)
                    torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
            for opt in self.optimizers.values():
                opt.step()
            rows = int(idx.shape[0])
            sums += torch.cat([weighted.detach(), raw.detach()]).double() * rows
            seen += rows
            bar.update(b + 1)
        bar.close()
        if self.dist.enabled:              # global means: one all-reduce per epoch
            from .distributed import all_reduce_sum
            sums = all_reduce_sum(torch.cat([sums, sums.new_tensor([seen])]))
            sums, seen = sums[:-1], float(sums[-1])
        means = (sums / seen).cpu().tolist()
        weighted_means = dict(zip(names, means[: len(names)]))
        raw_means = dict(zip(names, means[len(names):]))
        return {"components": weighted_means, "terms": raw_means}

    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        self.model.eval()
        names = self._term_names()
        usage = CodeUsage(self.model.codebook_sizes, self.device)
        sums = torch.zeros(2 * len(names), dtype=torch.float64, device=self.device)
        bs = self.cfg.batch_size
        for start in range(0, self.n_val, bs):
            batch = take_rows(self.val_arrays, slice(start, min(self.n_val, start + bs)))
            with self._autocast():
                out = self.model(batch)
            weighted, raw = self._loss_vector(out.terms, names)
            sums += torch.cat([weighted, raw]).double() * int(out.codes.shape[0])
            usage.update(out.codes)
        means = (sums / self.n_val).cpu().tolist()
        weighted_means = dict(zip(names, means[: len(names)]))
        metrics = usage_metrics(usage, category_names(self.model, usage.K))
        return {"components": weighted_means, "terms": dict(zip(names, means[len(names):])),
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
        if self.run_dir is not None and self.epoch == 0:
            self._save_state()          # resumable even if interrupted during epoch 1
        try:
            while self.epoch < total and not self.stopped_early:
                self._run_epoch(self.epoch + 1, total)
        except KeyboardInterrupt:
            path = self.run_dir.file(f"{CHECKPOINT_STEM}.json") if self.run_dir else None
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
        self._before_epoch(epoch)
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
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise TrainingDivergedError(
                f"loss is not finite at epoch {epoch} (train={train_loss}, val={val_loss})",
                hint="lower training.learning_rate or set training.gradient_clip_norm")
        # From here on the epoch is complete: bookkeeping and files happen as one unit
        # (a Ctrl-C is held until the checkpoint of this epoch is on disk).
        with sigint_deferred():
            self._complete_epoch(epoch, total, seconds, train, val, train_loss, val_loss, reset)

    def _complete_epoch(self, epoch, total, seconds, train, val, train_loss, val_loss, reset) -> None:
        self.epoch = epoch
        record = self._epoch_record(epoch, total, seconds, train, val, train_loss, val_loss)
        record["train_time_s"] = train["train_time_s"]
        if "ddp_divergence" in train:
            record["world_size"] = self.dist.world_size
            record["ddp_divergence"] = train["ddp_divergence"]
            if train["ddp_divergence"] > 1e-6:
                self.console.warning(f"ranks differ after epoch {epoch} "
                                     f"(state fingerprint difference {train['ddp_divergence']:.3g})")
        if reset is not None:
            record["dead_codes_reset"] = reset
        self._after_epoch(epoch, record)
        self._log_epoch(record)

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
        self._append_history(record)
        if self.run_dir is not None:
            if improved:
                ckpt.save_model(self.run_dir, BEST_STEM, self.model, spec_hash=self.spec_hash,
                                epoch=epoch, metrics=record["metrics"], extra=self.extra_metadata)
            if self.cfg.save_every and epoch % self.cfg.save_every == 0:
                ckpt.save_model(self.run_dir, f"model_epoch_{epoch:04d}", self.model,
                                spec_hash=self.spec_hash, epoch=epoch, metrics=record["metrics"],
                                extra=self.extra_metadata)
            self.run_dir.append_jsonl(METRICS_FILE, record)
            self.run_dir.write_json(HISTORY_FILE, self.history)
            self._save_state()
        if self.tensorboard is not None:
            self.tensorboard.log_epoch(record, self.model)

    def _maybe_reset_dead_codes(self, epoch: int) -> int | None:
        """``training.dead_code_reset_interval`` (in epochs): re-seed codes whose EMA
        count is below ``dead_code_threshold`` at the end of every N-th epoch
        (the model also re-seeds on its own schedule, see ``model.dead_code_interval``)."""
        interval = self.cfg.dead_code_reset_interval
        quantizer = getattr(self.model, "quantizer", None)
        if not interval or epoch % interval or not hasattr(quantizer, "reset_dead_codes"):
            return None
        return int(quantizer.reset_dead_codes(self.cfg.dead_code_threshold or None))

    def _epoch_record(self, epoch, total, seconds, train, val, train_loss, val_loss) -> dict[str, Any]:
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

    def _log_epoch(self, record: dict[str, Any]) -> None:
        lines = epoch_text_lines(
            epoch=record["epoch"], num_epochs=record["num_epochs"], seconds=record["time_s"],
            components=record["components"], val_loss=record["val_loss"],
            utilization=record["utilization"], assign=record.get("assign"),
            temperature=record.get("temperature"))
        lines += self._extra_epoch_lines(record)
        self.console.info(*lines)
        event = {k: v for k, v in record.items() if k != "metrics"}
        self.console.event({"event": "epoch", **event})

    # ------------------------------------------------------------------ history
    @staticmethod
    def _empty_history() -> dict[str, Any]:
        return {"train_loss": [], "val_loss": [], "metrics": [], "final_metrics": None,
                "epochs": [], "epoch_time": [], "learning_rate": [],
                "train_components": [], "val_components": [], "train_terms": [], "val_terms": [],
                "best_epoch": None, "best_val_loss": None, "stopped_early": False}

    def _extra_epoch_lines(self, record: dict[str, Any]) -> list[str]:
        """Lines printed after an epoch's block (learnable: assignment ARI, moved features)."""
        return []

    def _append_history(self, record: dict[str, Any]) -> None:
        h = self.history
        h["epochs"].append(record["epoch"])
        h["train_loss"].append(record["train_loss"])
        h["val_loss"].append(record["val_loss"])
        h["metrics"].append(record["metrics"])
        h["epoch_time"].append(record["time_s"])
        h["learning_rate"].append(record["lr"])
        comps = dict(record["components"])
        if "assign" in record:
            comps.update(record["assign"])
            comps["assign_total"] = sum(record["assign"].values())
            h.setdefault("temperature", []).append(record["temperature"])
        h["train_components"].append(comps)
        h["val_components"].append(record["val_components"])
        h["train_terms"].append(record["terms"])
        h["val_terms"].append(record["val_terms"])
        h["best_epoch"] = self.best_epoch
        h["best_val_loss"] = self.best_val if math.isfinite(self.best_val) else None
        h["stopped_early"] = self.stopped_early
        self.records.append(record)

    def _finish(self) -> dict[str, Any]:
        final = self.evaluate()
        self.history["final_metrics"] = final
        self.history["trainer_type"] = self.trainer_type
        self.console.info(
            f"Training finished after {self.epoch} epochs: best val={self.best_val:.3f} "
            f"(epoch {self.best_epoch}), quality={final['quality']:.3f}, "
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
        if self.tensorboard is not None:
            self.tensorboard.close()
        return self.history

    def evaluate(self, arrays: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Full metrics (see train/metrics.py) on ``arrays`` (default: the validation set)."""
        data = self.val_arrays if arrays is None else _to_device_arrays(arrays, self.device)
        weights = {n: self._term_weight(n) for n in self._term_names()}
        return evaluate(self.model, data, batch_size=self.cfg.batch_size,
                        true_labels=self.true_labels, loss_weights=weights)

    def categories_report(self) -> dict[str, Any]:
        names = list(self.model.feature_names)
        labels = feature_categories(self.model).tolist()
        K = int(self.model.codebook_sizes.shape[0])
        cat_names = category_names(self.model, K)
        cats = [{"name": cat_names[k], "index": k, "features": []} for k in range(K)]
        for f, k in enumerate(labels):
            if k >= 0:
                cats[k]["features"].append({"index": f, "name": names[f]})
        for c in cats:
            c["size"] = len(c["features"])
        return {"mode": "static", "num_categories": K, "num_features": len(names),
                "categories": cats}

    # ------------------------------------------------------------------ state
    def _state_tensors_and_meta(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"model.{k}": v for k, v in ckpt.model_state_tensors(self.model).items()}
        optim_meta = {}
        for name, opt in self.optimizers.items():
            t, m = ckpt.flatten_optimizer(opt, f"optim.{name}")
            tensors.update(t)
            optim_meta[name] = m
        rng_t, rng_m = ckpt.capture_rng()
        tensors.update(rng_t)
        raw = getattr(self.model, "_orig_mod", self.model)
        meta: dict[str, Any] = {
            "format": ckpt.STATE_FORMAT, "format_version": ckpt.FORMAT_VERSION,
            "trainer_type": self.trainer_type, "model_class": type(raw).__name__,
            "model_config": raw.export_config(), "spec_hash": self.spec_hash,
            "seed": self.seed, "epoch": self.epoch, "num_epochs": self.cfg.num_epochs,
            "optimizers": optim_meta,
            "scheduler": {"kind": self.cfg.scheduler, "warmup_epochs": self.cfg.warmup_epochs,
                          "base_lrs": self.base_lrs},
            "early_stopping": {"best_val": _finite(self.best_val), "best_epoch": self.best_epoch,
                               "reference": _finite(self.es_best),
                               "epochs_without_improvement": self.epochs_without_improvement,
                               "stopped": self.stopped_early},
            "rng": rng_m, "history": self.history, "records": self.records,
        }
        return tensors, meta

    def _save_state(self) -> Path:
        tensors, meta = self._state_tensors_and_meta()
        return ckpt.write_pair(self.run_dir, CHECKPOINT_STEM, tensors, meta)

    def save_checkpoint(self) -> Path:
        """Write the resumable state of the last completed epoch now."""
        if self.run_dir is None:
            raise ValueError("trainer has no run_dir")
        return self._save_state()

    def resume_from(self, run: RunDir | str | Path, *, check_spec_hash: bool = True) -> int:
        """Restore the state saved in ``run`` (a run folder or its checkpoint.json).

        Restores model weights, optimizer(s), early stopping, RNG, epoch, history
        (and for learnable runs temperature and assignment logits); returns the
        epoch to continue after.  :meth:`fit` then carries on from there.
        """
        path = Path(run.path if isinstance(run, RunDir) else run)
        json_path = path / f"{CHECKPOINT_STEM}.json" if path.is_dir() else path
        if path.is_dir() and not json_path.is_file():
            raise CheckpointError(f"{path}: no {CHECKPOINT_STEM}.json to resume from "
                                  "(not a spinlock-spec run folder?)", code="E400")
        tensors, meta = ckpt.read_pair(json_path, expected_format=ckpt.STATE_FORMAT)
        if meta.get("trainer_type") != self.trainer_type:
            raise CheckpointError(f"{json_path}: checkpoint was written by {meta.get('trainer_type')}, "
                                  f"cannot resume with {self.trainer_type}", code="E403")
        if (check_spec_hash and self.spec_hash and meta.get("spec_hash")
                and meta["spec_hash"] != self.spec_hash):
            raise CheckpointError(
                f"{json_path}: checkpoint is from another spec (spec hash "
                f"{meta['spec_hash'][:12]} != {self.spec_hash[:12]})", code="E403")
        self._prepare_resume(meta)
        raw = getattr(self.model, "_orig_mod", self.model)
        if ckpt.structural_config(meta.get("model_config")) != ckpt.structural_config(raw.export_config()):
            raise CheckpointError(f"{json_path}: checkpoint model configuration (categories, levels, "
                                  "features) differs from the model being trained", code="E403")
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        ckpt.load_state_into(self.model, model_state, json_path)
        try:
            for name, opt in self.optimizers.items():
                sd = ckpt.unflatten_optimizer(tensors, meta["optimizers"][name], f"optim.{name}")
                opt.load_state_dict(sd)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{json_path}: optimizer state does not fit this trainer ({exc})",
                                  code="E402") from None
        self.base_lrs = {k: list(v) for k, v in meta["scheduler"]["base_lrs"].items()}
        es = meta["early_stopping"]
        self.best_val = _from_finite(es["best_val"])
        self.best_epoch = int(es["best_epoch"])
        self.es_best = _from_finite(es["reference"])
        self.epochs_without_improvement = int(es["epochs_without_improvement"])
        self.stopped_early = bool(es["stopped"])
        self.epoch = int(meta["epoch"])
        self.history = meta["history"]
        self.records = list(meta.get("records") or [])
        ckpt.restore_rng(tensors, meta.get("rng") or {})
        self._restore_extra(tensors, meta)
        if self.run_dir is not None:
            # drop lines of epochs whose checkpoint never landed
            self.run_dir.write_jsonl(METRICS_FILE, self.records)
            self.run_dir.write_json(HISTORY_FILE, self.history)
        self.console.info(f"Resumed from {json_path} at epoch {self.epoch}")
        self.console.event({"event": "resumed", "epoch": self.epoch, "checkpoint": str(json_path)})
        return self.epoch

    def _restore_extra(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Learnable trainer: temperature."""

    def _prepare_resume(self, meta: Mapping[str, Any]) -> None:
        """Before the model state is loaded (learnable: re-apply category pruning)."""


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _from_finite(x: float | None) -> float:
    return math.inf if x is None else float(x)


class LearnableVQVAETrainer(VQVAETrainer):
    """Trains a :class:`LearnableCategoricalVQVAE`: model and assignment logits together.

    Two optimizers: the model's parameters at ``training.learning_rate`` (with
    the schedule and warmup), the assignment logits at
    ``learnable_assignment.assignment_lr`` (constant).  Gradients are clipped
    per optimizer: model parameters at ``training.gradient_clip_norm``, the logits
    at ``learnable_assignment.gradient_clip_norm``.  The temperature follows
    ``temperature_schedule`` from ``temperature_start`` to ``temperature_end``,
    stepped once per epoch (epoch e uses the schedule's value at index e-1).
    The objective is ``train`` (sum of weighted model terms) + ``assign_total``
    (weighted assign_orthogonality + assign_balance).
    """

    trainer_type = "LearnableVQVAETrainer"

    def _is_learnable(self) -> bool:
        return True

    def _announce(self) -> None:
        lc = self.learnable
        self.console.info("Learnable assignment training enabled:",
                          f"  Assignment LR: {lc.assignment_lr:g}",
                          f"  Temperature schedule: {lc.temperature_schedule}",
                          f"  Gradient clip norm: {_fmt_clip(lc.gradient_clip_norm)}")
        self.console.event({"event": "learnable_assignment_enabled",
                            "assignment_lr": lc.assignment_lr,
                            "assignment_step": self.assignment_step(),
                            "temperature_schedule": lc.temperature_schedule,
                            "temperature_start": lc.temperature_start,
                            "temperature_end": lc.temperature_end,
                            "gradient_clip_norm": lc.gradient_clip_norm})
        self._collapsed = False
        # adaptive temperature (temperature_schedule: adaptive) and category pruning state;
        # both go into checkpoint.json (see _state_tensors_and_meta / _restore_extra)
        self.adaptive_state = {"frozen": False, "epoch": None, "temperature": None, "stable": 0,
                               "previous": None}
        self.pruning_state = {"under": {}, "redundant": {}, "history": []}
        self._target_variance = None          # per-feature validation variance, at the first merge check
        # the assignment training starts from (initial categories): "moved" counts against it
        self.initial_assignment = self.model.hard_assignment().detach().cpu().clone()
        if hasattr(self.model, "gumbel_noise"):
            self.model.gumbel_noise = lc.gumbel_noise

    def _build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        model_params = [p for p in self.model.model_parameters() if p.requires_grad]
        assign_params = [p for p in self.model.assignment_parameters() if p.requires_grad]
        if not assign_params:
            raise ValueError("LearnableVQVAETrainer: the model has no assignment parameters")
        ids = {id(p) for p in assign_params}
        if any(id(p) in ids for p in model_params):
            raise ValueError("model_parameters() and assignment_parameters() overlap")
        return {"model": self._make_optimizer(model_params, self.cfg.learning_rate),
                "assignment": torch.optim.Adam(assign_params, lr=self.assignment_step(), **self._fused())}

    def assignment_warmup(self) -> int:
        """Epochs during which the logits hold still (default: a tenth of the run, at least 1):
        an untrained model's reconstruction credit is noise and would scatter a good start."""
        w = self.learnable.assignment_warmup_epochs
        return int(w) if w is not None else max(1, self.cfg.num_epochs // 10)

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
        return self.learnable.assignment_lr * ASSIGNMENT_LR_UNIT / max(self.num_batches(), 1)

    def _clip_groups(self):
        return [(self.optimizers["model"].param_groups[0]["params"], self.cfg.gradient_clip_norm),
                (self.optimizers["assignment"].param_groups[0]["params"],
                 self.learnable.gradient_clip_norm)]

    def _term_names(self) -> tuple[str, ...]:
        return MODEL_TERMS + ASSIGN_TERMS

    def _term_weight(self, name: str) -> float:
        if name in ASSIGN_TERMS:
            return self.learnable.loss_weights[name]
        return self.weights.get(name, 0.0)

    def temperature_for_epoch(self, epoch: int) -> float:
        from ..nn.schedules import temperature_at
        lc = self.learnable
        frozen = getattr(self, "adaptive_state", None)
        if lc.temperature_schedule == "adaptive" and frozen and frozen["frozen"]:
            return float(frozen["temperature"])       # held since the assignment stabilised
        return float(temperature_at(epoch - 1, self.cfg.num_epochs, lc.temperature_start,
                                    lc.temperature_end, lc.temperature_schedule))

    def straight_through_epochs(self) -> int:
        """``straight_through_epochs``, or when unset the last sixth of the run (30 -> 5, 5 -> 0)."""
        st = self.learnable.straight_through_epochs
        return int(st) if st is not None else self.cfg.num_epochs // 6

    def _before_epoch(self, epoch: int) -> None:
        self.model.temperature = self.temperature_for_epoch(epoch)
        st = self.straight_through_epochs()
        hard_phase = bool(st) and epoch > self.cfg.num_epochs - st
        if hasattr(self.model, "straight_through"):
            self.model.straight_through = hard_phase
        if hasattr(self.model, "credit_mask"):
            # masked credit while the assignment is soft; the straight-through epochs
            # train the model on full inputs under the hard assignment it is evaluated with
            self.model.credit_mask = 0.0 if hard_phase else self.learnable.credit_mask

    def _epoch_record(self, epoch, total, seconds, train, val, train_loss, val_loss):
        record = super()._epoch_record(epoch, total, seconds, train, val, train_loss, val_loss)
        record["assign"] = {n: train["components"][n] for n in ASSIGN_TERMS}
        record["assign_total"] = sum(record["assign"].values())
        record["temperature"] = float(self.model.temperature)
        record["metrics"]["temperature"] = record["temperature"]
        hard = torch.tensor(self._hard_ids())
        record["features_moved"] = int((hard != self.initial_assignment).sum())
        record["metrics"]["features_moved"] = record["features_moved"]
        if self.true_labels is not None and len(self.true_labels) == len(hard):
            from .metrics import adjusted_rand_index
            ari = adjusted_rand_index(self.true_labels, hard.tolist())
            if math.isfinite(ari):
                record["assignment_ari"] = ari
                record["metrics"]["assignment_ari"] = ari
        return record

    def _extra_epoch_lines(self, record: dict[str, Any]) -> list[str]:
        lines = []
        if "assignment_ari" in record:
            lines.append(f"  Assignment ARI vs planted groups: {record['assignment_ari']:.2f}")
        lines.append(f"  Features moved from their initial category: {record['features_moved']} "
                     f"of {len(self.initial_assignment)}")
        lines += record.get("assignment_notes", [])
        return lines

    def _append_history(self, record: dict[str, Any]) -> None:
        super()._append_history(record)
        self.history.setdefault("features_moved", []).append(record["features_moved"])
        if "assignment_ari" in record:
            self.history.setdefault("assignment_ari", []).append(record["assignment_ari"])

    def _after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        self._watch_collapse(epoch, record)
        self._watch_adaptive(epoch, record)
        self._maybe_prune(epoch, record)

    # ------------------------------------------------------------------ adaptive temperature
    def _hard_ids(self) -> list[int]:
        """Hard assignment as ORIGINAL category indices (stable across pruning)."""
        hard = self.model.hard_assignment().detach().cpu().tolist()
        ids = getattr(self.model, "category_ids", None)
        return [int(ids[c]) for c in hard] if ids is not None else [int(c) for c in hard]

    def _note(self, record: dict[str, Any], text: str, event: dict[str, Any]) -> None:
        record.setdefault("assignment_notes", []).append(text)
        self.console.event({**event, "epoch": record["epoch"], "message": text.strip()})

    def _watch_adaptive(self, epoch: int, record: dict[str, Any]) -> None:
        """``temperature_schedule: adaptive``: the temperature follows the linear schedule
        until the hard assignment has been unchanged from one epoch to the next with a mean
        max-probability >= ``adaptive_threshold`` for ``adaptive_patience`` consecutive
        epochs; then it is frozen (held) at its current value for the rest of training."""
        lc, st = self.learnable, self.adaptive_state
        if lc.temperature_schedule != "adaptive":
            return
        if not st["frozen"]:
            with torch.no_grad():
                mmp = float(self.model.assignment_probs().max(-1).values.mean())
            hard = self._hard_ids()
            previous = st["previous"] if st["previous"] is not None else self.initial_assignment.tolist()
            stable = hard == [int(c) for c in previous] and mmp >= lc.adaptive_threshold
            st["stable"] = st["stable"] + 1 if stable else 0
            st["previous"] = hard
            record["mean_max_probability"] = mmp
            if st["stable"] >= lc.adaptive_patience:
                st.update(frozen=True, epoch=epoch, temperature=float(self.model.temperature),
                          mean_max_probability=mmp)
                self.history["temperature_frozen_epoch"] = epoch
                self._note(record, f"  Temperature frozen at epoch {epoch} (assignment stable for "
                                   f"{st['stable']} epochs, mean max-probability {mmp:.2f}); "
                                   f"held at {self.model.temperature:.3f}",
                           {"event": "temperature_frozen", "temperature": float(self.model.temperature),
                            "mean_max_probability": mmp, "stable_epochs": st["stable"]})
        record["temperature_frozen"] = bool(st["frozen"])
        record["metrics"]["temperature_frozen"] = bool(st["frozen"])

    # ------------------------------------------------------------------ category pruning
    def _category_ids_names(self, K: int) -> tuple[list[int], list[str]]:
        """(original index, name) of every current category (pruning keeps them stable)."""
        ids = self.model.category_ids if self.model.category_ids is not None else list(range(K))
        return ids, category_names(self.model, K)

    def _maybe_prune(self, epoch: int, record: dict[str, Any]) -> None:
        """``learnable_assignment.pruning``: a category whose assignment mass
        (sum_f P[f, c] / F at the current temperature) is below ``min_mass``, or whose
        validation codebook utilization (mean over levels) is below ``min_usage`` (when
        > 0), for ``patience`` consecutive epochs is removed (model.prune_categories);
        its features go to their next-best category, the optimizers are rebuilt with
        their Adam moments sliced the same way.  Before that, redundant categories merge
        (``merge``, see _maybe_merge)."""
        pc = self.learnable.pruning
        probe = self._read_probe(pc.enabled and pc.merge)
        if not pc.enabled:
            return
        if probe is not None:
            self._maybe_merge(epoch, record, *probe)
        model = self.model
        K = model.num_categories
        ids, names = self._category_ids_names(K)
        with torch.no_grad():
            mass = (model.assignment_probs().sum(0) / model.num_features).cpu().tolist()
        counts = torch.bincount(model.hard_assignment().cpu(), minlength=K).tolist()
        levels = int(model.codebook_sizes.shape[1])
        reasons = {}
        for k in range(K):
            why = []
            if mass[k] < pc.min_mass:
                why.append(f"assignment mass {mass[k]:.3f} < {pc.min_mass:g}")
            usage = [record["metrics"].get(f"{names[k]}/level_{lv}/utilization") for lv in range(levels)]
            if pc.min_usage > 0 and None not in usage and sum(usage) / levels < pc.min_usage:
                why.append(f"codebook usage {sum(usage) / levels:.3f} < {pc.min_usage:g}")
            key = str(ids[k])
            under = self.pruning_state["under"]
            under[key] = under.get(key, 0) + 1 if why else 0
            if why and under[key] >= pc.patience:
                reasons[k] = why
        record["category_mass"] = mass
        if not reasons:
            return
        # the weakest go first; at least min_categories stay
        drop = sorted(reasons, key=lambda k: mass[k])[:max(K - pc.min_categories, 0)]
        if not drop:
            return
        if not self._pruning_allowed("pruned"):
            return
        keep = [k for k in range(K) if k not in drop]
        self._commit_pruning(record, {"epoch": epoch, "keep": keep, "removed": [names[k] for k in drop]})
        for k in drop:
            self.pruning_state["under"].pop(str(ids[k]), None)
            self._note(record, f"  Pruned {names[k]} at epoch {epoch}: {'; '.join(reasons[k])} for "
                               f"{pc.patience} epochs; its {counts[k]} features reassigned",
                       {"event": "category_pruned", "category": names[k], "reasons": reasons[k],
                        "features_reassigned": counts[k]})

    def _pruning_allowed(self, what: str) -> bool:
        if self.dist.enabled:
            self.console.warning("learnable_assignment.pruning is not supported with distributed "
                                 f"training; nothing {what}")
            return False
        return True

    def _commit_pruning(self, record: dict[str, Any], step: dict[str, Any]) -> None:
        """Shrink the model to ``step["keep"]`` and record the step (history, checkpoint
        state and the epoch record)."""
        self._apply_pruning(step["keep"])
        self.pruning_state["history"].append(step)
        self.history["pruned_categories"] = list(self.pruning_state["history"])
        record["num_categories"] = self.model.num_categories

    def _read_probe(self, read: bool) -> tuple[torch.Tensor, float] | None:
        """The epoch's probe statistics of the model (error sums [K, F] and row count),
        copied to the host when ``read``; the buffers restart from zero for the next epoch."""
        err, rows = getattr(self.model, "probe_error", None), getattr(self.model, "probe_rows", None)
        if err is None or rows is None:
            return None
        out = (err.detach().cpu().clone(), float(rows)) if read else None
        err.zero_()
        rows.zero_()
        return out

    def _maybe_merge(self, epoch: int, record: dict[str, Any], probe_error: torch.Tensor,
                     probe_rows: float) -> None:
        """``pruning.merge``: two categories that each explain at least ``merge_threshold``
        of what the other explains of its own features (train/pruning.py: shares from the
        epoch's probe statistics) for ``patience`` consecutive epochs after the assignment
        warmup are redundant: the smaller one's features move to the larger (logits
        swapped) and the smaller is pruned at once.  Measured from the epoch after the
        warmup, the third at the earliest."""
        from . import pruning as merging
        pc, model = self.learnable.pruning, self.model
        # the first two epochs' probe outputs (other categories' features) are still untrained
        if epoch <= max(self.assignment_warmup(), 2) or probe_rows <= 0:
            return
        if self._target_variance is None:
            self._target_variance = merging.target_variance(model, self.val_arrays, self.cfg.batch_size * 16)
        K = model.num_categories
        ids, names = self._category_ids_names(K)
        hard = model.hard_assignment().cpu()
        shares = merging.redundancy_shares(probe_error, probe_rows, self._target_variance, hard,
                                           model.identity_columns)
        pairs = merging.redundant_pairs(shares, pc.merge_threshold)

        def key(a: int, b: int) -> str:         # a pair by original ids: stable across pruning
            return f"{ids[min(a, b)]}+{ids[max(a, b)]}"

        before = self.pruning_state["redundant"]
        counts = self.pruning_state["redundant"] = {key(a, b): before.get(key(a, b), 0) + 1 for a, b in pairs}
        ready = {ab: s for ab, s in pairs.items() if counts[key(*ab)] >= pc.patience}
        sizes = torch.bincount(hard, minlength=K).tolist()
        merges = merging.plan_merges(ready, sizes, max(K - pc.min_categories, 0))
        if not merges:
            return
        if not self._pruning_allowed("merged"):
            return
        for m in merges:
            moved = merging.move_features(model.assignment_logits.data, m.source, m.target)
            counts.pop(key(m.source, m.target), None)
            self.pruning_state["under"].pop(str(ids[m.source]), None)
            into, back = float(shares[m.target, m.source]), float(shares[m.source, m.target])
            self._note(record, f"  Merged {names[m.source]} into {names[m.target]} at epoch {epoch}: "
                               f"{names[m.target]} explains {100 * into:.0f}% of what {names[m.source]} "
                               f"explains of its {len(moved)} features, {names[m.source]} {100 * back:.0f}% "
                               f"of {names[m.target]}'s (merge_threshold {100 * pc.merge_threshold:.0f}%, "
                               f"{pc.patience} epochs)",
                       {"event": "categories_merged", "category": names[m.source], "into": names[m.target],
                        "shares": [into, back], "features": moved})
        keep = [k for k in range(K) if k not in {m.source for m in merges}]
        self._commit_pruning(record, {"epoch": epoch, "keep": keep, "removed": [names[m.source] for m in merges],
                                      "merged_into": [names[m.target] for m in merges]})
        self.history.setdefault("merged_categories", []).extend(
            {"epoch": epoch, "category": names[m.source], "into": names[m.target], "share": m.share}
            for m in merges)

    def _apply_pruning(self, keep: list[int]) -> None:
        """Shrink the model to ``keep`` and rebuild the optimizers, carrying their state
        (Adam moments sliced along K like the parameters)."""
        named = dict(self.model.named_parameters())
        old_state = {}
        for opt in self.optimizers.values():
            by_id = {id(p): n for n, p in named.items()}
            for group in opt.param_groups:
                for p in group["params"]:
                    if p in opt.state:
                        old_state[by_id[id(p)]] = opt.state[p]
        slicers = self.model.prune_categories(keep)
        lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in self.optimizers.items()}
        self.optimizers = self._build_optimizers()
        named = dict(self.model.named_parameters())
        for name, opt in self.optimizers.items():
            for group, lr in zip(opt.param_groups, lrs[name]):
                group["lr"] = lr
            by_id = {id(p): n for n, p in named.items()}
            for group in opt.param_groups:
                for p in group["params"]:
                    st = old_state.get(by_id[id(p)])
                    if st is None:
                        continue
                    fn = slicers.get(by_id[id(p)])
                    opt.state[p] = {k: (fn(v).clone() if fn is not None and torch.is_tensor(v)
                                        and v.dim() > 0 else v) for k, v in st.items()}
        self._collapsed = False

    def _prepare_resume(self, meta: Mapping[str, Any]) -> None:
        """Re-apply the pruning recorded in the checkpoint so the model has its shape."""
        for step in (meta.get("pruning") or {}).get("history", []):
            self.model.prune_categories(step["keep"])
        if (meta.get("pruning") or {}).get("history"):
            self.optimizers = self._build_optimizers()
            self.pruning_state["history"] = list(meta["pruning"]["history"])

    def collapse_state(self) -> tuple[bool, list[int]]:
        """(collapsed?, feature count per category) from the hard assignment."""
        with torch.no_grad():
            hard = self.model.hard_assignment().cpu()
        K = int(self.model.codebook_sizes.shape[0])
        counts = torch.bincount(hard, minlength=K).tolist()
        F = len(hard)
        if K < 2:
            return False, counts
        return (max(counts) > F / 2 or min(counts) == 0), counts

    def _watch_collapse(self, epoch: int, record: dict[str, Any]) -> None:
        collapsed, counts = self.collapse_state()
        record["category_sizes"] = counts
        if collapsed and not self._collapsed:
            lc = self.learnable
            F = sum(counts)
            big = max(range(len(counts)), key=counts.__getitem__)
            empty = [k for k, c in enumerate(counts) if c == 0]
            what = []
            if counts[big] > F / 2:
                what.append(f"category {big} holds {counts[big]} of {F} features "
                            f"({100 * counts[big] / F:.0f}%)")
            if empty:
                what.append(f"empty categories: {', '.join(map(str, empty))}")
            self.console.warning(
                f"Category collapse at epoch {epoch}: {'; '.join(what)}. "
                f"Increase learnable_assignment.balance_weight from {lc.balance_weight:.2f} "
                f"to {2 * lc.balance_weight:.2f}, or temperature_end from {lc.temperature_end:.1f} "
                f"to {3 * lc.temperature_end:.1f} (slower annealing).",
                epoch=epoch, category_sizes=counts)
            self.history.setdefault("collapse_warnings", []).append(
                {"epoch": epoch, "category_sizes": counts})
        self._collapsed = collapsed

    def categories_report(self) -> dict[str, Any]:
        report = super().categories_report()
        report["mode"] = "learnable"
        with torch.no_grad():
            probs = self.model.assignment_probs().detach().cpu()                 # at final temperature
            logits = self.model.assignment_logits.detach().cpu()
            pref = torch.softmax(logits.float(), dim=1)                         # temperature 1
        report["temperature"] = float(self.model.temperature)
        for cat in report["categories"]:
            k = cat["index"]
            cat["mass"] = float(probs[:, k].sum())
            for feat in cat["features"]:
                f = feat["index"]
                feat["mass"] = float(pref[f, k])
                feat["confidence"] = float(probs[f].max())
        return report

    def _state_tensors_and_meta(self):
        tensors, meta = super()._state_tensors_and_meta()
        meta["temperature"] = float(self.model.temperature)
        meta["collapsed"] = self._collapsed
        meta["adaptive_temperature"] = dict(self.adaptive_state)
        meta["pruning"] = {"under": dict(self.pruning_state["under"]),
                           "redundant": dict(self.pruning_state["redundant"]),
                           "history": list(self.pruning_state["history"])}
        return tensors, meta

    def _restore_extra(self, tensors, meta) -> None:
        self.model.temperature = float(meta["temperature"])
        self._collapsed = bool(meta.get("collapsed", False))
        if meta.get("adaptive_temperature"):
            self.adaptive_state = dict(meta["adaptive_temperature"])
        if meta.get("pruning"):
            self.pruning_state["under"] = {str(k): int(v) for k, v in meta["pruning"]["under"].items()}
            self.pruning_state["redundant"] = {str(k): int(v) for k, v in
                                               meta["pruning"].get("redundant", {}).items()}


def _fmt_clip(value: float | None) -> str:
    return "off" if not value else f"{value:.1f}" if float(value).is_integer() else f"{value:g}"


def make_trainer(model: torch.nn.Module, *args: Any, **kwargs: Any) -> VQVAETrainer:
    """The right trainer for ``model``: LearnableVQVAETrainer when it has assignment logits."""
    cls = LearnableVQVAETrainer if _has_assignment(model) else VQVAETrainer
    return cls(model, *args, **kwargs)


def _has_assignment(model: torch.nn.Module) -> bool:
    params = getattr(model, "assignment_parameters", None)
    return callable(params) and len(list(params())) > 0
