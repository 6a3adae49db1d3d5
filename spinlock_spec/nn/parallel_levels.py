"""Parallel levels (``model.level_structure: parallel``): the original's structure.

Each category's L levels are parallel heads of its embedding, not a coarse-to-fine
residual chain:

- every level has its own projection of the category embedding and its own latent
  width d_l: the category encoder's last layer writes the concatenation
  ``z = [z_0 | z_1 | ... | z_{L-1}]`` laid out in L slots of width D = max d_l
  (``dim_mask`` [K, L*D] zeroes the unused dims of each slot);
- every level has its own EMA codebook and quantizes its own slot independently
  (:class:`BatchedParallelVQ`; the EMA, data initialisation, dead-code re-seeding
  and DDP hooks are those of the residual quantizer, applied per slot);
- one decoder reads the concatenated codes;
- per-level partial decoders (:class:`PartialDecoders`) rebuild the whole input
  from one level's code: the informativeness loss (mean over levels).

Everything stays vectorised over categories; only the L levels are a Python loop.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .grouped import GroupedLinear, MembershipOutput
from .quantizer import BatchedResidualVQ


def parallel_layout(level_spec: list[list[tuple[int, int]]]) -> tuple[int, torch.Tensor]:
    """(slot width D, dim_mask [K, L*D]) for per-category [(num_tokens, latent_dim)] lists."""
    k, levels = len(level_spec), len(level_spec[0])
    slot = max(d for lv in level_spec for _, d in lv)
    dims = torch.tensor([[d for _, d in lv] for lv in level_spec])               # [K, L]
    mask = (torch.arange(slot)[None, None, :] < dims[..., None]).float()        # [K, L, D]
    return slot, mask.reshape(k, levels * slot)


class BatchedParallelVQ(BatchedResidualVQ):
    """L independent quantizers per category: level l quantizes slot l of z [B, K, L*D].

    Buffers keep the residual quantizer's shapes ([K, L, C, D] codebooks, so pruning,
    metrics and checkpoints read both alike); ``dim`` is the slot width D and
    ``dim_mask`` [K, L*D] the valid dims of the concatenated latent."""

    def _slot_mask(self) -> torch.Tensor:
        return self.dim_mask.view(self.num_categories, self.num_levels, self.dim)

    def combine(self, level_vectors: torch.Tensor) -> torch.Tensor:
        """[B, K, L, D] -> the concatenated quantized latent [B, K, L*D]."""
        b = level_vectors.shape[0]
        return level_vectors.reshape(b, self.num_categories, self.num_levels * self.dim)

    def _slots(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, K, L*D] -> [K, B, L, D]."""
        return z.reshape(z.shape[0], self.num_categories, self.num_levels, self.dim).transpose(0, 1)

    def lookup(self, codes: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """Concatenated code vectors of the first ``levels`` levels (later slots zero):
        codes [B, K, L] -> [B, K, L*D]."""
        n = self.num_levels if levels is None else int(levels)
        codes = codes.long().clamp(min=0)
        codes = torch.minimum(codes[..., :n], self.codebook_sizes[None, :, :n] - 1).transpose(0, 1)
        out = torch.zeros(self.num_categories, codes.shape[1], self.num_levels, self.dim,
                          device=self.codebook.device)
        for level in range(n):
            out[:, :, level] = self._gather(codes[..., level], level)
        return self.combine(out.transpose(0, 1))

    @torch.no_grad()
    def initialize(self, z: torch.Tensor) -> None:
        """Initialise every level's codebooks from its own slot of the batch z [B, K, L*D]."""
        slots = self._slots(z.detach().float() * self.dim_mask[None])
        for level in range(self.num_levels):
            cent, counts = self._kmeans(slots[:, :, level].contiguous(), level)
            self.codebook[:, level] = cent
            self.cluster_size[:, level] = counts.clamp(min=1.0) * self.code_mask[:, level]
            self.embed_sum[:, level] = cent * self.cluster_size[:, level, :, None]
        self.initialized.fill_(True)
        self._init_done = True

    def quantize(self, z: torch.Tensor):
        """No state change: (codes [B,K,L], level vectors [B,K,L,D], level inputs [B,K,L,D])."""
        slots = self._slots(z)                                              # [K, B, L, D]
        bias = self._code_bias()
        codes, vecs = [], []
        for level in range(self.num_levels):
            idx = self._nearest(slots[:, :, level], level, bias)
            codes.append(idx)
            vecs.append(self._gather(idx, level))
        return (torch.stack(codes, -1).transpose(0, 1), torch.stack(vecs, 2).transpose(0, 1),
                slots.transpose(0, 1))


class PartialDecoders(nn.Module):
    """One small decoder per level: level l's code [B, K, D] -> x_hat_l [B, F], mixed over
    categories by P like the shared decoder (grouped over K, one module per level)."""

    def __init__(self, num_features: int, groups: int, levels: int, slot: int, hidden: int):
        super().__init__()
        self.slot = slot
        self.inp = nn.ModuleList(GroupedLinear(groups, slot, hidden) for _ in range(levels))
        self.out = nn.ModuleList(MembershipOutput(num_features, groups, hidden) for _ in range(levels))

    def forward(self, z: torch.Tensor, level_vectors: torch.Tensor, membership: torch.Tensor,
                act=F.relu) -> list[torch.Tensor]:
        """z [B, K, L*D] latents and the levels' code vectors [B, K, L, D] -> one
        reconstruction [B, F] per level (straight-through to each level's own slot)."""
        b, k = z.shape[:2]
        zl = z.reshape(b, k, len(self.inp), self.slot)
        st = zl + (level_vectors - zl).detach()
        return [out(act(inp(st[:, :, level].transpose(0, 1))), membership)
                for level, (inp, out) in enumerate(zip(self.inp, self.out))]


def partial_slicers(model, k_only) -> dict:
    """Pruning: every partial decoder tensor is sliced along its category dim."""
    if getattr(model, "partial", None) is None:
        return {}
    return {f"partial.{part}.{level}.{w}": k_only for part in ("inp", "out")
            for level in range(len(model.partial.inp)) for w in ("weight", "bias")}
