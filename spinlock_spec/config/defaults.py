"""Filling defaults from the schema, canonical encoder names, absolute data paths.

Runs on a spec that passed validation.  Every filled value gets the ``default``
origin, so provenance can tell what the user wrote from what was assumed.
"""
from __future__ import annotations

import copy
from pathlib import Path

from spinlock_spec.config.origin import DEFAULT, Positions
from spinlock_spec.config.schema import load_schema

# Values that name files: made absolute relative to the file that wrote them.
PATH_VALUES = (("dataset", "path"), ("training", "category_mapping_file"))


def schema_types(schema: dict) -> set:
    """The JSON types a schema node allows."""
    t = schema.get("type")
    return set(t) if isinstance(t, list) else ({t} if t else set())


def canonical_number(value, types: set):
    """``1`` -> ``1.0`` where only numbers are allowed, ``2.0`` -> ``2`` where only integers are
    (so that equal specs hash equally); anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and "number" in types and "integer" not in types:
        return float(value)
    if isinstance(value, float) and "integer" in types and "number" not in types and value.is_integer():
        return int(value)
    return value


def _fill(value, schema: dict, path: tuple, positions: Positions):
    types = schema_types(schema)
    if isinstance(value, (bool, int, float)):
        return canonical_number(value, types)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
                positions.values.setdefault(path + (key,), DEFAULT)
        for key in list(value):
            sub = props.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                value[key] = _fill(value[key], sub, path + (key,), positions)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            value[i] = _fill(item, schema["items"], path + (i,), positions)
    return value


def _families(data: dict, positions: Positions) -> None:
    from spinlock_spec.registry import ENCODERS

    for name, family in data.get("families", {}).items():
        entry = ENCODERS.get(family["encoder"])
        family["encoder"] = entry.name
        params = family.get("encoder_params")
        if params is None:
            params = {}
            positions.values.setdefault(("families", name, "encoder_params"), DEFAULT)
        family["encoder_params"] = _fill(params, entry.params_schema, ("families", name, "encoder_params"),
                                         positions)


def _absolute_paths(data: dict, positions: Positions, base_dir: Path) -> None:
    for path in PATH_VALUES:
        section = data.get(path[0], {})
        value = section.get(path[1])
        if not isinstance(value, str) or Path(value).expanduser().is_absolute():
            continue
        origin = positions.values.get(path)
        if origin is not None and origin.kind == "file" and origin.file and not origin.file.startswith("<"):
            anchor = Path(origin.file).resolve().parent
        else:
            anchor = base_dir if origin is None or origin.kind != "set" else Path.cwd()
        section[path[1]] = str((anchor / Path(value).expanduser()).resolve())


def fill_defaults(data: dict, positions: Positions, base_dir: Path) -> dict:
    """Complete ``data`` in place (see module doc) and return it, sections in schema order."""
    schema = load_schema()
    families = data.pop("families", {})
    others = {k: v for k, v in schema["properties"].items() if k not in ("families", "extends")}
    _fill(data, {"properties": others}, (), positions)
    data["families"] = families
    _families(data, positions)
    if data["training"].get("scheduler") is None:
        data["training"]["scheduler"] = "none"
    _absolute_paths(data, positions, base_dir)
    _level_structure(data, positions)
    ordered = {k: data.pop(k) for k in schema["properties"] if k in data}
    data.update(ordered)
    return data


def _level_structure(data: dict, positions: Positions) -> None:
    """Levels of different latent_dim cannot be residual: without an explicit
    ``model.level_structure`` they compile to parallel (the original's design; the
    rule ``levels-parallel-from-latent-dims`` reports it, ``levels-latent-dim-mismatch``
    refuses an explicit residual)."""
    model = data["model"]
    dims = {lv["latent_dim"] for lv in model.get("levels") or []}
    written = positions.values.get(("model", "level_structure"), DEFAULT).kind != "default"
    if len(dims) > 1 and not written:
        model["level_structure"] = "parallel"
