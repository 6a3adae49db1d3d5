"""HDF5 in the spinlock layout (shared/reference/spinlock-format.md §2).

Reading (lazy, h5py):

==========================================  =========================================
``features/F/<feature_type>/features``       non-temporal family ``F`` [N, D]
``features/temporal/features``               the family ``temporal`` [N, T, D]
``<same group>/lengths``                     optional per-sample lengths [N] (padding at the end)
``<same group>/true_groups``                 optional planted group of each column [D]
``<same group>/column_names``                optional column names [D] (strings)
``inputs/F/fields`` or ``inputs/fields``     raw initial-condition fields [N, C, H, W]
==========================================  =========================================

As fallbacks a family is also found at ``features/F/features`` and the
``temporal`` family at ``features/temporal/<feature_type>/features``.

:func:`write_hdf5` writes a :class:`Dataset` in exactly this layout (fields of
the ``initial`` family at ``inputs/fields``, of any other family ``F`` at
``inputs/F/fields``), atomically.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from spinlock_spec.errors import DataError

from .dataset import Dataset

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def features_path(family: str, feature_type: str = "aggregated") -> str:
    if family == "temporal":
        return "features/temporal/features"
    return f"features/{family}/{feature_type}/features"


def fields_path(family: str) -> str:
    return "inputs/fields" if family == "initial" else f"inputs/{family}/fields"


def _sibling(dataset_path: str, name: str) -> str:
    return dataset_path.rsplit("/", 1)[0] + "/" + name


class HDF5Reader:
    """Lazy access to one spinlock-layout HDF5 file (use as a context manager)."""

    format_name = "HDF5"

    def __init__(self, path: Path):
        import h5py

        self.path = Path(path)
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise DataError(f"cannot open {self.path} as HDF5: the file is corrupt or truncated ({exc})",
                            code="D003") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.file.close()
        except Exception:   # noqa: BLE001 - closing a broken file must not mask the real error
            pass

    # -- discovery -------------------------------------------------------------
    def _is_dataset(self, key: str) -> bool:
        import h5py

        try:
            return isinstance(self.file.get(key), h5py.Dataset)
        except (OSError, KeyError, RuntimeError):
            return False

    def families_present(self) -> list[str]:
        import h5py

        try:
            group = self.file.get("features")
            if not isinstance(group, h5py.Group):
                return []
            return sorted(group.keys())
        except (OSError, RuntimeError):
            return []

    def feature_types(self, family: str) -> list[str]:
        import h5py

        group = self.file.get(f"features/{family}")
        if not isinstance(group, h5py.Group):
            return []
        return sorted(k for k in group.keys() if self._is_dataset(f"features/{family}/{k}/features"))

    def locate(self, family: str, feature_type: str) -> str:
        """HDF5 path of the family's feature array, or a DataError naming what exists."""
        primary = features_path(family, feature_type)
        fallbacks = ([f"features/temporal/{feature_type}/features"] if family == "temporal"
                     else [f"features/{family}/features"])
        for key in (primary, *fallbacks):
            if self._is_dataset(key):
                return key
        present = self.families_present()
        if family in present:
            types = self.feature_types(family)
            detail = (f"it has feature types: {', '.join(types)}" if types
                      else "the group holds no 'features' dataset")
            raise DataError(f"{self.path}: family {family!r} has no dataset at {primary} ({detail})",
                            code="D004")
        listed = ", ".join(present) if present else "none (no 'features' group)"
        raise DataError(f"{self.path}: family {family!r} not found (expected {primary}); "
                        f"families in the file: {listed}", code="D004")

    def lengths_key(self, family: str, features_key: str) -> str | None:
        key = _sibling(features_key, "lengths")
        return key if self._is_dataset(key) else None

    def fields_key(self, family: str) -> str | None:
        for key in (f"inputs/{family}/fields", "inputs/fields"):
            if self._is_dataset(key):
                return key
        return None

    def fields_expected(self, family: str) -> str:
        return "inputs/fields"

    # -- reading ---------------------------------------------------------------
    def shape(self, key: str) -> tuple:
        ds = self.file[key]
        if ds.chunks is not None and ds.size:
            self._check_stored(key, ds)
        return tuple(ds.shape)

    def _check_stored(self, key: str, ds) -> None:
        """A chunked array whose chunks were not all written declares rows it does not hold
        (a writer killed mid-way, or a header edited to 10**9 rows): they would read as the
        fill value.  Checked from the chunk index, without reading data."""
        total = 1
        for n, c in zip(ds.shape, ds.chunks):
            total *= -(-int(n) // int(c))
        try:
            stored = ds.id.get_num_chunks()
        except (AttributeError, OSError, RuntimeError):    # an HDF5 library without the call
            return
        if stored < total:
            raise DataError(f"{self.path}:{key}: declares shape {tuple(ds.shape)} but only {stored} of its "
                            f"{total} chunks hold data (the rest would read as zeros); the file was not "
                            "completely written", code="D003", hint="re-create or re-download the file")

    def dtype(self, key: str) -> np.dtype:
        return self.file[key].dtype

    def read(self, key: str, n_rows: int | None = None) -> np.ndarray:
        try:
            ds = self.file[key]
            return np.asarray(ds[()] if n_rows is None or ds.ndim == 0 else ds[:n_rows])
        except (OSError, RuntimeError, ValueError) as exc:
            raise DataError(f"cannot read {key} from {self.path}: the file is corrupt or truncated ({exc})",
                            code="D003") from None

    def read_true_groups(self, features_key: str) -> np.ndarray | None:
        key = _sibling(features_key, "true_groups")
        return self.read(key).astype(np.int64) if self._is_dataset(key) else None

    def read_column_names(self, features_key: str) -> list[str] | None:
        key = _sibling(features_key, "column_names")
        if not self._is_dataset(key):
            return None
        try:
            return [str(s) for s in self.file[key].asstr()[()]]
        except (OSError, TypeError, ValueError, UnicodeDecodeError):
            return None


def write_hdf5(dataset: Dataset, path, feature_type: str = "aggregated", attrs: dict | None = None) -> Path:
    """Write ``dataset`` in the spinlock layout, atomically (temporary file + rename)."""
    import h5py

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise DataError(f"cannot write {path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    string_dtype = h5py.string_dtype()
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layout"] = "spinlock"
            f.attrs["writer"] = "spinlock-spec"
            f.attrs["source"] = dataset.source
            f.attrs["n_samples"] = dataset.n_samples
            for key, value in (attrs or {}).items():
                f.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
            for family in dataset.families:
                if f"{family}/fields" in dataset.arrays:
                    f.create_dataset(fields_path(family),
                                     data=np.asarray(dataset.arrays[f"{family}/fields"], np.float32))
                if family not in dataset.arrays:
                    continue
                key = features_path(family, feature_type)
                f.create_dataset(key, data=dataset.arrays[family])
                if f"{family}/lengths" in dataset.arrays:
                    f.create_dataset(_sibling(key, "lengths"),
                                     data=np.asarray(dataset.arrays[f"{family}/lengths"], np.int64))
                if family in dataset.true_groups:
                    f.create_dataset(_sibling(key, "true_groups"),
                                     data=np.asarray(dataset.true_groups[family], np.int64))
                if family in dataset.column_names:
                    f.create_dataset(_sibling(key, "column_names"),
                                     data=np.array(dataset.column_names[family], dtype=object),
                                     dtype=string_dtype)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):     # disk full, file size limit, read-only: one message (E020)
            from spinlock_spec.errors import output_error

            raise output_error(path, exc) from None
        raise
    return path
