"""From model outputs back to the user's columns, and the *user scale* (numpy only).

These are plain functions over a fitted :class:`~spinlock_spec.data.preprocess.Preprocessor`
(or one family's ``TabularStats``), for ``encode --reconstructions``, ``evaluate`` and the
quality metric; a tokenizer object can call them as they are.

* :func:`decode_tabular`: normalized kept columns [N, D] -> every input column
  [N, n_input_columns] in the user's units: the standardization and the per-column
  transform are inverted (clipping is not: a clipped value stays at its bound), a
  column dropped as a duplicate is its twin's affine map, a near-constant column its
  training mean, a column missing in every training row NaN.
* :func:`user_z`: the user's raw columns as z-scores (by default with the raw training
  mean and std), *not* clipped, NaN where a value is missing;
* :func:`rows_scale`: the scale of ``quality``: each column's mean and std over the
  evaluated rows themselves (validation rows in training, every row in ``evaluate``).
* :class:`UserScaleError`: running sums for ``quality`` = 1 - MSE and per-column R^2
  on that scale, over every finite entry of every input column.
"""
from __future__ import annotations

import numpy as np

from .preprocess import CONSTANT, MISSING, TWIN, UNSTABLE, Preprocessor, TabularStats


def decode_tabular(stats: TabularStats, normalized: np.ndarray) -> np.ndarray:
    """Normalized kept columns [N, D] (model space) -> all input columns in user units."""
    y = np.asarray(normalized, np.float64)
    if y.ndim != 2 or y.shape[1] != len(stats.kept):
        raise ValueError(f"expected [N, {len(stats.kept)}] normalized columns, got {y.shape}")
    t = y * stats.scale + stats.center
    x = stats.transforms.inverse(t) if stats.transforms.active else t
    out = np.full((y.shape[0], int(stats.n_input_columns)), np.nan)
    out[:, stats.kept] = x
    for j in np.flatnonzero(stats.fate == TWIN):
        out[:, j] = stats.twin_slope[j] * out[:, int(stats.twin[j])] + stats.twin_intercept[j]
    for j in np.flatnonzero((stats.fate == CONSTANT) | (stats.fate == UNSTABLE)):
        out[:, j] = stats.twin_intercept[j]
    return out


