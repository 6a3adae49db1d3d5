"""The categorical hierarchical VQ-VAE with static categories (the base model).

Pipeline (docs/model.md has the full description):

    batch --family encoders--> features [B, F] --P--> per-category encoder
    (grouped MLP) --> latents z [B, K, D] --> batched residual VQ (L levels)
    --> grouped decoder --P--> x_hat [B, F] --per-family heads--> targets

P [F, K] is the membership matrix: a fixed one-hot buffer here, softmax(logits /
tau) in the learnable subclass (nn/learnable.py).  Nothing loops over categories.
"""
from __future__ import annotations


import torch
from torch import nn
import torch.nn.functional as F

from spinlock_spec.config.sections import ModelConfig
from spinlock_spec.registry import ENCODERS

from .layout import family_feature_names
from .dropout import Dropout
from .grouped import GroupedLayerNorm, GroupedLinear, MembershipInput, MembershipOutput
from .inputs import FamilyInput, ModelOutput, jsonable, resolve_levels
from .losses import category_decorrelation, target_mse, topographic
from .parallel_levels import BatchedParallelVQ, PartialDecoders, parallel_layout
from .quantizer import BatchedResidualVQ

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}
CONFIG_FORMAT = "spinlock-spec/categorical-vqvae"
CONFIG_VERSION = 1


