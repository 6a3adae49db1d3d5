"""The shipped JSON Schema: loading, a cached validator, and validation errors
turned into located diagnostics (every problem, not just the first)."""
from __future__ import annotations

import difflib
import json
import math
from functools import lru_cache

from spinlock_spec.errors import Diagnostic
from spinlock_spec.config.origin import Positions, dotted, pointer
from spinlock_spec.config.schema_source import SCHEMA_FILE

_RANGE = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
               dict: "object", type(None): "null"}


def schema_path():
    from spinlock_spec.resources import schema_dir

    return schema_dir() / SCHEMA_FILE


def load_schema() -> dict:
    """The shipped schema (read once per process).  Encoders registered at run time
    (plug-ins: ``spinlock_spec.registry.ENCODERS.register``) are added to the
    families section, so a spec can name them."""
    from spinlock_spec.registry import ENCODERS

    return _schema_for(ENCODERS.version)


@lru_cache(maxsize=4)
def _schema_for(registry_version: int) -> dict:
    from spinlock_spec.registry import ENCODERS

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    family = schema["properties"]["families"]["additionalProperties"]
    if set(ENCODERS.all_names()) != set(family["properties"]["encoder"]["enum"]):
        from spinlock_spec.config.schema_source import family_schema

        schema["properties"]["families"]["additionalProperties"] = family_schema()
    return schema


def validator():
    from spinlock_spec.registry import ENCODERS

    return _validator_for(ENCODERS.version)


@lru_cache(maxsize=4)
def _validator_for(registry_version: int):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema_for(registry_version))


def section_keys() -> dict[str, list[str]]:
    """Section name -> its property names ("" for the top level)."""
    props = load_schema()["properties"]
    out = {"": [k for k in props if k != "extends"]}
    for name, sub in props.items():
        if sub.get("type") == "object" and "properties" in sub:
            out[name] = list(sub["properties"])
    out["training.category_assignment_config"] = list(
        props["training"]["properties"]["category_assignment_config"]["properties"])
    out["dataset.synthetic"] = list(props["dataset"]["properties"]["synthetic"]["properties"])
    return out


def did_you_mean(word, candidates) -> list[str]:
    if not isinstance(word, str):
        return []
    return difflib.get_close_matches(word, [c for c in candidates if isinstance(c, str)], n=3, cutoff=0.6)


def _nearest_encoders(word) -> list[str]:
    """'a' / 'b' / 'c' for each of the registry's nearest encoders (all spellings of each)."""
    from spinlock_spec.registry import ENCODERS

    if not isinstance(word, str):
        return []
    return [" / ".join(f"'{s}'" for s in names) for names in ENCODERS.nearest(word)]


def _suggest_elsewhere(key: str, here: str) -> str | None:
    """A close key in another section, as ``section.key``."""
    best = []
    for section, keys in section_keys().items():
        if section == here:
            continue
        for match in did_you_mean(key, keys):
            ratio = difflib.SequenceMatcher(None, key, match).ratio()
            best.append((ratio, f"{section}.{match}" if section else match))
    best.sort(reverse=True)
    return best[0][1] if best else None


