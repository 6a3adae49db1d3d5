"""Validation metrics of a categorical hierarchical VQ-VAE.

Definitions (reference §4 and peers §5.4):

* utilization of a codebook = fraction of its entries used at least once over
  the evaluation set; reported per ``category_k/level_l`` and overall as the mean
  over categories x levels.
* perplexity of a codebook = exp(entropy of its code frequencies), in [1, size].
* dead codes = entries never used over the evaluation set.
* recon_mse = mean squared error over all reconstruction targets (every element
  of every family's target counts once), on the normalized scale;
  quality = clamp(1 - recon_mse, 0, 1).
* token_quality: the same, reconstructing from the token ids alone
  (``decode_codes(encode(x))``), i.e. what a downstream user of the tokens gets.
* topo_pre = Pearson correlation between pairwise distances of the inputs
  (the concatenated targets) and of the model's continuous latents
  (``ModelOutput.latents``), on the first ``topo_samples`` rows.
* ari = adjusted Rand index between the model's feature->category assignment
  and planted groups (features with a negative label are left out).

Everything accumulates on the device; one host sync per call.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Iterator, Mapping, Sequence

import torch

from spinlock_spec.data.discovery import adjusted_rand_index


# --------------------------------------------------------------------------- batches
def n_rows(arrays: Mapping[str, torch.Tensor]) -> int:
    return int(next(iter(arrays.values())).shape[0])


def take_rows(arrays: Mapping[str, torch.Tensor], index: torch.Tensor | slice) -> dict[str, torch.Tensor]:
    return {k: v[index] for k, v in arrays.items()}


def iter_batches(arrays: Mapping[str, torch.Tensor], batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Consecutive batches in row order (evaluation)."""
    n = n_rows(arrays)
    for start in range(0, n, batch_size):
        yield take_rows(arrays, slice(start, min(n, start + batch_size)))


# --------------------------------------------------------------------------- code usage
class CodeUsage:
    """Counts of every code of every (category, level) codebook, kept on the device."""

    def __init__(self, codebook_sizes: torch.Tensor, device: torch.device | str):
        sizes = torch.as_tensor(codebook_sizes, dtype=torch.long).to(device)
        self.K, self.L = int(sizes.shape[0]), int(sizes.shape[1])
        self.sizes = sizes.reshape(-1)                         # [K*L]
        self.offsets = torch.cumsum(self.sizes, 0) - self.sizes
        self.total = int(self.sizes.sum())
        self.segment = torch.repeat_interleave(torch.arange(self.K * self.L, device=device), self.sizes)
        self.counts = torch.zeros(self.total, dtype=torch.long, device=device)

    def update(self, codes: torch.Tensor) -> None:
        flat = codes.reshape(codes.shape[0], -1).long() + self.offsets       # [B, K*L]
        idx = flat.reshape(-1)      # scatter, not bincount: bincount's output size syncs the host
        self.counts.scatter_add_(0, idx, torch.ones_like(idx))

    def _per_codebook(self, values: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.K * self.L, dtype=torch.float64, device=values.device)
        return out.index_add_(0, self.segment, values.double())

    def utilization(self) -> torch.Tensor:
        """[K, L] fraction of entries used."""
        used = self._per_codebook((self.counts > 0).double())
        return (used / self.sizes.double()).reshape(self.K, self.L)

    def dead_codes(self) -> torch.Tensor:
        used = self._per_codebook((self.counts > 0).double())
        return (self.sizes.double() - used).reshape(self.K, self.L)

    def perplexity(self) -> torch.Tensor:
        """[K, L] exp(entropy) of code frequencies (1 for an unused codebook)."""
        totals = self._per_codebook(self.counts.double())
        p = self.counts.double() / totals[self.segment].clamp_min(1.0)
        ent = self._per_codebook(torch.where(p > 0, -p * torch.log(p), torch.zeros_like(p)))
        return torch.exp(ent).reshape(self.K, self.L)


def category_names(model: Any, K: int) -> list[str]:
    names = getattr(model, "category_names", None)
    if names is not None and len(names) == K:
        return [str(n) for n in names]
    return [f"category_{k}" for k in range(K)]


def usage_metrics(usage: CodeUsage, names: Sequence[str]) -> dict[str, Any]:
    """Flat dict: overall and per ``category/level_l`` utilization, perplexity, dead codes."""
    util = usage.utilization().cpu()
    ppl = usage.perplexity().cpu()
    dead = usage.dead_codes().cpu()
    out: dict[str, Any] = {
        "utilization": float(util.mean()),
        "utilization_per_level": [float(v) for v in util.mean(0)],
        "perplexity": float(ppl.mean()),
        "dead_codes": int(dead.sum()),
        "codebook_entries": int(usage.total),
    }
    for k, name in enumerate(names):
        for lvl in range(usage.L):
            out[f"{name}/level_{lvl}/utilization"] = float(util[k, lvl])
            out[f"{name}/level_{lvl}/perplexity"] = float(ppl[k, lvl])
            out[f"{name}/level_{lvl}/dead_codes"] = int(dead[k, lvl])
    return out


