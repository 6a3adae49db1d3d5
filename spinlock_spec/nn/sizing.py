"""Automatic level sizing (``model.levels`` empty / None).

For a category with ``n`` features (documented in docs/model.md):

    latent_dim = clamp(ceil(n / 2), 2, 16)               (shared by its levels)
    c0         = clamp(2 ** round(log2(4 n)), 8, 64)     level-0 codebook
    sizes      = [c0, max(c0 // 2, 4), max(c0 // 4, 4)]  (three residual levels)

Codebooks stay small so that every code is used (utilisation is a target) and
residual levels refine: the product c0 * c1 * c2 (32768 for n >= 12)
bounds the distinct reconstructions per category.
"""
from __future__ import annotations

import math

NUM_LEVELS = 3


def auto_latent_dim(n_features: int) -> int:
    return int(min(max(math.ceil(n_features / 2), 2), 16))


def auto_codebook_sizes(n_features: int) -> list[int]:
    c0 = 2 ** round(math.log2(max(4 * n_features, 1)))
    c0 = int(min(max(c0, 8), 64))
    return [c0, max(c0 // 2, 4), max(c0 // 4, 4)][:NUM_LEVELS]


def auto_levels(n_features: int) -> list[tuple[int, int]]:
    """[(num_tokens, latent_dim)] per level for a category of ``n_features`` features."""
    d = auto_latent_dim(n_features)
    return [(c, d) for c in auto_codebook_sizes(n_features)]