class CategoricalHierarchicalVQVAE(nn.Module):
    """Static categories: P is a fixed one-hot buffer built from ``categories``."""

    def __init__(self, families: list[FamilyInput], categories: list[list[int]], levels=None,
                 model_cfg: ModelConfig | dict | None = None):
        """``model_cfg``: the typed model section (``ModelConfig``); a dict (a notebook, an
        old checkpoint) is read through ``ModelConfig.from_dict``, which owns the defaults."""
        super().__init__()
        cfg = model_cfg if isinstance(model_cfg, ModelConfig) else ModelConfig.from_dict(model_cfg)
        self.config = cfg
        self.families = [f if isinstance(f, FamilyInput) else FamilyInput.from_json(f) for f in families]
        if not self.families:
            raise ValueError("the model needs at least one family")
        self._levels_arg = levels

        # -- family encoders, heads, feature layout ----------------------------
        self.encoders = nn.ModuleList()
        self.heads = nn.ModuleList()
        self.feature_names: list[str] = []
        self.feature_slices: list[tuple[int, int]] = []
        offset = 0
        for fam in self.families:
            enc = ENCODERS.get(fam.encoder).build(fam.shape, fam.fields_shape, fam.encoder_params)
            self.encoders.append(enc)
            self.heads.append(nn.Identity() if enc.is_identity else nn.Linear(enc.out_dim, enc.target_dim))
            self.feature_slices.append((offset, offset + enc.out_dim))
            offset += enc.out_dim
            self.feature_names += self._names_of(fam, enc)
        self.num_features = offset

        # -- categories ---------------------------------------------------------
        self.categories = self._check_categories(categories, self.num_features)
        k = len(self.categories)
        self.num_categories = k
        self.level_spec = resolve_levels(levels, [len(c) for c in self.categories])
        self.num_levels = len(self.level_spec[0])
        self.level_structure = cfg.level_structure
        self.latent_dims = self._latent_dims(self.level_spec)
        if self.level_structure == "parallel":     # slots of width qdim, one per level (nn/parallel_levels.py)
            qdim, dim_mask = parallel_layout(self.level_spec)
            dmax, quantizer_cls = dim_mask.shape[1], BatchedParallelVQ
        else:
            dmax = qdim = max(self.latent_dims)
            dim_mask = (torch.arange(dmax)[None, :] < torch.tensor(self.latent_dims)[:, None]).float()
            quantizer_cls = BatchedResidualVQ
        sizes = torch.tensor([[n for n, _ in lv] for lv in self.level_spec], dtype=torch.long)
        self.register_buffer("membership", self._one_hot(self.categories, self.num_features))

        # -- per-category networks ----------------------------------------------
        hidden, emb = cfg.group_hidden_dim, cfg.group_embedding_dim
        fan_in = max(self.num_features / k, 1.0)
        self.enc_in = MembershipInput(self.num_features, k, hidden, fan_in)
        self.enc_mid = GroupedLinear(k, hidden, emb)
        self.enc_norm = GroupedLayerNorm(k, emb)
        self.enc_out = GroupedLinear(k, emb, dmax)
        self.dec_in = GroupedLinear(k, dmax, hidden)
        self.dec_out = MembershipOutput(self.num_features, k, hidden)
        self.dropout = Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.quantizer = quantizer_cls(
            sizes, qdim, dim_mask, commitment_cost=cfg.commitment_cost, decay=cfg.decay,
            kmeans_iters=cfg.kmeans_iters, dead_code_fraction=cfg.dead_code_fraction,
            reset_interval=cfg.dead_code_interval, init_from_data=cfg.codebook_init == "kmeans")
        self.partial = (PartialDecoders(self.num_features, k, self.num_levels, qdim, hidden)
                        if self.level_structure == "parallel" else None)
        self.topo_samples = cfg.topo_samples
        self.info_samples = max(cfg.info_samples, 1)
        self.act = _ACTIVATIONS[cfg.activation]

    # ------------------------------------------------------------------ layout
    @staticmethod
    def _names_of(fam: FamilyInput, enc) -> list[str]:
        manual = enc.out_dim if enc.is_identity else getattr(enc, "manual_dim", 0)
        return family_feature_names(fam.name, fam.column_names, enc.out_dim, manual)

    def _check_categories(self, categories, num_features: int) -> list[list[int]]:
        cats = [[int(i) for i in c] for c in categories]
        if not cats:
            raise ValueError("the model needs at least one category")
        seen: set[int] = set()
        for ci, c in enumerate(cats):
            if not c and not self._allows_empty_categories():
                raise ValueError(f"category {ci} is empty")
            for i in c:
                if not 0 <= i < num_features:
                    raise ValueError(f"category {ci} names feature {i}; the model has {num_features} features")
                if i in seen:
                    raise ValueError(f"feature {i} ({self.feature_names[i]}) is in more than one category")
                seen.add(i)
        return cats

    def _allows_empty_categories(self) -> bool:
        return False

    def _latent_dims(self, level_spec) -> list[int]:
        """Latent width per category: the widest level (residual) or the levels' sum (parallel)."""
        if self.level_structure == "parallel":
            return [sum(d for _, d in lv) for lv in level_spec]
        return [max(d for _, d in lv) for lv in level_spec]

    @staticmethod
    def _one_hot(categories: list[list[int]], num_features: int) -> torch.Tensor:
        p = torch.zeros(num_features, len(categories))
        for c, members in enumerate(categories):
            p[members, c] = 1.0
        return p

    @property
    def codebook_sizes(self) -> torch.Tensor:
        """LongTensor [K, L]."""
        return self.quantizer.codebook_sizes

    def model_parameters(self) -> list[nn.Parameter]:
        skip = {id(p) for p in self.assignment_parameters()}
        return [p for p in self.parameters() if id(p) not in skip]

    def assignment_parameters(self) -> list[nn.Parameter]:
        return []

    def assignment_matrix(self, hard: bool | None = None) -> torch.Tensor:
        """P [F, K] used by the forward pass."""
        return self.membership

    # ------------------------------------------------------------------ pieces
    def features(self, batch: dict) -> torch.Tensor:
        """Concatenated family encoder outputs [B, F]."""
        outs = []
        for fam, enc in zip(self.families, self.encoders):
            x = batch.get(fam.name)
            outs.append(enc(x.float() if x is not None else None, lengths=batch.get(f"{fam.name}/lengths"),
                            fields=batch.get(f"{fam.name}/fields")))
        return torch.cat(outs, dim=1).float()

    def targets(self, batch: dict) -> dict:
        """Family -> fixed reconstruction target [B, target_dim] (no gradient)."""
        out = {}
        with torch.no_grad():
            for fam, enc in zip(self.families, self.encoders):
                x = batch.get(fam.name)
                fields = batch.get(f"{fam.name}/fields")
                out[fam.name] = enc.target(x.float() if x is not None else None,
                                           lengths=batch.get(f"{fam.name}/lengths"),
                                           fields=fields.float() if fields is not None else None).float()
        return out

    def encode_latents(self, feats: torch.Tensor, membership: torch.Tensor, dropout: bool = True) -> torch.Tensor:
        """[B, F] -> z [B, K, D] (padded latent dims are zero)."""
        h = self.act(self.enc_in(feats, membership))
        h = self.dropout(h) if dropout else h
        h = self.act(self.enc_norm(self.enc_mid(h)))
        z = self.enc_out(h).transpose(0, 1)
        return z * self.quantizer.dim_mask[None]

    def decode_hidden(self, q: torch.Tensor) -> torch.Tensor:
        """q [B, K, D] -> per-category decoder hidden [K, B, H]."""
        return self.act(self.dec_in(q.transpose(0, 1)))

    def decode_latents(self, q: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
        """q [B, K, D] -> x_hat [B, F]."""
        return self.dec_out(self.decode_hidden(q), membership)

    def apply_heads(self, xhat: torch.Tensor) -> dict:
        """Reconstructed features [B, F] -> family -> predicted target."""
        return {fam.name: head(xhat[:, a:b])
                for fam, head, (a, b) in zip(self.families, self.heads, self.feature_slices)}

    # ------------------------------------------------------------------ forward
    def forward(self, batch: dict) -> ModelOutput:
        feats = self.features(batch)
        targets = self.targets(batch)
        membership = self.assignment_matrix()
        enc_feats, enc_membership, credit = self._encoder_inputs(feats, membership)
        z = self.encode_latents(enc_feats, enc_membership)
        vq = self.quantizer(z)
        if self.partial is not None:
            return self._parallel_output(targets, membership, credit, z, vq)
        # info: decode the level-0 codes alone (straight-through to z) on the first info_samples rows,
        # in the same decoder pass as the full reconstruction
        b, n_info = z.shape[0], min(self.info_samples, z.shape[0])
        coarse = z[:n_info] + (vq.level_quantized[:n_info, :, 0] - z[:n_info]).detach()
        dec_membership, coarse_membership = self._decoder_membership(membership, credit)
        if dec_membership is coarse_membership:
            hidden = self.decode_hidden(torch.cat([vq.quantized, coarse]))
            both = self.dec_out(hidden, dec_membership)
            hidden, full, coarse_recon = hidden[:, :b], both[:b], both[b:]
        else:    # two passes: the coarse (info) rows keep the P gradient that the full rows lose
            hidden = self.decode_hidden(vq.quantized)
            full = self.dec_out(hidden, dec_membership)
            coarse_recon = self.dec_out(self.decode_hidden(coarse), coarse_membership)
        recon = self.apply_heads(full)
        recon_loss = self._recon_loss(recon, targets, hidden, membership, credit)
        info_loss = target_mse(self.apply_heads(coarse_recon), {k: v[:n_info] for k, v in targets.items()})
        return self._output(z, vq, recon, targets, recon_loss, info_loss)

    def _parallel_output(self, targets, membership, credit, z, vq) -> ModelOutput:
        """Parallel levels: the shared decoder reads the concatenated codes; the partial
        decoders rebuild the input from each level's code alone (info, first info_samples rows)."""
        hidden = self.decode_hidden(vq.quantized)
        dec_membership, coarse_membership = self._decoder_membership(membership, credit)
        full = self.dec_out(hidden, dec_membership)
        recon = self.apply_heads(full)
        recon_loss = self._recon_loss(recon, targets, hidden, membership, credit)
        n_info = min(self.info_samples, z.shape[0])
        sub = {k: v[:n_info] for k, v in targets.items()}
        parts = self.partial(z[:n_info], vq.level_quantized[:n_info], coarse_membership, self.act)
        info_loss = torch.stack([target_mse(self.apply_heads(x), sub) for x in parts]).mean()
        return self._output(z, vq, recon, targets, recon_loss, info_loss)

    def _output(self, z, vq, recon, targets, recon_loss, info_loss) -> ModelOutput:
        ortho = category_decorrelation(z, self.quantizer.dim_mask)
        tcat = torch.cat(list(targets.values()), dim=1)
        topo, pre, post = topographic(tcat, z, self.quantizer.combine(vq.level_quantized), self.topo_samples)
        terms = {"recon": recon_loss, "vq": vq.loss, "ortho": ortho, "info": info_loss, "topo": topo}
        terms.update(self._extra_terms())
        return ModelOutput(terms=terms, codes=vq.codes, reconstruction=recon, targets=targets, latents=z,
                           quantized=vq.quantized, extras={"topo_pre": pre.detach(), "topo_post": post.detach()})

    def _encoder_inputs(self, feats: torch.Tensor, membership: torch.Tensor):
        """(features, membership) the category encoders see, and the credit mask of the
        learnable model's masked credit (None: no credit)."""
        return feats, membership, None

    def _decoder_membership(self, membership: torch.Tensor, credit) -> tuple[torch.Tensor, torch.Tensor]:
        """P as the decoder's mixing uses it: (for the full reconstruction, for the coarse
        info rows); one object when both are the same (one decoder pass).  The learnable
        model detaches it where its logits must not learn from the reconstruction."""
        return membership, membership

    def _extra_terms(self) -> dict:
        return {}

    def _recon_loss(self, recon: dict, targets: dict, hidden: torch.Tensor, membership: torch.Tensor,
                    credit=None):
        """MSE over all target columns (hidden: decoder hidden [K, B, H] of these rows)."""
        return target_mse(recon, targets)

    def identity_square_errors(self, out: ModelOutput) -> torch.Tensor:
        """[F]: each identity feature's squared reconstruction error summed over ``out``'s rows
        (0 for the features of encoded families, whose targets are not the features)."""
        parts = []
        for fam, enc, (a, b) in zip(self.families, self.encoders, self.feature_slices):
            if enc.is_identity:
                parts.append(((out.reconstruction[fam.name].float() - out.targets[fam.name].float()) ** 2).sum(0))
            else:
                parts.append(torch.zeros(b - a, device=out.latents.device))
        return torch.cat(parts)

    # ------------------------------------------------------------------ tokens
    @torch.no_grad()
    def encode(self, batch: dict) -> torch.Tensor:
        """Token ids [B, K, L] (eval behaviour, no EMA update, training flag restored)."""
        was = self.training
        self.eval()
        try:
            z = self.encode_latents(self.features(batch), self.assignment_matrix(hard=True))
            with torch.autocast(device_type=z.device.type, enabled=False):
                codes, _, _ = self.quantizer.quantize(z.float() * self.quantizer.dim_mask[None])
        finally:
            self.train(was)
        return codes

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor, levels: int | None = None) -> dict:
        """Token ids [B, K, L] -> family -> reconstructed target.  ``levels`` limits
        decoding to the first levels (coarse reconstruction)."""
        q = self.quantizer.lookup(codes.to(self.quantizer.dim_mask.device), levels)
        return self.apply_heads(self.decode_latents(q, self.assignment_matrix(hard=True)))

    # ------------------------------------------------------------------ config
    def export_config(self) -> dict:
        """JSON-serialisable description that :meth:`from_config` rebuilds the model from
        (weights come separately, e.g. a safetensors state_dict)."""
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "model_class": type(self).__name__,
            "families": [f.to_json() for f in self.families],
            "categories": [list(c) for c in self.categories],
            "levels": [[[n, d] for n, d in lv] for lv in self.level_spec],
            "model_cfg": jsonable(self.config.to_dict()),
            "feature_names": list(self.feature_names),
            "codebook_sizes": self.codebook_sizes.tolist(),
            "latent_dims": list(self.latent_dims),
        }

    @classmethod
    def from_config(cls, cfg: dict) -> CategoricalHierarchicalVQVAE:
        if cfg.get("format") != CONFIG_FORMAT:
            raise ValueError(f"not a {CONFIG_FORMAT} config (format={cfg.get('format')!r})")
        if int(cfg.get("version", 0)) > CONFIG_VERSION:
            raise ValueError(f"config version {cfg.get('version')} is newer than supported ({CONFIG_VERSION})")
        from .model import MODEL_CLASSES

        target = MODEL_CLASSES.get(cfg.get("model_class", ""))
        if target is None:
            raise ValueError(f"unknown model_class {cfg.get('model_class')!r}")
        kwargs = target._config_kwargs(cfg)
        model = target(families=[FamilyInput.from_json(f) for f in cfg["families"]],
                       categories=cfg["categories"], levels=cfg["levels"], model_cfg=cfg.get("model_cfg"), **kwargs)
        if cfg.get("category_ids") is not None:        # a pruned model (see prune_categories)
            model.category_ids = [int(i) for i in cfg["category_ids"]]
            model.category_names = [str(n) for n in cfg["category_names"]]
        return model

    @classmethod
    def _config_kwargs(cls, cfg: dict) -> dict:
        return {}
