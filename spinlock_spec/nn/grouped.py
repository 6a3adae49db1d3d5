"""Per-category networks computed for all K categories at once.

Category membership is a matrix P [F, K] (features x categories).  The input
layer of every category sees the features weighted by its column of P, and the
output layer mixes the K per-category reconstructions back with P:

    h[b, k, :] = sum_f x[b, f] P[f, k] W_in[k, f, :]          (one matmul)
    x_hat[b, f] = sum_k P[f, k] (out[b, k, :] . W_out[k, :, f] + b_out[k, f])

For a one-hot P this is exactly "category k encodes and decodes its own
features"; for a soft P the gradient of the reconstruction reaches P.  The
layers in between are grouped linears (batched matmul over K).  No Python loop
over categories anywhere.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def _uniform_(t: torch.Tensor, fan_in: float) -> torch.Tensor:
    bound = 1.0 / math.sqrt(max(fan_in, 1.0))
    return nn.init.uniform_(t, -bound, bound)


class GroupedLinear(nn.Module):
    """x [K, B, in] -> [K, B, out] with weights [K, in, out]."""

    def __init__(self, groups: int, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(groups, in_dim, out_dim), in_dim))
        self.bias = nn.Parameter(_uniform_(torch.empty(groups, 1, out_dim), in_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class GroupedLayerNorm(nn.Module):
    """LayerNorm over the last dim with a per-group affine; x [K, B, D]."""

    def __init__(self, groups: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(groups, 1, dim))
        self.bias = nn.Parameter(torch.zeros(groups, 1, dim))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,)) * self.weight + self.bias


class MembershipInput(nn.Module):
    """Features [B, F] and membership P [F, K] -> [K, B, H]."""

    def __init__(self, num_features: int, groups: int, out_dim: int, fan_in: float):
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(groups, num_features, out_dim), fan_in))
        self.bias = nn.Parameter(_uniform_(torch.empty(groups, 1, out_dim), fan_in))

    def forward(self, x: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
        k, f, h = self.weight.shape
        w = self.weight * membership.t()[:, :, None]                       # [K, F, H]
        out = x @ w.permute(1, 0, 2).reshape(f, k * h)                      # [B, K*H]
        return out.reshape(x.shape[0], k, h).transpose(0, 1) + self.bias    # [K, B, H]


class MembershipOutput(nn.Module):
    """Per-category hidden [K, B, H] and membership P [F, K] -> x_hat [B, F]."""

    def __init__(self, num_features: int, groups: int, in_dim: int):
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(groups, in_dim, num_features), in_dim))
        self.bias = nn.Parameter(torch.zeros(groups, num_features))

    def per_category(self, h: torch.Tensor) -> torch.Tensor:
        """Every category's reconstruction of every feature: [K, B, H] -> [K, B, F]."""
        return torch.baddbmm(self.bias[:, None, :], h, self.weight)

    def batch_sq_norm(self, h: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """sum over the batch of out_c,f ** 2 for every category c and feature f in [a, b),
        from the categories' Gram matrices: h [K, B, H] -> [K, b - a].  Equal to
        (per_category(h)[:, :, a:b] ** 2).sum(1) without the [K, B, F] tensor.  Computed
        in float32 with autocast off: the expected error subtracts it from similar sums."""
        with torch.autocast(h.device.type, enabled=False):
            w, bias = self.weight.float(), self.bias.float()
            if (a, b) != (0, w.shape[-1]):        # (a full-range slice costs a zero-filled gradient)
                w, bias = w[:, :, a:b], bias[:, a:b]                            # [K, H, f], [K, f]
            if not torch.is_grad_enabled():       # values only: no autograd.Function to trace
                return _gram_square_sum(h.float(), w, bias)[0]
            return GramSquareSum.apply(h.float(), w, bias)

    def batch_cross(self, h: torch.Tensor, x: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """sum over the batch of x_f * out_c,f for every category c and feature f in [a, b):
        h [K, B, H], x [B, b - a] -> [K, b - a], without the [K, B, F] tensor (float32)."""
        with torch.autocast(h.device.type, enabled=False):
            w, bias, x = self.weight[:, :, a:b].float(), self.bias[:, a:b].float(), x.float()
            return ((h.float().transpose(1, 2) @ x) * w).sum(1) + bias * x.sum(0)

    def forward(self, h: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
        k, b, hd = h.shape
        pt = membership.t()                                                 # [K, F]
        w = (self.weight * pt[:, None, :]).reshape(k * hd, -1)              # [K*H, F]
        return h.transpose(0, 1).reshape(b, k * hd) @ w + (self.bias * pt).sum(0)


def _gram_square_sum(h: torch.Tensor, w: torch.Tensor, bias: torch.Tensor):
    """(sq [K, F], G_k w, sum_b h, sum_b h . w): the value of :class:`GramSquareSum`."""
    gram = h.transpose(1, 2) @ h                                            # [K, H, H]
    h_sum = h.sum(1)                                                        # [K, H]
    gw = gram @ w                                                           # [K, H, F]
    sw = (h_sum[:, :, None] * w).sum(1)                                     # [K, F]
    return (w * gw).sum(1) + 2 * bias * sw + h.shape[1] * bias ** 2, gw, h_sum, sw


class GramSquareSum(torch.autograd.Function):
    """sq[k, f] = sum_b (h[k, b] . w[k, :, f] + bias[k, f])^2 from G_k = h_k^T h_k.

    Written out because autograd's own backward of ``w . (h^T h) w`` takes four batched
    matmuls (it does not know G is symmetric); this one takes two:
    A_k = W_k diag(g_k) W_k^T, then grad_h = 2 (h A + 1 (g * bias) W^T)."""

    @staticmethod
    def forward(ctx, h, w, bias):
        value, gw, h_sum, sw = _gram_square_sum(h, w, bias)
        ctx.save_for_backward(h, w, bias, gw, h_sum, sw)
        return value

    @staticmethod
    def backward(ctx, g):
        h, w, bias, gw, h_sum, sw = ctx.saved_tensors
        gb = g * bias                                                       # [K, F]
        grad_h = grad_w = grad_bias = None
        if ctx.needs_input_grad[0]:
            a = (w * g[:, None, :]) @ w.transpose(1, 2)                     # [K, H, H]
            grad_h = 2 * (h @ a + (w * gb[:, None, :]).sum(2)[:, None, :])
        if ctx.needs_input_grad[1]:
            grad_w = 2 * (gw * g[:, None, :] + h_sum[:, :, None] * gb[:, None, :])
        if ctx.needs_input_grad[2]:
            grad_bias = 2 * g * (sw + h.shape[1] * bias)
        return grad_h, grad_w, grad_bias
