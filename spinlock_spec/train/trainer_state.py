"""The resumable state of a trainer (``checkpoint.{safetensors,json}``): what it holds,
how it is opened and checked, and how it is put back.

The core keys (model, optimizers, scheduler, early stopping, RNG, epoch, history and
records) are written here; every callback adds its own top-level keys through its
``state_dict()`` and reads them back in ``load_state_dict()`` (train/callbacks/).  The
key names are those of every earlier version, so old run folders still resume.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from . import checkpoint as ckpt
from ..runs.folder import RunDir
from ..runs.names import CHECKPOINT_STEM


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _from_finite(x: float | None) -> float:
    return math.inf if x is None else float(x)


def capture(trainer: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of the trainer's state after its last completed epoch."""
    t = trainer
    tensors = {f"model.{k}": v for k, v in ckpt.model_state_tensors(t.model).items()}
    optim_meta = {}
    for name, opt in t.optimizers.items():
        flat, m = ckpt.flatten_optimizer(opt, f"optim.{name}")
        tensors.update(flat)
        optim_meta[name] = m
    rng_t, rng_m = ckpt.capture_rng()
    tensors.update(rng_t)
    raw = getattr(t.model, "_orig_mod", t.model)
    meta: dict[str, Any] = {
        "format": ckpt.STATE_FORMAT, "format_version": ckpt.FORMAT_VERSION,
        "trainer_type": t.trainer_type, "model_class": type(raw).__name__,
        "model_config": raw.export_config(), "spec_hash": t.spec_hash,
        "seed": t.seed, "epoch": t.epoch, "num_epochs": t.cfg.num_epochs,
        "schedule_epochs": t.horizon,
        "optimizers": optim_meta,
        "scheduler": {"kind": t.cfg.scheduler, "warmup_epochs": t.cfg.warmup_epochs,
                      "base_lrs": t.base_lrs},
        "early_stopping": {"best_val": _finite(t.best_val), "best_epoch": t.best_epoch,
                           "reference": _finite(t.es_best),
                           "epochs_without_improvement": t.epochs_without_improvement,
                           "stopped": t.stopped_early},
        "rng": rng_m, "history": t.history, "records": t.records,
    }
    for cb in t.callbacks:         # each callback's own keys (temperature, pruning, ...)
        meta.update(cb.state_dict())
    return tensors, meta


def open_checkpoint(run: RunDir | str | Path, trainer: Any, *, check_spec_hash: bool
                    ) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """(checkpoint.json path, tensors, metadata) of ``run`` (a run folder or its
    checkpoint.json), checked against ``trainer``: same trainer type and (when asked) spec."""
    path = Path(run.path if isinstance(run, RunDir) else run)
    json_path = path / f"{CHECKPOINT_STEM}.json" if path.is_dir() else path
    if path.is_dir() and not json_path.is_file():
        raise CheckpointError(f"{path}: no {CHECKPOINT_STEM}.json to resume from "
                              "(not a spinlock-spec run folder?)", code="E400")
    tensors, meta = ckpt.read_pair(json_path, expected_format=ckpt.STATE_FORMAT)
    if meta.get("trainer_type") != trainer.trainer_type:
        raise CheckpointError(f"{json_path}: checkpoint was written by {meta.get('trainer_type')}, "
                              f"cannot resume with {trainer.trainer_type}", code="E403")
    spec_hash = trainer.spec_hash
    if check_spec_hash and spec_hash and meta.get("spec_hash") and meta["spec_hash"] != spec_hash:
        raise CheckpointError(
            f"{json_path}: checkpoint is from another spec (spec hash "
            f"{meta['spec_hash'][:12]} != {spec_hash[:12]})", code="E403")
    return json_path, tensors, meta


_TYPES = {"epoch": int, "history": dict, "early_stopping": dict, "scheduler": dict, "optimizers": dict}


def check_types(json_path: Path, meta: dict[str, Any]) -> None:
    """The core keys are present with their types (CheckpointError naming the first that is not)."""
    for key, kind in _TYPES.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"{json_path}: '{key}' must be {'an integer' if kind is int else 'an object'}"
                                  f", not {json.dumps(value)[:40]}", code="E401",
                                  hint="the checkpoint was edited or damaged; resume from another copy or "
                                       "start a new run")
    if not isinstance(meta.get("records", []), list):
        raise CheckpointError(f"{json_path}: 'records' must be a list", code="E401")


def restore(trainer: Any, json_path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Put the state of an opened checkpoint into ``trainer`` (callbacks included)."""
    check_types(json_path, meta)
    try:
        _restore(trainer, json_path, tensors, meta)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{json_path}: the checkpoint's metadata is incomplete or of the wrong type "
                              f"({type(exc).__name__}: {exc})", code="E401") from None


def _restore(trainer: Any, json_path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    t = trainer
    for cb in t.callbacks:         # e.g. re-apply category pruning: the checkpoint's shape
        cb.prepare_resume(meta)
    raw = getattr(t.model, "_orig_mod", t.model)
    if ckpt.structural_config(meta.get("model_config")) != ckpt.structural_config(raw.export_config()):
        raise CheckpointError(f"{json_path}: checkpoint model configuration (categories, levels, "
                              "features) differs from the model being trained", code="E403")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ckpt.load_state_into(t.model, model_state, json_path)
    try:
        for name, opt in t.optimizers.items():
            sd = ckpt.unflatten_optimizer(tensors, meta["optimizers"][name], f"optim.{name}")
            opt.load_state_dict(sd)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{json_path}: optimizer state does not fit this trainer ({exc})",
                              code="E402") from None
    fresh = t.base_lrs.get("model")      # from this run's training.learning_rate
    t.base_lrs = {k: list(v) for k, v in meta["scheduler"]["base_lrs"].items()}
    if fresh is not None and len(fresh) == len(t.base_lrs.get("model", [])) and fresh != t.base_lrs["model"]:
        t.base_lrs["model"] = list(fresh)  # a resume that changes the learning rate (the resume rule)
    es = meta["early_stopping"]
    t.best_val = _from_finite(es["best_val"])
    t.best_epoch = int(es["best_epoch"])
    t.es_best = _from_finite(es["reference"])
    t.epochs_without_improvement = int(es["epochs_without_improvement"])
    t.stopped_early = bool(es["stopped"])
    t.epoch = int(meta["epoch"])
    t.schedule_epochs = int(meta.get("schedule_epochs") or meta.get("num_epochs") or t.cfg.num_epochs)
    t.history = meta["history"]
    t.records = list(meta.get("records") or [])
    ckpt.restore_rng(tensors, meta.get("rng") or {})
    for cb in t.callbacks:
        cb.load_state_dict(meta)
