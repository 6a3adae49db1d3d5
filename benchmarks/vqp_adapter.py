"""Measurement-only adapter: swap the model's quantizer for vector-quantize-pytorch's
GroupedResidualVQ (one ResidualVQ per category, EMA, k-means init, dead-code
expiry) so benchmarks/nn_probe.py can compare both on workload A.  Not used by
the package; vector-quantize-pytorch is not a dependency (docs/decisions.md)."""
from __future__ import annotations

import torch
from torch import nn

from spinlock_spec.nn.quantizer import QuantizerOutput


class VQPQuantizer(nn.Module):
    def __init__(self, base):
        super().__init__()
        from vector_quantize_pytorch import GroupedResidualVQ

        sizes = base.codebook_sizes
        if not bool((sizes == sizes[:1]).all()):
            raise ValueError("GroupedResidualVQ needs the same codebook sizes for every category")
        k, levels = sizes.shape
        self.k, self.levels, self.dim = k, levels, base.dim
        self.register_buffer("codebook_sizes", sizes.clone())
        self.register_buffer("dim_mask", base.dim_mask.clone())
        self.rvq = GroupedResidualVQ(dim=k * base.dim, groups=k, num_quantizers=levels, codebook_size=tuple(int(c) for c in sizes[0]),
                                     
                                     decay=base.decay, commitment_weight=base.commitment_cost, kmeans_init=True,
                                     kmeans_iters=10, threshold_ema_dead_code=2)

    def forward(self, z):
        b = z.shape[0]
        q, idx, commit, all_codes = self.rvq(z.reshape(b, 1, self.k * self.dim), return_all_codes=True)
        codes = idx[:, :, 0, :].permute(1, 0, 2)                  # [K, B, 1, L] -> [B, K, L]
        level_q = torch.stack(tuple(all_codes))[:, :, :, 0].permute(2, 0, 1, 3)  # [K, L, B, 1, D] -> [B, K, L, D]
        return QuantizerOutput(q.reshape(b, self.k, self.dim), codes, commit.mean(), level_q.detach())

    @torch.no_grad()
    def quantize(self, z):
        was = self.training
        self.eval()
        out = self.forward(z)
        self.train(was)
        return out.codes, out.level_quantized, None

    @torch.no_grad()
    def lookup(self, codes, levels=None):
        n = self.levels if levels is None else levels
        all_codes = self.rvq.get_codes_from_indices(codes.permute(1, 0, 2)[:, :, None, :])   # [K, L, B, 1, D]
        return all_codes[:, :n, :, 0].sum(1).permute(1, 0, 2)


def use_vector_quantize_pytorch(model) -> None:
    model.quantizer = VQPQuantizer(model.quantizer).to(model.quantizer.codebook.device)
