"""Compiled spec -> prepared data: load, split, clean and normalize (numpy and the data layer)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinlock_spec.errors import DataError


@dataclass
class PreparedData:
    train: Any                  # data.Dataset, cleaned and normalized
    val: Any
    preprocessor: Any           # data.Preprocessor fitted on the training split
    source: str
    raw_val: Any = None         # the validation rows as read (user-scale quality)


def load_data(compiled, data=None):
    """The raw dataset a compiled spec asks for (``data`` overrides the spec's path)."""
    from spinlock_spec.assemble.families import fields_families, fields_only_families
    from spinlock_spec.data.sources import load_from_config

    graph = compiled.graph
    names = list(compiled.spec["families"])
    wanted = fields_families(graph)
    dataset = load_from_config(compiled.spec["dataset"], names, need_fields=wanted,
                               fields_only=fields_only_families(graph),
                               path_override=str(data) if data is not None else None)
    unused = [k for k in dataset.arrays if k.endswith("/fields") and k.rsplit("/", 1)[0] not in wanted]
    for key in unused:       # raw fields no encoder reads: not normalized, not stored
        del dataset.arrays[key]
    return dataset


def prepare_data(compiled, data=None, preprocessor=None) -> PreparedData:
    """Load, split (deterministic for the spec's seed), clean and normalize.

    Statistics are fitted on the training split only, unless ``preprocessor`` (a
    saved one) is given."""
    from spinlock_spec.data.preprocess import fit_preprocessor

    spec = compiled.spec
    dataset = load_data(compiled, data)
    train, val = dataset.split(float(spec["dataset"]["val_fraction"]), int(spec["random_seed"]))
    batch = int(spec["training"]["batch_size"])
    if train.n_samples < batch:
        raise DataError(f"{dataset.source}: the training split has {train.n_samples} rows, fewer than "
                        f"one batch (training.batch_size = {batch})", code="D020",
                        hint="lower training.batch_size or use more rows (dataset.max_samples)")
    if val.n_samples < 1:
        raise DataError(f"{dataset.source}: the validation split is empty", code="D021",
                        hint="raise dataset.val_fraction or use more rows")
    if preprocessor is None:
        preprocessor = fit_preprocessor(train, spec["feature_cleaning"], spec["normalization_method"])
    return PreparedData(preprocessor.transform(train), preprocessor.transform(val), preprocessor,
                        dataset.source, raw_val=val)
