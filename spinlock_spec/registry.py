"""Registries of node kinds.  Torch-free: builders are named as ``"module:attr"``
strings and imported only when a model is built.

One registry per node kind.  An entry maps a canonical name (plus aliases) to
the JSON Schema fragment of its params, the kind of input it takes, how its
output width follows from its params and input shape, and its builder.
Adding an encoder = one module in ``spinlock_spec.nn`` + one ``register`` call
here + the generated schema and docs (docs/architecture.md, "Adding an encoder").
The ``register`` call is the encoder's only declaration of its params: their
defaults and bounds (the schema fragment), the output width (read from the
params, see ``width_param``) and the constructor arguments (``Entry.build``
passes the params completed from the fragment's defaults; constructors carry no
defaults of their own).
"""
from __future__ import annotations

import contextlib
import copy
import importlib
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

# Input kinds a family can provide.
TABULAR = "tabular"      # [N, D]
TEMPORAL = "temporal"    # [N, T, D] (optionally with per-sample lengths)
FIELDS = "fields"        # [N, C, H, W] raw initial-condition fields
HYBRID = "hybrid"        # tabular manual columns + fields


@dataclass(frozen=True)
class Entry:
    name: str
    builder: str                               # "module:attr", imported lazily
    params_schema: dict
    input_kind: str
    description: str
    aliases: tuple[str, ...] = ()
    # out_dim(params, input_shape) -> int | None; params completed with the fragment's
    # defaults (Entry.params); input_shape is the per-sample shape (D,), (T, D) or
    # (C, H, W), or None when unknown.
    out_dim: Callable[[dict, tuple | None], int | None] = field(default=lambda p, s: None)
    trainable: bool = True
    # False when the encoder's output columns cannot join a learnable assignment
    # (e.g. a plug-in encoder whose columns are not individually assignable features):
    # category_assignment: learnable then falls back to static assignment (rule
    # learnable-encoder-fallback).  Every built-in encoder is compatible.
    learnable_compatible: bool = True

    def params(self, given: dict | None = None) -> dict:
        """``given`` completed with the defaults of the params schema fragment."""
        out = {k: copy.deepcopy(v["default"]) for k, v in self.params_schema.get("properties", {}).items()
               if "default" in v}
        out.update(given or {})
        return out

    def build(self, input_shape, fields_shape=None, params: dict | None = None):
        """The encoder module: the builder called with the completed params (the original's
        ``input_dim``, accepted by every encoder and never used, is not passed on)."""
        given = {k: v for k, v in self.params(params).items() if k != INPUT_DIM_PARAM}
        return self.load_builder()(input_shape, fields_shape, **given)

    def load_builder(self) -> Any:
        module, _, attr = self.builder.partition(":")
        return getattr(importlib.import_module(module), attr)


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}
        self.version = 0        # bumped by register/unregister (caches keyed on it, e.g. the spec validator)

    def register(self, entry: Entry) -> Entry:
        for key in (entry.name, *entry.aliases):
            if key in self._aliases:
                raise ValueError(f"{self.kind} name {key!r} registered twice")
        for key in (entry.name, *entry.aliases):
            self._aliases[key] = entry.name
        self._entries[entry.name] = entry
        self.version += 1
        return entry

    def unregister(self, name: str) -> Entry:
        """Remove an entry (by any of its names) and its aliases; returns it."""
        entry = self.get(name)
        for key in (entry.name, *entry.aliases):
            self._aliases.pop(key, None)
        del self._entries[entry.name]
        self.version += 1
        return entry

    @contextlib.contextmanager
    def registered(self, entry: Entry):
        """``with ENCODERS.registered(entry): ...``: the entry exists inside the block only."""
        self.register(entry)
        try:
            yield entry
        finally:
            self.unregister(entry.name)

    def canonical(self, name: str) -> str | None:
        return self._aliases.get(name)

    def get(self, name: str) -> Entry:
        canonical = self._aliases.get(name)
        if canonical is None:
            raise KeyError(name)
        return self._entries[canonical]

    def __contains__(self, name: str) -> bool:
        return name in self._aliases

    def names(self) -> list[str]:
        return list(self._entries)

    def all_names(self) -> list[str]:
        return list(self._aliases)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def nearest(self, name: str, limit: int = 2) -> list[list[str]]:
        """For a name that is not registered: the closest entries, each as its spellings (closest
        spelling first).  Case, underscores and an ``Encoder`` suffix are ignored when comparing, so
        ``ICCNNEncoder`` is nearest to ``ic_cnn`` / ``InitialCNNEncoder`` / ``initial_cnn``."""
        import difflib

        def squash(text: str) -> str:
            return text.lower().replace("_", "").removesuffix(self.kind)

        word = squash(str(name))
        scored = []
        for entry in self._entries.values():
            spellings = sorted(((difflib.SequenceMatcher(None, word, squash(s)).ratio(), s)
                                for s in (entry.name, *entry.aliases)), key=lambda t: -t[0])
            scored.append((spellings[0][0], [s for _, s in spellings]))
        scored.sort(key=lambda t: -t[0])
        if not scored or scored[0][0] < 0.4:
            return []
        best = scored[0][0]
        return [names for score, names in scored[:limit] if score >= best - 0.05]


