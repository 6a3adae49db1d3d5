"""Family inputs, read from the compiled graph and the data (the feature layout they give is
:mod:`spinlock_spec.nn.layout`'s)."""
from __future__ import annotations

from spinlock_spec.registry import FIELDS, HYBRID, INPUT_DIM_PARAM


def family_nodes(graph) -> list[dict]:
    """The ``encoder:NAME`` nodes in spec order."""
    return [data for node, data in graph.nodes(data=True) if data.get("kind") == "family_encoder"]


def fields_families(graph) -> set[str]:
    """Families whose encoder reads raw fields (``NAME/fields``)."""
    return {n["family"] for n in family_nodes(graph) if n["input_kind"] in (FIELDS, HYBRID)}


def fields_only_families(graph) -> set[str]:
    return {n["family"] for n in family_nodes(graph) if n["input_kind"] == FIELDS}


def family_inputs(graph, dataset) -> list:
    """One :class:`FamilyInput` per family, with shapes read from ``dataset``."""
    from spinlock_spec.nn.model import FamilyInput

    inputs = []
    for node in family_nodes(graph):
        name = node["family"]
        values = dataset.arrays.get(name)
        fields = dataset.arrays.get(f"{name}/fields")
        inputs.append(FamilyInput(
            name=name, encoder=node["encoder"],
            encoder_params={k: v for k, v in node["encoder_params"].items() if k != INPUT_DIM_PARAM},
            input_kind=node["input_kind"],
            shape=tuple(values.shape[1:]) if values is not None else None,
            fields_shape=tuple(fields.shape[1:]) if fields is not None else None,
            column_names=list(dataset.column_names.get(name, [])) or None,
        ))
    return inputs

