"""The shapes of a run's JSON files as ``train`` writes them, checked when a run is read.

An edited or swapped file (``categories.json`` whose ``categories`` is a number, an epoch
record whose ``metrics`` is a list) is one :class:`CheckpointError` (E401) naming the file,
the line and the field, instead of a failure deep inside the report.  Only what readers use
is checked; other keys may hold anything (runs of newer versions add keys).

The shapes are small JSON Schemas (checked by ``jsonschema``); an integer is a JSON number
without a fraction part *and* without a decimal point (``1.0`` is not an epoch), as the
readers index with it.
"""
from __future__ import annotations

from typing import Any

from spinlock_spec.errors import CheckpointError


def _of(kind: str, null: bool = False) -> dict:
    return {"type": [kind, "null"] if null else kind}


def _mapping(**properties: Any) -> dict:
    """A mapping whose listed keys (when present) have these shapes; other keys are free."""
    return {"type": "object", "properties": properties}


def _list(items: dict, null: bool = False) -> dict:
    return {**_of("array", null), "items": items}


INT, NUM, STR = _of("integer"), _of("number"), _of("string")
INT_, NUM_, STR_ = _of("integer", True), _of("number", True), _of("string", True)
NUMBERS = {"type": "object", "additionalProperties": NUM_}   # names -> numbers (loss components, ...)

CATEGORY = _mapping(name=STR_, index=INT_, size=INT_,
                    features=_list(_mapping(index=INT, name=STR_, confidence=NUM_)))
CATEGORIES = _mapping(mode=STR_, num_categories=INT_, num_features=INT_, temperature=NUM_,
                      categories=_list(CATEGORY), input_features=_list(_of("object")))
INITIAL_CATEGORIES = _mapping(ari=NUM_, categories=_of("array", True))
METRICS = _mapping(utilization=NUM_, perplexity=NUM_, val_loss=NUM_, dead_codes=NUM_,
                   utilization_per_level=_list(NUM_), perplexity_per_level=_list(NUM_))
RECORD = _mapping(epoch=INT, train_loss=NUM_, val_loss=NUM_, lr=NUM_, temperature=NUM_, utilization=NUM_,
                  components=NUMBERS, val_components=NUMBERS, assign=NUMBERS, metrics=METRICS)
HISTORY = _mapping(epochs=_list(INT), train_loss=_list(NUM_), val_loss=_list(NUM_), learning_rate=_list(NUM_),
                   temperature=_list(NUM_), train_components=_list(_of("object", True)),
                   val_components=_list(_of("object", True)), metrics=_list(_of("object", True)),
                   best_epoch=INT_, best_val_loss=NUM_, final_metrics=_of("object", True), initial_ari=NUM_)
MODEL_META = _mapping(epoch=INT_, spec_hash=STR_, model_class=STR_, initial_ari=NUM_)

_NAMES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
          "array": "a list", "object": "a mapping"}
_validator_class = None


def _validator(schema: dict):
    global _validator_class
    if _validator_class is None:            # jsonschema is imported only when a run is read
        from jsonschema import Draft202012Validator, validators

        strict = Draft202012Validator.TYPE_CHECKER.redefine(
            "integer", lambda _checker, v: isinstance(v, int) and not isinstance(v, bool))
        _validator_class = validators.extend(Draft202012Validator, type_checker=strict)
    return _validator_class(schema)


def problem(value: Any, schema: dict) -> str | None:
    """The first place where ``value`` does not have the shape ``schema`` ("KEY[i] must be ..."), or None."""
    error = next(_validator(schema).iter_errors(value), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    if error.validator != "type":           # the schemas above only check types
        return f"{where or 'the document'}: {error.message}"
    wanted = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
    return f"{where or 'the document'} must be {_NAMES[wanted]}, not {_describe(error.instance)}"


def check(path, doc: Any, schema: dict, line: int | None = None) -> Any:
    found = problem(doc, schema)
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
