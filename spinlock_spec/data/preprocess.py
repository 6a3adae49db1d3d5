"""Cleaning and normalization, fitted on the training split only.

Tabular families ([N, D]), in this order, all statistics from the training rows:

1. non-finite values (inf) count as missing; columns missing in every training
   row are dropped with a warning;
2. missing values are imputed with the column's training median;
3. when ``feature_cleaning.enabled``:
   a. columns of extreme, unstable spread are dropped (the original's rule):
      variance above ``max_variance_threshold`` (1e10; null disables) and
      coefficient of variation std / (|mean| + 1e-10) above ``max_cv_threshold``
      (100), both measured before clipping;
   b. outliers are clipped to bounds from ``outlier_method``: ``percentile``
      (``percentile_range``), ``iqr`` (Q1 - k IQR, Q3 + k IQR, k =
      ``iqr_multiplier``, 1.5) or ``mad`` (median +- ``mad_threshold`` x MAD,
      unscaled MAD, 3.0), the original's parameters and defaults; a column whose
      bound width is 0 (e.g. mostly zeros) is not clipped, since that would
      flatten it;
   c. columns with variance below ``variance_threshold`` are dropped;
   d. of columns with |Pearson r| > ``deduplicate_threshold`` only one is kept:
      greedily in column order, or with ``use_intelligent_dedup`` in order of
      fewest missing training values first (the most complete copy survives);
4. normalization ``standard`` (mean / std) or ``mad`` (median / 1.4826 MAD,
   falling back to the std, then 1, for a zero spread); ``yeo-johnson``,
   ``quantile`` and ``auto`` first apply a monotone per-column transform
   (data/transforms.py), then standardize.

Every input column gets a *fate* (``column_fates``): tokenized, ``twin`` (dropped
as a duplicate: rebuilt by decode as the least-squares affine map of the kept
column it duplicates, fitted on the imputed training values), ``constant``
(dropped for low variance: rebuilt as its training mean), ``unstable`` (dropped for
extreme variance and coefficient of variation: rebuilt as its training mean) or ``missing`` (NaN in
every training row: rebuilt as NaN).  ``data/decode.py`` turns model outputs back
into every column in the user's units; ``user_center`` / ``user_scale`` are the raw
training mean / std before any clipping (``quality`` uses the evaluated rows' own
mean / std, falling back to these: data/decode.rows_scale).

Temporal families ([N, T, D]) are normalized per channel over the valid steps
only (steps before ``lengths``); non-finite values become the channel centre
and padding stays exactly 0.  Raw fields ([N, C, H, W]) are normalized per
channel (median / MAD estimated on at most 4096 evenly spaced training rows).

``to_npz_dict`` uses the reference's key scheme: ``{family}_mean`` /
``{family}_std`` (or ``_median`` / ``_mad``), plus ``{family}_kept_columns``
(indices into the file's columns), ``{family}_impute``, ``{family}_clip_low``,
``{family}_clip_high`` (+-inf = no clipping), ``{family}_n_input_columns``,
``{family}_column_names``, ``{family}_true_groups`` (when known),
``{family}_fields_mean`` / ``_fields_std`` (or median / mad), the column fates
(``{family}_fate``, ``_twin``, ``_twin_slope``, ``_twin_intercept``, ``_user_center``,
``_user_scale``, over the input columns), the transform arrays of
data/transforms.py (``{family}_transform_*``) and a JSON ``__meta__`` string.  No object arrays: it loads with ``allow_pickle=False``.
"""
from __future__ import annotations

import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinlock_spec.errors import DataError

from .colstats import by_columns
from .dataset import Dataset
from .npz import NPZ_READ_ERRORS
from .tabular_stats import (CONSTANT, MISSING, TOKENIZED, TWIN, UNSTABLE,  # noqa: F401
                            TabularStats, saved_fates)
from .transforms import TRANSFORM_METHODS, ColumnTransforms, fit_transform_params

log = logging.getLogger("spinlock_spec")

