"""NPZ datasets: one array per batch key, never unpickled.

Keys: ``F`` (family features [N, D] or [N, T, D]), ``F/lengths`` or
``F__lengths`` [N], ``F/fields`` or ``F__fields`` [N, C, H, W], and optionally
``F/true_groups`` [D] and ``F/column_names`` [D] (unicode array), each also
accepted with ``__`` in place of ``/``.  :func:`write_npz` writes the ``/``
form, atomically.  Shapes are read from the ``.npy`` headers inside the zip, so
:func:`~spinlock_spec.data.sources.read_shapes` loads no data.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spinlock_spec.errors import DataError

from .dataset import Dataset

# what reading a damaged NPZ (a zip of .npy members) raises: a bad header or shape (ValueError),
# a truncated or unreadable file, a broken zip directory, a header naming a zip version or
# compression zipfile does not implement, a broken deflate stream
NPZ_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, zlib.error)
SEPARATORS = ("/", "__")


class NPZReader:
    format_name = "NPZ"

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
            members = self.zip.namelist()
        except NPZ_READ_ERRORS as exc:
            raise DataError(f"cannot open {self.path} as NPZ: the file is corrupt or truncated ({exc})",
                            code="D003") from None
        self.members = {m[:-4]: m for m in members if m.endswith(".npy")}
        self._headers: dict[str, tuple[tuple, np.dtype]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.zip.close()

    def _corrupt(self, key: str, exc: Exception) -> DataError:
        return DataError(f"cannot read array {key!r} from {self.path}: the file is corrupt or truncated "
                         f"({exc})", code="D003")

    def _header(self, key: str) -> tuple[tuple, np.dtype]:
        if key not in self._headers:
            try:
                with self.zip.open(self.members[key]) as fp:
                    version = np.lib.format.read_magic(fp)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
                    else:
                        raise ValueError(f"unsupported .npy format version {version}")
                    header_end = fp.tell()
            except NPZ_READ_ERRORS as exc:
                raise self._corrupt(key, exc) from None
            dtype = np.dtype(dtype)
            stored = self.zip.getinfo(self.members[key]).file_size
            declared = header_end + int(np.prod(shape, dtype=object)) * dtype.itemsize
            if not dtype.hasobject and declared > stored:      # checked before anything is allocated
                raise self._corrupt(key, ValueError(f"its header declares shape {tuple(shape)} "
                                                    f"({declared} bytes) but it holds {stored}"))
            self._headers[key] = (tuple(shape), dtype)
        return self._headers[key]

    def _find(self, family: str, suffix: str) -> str | None:
        for sep in SEPARATORS:
            if f"{family}{sep}{suffix}" in self.members:
                return f"{family}{sep}{suffix}"
        return None

    def families_present(self) -> list[str]:
        return sorted(k for k in self.members if not any(sep in k for sep in SEPARATORS))

    def locate(self, family: str, feature_type: str) -> str:
        if family in self.members:
            return family
        raise DataError(f"{self.path}: family {family!r} not found (expected an array named "
                        f"{family!r}); arrays in the file: {', '.join(sorted(self.members)) or 'none'}",
                        code="D004")

    def lengths_key(self, family: str, features_key: str) -> str | None:
        return self._find(family, "lengths")

    def fields_key(self, family: str) -> str | None:
        return self._find(family, "fields")

    def fields_expected(self, family: str) -> str:
        return f"{family}/fields"

    def shape(self, key: str) -> tuple:
        return self._header(key)[0]

    def dtype(self, key: str) -> np.dtype:
        return self._header(key)[1]

    def read(self, key: str, n_rows: int | None = None) -> np.ndarray:
        if self.dtype(key).hasobject:
            raise DataError(f"{self.path}: array {key!r} holds Python objects; refusing to unpickle it "
                            f"(store plain numeric or string arrays)", code="D005")
        try:
            with self.zip.open(self.members[key]) as fp:
                arr = np.lib.format.read_array(fp, allow_pickle=False)
        except NPZ_READ_ERRORS as exc:
            raise self._corrupt(key, exc) from None
        return arr if n_rows is None or arr.ndim == 0 else arr[:n_rows]

    def read_true_groups(self, features_key: str) -> np.ndarray | None:
        key = self._find(features_key, "true_groups")
        return self.read(key).astype(np.int64) if key else None

    def read_column_names(self, features_key: str) -> list[str] | None:
        key = self._find(features_key, "column_names")
        if key is None or self.dtype(key).kind not in "US":
            return None
        return [str(s) for s in self.read(key).tolist()]


def write_npz(dataset: Dataset, path) -> Path:
    """Write ``dataset`` as NPZ (``/``-separated keys), atomically."""
    path = Path(path)
    arrays = dict(dataset.arrays)
    for family, groups in dataset.true_groups.items():
        arrays[f"{family}/true_groups"] = np.asarray(groups, np.int64)
    for family, names in dataset.column_names.items():
        arrays[f"{family}/column_names"] = np.array(names, dtype=str)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fp:
            np.savez(fp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
