"""The report's PNG figures, drawn with matplotlib's object API (Agg canvas, no
pyplot global state, imported only here).

Every ``*_figure(..., out)`` function writes one PNG into ``out`` and returns a
:class:`FigureInfo`, or returns None when the run holds nothing to draw.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

import numpy as np

import spinlock_spec.assignment_plot as plot
from spinlock_spec.assignment_plot import DPI, assignment_height, new_figure

from .model_stats import ModelStats
from .series import Series


@dataclass
class FigureInfo:
    file: str          # name of the PNG inside the report folder
    title: str
    caption: str


FIGURE_FILES = ("loss.png", "codebook_curves.png", "learnable.png", "codebook_grid.png", "assignment.png",
                "code_usage.png", "recon_per_category.png")


def _save(fig, out: Path, name: str) -> None:
    import io

    from spinlock_spec.atomic import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    atomic_write_bytes(out / name, buf.getvalue())


def _plot_lines(ax, epochs: Sequence[int], curves: dict[str, Sequence[float | None]], *,
                title: str, ylabel: str, log: bool = False) -> bool:
    drawn = False
    values = []
    for label, seq in curves.items():
        x = [e for e, v in zip(epochs, seq) if v is not None]
        y = [v for v in seq if v is not None]
        if not y:
            continue
        ax.plot(x, y, marker="o" if len(y) < 30 else None, markersize=3, label=label)
        values += y
        drawn = True
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if log and values and min(values) > 0:
        ax.set_yscale("log")
    if drawn:
        ax.legend(fontsize=8, loc="best")
        if epochs:
            lo, hi = min(epochs), max(epochs)
            ax.set_xlim(lo - 0.5, hi + 0.5) if lo == hi else None
    else:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes)
    return drawn


# --------------------------------------------------------------------------- curves
def loss_figure(series: Series, out: Path) -> FigureInfo | None:
    if not series.epochs:
        return None
    fig = new_figure(12, 4.5)
    a, b = fig.subplots(1, 2)
    _plot_lines(a, series.epochs, {"train": series.train_loss, "validation": series.val_loss},
                title="Loss (sum of weighted model terms)", ylabel="loss")
    _plot_lines(b, series.epochs, series.components, title="Weighted loss components (train)",
                ylabel="value", log=True)
    fig.tight_layout()
    _save(fig, out, "loss.png")
    return FigureInfo("loss.png", "Loss and components per epoch",
                      "Left: training and validation loss. Right: each weighted term "
                      "(recon, vq, ortho, info, topo) of the training loss, log scale.")


def codebook_curves_figure(series: Series, out: Path) -> FigureInfo | None:
    if not (series.utilization_per_level or series.perplexity_per_level):
        return None
    fig = new_figure(12, 4.5)
    a, b = fig.subplots(1, 2)
    _plot_lines(a, series.epochs, {f"level {l}": v for l, v in sorted(series.utilization_per_level.items())},
                title="Codebook utilization per level (validation)", ylabel="fraction of codes used")
    a.set_ylim(0, 1.05)
    _plot_lines(b, series.epochs, {f"level {l}": v for l, v in sorted(series.perplexity_per_level.items())},
                title="Codebook perplexity per level (mean over categories)", ylabel="perplexity")
    fig.tight_layout()
    _save(fig, out, "codebook_curves.png")
    return FigureInfo("codebook_curves.png", "Utilization and perplexity per level",
                      "Fraction of codebook entries used on the validation set and exp(entropy) of "
                      "the code frequencies, per hierarchy level.")


def learnable_figure(series: Series, out: Path) -> FigureInfo | None:
    if not series.has_learnable:
        return None
    fig = new_figure(12, 4.5)
    a, b = fig.subplots(1, 2)
    _plot_lines(a, series.epochs, {"temperature": series.temperature},
                title="Assignment temperature", ylabel="temperature")
    _plot_lines(b, series.epochs, series.assign, title="Assignment terms (weighted)", ylabel="value")
    fig.tight_layout()
    _save(fig, out, "learnable.png")
    return FigureInfo("learnable.png", "Temperature and assignment terms",
                      "The softmax temperature of the learnable assignment (annealed once per epoch) "
                      "and the weighted assign_orthogonality / assign_balance terms.")


def codebook_grid_figure(cats: list[str], grid: dict, epoch: int | None, out: Path) -> FigureInfo | None:
    util, ppl = grid.get("utilization"), grid.get("perplexity")
    if not cats or not util:
        return None
    fig = new_figure(12, max(3.5, 0.45 * len(cats) + 1.8))
    axes = fig.subplots(1, 2)
    for ax, values, title, cmap in ((axes[0], util, "utilization", "viridis"),
                                    (axes[1], ppl, "perplexity", "magma")):
        m = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
        im = ax.imshow(m, aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_yticks(range(len(cats)), labels=cats, fontsize=8)
        ax.set_xticks(range(m.shape[1]), labels=[f"L{l}" for l in range(m.shape[1])])
        ax.set_title(f"{title} per category and level")
        for (i, j), v in np.ndenumerate(m):
            if not math.isnan(v):
                r, g, b, _ = im.cmap(im.norm(v))
                ax.text(j, i, f"{v:.2f}" if title == "utilization" else f"{v:.1f}", ha="center",
                        va="center", fontsize=7,
                        color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    _save(fig, out, "codebook_grid.png")
    when = f"epoch {epoch}" if epoch is not None else "the last epoch"
    return FigureInfo("codebook_grid.png", "Codebooks per category and level",
                      f"Utilization and perplexity of every codebook at {when} (validation set).")


# --------------------------------------------------------------------------- model
def draw_assignment(fig, stats: ModelStats) -> None:
    """The sorted assignment heatmap of ``stats`` on ``fig``."""
    plot.draw_assignment(fig, stats.assignment, stats.feature_names, stats.category_names,
                         learnable=stats.learnable, temperature=stats.temperature)


def assignment_figure(stats: ModelStats | None, out: Path) -> FigureInfo | None:
    if stats is None or stats.assignment.size == 0:
        return None
    F, K = stats.assignment.shape
    fig = new_figure(max(7.0, 0.55 * K + 4.5), assignment_height(F))
    draw_assignment(fig, stats)
    _save(fig, out, "assignment.png")
    return FigureInfo("assignment.png", "Final assignment matrix",
                      f"{F} features x {K} categories from {stats.source}; rows sorted so that each "
                      "category's features form a block (red lines), most confident first.")


def usage_histograms_figure(stats: ModelStats | None, out: Path) -> FigureInfo | None:
    if stats is None or not stats.code_counts:
        return None
    K, L = len(stats.code_counts), len(stats.code_counts[0])
    fig = new_figure(max(8.0, 3.4 * L), max(3.0, 1.7 * K + 0.8))
    axes = np.atleast_2d(fig.subplots(K, L, squeeze=False))
    for k in range(K):
        for l in range(L):
            ax = axes[k, l]
            counts = np.sort(stats.code_counts[k][l])[::-1]
            used = int((counts > 0).sum())
            ax.bar(np.arange(len(counts)), counts, width=1.0, color="tab:blue")
            ax.set_title(f"{stats.category_names[k]} / L{l}: {used}/{len(counts)} used", fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_xlim(-0.5, len(counts) - 0.5)
    fig.supxlabel("code (sorted by frequency)", fontsize=9)
    fig.supylabel("count", fontsize=9)
    fig.tight_layout()
    _save(fig, out, "code_usage.png")
    return FigureInfo("code_usage.png", "Codebook usage histograms",
                      f"How often each code of every category/level codebook is used over "
                      f"{stats.data_rows} validation rows (codes sorted by frequency).")


def recon_figure(stats: ModelStats | None, out: Path) -> FigureInfo | None:
    if stats is None or not stats.category_recon_mse:
        return None
    values = [np.nan if v is None else v for v in stats.category_recon_mse]
    fig = new_figure(max(7.0, 0.7 * len(values) + 3), 4.5)
    ax = fig.add_subplot(1, 1, 1)
    bars = ax.bar(range(len(values)), values, color="tab:orange")
    for bar, v in zip(bars, values):
        if not math.isnan(v):
            ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(values)), labels=stats.category_names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("MSE (normalized scale)")
    ax.set_title("Reconstruction error per category (from token ids)")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, out, "recon_per_category.png")
    return FigureInfo("recon_per_category.png", "Reconstruction error per category",
                      "Mean squared error between each category's input feature columns and their "
                      f"reconstruction decoded from the token ids, over {stats.data_rows} validation rows.")
