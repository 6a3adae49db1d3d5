"""Family encoders (registry builders, see spinlock_spec.registry.ENCODERS).

Every encoder is built as ``cls(input_shape, fields_shape=None, **params)``
where ``input_shape`` is the per-sample shape of the family's main array
((D,) tabular, (T, D) temporal, (C, H, W) for a fields-only family) and
``fields_shape`` the per-sample (C, H, W) of ``NAME/fields`` when present.

Common interface:

- ``out_dim``: width of the embedding (the family's assignable features);
- ``forward(x=None, lengths=None, fields=None) -> [B, out_dim]``;
- ``target(x=None, lengths=None, fields=None) -> [B, target_dim]``: the fixed
  reconstruction target (spinlock_spec.nn.targets); ``target_dim``;
- ``is_identity``: True only for IdentityEncoder (its features *are* the
  target, so the model needs no head for it).

Temporal encoders zero the padded steps before and after each convolution and
pool with masks, so a sample's embedding does not depend on how much padding
follows it (tests/test_nn_encoders.py checks this).
"""
from __future__ import annotations

import re

import torch
from torch import nn
import torch.nn.functional as F

from .dropout import Dropout
from .targets import (TEMPORAL_SEGMENTS, fields_target, fields_target_dim, length_mask, segment_weights,
                      temporal_target)

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def _shape(shape) -> tuple[int, ...]:
    return tuple(int(s) for s in shape) if shape is not None else ()


class FamilyEncoder(nn.Module):
    """Base class: holds shapes and the target definition."""
    is_identity = False
    out_dim: int
    target_dim: int

    def target(self, x=None, lengths=None, fields=None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class IdentityEncoder(FamilyEncoder):
    """Passes [B, D] columns through; each column is one feature and its own target."""
    is_identity = True

    def __init__(self, input_shape, fields_shape=None):
        super().__init__()
        shape = _shape(input_shape)
        if len(shape) != 1:
            raise ValueError(f"identity encoder needs a tabular [N, D] family, got per-sample shape {shape}")
        self.out_dim = self.target_dim = shape[0]

    def forward(self, x=None, lengths=None, fields=None):
        return x

    def target(self, x=None, lengths=None, fields=None):
        return x


class MLPEncoder(FamilyEncoder):
    """MLP over a tabular family; target = the family's columns."""

    def __init__(self, input_shape, fields_shape=None, *, hidden_dims, output_dim, dropout, activation,
                 batch_norm):
        super().__init__()
        shape = _shape(input_shape)
        if len(shape) != 1:
            raise ValueError(f"mlp encoder needs a tabular [N, D] family, got per-sample shape {shape}")
        layers: list[nn.Module] = []
        width = shape[0]
        for h in hidden_dims:
            layers.append(nn.Linear(width, int(h)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(h)))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, int(output_dim)))
        self.net = nn.Sequential(*layers)
        self.out_dim = int(output_dim)
        self.target_dim = shape[0]

    def forward(self, x=None, lengths=None, fields=None):
        return self.net(x)

    def target(self, x=None, lengths=None, fields=None):
        return x


class _MaskedConvBlock(nn.Module):
    """Residual block: LayerNorm(channels) -> conv -> GELU -> conv, re-masked."""

    def __init__(self, channels: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h, mask):  # h [B, C, T], mask [B, 1, T]
        y = self.norm(h.transpose(1, 2)).transpose(1, 2) * mask
        y = F.gelu(self.conv1(y)) * mask
        y = self.drop(self.conv2(y)) * mask
        return h + y


def _check_kernel(kernel_size: int) -> int:
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (same-length convolution), got {kernel_size}")
    return int(kernel_size)


def _temporal_shape(input_shape) -> tuple[int, int]:
    shape = _shape(input_shape)
    if len(shape) != 2:
        raise ValueError(f"temporal encoder needs a [N, T, D] family, got per-sample shape {shape}")
    return shape[0], shape[1]


class TemporalCNNEncoder(FamilyEncoder):
    """Residual 1D CNN (``architecture: resnet1d_N`` = N blocks) over [B, T, D]
    with masked global mean and max pooling, then a linear embedding."""

    def __init__(self, input_shape, fields_shape=None, *, embedding_dim, architecture, hidden_channels,
                 kernel_size, dropout):
        super().__init__()
        t_len, dim = _temporal_shape(input_shape)
        m = re.fullmatch(r"resnet1d_([1-9][0-9]*)", str(architecture))
        if not m:
            raise ValueError(f"architecture must be resnet1d_N, got {architecture!r}")
        k = _check_kernel(kernel_size)
        self.stem = nn.Conv1d(dim, hidden_channels, k, padding=k // 2)
        self.blocks = nn.ModuleList(_MaskedConvBlock(hidden_channels, k, dropout) for _ in range(int(m.group(1))))
        self.proj = nn.Linear(2 * hidden_channels, int(embedding_dim))
        self.out_dim = int(embedding_dim)
        self.target_dim = dim * TEMPORAL_SEGMENTS

    def forward(self, x=None, lengths=None, fields=None):
        b, t_len, _ = x.shape
        mask = length_mask(lengths, b, t_len, x.device)[:, None, :]  # [B, 1, T]
        h = self.stem(x.transpose(1, 2) * mask) * mask
        for block in self.blocks:
            h = block(h, mask)
        count = mask.sum(-1).clamp(min=1.0)
        mean = h.sum(-1) / count
        mx = h.masked_fill(mask == 0, float("-inf")).amax(-1)
        mx = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))
        return self.proj(torch.cat([mean, mx], dim=1))

    def target(self, x=None, lengths=None, fields=None):
        return temporal_target(x, lengths)


