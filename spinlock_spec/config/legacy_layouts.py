"""Older layouts of the original format, its ``null`` values and hybrid-encoder keys.

Called by :func:`spinlock_spec.config.legacy.normalize` (``before`` ahead of the
flattened-key moves, ``after`` once keys sit in their sections).  What maps to what
is listed in docs/migration.md; every change is a located diagnostic:

- ``W304`` an older layout is read (the warning names the modern form):
  ``dataset: {path, feature_families: [a, b]}`` and the flat single-family file's
  ``feature_family: NAME`` become ``families: {NAME: {encoder: ...}}`` (``temporal_cnn``
  for the family named ``temporal``, ``identity`` otherwise);
- ``I303`` a ``null`` the original accepted is read as what it meant there:
  ``families: null`` (one ``summary`` family, identity), ``training.save_every: null``
  (0: best and final checkpoints only), ``model.levels: null`` (``[]``: automatic sizing);
- ``I302`` / ``W300`` ``initial_hybrid``'s ``encode_manual``: ``false`` is what
  spinlock-spec does (dropped, info); ``true`` and its ``manual_hidden_dims`` /
  ``manual_output_dim`` have no effect (dropped, warning).
"""
from __future__ import annotations

from spinlock_spec.config.origin import Positions, dotted

# Older names -> canonical path (merged into legacy.RENAMES).
RENAMES: dict[str, tuple[str, ...]] = {
    "input_path": ("dataset", "path"),
    "epochs": ("training", "num_epochs"),
    "validation_split": ("dataset", "val_fraction"),
    "validation_frequency": ("training", "val_every_n_epochs"),
}

# Keys the original read that change nothing here -> why (merged into legacy.NO_EFFECT).
NO_EFFECT: dict[str, str] = {
    "output_dir": "the run folder is chosen by the train command (--out)",
    "dead_code_threshold_percentile": "dead codes are the codes used fewer than training.dead_code_threshold "
                                      "times in an epoch; a percentile threshold is not implemented",
    "compression_ratios_per_category": "automatic level sizing is fixed (docs/model.md); give model.levels to "
                                       "choose sizes",
    "compression_ratios_optimized": "automatic level sizing is fixed (docs/model.md); give model.levels to "
                                    "choose sizes",
}

HYBRID_NO_EFFECT = {
    "manual_hidden_dims": "an MLP over the manual columns (encode_manual: true) is not implemented",
    "manual_output_dim": "an MLP over the manual columns (encode_manual: true) is not implemented",
}

_NULL_MEANING = {
    ("training", "save_every"): (0, "0 (only the best and final checkpoints are written)"),
    ("model", "levels"): ([], "[] (levels sized automatically per category)"),
}


def _note(*args, **kwargs):
    from spinlock_spec.config.legacy import _note as note   # lazily: legacy imports this module

    return note(*args, **kwargs)


def default_encoder(family: str) -> str:
    return "temporal_cnn" if family == "temporal" else "identity"


def _families_from(names: list, positions: Positions, origin_path: tuple) -> dict:
    origin = positions.locate(origin_path, key=True)
    families = {}
    for name in names:
        families[name] = {"encoder": default_encoder(name)}
        if origin is not None:
            positions.values[("families", name)] = origin
            positions.values[("families", name, "encoder")] = origin
            positions.keys[("families", name)] = origin
    if origin is not None:
        positions.values[("families",)] = origin
        positions.keys.setdefault(("families",), origin)
    return families


def _flow(value) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def _modern(families: dict) -> str:
    return "families: {" + ", ".join(f"{n}: {{encoder: {f['encoder']}}}" for n, f in families.items()) + "}"


def before(data: dict, positions: Positions) -> list:
    """Older layouts and ``families: null``; runs before the flattened-key moves."""
    out: list = []
    older: list[tuple[tuple, list, object]] = []    # (path of the older key, family names, value written)
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and "feature_families" in dataset:
        names = dataset["feature_families"]
        older.append((("dataset", "feature_families"), names if isinstance(names, list) else [names], names))
    if "feature_family" in data:
        older.append((("feature_family",), [data["feature_family"]], data["feature_family"]))
    given = data.get("families")
    for path, names, written in older:
        if not all(isinstance(n, str) and n for n in names) or not names:
            out.append(_note("E205", "error", f"'{dotted(path)}' must name feature families (strings)",
                             positions, path, hint="e.g. [summary, architecture]"))
            _drop(data, positions, path)
            continue
        if isinstance(given, dict) and given:
            out.append(_note("W300", "warning", f"'{dotted(path)}' has no effect: families is given",
                             positions, path, hint="remove it"))
        else:
            given = data["families"] = {**(given or {}),
                                        **_families_from([n for n in names if n not in (given or {})],
                                                         positions, path)}
            out.append(_note("W304", "warning", f"older layout: '{dotted(path)}: {_flow(written)}' is read as "
                             f"{_modern(given)}", positions, path,
                             hint=f"write `{_modern(given)}` instead (docs/migration.md)"))
        _drop(data, positions, path)
    if "families" in data and data["families"] is None:
        data["families"] = _families_from(["summary"], positions, ("families",))
        out.append(_note("I303", "info", "'families: null' is read as the original's default: "
                         "families: {summary: {encoder: identity}}", positions, ("families",),
                         hint="write the families explicitly"))
    return out


def after(data: dict, positions: Positions) -> list:
    """``null`` values and initial_hybrid keys; runs once keys sit in their sections."""
    out: list = []
    for path, (value, meaning) in _NULL_MEANING.items():
        section = data.get(path[0])
        if isinstance(section, dict) and path[1] in section and section[path[1]] is None:
            section[path[1]] = value
            out.append(_note("I303", "info", f"'{dotted(path)}: null' is read as {meaning}", positions, path,
                             hint="write the value instead of null"))
    out += _hybrid_params(data, positions)
    return out


def _hybrid_params(data: dict, positions: Positions) -> list:
    from spinlock_spec.registry import ENCODERS

    out: list = []
    families = data.get("families")
    if not isinstance(families, dict):
        return out
    for name, family in families.items():
        if not isinstance(family, dict) or not isinstance(family.get("encoder"), str):
            continue
        params = family.get("encoder_params")
        if ENCODERS.canonical(family["encoder"]) != "initial_hybrid" or not isinstance(params, dict):
            continue
        base = ("families", name, "encoder_params")
        if "encode_manual" in params:
            path = base + ("encode_manual",)
            if params["encode_manual"] is False:
                out.append(_note("I302", "info", f"'{dotted(path)}: false' is what spinlock-spec does (the manual "
                                 "columns pass through unchanged); dropped", positions, path, hint="remove it"))
            else:
                out.append(_note("W300", "warning", f"'{dotted(path)}: {params['encode_manual']}' has no effect: "
                                 "the manual columns are assignable features here, each its own row of the "
                                 "assignment; an MLP over them is not implemented", positions, path,
                                 hint="remove it; for an MLP embedding put the columns in a family with "
                                      "encoder mlp"))
            _drop(data, positions, path)
        for key, why in HYBRID_NO_EFFECT.items():
            if key in params:
                path = base + (key,)
                out.append(_note("W300", "warning", f"'{dotted(path)}' has no effect: {why}", positions, path,
                                 hint="remove it"))
                _drop(data, positions, path)
    return out


def _drop(data: dict, positions: Positions, path: tuple) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent.pop(path[-1], None)
    positions.drop_under(path)
