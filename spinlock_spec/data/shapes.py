"""Shapes of the embedded synthetic dataset, known without generating it.

Torch-free and numpy-free: the compile layer imports this to propagate
per-sample shapes through the graph in a fraction of a second.

How the synthetic generator lays out its families
-------------------------------------------------
The generator draws ``n_groups`` hidden groups, each driven by a few latent
factors.  Every tabular family gets a fixed number of columns *per group*; all
columns of a family are shuffled, so a column's name never tells its group:

==================  =====================================  ==========================
family name         per-sample batch keys                  columns per hidden group
==================  =====================================  ==========================
``summary``         ``summary`` [n_groups*features_per_group]  ``features_per_group``
``initial``         ``initial`` [2*n_groups],                  2
                    ``initial/fields`` [C, S, S]
``architecture``    ``architecture`` [n_groups]                1
``temporal*``       ``temporal`` [T, D] (+ ``temporal/lengths`` [] when variable_length)
any other name      ``NAME`` [2*n_groups]                      2
==================  =====================================  ==========================

A family is temporal when its name is ``temporal`` or starts with ``temporal``.
Temporal channels and field channels are driven by the same latents
(channel ``d`` by group ``d % n_groups``) but carry no ``true_groups``.
Lengths have per-sample shape ``()``.
"""
from __future__ import annotations

from spinlock_spec.config import schema_source
from spinlock_spec.config.sections import schema_defaults

# the schema source owns the defaults (dataset.synthetic)
SYNTHETIC_DEFAULTS: dict = schema_defaults(schema_source.SYNTHETIC)

# columns per hidden group for the tabular families with a fixed layout
_COLUMNS_PER_GROUP = {"initial": 2, "architecture": 1}
_DEFAULT_COLUMNS_PER_GROUP = 2
# families that also carry raw initial-condition fields
FIELD_FAMILIES = ("initial",)


def with_defaults(synthetic_cfg: dict | None) -> dict:
    """The synthetic config with every default filled (unknown keys are kept)."""
    cfg = dict(SYNTHETIC_DEFAULTS)
    cfg.update({k: v for k, v in (synthetic_cfg or {}).items() if v is not None})
    cfg["latents_per_group"] = list(cfg["latents_per_group"])
    return cfg


def is_temporal_family(name: str) -> bool:
    return name == "temporal" or name.startswith("temporal")


def columns_per_group(name: str, cfg: dict) -> int:
    """How many columns of tabular family ``name`` each hidden group drives."""
    if name == "summary":
        return int(cfg["features_per_group"])
    return _COLUMNS_PER_GROUP.get(name, _DEFAULT_COLUMNS_PER_GROUP)


def synthetic_shapes(synthetic_cfg: dict | None, family_names: list[str]) -> dict[str, tuple]:
    """Per-sample shape of every batch key the generator produces for ``family_names``.

    Returns e.g. ``{"summary": (60,), "temporal": (32, 8), "initial": (12,),
    "initial/fields": (1, 16, 16)}``; ``"NAME/lengths": ()`` for temporal
    families when ``variable_length`` is set.
    """
    cfg = with_defaults(synthetic_cfg)
    shapes: dict[str, tuple] = {}
    for name in family_names:
        if is_temporal_family(name):
            shapes[name] = (int(cfg["temporal_length"]), int(cfg["temporal_dim"]))
            if cfg["variable_length"]:
                shapes[f"{name}/lengths"] = ()
            continue
        shapes[name] = (int(cfg["n_groups"]) * columns_per_group(name, cfg),)
        if name in FIELD_FAMILIES:
            size = int(cfg["field_size"])
            shapes[f"{name}/fields"] = (int(cfg["field_channels"]), size, size)
    return shapes
