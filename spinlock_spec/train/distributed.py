"""Multi-process training on torch.distributed (data parallel, one flat gradient all-reduce).

A process learns its place from the variables torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``);
``spinlock-spec train --nproc N`` (cli/launcher.py) sets the same ones.
With ``WORLD_SIZE`` > 1 :func:`setup` joins the process group: gloo on CPU,
nccl on CUDA (one GPU per process, ``cuda:LOCAL_RANK``).

What keeps the ranks identical (checked every epoch by :func:`divergence`):

* ``training.batch_size`` is the GLOBAL batch: every rank walks the same
  permutation and takes its contiguous slice of each global batch
  (:meth:`DistContext.local_slice`), so the concatenated rank batches are
  the one-process batch;
* gradients (model and assignment logits) are averaged by one all-reduce of a flat
  buffer per step (train/flat_allreduce.py; no DDP hooks, so the step can be one
  CUDA graph); rank 0's parameters are broadcast once at the start;
* the quantizer's EMA statistics (counts and sums) are all-reduced (SUM)
  every step before they are applied (``quantizer.stats_hook``), in the same
  call as rank 0's dead-code re-seeding candidates (the other ranks add zeros);
* codebook initialisation sees the all-gathered first batch
  (``quantizer.gather_hook``; the global RNG is seeded identically on every
  rank, so the k-means draws are the same);
* the explicit per-epoch dead-code reset draws its candidates on rank 0 and
  broadcasts them (``quantizer.broadcast_hook``); the dead masks are already
  identical since they come from all-reduced counts;
* validation is sharded: each rank evaluates every world_size-th batch and the
  loss sums and code counts are all-reduced.

Only rank 0 writes the run folder and logs.
"""
from __future__ import annotations

import os

import torch

from .world import DistContext, env_world_size  # noqa: F401 - re-exported


_CONTEXT = DistContext()
_TRAINING_STARTED = False      # set by a distributed trainer: errors after this point may be rank-local


def mark_training_started() -> None:
    global _TRAINING_STARTED
    _TRAINING_STARTED = True


def context() -> DistContext:
    """The context of this process (world size 1 until :func:`setup` joined a group)."""
    return _CONTEXT


def setup(device: str | None) -> DistContext:
    """Join the process group the environment describes (no-op for one process).

    ``device``: the spec's training.device (auto/cpu/cuda); returns the context."""
    global _CONTEXT
    world = env_world_size()
    if world <= 1:
        _CONTEXT = DistContext()
        return _CONTEXT
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    use_cuda = device == "cuda" or (device in (None, "auto") and torch.cuda.is_available())
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    _CONTEXT = DistContext(rank, world, local, backend)
    return _CONTEXT


def device_for(ctx: DistContext, device: str | None) -> str | None:
    """The per-process device: ``cuda:LOCAL_RANK`` under nccl."""
    if ctx.enabled and ctx.backend == "nccl":
        return f"cuda:{ctx.local_rank}"
    if ctx.enabled and device in (None, "auto"):
        return "cpu"
    return device


def teardown() -> None:
    global _CONTEXT
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _CONTEXT = DistContext()


# --------------------------------------------------------------------------- quantizer sync
def _all_reduce_stats(stats: dict) -> dict:
    """One all-reduce (SUM) for a step's quantizer statistics; ``candidates`` (re-seeding
    rows) count from rank 0 only, so the sum is rank 0's: a broadcast in the same call."""
    import torch.distributed as dist

    keys = sorted(stats)
    if "candidates" in stats and dist.get_rank() != 0:
        stats = dict(stats, candidates=torch.zeros_like(stats["candidates"]))
    flat = torch.cat([stats[k].float().reshape(-1) for k in keys])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    out, offset = {}, 0
    for k in keys:
        n = stats[k].numel()
        out[k] = flat[offset:offset + n].view_as(stats[k]).to(stats[k].dtype)
        offset += n
    return out


def _all_gather_rows(z: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, z.contiguous())
    return torch.cat(parts, 0)


def _broadcast_from_main(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    t = t.contiguous()
    dist.broadcast(t, src=0)
    return t


def attach_quantizer_sync(model: torch.nn.Module) -> int:
    """Set the sync hooks on every quantizer of ``model``; returns how many."""
    n = 0
    for module in model.modules():
        if hasattr(module, "stats_hook") and hasattr(module, "codebook"):
            module.stats_hook = _all_reduce_stats
            module.gather_hook = _all_gather_rows
            module.broadcast_hook = _broadcast_from_main
            n += 1
    return n


# --------------------------------------------------------------------------- checks
def state_fingerprint(model: torch.nn.Module) -> torch.Tensor:
    """[3 * T] float64: sum, sum of squares and a fixed weighted sum of every tensor of the
    state dict (parameters and persistent buffers: codebooks, EMA statistics, assignment
    logits).  Non-persistent buffers are left out: they hold per-rank running statistics
    (the learnable model's probe errors) or per-epoch settings, not the trained state."""
    vals = []
    for _, t in sorted(model.state_dict().items()):
        x = t.detach().double().reshape(-1)
        w = torch.cos(torch.arange(x.numel(), device=x.device, dtype=torch.float64) * 0.7)
        vals.append(torch.stack([x.sum(), (x * x).sum(), (x * w).sum()]))
    return torch.cat(vals) if vals else torch.zeros(1, dtype=torch.float64)


def divergence(model: torch.nn.Module) -> float:
    """Largest difference between any rank's fingerprint and rank 0's (0.0 = in sync)."""
    import torch.distributed as dist

    fp = state_fingerprint(model)
    parts = [torch.empty_like(fp) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, fp)
    return float(max((p - parts[0]).abs().max() for p in parts))


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_flag(flag: bool, device) -> bool:
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def is_peer_failure(exc: BaseException) -> bool:
    """An error raised in a collective because another rank died (gloo/nccl): the
    rank that failed first reports the real message, this one stays quiet."""
    import torch.distributed as dist

    kinds = tuple(k for k in (getattr(dist, "DistError", None), getattr(dist, "DistBackendError", None),
                              getattr(dist, "DistNetworkError", None)) if k is not None)
    if kinds and isinstance(exc, kinds):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(s in text for s in (
        "Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL", "gloo",
        "Socket Timeout", "Timed out"))


def silent_exit_code(exc: BaseException) -> int | None:
    """Under several processes: the exit code for an error this rank should NOT print
    (None: print it as usual).  The message of a failure is shown once:

    * an error in a collective because another rank died: the other rank reports it;
    * a user error before training started (spec, data, build): every rank raises the
      same one, rank 0 reports it.  Errors during training are reported by the rank
      that raised them."""
    from spinlock_spec.errors import UserError

    if env_world_size() <= 1:
        return None
    rank = int(os.environ.get("RANK", "0"))
    if is_peer_failure(exc):
        return 1
    if isinstance(exc, UserError) and rank != 0 and not _TRAINING_STARTED:
        return int(getattr(exc, "exit_code", 2))
    return None
