"""Typed, frozen sections of a resolved spec, generated from the schema source.

The schema source (``config/schema_source.py``) is the only place that declares a
key's default, type and bounds.  The classes here are built from it: one field
per schema key (nested sections become nested classes or plain dicts), the
schema's default as the field default, and ``from_dict`` checks the schema's
bounds.  After :func:`spinlock_spec.config.resolve` the rest of the program reads
these objects (``ModelConfig.from_spec(resolved.data)``) instead of dicts it
re-defaults; a dict written by hand (a notebook, a test) is completed from the
same schema defaults.  Torch-free.

The few values that are no spec key (model internals such as the dead-code
fraction) are declared once below, in ``MODEL_INTERNALS``.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from spinlock_spec.config import schema_source as source
from spinlock_spec.config.defaults import canonical_number, schema_types
from spinlock_spec.config.renames import apply_aliases
from spinlock_spec.errors import SpecError

# Model settings that are not spec keys (not user-facing): declared here, once.
MODEL_INTERNALS: dict[str, Any] = {
    "dead_code_fraction": 0.2,     # a code is dead when its EMA count < fraction x uniform share n / C
    "dead_code_interval": 1,       # re-seed dead codes every this many training steps (0 = never)
    "info_samples": 128,           # rows used by the informativeness term
    # rows used by the topographic term: the training key of that name (model_builder passes it)
    "topo_samples": source.TRAINING["properties"]["topo_samples"]["default"],
}

# learnable_assignment.assignment_lr is per epoch in units of 1/ASSIGNMENT_LR_UNIT: a logit
# moves at most assignment_lr x ASSIGNMENT_LR_UNIT per epoch (LearnableConfig.effective_assignment_lr).
ASSIGNMENT_LR_UNIT = 1000.0

_TYPES = {"integer": int, "number": float, "boolean": bool, "string": str, "array": list, "object": dict}


def schema_defaults(section: dict) -> dict:
    """Key -> default of every key of a schema section (nested sections as dicts)."""
    out = {}
    for key, sub in section["properties"].items():
        if sub.get("type") == "object" and "properties" in sub:
            out[key] = schema_defaults(sub)
        else:
            out[key] = copy.deepcopy(sub.get("default"))
    return out


def _coerce(value, sub: dict):
    return canonical_number(value, schema_types(sub))


def _check(values: dict, section: dict, where: str) -> None:
    """The schema's bounds, types and enums on ``values`` (keys of ``section`` only)."""
    from jsonschema import Draft202012Validator

    schema = {k: v for k, v in section.items() if k not in ("additionalProperties", "default")}
    errors = sorted(Draft202012Validator(schema).iter_errors(values), key=lambda e: list(e.path))
    if not errors:
        return
    e = errors[0]
    key = ".".join([where, *(str(p) for p in e.path)])
    if e.validator == "enum":
        allowed = ", ".join(str(v) for v in e.validator_value if v is not None)
        raise SpecError(f"{key} must be one of {allowed}, got {e.instance!r}")
    raise SpecError(f"{key}: {e.message}")


class Section:
    """Base of the generated section classes (see the module doc)."""

    SCHEMA: dict = {}
    WHERE: str = ""
    NESTED: dict = {}                # key -> Section subclass for nested sections
    INTERNAL: dict = {}              # key -> default of fields that are not spec keys

    @classmethod
    def _prepare(cls, values: dict, extra: dict) -> dict:
        """Class-specific spellings before the schema check (override)."""
        return values

    @classmethod
    def _finish(cls, values: dict) -> dict:
        """Class-specific meanings after the schema check, e.g. 0 = off (override)."""
        return values

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None, **internal) -> Section:
        """A section from a resolved (or hand-written) dict: absent keys and nulls of
        non-nullable keys take the schema default, bounds are checked, unknown keys go
        to ``extra``."""
        given = dict(mapping or {})
        apply_aliases(cls.WHERE, given)
        props = cls.SCHEMA["properties"]
        extra = {k: given.pop(k) for k in list(given) if k not in props and k not in cls.INTERNAL}
        internals = {k: given.pop(k) for k in list(given) if k in cls.INTERNAL}
        internals.update({k: v for k, v in internal.items() if v is not None})
        given = cls._prepare(given, extra)
        for key in list(given):
            sub = props.get(key, {})
            if given[key] is None and "null" not in schema_types(sub) and sub.get("default") is not None:
                del given[key]
            elif key not in cls.NESTED:
                given[key] = _coerce(given[key], sub)
        nested = {k: given.pop(k) for k in list(given) if k in cls.NESTED}
        _check(given, cls.SCHEMA, cls.WHERE)
        values = schema_defaults({"properties": {k: v for k, v in props.items() if k not in cls.NESTED}})
        values.update(given)
        for key, sub_cls in cls.NESTED.items():
            values[key] = sub_cls.from_dict(nested.get(key))
        for key, default in cls.INTERNAL.items():
            values[key] = internals.get(key, copy.deepcopy(default))
        values = cls._finish(values)
        if "extra" in {f.name for f in dataclasses.fields(cls)}:
            values["extra"] = extra
        return cls(**values)

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Section) else copy.deepcopy(value)
        return out


