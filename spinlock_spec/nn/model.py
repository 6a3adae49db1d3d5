"""Categorical hierarchical VQ-VAE (static and learnable category assignment).

Pipeline (docs/model.md has the full description):

    batch --family encoders--> features [B, F] --P--> per-category encoder
    (grouped MLP) --> latents z [B, K, D] --> batched residual VQ (L levels)
    --> grouped decoder --P--> x_hat [B, F] --per-family heads--> targets

P [F, K] is the membership matrix: a fixed one-hot buffer for the static model,
softmax(logits / tau) for the learnable one.  Nothing loops over categories.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from spinlock_spec.registry import ENCODERS

from .dropout import Dropout, cpu_keep_mask
from .grouped import GroupedLayerNorm, GroupedLinear, MembershipInput, MembershipOutput
from .losses import assignment_balance, assignment_orthogonality, category_decorrelation, topographic
from .quantizer import BatchedResidualVQ
from .sizing import auto_levels

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}
CONFIG_FORMAT = "spinlock-spec/categorical-vqvae"
CREDIT_ROWS = 128        # rows of a batch that estimate the learnable assignment's credit and probe
CONFIG_VERSION = 1

# Defaults of the model section keys this module reads (model_cfg.get(key, default)).
MODEL_DEFAULTS = {
    "group_hidden_dim": 64,        # hidden width of each category's encoder and decoder MLP
    "group_embedding_dim": 32,     # width of each category's embedding (LayerNorm) before the latent projection
    "commitment_cost": 0.25,       # beta of the commitment loss
    "decay": 0.99,                 # EMA decay of the codebooks
    "activation": "relu",          # relu | gelu | silu inside the category MLPs
    "dropout": 0.0,                # dropout after the category encoders' hidden layer
    "uniform_codebook_init": True,  # True: codebooks from data (sampled rows + k-means); False: random normal
    "kmeans_iters": 10,            # Lloyd iterations of the data initialisation
    "dead_code_fraction": 0.2,     # dead code: EMA count < fraction x uniform share n / C
    "dead_code_interval": 1,       # re-seed dead codes every this many training steps (0 = never)
    "topo_samples": 256,           # rows used by the topographic term
    "info_samples": 128,           # rows used by the informativeness term
    "assignment_init_scale": 1.0,  # learnable: initial logit of a feature's initial category
}


@dataclass
class FamilyInput:
    """One feature family as the model sees it (no raw spec)."""
    name: str
    encoder: str                                  # canonical registry name or alias
    encoder_params: dict = field(default_factory=dict)
    input_kind: str = "tabular"
    shape: tuple | None = None                    # per-sample shape of batch[name]
    fields_shape: tuple | None = None             # per-sample (C, H, W) of batch[name + "/fields"]
    column_names: list[str] | None = None         # names of the columns (identity / hybrid manual)

    def to_json(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        d["fields_shape"] = list(self.fields_shape) if self.fields_shape is not None else None
        d["encoder_params"] = copy.deepcopy(dict(self.encoder_params))
        return d

    @classmethod
    def from_json(cls, d: dict) -> FamilyInput:
        d = dict(d)
        for key in ("shape", "fields_shape"):
            if d.get(key) is not None:
                d[key] = tuple(int(s) for s in d[key])
        return cls(**d)


@dataclass
class ModelOutput:
    terms: dict                       # unweighted scalar loss terms
    codes: torch.Tensor               # [B, K, L] long
    reconstruction: dict              # family -> predicted target [B, target_dim]
    targets: dict                     # family -> target [B, target_dim]
    latents: torch.Tensor             # [B, K, D] pre-quantization
    quantized: torch.Tensor           # [B, K, D] straight-through quantized latents
    extras: dict = field(default_factory=dict)  # topo_pre, topo_post, recon_mse (floats as tensors)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _parse_level(level) -> tuple[int, int]:
    if isinstance(level, dict):
        return int(level["num_tokens"]), int(level["latent_dim"])
    n, d = level
    return int(n), int(d)


def resolve_levels(levels, category_sizes: list[int]) -> list[list[tuple[int, int]]]:
    """Per-category [(num_tokens, latent_dim)] lists.  ``levels`` is None/[]
    (automatic, spinlock_spec.nn.sizing), one list used by every category, or
    one list per category.  All categories must have the same number of levels."""
    if not levels:
        per_cat = [auto_levels(max(n, 1)) for n in category_sizes]
    elif all(isinstance(lv, (list, tuple)) and lv and isinstance(lv[0], (list, tuple, dict)) for lv in levels):
        if len(levels) != len(category_sizes):
            raise ValueError(f"per-category levels given for {len(levels)} categories, "
                             f"model has {len(category_sizes)}")
        per_cat = [[_parse_level(x) for x in lv] for lv in levels]
    else:
        shared = [_parse_level(x) for x in levels]
        per_cat = [list(shared) for _ in category_sizes]
    counts = {len(lv) for lv in per_cat}
    if len(counts) != 1:
        raise ValueError(f"every category needs the same number of levels, got {sorted(counts)}")
    for lv in per_cat:
        for n, d in lv:
            if n < 1 or d < 1:
                raise ValueError(f"levels need num_tokens >= 1 and latent_dim >= 1, got {(n, d)}")
    return per_cat


def _cols(t: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """t[..., a:b], or t itself for the full range (a slice costs a zero-filled gradient)."""
    return t if a == 0 and b == t.shape[-1] else t[..., a:b]


def _mse(pred: dict, target: dict) -> torch.Tensor:
    p = torch.cat([pred[k] for k in target], dim=1)
    t = torch.cat([target[k] for k in target], dim=1)
    return F.mse_loss(p.float(), t.float())


class CategoricalHierarchicalVQVAE(nn.Module):
    """Static categories: P is a fixed one-hot buffer built from ``categories``."""

    def __init__(self, families: list[FamilyInput], categories: list[list[int]], levels=None,
                 model_cfg: dict | None = None):
        super().__init__()
        cfg = dict(model_cfg or {})
        self.model_cfg = cfg
        get = lambda key: cfg.get(key, MODEL_DEFAULTS[key]) if cfg.get(key) is not None else MODEL_DEFAULTS[key]
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
            builder = ENCODERS.get(fam.encoder).load_builder()
            enc = builder(fam.shape, fam.fields_shape, **dict(fam.encoder_params or {}))
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
        lat = [max(d for _, d in lv) for lv in self.level_spec]
        self.latent_dims = lat
        dmax = max(lat)
        dim_mask = (torch.arange(dmax)[None, :] < torch.tensor(lat)[:, None]).float()
        sizes = torch.tensor([[n for n, _ in lv] for lv in self.level_spec], dtype=torch.long)
        self.register_buffer("membership", self._one_hot(self.categories, self.num_features))

        # -- per-category networks ----------------------------------------------
        hidden, emb = int(get("group_hidden_dim")), int(get("group_embedding_dim"))
        fan_in = max(self.num_features / k, 1.0)
        self.enc_in = MembershipInput(self.num_features, k, hidden, fan_in)
        self.enc_mid = GroupedLinear(k, hidden, emb)
        self.enc_norm = GroupedLayerNorm(k, emb)
        self.enc_out = GroupedLinear(k, emb, dmax)
        self.dec_in = GroupedLinear(k, dmax, hidden)
        self.dec_out = MembershipOutput(self.num_features, k, hidden)
        self.dropout = Dropout(float(get("dropout"))) if float(get("dropout")) > 0 else nn.Identity()
        self.quantizer = BatchedResidualVQ(
            sizes, dmax, dim_mask, commitment_cost=float(get("commitment_cost")), decay=float(get("decay")),
            kmeans_iters=int(get("kmeans_iters")), dead_code_fraction=float(get("dead_code_fraction")),
            reset_interval=int(get("dead_code_interval")), init_from_data=bool(get("uniform_codebook_init")))
        if cfg.get("use_ema") is False:
            warnings.warn("model.use_ema: false is not supported; codebooks are updated by EMA "
                          "(docs/model.md)", stacklevel=2)
        self.topo_samples = int(get("topo_samples"))
        self.info_samples = max(int(get("info_samples")), 1)
        act = str(get("activation"))
        if act not in _ACTIVATIONS:
            raise ValueError(f"model.activation must be one of {sorted(_ACTIVATIONS)}, got {act!r}")
        self.act = _ACTIVATIONS[act]

    # ------------------------------------------------------------------ layout
    @staticmethod
    def _names_of(fam: FamilyInput, enc) -> list[str]:
        if enc.is_identity:
            cols = fam.column_names or [f"col{j}" for j in range(enc.out_dim)]
            return [f"{fam.name}:{c}" for c in cols]
        manual = getattr(enc, "manual_dim", 0)
        if manual:
            cols = fam.column_names or [f"col{j}" for j in range(manual)]
            return [f"{fam.name}:{c}" for c in cols] + [f"{fam.name}:emb{j}" for j in range(enc.out_dim - manual)]
        return [f"{fam.name}:emb{j}" for j in range(enc.out_dim)]

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

    def encode_latents(self, feats: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
        """[B, F] -> z [B, K, D] (padded latent dims are zero)."""
        h = self.dropout(self.act(self.enc_in(feats, membership)))
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
        # info: decode the level-0 codes alone (straight-through to z) on the first info_samples rows,
        # in the same decoder pass as the full reconstruction
        b, n_info = z.shape[0], min(self.info_samples, z.shape[0])
        coarse = z[:n_info] + (vq.level_quantized[:n_info, :, 0] - z[:n_info]).detach()
        dec_membership = self._decoder_membership(membership, credit)
        if dec_membership is membership:
            hidden = self.decode_hidden(torch.cat([vq.quantized, coarse]))
            both = self.dec_out(hidden, membership)
            hidden, full, coarse_recon = hidden[:, :b], both[:b], both[b:]
        else:    # two passes: the coarse (info) rows keep the P gradient that the full rows lose
            hidden = self.decode_hidden(vq.quantized)
            full = self.dec_out(hidden, dec_membership)
            coarse_recon = self.dec_out(self.decode_hidden(coarse), membership)
        recon = self.apply_heads(full)
        recon_loss = self._recon_loss(recon, targets, hidden, membership, credit)
        info_loss = _mse(self.apply_heads(coarse_recon), {k: v[:n_info] for k, v in targets.items()})
        ortho = category_decorrelation(z, self.quantizer.dim_mask)
        tcat = torch.cat(list(targets.values()), dim=1)
        topo, pre, post = topographic(tcat, z, vq.level_quantized.sum(2), self.topo_samples)
        terms = {"recon": recon_loss, "vq": vq.loss, "ortho": ortho, "info": info_loss, "topo": topo}
        terms.update(self._extra_terms())
        return ModelOutput(terms=terms, codes=vq.codes, reconstruction=recon, targets=targets, latents=z,
                           quantized=vq.quantized, extras={"topo_pre": pre.detach(), "topo_post": post.detach()})

    def _encoder_inputs(self, feats: torch.Tensor, membership: torch.Tensor):
        """(features, membership) the category encoders see, and the credit mask of the
        learnable model's masked credit (None: no credit)."""
        return feats, membership, None

    def _decoder_membership(self, membership: torch.Tensor, credit) -> torch.Tensor:
        """P as the decoder's mixing uses it (learnable + masked credit: no P gradient
        through the identity columns' mixed reconstruction)."""
        return membership

    def _extra_terms(self) -> dict:
        return {}

    def _recon_loss(self, recon: dict, targets: dict, hidden: torch.Tensor, membership: torch.Tensor,
                    credit=None):
        """MSE over all target columns (hidden: decoder hidden [K, B, H] of these rows)."""
        return _mse(recon, targets)

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
            "model_cfg": _jsonable(self.model_cfg),
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