CLEANING_DEFAULTS = {
    "enabled": True,
    "variance_threshold": 1e-10,
    "deduplicate_threshold": 0.99,
    "use_intelligent_dedup": True,
    "outlier_method": "percentile",
    "percentile_range": [0.5, 99.5],
    "iqr_multiplier": 1.5,
    "mad_threshold": 3.0,
    "max_variance_threshold": 1.0e10,
    "max_cv_threshold": 100.0,
}
METHODS = ("standard", "mad") + TRANSFORM_METHODS

MAD_TO_STD = 1.4826
DEDUP_MAX_ROWS = 20_000
FIELD_MEDIAN_MAX_ROWS = 4096
FORMAT_VERSION = 1
_EPS = 1e-12


def _stat_names(method: str) -> tuple[str, str]:
    return ("median", "mad") if method == "mad" else ("mean", "std")


def _spread(values: np.ndarray, method: str, axis) -> tuple[np.ndarray, np.ndarray]:
    """(centre, scale) along ``axis``; a zero scale becomes the std, then 1."""
    std = np.nanstd(values, axis=axis)
    if method != "mad":
        center, scale = np.nanmean(values, axis=axis), std
    else:
        center = np.nanmedian(values, axis=axis)
        c = np.expand_dims(center, axis) if np.ndim(center) else center
        scale = MAD_TO_STD * np.nanmedian(np.abs(values - c), axis=axis)
        scale = np.where(scale > _EPS, scale, std)
    scale = np.where(np.isfinite(scale) & (scale > _EPS), scale, 1.0)
    center = np.where(np.isfinite(center), center, 0.0)
    return np.asarray(center, np.float64), np.asarray(scale, np.float64)


