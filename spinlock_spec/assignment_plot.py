"""The feature -> category heatmap, shared by the report and TensorBoard logging.

numpy at import time; matplotlib (object API on an Agg canvas, no pyplot state)
only when a figure is drawn.  A leaf module: it imports nothing of spinlock_spec,
so the train layer (TensorBoard images) and the report layer (PNG files) can
both use it without depending on each other.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DPI = 100


def new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def render_rgb(fig) -> np.ndarray:
    """The figure as an [H, W, 3] uint8 array (for TensorBoard images)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


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


def assignment_height(n_features: int) -> float:
    return max(4.5, min(0.13 * n_features + 2.0, 40.0))


def draw_assignment(fig, matrix, feature_names: Sequence[str], category_names: Sequence[str], *,
                    learnable: bool, temperature: float | None = None) -> None:
    """The [F, K] assignment heatmap on ``fig``, rows sorted into category blocks."""
    matrix = np.asarray(matrix, dtype=float)
    order = block_order(matrix)
    F, K = matrix.shape
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(matrix[order], aspect="auto", cmap="Blues", vmin=0.0, vmax=1.0,
                   interpolation="nearest")
    ax.set_xticks(range(K), labels=list(category_names), rotation=45, ha="right", fontsize=8)
    if F <= 200:
        ax.set_yticks(range(F), labels=[feature_names[i] for i in order],
                      fontsize=max(3.0, min(8.0, 700.0 / max(F, 1))))
    else:
        ax.set_ylabel(f"{F} features (sorted by category)")
    for b in block_bounds(matrix, order):
        ax.axhline(b - 0.5, color="crimson", linewidth=0.6)
    what = (f"assignment probabilities (temperature {temperature:.2f})"
            if learnable and temperature is not None else
            "assignment probabilities" if learnable else "category membership")
    ax.set_title(f"Feature -> category {what}")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