class LearnableCategoricalVQVAE(CategoricalHierarchicalVQVAE):
    """Learnable categories: P = softmax(logits / temperature) per feature.

    ``categories`` is the *initial* assignment (clustering or mapping file):
    logit = ``init_scale`` for the initial category, 0 elsewhere (a feature in no
    initial category starts uniform).  Level sizes follow the initial sizes.

    Training forward: P soft, optional Gumbel noise (``gumbel_noise`` = its scale,
    0 = off) and optional straight-through hard assignment (``straight_through``:
    forward one-hot argmax, backward the soft gradient).  Eval mode, ``encode``
    and ``decode_codes`` use the hard assignment (argmax one-hot), which is what
    checkpoints and tokens mean after training.
    """

    def __init__(self, families, categories, levels=None, model_cfg=None, init_scale: float | None = None,
                 temperature: float = 1.0):
        super().__init__(families, categories, levels, model_cfg)
        scale = float(init_scale if init_scale is not None else
                      (self.model_cfg.get("assignment_init_scale") or MODEL_DEFAULTS["assignment_init_scale"]))
        self.init_scale = scale
        self.assignment_logits = nn.Parameter(self._one_hot(self.categories, self.num_features) * scale)
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
        self.temperature = float(temperature)
        self.gumbel_noise = 0.0
        self.straight_through = False
        self.credit_mask = 0.0          # masked credit probability (the trainer sets it)
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

    def assignment_probs(self) -> torch.Tensor:
        """[F, K] = softmax(logits / temperature) (no noise)."""
        return torch.softmax(self.assignment_logits / self._tau(), dim=-1)

    def hard_assignment(self) -> torch.Tensor:
        """LongTensor [F]: the category of each feature (argmax of the logits)."""
        return self.assignment_logits.detach().argmax(-1)

    def hard_categories(self) -> list[list[int]]:
        hard = self.hard_assignment().tolist()
        return [[f for f, c in enumerate(hard) if c == k] for k in range(self.num_categories)]

    def assignment_matrix(self, hard: bool | None = None) -> torch.Tensor:
        if hard is None:
            hard = not self.training
        if hard:
            return F.one_hot(self.hard_assignment(), self.num_categories).float()
        logits = self.assignment_logits
        if self.gumbel_noise > 0:
            u = torch.rand_like(logits).clamp(1e-9, 1 - 1e-9)
            logits = logits - self.gumbel_noise * torch.log(-torch.log(u))
        probs = torch.softmax(logits / self._tau(), dim=-1)
        # straight-through: forward the argmax one-hot, backward the soft gradient.  Traced
        # (torch.compile): arithmetic on the 0-d buffer, one graph for both phases; eager:
        # the Python flag skips the work while it is off
        compiling = torch.compiler.is_compiling()
        if not (compiling or self.straight_through):
            return probs
        one_hot = F.one_hot(probs.argmax(-1), self.num_categories).to(probs.dtype)
        flag = self._straight_through if compiling else 1.0
        return probs + flag * (one_hot - probs).detach()

    def _encoder_inputs(self, feats, membership):
        """Masked credit (``credit_mask`` = p > 0, training only): every entry of an
        identity column is hidden from the encoders with probability p (the same
        Bernoulli draw for all categories), and the encoders see P without gradient.
        The assignment then learns only from how well each category predicts the
        entries it did NOT see, so a wrong category cannot keep a feature by copying
        it through its own input.  Returns the mask [B, F] as the credit (all zeros
        when p = 0: the same graph serves both phases)."""
        if not self.training:
            return feats, membership, None
        p = self._credit_mask
        if feats.device.type == "cpu" and not torch.compiler.is_compiling():   # nn/dropout.py's cheap mask
            hide = ~cpu_keep_mask(feats.shape, self.credit_mask)[0]
        else:
            hide = torch.rand_like(feats) < p
        m = hide.to(feats.dtype) * self.identity_columns
        return feats * (1.0 - m), self._credit_on(membership.detach(), membership), m

    def _decoder_membership(self, membership: torch.Tensor, credit) -> torch.Tensor:
        if credit is None:
            return membership
        if self._all_identity:           # every column is an identity column: nothing to keep
            return self._credit_on(membership.detach(), membership)
        ident = self.identity_columns[:, None] > 0
        return self._credit_on(torch.where(ident, membership.detach(), membership), membership)

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
            return _mse(recon, targets)
        total, count = 0.0, 0
        # credit and probe are stochastic estimates: they use the first CREDIT_ROWS rows,
        # scaled to the batch; the expected error itself is summed exactly over the batch
        n = hidden.shape[1]
        rows = min(n, CREDIT_ROWS)
        scale = n / rows
        probe = None
        with torch.no_grad():
            self.probe_rows += rows
        for fam, enc, (a, b) in zip(self.families, self.encoders, self.feature_slices):
            t = targets[fam.name].float()
            count += t.numel()
            if not enc.is_identity:
                total = total + ((recon[fam.name].float() - t) ** 2).sum()
                continue
            if probe is None:
                probe = self.dec_out.per_category(hidden[:, :rows].detach())     # [K, R, F]
            pt = _cols(membership.t(), a, b)                                  # [K, f]
            sq = self.dec_out.batch_sq_norm(hidden, a, b)                     # [K, f]
            cross = 2.0 * (t * recon[fam.name].float()).sum() - (t * t).sum()
            p = self._credit_mask
            # value: the expected error.  Without credit (p = 0) its P gradient trains the
            # assignment; with credit the model gradient still covers all entries (the mixed
            # reconstruction carries no P gradient then, see _decoder_membership) and the P
            # gradient comes from the hidden entries only (scaled by 1/p to the same size)
            total = total + (sq * self._credit_on(pt.detach(), pt)).sum() - cross
            fam_probe = _cols(probe, a, b)                                    # [K, R, f]
            probe_sq = (fam_probe - t[None, :rows]) ** 2                      # [K, R, f]
            err = probe_sq.detach()
            probe_sum = probe_sq.sum(1)                                       # [K, f]
            with torch.no_grad():
                self.probe_error[:, a:b] += probe_sum.detach()
            hidden_err = (err * credit[None, :rows, a:b]).sum(1) * (scale / p.clamp(min=1e-6))
            credit_term = (hidden_err * pt).sum()
            total = total + (credit_term - credit_term.detach())
            # probe: every category's output for a feature it does not hold learns to
            # predict that feature from the category's (detached) decoder state, so the
            # credit err[c, f] of a category that could take f over is a real measurement
            # (its weight 1 - P: value-neutral, only the output weights get its gradient)
            perr = probe_sum * scale                                          # [K, f]
            probe_term = (perr * (1.0 - pt).detach()).sum()
            total = total + (probe_term - probe_term.detach())
        return total / count

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
        dmax = max(max(d for _, d in lv) for lv in levels)
        cmax = max(n for lv in levels for n, _ in lv)
        k_only = lambda t: t[idx.to(t.device)]
        cols = lambda t: t[:, idx.to(t.device)]
        out = {f"{m}.{w}": k_only for m in ("enc_in", "enc_mid", "enc_norm", "dec_out") for w in ("weight", "bias")}
        out.update({
            "enc_out.weight": lambda t: k_only(t)[..., :dmax], "enc_out.bias": lambda t: k_only(t)[..., :dmax],
            "dec_in.weight": lambda t: k_only(t)[:, :dmax], "dec_in.bias": k_only,
            "assignment_logits": cols, "membership": cols, "probe_error": k_only,
            "quantizer.codebook_sizes": k_only,
            "quantizer.code_mask": lambda t: k_only(t)[..., :cmax],
            "quantizer.dim_mask": lambda t: k_only(t)[:, :dmax],
            "quantizer.codebook": lambda t: k_only(t)[:, :, :cmax, :dmax],
            "quantizer.embed_sum": lambda t: k_only(t)[:, :, :cmax, :dmax],
            "quantizer.cluster_size": lambda t: k_only(t)[..., :cmax],
            "quantizer.usage_since_reset": lambda t: k_only(t)[..., :cmax],
        })
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
        self.latent_dims = [max(d for _, d in lv) for lv in self.level_spec]
        self.num_categories = len(keep)
        q = self.quantizer
        q.num_categories, q.max_codes, q.dim = len(keep), int(q.codebook_sizes.max()), int(q.dim_mask.shape[1])
        q._last_residuals = q._last_errors = None
        self.category_ids = [int(ids[k]) for k in keep]
        self.category_names = [names[k] for k in keep]
        return slicers

    @classmethod
    def _config_kwargs(cls, cfg: dict) -> dict:
        return {"init_scale": cfg.get("init_scale"), "temperature": float(cfg.get("temperature", 1.0))}


MODEL_CLASSES = {cls.__name__: cls for cls in (CategoricalHierarchicalVQVAE, LearnableCategoricalVQVAE)}