class PyramidTemporalEncoder(FamilyEncoder):
    """Two masked 1D conv layers, then the features are mean-pooled over S equal
    segments of each sample's *valid* length for every scale S in ``scales``;
    all pooled vectors are concatenated and projected to ``embedding_dim``."""

    def __init__(self, input_shape, fields_shape=None, *, embedding_dim, hidden_channels, kernel_size, scales,
                 dropout):
        super().__init__()
        t_len, dim = _temporal_shape(input_shape)
        k = _check_kernel(kernel_size)
        self.scales = [int(s) for s in scales]
        if not self.scales or min(self.scales) < 1:
            raise ValueError(f"scales must be positive integers, got {scales!r}")
        self.conv1 = nn.Conv1d(dim, hidden_channels, k, padding=k // 2)
        self.conv2 = nn.Conv1d(hidden_channels, hidden_channels, k, padding=k // 2)
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.proj = nn.Linear(hidden_channels * sum(self.scales), int(embedding_dim))
        self.out_dim = int(embedding_dim)
        self.target_dim = dim * TEMPORAL_SEGMENTS

    def forward(self, x=None, lengths=None, fields=None):
        b, t_len, _ = x.shape
        mask = length_mask(lengths, b, t_len, x.device)[:, None, :]
        h = F.gelu(self.conv1(x.transpose(1, 2) * mask)) * mask
        h = h + F.gelu(self.conv2(h)) * mask
        pooled = [torch.einsum("bct,bts->bcs", h, segment_weights(lengths, b, t_len, s, x.device)).flatten(1)
                  for s in self.scales]
        return self.proj(self.drop(torch.cat(pooled, dim=1)))

    def target(self, x=None, lengths=None, fields=None):
        return temporal_target(x, lengths)


class _FieldCNN(nn.Module):
    """Stride-2 3x3 conv stages + GELU, global average pooling, linear embedding."""

    def __init__(self, in_channels: int, channels, embedding_dim: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for c in channels:
            layers += [nn.Conv2d(width, int(c), 3, stride=2, padding=1), nn.GELU()]
            width = int(c)
        self.features = nn.Sequential(*layers)
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.proj = nn.Linear(width, int(embedding_dim))

    def forward(self, fields):
        return self.proj(self.drop(self.features(fields).mean(dim=(2, 3))))


def _fields_shape(shape, in_channels) -> tuple[int, int, int]:
    s = _shape(shape)
    if len(s) != 3:
        raise ValueError(f"fields must be [N, C, H, W], got per-sample shape {s}")
    if in_channels is not None and int(in_channels) != s[0]:
        raise ValueError(f"in_channels={in_channels} but the fields have {s[0]} channels")
    return s  # type: ignore[return-value]


class InitialCNNEncoder(FamilyEncoder):
    """2D CNN over raw fields [B, C, H, W]; channels are input channels (never averaged)."""

    def __init__(self, input_shape, fields_shape=None, *, embedding_dim, in_channels, channels, dropout):
        super().__init__()
        shape = _fields_shape(fields_shape if fields_shape is not None else input_shape, in_channels)
        self.cnn = _FieldCNN(shape[0], channels, embedding_dim, dropout)
        self.out_dim = int(embedding_dim)
        self.target_dim = fields_target_dim(shape)

    @staticmethod
    def _fields(x, fields):
        return fields if fields is not None else x

    def forward(self, x=None, lengths=None, fields=None):
        return self.cnn(self._fields(x, fields))

    def target(self, x=None, lengths=None, fields=None):
        return fields_target(self._fields(x, fields))


class InitialHybridEncoder(FamilyEncoder):
    """Manual columns [B, M] passed through, concatenated with a CNN embedding of the fields."""

    def __init__(self, input_shape, fields_shape=None, *, manual_dim, cnn_embedding_dim, in_channels, channels,
                 dropout):
        super().__init__()
        shape = _shape(input_shape)
        if len(shape) != 1:
            raise ValueError(f"initial_hybrid needs tabular manual columns [N, M], got per-sample shape {shape}")
        if manual_dim is not None and int(manual_dim) != shape[0]:
            raise ValueError(f"manual_dim={manual_dim} but the family has {shape[0]} columns")
        if fields_shape is None:
            raise ValueError("initial_hybrid needs the raw fields (NAME/fields) shape")
        fshape = _fields_shape(fields_shape, in_channels)
        self.manual_dim = shape[0]
        self.cnn = _FieldCNN(fshape[0], channels, cnn_embedding_dim, dropout)
        self.out_dim = self.manual_dim + int(cnn_embedding_dim)
        self.target_dim = self.manual_dim + fields_target_dim(fshape)

    def forward(self, x=None, lengths=None, fields=None):
        return torch.cat([x, self.cnn(fields)], dim=1)

    def target(self, x=None, lengths=None, fields=None):
        return torch.cat([x, fields_target(fields)], dim=1)
