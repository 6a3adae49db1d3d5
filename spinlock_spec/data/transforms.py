"""Monotone, invertible per-column transforms for heavy-tailed tabular columns.

``normalization_method`` chooses, per tabular family:

* ``standard`` / ``mad``: no transform, then (x - centre) / scale;
* ``yeo-johnson``: every column is robustly pre-scaled (median, IQR / 1.349),
  then Yeo-Johnson with a per-column lambda fitted by scikit-learn's
  ``PowerTransformer`` (maximum likelihood), then standardized;
* ``quantile``: every column is mapped to a standard normal through its
  training quantiles (scikit-learn's ``QuantileTransformer``, at most 1000
  references), then standardized;
* ``auto``: Yeo-Johnson on the *heavy-tailed* columns only, plain
  standardization on the others.  A column is heavy-tailed when more than
  ``TAIL_MASS`` (1 %) of its training values lie beyond ``TAIL_Z`` (5) robust
  standard deviations from its median (robust sd = IQR / 1.349; a normal column
  has 6e-7 there), or when its excess kurtosis exceeds ``KURTOSIS`` (10).

Yeo-Johnson's lambda is held in [0, 2]: there the transform maps the real line onto
the real line.  With lambda < 0 the right side saturates at 1 / |lambda| (with
lambda > 2 the left side at -1 / (lambda - 2)), so the largest training values land
next to the asymptote and the inverse multiplies a small decoding error there into an
error of many standard deviations in the user's units (on a catch22-kind table a
column's training max sat 0.01 below 1 / |lambda|: user-scale quality 0.82 with
lambda free in [-3, 5], 0.90 held in [0, 2]; docs/decisions.md §8).

scikit-learn only *fits* (imported inside :func:`fit_transform_params`); the
fitted numbers are plain arrays (lambdas, pre-scaling, quantile references)
and both directions are computed here with numpy/scipy, so a run folder's
``normalization_stats.npz`` never holds a pickled object.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colstats import by_columns
from spinlock_spec.preload import wait as wait_for_preload

TRANSFORM_METHODS = ("yeo-johnson", "quantile", "auto")
NONE, YEO_JOHNSON, QUANTILE = 0, 1, 2
TAIL_Z = 5.0
TAIL_MASS = 0.01
KURTOSIS = 10.0
MAX_QUANTILES = 1000
FIT_MAX_ROWS = 100_000
IQR_TO_STD = 1.349
LAMBDA_MIN, LAMBDA_MAX = 0.0, 2.0   # Yeo-Johnson onto the whole line (see the module docstring)
_P_EPS = 1e-7          # quantile: probabilities clipped to [eps, 1 - eps] (|z| <= 5.2)
_BIG = 1e300


@dataclass
class ColumnTransforms:
    """Per-column transform of the kept columns of one tabular family."""
    kind: np.ndarray           # int8 [D]: NONE, YEO_JOHNSON or QUANTILE
    pre_center: np.ndarray     # [D] robust pre-scaling (Yeo-Johnson columns)
    pre_scale: np.ndarray      # [D]
    lambdas: np.ndarray        # [D] Yeo-Johnson lambda (1 = identity)
    quantiles: np.ndarray      # [Q, D] training quantiles (QUANTILE columns; Q may be 0)
    references: np.ndarray     # [Q] probabilities of the quantiles
    low: np.ndarray | None = None    # [D] training min / max: the inverse of a transformed
    high: np.ndarray | None = None   # column stays within one training range of them

    def __post_init__(self):
        d = len(self.kind)
        if self.low is None:
            self.low = np.full(d, -np.inf)
        if self.high is None:
            self.high = np.full(d, np.inf)

    @classmethod
    def identity(cls, d: int) -> ColumnTransforms:
        return cls(np.zeros(d, np.int8), np.zeros(d), np.ones(d), np.ones(d),
                   np.zeros((0, d)), np.zeros(0))

    @property
    def active(self) -> bool:
        return bool((self.kind != NONE).any())

    def subset(self, mask: np.ndarray) -> ColumnTransforms:
        q = self.quantiles[:, mask] if self.quantiles.size else np.zeros((0, int(mask.sum())))
        return ColumnTransforms(self.kind[mask], self.pre_center[mask], self.pre_scale[mask],
                                self.lambdas[mask], q, self.references, self.low[mask], self.high[mask])

    def columns(self, cols: slice) -> ColumnTransforms:
        """The transforms of the columns ``cols`` (a slice; the whole set for all of them)."""
        if cols == slice(0, len(self.kind)):
            return self
        mask = np.zeros(len(self.kind), bool)
        mask[cols] = True
        return self.subset(mask)

    # -- both directions --------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """[N, D] float64 (finite) -> transformed columns."""
        out = np.array(x, np.float64, copy=True)
        yj = np.flatnonzero(self.kind == YEO_JOHNSON)
        if yj.size:
            u = (out[:, yj] - self.pre_center[yj]) / self.pre_scale[yj]
            out[:, yj] = yeo_johnson(u, self.lambdas[yj])
        qt = np.flatnonzero(self.kind == QUANTILE)
        if qt.size:
            wait_for_preload()
            from scipy.special import ndtri
            for j in qt:
                p = _interp_both(out[:, j], self.quantiles[:, j], self.references)
                out[:, j] = ndtri(np.clip(p, _P_EPS, 1 - _P_EPS))
        return out

    def inverse(self, t: np.ndarray) -> np.ndarray:
        """Transformed columns [N, D] -> the columns' own units.  A transformed column's
        result is held within one training range beyond its training min / max (the
        inverse of Yeo-Johnson grows without bound near the edge of its domain)."""
        out = np.array(t, np.float64, copy=True)
        yj = np.flatnonzero(self.kind == YEO_JOHNSON)
        if yj.size:
            u = yeo_johnson_inverse(out[:, yj], self.lambdas[yj])
            out[:, yj] = u * self.pre_scale[yj] + self.pre_center[yj]
        qt = np.flatnonzero(self.kind == QUANTILE)
        if qt.size:
            wait_for_preload()
            from scipy.special import ndtr
            for j in qt:
                p = np.clip(ndtr(out[:, j]), _P_EPS, 1 - _P_EPS)
                out[:, j] = np.interp(p, self.references, self.quantiles[:, j])
        cols = np.flatnonzero(self.kind != NONE)
        if cols.size:
            span = np.where(np.isfinite(self.high - self.low), self.high - self.low, np.inf)[cols]
            out[:, cols] = np.clip(out[:, cols], self.low[cols] - span, self.high[cols] + span)
        return out

    # -- persistence (plain arrays) -----------------------------------------------------
    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        if not self.active:
            return {}
        return {f"{prefix}_transform_kind": self.kind.astype(np.int8),
                f"{prefix}_transform_pre_center": self.pre_center.astype(np.float64),
                f"{prefix}_transform_pre_scale": self.pre_scale.astype(np.float64),
                f"{prefix}_transform_lambdas": self.lambdas.astype(np.float64),
                f"{prefix}_transform_quantiles": self.quantiles.astype(np.float64),
                f"{prefix}_transform_references": self.references.astype(np.float64),
                f"{prefix}_transform_low": self.low.astype(np.float64),
                f"{prefix}_transform_high": self.high.astype(np.float64)}

    @classmethod
    def from_arrays(cls, d, prefix: str, n_columns: int) -> ColumnTransforms:
        if f"{prefix}_transform_kind" not in d:
            return cls.identity(n_columns)
        out = cls(np.asarray(d[f"{prefix}_transform_kind"], np.int8),
                  np.asarray(d[f"{prefix}_transform_pre_center"], np.float64),
                  np.asarray(d[f"{prefix}_transform_pre_scale"], np.float64),
                  np.asarray(d[f"{prefix}_transform_lambdas"], np.float64),
                  np.asarray(d[f"{prefix}_transform_quantiles"], np.float64).reshape(-1, n_columns),
                  np.asarray(d[f"{prefix}_transform_references"], np.float64),
                  np.asarray(d[f"{prefix}_transform_low"], np.float64),
                  np.asarray(d[f"{prefix}_transform_high"], np.float64))
        if out.kind.shape != (n_columns,) or out.quantiles.shape[0] != out.references.shape[0]:
            raise ValueError(f"{prefix}: transform arrays do not match {n_columns} columns")
        return out


# --------------------------------------------------------------------------- formulas
def yeo_johnson(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Yeo-Johnson of every column of ``u`` with its own lambda (broadcast over rows)."""
    u = np.asarray(u, np.float64)
    lam = np.broadcast_to(np.asarray(lam, np.float64), u.shape)
    out = np.empty_like(u)
    pos = u >= 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a = pos & (np.abs(lam) > 1e-12)
        out[a] = np.expm1(lam[a] * np.log1p(u[a])) / lam[a]
        b = pos & ~a
        out[b] = np.log1p(u[b])
        c = ~pos & (np.abs(lam - 2) > 1e-12)
        out[c] = -np.expm1((2 - lam[c]) * np.log1p(-u[c])) / (2 - lam[c])
        e = ~pos & ~c
        out[e] = -np.log1p(-u[e])
    return np.clip(out, -_BIG, _BIG)