def _generate(name: str, base: type, extra_field: bool = True) -> type:
    """A frozen dataclass with one field per key of ``base.SCHEMA`` (+ ``base.INTERNAL``)."""
    specs = []
    for key, sub in base.SCHEMA["properties"].items():
        if key in base.NESTED:
            specs.append((key, base.NESTED[key], dataclasses.field(default_factory=base.NESTED[key].from_dict)))
            continue
        types = [t for t in schema_types(sub) if t != "null"]
        typ = _TYPES.get(types[0], Any) if len(types) == 1 else Any
        default = sub.get("default")
        specs.append((key, typ, dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d))))
    for key, default in base.INTERNAL.items():
        specs.append((key, type(default), dataclasses.field(default=default)))
    if extra_field:
        specs.append(("extra", dict, dataclasses.field(default_factory=dict)))
    cls = dataclasses.make_dataclass(name, specs, bases=(base,), frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = f"The ``{base.WHERE}`` section (generated from the schema source)."
    return cls


# ---------------------------------------------------------------------- model
class _Model(Section):
    SCHEMA, WHERE, INTERNAL = source.MODEL, "model", MODEL_INTERNALS


ModelConfig = _generate("ModelConfig", _Model)


# ---------------------------------------------------------------------- training
def _off_if_zero(value):
    """``0`` and ``None`` both mean "off" for interval / patience keys."""
    return None if not value else int(value)


class _Training(Section):
    SCHEMA, WHERE = source.TRAINING, "training"
    INTERNAL = {"random_seed": source.build_schema()["properties"]["random_seed"]["default"]}

    @classmethod
    def _prepare(cls, values: dict, extra: dict) -> dict:
        for key in ("save_every", "early_stopping_patience", "dead_code_reset_interval"):
            if key in values and values[key] is None:      # None = off, as 0
                values[key] = 0
        precision = str(values.get("precision", "fp32")).lower()
        if precision in ("bf16-mixed", "bfloat16"):
            precision = "bf16"
        if extra.pop("use_bf16", None) or extra.pop("mixed_precision", None) in (True, "bf16", "bf16-mixed"):
            precision = "bf16"
        if "precision" in values or precision == "bf16":
            values["precision"] = precision
        if "scheduler" in values:
            s = values["scheduler"]
            values["scheduler"] = "none" if s in (None, False, "", "none", "constant") else str(s).lower()
        if "optimizer" in values:
            values["optimizer"] = str(values["optimizer"]).lower()
        if "gradient_clip_norm" in values and not values["gradient_clip_norm"]:
            values["gradient_clip_norm"] = None
        return values

    @classmethod
    def _finish(cls, values: dict) -> dict:
        for key in ("save_every", "early_stopping_patience", "dead_code_reset_interval"):
            values[key] = _off_if_zero(values[key])
        values["warmup_epochs"] = int(values["warmup_epochs"] or 0)
        return values

    @property
    def loss_weights(self) -> dict[str, float]:
        """Weight per model loss term name (the keys of ``ModelOutput.terms``)."""
        return {"recon": self.reconstruction_weight, "vq": self.vq_weight, "ortho": self.orthogonality_weight,
                "info": self.informativeness_weight, "topo": self.topo_weight}


TrainingConfig = _generate("TrainingConfig", _Training)


# ---------------------------------------------------------------------- learnable
class _Pruning(Section):
    SCHEMA, WHERE = source.LEARNABLE["properties"]["pruning"], "learnable_assignment.pruning"


PruningConfig = _generate("PruningConfig", _Pruning, extra_field=False)


class _Learnable(Section):
    SCHEMA, WHERE, NESTED = source.LEARNABLE, "learnable_assignment", {"pruning": PruningConfig}

    @classmethod
    def _prepare(cls, values: dict, extra: dict) -> dict:
        if "temperature_schedule" in values:
            values["temperature_schedule"] = str(values["temperature_schedule"]).lower()
        if "gradient_clip_norm" in values and not values["gradient_clip_norm"]:
            values["gradient_clip_norm"] = None
        noise = values.get("gumbel_noise")       # true = scale 1; a number (hand-written) = its scale
        if noise is not None and not isinstance(noise, bool):
            extra["_gumbel_scale"] = float(noise)
            values["gumbel_noise"] = bool(noise)
        return values

    @property
    def gumbel_scale(self) -> float:
        """Scale of the Gumbel noise on the logits (0 = off)."""
        return float(self.extra.get("_gumbel_scale", 1.0 if self.gumbel_noise else 0.0))

    @property
    def effective_assignment_lr(self) -> float:
        """The most a logit moves per epoch: assignment_lr x ASSIGNMENT_LR_UNIT."""
        return self.assignment_lr * ASSIGNMENT_LR_UNIT

    @property
    def loss_weights(self) -> dict[str, float]:
        concentration = self.pruning.concentration_weight if self.pruning.enabled else 0.0
        return {"assign_orthogonality": self.orthogonality_weight,
                "assign_balance": self.balance_weight - concentration}


LearnableConfig = _generate("LearnableConfig", _Learnable)


# ---------------------------------------------------------------------- data
class _Data(Section):
    SCHEMA, WHERE = source.DATASET, "dataset"


DataConfig = _generate("DataConfig", _Data)


def sections_of(data: Mapping[str, Any]) -> dict[str, Section]:
    """The typed sections of a resolved spec's data."""
    return {"model": ModelConfig.from_dict(data.get("model")),
            "training": TrainingConfig.from_dict(data.get("training"), random_seed=data.get("random_seed")),
            "learnable_assignment": LearnableConfig.from_dict(data.get("learnable_assignment")),
            "dataset": DataConfig.from_dict(data.get("dataset"))}
