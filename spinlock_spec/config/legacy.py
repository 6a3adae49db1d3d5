"""The original spinlock layout, mapped onto the canonical one.

The original loader flattened its sections, so a key could sit at the top level
or in any section, and it knew a few older names.  Here each such key is moved
to its canonical place (an info diagnostic says where), and keys the original
accepted but that have no effect here are dropped with a warning that says so.
Anything else is left for the schema to reject.
"""
from __future__ import annotations

from spinlock_spec.errors import Diagnostic
from spinlock_spec.config.origin import Positions, dotted, pointer
from spinlock_spec.config import legacy_layouts
from spinlock_spec.config.schema import section_keys

# Older names -> canonical path.
RENAMES: dict[str, tuple[str, ...]] = {
    "dataset_path": ("dataset", "path"),
    "max_samples": ("dataset", "max_samples"),
    "feature_type": ("dataset", "feature_type"),
    "factors": ("model", "levels"),
    "ema_decay": ("model", "decay"),
    "clean_features": ("feature_cleaning", "enabled"),
    "device": ("training", "device"),
}

# Keys the original accepted that change nothing here -> why.
NO_EFFECT: dict[str, str] = {
    "val_batch_size": "validation batches use training.batch_size",
    "resume_from": "a run is resumed from its run folder by the train command, not from the spec",
    "use_smart_reset": "dead-code reset is set by training.dead_code_reset_interval and dead_code_threshold",
    "dead_code_max_reset_fraction": "dead-code reset replaces every code below training.dead_code_threshold",
    "orthogonality_target": "the orthogonality loss is weighted by training.orthogonality_weight; "
                            "it has no target value",
    "checkpoint_dir": "checkpoints are written to the run folder chosen by the train command",
}

# Older layouts, nulls and initial_hybrid keys of the original format (issue 15): config/legacy_layouts.py.
RENAMES.update(legacy_layouts.RENAMES)
NO_EFFECT.update(legacy_layouts.NO_EFFECT)

# Keys of training.category_assignment_config that change nothing here.
ASSIGNMENT_CONFIG_NO_EFFECT: dict[str, str] = {
    "gradient_epochs": "only clustering discovery is implemented; for gradient-based assignment use "
                       "training.category_assignment: learnable",
    "gradient_lr": "only clustering discovery is implemented; for gradient-based assignment use "
                   "learnable_assignment.assignment_lr",
    "subsample_excess_fraction": "clustering discovery uses every training row",
    "device": "category discovery runs on the CPU",
}

# Model keys of the original format that nothing reads: a value other than the default warns.
MODEL_SHADOWED = {
    "orthogonality_weight": "the loss weight used is training.orthogonality_weight",
    "informativeness_weight": "the loss weight used is training.informativeness_weight",
    "compression_ratios": "automatic level sizing is fixed (docs/model.md); give model.levels to choose sizes",
    "auto_compression_strategy": "automatic level sizing is fixed (docs/model.md); give model.levels to "
                                 "choose sizes",
}

# Sections the original flattened, searched for misplaced keys.
FLATTENED = ("", "model", "training", "feature_cleaning", "logging")
# Where a misplaced key goes: first section (in this order) that defines it.
HOME_ORDER = ("", "training", "model", "feature_cleaning", "logging")
_NOT_RELOCATED = {"enabled"}   # too generic to move on a guess


def _homes() -> dict[str, tuple[str, ...]]:
    keys = section_keys()
    sections = {k for k in keys if k and "." not in k}
    homes: dict[str, tuple[str, ...]] = {}
    for section in HOME_ORDER:
        for key in keys[section]:
            if key in sections or key in _NOT_RELOCATED:
                continue
            homes.setdefault(key, (section, key) if section else (key,))
    return homes


def _note(code, severity, message, positions: Positions, path, hint=None) -> Diagnostic:
    origin = positions.locate(tuple(path), key=True)
    d = Diagnostic(code, message, severity=severity, pointer=pointer(path), hint=hint)
    if origin is not None and origin.kind == "file":
        d.file, d.line, d.col = origin.file, origin.line, origin.col
        d.chain = list(origin.chain[:-1]) if len(origin.chain) > 1 else []
    elif origin is not None and origin.kind == "set":
        d.file = f"--set {origin.detail}"
    return d