# --------------------------------------------------------------------------- reconstruction
class SquaredError:
    """Running sum of squared errors and element count over all target families."""

    def __init__(self, device):
        self.sse = torch.zeros((), dtype=torch.float64, device=device)
        self.count = 0

    def update(self, recon: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> None:
        for fam, target in targets.items():
            pred = recon[fam]
            self.sse += (pred.float() - target.float()).pow(2).sum().double()
            self.count += target.numel()

    def mse(self) -> float:
        return float(self.sse) / max(1, self.count)


def quality_from_mse(mse: float) -> float:
    return float(min(1.0, max(0.0, 1.0 - mse)))


def _forward_reconstruction(out: Any) -> Mapping[str, torch.Tensor] | None:
    for name in ("reconstruction", "recon", "reconstructions"):
        value = getattr(out, name, None)
        if isinstance(value, Mapping):
            return value
    return None


# --------------------------------------------------------------------------- topology
def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.double() - a.double().mean()
    b = b.double() - b.double().mean()
    denom = a.norm() * b.norm()
    return float((a @ b) / denom) if float(denom) > 0 else 0.0


def topo_pre(inputs: torch.Tensor, latents: torch.Tensor) -> float:
    """Correlation of pairwise input distances with pairwise latent distances."""
    n = inputs.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=inputs.device)
    d_in = torch.cdist(inputs.float(), inputs.float())[iu[0], iu[1]]
    d_lat = torch.cdist(latents.float(), latents.float())[iu[0], iu[1]]
    return pearson(d_in, d_lat)


def _flat_targets(targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(t.shape[0], -1).float() for _, t in sorted(targets.items())], dim=1)


# --------------------------------------------------------------------------- assignment
def feature_categories(model: Any) -> torch.Tensor:
    """LongTensor [F]: the category of every feature (hard assignment when learnable)."""
    if hasattr(model, "hard_assignment"):
        return model.hard_assignment().detach().cpu().long()
    cats = getattr(model, "categories", None)
    if cats is None:
        cats = model.export_config()["categories"]
    n = len(model.feature_names)
    labels = torch.full((n,), -1, dtype=torch.long)
    for k, members in enumerate(cats):
        labels[torch.as_tensor(list(members), dtype=torch.long)] = k
    return labels


def labels_from_true_groups(feature_names: Sequence[str],
                            true_groups: Mapping[str, Sequence[int]],
                            column_names: Mapping[str, Sequence[str]]) -> list[int]:
    """Per-feature planted group (aligned with ``feature_names``; -1 where unknown).

    Groups of different families are made distinct by an offset per family.
    """
    lookup: dict[str, int] = {}
    offset = 0
    for fam in sorted(true_groups):
        groups = [int(g) for g in true_groups[fam]]
        for col, g in zip(column_names.get(fam, []), groups):
            lookup[f"{fam}:{col}"] = offset + g
        offset += (max(groups) + 1) if groups else 0
    return [lookup.get(name, -1) for name in feature_names]


# --------------------------------------------------------------------------- evaluate
@torch.no_grad()
def evaluate(model: torch.nn.Module, arrays: Mapping[str, torch.Tensor], *, batch_size: int = 1024,
             true_labels: Sequence[int] | None = None, topo_samples: int = 512,
             loss_weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """All validation metrics of ``model`` over ``arrays`` (see module docstring)."""
    was_training = model.training
    model.eval()
    try:
        device = next(iter(arrays.values())).device
        sizes = model.codebook_sizes
        usage = CodeUsage(sizes, device)
        token_usage = CodeUsage(sizes, device)
        fwd_err = SquaredError(device)
        tok_err = SquaredError(device)
        term_sums: dict[str, torch.Tensor] = {}
        have_forward_recon = True
        topo_in: list[torch.Tensor] = []
        topo_lat: list[torch.Tensor] = []
        topo_have = 0
        n = 0
        for batch in iter_batches(arrays, batch_size):
            bs = n_rows(batch)
            out = model(batch)
            usage.update(out.codes)
            for name, value in out.terms.items():
                term_sums[name] = term_sums.get(name, 0) + value.detach().double() * bs
            targets = getattr(out, "targets", None) or model.targets(batch)
            recon = _forward_reconstruction(out)
            if recon is None:
                have_forward_recon = False
            else:
                fwd_err.update(recon, targets)
            latents = getattr(out, "latents", None)
            if latents is not None and topo_have < topo_samples:
                take = min(bs, topo_samples - topo_have)
                topo_in.append(_flat_targets(targets)[:take])
                topo_lat.append(latents[:take].reshape(take, -1))
                topo_have += take
            codes = model.encode(batch)
            token_usage.update(codes)
            tok_err.update(model.decode_codes(codes), targets)
            n += bs
        names = category_names(model, usage.K)
        metrics: dict[str, Any] = {"n_samples": n}
        metrics.update(usage_metrics(usage, names))
        terms = {k: float(v) / max(1, n) for k, v in term_sums.items()}
        metrics["terms"] = terms
        if loss_weights:
            metrics["loss"] = sum(loss_weights.get(k, 0.0) * v for k, v in terms.items())
        metrics["token_recon_mse"] = tok_err.mse()
        metrics["token_quality"] = quality_from_mse(metrics["token_recon_mse"])
        metrics["recon_mse"] = fwd_err.mse() if have_forward_recon else metrics["token_recon_mse"]
        metrics["quality"] = quality_from_mse(metrics["recon_mse"])
        metrics["token_utilization"] = float(token_usage.utilization().mean())
        if topo_have >= 3:
            metrics["topo_pre"] = topo_pre(torch.cat(topo_in), torch.cat(topo_lat))
        if true_labels is not None:
            pred = feature_categories(model).tolist()
            if len(true_labels) != len(pred):
                raise ValueError(f"true_labels has {len(true_labels)} entries, model has {len(pred)} features")
            metrics["ari"] = adjusted_rand_index(true_labels, pred)
        return metrics
    finally:
        model.train(was_training)
