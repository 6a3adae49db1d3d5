"""Batched residual vector quantizer for all categories at once.

Latents ``z`` [B, K, D] (K categories, D = the largest latent width; a
category with fewer latent dims has them zeroed by ``dim_mask``) are quantized
by L residual levels: level 0 quantizes z, level l quantizes the residual
``r_l = z - sum_{m<l} q_m`` left by the levels before it.  Codebooks are one
buffer [K, L, Cmax, D]; ``code_mask`` [K, L, Cmax] marks the valid codes of each
(category, level) (invalid codes are never selected).  Everything is
vectorised over K; only the L levels are a Python loop.

Training mode, per step:

1. first step only: codebooks initialised from data, level by level: random
   distinct residual rows of the batch refined by ``kmeans_iters`` Lloyd
   iterations (vectorised over K);
2. nearest-code assignment, straight-through estimator
   ``z + sg(q - z)`` for the output;
3. commitment loss ``beta * mean_l mean_{b,k} ||r_l - sg(q_l)||^2 / D_k``
   (a real beta on the encoder side; the codebooks learn only by EMA, so there
   is no codebook loss term), *averaged* over levels and categories;
4. per-step statistics (``counts`` [K, L, C], ``sums`` [K, L, C, D]) from
   :meth:`statistics`, passed through ``stats_hook`` when set (a distributed trainer
   all-reduces them there, so all ranks apply the same update), then
   :meth:`apply_statistics`: EMA of counts and sums with Laplace smoothing;
5. dead codes (EMA count below ``dead_code_fraction`` of the uniform share
   ``n / C``) re-seeded from the current residuals, drawn with probability
   proportional to their squared quantization error (new codes go where the
   codebook fits worst).  ``reset_dead_codes(t)`` additionally re-seeds codes
   chosen fewer than t times since its previous call (a trainer calls it every
   N epochs with ``training.dead_code_threshold``).

Everything inside runs in float32 with autocast disabled.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor        # [B, K, D] straight-through sum of all levels
    codes: torch.Tensor            # [B, K, L] long
    loss: torch.Tensor             # scalar: beta * averaged commitment
    level_quantized: torch.Tensor  # [B, K, L, D] per-level code vectors (no gradient)


class BatchedResidualVQ(nn.Module):
    def __init__(self, codebook_sizes: torch.Tensor, dim: int, dim_mask: torch.Tensor | None = None, *,
                 commitment_cost: float, decay: float, kmeans_iters: int, dead_code_fraction: float,
                 reset_interval: int, init_from_data: bool, eps: float = 1e-5):
        """The settings come from the typed model section (``ModelConfig``), which owns
        their defaults; there are none here."""
        super().__init__()
        sizes = torch.as_tensor(codebook_sizes, dtype=torch.long)
        if sizes.dim() != 2 or (sizes < 1).any():
            raise ValueError("codebook_sizes must be a [K, L] tensor of positive sizes")
        k, levels = sizes.shape
        cmax = int(sizes.max())
        self.num_categories, self.num_levels, self.max_codes, self.dim = k, levels, cmax, int(dim)
        self.commitment_cost = float(commitment_cost)
        self.decay = float(decay)
        self.eps = float(eps)
        self.kmeans_iters = int(kmeans_iters)
        self.dead_code_fraction = float(dead_code_fraction)
        self.reset_interval = int(reset_interval)
        self.init_from_data = bool(init_from_data)
        self.stats_hook: Callable[[dict], dict] | None = None
        # several processes (train/distributed.py): the data init sees the rows of all ranks, re-seeding
        # candidates come from rank 0, so every rank keeps identical codebooks
        self.gather_hook: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.broadcast_hook: Callable[[torch.Tensor], torch.Tensor] | None = None
        if dim_mask is None:
            dim_mask = torch.ones(k, dim)
        self.register_buffer("codebook_sizes", sizes.clone())
        self.register_buffer("code_mask", torch.arange(cmax)[None, None, :] < sizes[..., None])
        self.register_buffer("dim_mask", dim_mask.float().clone())
        self.register_buffer("codebook", torch.randn(k, levels, cmax, dim) * 0.1 * self._slot_mask()[:, :, None, :])
        self.register_buffer("cluster_size", torch.zeros(k, levels, cmax))
        self.register_buffer("embed_sum", torch.zeros(k, levels, cmax, dim))
        self.register_buffer("initialized", torch.tensor(False))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))
        # raw code counts since the last explicit reset_dead_codes(threshold) call
        self.register_buffer("usage_since_reset", torch.zeros(k, levels, cmax))
        self._last_residuals: torch.Tensor | None = None  # [B, K, L, D], detached
        self._last_errors: torch.Tensor | None = None     # [B, K, L]
        # host-side mirror of ``initialized`` (set by initialize() and load_state_dict): the
        # training forward reads the buffer (a device sync) only until it is True, so a
        # compiled step has no data-dependent branch and no sync
        self._init_done = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._init_done = bool(self.initialized)

    # ------------------------------------------------------------------ basics
    def _slot_mask(self) -> torch.Tensor:
        """[K, L, D]: the valid dims of every level's code vectors (residual levels share
        their category's latent dims; nn/parallel_levels.py gives each level its own)."""
        return self.dim_mask[:, None, :].expand(self.num_categories, self.num_levels, self.dim)

    def combine(self, level_vectors: torch.Tensor) -> torch.Tensor:
        """Per-level code vectors [B, K, L, D] -> the quantized latent [B, K, D]: their sum."""
        return level_vectors.sum(2)

    def _code_bias(self) -> torch.Tensor:
        """[K, L, C]: ||e||^2 of every code, +inf for invalid codes (never nearest)."""
        sq = (self.codebook * self.codebook).sum(-1)
        return sq.masked_fill(~self.code_mask, float("inf"))

    def _nearest(self, r: torch.Tensor, level: int, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Index [K, B] of the nearest valid code of ``level`` for residuals r [K, B, D]."""
        bias = self._code_bias() if bias is None else bias
        dist = torch.baddbmm(bias[:, level].unsqueeze(1), r, self.codebook[:, level].transpose(1, 2), alpha=-2.0)
        return dist.argmin(-1)

    def _gather(self, idx: torch.Tensor, level: int) -> torch.Tensor:
        """Code vectors [K, B, D] for indices [K, B] of ``level``."""
        k, c = self.num_categories, self.max_codes
        flat = self.codebook[:, level].reshape(k * c, self.dim)
        offsets = torch.arange(k, device=idx.device)[:, None] * c
        return flat[idx + offsets]

    def lookup(self, codes: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """Sum of the code vectors of the first ``levels`` levels: codes [B, K, L] -> [B, K, D]."""
        n = self.num_levels if levels is None else int(levels)
        codes = codes.long().clamp(min=0)
        sizes = self.codebook_sizes[None, :, :n]
        codes = torch.minimum(codes[..., :n], sizes - 1)
        codes = codes.transpose(0, 1)                                       # [K, B, n]
        out = torch.zeros(self.num_categories, codes.shape[1], self.dim, device=self.codebook.device)
        for level in range(n):
            out = out + self._gather(codes[..., level], level)
        return out.transpose(0, 1)

    # ------------------------------------------------------------------ init
    @torch.no_grad()
    def _kmeans(self, x: torch.Tensor, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x [K, B, D] -> (centroids [K, C, D], counts [K, C]) for the valid codes of ``level``."""
        k, b, _ = x.shape
        c = self.max_codes
        order = torch.rand(k, b, device=x.device).argsort(1)
        pick = order[:, torch.arange(c, device=x.device) % b]              # distinct rows when b >= c
        cent = torch.gather(x, 1, pick[..., None].expand(k, c, self.dim)).clone()
        if b < c:  # not enough rows: jitter the repeated ones
            cent += 1e-3 * torch.randn_like(cent) * self._slot_mask()[:, level, None, :]
        valid = self.code_mask[:, level]                                    # [K, C]
        counts = torch.zeros(k, c, device=x.device)
        for _ in range(max(self.kmeans_iters, 1)):
            dist = (cent * cent).sum(-1)[:, None, :] - 2.0 * torch.einsum("kbd,kcd->kbc", x, cent)
            idx = dist.masked_fill(~valid[:, None, :], float("inf")).argmin(-1)  # [K, B]
            onehot = F.one_hot(idx, c).float()
            counts = onehot.sum(1)
            sums = torch.einsum("kbc,kbd->kcd", onehot, x)
            cent = torch.where(counts[..., None] > 0, sums / counts.clamp(min=1.0)[..., None], cent)
        cent = cent * valid[..., None] * self._slot_mask()[:, level, None, :]
        return cent, counts * valid

    @torch.no_grad()
    def initialize(self, z: torch.Tensor) -> None:
        """Initialise every level's codebooks from the residuals of the batch z [B, K, D]."""
        r = (z.detach().float() * self.dim_mask[None]).transpose(0, 1).contiguous()   # [K, B, D]
        for level in range(self.num_levels):
            cent, counts = self._kmeans(r, level)
            self.codebook[:, level] = cent
            self.cluster_size[:, level] = counts.clamp(min=1.0) * self.code_mask[:, level]
            self.embed_sum[:, level] = cent * self.cluster_size[:, level, :, None]
            r = r - self._gather(self._nearest(r, level), level)
        self.initialized.fill_(True)
        self._init_done = True

    # ------------------------------------------------------------------ forward
    def quantize(self, z: torch.Tensor):
        """No state change: (codes [B,K,L], level vectors [B,K,L,D], residuals [B,K,L,D])
        for latents z [B, K, D] (the last two are permuted views)."""
        r = z.transpose(0, 1)                                               # [K, B, D]
        bias = self._code_bias()
        codes, vecs, residuals = [], [], []
        for level in range(self.num_levels):
            idx = self._nearest(r, level, bias)
            q = self._gather(idx, level)
            codes.append(idx)
            vecs.append(q)
            residuals.append(r)
            r = r - q
        return (torch.stack(codes, -1).transpose(0, 1), torch.stack(vecs, 2).transpose(0, 1),
                torch.stack(residuals, 2).transpose(0, 1))

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        in_dtype = z.dtype
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float() * self.dim_mask[None]
            if self.training and self.init_from_data and not self._init_done:
                self._init_done = bool(self.initialized)       # one sync, until initialised
                if not self._init_done:
                    self.initialize(z if self.gather_hook is None else self.gather_hook(z.detach()))
            codes, vecs, residuals = self.quantize(z)
            # commitment: beta * ||r_l - sg(q_l)||^2 per valid latent dim, averaged over b, k, l
            dims = self._slot_mask().sum(-1).clamp(min=1.0)                 # [K, L]
            err = ((residuals - vecs.detach()) ** 2).sum(-1) / dims[None]   # [B, K, L]
            loss = self.commitment_cost * err.mean()
            total = self.combine(vecs)
            quantized = z + (total - z).detach()
            if self.training:
                with torch.no_grad():
                    self._last_residuals = residuals.detach()
                    self._last_errors = err.detach()
                    stats = self.statistics(codes, residuals.detach())
                    reseed = self.dead_code_fraction > 0 and self.reset_interval > 0
                    if reseed:        # drawn before the update (it does not depend on it)
                        stats["candidates"] = self._candidates()
                    if self.stats_hook is not None:
                        # several processes: one all-reduce carries the statistics and rank 0's
                        # re-seeding candidates (train/distributed.py)
                        stats = self.stats_hook(stats)
                    self.apply_statistics(stats)
                    self.steps += 1
                    if reseed:
                        dead = self.dead_codes()
                        if self.reset_interval > 1:   # on the device: no host copy of the step count
                            dead = dead & (self.steps % self.reset_interval == 0)
                        # no host sync, no data-dependent branch
                        self._reseed(dead, stats["candidates"])
        return QuantizerOutput(quantized.to(in_dtype), codes, loss, vecs.detach())

    # ------------------------------------------------------------------ EMA
    @torch.no_grad()
    def statistics(self, codes: torch.Tensor, residuals: torch.Tensor) -> dict:
        """Per-step EMA inputs, before they are applied: ``counts`` [K, L, C] (codes
        chosen per (category, level)) and ``sums`` [K, L, C, D] (sums of the residuals
        assigned to each code).  All-reduce both (SUM) across ranks under torch.distributed."""
        k, levels, c = self.num_categories, self.num_levels, self.max_codes
        base = (torch.arange(k * levels, device=codes.device) * c).reshape(1, k, levels)
        flat = (codes + base).reshape(-1)                                   # [B*K*L] slot ids
        # index_add_ rather than bincount: a fixed output shape (torch.compile keeps one graph)
        counts = torch.zeros(k * levels * c, device=codes.device)
        counts.index_add_(0, flat, torch.ones(flat.shape[0], device=codes.device))
        sums = torch.zeros(k * levels * c, self.dim, device=codes.device)
        sums.index_add_(0, flat, residuals.float().reshape(-1, self.dim))
        return {"counts": counts.reshape(k, levels, c), "sums": sums.reshape(k, levels, c, self.dim)}

    @torch.no_grad()
    def apply_statistics(self, stats: dict) -> None:
        """EMA update of cluster sizes and sums, Laplace smoothing, new codebooks."""
        d = self.decay
        valid = self.code_mask.float()
        self.usage_since_reset.add_(stats["counts"] * valid)
        self.cluster_size.mul_(d).add_(stats["counts"] * valid, alpha=1 - d)
        self.embed_sum.mul_(d).add_(stats["sums"] * valid[..., None], alpha=1 - d)
        n = self.cluster_size.sum(-1, keepdim=True)
        c = self.codebook_sizes[..., None].float()
        smoothed = (self.cluster_size + self.eps) / (n + c * self.eps) * n
        book = self.embed_sum / smoothed.clamp(min=1e-12)[..., None]
        self.codebook.copy_(book * valid[..., None] * self._slot_mask()[:, :, None, :])

    @torch.no_grad()
    def dead_codes(self, threshold: float | None = None) -> torch.Tensor:
        """Bool [K, L, C] of dead valid codes.  ``threshold=None``: EMA count below
        ``dead_code_fraction`` x the uniform share n / C (the automatic rule).
        ``threshold=t``: chosen fewer than t times since the last
        ``reset_dead_codes(t)`` call (the trainer's per-epoch rule)."""
        if threshold is None:
            share = self.cluster_size.sum(-1, keepdim=True) / self.codebook_sizes[..., None].float()
            return self.code_mask & (self.cluster_size < self.dead_code_fraction * share)
        return self.code_mask & (self.usage_since_reset < float(threshold))

    @torch.no_grad()
    def reset_dead_codes(self, threshold: float | None = None) -> int:
        """Re-seed dead codes (see :meth:`dead_codes`) from the residuals of the last
        training batch; with a threshold, the usage counts restart from zero.
        Returns how many codes were re-seeded (0 before any training step)."""
        if self._last_residuals is None:
            return 0
        dead = self.dead_codes(threshold)
        count = int(dead.sum())
        if count:
            self._reseed(dead)
        if threshold is not None:
            self.usage_since_reset.zero_()
        return count

    @torch.no_grad()
    def _candidates(self) -> torch.Tensor:
        """[K, L, C, D] re-seeding candidates: residuals of the last training batch drawn
        with probability proportional to their squared quantization error."""
        res = self._last_residuals                                          # [B, K, L, D]
        b = res.shape[0]
        k, levels, c = self.num_categories, self.num_levels, self.max_codes
        errors = torch.nan_to_num(self._last_errors, nan=0.0, posinf=0.0, neginf=0.0)   # a diverged step:
        weights = errors.permute(1, 2, 0).reshape(k * levels, b).clamp_min(0) + 1e-12    # the trainer stops it
        rows = torch.multinomial(weights, c, replacement=True).reshape(k, levels, c)
        flat = res.permute(1, 2, 0, 3).reshape(k * levels * b, self.dim)
        base = (torch.arange(k * levels, device=res.device) * b).reshape(k, levels, 1)
        return flat[rows + base]

    @torch.no_grad()
    def _reseed(self, dead: torch.Tensor, cand: torch.Tensor | None = None) -> None:
        """Dead codes [K, L, C] take their candidate (already the same on every rank when
        given; else drawn here and broadcast from rank 0)."""
        if cand is None:
            cand = self._candidates()
            if self.broadcast_hook is not None:
                cand = self.broadcast_hook(cand)
        share = self.cluster_size.sum(-1, keepdim=True) / self.codebook_sizes[..., None].float()
        fresh = (2.0 * self.dead_code_fraction * share).clamp(min=1e-3)    # restart just above the limit
        new_size = torch.where(dead, fresh.expand_as(dead), self.cluster_size)
        self.codebook.copy_(torch.where(dead[..., None], cand, self.codebook))
        self.cluster_size.copy_(new_size)
        self.embed_sum.copy_(torch.where(dead[..., None], cand * new_size[..., None], self.embed_sum))