def normalize(data: dict, positions: Positions) -> list[Diagnostic]:
    """Move/drop original-layout keys in place; return info, warnings and errors."""
    out: list[Diagnostic] = legacy_layouts.before(data, positions)
    keys = section_keys()
    homes = _homes()
    sections = {k for k in keys if k and "." not in k}
    for section in FLATTENED:
        container = data if not section else data.get(section)
        if not isinstance(container, dict):
            continue
        canonical = set(keys[section]) | ({"extends"} if not section else set())
        for key in [k for k in container if k not in canonical]:
            if not section and key in sections:
                continue
            here = (section, key) if section else (key,)
            if key in NO_EFFECT:
                out.append(_note("W300", "warning", f"'{dotted(here)}' has no effect: {NO_EFFECT[key]}",
                                 positions, here, hint="remove it"))
                del container[key]
                positions.drop_under(here)
                continue
            target = RENAMES.get(key) or homes.get(key)
            if target is None or target == here:
                continue
            _move(data, positions, here, target, out)
    out += legacy_layouts.after(data, positions)
    _assignment_config(data, positions, out)
    _shadowed_model_weights(data, positions, out)
    _wandb(data, positions, out)
    return out


def _move(data: dict, positions: Positions, here: tuple, target: tuple, out: list) -> None:
    parent = data
    for part in target[:-1]:
        if part not in parent or parent[part] is None:
            parent[part] = {}
        parent = parent[part]
        if not isinstance(parent, dict):
            return   # the schema reports the broken section
    source = data
    for part in here[:-1]:
        source = source[part]
    if target[-1] in parent:
        first = positions.locate(target, key=True)
        where = f" (also at {first})" if first is not None else ""
        out.append(_note("E206", "error", f"'{dotted(here)}' is the original-format name of "
                         f"'{dotted(target)}', which is given too{where}", positions, here,
                         hint="keep only one of the two"))
        del source[here[-1]]
        positions.drop_under(here)
        return
    parent[target[-1]] = source.pop(here[-1])
    key_origin = positions.keys.get(here)
    positions.move(here, target)
    if key_origin is not None:
        positions.keys[target] = key_origin
    renamed = here[-1] != target[-1]
    out.append(_note("I301", "info", f"'{dotted(here)}' is read as '{dotted(target)}'"
                     + (" (original-format name)" if renamed else " (original flattened layout)"),
                     positions, target, hint=f"write it as {dotted(target)} to silence this"))


def _assignment_config(data, positions: Positions, out: list) -> None:
    training = data.get("training")
    config = training.get("category_assignment_config") if isinstance(training, dict) else None
    if not isinstance(config, dict):
        return
    for key in [k for k in config if k in ASSIGNMENT_CONFIG_NO_EFFECT]:
        path = ("training", "category_assignment_config", key)
        out.append(_note("W300", "warning", f"'{dotted(path)}' has no effect: {ASSIGNMENT_CONFIG_NO_EFFECT[key]}",
                         positions, path, hint="remove it"))
        del config[key]
        positions.drop_under(path)


def _shadowed_model_weights(data, positions: Positions, out: list) -> None:
    from spinlock_spec.config.schema import load_schema

    model = data.get("model")
    if not isinstance(model, dict):
        return
    props = load_schema()["properties"]["model"]["properties"]
    for key, why in MODEL_SHADOWED.items():
        if key in model and model[key] != props[key]["default"]:
            out.append(_note("W301", "warning", f"'model.{key}: {model[key]}' has no effect: {why}",
                             positions, ("model", key), hint=f"remove it (default {props[key]['default']})"))


def _wandb(data, positions: Positions, out: list) -> None:
    logging = data.get("logging")
    if isinstance(logging, dict) and logging.get("wandb") is True:
        out.append(_note("W302", "warning", "'logging.wandb: true' has no effect: spinlock-spec has no "
                         "Weights & Biases integration; metrics go to the run folder", positions,
                         ("logging", "wandb"), hint="set it to false or remove it"))
