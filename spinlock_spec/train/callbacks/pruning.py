"""Category pruning and merging (``learnable_assignment.pruning``).

Pruning: a category whose assignment mass (sum_f P[f, c] / F at the current temperature)
is below ``min_mass``, or whose validation codebook utilization (mean over levels) is below
``min_usage`` (when > 0), for ``patience`` consecutive epochs is removed
(model.prune_categories); its features go to their next-best category and the optimizers
are rebuilt with their Adam moments sliced the same way (optimizer_surgery.py).

Merging (``merge``), checked first: two categories that each explain at least
``merge_threshold`` of what the other explains of its own features (train/pruning.py:
shares from the epoch's probe statistics) for ``patience`` consecutive epochs after the
assignment warmup are redundant: the smaller one's features move to the larger (logits
swapped) and the smaller is pruned at once.  Measured from the epoch after the warmup,
the third at the earliest.

Checkpoint key: ``pruning`` (``under``: epochs under the pruning bounds per category,
``redundant``: epochs redundant per pair, ``history``: the pruning steps, re-applied to
the fresh model before a resume loads the weights).
"""
from __future__ import annotations

from typing import Any

import torch

from .. import pruning as merging
from ..metrics import category_names
from .base import Callback, note
from .optimizer_surgery import prune_with_optimizers


