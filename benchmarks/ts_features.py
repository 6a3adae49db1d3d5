"""Per-window time-series features of the catch22 kind, written here in numpy.

Not catch22 itself (its reference code is not a dependency): 24 features per series
that measure the same kinds of behaviour — distribution (mean, spread, histogram
modes, moments), linear correlation (autocorrelation crossings and minima,
automutual information), spectrum (low-frequency power, centroid), outlier timing,
symbolic stretches and motifs, successive differences and simple forecasting
residuals.  Like catch22 on chaotic systems, many of them have heavy tails across
systems (lags that run to the window length, moments of bursting series).
"""
from __future__ import annotations

import numpy as np

NAMES = ("mean", "std", "histogram_mode_5", "histogram_mode_10", "acf_first_1e", "acf_first_min",
         "acf_first_zero", "trev_1", "ami_lag2_5bins", "welch_area_low5", "spectral_centroid",
         "outlier_timing_pos", "outlier_timing_neg", "longest_above_mean", "longest_decrease",
         "pnn40", "local_mean1_tau_ratio", "local_mean3_stderr", "gaussian_ami_first_min",
         "motif3_entropy", "skewness", "kurtosis", "transition3_trace", "embed2_incircle")


def _zscore(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / (s if s > 1e-12 else 1.0)


def _acf(z: np.ndarray) -> np.ndarray:
    n = len(z)
    f = np.fft.rfft(z, 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[:n]
    return ac / ac[0] if ac[0] > 0 else np.zeros(n)


def _first(mask: np.ndarray, default: int) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else default


def _first_min(a: np.ndarray) -> int:
    for i in range(1, len(a) - 1):
        if a[i] < a[i - 1] and a[i] <= a[i + 1]:
            return i
    return len(a)


def _histogram_mode(z: np.ndarray, bins: int) -> float:
    counts, edges = np.histogram(z, bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return float(centres[counts == counts.max()].mean())


def _longest(mask: np.ndarray) -> int:
    best = run = 0
    for m in mask:
        run = run + 1 if m else 0
        best = max(best, run)
    return best


def _outlier_timing(z: np.ndarray) -> float:
    """Median (over thresholds 0, 0.1, ... up to the max) of the median time of the
    points beyond the threshold, relative to the window's middle."""
    n = len(z)
    meds = []
    for thr in np.arange(0.0, max(z.max(), 0.0) + 1e-9, 0.1):
        idx = np.flatnonzero(z >= thr)
        if idx.size < 2:
            break
        meds.append(np.median(idx) / (n / 2) - 1.0)
    return float(np.median(meds)) if meds else 0.0


def _symbols(z: np.ndarray, k: int) -> np.ndarray:
    edges = np.quantile(z, np.linspace(0, 1, k + 1)[1:-1])
    return np.searchsorted(edges, z, side="right")


def _ami(z: np.ndarray, lag: int, bins: int) -> float:
    a, b = z[:-lag], z[lag:]
    h, _, _ = np.histogram2d(a, b, bins=bins)
    p = h / h.sum()
    pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def series_features(x: np.ndarray) -> np.ndarray:
    """The 24 features (NAMES) of one series ``x`` [T]."""
    x = np.asarray(x, np.float64)
    n = len(x)
    z = _zscore(x)
    ac = _acf(z)
    first_zero = _first(ac <= 0, n)
    d = np.diff(z)
    spec = np.abs(np.fft.rfft(z)) ** 2
    freqs = np.fft.rfftfreq(n)
    total = spec[1:].sum() if spec[1:].sum() > 0 else 1.0
    low = spec[1:][: max(1, (len(spec) - 1) // 5)].sum() / total
    centroid = float((freqs[1:] * spec[1:]).sum() / total)
    # local mean forecasters
    res1 = z[1:] - z[:-1]
    tau_res = _first(_acf(_zscore(res1)) <= 0, n)
    pred3 = np.convolve(z, np.ones(3) / 3, mode="valid")[:-1]
    res3 = z[3:] - pred3
    gauss_ami = -0.5 * np.log(np.clip(1 - ac[1:41] ** 2, 1e-12, None))
    sym = _symbols(z, 3)
    pairs = np.bincount(sym[:-1] * 3 + sym[1:], minlength=9).astype(np.float64)
    p = pairs / pairs.sum()
    trans = pairs.reshape(3, 3)
    trans = trans / np.maximum(trans.sum(axis=1, keepdims=True), 1)
    tau = max(1, min(first_zero, n // 4))
    emb = np.stack([z[:-tau], z[tau:]], axis=1)
    return np.array([
        x.mean(), x.std(),
        _histogram_mode(z, 5), _histogram_mode(z, 10),
        _first(ac < 1 / np.e, n), _first_min(ac), first_zero,
        float(np.mean(d ** 3)),
        _ami(z, 2, 5),
        low, centroid,
        _outlier_timing(z), _outlier_timing(-z),
        _longest(z > 0), _longest(d < 0),
        float(np.mean(np.abs(np.diff(x)) > 0.04 * max(x.std(), 1e-12))),
        tau_res / max(first_zero, 1),
        float(res3.std()),
        _first_min(gauss_ami) + 1,
        float(-(p[p > 0] * np.log(p[p > 0])).sum()),
        float(np.mean(z ** 3)), float(np.mean(z ** 4) - 3.0),
        float(np.trace(trans)),
        float(np.mean((emb ** 2).sum(axis=1) < 1.0)),
    ])
