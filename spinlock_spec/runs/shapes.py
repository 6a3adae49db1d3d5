"""The shapes of a run's JSON files as ``train`` writes them, checked when a run is read.

An edited or swapped file (``categories.json`` whose ``categories`` is a number, an epoch
record whose ``metrics`` is a list) is one :class:`CheckpointError` (E401) naming the file,
the line and the field, instead of a failure deep inside the report.  Only what readers use
is checked; other keys may hold anything (runs of newer versions add keys).

A shape is a type name (``int``, ``num``, ``str``, ``bool``, ``list``, ``dict``, ``any``; a
trailing ``?`` also allows null), ``[shape]`` for a list of that shape, or a dict of
key -> shape for a mapping whose listed keys (when present) have those shapes.
"""
from __future__ import annotations

from typing import Any

from spinlock_spec.errors import CheckpointError

NUMBERS = {"dict": "num?"}        # a mapping of names to numbers (loss components, ...)

CATEGORY = {"name": "str?", "index": "int?", "size": "int?", "features": [{"index": "int", "name": "str?",
                                                                            "confidence": "num?"}]}
CATEGORIES = {"mode": "str?", "num_categories": "int?", "num_features": "int?", "temperature": "num?",
              "categories": [CATEGORY], "input_features": ["dict"]}
INITIAL_CATEGORIES = {"ari": "num?", "categories": "list?"}
METRICS = {"utilization": "num?", "perplexity": "num?", "val_loss": "num?", "dead_codes": "num?",
           "utilization_per_level": ["num?"], "perplexity_per_level": ["num?"]}
RECORD = {"epoch": "int", "train_loss": "num?", "val_loss": "num?", "lr": "num?", "temperature": "num?",
          "utilization": "num?", "components": NUMBERS, "val_components": NUMBERS, "assign": NUMBERS,
          "metrics": METRICS}
HISTORY = {"epochs": ["int"], "train_loss": ["num?"], "val_loss": ["num?"], "learning_rate": ["num?"],
           "temperature": ["num?"], "train_components": ["dict?"], "val_components": ["dict?"],
           "metrics": ["dict?"], "best_epoch": "int?", "best_val_loss": "num?", "final_metrics": "dict?",
           "initial_ari": "num?"}
MODEL_META = {"epoch": "int?", "spec_hash": "str?", "model_class": "str?", "initial_ari": "num?"}

_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}
_NAMES = {"int": "an integer", "num": "a number", "str": "a string", "bool": "true or false",
          "list": "a list", "dict": "a mapping"}


def problem(value: Any, shape: Any, where: str = "") -> str | None:
    """The first place where ``value`` does not have ``shape`` ("at KEY: ..."), or None."""
    if isinstance(shape, str):
        name, optional = shape.rstrip("?"), shape.endswith("?")
        if value is None and optional:
            return None
        if not _TYPES[name](value):
            return f"{where or 'the document'} must be {_NAMES.get(name, name)}, not {_describe(value)}"
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where or 'the document'} must be a list, not {_describe(value)}"
        for i, item in enumerate(value):
            found = problem(item, shape[0], f"{where}[{i}]")
            if found:
                return found
        return None
    if not isinstance(value, dict):
        return f"{where or 'the document'} must be a mapping, not {_describe(value)}"
    if "dict" in shape and len(shape) == 1:           # every value has the one shape
        for key, item in value.items():
            found = problem(item, shape["dict"], f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    for key, sub in shape.items():
        if key in value:
            found = problem(value[key], sub, f"{where}.{key}" if where else key)
            if found:
                return found
    return None


def check(path, doc: Any, shape: Any, line: int | None = None) -> Any:
    found = problem(doc, shape)
    if found:
        loc = f"{path}:{line}" if line is not None else str(path)
        raise CheckpointError(f"{loc}: {found}; the file is not what `spinlock-spec train` writes",
                              code="E401", hint="the file was edited or comes from elsewhere; restore it or "
                                                "retrain")
    return doc


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 30 else text[:27] + '...'}"
