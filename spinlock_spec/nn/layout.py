"""The feature layout: where each family's features sit in the concatenated
feature vector, and their names.  The one owner of both (torch-free).

Widths come from the encoder registry's ``out_dim`` declaration; the model's
encoders produce exactly that width.  A feature is named ``family:column`` when it
is one of the family's own columns passed through (identity encoders, the manual
columns of ``initial_hybrid``), else ``family:emb{j}`` (an embedding column).
"""
from __future__ import annotations

from collections.abc import Sequence
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


def feature_layout(families) -> list[FamilySlot]:
    """Slots of the families (``FamilyInput``-like: name, encoder, encoder_params, shape,
    fields_shape) in the concatenated feature vector; an initial_hybrid slot is its
    manual columns followed by its CNN embedding columns."""
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


def family_feature_names(family: str, column_names: Sequence[str] | None, width: int, manual: int) -> list[str]:
    """Names of one family's ``width`` features, the first ``manual`` being its own columns."""
    cols = list(column_names) if column_names else [f"col{j}" for j in range(manual)]
    return [f"{family}:{c}" for c in cols[:manual]] + [f"{family}:emb{j}" for j in range(width - manual)]


def feature_names(families, slots: Sequence[FamilySlot]) -> list[str]:
    """Every feature's name, in concatenation order (what ``model.feature_names`` holds)."""
    names: list[str] = []
    for fam, slot in zip(families, slots):
        names += family_feature_names(fam.name, fam.column_names, slot.stop - slot.start, slot.manual)
    return names
