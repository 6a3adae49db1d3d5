"""Fixed reconstruction targets of the families (docs/architecture.md,
"Features, categories and reconstruction targets").

A trainable encoder must not be trained to reconstruct its own output, so each
family has a *fixed* function of its raw batch entries that the model learns
to reconstruct:

- tabular families: the (normalized) columns themselves;
- temporal families: per-channel means over ``TEMPORAL_SEGMENTS`` equal time
  segments of each sample's valid length (padding excluded) -> [B, 8 * D];
- raw fields: ``FIELD_POOL`` x ``FIELD_POOL`` average-pooled fields, per
  channel -> [B, C * 16];
- ``initial_hybrid``: manual columns followed by the pooled fields.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPORAL_SEGMENTS = 8
FIELD_POOL = 4


def length_mask(lengths: torch.Tensor | None, batch: int, t_len: int, device) -> torch.Tensor:
    """[B, T] float mask, 1 on valid steps (all ones when ``lengths`` is None)."""
    if lengths is None:
        return torch.ones(batch, t_len, device=device)
    steps = torch.arange(t_len, device=device)
    return (steps[None, :] < lengths.to(device)[:, None]).float()


def segment_weights(lengths: torch.Tensor | None, batch: int, t_len: int, segments: int,
                    device) -> torch.Tensor:
    """[B, T, S] averaging weights: step t of sample b belongs to segment
    floor(t * S / len_b); weights of a segment sum to 1 (0 for an empty segment).
    Depends only on the valid length, so extra padding does not change it."""
    if lengths is None:
        lens = torch.full((batch,), t_len, device=device, dtype=torch.long)
    else:
        lens = lengths.to(device).long().clamp(min=1)
    steps = torch.arange(t_len, device=device)
    seg = torch.div(steps[None, :] * segments, lens[:, None], rounding_mode="floor")  # [B, T]
    valid = steps[None, :] < lens[:, None]
    onehot = F.one_hot(seg.clamp(max=segments - 1), segments).float() * valid[..., None].float()
    counts = onehot.sum(1, keepdim=True)
    return onehot / counts.clamp(min=1.0)


def temporal_target(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """[B, T, D] -> [B, 8 * D]: per-channel segment means, channel-major."""
    b, t_len, d = x.shape
    w = segment_weights(lengths, b, t_len, TEMPORAL_SEGMENTS, x.device)
    seg_means = torch.einsum("btd,bts->bds", x.float(), w)
    return seg_means.reshape(b, d * TEMPORAL_SEGMENTS)


def fields_target(fields: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C * 16] (4x4 adaptive average pooling per channel)."""
    pooled = F.adaptive_avg_pool2d(fields.float(), FIELD_POOL)
    return pooled.flatten(1)


def fields_target_dim(fields_shape: tuple) -> int:
    return int(fields_shape[0]) * FIELD_POOL * FIELD_POOL
