"""Where training runs: the device, torch.compile's mode, data placed on the device, and the
per-epoch seed that makes a run (and a resumed run) reproducible."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed for everything random in epoch ``epoch`` (1-based) of a run seeded ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 17) % (2 ** 63 - 1)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def compile_mode(setting: str, distributed: bool) -> str:
    """``training.compile_mode`` resolved: ``auto`` is reduce-overhead (CUDA graphs: the
    step of this model is bound by kernel launches, see benchmarks/RESULTS.md) in one
    process, and inductor's default under torch.distributed (the gradient all-reduce
    runs between the compiled pieces of the step)."""
    if setting == "auto":
        return "default" if distributed else "reduce-overhead"
    return setting


def compiled_forward(model: torch.nn.Module, cfg: Any, distributed: bool):
    """The model's forward under torch.compile when ``training.use_torch_compile`` (CUDA), else
    the model itself.  dynamic=False: the short last batch gets its own static graph (dynamic
    shapes hit an inductor CantSplit error on min(topo_samples, B) with torch 2.11).  A frame
    dynamo cannot trace runs eagerly (its message goes to the debug log) instead of ending
    the run: torch 2.11 met a RecursionError inside dynamo on the learnable model's step."""
    if not cfg.use_torch_compile:
        return model
    import torch._dynamo
    torch._dynamo.config.suppress_errors = True
    mode = compile_mode(cfg.compile_mode, distributed)
    return torch.compile(model, mode=None if mode == "default" else mode, dynamic=False)


def to_device_arrays(arrays: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """``arrays`` (numpy or torch, one row count) as tensors on ``device``."""
    out = {}
    for key, value in arrays.items():
        t = torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
        out[key] = t.to(device)
    if not out:
        raise ValueError("no arrays given")
    sizes = {int(v.shape[0]) for v in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"arrays have different numbers of rows: {sorted(sizes)}")
    return out