@dataclass
class SequenceStats:
    center: np.ndarray          # [D]
    scale: np.ndarray           # [D]

    kind = "temporal"

    def apply(self, arr: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        x = np.asarray(arr, np.float64)
        x = np.where(np.isfinite(x), x, self.center)
        x = (x - self.center) / self.scale
        if lengths is not None:
            x[np.arange(x.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = 0.0
        return x.astype(np.float32)


@dataclass
class FieldStats:
    center: np.ndarray          # [C]
    scale: np.ndarray           # [C]

    def apply(self, arr: np.ndarray) -> np.ndarray:
        c = self.center[None, :, None, None]
        x = np.asarray(arr, np.float64)
        x = np.where(np.isfinite(x), x, c)
        return ((x - c) / self.scale[None, :, None, None]).astype(np.float32)


def _clip_bounds(x: np.ndarray, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    method = cfg["outlier_method"]
    if method == "percentile":
        lo_p, hi_p = cfg["percentile_range"]
        low, high = by_columns(np.percentile, x, [lo_p, hi_p])
    elif method == "iqr":
        k = float(cfg["iqr_multiplier"])
        q1, q3 = by_columns(np.percentile, x, [25.0, 75.0])
        low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    elif method == "mad":
        med = by_columns(np.median, x)
        width = float(cfg["mad_threshold"]) * by_columns(np.median, np.abs(x - med))
        low, high = med - width, med + width
    else:
        raise DataError(f"unknown outlier_method {method!r} (percentile, iqr or mad)",
                        location="feature_cleaning.outlier_method")
    flat = ~(high - low > _EPS)
    low, high = np.where(flat, -np.inf, low), np.where(flat, np.inf, high)
    return low, high


def _unstable(x: np.ndarray, cfg: dict) -> np.ndarray:
    """Columns of extreme variance AND extreme coefficient of variation (the original's rule)."""
    limit = cfg.get("max_variance_threshold")
    if limit is None:
        return np.zeros(x.shape[1], bool)
    var = x.var(axis=0)
    cv = np.sqrt(var) / (np.abs(x.mean(axis=0)) + 1e-10)
    return (var > float(limit)) & (cv > float(cfg["max_cv_threshold"]))


def _dedup(x: np.ndarray, missing: np.ndarray, threshold: float, intelligent: bool
           ) -> tuple[np.ndarray, np.ndarray]:
    """(boolean mask of the columns kept by de-duplication, int array: for a dropped
    column the kept column it duplicates (the most correlated one), -1 for a kept one)."""
    n, d = x.shape
    twins = np.full(d, -1, np.int64)
    if d < 2:
        return np.ones(d, bool), twins
    if n > DEDUP_MAX_ROWS:
        x = x[np.linspace(0, n - 1, DEDUP_MAX_ROWS).astype(np.int64)]
    centered = x - x.mean(axis=0)
    norms = np.sqrt((centered * centered).sum(axis=0))
    norms = np.where(norms > _EPS, norms, np.inf)
    corr = np.abs((centered.T @ centered) / np.outer(norms, norms))
    order = np.lexsort((np.arange(d), missing)) if intelligent else np.arange(d)
    keep = np.zeros(d, bool)
    kept_idx: list[int] = []
    for j in order:
        if kept_idx and corr[j, kept_idx].max() > threshold:
            twins[j] = kept_idx[int(np.argmax(corr[j, kept_idx]))]
            continue
        keep[j] = True
        kept_idx.append(int(j))
    return keep, twins


def _affine_fit(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y ~ slope * x + intercept."""
    xc = x - x.mean()
    var = float(xc @ xc)
    slope = float(xc @ (y - y.mean())) / var if var > _EPS else 0.0
    return slope, float(y.mean() - slope * x.mean())


class Preprocessor:
    """Per-family cleaning + normalization.  ``fit`` on the training split, then
    ``transform`` any split (and encode-time data) the same way."""

    def __init__(self, method: str = "standard", cleaning: dict | None = None):
        if method not in METHODS:
            raise DataError(f"unknown normalization_method {method!r} ({', '.join(METHODS)})",
                            location="normalization_method")
        self.method = method
        self.cleaning = {**CLEANING_DEFAULTS, **(cleaning or {})}
        self.families: dict[str, TabularStats | SequenceStats] = {}
        self.fields: dict[str, FieldStats] = {}

    # -- fitting -----------------------------------------------------------------
    def fit(self, train: Dataset, cleaning_cfg: dict | None = None, method: str | None = None) -> Preprocessor:
        if method is not None:
            if method not in METHODS:
                raise DataError(f"unknown normalization_method {method!r} ({', '.join(METHODS)})",
                                location="normalization_method")
            self.method = method
        if cleaning_cfg is not None:
            self.cleaning = {**CLEANING_DEFAULTS, **cleaning_cfg}
        if train.n_samples < 1:
            raise DataError(f"{train.source}: the training split has no rows")
        self.families, self.fields = {}, {}
        for family in train.families:
            if family in train.arrays:
                arr = train.arrays[family]
                if arr.ndim == 2:
                    self.families[family] = self._fit_tabular(train, family)
                elif arr.ndim == 3:
                    self.families[family] = self._fit_sequence(arr, train.lengths(family), family, train)
                else:
                    raise DataError(f"{train.source}: family {family!r} has unsupported shape {arr.shape}")
            fields = train.fields(family)
            if fields is not None:
                self.fields[family] = self._fit_fields(fields)
        return self

    def _fit_tabular(self, train: Dataset, family: str) -> TabularStats:
        raw = np.asarray(train.arrays[family], np.float64)
        n_in = raw.shape[1]
        names = list(train.column_names.get(family) or [f"{family}_{j:03d}" for j in range(n_in)])
        groups = train.true_groups.get(family)
        x = np.where(np.isfinite(raw), raw, np.nan)
        missing = np.isnan(x).sum(axis=0)
        all_nan = missing == x.shape[0]
        # fates of the input columns and the user scale (raw, unclipped training moments)
        fate = np.full(n_in, TOKENIZED, np.int8)
        fate[all_nan] = MISSING
        twin = np.full(n_in, -1, np.int64)
        slope, intercept = np.zeros(n_in), np.full(n_in, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN columns
            user_center = np.where(all_nan, 0.0, by_columns(np.nanmean, x))
            user_scale = np.where(all_nan, 1.0, by_columns(np.nanstd, x))
        user_scale = np.where(np.isfinite(user_scale) & (user_scale > _EPS), user_scale, 1.0)
        if all_nan.any():
            dropped = [names[j] for j in np.flatnonzero(all_nan)]
            log.warning("%s: dropping %d all-NaN column(s) of family %r: %s%s", train.source,
                        len(dropped), family, ", ".join(dropped[:10]), " ..." if len(dropped) > 10 else "")
        kept = np.flatnonzero(~all_nan)
        if kept.size == 0:
            raise DataError(f"{train.source}: family {family!r} is all NaN in the training split")
        x, missing = x[:, kept], missing[kept]
        medians = by_columns(np.nanmedian, x)
        x = np.where(np.isnan(x), medians, x)
        unclipped = x
        low = np.full(kept.size, -np.inf)
        high = np.full(kept.size, np.inf)
        cfg = self.cleaning
        if cfg.get("enabled", True):
            unstable = _unstable(x, cfg)
            if unstable.any():
                log.info("family %r: dropping %d column(s) of extreme variance and coefficient of variation "
                         "(variance > %g, std/|mean| > %g)", family, int(unstable.sum()),
                         float(cfg["max_variance_threshold"]), float(cfg["max_cv_threshold"]))
            low, high = _clip_bounds(x, cfg)
            x = np.clip(x, low, high)
            mask = (x.var(axis=0) >= float(cfg["variance_threshold"])) & ~unstable
            if (~mask & ~unstable).any():
                log.info("family %r: dropping %d near-constant column(s) (variance < %g)", family,
                         int((~mask & ~unstable).sum()), float(cfg["variance_threshold"]))
            dedup = np.zeros(kept.size, bool)
            dedup[mask], sub_twins = _dedup(x[:, mask], missing[mask], float(cfg["deduplicate_threshold"]),
                                            bool(cfg.get("use_intelligent_dedup", True)))
            if mask.sum() > dedup.sum():
                log.info("family %r: dropping %d duplicate column(s) (|r| > %g)", family,
                         int(mask.sum() - dedup.sum()), float(cfg["deduplicate_threshold"]))
            if not dedup.any():
                raise DataError(f"{train.source}: feature cleaning removed every column of family "
                                f"{family!r}", hint="lower feature_cleaning.variance_threshold or set "
                                                    "feature_cleaning.enabled: false")
            # -- fates of the dropped columns: constants keep their mean, duplicates an affine
            #    map of their twin (both in the user's units, on the imputed unclipped values)
            masked = np.flatnonzero(mask)
            for local in np.flatnonzero(~mask):     # near-constant or unstable: the training mean
                j = int(kept[local])
                fate[j] = UNSTABLE if unstable[local] else CONSTANT
                intercept[j] = float(unclipped[:, local].mean())
            for pos, t in enumerate(sub_twins):
                if t >= 0:
                    local, local_t = int(masked[pos]), int(masked[t])
                    j = int(kept[local])
                    fate[j], twin[j] = TWIN, int(kept[local_t])
                    slope[j], intercept[j] = _affine_fit(unclipped[:, local], unclipped[:, local_t])
            kept, medians, low, high, x = kept[dedup], medians[dedup], low[dedup], high[dedup], x[:, dedup]
        # -- monotone per-column transforms (yeo-johnson / quantile / auto), then the spread
        transforms = fit_transform_params(x, self.method)
        if transforms.active:
            x = transforms.forward(x)
        center, scale = by_columns(lambda block: _spread(block, self.method, axis=0), x, axis=None)
        return TabularStats(
            n_input_columns=n_in, kept=kept.astype(np.int64), impute=medians, clip_low=low,
            clip_high=high, center=center, scale=scale, column_names=[names[j] for j in kept],
            true_groups=None if groups is None else np.asarray(groups, np.int64)[kept],
            input_names=[str(n) for n in names], fate=fate, twin=twin, twin_slope=slope,
            twin_intercept=intercept, user_center=user_center, user_scale=user_scale,
            transforms=transforms)

    def _fit_sequence(self, arr, lengths, family, train) -> SequenceStats:
        x = np.asarray(arr, np.float64)
        valid = np.isfinite(x)
        if lengths is not None:
            valid &= (np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None])[:, :, None]
        flat = np.where(valid, x, np.nan).reshape(-1, x.shape[2])
        if not np.isfinite(flat).any():
            raise DataError(f"{train.source}: temporal family {family!r} has no finite values "
                            f"in the training split")
        center, scale = _spread(flat, self.method, axis=0)
        return SequenceStats(center=center, scale=scale)

    def _fit_fields(self, fields: np.ndarray) -> FieldStats:
        x = fields
        if self.method == "mad" and x.shape[0] > FIELD_MEDIAN_MAX_ROWS:
            x = x[np.linspace(0, x.shape[0] - 1, FIELD_MEDIAN_MAX_ROWS).astype(np.int64)]
        per_channel = np.moveaxis(np.asarray(x, np.float64), 1, 0).reshape(x.shape[1], -1)
        per_channel = np.where(np.isfinite(per_channel), per_channel, np.nan)
        center, scale = _spread(per_channel, self.method, axis=1)
        return FieldStats(center=center, scale=scale)

    # -- applying -------------------------------------------------------------------
    def transform(self, ds: Dataset) -> Dataset:
        if not self.families and not self.fields:
            raise RuntimeError("Preprocessor.transform called before fit")
        present = set(ds.families)
        missing = [f for f in list(self.families) + list(self.fields) if f not in present]
        unknown = [f for f in present if f not in self.families and f not in self.fields]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing famil{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
            if unknown:
                parts.append(f"famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                             f"not seen when the normalization was fitted")
            raise DataError(f"{ds.source}: the data does not match the fitted normalization: "
                            + "; ".join(parts))
        arrays: dict[str, np.ndarray] = {}
        names: dict[str, list[str]] = {}
        groups: dict[str, np.ndarray] = {}
        for family, stats in self.families.items():
            arr = ds.arrays.get(family)
            if arr is None:
                raise DataError(f"{ds.source}: family {family!r} has no feature array")
            if isinstance(stats, TabularStats):
                if arr.ndim != 2 or arr.shape[1] != stats.n_input_columns:
                    raise DataError(f"{ds.source}: family {family!r} has shape {arr.shape[1:]} per sample; "
                                    f"the normalization was fitted on ({stats.n_input_columns},)")
                arrays[family] = stats.apply(arr)
                names[family] = list(stats.column_names)
                if stats.true_groups is not None:
                    groups[family] = stats.true_groups.copy()
            else:
                if arr.ndim != 3 or arr.shape[2] != stats.center.shape[0]:
                    raise DataError(f"{ds.source}: temporal family {family!r} has shape {arr.shape[1:]} "
                                    f"per sample; the normalization was fitted on "
                                    f"{stats.center.shape[0]} channels")
                lengths = ds.lengths(family)
                arrays[family] = stats.apply(arr, lengths)
                if lengths is not None:
                    arrays[f"{family}/lengths"] = np.asarray(lengths, np.int64).copy()
                names[family] = list(ds.column_names.get(family, []))
        for family, stats in self.fields.items():
            fields = ds.fields(family)
            if fields is None or fields.ndim != 4 or fields.shape[1] != stats.center.shape[0]:
                shape = None if fields is None else fields.shape[1:]
                raise DataError(f"{ds.source}: raw fields of family {family!r} have shape {shape}; "
                                f"the normalization was fitted on {stats.center.shape[0]} channels")
            arrays[f"{family}/fields"] = stats.apply(fields)
        return Dataset(arrays=arrays, column_names=names, true_groups=groups,
                       n_samples=ds.n_samples, source=ds.source)

    # -- persistence -------------------------------------------------------------------
    def to_npz_dict(self) -> dict[str, np.ndarray]:
        c_name, s_name = _stat_names(self.method)
        kinds = {f: s.kind for f, s in self.families.items()}
        meta = {"version": FORMAT_VERSION, "method": self.method, "cleaning": self.cleaning,
                "families": kinds, "fields": list(self.fields)}
        out: dict[str, np.ndarray] = {"__meta__": np.array(json.dumps(meta))}
        for f, s in self.families.items():
            out[f"{f}_{c_name}"] = s.center.astype(np.float64)
            out[f"{f}_{s_name}"] = s.scale.astype(np.float64)
            if isinstance(s, TabularStats):
                out[f"{f}_kept_columns"] = s.kept.astype(np.int64)
                out[f"{f}_impute"] = s.impute.astype(np.float64)
                out[f"{f}_clip_low"] = s.clip_low.astype(np.float64)
                out[f"{f}_clip_high"] = s.clip_high.astype(np.float64)
                out[f"{f}_n_input_columns"] = np.array(s.n_input_columns, np.int64)
                out[f"{f}_column_names"] = np.array(s.column_names, dtype=str)
                if s.true_groups is not None:
                    out[f"{f}_true_groups"] = s.true_groups.astype(np.int64)
                out[f"{f}_input_names"] = np.array(s.input_names, dtype=str)
                out[f"{f}_fate"] = s.fate.astype(np.int8)
                out[f"{f}_twin"] = s.twin.astype(np.int64)
                out[f"{f}_twin_slope"] = s.twin_slope.astype(np.float64)
                out[f"{f}_twin_intercept"] = s.twin_intercept.astype(np.float64)
                out[f"{f}_user_center"] = s.user_center.astype(np.float64)
                out[f"{f}_user_scale"] = s.user_scale.astype(np.float64)
                out.update(s.transforms.to_arrays(f))
        for f, s in self.fields.items():
            out[f"{f}_fields_{c_name}"] = s.center.astype(np.float64)
            out[f"{f}_fields_{s_name}"] = s.scale.astype(np.float64)
        return out

    @classmethod
    def from_npz_dict(cls, d, source: str = "normalization stats") -> Preprocessor:
        try:
            meta = json.loads(str(np.asarray(d["__meta__"])[()]))
            pre = cls(meta["method"], meta.get("cleaning"))
            c_name, s_name = _stat_names(pre.method)
            for f, kind in meta["families"].items():
                center = np.asarray(d[f"{f}_{c_name}"], np.float64)
                scale = np.asarray(d[f"{f}_{s_name}"], np.float64)
                if kind == "tabular":
                    tg = d[f"{f}_true_groups"] if f"{f}_true_groups" in d else None
                    kept = np.asarray(d[f"{f}_kept_columns"], np.int64)
                    fates = saved_fates(d, f)
                    pre.families[f] = TabularStats(
                        n_input_columns=int(np.asarray(d[f"{f}_n_input_columns"])[()]),
                        kept=kept,
                        impute=np.asarray(d[f"{f}_impute"], np.float64),
                        clip_low=np.asarray(d[f"{f}_clip_low"], np.float64),
                        clip_high=np.asarray(d[f"{f}_clip_high"], np.float64),
                        center=center, scale=scale,
                        column_names=[str(s) for s in np.asarray(d[f"{f}_column_names"]).tolist()],
                        true_groups=None if tg is None else np.asarray(tg, np.int64),
                        transforms=ColumnTransforms.from_arrays(d, f, len(kept)), **fates)
                elif kind == "temporal":
                    pre.families[f] = SequenceStats(center=center, scale=scale)
                else:
                    raise ValueError(f"unknown family kind {kind!r}")
            for f in meta["fields"]:
                pre.fields[f] = FieldStats(center=np.asarray(d[f"{f}_fields_{c_name}"], np.float64),
                                           scale=np.asarray(d[f"{f}_fields_{s_name}"], np.float64))
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise DataError(f"{source}: invalid normalization statistics ({type(exc).__name__}: {exc})",
                            code="D013") from None
        from .stats_check import check_stats
        check_stats(pre, source)
        return pre

    def save(self, path) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fp:
                np.savez(fp, **self.to_npz_dict())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path, data: bytes | None = None) -> Preprocessor:
        """The statistics saved at ``path``; ``data``: its bytes, when the caller read them already."""
        path = Path(path)
        if data is None and not path.is_file():
            raise DataError(f"normalization statistics not found: {path}", code="D013")
        try:
            with np.load(path if data is None else io.BytesIO(data), allow_pickle=False) as npz:
                d = {k: npz[k] for k in npz.files}
        except NPZ_READ_ERRORS as exc:
            raise DataError(f"cannot read normalization statistics {path}: {exc}", code="D013") from None
        return cls.from_npz_dict(d, source=str(path))


def fit_preprocessor(train: Dataset, cleaning_cfg: dict | None = None, method: str = "standard") -> Preprocessor:
    """Fit a :class:`Preprocessor` on the training split."""
    return Preprocessor(method, cleaning_cfg).fit(train)
