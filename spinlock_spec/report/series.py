"""Per-epoch series out of the run's epoch records (metrics.jsonl), torch-free.

Per-codebook metrics are flat keys ``<category>/level_<l>/<stat>`` in each
record's ``metrics``; :func:`codebook_grid` turns one record's into a
``{stat: [[value per level] per category]}`` grid.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Sequence

_LEVEL = re.compile(r"^level_(\d+)$")
CODEBOOK_STATS = ("utilization", "perplexity", "dead_codes")


@dataclass
class Series:
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    components: dict[str, list[float | None]] = field(default_factory=dict)      # weighted, train
    val_components: dict[str, list[float | None]] = field(default_factory=dict)
    utilization_per_level: dict[int, list[float | None]] = field(default_factory=dict)
    perplexity_per_level: dict[int, list[float | None]] = field(default_factory=dict)
    temperature: list[float | None] = field(default_factory=list)
    assign: dict[str, list[float | None]] = field(default_factory=dict)          # weighted assign_* terms
    learning_rate: list[float | None] = field(default_factory=list)

    @property
    def has_learnable(self) -> bool:
        return any(v is not None for v in self.temperature) or bool(self.assign)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_codebook_key(key: str) -> tuple[str, int, str] | None:
    """``"category_0/level_1/perplexity"`` -> ("category_0", 1, "perplexity"); None otherwise."""
    parts = key.rsplit("/", 2)
    if len(parts) != 3:
        return None
    m = _LEVEL.match(parts[1])
    if not m or parts[2] not in CODEBOOK_STATS:
        return None
    return parts[0], int(m.group(1)), parts[2]


def codebook_grid(metrics: dict[str, Any]) -> tuple[list[str], int, dict[str, list[list[float | None]]]]:
    """(category names in first-seen order, number of levels, stat -> [K][L] values)."""
    cats: list[str] = []
    levels = 0
    values: dict[tuple[str, int, str], float | None] = {}
    for key, value in metrics.items():
        parsed = parse_codebook_key(key)
        if parsed is None:
            continue
        cat, level, stat = parsed
        if cat not in cats:
            cats.append(cat)
        levels = max(levels, level + 1)
        values[(cat, level, stat)] = _num(value)
    grid = {stat: [[values.get((c, l, stat)) for l in range(levels)] for c in cats]
            for stat in CODEBOOK_STATS}
    return cats, levels, grid


def _append_keyed(target: dict, key, index: int, value) -> None:
    seq = target.setdefault(key, [None] * index)
    seq.extend([None] * (index - len(seq)))
    seq.append(value)


def _pad(target: dict, length: int) -> None:
    for seq in target.values():
        seq.extend([None] * (length - len(seq)))


def series_from_records(records: Sequence[dict[str, Any]]) -> Series:
    s = Series()
    for i, r in enumerate(records):
        s.epochs.append(int(r.get("epoch", i + 1)))
        s.train_loss.append(_num(r.get("train_loss")))
        s.val_loss.append(_num(r.get("val_loss")))
        s.learning_rate.append(_num(r.get("lr")))
        s.temperature.append(_num(r.get("temperature")))
        for name, value in (r.get("components") or {}).items():
            _append_keyed(s.components, name, i, _num(value))
        for name, value in (r.get("val_components") or {}).items():
            _append_keyed(s.val_components, name, i, _num(value))
        for name, value in (r.get("assign") or {}).items():
            _append_keyed(s.assign, name, i, _num(value))
        metrics = r.get("metrics") or {}
        for level, value in enumerate(metrics.get("utilization_per_level") or []):
            _append_keyed(s.utilization_per_level, level, i, _num(value))
        _, levels, grid = codebook_grid(metrics)
        for level in range(levels):
            vals = [row[level] for row in grid["perplexity"] if row[level] is not None]
            _append_keyed(s.perplexity_per_level, level, i, sum(vals) / len(vals) if vals else None)
            if not metrics.get("utilization_per_level"):
                used = [row[level] for row in grid["utilization"] if row[level] is not None]
                _append_keyed(s.utilization_per_level, level, i, sum(used) / len(used) if used else None)
        n = i + 1
        for target in (s.components, s.val_components, s.assign, s.utilization_per_level,
                       s.perplexity_per_level):
            _pad(target, n)
    if not s.has_learnable:
        s.temperature = []
    return s