def width_param(key: str) -> Callable[[dict, tuple | None], int]:
    """``out_dim`` of an encoder whose output width is its param ``key``."""
    return lambda params, shape: int(params[key])


_INT_LIST = {"type": "array", "items": {"type": "integer", "minimum": 1}}
_DROPOUT = {"type": "number", "minimum": 0.0, "maximum": 0.95, "default": 0.0,
            "description": "Dropout probability inside the encoder."}

# The original's encoder_params.input_dim: accepted in every encoder's params, never used (the width
# comes from the data; rule input-dim-mismatch warns when it differs).  No default, so it appears
# in a resolved spec only when written.
INPUT_DIM_PARAM = "input_dim"
_INPUT_DIM = {"type": ["integer", "null"], "minimum": 1,
              "description": "Original-format field: the input width, computed from the data here; a value that "
                             "differs from the data warns (rule input-dim-mismatch) and is not used."}


def _obj(properties: dict, description: str = "") -> dict:
    return {"type": "object", "description": description,
            "properties": {**properties, INPUT_DIM_PARAM: _INPUT_DIM}, "additionalProperties": False}


ENCODERS = Registry("encoder")

ENCODERS.register(Entry(
    name="identity", aliases=("IdentityEncoder",), builder="spinlock_spec.nn.encoders:IdentityEncoder",
    params_schema=_obj({}, "The identity encoder takes no parameters (input_dim is accepted and unused)."),
    input_kind=TABULAR, trainable=False,
    description="Pass the family's columns through unchanged; each column is one assignable feature.",
    out_dim=lambda p, s: (s[-1] if s else None),
))
ENCODERS.register(Entry(
    name="mlp", aliases=("MLPEncoder",), builder="spinlock_spec.nn.encoders:MLPEncoder",
    params_schema=_obj({
        "hidden_dims": {**_INT_LIST, "default": [64], "description": "Widths of the hidden layers."},
        "output_dim": {"type": "integer", "minimum": 1, "default": 32, "description": "Embedding width."},
        "dropout": _DROPOUT,
        "activation": {"enum": ["relu", "gelu", "silu", "tanh"], "default": "relu",
                       "description": "Non-linearity between layers."},
        "batch_norm": {"type": "boolean", "default": False, "description": "BatchNorm after each hidden layer."},
    }),
    input_kind=TABULAR,
    description="Multi-layer perceptron over a tabular family, trained end to end.",
    out_dim=width_param("output_dim"),
))
ENCODERS.register(Entry(
    name="temporal_cnn", aliases=("TemporalCNNEncoder", "td_cnn"),
    builder="spinlock_spec.nn.encoders:TemporalCNNEncoder",
    params_schema=_obj({
        "embedding_dim": {"type": "integer", "minimum": 1, "default": 32, "description": "Embedding width."},
        "architecture": {"type": "string", "pattern": "^resnet1d_[1-9][0-9]*$", "default": "resnet1d_3",
                         "description": "resnet1d_N: N residual 1D conv blocks."},
        "hidden_channels": {"type": "integer", "minimum": 1, "default": 32, "description": "Conv channels."},
        "kernel_size": {"type": "integer", "minimum": 1, "default": 5, "description": "Conv kernel size (odd)."},
        "dropout": _DROPOUT,
    }),
    input_kind=TEMPORAL,
    description="Residual 1D CNN over a [N, T, D] series with masked global pooling.",
    out_dim=width_param("embedding_dim"),
))
ENCODERS.register(Entry(
    name="pyramid_temporal", aliases=("PyramidTemporalEncoder",),
    builder="spinlock_spec.nn.encoders:PyramidTemporalEncoder",
    params_schema=_obj({
        "embedding_dim": {"type": "integer", "minimum": 1, "default": 32, "description": "Embedding width."},
        "hidden_channels": {"type": "integer", "minimum": 1, "default": 32, "description": "Conv channels."},
        "kernel_size": {"type": "integer", "minimum": 1, "default": 5, "description": "Conv kernel size (odd)."},
        "scales": {**_INT_LIST, "default": [1, 2, 4], "minItems": 1,
                   "description": "Temporal pooling scales; features pooled at each are concatenated."},
        "dropout": _DROPOUT,
    }),
    input_kind=TEMPORAL,
    description="1D conv features pooled at several temporal scales and concatenated; takes a padding mask.",
    out_dim=width_param("embedding_dim"),
))
ENCODERS.register(Entry(
    name="initial_cnn", aliases=("InitialCNNEncoder", "ic_cnn"),
    builder="spinlock_spec.nn.encoders:InitialCNNEncoder",
    params_schema=_obj({
        "embedding_dim": {"type": "integer", "minimum": 1, "default": 16, "description": "Embedding width."},
        "in_channels": {"type": ["integer", "null"], "minimum": 1, "default": None,
                        "description": "Channels of the raw fields; null = read from the data."},
        "channels": {**_INT_LIST, "default": [16, 32], "description": "Conv channels per stage."},
        "dropout": _DROPOUT,
    }),
    input_kind=FIELDS,
    description="2D CNN over the raw initial-condition fields [N, C, H, W] (channels are channels).",
    out_dim=width_param("embedding_dim"),
))


def _hybrid_out(params: dict, shape: tuple | None) -> int | None:
    manual = params.get("manual_dim")
    if manual is None and shape:
        manual = shape[-1]
    if manual is None:
        return None
    return int(manual) + int(params["cnn_embedding_dim"])


ENCODERS.register(Entry(
    name="initial_hybrid", aliases=("InitialHybridEncoder",),
    builder="spinlock_spec.nn.encoders:InitialHybridEncoder",
    params_schema=_obj({
        "manual_dim": {"type": ["integer", "null"], "minimum": 0, "default": None,
                       "description": "Manual INITIAL columns; null = read from the data."},
        "cnn_embedding_dim": {"type": "integer", "minimum": 1, "default": 16,
                              "description": "Width of the CNN embedding of the raw fields."},
        "in_channels": {"type": ["integer", "null"], "minimum": 1, "default": None,
                        "description": "Channels of the raw fields; null = read from the data."},
        "channels": {**_INT_LIST, "default": [16, 32], "description": "Conv channels per stage."},
        "dropout": _DROPOUT,
    }),
    input_kind=HYBRID,
    description="Manual INITIAL columns concatenated with a CNN embedding of the raw fields.",
    out_dim=_hybrid_out,
))
