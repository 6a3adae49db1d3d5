"""Row/column order of an assignment matrix so that categories read as blocks (numpy only)."""
from __future__ import annotations

import numpy as np


def block_order(matrix: np.ndarray) -> np.ndarray:
    """Feature order for a [F, K] assignment matrix: grouped by hard category
    (argmax; category index order), most confident first inside a group.
    Features with an all-zero row (unassigned) go last."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] == 0:
        return np.arange(m.shape[0] if m.ndim else 0)
    hard = m.argmax(axis=1)
    conf = m.max(axis=1)
    hard = np.where(conf > 0, hard, m.shape[1])       # unassigned after every category
    return np.lexsort((np.arange(len(hard)), -conf, hard))


def block_bounds(matrix: np.ndarray, order: np.ndarray) -> list[int]:
    """Row positions (in ``order``) where a new category block starts (excluding 0)."""
    m = np.asarray(matrix, dtype=float)
    if m.shape[0] == 0:
        return []
    hard = m.argmax(axis=1)[order]
    return [i for i in range(1, len(hard)) if hard[i] != hard[i - 1]]
