"""Statistics of one tabular family: cleaning decisions, normalization, transforms and
the fate of every input column (see data/preprocess.py for how they are fitted)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colstats import column_blocks
from .transforms import ColumnTransforms

# fates of input columns (TabularStats.fate)
TOKENIZED, TWIN, CONSTANT, MISSING, UNSTABLE = 0, 1, 2, 3, 4
FATE_NAMES = {TOKENIZED: "tokenized", TWIN: "twin", CONSTANT: "constant", MISSING: "missing",
              UNSTABLE: "unstable"}


@dataclass
class TabularStats:
    n_input_columns: int
    kept: np.ndarray            # int64 indices into the input columns
    impute: np.ndarray          # training medians of the kept columns
    clip_low: np.ndarray        # -inf where no clipping
    clip_high: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    column_names: list[str]     # names of the kept columns
    true_groups: np.ndarray | None
    # -- column fates and the user scale (over the n_input_columns input columns) --
    input_names: list[str] | None = None
    fate: np.ndarray | None = None            # int8: TOKENIZED, TWIN, CONSTANT, MISSING
    twin: np.ndarray | None = None            # int64: input column a TWIN is rebuilt from, else -1
    twin_slope: np.ndarray | None = None      # TWIN: x = slope * x[twin] + intercept
    twin_intercept: np.ndarray | None = None  # CONSTANT: the training mean
    user_center: np.ndarray | None = None     # raw training mean / std of every input column
    user_scale: np.ndarray | None = None
    transforms: ColumnTransforms | None = None   # per kept column (data/transforms.py)

    kind = "tabular"

    def __post_init__(self):
        n_in, d = int(self.n_input_columns), len(self.kept)
        if self.input_names is None:
            names = [f"column_{j:03d}" for j in range(n_in)]
            for j, name in zip(self.kept, self.column_names):
                names[int(j)] = name
            self.input_names = names
        if self.fate is None:        # statistics written before fates existed
            self.fate = np.full(n_in, MISSING, np.int8)
            self.fate[self.kept] = TOKENIZED
        for attr, fill, dtype in (("twin", -1, np.int64), ("twin_slope", 0.0, np.float64),
                                  ("twin_intercept", np.nan, np.float64),
                                  ("user_center", np.nan, np.float64), ("user_scale", np.nan, np.float64)):
            if getattr(self, attr) is None:
                setattr(self, attr, np.full(n_in, fill, dtype))
        if self.transforms is None:
            self.transforms = ColumnTransforms.identity(d)
        if np.isnan(self.user_center[self.kept]).any():   # old files: the normalization's own scale
            self.user_center[self.kept] = np.where(np.isnan(self.user_center[self.kept]),
                                                   self.center, self.user_center[self.kept])
            self.user_scale[self.kept] = np.where(np.isnan(self.user_scale[self.kept]),
                                                  self.scale, self.user_scale[self.kept])

    def apply(self, arr: np.ndarray) -> np.ndarray:
        """Clean and normalize ``arr`` [N, n_input_columns] -> float32 [N, kept]; every
        column on its own, so blocks of columns are done in threads (data/colstats.py)."""
        arr = np.asarray(arr)

        def block(cols: slice) -> np.ndarray:
            x = np.asarray(arr[:, self.kept[cols]], np.float64)
            bad = ~np.isfinite(x)
            if bad.any():
                x = np.where(bad, self.impute[cols], x)
            x = np.clip(x, self.clip_low[cols], self.clip_high[cols])
            transforms = self.transforms.columns(cols)
            if transforms.active:
                x = transforms.forward(x)
            return ((x - self.center[cols]) / self.scale[cols]).astype(np.float32)

        return column_blocks(block, len(self.kept), arr.shape[0] * len(self.kept))

    def column_fates(self) -> list[dict]:
        """Where every input column went (one dict per input column, in file order)."""
        pos = {int(j): i for i, j in enumerate(self.kept)}
        kinds = {0: "none", 1: "yeo-johnson", 2: "quantile"}
        out = []
        for j in range(int(self.n_input_columns)):
            fate = int(self.fate[j])
            row = {"index": j, "name": self.input_names[j], "fate": FATE_NAMES[fate]}
            if fate == TOKENIZED:
                row["transform"] = kinds[int(self.transforms.kind[pos[j]])]
            elif fate == TWIN:
                t = int(self.twin[j])
                row.update(twin=self.input_names[t], twin_index=t, slope=float(self.twin_slope[j]),
                           intercept=float(self.twin_intercept[j]))
            elif fate in (CONSTANT, UNSTABLE):
                row["value"] = float(self.twin_intercept[j])
            out.append(row)
        return out



def saved_fates(d, family: str) -> dict:
    """The column-fate arrays of a saved family ({} for files written before them)."""
    if f"{family}_fate" not in d:
        return {}
    out = {"input_names": [str(s) for s in np.asarray(d[f"{family}_input_names"]).tolist()],
           "fate": np.asarray(d[f"{family}_fate"], np.int8),
           "twin": np.asarray(d[f"{family}_twin"], np.int64)}
    for key in ("twin_slope", "twin_intercept", "user_center", "user_scale"):
        out[key] = np.asarray(d[f"{family}_{key}"], np.float64)
    return out
