"""The data a spec reads, as a synthetic layout (``spinlock-spec data synth --spec``).

Each family of the resolved spec gets exactly what its encoder takes (registry
input kinds), so the spec trains end to end on the written file:

==================  ===============================================================
input kind          written (widths from the spec when it names them)
==================  ===============================================================
tabular             ``features/F/<feature_type>/features`` [N, D]; D = ``input_dim``,
                    else the synthetic layout's width for the name (docs of :mod:`.shapes`)
temporal            [N, T, D]: T = ``dataset.synthetic.temporal_length``, D = ``input_dim``,
                    else ``temporal_dim`` (+ lengths with ``variable_length``)
fields              raw fields [N, C, S, S] only: C = ``in_channels``, else ``field_channels``
hybrid              manual columns (``manual_dim``, else the layout's width) and raw fields
==================  ===============================================================

Fields of the family ``initial`` go to ``inputs/fields``, of any other family F to
``inputs/F/fields`` (both are read back).  A plug-in encoder of another kind gets a table.
"""
from __future__ import annotations

from spinlock_spec.registry import ENCODERS, FIELDS, HYBRID, TEMPORAL

from .shapes import columns_per_group, with_defaults


def _width(name: str, cfg: dict) -> int:
    return int(cfg["n_groups"]) * columns_per_group(name, cfg)


def spec_layout(spec: dict, synthetic: dict | None = None) -> dict[str, dict]:
    """``{family: {"table": D, "series": (T, D) | None, "fields": C | None}}`` for a resolved spec;
    ``synthetic`` (default the spec's ``dataset.synthetic``) gives the sizes not named by the spec."""
    cfg = with_defaults(synthetic if synthetic is not None else spec["dataset"].get("synthetic"))
    layout: dict[str, dict] = {}
    for name, family in spec["families"].items():
        entry = ENCODERS.get(family["encoder"])
        params = family.get("encoder_params") or {}
        item = {"table": 0, "series": None, "fields": None}
        if entry.input_kind == TEMPORAL:
            item["series"] = (int(cfg["temporal_length"]), int(params.get("input_dim") or cfg["temporal_dim"]))
        elif entry.input_kind == FIELDS:
            item["fields"] = int(params.get("in_channels") or cfg["field_channels"])
        elif entry.input_kind == HYBRID:
            manual = params.get("manual_dim")
            item["table"] = int(manual) if manual is not None else _width(name, cfg)
            item["fields"] = int(params.get("in_channels") or cfg["field_channels"])
        else:
            item["table"] = int(params.get("input_dim") or _width(name, cfg))
        layout[name] = item
    return layout


def describe(layout: dict[str, dict], cfg: dict) -> str:
    """``summary [60], temporal [32, 8], initial [12] + fields [3, 16, 16]`` (per-sample shapes)."""
    size = int(cfg["field_size"])
    parts = []
    for name, item in layout.items():
        shapes = []
        if item["series"]:
            shapes.append(str(list(item["series"])))
        elif item["table"]:
            shapes.append(f"[{item['table']}]")
        if item["fields"]:
            shapes.append(f"fields [{item['fields']}, {size}, {size}]")
        parts.append(f"{name} " + " + ".join(shapes))
    return ", ".join(parts)
