"""Typed, read-only views over the resolved ``training``, ``model`` and
``learnable_assignment`` sections.

The trainer receives plain dicts (the resolved spec sections, see
docs/architecture.md).  These views read them once, fill defaults for keys that
are absent (so a hand-written dict in a notebook or a test works too) and give
the rest of the ``train`` package attribute access with the right types.
Unknown keys are kept in ``extra`` and not interpreted here: warning about keys
without effect is the resolver's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any
from collections.abc import Mapping

from ..errors import SpecError

_OPTIMIZERS = ("adam", "adamw")
_SCHEDULERS = ("none", "cosine", "step")
_PRECISIONS = ("fp32", "bf16")
_TEMPERATURE_SCHEDULES = ("linear", "exponential", "cosine", "adaptive")


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _disabled_if_zero(value: Any) -> int | None:
    """``0`` and ``None`` both mean "off" for interval/patience style keys."""
    if value is None:
        return None
    value = int(value)
    return value if value > 0 else None


def _pick(section: Mapping[str, Any] | None, key: str, default: Any) -> Any:
    if not section:
        return default
    value = section.get(key, default)
    return default if value is None and default is not None else value


@dataclass(frozen=True)
class TrainingConfig:
    """The keys of ``training`` that the trainer acts on."""

    batch_size: int = 1024
    learning_rate: float = 1e-3
    num_epochs: int = 100
    optimizer: str = "adam"               # adam | adamw
    weight_decay: float = 0.0
    scheduler: str = "none"               # none | cosine | step
    scheduler_step_size: int = 30         # epochs between decays (step)
    scheduler_gamma: float = 0.1          # decay factor (step)
    min_lr_ratio: float = 0.0             # cosine floor, relative to learning_rate
    warmup_epochs: int = 0
    reconstruction_weight: float = 1.0
    vq_weight: float = 1.0
    orthogonality_weight: float = 0.1
    informativeness_weight: float = 0.1
    topo_weight: float = 0.3
    save_every: int | None = None         # extra numbered checkpoints every N epochs
    early_stopping_patience: int | None = None   # in EPOCHS; None/0 disables
    early_stopping_min_delta: float = 0.0
    dead_code_reset_interval: int | None = None  # epochs; None/0 disables
    dead_code_threshold: float = 0.0
    gradient_clip_norm: float | None = 1.0       # None/0 disables
    use_torch_compile: bool = False       # honoured on CUDA only
    compile_mode: str = "auto"            # torch.compile mode; auto: reduce-overhead, default under DDP
    precision: str = "fp32"               # fp32 | bf16 (bf16 autocast on CUDA only)
    device: str = "auto"
    random_seed: int = 42
    extra: dict = field(default_factory=dict)

    @property
    def loss_weights(self) -> dict[str, float]:
        """Weight per model loss term name (the keys of ``ModelOutput.terms``)."""
        return {
            "recon": self.reconstruction_weight,
            "vq": self.vq_weight,
            "ortho": self.orthogonality_weight,
            "info": self.informativeness_weight,
            "topo": self.topo_weight,
        }

    @classmethod
    def from_dict(cls, training: Mapping[str, Any] | None, *, random_seed: int | None = None
                  ) -> TrainingConfig:
        t = dict(training or {})
        d = cls()
        known = {f.name for f in fields(cls)} | {"use_bf16", "mixed_precision"}
        precision = str(_pick(t, "precision", d.precision)).lower()
        if precision in ("bf16-mixed", "bfloat16"):
            precision = "bf16"
        if t.get("use_bf16") or t.get("mixed_precision") in (True, "bf16", "bf16-mixed"):
            precision = "bf16"
        scheduler = _pick(t, "scheduler", d.scheduler)
        scheduler = "none" if scheduler in (None, False, "", "none", "constant") else str(scheduler).lower()
        clip = t.get("gradient_clip_norm", d.gradient_clip_norm)
        seed = random_seed if random_seed is not None else _pick(t, "random_seed", d.random_seed)
        cfg = cls(
            batch_size=int(_pick(t, "batch_size", d.batch_size)),
            learning_rate=float(_pick(t, "learning_rate", d.learning_rate)),
            num_epochs=int(_pick(t, "num_epochs", d.num_epochs)),
            optimizer=str(_pick(t, "optimizer", d.optimizer)).lower(),
            weight_decay=float(_pick(t, "weight_decay", d.weight_decay)),
            scheduler=scheduler,
            scheduler_step_size=int(_pick(t, "scheduler_step_size", d.scheduler_step_size)),
            scheduler_gamma=float(_pick(t, "scheduler_gamma", d.scheduler_gamma)),
            min_lr_ratio=float(_pick(t, "min_lr_ratio", d.min_lr_ratio)),
            warmup_epochs=int(_pick(t, "warmup_epochs", d.warmup_epochs) or 0),
            reconstruction_weight=float(_pick(t, "reconstruction_weight", d.reconstruction_weight)),
            vq_weight=float(_pick(t, "vq_weight", d.vq_weight)),
            orthogonality_weight=float(_pick(t, "orthogonality_weight", d.orthogonality_weight)),
            informativeness_weight=float(_pick(t, "informativeness_weight", d.informativeness_weight)),
            topo_weight=float(_pick(t, "topo_weight", d.topo_weight)),
            save_every=_disabled_if_zero(t.get("save_every")),
            early_stopping_patience=_disabled_if_zero(t.get("early_stopping_patience")),
            early_stopping_min_delta=float(_pick(t, "early_stopping_min_delta", d.early_stopping_min_delta)),
            dead_code_reset_interval=_disabled_if_zero(t.get("dead_code_reset_interval")),
            dead_code_threshold=float(_pick(t, "dead_code_threshold", d.dead_code_threshold)),
            gradient_clip_norm=(float(clip) if clip else None),
            use_torch_compile=bool(_pick(t, "use_torch_compile", d.use_torch_compile)),
            compile_mode=str(_pick(t, "compile_mode", d.compile_mode)),
            precision=precision,
            device=str(_pick(t, "device", d.device)),
            random_seed=int(seed),
            extra={k: v for k, v in t.items() if k not in known},
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.batch_size < 1:
            raise SpecError(f"training.batch_size must be >= 1, got {self.batch_size}")
        if self.num_epochs < 1:
            raise SpecError(f"training.num_epochs must be >= 1, got {self.num_epochs}")
        if not self.learning_rate > 0:
            raise SpecError(f"training.learning_rate must be > 0, got {self.learning_rate}")
        if self.optimizer not in _OPTIMIZERS:
            raise SpecError(f"training.optimizer must be one of {', '.join(_OPTIMIZERS)}, "
                            f"got {self.optimizer!r}")
        if self.scheduler not in _SCHEDULERS:
            raise SpecError(f"training.scheduler must be one of {', '.join(_SCHEDULERS)}, "
                            f"got {self.scheduler!r}")
        if self.precision not in _PRECISIONS:
            raise SpecError(f"training.precision must be one of {', '.join(_PRECISIONS)}, "
                            f"got {self.precision!r}")


def _gumbel_scale(value: Any) -> float:
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    return float(value)


@dataclass(frozen=True)
class PruningConfig:
    """``learnable_assignment.pruning``: remove categories that stay nearly empty."""

    enabled: bool = False
    min_mass: float = 0.02      # assignment mass sum_f P[f, c] / F below this counts as empty
    min_usage: float = 0.0      # validation codebook utilization below this counts as unused (0 = off)
    patience: int = 3           # consecutive epochs under a threshold before the category goes
    min_categories: int = 1     # never prune below this many categories
    # with pruning on, the balance loss is weighted balance_weight - concentration_weight:
    # a net pull towards fewer, larger categories (off by default: the merge below is what
    # removes redundant categories; the pull also empties halves into the wrong category)
    concentration_weight: float = 0.0
    # merge a redundant pair of categories (each explains >= merge_threshold of what the
    # other explains of its own features, see train/pruning.py): the smaller goes into the larger
    merge: bool = True
    merge_threshold: float = 0.5

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None) -> PruningConfig:
        s = dict(section or {})
        d = cls()
        cfg = cls(enabled=bool(_pick(s, "enabled", d.enabled)),
                  min_mass=float(_pick(s, "min_mass", d.min_mass)),
                  min_usage=float(_pick(s, "min_usage", d.min_usage)),
                  patience=int(_pick(s, "patience", d.patience)),
                  min_categories=int(_pick(s, "min_categories", d.min_categories)),
                  concentration_weight=float(_pick(s, "concentration_weight", d.concentration_weight)),
                  merge=bool(_pick(s, "merge", d.merge)),
                  merge_threshold=float(_pick(s, "merge_threshold", d.merge_threshold)))
        if cfg.patience < 1:
            raise SpecError(f"learnable_assignment.pruning.patience must be >= 1, got {cfg.patience}")
        if cfg.min_mass < 0 or cfg.min_usage < 0:
            raise SpecError("learnable_assignment.pruning thresholds must be >= 0")
        if cfg.concentration_weight < 0:
            raise SpecError("learnable_assignment.pruning.concentration_weight must be >= 0")
        if cfg.min_categories < 1:
            raise SpecError("learnable_assignment.pruning.min_categories must be >= 1")
        if not 0.0 < cfg.merge_threshold <= 1.0:
            raise SpecError("learnable_assignment.pruning.merge_threshold must be in (0, 1], "
                            f"got {cfg.merge_threshold}")
        return cfg


@dataclass(frozen=True)
class LearnableConfig:
    """The ``learnable_assignment`` section (defaults of the seed guide)."""

    temperature_start: float = 1.0
    temperature_end: float = 0.1
    temperature_schedule: str = "linear"   # linear | exponential | cosine | adaptive
    orthogonality_weight: float = 0.1
    balance_weight: float = 0.05
    assignment_lr: float = 1e-3
    gradient_clip_norm: float | None = 1.0
    gumbel_noise: float = 0.0              # scale of the Gumbel noise (true = 1.0, false = 0)
    straight_through_epochs: int | None = None   # None: the last sixth of the epochs (num_epochs // 6)
    credit_mask: float = 0.25              # masked-credit probability (0 = off), see nn/model.py
    assignment_warmup_epochs: int | None = None  # None: max(1, num_epochs // 10); logits frozen meanwhile
    # adaptive schedule: freeze once the hard assignment is unchanged and the mean
    # max-probability >= adaptive_threshold for adaptive_patience consecutive epochs
    adaptive_threshold: float = 0.9
    adaptive_patience: int = 3
    pruning: PruningConfig = field(default_factory=lambda: PruningConfig())

    @property
    def loss_weights(self) -> dict[str, float]:
        concentration = self.pruning.concentration_weight if self.pruning.enabled else 0.0
        return {"assign_orthogonality": self.orthogonality_weight,
                "assign_balance": self.balance_weight - concentration}

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None) -> LearnableConfig:
        s = dict(section or {})
        d = cls()
        clip = s.get("gradient_clip_norm", d.gradient_clip_norm)
        cfg = cls(
            temperature_start=float(_pick(s, "temperature_start", d.temperature_start)),
            temperature_end=float(_pick(s, "temperature_end", d.temperature_end)),
            temperature_schedule=str(_pick(s, "temperature_schedule", d.temperature_schedule)).lower(),
            orthogonality_weight=float(_pick(s, "orthogonality_weight", d.orthogonality_weight)),
            balance_weight=float(_pick(s, "balance_weight", d.balance_weight)),
            assignment_lr=float(_pick(s, "assignment_lr", d.assignment_lr)),
            gradient_clip_norm=(float(clip) if clip else None),
            gumbel_noise=_gumbel_scale(s.get("gumbel_noise", d.gumbel_noise)),
            straight_through_epochs=_opt_int(s.get("straight_through_epochs")),
            credit_mask=float(_pick(s, "credit_mask", d.credit_mask)),
            assignment_warmup_epochs=_opt_int(s.get("assignment_warmup_epochs")),
            adaptive_threshold=float(_pick(s, "adaptive_threshold", d.adaptive_threshold)),
            adaptive_patience=int(_pick(s, "adaptive_patience", d.adaptive_patience)),
            pruning=PruningConfig.from_dict(s.get("pruning")),
        )
        if not 0.0 < cfg.adaptive_threshold <= 1.0:
            raise SpecError("learnable_assignment.adaptive_threshold must be in (0, 1], "
                            f"got {cfg.adaptive_threshold}")
        if cfg.adaptive_patience < 1:
            raise SpecError(f"learnable_assignment.adaptive_patience must be >= 1, got {cfg.adaptive_patience}")
        if cfg.temperature_schedule not in _TEMPERATURE_SCHEDULES:
            raise SpecError(
                f"learnable_assignment.temperature_schedule must be one of "
                f"{', '.join(_TEMPERATURE_SCHEDULES)}, got {cfg.temperature_schedule!r}")
        if not (cfg.temperature_start > 0 and cfg.temperature_end > 0):
            raise SpecError("learnable_assignment temperatures must be > 0")
        if not 0.0 <= cfg.credit_mask < 1.0:
            raise SpecError(f"learnable_assignment.credit_mask must be in [0, 1), got {cfg.credit_mask}")
        if not cfg.assignment_lr > 0:
            raise SpecError(f"learnable_assignment.assignment_lr must be > 0, got {cfg.assignment_lr}")
        return cfg


@dataclass(frozen=True)
class ModelSectionView:
    """The few ``model`` keys the train layer reads (the model itself reads the rest)."""

    commitment_cost: float = 0.25
    use_ema: bool = True
    decay: float = 0.99
    dropout: float = 0.0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None) -> ModelSectionView:
        s = dict(section or {})
        d = cls()
        return cls(
            commitment_cost=float(_pick(s, "commitment_cost", d.commitment_cost)),
            use_ema=bool(_pick(s, "use_ema", d.use_ema)),
            decay=float(_pick(s, "decay", d.decay)),
            dropout=float(_pick(s, "dropout", d.dropout)),
            extra={k: v for k, v in s.items()
                   if k not in ("commitment_cost", "use_ema", "decay", "dropout")},
        )