def yeo_johnson_inverse(y: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Inverse of :func:`yeo_johnson`; ``y`` beyond the range of the transform
    (possible for lambda < 0 above 0, lambda > 2 below 0) is held at its edge."""
    y = np.asarray(y, np.float64)
    lam = np.broadcast_to(np.asarray(lam, np.float64), y.shape)
    out = np.empty_like(y)
    pos = y >= 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a = pos & (np.abs(lam) > 1e-12)
        arg = 1 + lam[a] * y[a]                        # > 0 inside the range
        out[a] = np.expm1(np.log(np.maximum(arg, 1e-300)) / lam[a])
        b = pos & ~a
        out[b] = np.expm1(np.minimum(y[b], 700.0))
        c = ~pos & (np.abs(lam - 2) > 1e-12)
        arg = 1 - (2 - lam[c]) * y[c]
        out[c] = -np.expm1(np.log(np.maximum(arg, 1e-300)) / (2 - lam[c]))
        e = ~pos & ~c
        out[e] = -np.expm1(np.minimum(-y[e], 700.0))
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=_BIG, neginf=-_BIG), -_BIG, _BIG)


def _interp_both(x: np.ndarray, quantiles: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Probability of ``x`` on a quantile table, averaging the interpolation from
    both ends so that a run of equal quantiles maps to the middle of its range."""
    up = np.interp(x, quantiles, references)
    down = -np.interp(-x, -quantiles[::-1], -references[::-1])
    return 0.5 * (up + down)


# --------------------------------------------------------------------------- fitting
def heavy_tailed(x: np.ndarray) -> np.ndarray:
    """Boolean [D]: the columns of ``x`` [N, D] (finite) with heavy tails (module docstring).
    Each column on its own, so blocks of columns are judged in threads."""
    return by_columns(_heavy_tailed_block, np.asarray(x, np.float64), axis=None)


def _heavy_tailed_block(x: np.ndarray) -> np.ndarray:
    med = by_columns(np.median, x)
    q1, q3 = by_columns(np.percentile, x, [25.0, 75.0])
    robust = (q3 - q1) / IQR_TO_STD
    std = x.std(axis=0)
    robust = np.where(robust > 1e-12, robust, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(x - med) / np.where(robust > 1e-12, robust, np.inf)
        tail = (z > TAIL_Z).mean(axis=0)
        c = x - x.mean(axis=0)
        c *= c                  # c ** 4 as a square of squares: numpy's pow takes ~30x longer
        kurt = (c * c).mean(axis=0) / np.where(std > 1e-12, std ** 4, np.inf) - 3.0
    return (tail > TAIL_MASS) | (kurt > KURTOSIS)


def fit_transform_params(x: np.ndarray, method: str) -> ColumnTransforms:
    """Fit the transform of ``method`` on the training columns ``x`` [N, D] (finite)."""
    x = np.asarray(x, np.float64)
    n, d = x.shape
    out = ColumnTransforms.identity(d)
    if method not in TRANSFORM_METHODS or d == 0:
        return out
    fit_rows = x if n <= FIT_MAX_ROWS else x[np.linspace(0, n - 1, FIT_MAX_ROWS).astype(np.int64)]
    out.low, out.high = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    if method == "quantile":
        wait_for_preload()
        from sklearn.preprocessing import QuantileTransformer

        qt = QuantileTransformer(n_quantiles=min(MAX_QUANTILES, fit_rows.shape[0]),
                                 output_distribution="normal", subsample=fit_rows.shape[0],
                                 random_state=0).fit(fit_rows)
        out.kind[:] = QUANTILE
        out.quantiles = np.asarray(qt.quantiles_, np.float64)
        out.references = np.asarray(qt.references_, np.float64)
        return out
    cols = np.arange(d) if method == "yeo-johnson" else np.flatnonzero(heavy_tailed(fit_rows))
    if cols.size == 0:
        return out
    wait_for_preload()
    from sklearn.preprocessing import PowerTransformer

    sub = fit_rows[:, cols]
    med = by_columns(np.median, sub)
    q1, q3 = by_columns(np.percentile, sub, [25.0, 75.0])
    scale = (q3 - q1) / IQR_TO_STD
    std = sub.std(axis=0)
    scale = np.where(scale > 1e-12, scale, np.where(std > 1e-12, std, 1.0))
    u = (sub - med) / scale
    with np.errstate(all="ignore"):
        pt = PowerTransformer(method="yeo-johnson", standardize=False).fit(u)
    lambdas = np.asarray(pt.lambdas_, np.float64)
    lambdas = np.where(np.isfinite(lambdas), np.clip(lambdas, LAMBDA_MIN, LAMBDA_MAX), 1.0)
    out.kind[cols] = YEO_JOHNSON
    out.pre_center[cols] = med
    out.pre_scale[cols] = scale
    out.lambdas[cols] = lambdas
    return out
