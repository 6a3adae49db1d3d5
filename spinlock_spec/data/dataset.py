"""The in-memory dataset exchanged by the data layer (numpy only).

``arrays`` follows the "Batches and arrays" contract of docs/architecture.md:
``NAME`` [N, D] or [N, T, D] float32, ``NAME/lengths`` [N] int64,
``NAME/fields`` [N, C, H, W] float32.  Every array has the N rows first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def family_of(key: str) -> str:
    """``"temporal/lengths"`` -> ``"temporal"``; ``"summary"`` -> ``"summary"``."""
    return key.split("/", 1)[0]


@dataclass
class Dataset:
    arrays: dict[str, np.ndarray]
    column_names: dict[str, list[str]] = field(default_factory=dict)
    true_groups: dict[str, np.ndarray] = field(default_factory=dict)
    n_samples: int = 0
    source: str = "<memory>"

    def __post_init__(self):
        for key, arr in self.arrays.items():
            if arr.shape[0] != self.n_samples:
                raise ValueError(f"array {key!r} has {arr.shape[0]} rows, dataset has {self.n_samples}")

    # -- views -----------------------------------------------------------------
    @property
    def families(self) -> list[str]:
        """Family names in the order of ``arrays`` (a fields-only family included)."""
        seen: dict[str, None] = {}
        for key in self.arrays:
            seen.setdefault(family_of(key), None)
        return list(seen)

    def lengths(self, family: str) -> np.ndarray | None:
        return self.arrays.get(f"{family}/lengths")

    def fields(self, family: str) -> np.ndarray | None:
        return self.arrays.get(f"{family}/fields")

    def shapes(self) -> dict[str, tuple]:
        """Per-sample shape of every array."""
        return {key: tuple(arr.shape[1:]) for key, arr in self.arrays.items()}

    # -- row selection ---------------------------------------------------------
    def subset(self, indices, source: str | None = None) -> Dataset:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        return Dataset(
            arrays={k: v[idx] for k, v in self.arrays.items()},
            column_names={k: list(v) for k, v in self.column_names.items()},
            true_groups={k: v.copy() for k, v in self.true_groups.items()},
            n_samples=int(idx.shape[0]),
            source=source or self.source,
        )

    def split_indices(self, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic (train, val) row indices, each sorted ascending."""
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        n = self.n_samples
        n_val = int(round(n * val_fraction))
        if val_fraction > 0 and n > 1:
            n_val = min(max(n_val, 1), n - 1)
        perm = np.random.default_rng(seed).permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def split(self, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        train_idx, val_idx = self.split_indices(val_fraction, seed)
        return (self.subset(train_idx, f"{self.source} [train]"),
                self.subset(val_idx, f"{self.source} [val]"))
