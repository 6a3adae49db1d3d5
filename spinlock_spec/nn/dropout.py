"""Dropout with a cheaper mask on CPU.

``nn.Dropout`` on CPU draws one Bernoulli sample per element, which on the workload-A
step (8 categories x 512 rows x 64 hidden units) took ~3.7 ms of a ~17 ms step on a
2-core CPU (torch.profiler, benchmarks/RESULTS.md).  Here the mask is made from 16-bit
slices of random 64-bit integers (four mask entries per generator call): an entry is
dropped when its 16-bit value falls below ``round(p * 65536)``, so the drop probability is
``p`` rounded to a multiple of 1/65536 and the kept entries are scaled by
1 / (1 - that probability), keeping the expectation exact.  On other devices (CUDA) the
fused ``F.dropout`` kernel is used unchanged.  Identity in eval mode or for p = 0.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

_LEVELS = 65536


def cpu_keep_mask(shape: torch.Size, p: float, generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, float]:
    """(bool keep mask of ``shape``, 1 / keep probability) for drop probability ``p``
    (random numbers from ``generator``, default the global one)."""
    n = math.prod(int(s) for s in shape)
    cut = int(round(p * _LEVELS))
    words = torch.randint(torch.iinfo(torch.int64).min, torch.iinfo(torch.int64).max, ((n + 3) // 4,),
                          dtype=torch.int64, generator=generator)
    values = words.view(torch.int16)[:n].view(shape)                # uniform on [-32768, 32767]
    return values >= cut - _LEVELS // 2, _LEVELS / max(_LEVELS - cut, 1)


class Dropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        keep, scale = cpu_keep_mask(x.shape, self.p)
        return x * keep.to(x.dtype) * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
