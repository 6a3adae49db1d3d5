"""Redundancy merges for category pruning (``learnable_assignment.pruning.merge``).

A planted group split over two categories is the case the mass rule of pruning cannot
resolve by itself: each half rebuilds the other's features about as well, so neither
empties.  The learnable model measures, during training, how well every category's own
decoder output predicts every identity feature (``probe_error`` [K, F]: the sum over the
probe rows of (out_c,f - x_f)^2, ``probe_rows``: their count).  From it:

* ``e[c, f] = probe_error[c, f] / probe_rows``: category c's mean squared error on f;
* ``V_f``: the variance of feature f's target (the error of predicting its mean, i.e. of
  a category that knows nothing about f), measured on the validation rows;
* the *share* of category b in category a's features:

      share[a, b] = sum_{f in a} (V_f - e[b, f]) / sum_{f in a} (V_f - e[a, f])

  the part of the variance that a explains of its own features that b explains too
  (1: b rebuilds them as well as a; about 0: b knows nothing about them).

Two categories are redundant when each has a share of at least ``merge_threshold`` in
the other's features.  Categories from independent groups have shares near 0; the halves
of one group have shares of about 0.5-0.8 (the owner also sees its own features, so it
stays somewhat better than the other half).  The trainer merges the smaller category of
a redundant pair into the larger (its features' logits move over) and prunes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

import torch

from .metrics import n_rows, take_rows


@torch.no_grad()
def target_variance(model: torch.nn.Module, arrays: Mapping[str, torch.Tensor],
                    batch_size: int = 4096) -> torch.Tensor:
    """[F] variance over ``arrays``' rows of every identity feature's reconstruction
    target (0 for features of encoded families, which the probe does not measure)."""
    F = int(model.num_features)
    n = n_rows(arrays)
    dev = model.identity_columns.device
    s1 = torch.zeros(F, dtype=torch.float64, device=dev)
    s2 = torch.zeros(F, dtype=torch.float64, device=dev)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, batch_size):
            targets = model.targets(take_rows(arrays, slice(start, min(n, start + batch_size))))
            for fam, enc, (a, b) in zip(model.families, model.encoders, model.feature_slices):
                if not enc.is_identity:
                    continue
                t = targets[fam.name].double()
                s1[a:b] += t.sum(0)
                s2[a:b] += (t * t).sum(0)
    finally:
        model.train(was_training)
    mean = s1 / max(n, 1)
    return (s2 / max(n, 1) - mean * mean).clamp(min=0).float().cpu()


def redundancy_shares(probe_error: torch.Tensor, probe_rows: float, variance: torch.Tensor,
                      hard: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """[K, K] ``share[a, b]`` (module docstring); NaN in row a when a holds no feature, holds
    a feature the probe does not measure (not an identity column), or explains nothing of
    its features (sum of V_f - e[a, f] <= 0), and on the diagonal."""
    K = probe_error.shape[0]
    err = probe_error.double().cpu() / max(float(probe_rows), 1.0)            # [K, F]
    gain = variance.double().cpu()[None, :] - err                              # [K, F]: V_f - e[c, f]
    hard = hard.cpu()
    identity = identity.cpu() > 0
    shares = torch.full((K, K), float("nan"), dtype=torch.float64)
    if probe_rows <= 0:
        return shares
    for a in range(K):
        own = hard == a
        if not bool(own.any()) or not bool(identity[own].all()):
            continue
        explained = gain[:, own].sum(1)                                        # [K]
        if float(explained[a]) <= 0:
            continue
        shares[a] = explained / explained[a]
        shares[a, a] = float("nan")
    return shares


@dataclass(frozen=True)
class Merge:
    """Merge ``source`` into ``target`` (current category indices)."""

    source: int
    target: int
    share: float            # the smaller of the two shares (how redundant the pair is)


def redundant_pairs(shares: torch.Tensor, threshold: float) -> dict[tuple[int, int], float]:
    """(a, b) with a < b -> min(share[a, b], share[b, a]) for every pair whose two shares
    are both >= ``threshold``."""
    K = shares.shape[0]
    out = {}
    for a in range(K):
        for b in range(a + 1, K):
            s = min(float(shares[a, b]), float(shares[b, a]))       # NaN compares False
            if s >= threshold:
                out[(a, b)] = s
    return out


def plan_merges(pairs: Mapping[tuple[int, int], float], sizes: list[int],
                max_merges: int) -> list[Merge]:
    """The merges to make now: the most redundant pairs first, each category in at most one
    merge (a chain of three is resolved over two epochs, on fresh measurements), at most
    ``max_merges``; the category with fewer features goes into the one with more (equal:
    the higher index into the lower)."""
    used: set[int] = set()
    out: list[Merge] = []
    for (a, b), s in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(out) >= max_merges:
            break
        if a in used or b in used:
            continue
        src, dst = (a, b) if sizes[a] < sizes[b] else (b, a)
        out.append(Merge(source=src, target=dst, share=s))
        used.update((a, b))
    return out


@torch.no_grad()
def move_features(logits: torch.Tensor, source: int, target: int) -> list[int]:
    """Give every feature whose argmax is ``source`` to ``target``: swap the two logits of
    those features (the feature keeps its confidence, now on ``target``).  Returns them."""
    feats = (logits.argmax(-1) == source).nonzero().flatten()
    if len(feats):
        src = logits[feats, source].clone()
        logits[feats, source] = logits[feats, target]
        logits[feats, target] = src
    return feats.tolist()
