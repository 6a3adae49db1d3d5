"""Gradient averaging across processes through one flat buffer (replaces DDP).

Every trainable parameter's ``.grad`` is a view into one contiguous buffer per
(device, dtype), so averaging the gradients of a step is one ``all_reduce`` of that
buffer and one scale, with no autograd hooks and no bucketing.  The model here has
~150k parameters: the buffer is ~0.6 MB, and one collective per step costs less than
DDP's bookkeeping.  Being plain tensor operations on fixed buffers, the zeroing, the
all-reduce (NCCL) and the scale can be captured in a CUDA graph together with the rest
of the training step (train/cuda_graph_step.py).

Rules of use: gradients are cleared with :meth:`FlatGradients.zero` (never
``zero_grad(set_to_none=True)``, which would detach ``.grad`` from the buffer; if that
happens anyway, :meth:`bind` puts the views back), and backward then accumulates
into the views.  A parameter that gets no gradient in a step has a zero gradient (DDP
requires every parameter to take part anyway).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class FlatGradients:
    """Flat gradient buffers for ``params`` (one per device and dtype)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], world_size: int = 1):
        self.params = [p for p in params if p.requires_grad]
        self.world_size = int(world_size)
        groups: dict[tuple[torch.device, torch.dtype], list[torch.nn.Parameter]] = {}
        for p in self.params:
            groups.setdefault((p.device, p.dtype), []).append(p)
        self.buffers: list[torch.Tensor] = []
        self._views: list[tuple[torch.nn.Parameter, torch.Tensor]] = []
        for (device, dtype), ps in groups.items():
            flat = torch.zeros(sum(p.numel() for p in ps), device=device, dtype=dtype)
            offset = 0
            for p in ps:
                self._views.append((p, flat[offset:offset + p.numel()].view_as(p)))
                offset += p.numel()
            self.buffers.append(flat)
        self.bind()

    @property
    def numel(self) -> int:
        return sum(int(b.numel()) for b in self.buffers)

    def bind(self) -> None:
        """(Re)attach every parameter's ``.grad`` to its view of the flat buffer."""
        for p, view in self._views:
            if p.grad is not view:
                p.grad = view

    def zero(self) -> None:
        self.bind()
        for flat in self.buffers:
            flat.zero_()

    def average(self) -> None:
        """Sum the buffers over all processes and divide by their number (a no-op alone)."""
        if self.world_size <= 1:
            return
        import torch.distributed as dist

        for flat in self.buffers:
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.mul_(1.0 / self.world_size)


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Rank 0's parameters and floating-point buffers to every rank (what DDP does at
    construction; the ranks are seeded alike, so this only guards against drift)."""
    import torch.distributed as dist

    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                dist.broadcast(t.data, src=0)
