"""Labels for the probe: a key of the data file (NPZ array / HDF5 dataset) or a file of
their own (``.npy``, an NPZ with one array, or text: one label per line)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from spinlock_spec.data.npz import NPZ_READ_ERRORS
from spinlock_spec.errors import DataError


def read_labels(name: str, data_path, n_rows: int) -> np.ndarray:
    """Labels [n_rows] named ``name`` (a file path, else a key in ``data_path``)."""
    path = Path(name)
    if path.is_file():
        values = _read_file(path)
        where = str(path)
    elif data_path is None:
        raise DataError(f"--labels {name}: not a file, and the data is the embedded synthetic set "
                        f"(it has no arrays to name)", code="D042",
                        hint="give a labels file: .npy, a one-array .npz, or text with one label per line")
    else:
        values = _read_key(name, Path(data_path))
        where = f"{data_path}:{name}"
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise DataError(f"{where}: labels must be one value per row, got shape {values.shape}",
                        code="D040", hint="give a 1-D array (or a text file with one label per line)")
    if values.dtype.hasobject:
        raise DataError(f"{where}: labels hold Python objects; store numbers or strings", code="D040")
    if len(values) < n_rows:
        raise DataError(f"{where}: {len(values)} labels for {n_rows} rows of the data", code="D041",
                        hint="one label per row of --data, in the same order")
    return values[:n_rows]


def _read_file(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                if len(npz.files) != 1:
                    raise DataError(f"{path}: a labels NPZ must hold exactly one array "
                                    f"(it holds {', '.join(npz.files) or 'none'})", code="D040",
                                    hint="or give the key: --labels KEY with the data file")
                return npz[npz.files[0]]
        lines = [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
    except (*NPZ_READ_ERRORS, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read labels from {path}: {exc}", code="D040") from None
    if len(lines) > 1 and not _is_number(lines[0]) and _is_number(lines[1]):
        lines = lines[1:]                       # a header line over numeric labels
    return np.array(lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_key(key: str, data_path: Path) -> np.ndarray:
    from spinlock_spec.data.sources import open_reader

    with open_reader(data_path) as reader:
        members = getattr(reader, "members", None)
        if members is not None:
            present = key in members
            available = sorted(members)
        else:
            import h5py

            present = isinstance(reader.file.get(key), h5py.Dataset)
            available = []
            reader.file.visititems(lambda n, obj: available.append(n) if isinstance(obj, h5py.Dataset)
                                   else None)
        if not present:
            raise DataError(f"--labels {key}: neither a file nor an array of {data_path}",
                            code="D042", hint="arrays in the file: " + ", ".join(available[:20]))
        return reader.read(key)
