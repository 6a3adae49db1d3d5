"""The learnable-assignment model: P = softmax(logits / temperature), trained end to
end with masked credit, and category pruning (docs/model.md)."""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from .categorical import CategoricalHierarchicalVQVAE
from .dropout import cpu_keep_mask
from .parallel_levels import partial_slicers
from .losses import assignment_balance, assignment_orthogonality, column_range, target_mse

CREDIT_ROWS = 128        # rows of a batch that estimate the learnable assignment's credit and probe


class LearnableCategoricalVQVAE(CategoricalHierarchicalVQVAE):
    """Learnable categories: P = softmax(logits / temperature) per feature.

    ``categories`` is the *initial* assignment (clustering or mapping file):
    logit = ``init_scale`` for the initial category, 0 elsewhere (a feature in no
    initial category starts uniform).  Level sizes follow the initial sizes.

    Training forward: P soft, optional Gumbel noise (``gumbel_noise`` = its scale,
    0 = off) and optional straight-through hard assignment (``straight_through``:
    forward the one-hot argmax fixed at the start of the epoch (``fix_epoch_assignment``;
    with Gumbel noise a sample per step), backward the soft gradient; the trainer keeps
    it on for the whole run with ``forward_assignment: hard``, the default).  Features whose
    move the audit undid (``held_features``) get no gradient.  Eval mode, ``encode``
    and ``decode_codes`` use the hard assignment (argmax one-hot), which is what
    checkpoints and tokens mean after training.
    """

    def __init__(self, families, categories, levels=None, model_cfg=None, init_scale: float | None = None,
                 temperature: float = 1.0):
        super().__init__(families, categories, levels, model_cfg)
        scale = float(init_scale if init_scale is not None else self.config.assignment_init_scale)
        self.init_scale = scale
        self.assignment_logits = nn.Parameter(self._one_hot(self.categories, self.num_features) * scale)
        # a category's input weights for the features it does not hold start at zero (static
        # mode's model multiplies them by 0): a feature that moves in then enters the
        # category's code gradually instead of through a random projection
        with torch.no_grad():
            self.enc_in.weight.mul_(self.membership.t()[:, :, None])
        # per-epoch state the trainer sets, kept in 0-d buffers that the forward pass reads
        # as data: torch.compile then builds one graph for the whole run instead of one per
        # temperature (the Python floats below mirror them for logs, no device sync)
        self.register_buffer("_temperature", torch.tensor(1.0), persistent=False)
        self.register_buffer("_straight_through", torch.tensor(0.0), persistent=False)
        self.register_buffer("_credit_mask", torch.tensor(0.0), persistent=False)
        # probe statistics: sum over training rows of (out_c,f - x_f)^2 for every category c and
        # identity feature f, and the row count (accumulated on the device, read and reset by
        # the trainer: how well each category would reconstruct each feature)
        self.register_buffer("probe_error", torch.zeros(self.num_categories, self.num_features), persistent=False)
        self.register_buffer("probe_rows", torch.zeros(()), persistent=False)
        # the features whose logits are held (a move the audit undid, train/callbacks/move_audit.py):
        # 1 = no gradient
        self.register_buffer("held_features", torch.zeros(self.num_features), persistent=False)
        # the hard assignment the straight-through forward pass uses, fixed for an epoch
        # (fix_epoch_assignment, before each epoch): a feature changes category only between
        # epochs, so every move is seen by the move audit and an epoch trains one model
        self.register_buffer("epoch_one_hot", self._one_hot(self.categories, self.num_features), persistent=False)
        self.temperature = float(temperature)
        self.gumbel_noise = 0.0
        self.straight_through = False
        self.credit_mask = 0.0          # masked credit probability (the trainer sets it)
        # the CPU credit mask's own random stream (seeded per epoch by the trainer), so that
        # the global stream (dropout, re-seeding) is the one static mode draws from
        self.credit_generator = torch.Generator()
        self.credit_row_fraction = 1.0  # share of a batch's rows the credit pass measures
        self.credit_margin = 0.0          # own category's credit error lowered by this share of x^2
        ident = torch.zeros(self.num_features)
        for enc, (a, b) in zip(self.encoders, self.feature_slices):
            if enc.is_identity:
                ident[a:b] = 1.0
        self.register_buffer("identity_columns", ident, persistent=False)
        self._all_identity = bool(ident.all())

    def _allows_empty_categories(self) -> bool:
        return True

    def _set_state(self, name: str, value: float) -> None:
        self.__dict__[name] = value
        getattr(self, "_" + name).fill_(float(value))

    temperature = property(lambda self: self.__dict__["temperature"],
                           lambda self, v: self._set_state("temperature", float(v)),
                           doc="Softmax temperature of the assignment (float; stepped per epoch).")
    straight_through = property(lambda self: self.__dict__["straight_through"],
                                lambda self, v: self._set_state("straight_through", bool(v)),
                                doc="Forward the hard (argmax) assignment, backward the soft gradient.")
    credit_mask = property(lambda self: self.__dict__["credit_mask"],
                           lambda self, v: self._set_state("credit_mask", float(v)),
                           doc="Masked-credit probability p (0 = off); see _encoder_inputs.")

    def _tau(self) -> torch.Tensor:
        return self._temperature.clamp(min=1e-6)

    def _credit_on(self, detached: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
        """``detached`` while masked credit is on, else ``live`` (traced: a select on the
        0-d buffer; eager: the Python mirror, no op)."""
        if torch.compiler.is_compiling():
            return torch.where(self._credit_mask > 0, detached, live)
        return detached if self.credit_mask > 0 else live

    def assignment_parameters(self) -> list[nn.Parameter]:
        return [self.assignment_logits]

    def _live_logits(self) -> torch.Tensor:
        """The logits, without gradient for the held features (same values)."""
        held = self.held_features[:, None]
        return self.assignment_logits * (1.0 - held) + self.assignment_logits.detach() * held

    def assignment_probs(self) -> torch.Tensor:
        """[F, K] = softmax(logits / temperature) (no noise)."""
        return torch.softmax(self._live_logits() / self._tau(), dim=-1)

    def hard_assignment(self) -> torch.Tensor:
        """LongTensor [F]: the category of each feature (argmax of the logits)."""
        return self.assignment_logits.detach().argmax(-1)

    @torch.no_grad()
    def fix_epoch_assignment(self) -> None:
        """The training forward pass's hard assignment := the argmax of the logits now."""
        self.epoch_one_hot.copy_(F.one_hot(self.hard_assignment(), self.num_categories).to(self.epoch_one_hot.dtype))

    def hard_categories(self) -> list[list[int]]:
        hard = self.hard_assignment().tolist()
        return [[f for f, c in enumerate(hard) if c == k] for k in range(self.num_categories)]

    def assignment_matrix(self, hard: bool | None = None) -> torch.Tensor:
        if hard is None:
            hard = not self.training
        if hard:
            return F.one_hot(self.hard_assignment(), self.num_categories).float()
        logits = self._live_logits()
        if self.gumbel_noise > 0:
            u = torch.rand_like(logits).clamp(1e-9, 1 - 1e-9)
            logits = logits - self.gumbel_noise * torch.log(-torch.log(u))
        probs = torch.softmax(logits / self._tau(), dim=-1)
        # straight-through: forward the argmax one-hot, backward the soft gradient
        if not self.straight_through:       # a Python flag also when traced: one graph per mode
            return probs
        # one_hot + (probs - sg(probs)): the forward values are exactly 0 and 1 (x - x = 0), so
        # the hard forward pass computes what static mode's one-hot P computes, bit for bit;
        # the one-hot is the epoch's (fix_epoch_assignment), or with Gumbel noise a sample per step
        if self.gumbel_noise > 0:
            one_hot = F.one_hot(probs.argmax(-1), self.num_categories).to(probs.dtype)
        else:
            one_hot = self.epoch_one_hot.to(probs.dtype)
        return one_hot + (probs - probs.detach())

    def _encoder_inputs(self, feats, membership):
        """Masked credit (training): the batch trains the model on every entry of every row
        (static mode's step; while the credit is on the encoders see P without gradient),
        and a side pass measures the credit: see :meth:`_credit_pass`.  Returns the credit
        (mask [r, F], the side pass's decoder hidden [K, r, H]) for :meth:`_recon_loss`."""
        if not self.training:
            return feats, membership, None
        return feats, self._model_p(membership), self._credit_pass(feats, membership)

    def _model_p(self, membership: torch.Tensor) -> torch.Tensor:
        """P as the encoders (and in hard mode the decoder) use it: without gradient in the
        hard forward mode and while masked credit is on (the logits then learn only from the
        credit, or from the expected error, in _recon_loss), live otherwise (soft mode
        without credit: the former, fully differentiable objective)."""
        if self.straight_through:
            return membership.detach()
        return self._credit_on(membership.detach(), membership)

    @torch.compiler.disable
    def _credit_pass(self, feats: torch.Tensor, membership: torch.Tensor):
        """The first ``credit_rows`` rows of the batch once more, without gradient, dropout or
        codebook update: every entry of an identity column is hidden from the encoders with
        probability ``credit_mask`` (the same draw for all categories), then encoded, quantized
        and decoded.  The assignment learns only from how well each category predicts the
        entries it did NOT see, so a wrong category cannot keep a feature by copying it
        through its own input; the batch itself is never masked, so the model trains as
        static mode's does (docs/decisions.md §10a).  The row count is a fixed function of
        the batch size: no data-dependent shape or host sync in the step.  Eager under
        torch.compile (a graph break; torch 2.11's dynamo met a RecursionError here)."""
        r = self.credit_rows(feats.shape[0])
        rows = feats[:r]
        compiling = torch.compiler.is_compiling()
        with torch.no_grad():
            if not compiling and self.credit_mask == 0:         # the final epochs: nothing hidden
                hide = torch.zeros_like(rows, dtype=torch.bool)
            elif rows.device.type == "cpu" and not compiling:   # nn/dropout.py's cheap mask, own stream
                hide = ~cpu_keep_mask((r, rows.shape[1]), self.credit_mask, generator=self.credit_generator)[0]
            else:
                hide = torch.rand_like(rows) < self._credit_mask
            m = hide.to(rows.dtype) * self.identity_columns
            z = self.encode_latents(rows * (1.0 - m), membership.detach(), dropout=False)
            with torch.autocast(device_type=z.device.type, enabled=False):
                _, vecs, _ = self.quantizer.quantize(z.float() * self.quantizer.dim_mask[None])
                q = self.quantizer.combine(vecs)
            return m, self.decode_hidden(q.to(z.dtype))

    @torch.no_grad()
    def held_gradients(self, params: list[nn.Parameter]) -> list[torch.Tensor]:
        """The gradients of ``params`` with the decoder outputs' entries of the features a
        category does not hold set to zero: what static mode's model has there (its output
        weights are masked by P), so a norm of these is static mode's norm."""
        held = self.epoch_one_hot.t()                                          # [K, F]
        masks = {id(self.dec_out.weight): held[:, None, :], id(self.dec_out.bias): held}
        return [p.grad * masks[id(p)] if id(p) in masks else p.grad for p in params if p.grad is not None]

    def credit_rows(self, n: int) -> int:
        """Rows of a batch of ``n`` that the credit pass measures: the first
        ``ceil(credit_row_fraction * n)``, at most CREDIT_ROWS, at least one."""
        return max(1, min(n, CREDIT_ROWS, math.ceil(self.credit_row_fraction * n)))

    def _decoder_membership(self, membership: torch.Tensor, credit):
        if credit is None:
            return membership, membership
        if self.straight_through:
            fixed = membership.detach()                   # hard: static mode's decoder, one pass
            return fixed, fixed
        if self._all_identity:           # every column is an identity column: nothing to keep
            full = self._credit_on(membership.detach(), membership)
        else:
            ident = self.identity_columns[:, None] > 0
            full = self._credit_on(torch.where(ident, membership.detach(), membership), membership)
        return full, membership

    def _recon_loss(self, recon: dict, targets: dict, hidden: torch.Tensor, membership: torch.Tensor,
                    credit=None):
        """Expected reconstruction error under the assignment.  For a column f of an
        identity family: sum_c P[f,c] (out_c,f - x_f)^2, the error of category c's own
        reconstruction of f weighted by P (out_c = every category decodes every
        feature); for an encoded family's targets: the error of the head applied to
        the P-mixed reconstruction.  Averaged over all target columns.  For a one-hot P
        (eval, static) this is exactly the plain MSE; for a soft P its gradient moves
        each feature's mass towards the categories that reconstruct it best.

        Summed over the batch without the [K, B, F] tensor: with the mixed
        reconstruction m_f = sum_c P[f,c] out_c,f that the forward pass computed,
        sum_c P[f,c] (out_c,f - x_f)^2 = sum_c P[f,c] out_c,f^2 - 2 x_f m_f + x_f^2,
        and sum_b out_c,f^2 comes from each category's Gram matrix."""
        if not self.training or credit is None:
            return target_mse(recon, targets)
        hard = bool(self.straight_through)
        mask, side = credit                       # the credit pass (_credit_pass): [r, F], [K, r, H]
        # hard forward: the value and the model's gradient are static mode's plain MSE; the
        # logits' gradient is added by value-neutral terms (x - sg(x)) below.  Soft forward:
        # the value is the expected error under P (the former objective)
        total = target_mse(recon, targets) if hard else 0.0
        count = 0
        # credit and probe are stochastic estimates on the credit pass's r rows, scaled to the
        # batch; the expected error itself is summed exactly over the batch
        n, rows = hidden.shape[1], side.shape[1]
        scale = n / rows
        probe = None
        with torch.no_grad():
            self.probe_rows += rows
        terms = 0.0
        for fam, enc, (a, b) in zip(self.families, self.encoders, self.feature_slices):
            t = targets[fam.name].float()
            count += t.numel()
            if not enc.is_identity:
                if not hard:
                    terms = terms + ((recon[fam.name].float() - t) ** 2).sum()
                continue
            if probe is None:
                probe = self.dec_out.per_category(side)                         # [K, r, F]
            pt = column_range(membership.t(), a, b)                                  # [K, f]
            p = self._credit_mask
            if hard:
                # credit off: the expected error's P gradient, sum_c P[f,c] (sq - 2 C)[c,f] with
                # C[c,f] = sum_b x_f out_c,f (model outputs held); credit on: none (eager:
                # not computed; traced: multiplied by 0)
                if torch.compiler.is_compiling() or self.credit_mask == 0:
                    with torch.no_grad():
                        sq = self.dec_out.batch_sq_norm(hidden, a, b)
                        cross = self.dec_out.batch_cross(hidden, t, a, b)
                    own = (pt * (sq - 2.0 * cross)).sum()
                    terms = terms + (own - own.detach()) * (self._credit_mask <= 0)
            else:
                sq = self.dec_out.batch_sq_norm(hidden, a, b)                 # [K, f]
                cross = 2.0 * (t * recon[fam.name].float()).sum() - (t * t).sum()
                # value: the expected error.  Without credit (p = 0) its P gradient trains the
                # assignment; with credit the model gradient still covers all entries (the
                # mixed reconstruction carries no P gradient then, see _decoder_membership)
                terms = terms + (sq * self._credit_on(pt.detach(), pt)).sum() - cross
            fam_probe = column_range(probe, a, b)                                    # [K, r, f]
            probe_sq = (fam_probe - t[None, :rows]) ** 2                      # [K, r, f]
            err = probe_sq.detach()
            probe_sum = probe_sq.sum(1)                                       # [K, f]
            with torch.no_grad():
                self.probe_error[:, a:b] += probe_sum.detach()
            # the P gradient from the hidden entries of the credit pass (scaled by 1/p); with a
            # move_margin the error of the category holding f is lowered by that share of the
            # entries' energy (their mean square: the variance of a standardized column), so f
            # moves only to a category whose mean squared error on it is lower by more
            hidden_entries = mask[None, :, a:b]                                       # [1, r, f]
            weight = scale / p.clamp(min=1e-6)
            hidden_err = (err * hidden_entries).sum(1) * weight
            if self.credit_margin:
                energy = (t[None, :rows] ** 2 * hidden_entries).sum(1) * weight          # [1, f]
                hidden_err = hidden_err - self.credit_margin * energy * pt.detach()
            credit_term = (hidden_err * pt).sum()
            terms = terms + (credit_term - credit_term.detach())
            # probe: every category's output for a feature it does not hold learns to
            # predict that feature from the category's credit-pass decoder state, so the
            # credit err[c, f] of a category that could take f over is a real measurement
            # (its weight 1 - P: value-neutral, only the output weights get its gradient)
            perr = probe_sum * scale                                          # [K, f]
            probe_term = (perr * (1.0 - pt).detach()).sum()
            terms = terms + (probe_term - probe_term.detach())
        return total + terms / count

    def _extra_terms(self) -> dict:
        probs = self.assignment_probs()
        return {"assign_orthogonality": assignment_orthogonality(probs),
                "assign_balance": assignment_balance(probs)}

    def export_config(self) -> dict:
        cfg = super().export_config()
        cfg["init_scale"] = self.init_scale
        cfg["temperature"] = self.temperature
        cfg["hard_categories"] = self.hard_categories()
        if self.category_ids is not None:              # pruned: original index and name per category
            cfg["category_ids"] = list(self.category_ids)
            cfg["category_names"] = list(self.category_names)
        return cfg

    # ------------------------------------------------------------------ pruning
    # set by prune_categories: the original index / name of every remaining category
    category_ids: list[int] | None = None
    category_names: list[str] | None = None

    def category_slicers(self, keep: list[int]) -> dict:
        """name -> function slicing that parameter or buffer (or its optimizer moments) down
        to the categories ``keep``: every per-category tensor along its K dim, the logits
        and the membership along their category column, the padded code/latent dims down
        to the largest kept codebook and latent width."""
        idx = torch.as_tensor(keep, dtype=torch.long)
        levels = [self.level_spec[k] for k in keep]
        if self.level_structure == "parallel":     # slots keep their width (nn/parallel_levels.py)
            dmax, qdim = int(self.quantizer.dim_mask.shape[1]), self.quantizer.dim
        else:
            dmax = qdim = max(max(d for _, d in lv) for lv in levels)
        cmax = max(n for lv in levels for n, _ in lv)

        def k_only(t):
            return t[idx.to(t.device)]

        def cols(t):
            return t[:, idx.to(t.device)]

        out = {f"{m}.{w}": k_only for m in ("enc_in", "enc_mid", "enc_norm", "dec_out") for w in ("weight", "bias")}
        out.update({
            "enc_out.weight": lambda t: k_only(t)[..., :dmax], "enc_out.bias": lambda t: k_only(t)[..., :dmax],
            "dec_in.weight": lambda t: k_only(t)[:, :dmax], "dec_in.bias": k_only,
            "assignment_logits": cols, "membership": cols, "epoch_one_hot": cols, "probe_error": k_only,
            "quantizer.codebook_sizes": k_only,
            "quantizer.code_mask": lambda t: k_only(t)[..., :cmax],
            "quantizer.dim_mask": lambda t: k_only(t)[:, :dmax],
            "quantizer.codebook": lambda t: k_only(t)[:, :, :cmax, :qdim],
            "quantizer.embed_sum": lambda t: k_only(t)[:, :, :cmax, :qdim],
            "quantizer.cluster_size": lambda t: k_only(t)[..., :cmax],
            "quantizer.usage_since_reset": lambda t: k_only(t)[..., :cmax],
        })
        out.update(partial_slicers(self, k_only))
        return out

    @torch.no_grad()
    def prune_categories(self, keep: list[int]) -> dict:
        """Remove every category not in ``keep`` (current indices), in place: every
        per-category parameter and buffer is sliced along K (see category_slicers), the
        logits lose the removed columns (softmax renormalises each feature over the
        remaining categories, so the removed categories' features are reassigned to
        their next-best category), and categories / levels / export_config follow the
        smaller model.  New Parameter objects replace the old ones: rebuild optimizers
        (the returned slicers cut their moments the same way).  Returns the slicers."""
        keep = sorted({int(k) for k in keep})
        k_old = self.num_categories
        if not keep or keep[0] < 0 or keep[-1] >= k_old:
            raise ValueError(f"keep must name categories in [0, {k_old}), got {keep}")
        ids = self.category_ids if self.category_ids is not None else list(range(k_old))
        names = self.category_names if self.category_names is not None else [f"category_{i}" for i in ids]
        slicers = self.category_slicers(keep)
        params, buffers = dict(self.named_parameters()), dict(self.named_buffers())
        for name, fn in slicers.items():
            owner_path, _, leaf = name.rpartition(".")
            owner = self.get_submodule(owner_path) if owner_path else self
            if name in params:
                old = params[name]
                setattr(owner, leaf, nn.Parameter(fn(old.detach()).clone(), requires_grad=old.requires_grad))
            elif name in buffers:
                owner._buffers[leaf] = fn(buffers[name]).clone()
        self.categories = [self.categories[k] for k in keep]
        self.level_spec = [self.level_spec[k] for k in keep]
        self.latent_dims = self._latent_dims(self.level_spec)
        self.num_categories = len(keep)
        q = self.quantizer
        q.num_categories, q.max_codes, q.dim = len(keep), int(q.codebook_sizes.max()), int(q.codebook.shape[-1])
        q._last_residuals = q._last_errors = None
        self.category_ids = [int(ids[k]) for k in keep]
        self.category_names = [names[k] for k in keep]
        return slicers

    @classmethod
    def _config_kwargs(cls, cfg: dict) -> dict:
        return {"init_scale": cfg.get("init_scale"), "temperature": float(cfg.get("temperature", 1.0))}