def decode(pre: Preprocessor, reconstruction: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Family -> reconstruction in user units for tabular families (every input column);
    other families' targets (pooled series, pooled fields) are returned as they are."""
    out = {}
    for family, value in reconstruction.items():
        stats = pre.families.get(family)
        if isinstance(stats, TabularStats) and np.ndim(value) == 2:
            out[family] = decode_tabular(stats, value)
        else:
            out[family] = np.asarray(value)
    return out


def user_z(stats: TabularStats, values: np.ndarray, center: np.ndarray | None = None,
           scale: np.ndarray | None = None) -> np.ndarray:
    """Raw input columns [N, n_input_columns] (or decoded ones) -> z-scores with the raw
    training mean and std, or with ``center`` / ``scale`` (:func:`rows_scale`)."""
    x = np.asarray(values, np.float64)
    center = stats.user_center if center is None else center
    scale = stats.user_scale if scale is None else scale
    with np.errstate(invalid="ignore", over="ignore"):
        z = (x - center) / scale
    return np.where(np.isfinite(z), z, np.nan)


def rows_scale(stats: TabularStats, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scale of ``quality``: the mean and std of each input column over the evaluated
    raw rows ``raw`` [N, n_input_columns] themselves (missing values left out), so that a
    column's error is measured against its own spread in those rows (1 - its MSE is its
    R^2 about their mean).  A column with fewer than 2 values or no spread there keeps
    the training mean and std (``user_center`` / ``user_scale``)."""
    x = np.asarray(raw, np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    n = np.isfinite(x).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, 1)
        mu = np.where(n > 0, np.nansum(x, axis=0) / safe, 0.0)
        sd = np.sqrt(np.where(n > 0, np.nansum((x - mu) ** 2, axis=0) / safe, 0.0))
    ok = (n >= 2) & (sd > 1e-12 * np.maximum(1.0, np.abs(mu))) & np.isfinite(sd)
    return np.where(ok, mu, stats.user_center), np.where(ok, sd, stats.user_scale)


class UserScaleError:
    """Sums over rows of the squared user-scale error of each input column of the
    tabular families (entries whose true value is missing are left out); families
    whose target is not their columns (temporal, fields) count on the model's scale."""

    def __init__(self):
        self.parts: dict[str, dict[str, np.ndarray]] = {}
        self.other_sse, self.other_count = 0.0, 0

    def update_tabular(self, family: str, stats: TabularStats, raw: np.ndarray,
                       decoded: np.ndarray, scale: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``scale``: (center, std) per input column (:func:`rows_scale`); default the
        training mean and std."""
        center, std = scale if scale is not None else (None, None)
        truth = user_z(stats, raw, center, std)
        pred = user_z(stats, decoded, center, std)
        pred = np.where(np.isnan(pred) & ~np.isnan(truth), 0.0, pred)   # an unknown column: its mean
        valid = ~np.isnan(truth)
        err = np.where(valid, (pred - truth) ** 2, 0.0)
        t = np.where(valid, truth, 0.0)
        d = self.parts.setdefault(family, {k: np.zeros(truth.shape[1]) for k in ("sse", "n", "s", "s2")})
        d["sse"] += err.sum(axis=0)
        d["n"] += valid.sum(axis=0)
        d["s"] += t.sum(axis=0)
        d["s2"] += (t * t).sum(axis=0)

    def update_other(self, sse: float, count: int) -> None:
        self.other_sse += float(sse)
        self.other_count += int(count)

    def mse(self) -> float:
        sse = self.other_sse + sum(float(d["sse"].sum()) for d in self.parts.values())
        n = self.other_count + sum(int(d["n"].sum()) for d in self.parts.values())
        return sse / max(1, n)

    def r2(self, family: str) -> np.ndarray:
        """Per input column: 1 - SSE / (sum of squares about the column's mean), NaN
        for a column with no spread (or no values) in the evaluated rows."""
        d = self.parts[family]
        n = np.maximum(d["n"], 1)
        sst = d["s2"] - d["s"] ** 2 / n
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sst > 1e-12 * np.maximum(n, 1), 1.0 - d["sse"] / sst, np.nan)

    def column_mse(self, family: str) -> np.ndarray:
        d = self.parts[family]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d["n"] > 0, d["sse"] / np.maximum(d["n"], 1), np.nan)


def fate_summary(pre: Preprocessor) -> list[str]:
    """One line per tabular family with columns that are not tokenized themselves (empty
    when every column is): how many are rebuilt from a twin, constants, missing."""
    lines = []
    for family, stats in pre.families.items():
        if not isinstance(stats, TabularStats):
            continue
        fates = stats.column_fates()
        twins = [f"{r['name']} (= {r['slope']:.3g} x {r['twin']} + {r['intercept']:.3g})"
                 for r in fates if r["fate"] == "twin"]
        consts = [r["name"] for r in fates if r["fate"] == "constant"]
        missing = [r["name"] for r in fates if r["fate"] == "missing"]
        unstable = [r["name"] for r in fates if r["fate"] == "unstable"]
        if not (twins or consts or missing or unstable):
            continue
        parts = []
        if twins:
            parts.append(f"{len(twins)} rebuilt from the column they duplicate: " + ", ".join(twins))
        if consts:
            parts.append(f"{len(consts)} near-constant, decoded as their mean: " + ", ".join(consts))
        if unstable:
            parts.append(f"{len(unstable)} of extreme variance, decoded as their mean: " + ", ".join(unstable))
        if missing:
            parts.append(f"{len(missing)} missing in every training row, decoded as NaN: "
                         + ", ".join(missing))
        n_tok = int((stats.fate == 0).sum())
        lines.append(f"Columns of {family!r} not tokenized themselves ({n_tok} of "
                     f"{stats.n_input_columns} are): " + "; ".join(parts))
    return lines


def input_feature_report(pre: Preprocessor, categories: dict | None = None) -> list[dict]:
    """Every input column of every tabular family and where it went: ``fate`` (tokenized,
    twin, constant, missing), the ``category`` holding it (for a twin: its twin's),
    the transform, the twin's affine map.  ``categories``: a categories.json dict."""
    where: dict[str, str] = {}
    for cat in (categories or {}).get("categories", []):
        for feat in cat.get("features", []):
            where[str(feat.get("name"))] = str(cat.get("name"))
    out = []
    for family, stats in pre.families.items():
        if not isinstance(stats, TabularStats):
            continue
        for row in stats.column_fates():
            entry = {"family": family, **row}
            key = f"{family}:{row['twin'] if row['fate'] == 'twin' else row['name']}"
            if row["fate"] in ("tokenized", "twin") and key in where:
                entry["category"] = where[key]
            out.append(entry)
    return out


__all__ = ["decode", "decode_tabular", "user_z", "rows_scale", "UserScaleError", "fate_summary", "input_feature_report", "MISSING"]
