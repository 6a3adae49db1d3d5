"""Loss terms of the categorical model (all unweighted scalars; the trainer
weights them).  Definitions are documented in docs/model.md."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def category_decorrelation(z: torch.Tensor, dim_mask: torch.Tensor) -> torch.Tensor:
    """``ortho``: mean squared cross-correlation between the latent dims of
    *different* categories over the batch.

    z [B, K, D] latents, dim_mask [K, D] valid dims.  Each (k, d) column is
    standardised over the batch; C = Zᵀ Z / B is the [K·D, K·D] correlation
    matrix; the penalty is the mean of C² over pairs of valid dims that belong
    to different categories.  0 when categories are linearly decorrelated, 1
    when they carry identical (up to sign/scale) signals.  Differentiable in z.
    """
    b, k, d = z.shape
    if k < 2 or b < 2:
        return z.new_zeros(())
    zc = z - z.mean(0, keepdim=True)
    zc = zc / (zc.pow(2).mean(0, keepdim=True) + 1e-10).sqrt()
    flat = (zc * dim_mask[None]).reshape(b, k * d)
    corr = flat.t() @ flat / b
    cat = torch.arange(k, device=z.device).repeat_interleave(d)
    valid = dim_mask.reshape(-1)
    pair = (cat[:, None] != cat[None, :]).float() * valid[:, None] * valid[None, :]
    return (corr.pow(2) * pair).sum() / pair.sum().clamp(min=1.0)


def _pairwise(x: torch.Tensor) -> torch.Tensor:
    """[n, n] Euclidean distances via one matmul (diagonal kept away from sqrt(0))."""
    sq = (x * x).sum(-1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.t())
    return d2.clamp(min=1e-8).sqrt()


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a - a.mean()
    b = b - b.mean()
    return (a * b).sum() / ((a.pow(2).sum() * b.pow(2).sum() + 1e-16).sqrt())


def topographic(inputs: torch.Tensor, latents: torch.Tensor, codes: torch.Tensor,
                max_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``topo = 0.3 (1 - pre) + 0.7 (1 - post)`` on the first ``max_samples`` rows.

    pre  = Pearson r between pairwise distances of the inputs (the fixed
           reconstruction targets, concatenated) and of the latents z;
    post = Pearson r between pairwise distances of the latents and of the
           quantized code vectors.
    The full n x n distance matrices are correlated (each pair twice, plus the
    n near-zero diagonal entries: a bias of order 1/n, cheaper than indexing).
    Returns (topo, pre, post); gradients flow through the latents."""
    n = min(int(max_samples), inputs.shape[0])
    if n < 3:
        zero = latents.new_zeros(())
        return zero, zero + 1.0, zero + 1.0
    dx = _pairwise(inputs[:n].detach().float())
    dz = _pairwise(latents[:n].flatten(1).float())
    dq = _pairwise(codes[:n].flatten(1).float().detach())
    pre = pearson(dx.reshape(-1), dz.reshape(-1))
    post = pearson(dz.reshape(-1), dq.reshape(-1))
    return 0.3 * (1.0 - pre) + 0.7 * (1.0 - post), pre, post


def assignment_orthogonality(probs: torch.Tensor) -> torch.Tensor:
    """mean_f (1 - sum_c P[f,c]^2): the expected overlap of a feature between
    categories (= sum_{c != c'} P[f,c] P[f,c'] for rows summing to 1).  0 iff
    every row is one-hot; at most 1 - 1/K (uniform rows)."""
    return (1.0 - probs.pow(2).sum(-1)).mean()


def assignment_balance(probs: torch.Tensor) -> torch.Tensor:
    """K * sum_c (m_c / F - 1/K)^2 with masses m_c = sum_f P[f,c]: 0 when all
    categories hold the same mass, K - 1 when everything sits in one category."""
    f, k = probs.shape
    share = probs.sum(0) / f
    return k * (share - 1.0 / k).pow(2).sum()


def column_range(t: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """t[..., a:b], or t itself for the full range (a slice costs a zero-filled gradient)."""
    return t if a == 0 and b == t.shape[-1] else t[..., a:b]


def target_mse(pred: dict, target: dict) -> torch.Tensor:
    """Mean squared error over every column of every family's target."""
    p = torch.cat([pred[k] for k in target], dim=1)
    t = torch.cat([target[k] for k in target], dim=1)
    return F.mse_loss(p.float(), t.float())
