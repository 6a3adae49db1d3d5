"""``quality`` on the user's scale: what a user of the tokens gets back, in their columns.

For the rows of a raw (not normalized) dataset: normalize with the run's fitted
preprocessor, encode to token ids, decode the ids (``decode_codes``), map the
reconstruction back to every input column in the user's units
(:func:`spinlock_spec.data.decode.decode_tabular`: inverse transform, twins,
constants), and compare with the user's columns as raw z-scores, *not* clipped, with each
column's mean and std over the evaluated rows themselves (``rows_scale``: a column's
``1 - MSE`` is its R^2; a rare value in a column almost constant in the training rows
no longer counts as hundreds of training standard deviations).  ``quality = clamp(1 - MSE, 0, 1)`` over every finite entry of
every input column of the tabular families (temporal and field targets count on
the model's scale); ``feature_r2`` is the R^2 of each input column.

``quality_clipped`` (from :func:`spinlock_spec.train.metrics.evaluate`) is the former
figure: the same reconstruction against the cleaned (clipped, transformed,
normalized) targets the model is trained on.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spinlock_spec.data.decode import UserScaleError, decode_tabular, rows_scale
from spinlock_spec.data.preprocess import Preprocessor, TabularStats

from ..logs import get_logger
from .metrics import quality_from_mse


@torch.no_grad()
def user_scale_metrics(model: torch.nn.Module, pre: Preprocessor, raw, *, batch_size: int = 1024,
                       device: torch.device | str | None = None, codes_out: list | None = None
                       ) -> dict[str, Any]:
    """User-scale ``quality``, ``recon_mse_user``, ``feature_r2`` and ``feature_mse``
    (family -> {column name: value}) of ``model`` on the raw Dataset ``raw``.
    ``codes_out``: a list that receives the token ids of each batch (CPU tensors)."""
    was_training = model.training
    model.eval()
    try:
        if device is None:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        normalized = pre.transform(raw)
        arrays = {k: torch.as_tensor(np.asarray(v)) for k, v in normalized.arrays.items()}
        err = UserScaleError()
        scales = {f: rows_scale(s, np.asarray(raw.arrays[f])) for f, s in pre.families.items()
                  if isinstance(s, TabularStats) and f in raw.arrays}
        n = normalized.n_samples
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            batch = {k: v[start:stop].to(device) for k, v in arrays.items()}
            codes = model.encode(batch)
            if codes_out is not None:
                codes_out.append(codes.cpu())
            recon = model.decode_codes(codes)
            targets = model.targets(batch)
            for family, value in recon.items():
                stats = pre.families.get(family)
                if isinstance(stats, TabularStats) and value.ndim == 2:
                    # the family's own columns come first (nn.layout); an initial_hybrid family
                    # follows them with its CNN embedding, which has no user scale
                    own = len(stats.kept)
                    decoded = decode_tabular(stats, value[:, :own].float().cpu().numpy())
                    err.update_tabular(family, stats, np.asarray(raw.arrays[family][start:stop]), decoded,
                                       scales.get(family))
                    if value.shape[1] > own:
                        diff = value[:, own:].float() - targets[family][:, own:].float()
                        err.update_other(float(diff.pow(2).sum()), int(diff.numel()))
                else:
                    diff = value.float() - targets[family].float()
                    err.update_other(float(diff.pow(2).sum()), int(diff.numel()))
        mse = err.mse()
        out: dict[str, Any] = {"quality": quality_from_mse(mse), "recon_mse_user": mse,
                               "quality_scale": "user", "feature_r2": {}, "feature_mse": {}}
        for family in err.parts:
            names = pre.families[family].input_names
            out["feature_r2"][family] = dict(zip(names, _floats(err.r2(family))))
            out["feature_mse"][family] = dict(zip(names, _floats(err.column_mse(family))))
        return out
    finally:
        model.train(was_training)


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def merge_final_metrics(final: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """``final`` (metrics.evaluate on the model's targets) with the user-scale figures as
    the headline: ``quality`` becomes the user-scale one, the former is ``quality_clipped``."""
    out = dict(final)
    if "quality" in final:
        out["quality_clipped"] = final["quality"]
        out["recon_mse_clipped"] = final.get("recon_mse")
    out.update(user)
    return out


def final_metrics_hook(preprocessor: Preprocessor, raw_val):
    """The trainer's final-metrics step: the headline ``quality`` on the user's scale, the
    former one kept as ``quality_clipped``; warnings about little-used codebook levels.
    None when there are no raw validation rows."""
    if raw_val is None or raw_val.n_samples == 0:
        return None

    def hook(model, final: dict) -> dict:
        device = next((p.device for p in model.parameters()), None)
        final = merge_final_metrics(final, user_scale_metrics(model, preprocessor, raw_val, device=device))
        for line in low_utilization_warnings(final, model.codebook_sizes.cpu().numpy()):
            get_logger().warning(line)       # before the trainer's "finished" line / event
        return final
    return hook


LOW_UTILIZATION = 0.5     # a codebook level used below this share of what it can reach is warned about


def low_utilization_warnings(final: dict, sizes=None) -> list[str]:
    """One warning per codebook level whose mean utilization over the categories (final
    validation metrics) is below LOW_UTILIZATION of what the evaluated rows allow (n rows
    can use at most n codes of a codebook: ``sizes`` [K, L] and ``final["n_samples"]``),
    naming its least used categories."""
    out = []
    n = final.get("n_samples")
    for lvl, util in enumerate(final.get("utilization_per_level") or []):
        reach = 1.0
        if sizes is not None and n:
            reach = sum(min(1.0, n / max(1, int(c))) for c in list(sizes[:, lvl])) / len(sizes)
        if util >= LOW_UTILIZATION * reach:
            continue
        suffix = f"/level_{lvl}/utilization"
        worst = sorted((v, k[: -len(suffix)]) for k, v in final.items() if k.endswith(suffix))[:3]
        names = ", ".join(f"{name} {100 * v:.0f}%" for v, name in worst)
        out.append(f"Codebook level {lvl} ends at {100 * util:.1f}% utilization (below "
                   f"{100 * LOW_UTILIZATION * reach:.0f}%; least used: {names}): its codebooks are larger "
                   "than the data needs; smaller model.levels or more epochs")
    return out