class CategoryPruning(Callback):
    def __init__(self, trainer: Any):
        super().__init__(trainer)
        self.under: dict[str, int] = {}          # original category id -> epochs under the bounds
        self.redundant: dict[str, int] = {}      # "id+id" -> epochs redundant
        self.steps: list[dict[str, Any]] = []    # every pruning step, in order
        self._target_variance = None             # per-feature validation variance, at the first merge check

    def _ids_names(self, K: int) -> tuple[list[int], list[str]]:
        """(original index, name) of every current category (pruning keeps them stable)."""
        model = self.trainer.model
        ids = model.category_ids if model.category_ids is not None else list(range(K))
        return ids, category_names(model, K)

    def _read_probe(self, read: bool) -> tuple[torch.Tensor, float] | None:
        """The epoch's probe statistics of the model (error sums [K, F] and row count),
        copied to the host when ``read``; the buffers restart from zero for the next epoch."""
        model = self.trainer.model
        err, rows = getattr(model, "probe_error", None), getattr(model, "probe_rows", None)
        if err is None or rows is None:
            return None
        out = (err.detach().cpu().clone(), float(rows)) if read else None
        err.zero_()
        rows.zero_()
        return out

    def _allowed(self, what: str) -> bool:
        if self.trainer.dist.enabled:
            self.trainer.console.warning("learnable_assignment.pruning is not supported with distributed "
                                         f"training; nothing {what}")
            return False
        return True

    def _commit(self, record: dict[str, Any], step: dict[str, Any]) -> None:
        """Shrink the model to ``step["keep"]`` and record the step (history, checkpoint
        state and the epoch record)."""
        t = self.trainer
        prune_with_optimizers(t, step["keep"])
        t.categories_changed()
        self.steps.append(step)
        t.history["pruned_categories"] = list(self.steps)
        record["num_categories"] = t.model.num_categories

    def after_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        t = self.trainer
        pc = t.learnable.pruning
        probe = self._read_probe(pc.enabled and pc.merge)
        if not pc.enabled:
            return
        if probe is not None:
            self._maybe_merge(epoch, record, *probe)
        model = t.model
        K = model.num_categories
        ids, names = self._ids_names(K)
        with torch.no_grad():
            mass = (model.assignment_probs().sum(0) / model.num_features).cpu().tolist()
        counts = torch.bincount(model.hard_assignment().cpu(), minlength=K).tolist()
        levels = int(model.codebook_sizes.shape[1])
        reasons = {}
        for k in range(K):
            why = []
            if mass[k] < pc.min_mass:
                why.append(f"assignment mass {mass[k]:.3f} < {pc.min_mass:g}")
            usage = [record["metrics"].get(f"{names[k]}/level_{lv}/utilization") for lv in range(levels)]
            if pc.min_usage > 0 and None not in usage and sum(usage) / levels < pc.min_usage:
                why.append(f"codebook usage {sum(usage) / levels:.3f} < {pc.min_usage:g}")
            key = str(ids[k])
            self.under[key] = self.under.get(key, 0) + 1 if why else 0
            if why and self.under[key] >= pc.patience:
                reasons[k] = why
        record["category_mass"] = mass
        if not reasons:
            return
        # the weakest go first; at least min_categories stay
        drop = sorted(reasons, key=lambda k: mass[k])[:max(K - pc.min_categories, 0)]
        if not drop or not self._allowed("pruned"):
            return
        keep = [k for k in range(K) if k not in drop]
        self._commit(record, {"epoch": epoch, "keep": keep, "removed": [names[k] for k in drop]})
        for k in drop:
            self.under.pop(str(ids[k]), None)
            note(t, record, f"  Pruned {names[k]} at epoch {epoch}: {'; '.join(reasons[k])} for "
                            f"{pc.patience} epochs; its {counts[k]} features reassigned",
                 {"event": "category_pruned", "category": names[k], "reasons": reasons[k],
                  "features_reassigned": counts[k]})

    def _maybe_merge(self, epoch: int, record: dict[str, Any], probe_error: torch.Tensor,
                     probe_rows: float) -> None:
        t = self.trainer
        pc, model = t.learnable.pruning, t.model
        # the first two epochs' probe outputs (other categories' features) are still untrained
        if epoch <= max(t.assignment_warmup(), 2) or probe_rows <= 0:
            return
        if self._target_variance is None:
            self._target_variance = merging.target_variance(model, t.val_arrays, t.cfg.batch_size * 16)
        K = model.num_categories
        ids, names = self._ids_names(K)
        hard = model.hard_assignment().cpu()
        shares = merging.redundancy_shares(probe_error, probe_rows, self._target_variance, hard,
                                           model.identity_columns)
        pairs = merging.redundant_pairs(shares, pc.merge_threshold)

        def key(a: int, b: int) -> str:         # a pair by original ids: stable across pruning
            return f"{ids[min(a, b)]}+{ids[max(a, b)]}"

        before = self.redundant
        counts = self.redundant = {key(a, b): before.get(key(a, b), 0) + 1 for a, b in pairs}
        ready = {ab: s for ab, s in pairs.items() if counts[key(*ab)] >= pc.patience}
        sizes = torch.bincount(hard, minlength=K).tolist()
        merges = merging.plan_merges(ready, sizes, max(K - pc.min_categories, 0))
        if not merges or not self._allowed("merged"):
            return
        for m in merges:
            moved = merging.move_features(model.assignment_logits.data, m.source, m.target)
            counts.pop(key(m.source, m.target), None)
            self.under.pop(str(ids[m.source]), None)
            into, back = float(shares[m.target, m.source]), float(shares[m.source, m.target])
            note(t, record, f"  Merged {names[m.source]} into {names[m.target]} at epoch {epoch}: "
                            f"{names[m.target]} explains {100 * into:.0f}% of what {names[m.source]} "
                            f"explains of its {len(moved)} features, {names[m.source]} {100 * back:.0f}% "
                            f"of {names[m.target]}'s (merge_threshold {100 * pc.merge_threshold:.0f}%, "
                            f"{pc.patience} epochs)",
                 {"event": "categories_merged", "category": names[m.source], "into": names[m.target],
                  "shares": [into, back], "features": moved})
        keep = [k for k in range(K) if k not in {m.source for m in merges}]
        self._commit(record, {"epoch": epoch, "keep": keep, "removed": [names[m.source] for m in merges],
                              "merged_into": [names[m.target] for m in merges]})
        t.history.setdefault("merged_categories", []).extend(
            {"epoch": epoch, "category": names[m.source], "into": names[m.target], "share": m.share}
            for m in merges)

    def prepare_resume(self, meta: dict[str, Any]) -> None:
        """Re-apply the pruning recorded in the checkpoint so the model has its shape."""
        steps = (meta.get("pruning") or {}).get("history", [])
        for step in steps:
            self.trainer.model.prune_categories(step["keep"])
        if steps:
            self.trainer.optimizers = self.trainer.build_optimizers()
            self.steps = list(steps)

    def state_dict(self) -> dict[str, Any]:
        return {"pruning": {"under": dict(self.under), "redundant": dict(self.redundant),
                            "history": list(self.steps)}}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        if meta.get("pruning"):
            self.under = {str(k): int(v) for k, v in meta["pruning"]["under"].items()}
            self.redundant = {str(k): int(v) for k, v in meta["pruning"].get("redundant", {}).items()}
