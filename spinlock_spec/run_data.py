"""The data of a ``train`` run: read in chunks from an HDF5 file (``dataset.streaming``), or
loaded and prepared in memory -- for a new run in one process on a background thread
(spinlock_spec/background.py), while the main thread imports torch and starts CUDA
(docs/decisions.md §9a)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinlock_spec.assemble.prepare import PreparedData, prepare_data
from spinlock_spec.errors import DataError


@dataclass
class EarlyData:
    """A new run's data as started early: ``streamed`` (a StreamedData), or ``prepared`` (a
    BackgroundCall whose result is the PreparedData)."""
    streamed: Any
    prepared: Any = None


def prepare_early(compiled, data, log) -> EarlyData:
    """The streamed data, or the in-memory data started on a background thread."""
    from spinlock_spec.background import BackgroundCall

    streamed = streamed_data(compiled, data, log)
    if streamed is not None:
        return EarlyData(streamed)
    return EarlyData(None, BackgroundCall(_prepare_then_import, compiled, data, name="spinlock-prepare-data"))


def _prepare_then_import(compiled, data) -> PreparedData:
    """prepare_data, then the import the clustering needs next (on the same thread)."""
    prepared = prepare_data(compiled, data)
    import scipy.cluster.hierarchy  # noqa: F401
    return prepared


def streamed_data(compiled, data, log):
    """``dataset.streaming`` (auto | true | false): a StreamedData when the HDF5 file is
    read in chunks (data/streaming.py), else None (the file is loaded)."""
    ds = compiled.spec["dataset"]
    setting = ds.get("streaming", "auto")
    path = str(data) if data is not None else ds.get("path")
    if setting is False or path is None or not str(path).endswith((".h5", ".hdf5")):
        if setting is True and path is None:
            raise DataError("dataset.streaming: true needs an HDF5 file (dataset.path or --data)",
                            code="D031", location="dataset.streaming")
        return None
    from spinlock_spec.data.sources import file_features_bytes
    from spinlock_spec.data.streaming import StreamedData, should_stream

    families = list(compiled.spec["families"])
    size = (file_features_bytes(path, families, ds.get("feature_type") or "aggregated")
            if setting == "auto" and Path(path).is_file() else 0)
    if not should_stream(setting, path, size):
        return None
    if len(families) != 1:
        raise DataError(f"dataset.streaming supports one tabular family, the spec has {len(families)}",
                        code="D032", location="dataset.streaming")
    log.info(f"Streaming {path} in chunks (dataset.streaming: {setting})")
    return StreamedData(path, families[0], ds["feature_type"], float(ds["val_fraction"]),
                        int(compiled.spec["random_seed"]), compiled.spec["feature_cleaning"],
                        compiled.spec["normalization_method"], max_rows=ds.get("max_samples"))
