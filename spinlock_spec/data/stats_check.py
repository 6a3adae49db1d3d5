"""Checks of saved normalization statistics (``normalization_stats.npz`` of a run folder).

A file whose arrays are truncated, of the wrong shape or hold NaN would otherwise
broadcast silently and turn every row into the same tokens; it is a DataError (D003)
naming the family and the array instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError


def _fail(source: str, what: str) -> None:
    raise DataError(f"{source}: invalid normalization statistics ({what})", code="D013",
                    hint="the run folder's normalization_stats.npz was edited or damaged; train the run again")


def _vector(source: str, name: str, value: Any, n: int, *, finite: bool = True) -> None:
    arr = np.asarray(value)
    if arr.shape != (n,):
        _fail(source, f"{name} has shape {arr.shape}, expected ({n},)")
    if finite and not np.all(np.isfinite(arr)):
        _fail(source, f"{name} holds NaN or infinite values")
    if not finite and np.any(np.isnan(arr)):
        _fail(source, f"{name} holds NaN")


def _center_scale(source: str, name: str, center: np.ndarray, scale: np.ndarray) -> None:
    c, s = np.asarray(center), np.asarray(scale)
    if c.shape != s.shape:
        _fail(source, f"{name}: center {c.shape} and scale {s.shape} differ in shape")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(s))):
        _fail(source, f"{name}: NaN or infinite center/scale")
    if np.any(s <= 0):
        _fail(source, f"{name}: a scale is not positive")


def check_stats(pre: Any, source: str) -> None:
    """Raise DataError (D003) when the statistics of ``pre`` (a Preprocessor) are inconsistent."""
    for fam, st in pre.families.items():
        if st.kind == "tabular":
            kept = np.asarray(st.kept)
            n_in = int(st.n_input_columns)
            if kept.ndim != 1 or kept.size == 0 or n_in < 1:
                _fail(source, f"{fam}: no kept columns")
            if kept.min() < 0 or kept.max() >= n_in or len(np.unique(kept)) != kept.size:
                _fail(source, f"{fam}: kept column indices outside 0..{n_in - 1} or repeated")
            m = kept.size
            for name in ("impute", "center", "scale"):
                _vector(source, f"{fam} {name}", getattr(st, name), m)
            for name in ("clip_low", "clip_high"):
                _vector(source, f"{fam} {name}", getattr(st, name), m, finite=False)
            if np.any(np.asarray(st.clip_low) > np.asarray(st.clip_high)):
                _fail(source, f"{fam}: clip_low above clip_high")
            if np.any(np.asarray(st.scale) <= 0):
                _fail(source, f"{fam}: a scale is not positive")
            if len(st.column_names) != m:
                _fail(source, f"{fam}: {len(st.column_names)} column names for {m} kept columns")
            if st.true_groups is not None and np.asarray(st.true_groups).shape != (m,):
                _fail(source, f"{fam}: true_groups has shape {np.asarray(st.true_groups).shape}, expected ({m},)")
        else:
            _center_scale(source, fam, st.center, st.scale)
    for fam, st in pre.fields.items():
        _center_scale(source, f"{fam} fields", st.center, st.scale)
