"""Statistics that need the trained weights (torch, imported here only).

* the final feature -> category assignment matrix [F, K]: ``assignment_probs()``
  for a learnable model (at its final temperature), the fixed membership for a
  static one;
* code usage counts of every (category, level) codebook over the run's
  validation split (the same deterministic split training used);
* per-category reconstruction error: mean squared error between the model's
  reconstructed feature columns (decoded from the token ids) and the input
  feature columns of each category's features (hard assignment), on the
  normalized scale.

Without weights (run still in epoch 1, files missing) the assignment comes from
``categories.json`` (:func:`assignment_from_categories`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinlock_spec.errors import CheckpointError, UserError
from spinlock_spec.runs.names import (BEST_STEM, CATEGORIES_FILE, CONFIG_FILE, FINAL_MODEL_FILE, FINAL_STEM, MODEL_FILES,
                                      NORMALIZATION_FILE, weights_file)

MAX_ROWS = 5000
BATCH = 1024


@dataclass
class ModelStats:
    source: str                              # which file the assignment comes from
    feature_names: list[str]
    category_names: list[str]
    assignment: np.ndarray                   # [F, K]
    learnable: bool
    temperature: float | None = None
    epoch: int | None = None
    code_counts: list[list[np.ndarray]] | None = None    # [K][L] -> counts per code
    category_recon_mse: list[float | None] | None = None
    data_rows: int = 0
    notes: list[str] = field(default_factory=list)


def assignment_from_categories(categories: dict[str, Any]) -> ModelStats | None:
    """Torch-free [F, K] from categories.json: 1 (static) or the feature's confidence
    (learnable) at its hard category."""
    cats = categories.get("categories") or []
    F = int(categories.get("num_features") or 0)
    if not cats or F <= 0:
        return None
    learnable = categories.get("mode") == "learnable"
    names = [f"feature_{i}" for i in range(F)]
    matrix = np.zeros((F, len(cats)))
    for k, cat in enumerate(cats):
        for feat in cat.get("features") or []:
            i = int(feat["index"])
            if 0 <= i < F:
                names[i] = str(feat.get("name", names[i]))
                matrix[i, k] = float(feat.get("confidence", 1.0)) if learnable else 1.0
    return ModelStats(CATEGORIES_FILE, names, [str(c.get("name", f"category_{k}")) for k, c in enumerate(cats)],
                      matrix, learnable, temperature=categories.get("temperature"))


def _load(folder: Path, finished: bool):
    from spinlock_spec.train.checkpoint import load_model

    which = "final" if (folder / FINAL_MODEL_FILE).is_file() else "best"
    last: CheckpointError | None = None
    for attempt in range(3):            # a running trainer may be replacing best_model.* right now
        try:
            model, meta = load_model(folder, which=which)
            return model, meta, FINAL_STEM if which == "final" else BEST_STEM
        except CheckpointError as exc:
            last = exc
            if finished:
                break
            time.sleep(0.2 * (attempt + 1))
    if finished:
        raise last
    return None, None, str(last)


def load_model_stats(folder: Path, *, finished: bool, categories: dict[str, Any] | None,
                     use_data: bool = True, max_rows: int = MAX_ROWS) -> ModelStats | None:
    """Stats from the run's weights; None when there are no weights yet."""
    if not any((folder / n).is_file() for n in MODEL_FILES):
        return None
    import torch

    model, meta, source = _load(folder, finished)
    if model is None:
        stats = assignment_from_categories(categories) if categories else None
        if stats is not None:
            stats.notes.append(f"weights not readable yet ({source})")
        return stats
    with torch.no_grad():
        learnable = hasattr(model, "assignment_probs")
        matrix = (model.assignment_probs() if learnable else model.assignment_matrix()).detach().cpu().numpy()
    K = matrix.shape[1]
    from spinlock_spec.train.metrics import category_names

    names = category_names(model, K)
    if categories and len(categories.get("categories") or []) == K:
        names = [str(c.get("name", n)) for c, n in zip(categories["categories"], names)]
    stats = ModelStats(weights_file(source) if source in (FINAL_STEM, BEST_STEM) else source, list(model.feature_names), names, matrix, learnable,
                       temperature=float(model.temperature) if learnable else None,
                       epoch=meta.get("epoch"))
    if use_data:
        try:
            _data_stats(folder, model, stats, max_rows)
        except UserError as exc:       # data file moved, config unreadable, ...
            stats.notes.append(f"code usage and reconstruction error skipped: {exc.message}")
    return stats


def _data_stats(folder: Path, model, stats: ModelStats, max_rows: int) -> None:
    import torch

    from spinlock_spec.assemble.prepare import prepare_data
    from spinlock_spec.compile import compile_spec
    from spinlock_spec.data.preprocess import Preprocessor

    config = folder / CONFIG_FILE
    norm = folder / NORMALIZATION_FILE
    if not (config.is_file() and norm.is_file()):
        stats.notes.append("code usage and reconstruction error skipped: "
                           f"{CONFIG_FILE} or {NORMALIZATION_FILE} missing")
        return
    compiled = compile_spec(config)          # a run's config.yaml is resolved: no zoo references left
    prepared = prepare_data(compiled, preprocessor=Preprocessor.load(norm))
    arrays = {k: torch.as_tensor(np.asarray(v)) for k, v in prepared.val.arrays.items()}
    n = min(prepared.val.n_samples, max_rows)
    sizes = model.codebook_sizes.cpu().numpy()
    K, L = sizes.shape
    counts = [[np.zeros(int(sizes[k, l]), dtype=np.int64) for l in range(L)] for k in range(K)]
    sq_err = None
    with torch.no_grad():
        membership = model.assignment_matrix(hard=True)
        for start in range(0, n, BATCH):
            batch = {key: v[start:min(n, start + BATCH)] for key, v in arrays.items()}
            codes = model.encode(batch)
            feats = model.features(batch)
            xhat = model.decode_latents(model.quantizer.lookup(codes), membership)
            err = ((xhat.float() - feats.float()) ** 2).sum(0).double().cpu().numpy()
            sq_err = err if sq_err is None else sq_err + err
            c = codes.cpu().numpy()
            for k in range(K):
                for l in range(L):
                    counts[k][l] += np.bincount(c[:, k, l], minlength=int(sizes[k, l]))[: int(sizes[k, l])]
    stats.code_counts = counts
    stats.data_rows = n
    if sq_err is None or n == 0:
        return
    per_feature = sq_err / n
    matrix = np.asarray(stats.assignment)
    hard = np.where(matrix.max(axis=1) > 0, matrix.argmax(axis=1), -1)     # -1: in no category
    stats.category_recon_mse = [float(per_feature[hard == k].mean()) if np.any(hard == k) else None
                                for k in range(K)]