def _type_name(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _diag(code, message, positions: Positions, path, *, key=False, hint=None) -> Diagnostic:
    origin = positions.locate(tuple(path), key=key)
    d = Diagnostic(code, message, pointer=pointer(path), hint=hint)
    if origin is not None:
        if origin.kind == "file":
            d.file, d.line, d.col = origin.file, origin.line, origin.col
            d.chain = list(origin.chain[:-1]) if len(origin.chain) > 1 else []
        elif origin.kind == "set":
            d.file = f"--set {origin.detail}" if origin.detail else "--set"
    return d


def _error_diagnostics(err, positions: Positions) -> list[Diagnostic]:
    path = list(err.absolute_path)
    kind = err.validator
    inst = err.instance
    where = dotted(path)
    if kind == "additionalProperties" and isinstance(inst, dict):
        allowed = list(err.schema.get("properties", {}))
        extras = [k for k in inst if k not in allowed]
        out = []
        for key in extras:
            matches = did_you_mean(key, allowed)
            hint = None
            if matches:
                hint = f"did you mean '{matches[0]}'?"
            else:
                elsewhere = _suggest_elsewhere(key, ".".join(str(p) for p in path))
                if elsewhere:
                    hint = f"did you mean '{elsewhere}'?"
            if hint is None:
                hint = "allowed keys here: " + (", ".join(allowed) if allowed else "(none)")
            section = f"in {where}" if path else "at the top level"
            out.append(_diag("E200", f"unknown key '{key}' {section}", positions, path + [key], key=True,
                             hint=hint))
        return out
    if kind == "required" and isinstance(inst, dict):
        missing = [k for k in err.validator_value if k not in inst]
        return [_diag("E203", f"missing required key '{k}'" + (f" in {where}" if path else ""), positions,
                      path, hint=f"add '{k}:'" + (" (e.g. families: {summary: {encoder: identity}})"
                                                 if k == "families" else "")) for k in missing]
    if kind == "enum":
        allowed = [v for v in err.validator_value]
        shown = ", ".join("null" if v is None else str(v) for v in allowed)
        matches = did_you_mean(inst, allowed)
        is_encoder = path and path[-1] == "encoder"
        code = "E207" if is_encoder else "E202"
        what = "unknown encoder" if is_encoder else "invalid value"
        if is_encoder:
            matches = _nearest_encoders(inst) or matches
        hint = (f"did you mean {' or '.join(matches)}? " if is_encoder and matches else
                f"did you mean '{matches[0]}'? " if matches else "") + f"valid values: {shown}"
        return [_diag(code, f"{what} {_short(inst)} for {where}", positions, path, hint=hint)]
    if kind == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        shown = "null" if inst is None else f"{_type_name(inst)} {_short(inst)}"
        return [_diag("E201", f"{where} must be {want}, not {shown}", positions, path,
                      hint="write the value without quotes" if isinstance(inst, str) and want != "string"
                      else None)]
    if kind in _RANGE:
        return [_diag("E204", f"{where} must be {_RANGE[kind]} {err.validator_value}, got {_short(inst)}",
                      positions, path)]
    if kind == "propertyNames":
        return [_diag("E205", f"invalid name {_short(inst)} in {where}: {err.message}", positions,
                      path + [inst] if isinstance(inst, str) else path, key=True,
                      hint="use letters, digits and underscores, starting with a letter")]
    if kind == "pattern":
        return [_diag("E205", f"{where} = {_short(inst)} does not match the expected form "
                      f"{err.validator_value}", positions, path)]
    if kind in ("minItems", "maxItems"):
        n = err.validator_value
        return [_diag("E205", f"{where} needs {'at least' if kind == 'minItems' else 'at most'} {n} item(s), "
                      f"has {len(inst)}", positions, path)]
    if kind == "minProperties":
        return [_diag("E205", f"{where} needs at least {err.validator_value} entry(ies)", positions, path,
                      hint="declare at least one family, e.g. summary: {encoder: identity}"
                      if path == ["families"] else None)]
    return [_diag("E205", f"{where}: {err.message}", positions, path)]


def _non_finite(value, path=()):
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, path + (i,))


def validate(doc, positions: Positions) -> list[Diagnostic]:
    """Every schema problem of ``doc`` as a located diagnostic (empty when valid)."""
    out: list[Diagnostic] = [
        _diag("E204", f"{dotted(p)} must be a finite number", positions, p, hint="write a finite value")
        for p in _non_finite(doc)]
    flagged = {d.pointer for d in out}
    seen: set = set()
    for err in validator().iter_errors(doc):
        for d in _error_diagnostics(err, positions):
            key = (d.code, d.pointer, d.message)
            if key not in seen and d.pointer not in flagged:
                seen.add(key)
                out.append(d)
    return out
