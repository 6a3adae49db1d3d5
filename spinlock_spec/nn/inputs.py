"""What the model takes and gives: family descriptions, forward outputs, level lists."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch

from .sizing import auto_levels


@dataclass
class FamilyInput:
    """One feature family as the model sees it (no raw spec)."""
    name: str
    encoder: str                                  # canonical registry name or alias
    encoder_params: dict = field(default_factory=dict)
    input_kind: str = "tabular"
    shape: tuple | None = None                    # per-sample shape of batch[name]
    fields_shape: tuple | None = None             # per-sample (C, H, W) of batch[name + "/fields"]
    column_names: list[str] | None = None         # names of the columns (identity / hybrid manual)

    def to_json(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        d["fields_shape"] = list(self.fields_shape) if self.fields_shape is not None else None
        d["encoder_params"] = copy.deepcopy(dict(self.encoder_params))
        return d

    @classmethod
    def from_json(cls, d: dict) -> FamilyInput:
        d = dict(d)
        for key in ("shape", "fields_shape"):
            if d.get(key) is not None:
                d[key] = tuple(int(s) for s in d[key])
        return cls(**d)


@dataclass
class ModelOutput:
    terms: dict                       # unweighted scalar loss terms
    codes: torch.Tensor               # [B, K, L] long
    reconstruction: dict              # family -> predicted target [B, target_dim]
    targets: dict                     # family -> target [B, target_dim]
    latents: torch.Tensor             # [B, K, D] pre-quantization
    quantized: torch.Tensor           # [B, K, D] straight-through quantized latents
    extras: dict = field(default_factory=dict)  # topo_pre, topo_post, recon_mse (floats as tensors)


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _parse_level(level) -> tuple[int, int]:
    if isinstance(level, dict):
        return int(level["num_tokens"]), int(level["latent_dim"])
    n, d = level
    return int(n), int(d)


def resolve_levels(levels, category_sizes: list[int]) -> list[list[tuple[int, int]]]:
    """Per-category [(num_tokens, latent_dim)] lists.  ``levels`` is None/[]
    (automatic, spinlock_spec.nn.sizing), one list used by every category, or
    one list per category.  All categories must have the same number of levels."""
    if not levels:
        per_cat = [auto_levels(max(n, 1)) for n in category_sizes]
    elif all(isinstance(lv, (list, tuple)) and lv and isinstance(lv[0], (list, tuple, dict)) for lv in levels):
        if len(levels) != len(category_sizes):
            raise ValueError(f"per-category levels given for {len(levels)} categories, "
                             f"model has {len(category_sizes)}")
        per_cat = [[_parse_level(x) for x in lv] for lv in levels]
    else:
        shared = [_parse_level(x) for x in levels]
        per_cat = [list(shared) for _ in category_sizes]
    counts = {len(lv) for lv in per_cat}
    if len(counts) != 1:
        raise ValueError(f"every category needs the same number of levels, got {sorted(counts)}")
    for lv in per_cat:
        for n, d in lv:
            if n < 1 or d < 1:
                raise ValueError(f"levels need num_tokens >= 1 and latent_dim >= 1, got {(n, d)}")
    return per_cat

