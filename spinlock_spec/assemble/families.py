"""Family inputs and the feature layout, read from the compiled graph and the data."""
from __future__ import annotations

from dataclasses import dataclass

from spinlock_spec.registry import ENCODERS, FIELDS, HYBRID


@dataclass(frozen=True)
class FamilySlot:
    """Where one family's features sit in the concatenated feature vector."""
    name: str
    encoder: str
    start: int
    stop: int
    identity: bool
    # leading columns of the slot that are the family's own (normalized) columns passed
    # through: all of them for identity, the manual columns for initial_hybrid, else 0
    manual: int = 0


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
            name=name, encoder=node["encoder"], encoder_params=dict(node["encoder_params"]),
            input_kind=node["input_kind"],
            shape=tuple(values.shape[1:]) if values is not None else None,
            fields_shape=tuple(fields.shape[1:]) if fields is not None else None,
            column_names=list(dataset.column_names.get(name, [])) or None,
        ))
    return inputs


def feature_layout(families) -> list[FamilySlot]:
    """Slots of the families in the concatenated feature vector (encoder out dims); an
    initial_hybrid slot is its manual columns followed by its CNN embedding columns."""
    slots, offset = [], 0
    for fam in families:
        entry = ENCODERS.get(fam.encoder)
        shape = fam.fields_shape if entry.input_kind == FIELDS else fam.shape
        width = int(entry.out_dim(entry.params(fam.encoder_params), shape))
        identity = not entry.trainable
        manual = width if identity else (int(fam.shape[-1]) if entry.input_kind == HYBRID and fam.shape else 0)
        slots.append(FamilySlot(fam.name, entry.name, offset, offset + width, identity, manual))
        offset += int(width)
    return slots
