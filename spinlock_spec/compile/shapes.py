"""Per-sample shapes of the families, known before any data is loaded.

From the embedded synthetic generator's parameters (``dataset.path: null``),
or from a dataset file's header with ``--data FILE``.  Both come from the data
layer, imported lazily; when it is unavailable the shapes stay unknown (None).
"""
from __future__ import annotations

from dataclasses import dataclass, field

N_KEY = "__n__"


@dataclass
class ShapeInfo:
    shapes: dict = field(default_factory=dict)   # batch key -> per-sample shape tuple
    n_samples: int | None = None
    known: bool = False                          # False: nothing is known about the data
    source: str = "unknown"                      # "synthetic", the --data path, or "unknown"


def _synthetic(dataset: dict, family_names: list[str]) -> ShapeInfo:
    try:
        from spinlock_spec.data.shapes import synthetic_shapes
    except ImportError:
        return ShapeInfo(source="synthetic")
    shapes = synthetic_shapes(dataset.get("synthetic") or {}, list(family_names))
    n = int((dataset.get("synthetic") or {}).get("n_samples", 0)) or None
    return ShapeInfo(dict(shapes), n, True, "synthetic")


def _fields_needs(families: dict) -> tuple[set, set]:
    """(families that read raw fields, families that read only raw fields), from the encoders."""
    from spinlock_spec.registry import ENCODERS, FIELDS, HYBRID

    kinds = {name: ENCODERS.get(fam["encoder"]).input_kind for name, fam in families.items()
             if fam.get("encoder") in ENCODERS}
    return ({n for n, k in kinds.items() if k in (FIELDS, HYBRID)}, {n for n, k in kinds.items() if k == FIELDS})


def _from_file(path: str, dataset: dict, families: dict) -> ShapeInfo:
    try:
        from spinlock_spec.data.sources import read_shapes
    except ImportError:
        return ShapeInfo(source=str(path))
    need_fields, fields_only = _fields_needs(families)
    shapes = dict(read_shapes(path, list(families), dataset.get("feature_type", "aggregated"),
                              need_fields=need_fields or None, fields_only=fields_only))
    n = shapes.pop(N_KEY, (None,))[0]
    return ShapeInfo(shapes, n, True, str(path))


def family_shapes(spec: dict, data: str | None = None) -> ShapeInfo:
    """Shapes for the families of a resolved spec (``data`` overrides dataset.path)."""
    dataset = spec["dataset"]
    names = list(spec["families"])
    if data is not None:
        info = _from_file(str(data), dataset, spec["families"])
    elif dataset.get("path") is None:
        info = _synthetic(dataset, names)
    else:
        return ShapeInfo(source=str(dataset["path"]))
    if info.n_samples is not None and dataset.get("max_samples"):
        info.n_samples = min(info.n_samples, int(dataset["max_samples"]))
    return info
