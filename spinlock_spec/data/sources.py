"""Dataset sources: an HDF5 file (spinlock layout), an NPZ file, or the embedded
synthetic generator.  Validation is shared by both file formats and every
user-caused problem is a :class:`~spinlock_spec.errors.DataError` naming the
file and the array path.

Expected dimensionality of a family's array: ``expected_ndim[F]`` when given
(the caller knows the encoder's input kind: 2 tabular, 3 temporal); otherwise
3 for the family named ``temporal`` and 2 or 3 for any other family.

``read_shapes`` returns per-sample shapes keyed like a batch (``F``,
``F/lengths`` -> ``()``, ``F/fields`` -> ``(C, H, W)``) plus the row count
under the key ``"__n__"`` -> ``(N,)``.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from spinlock_spec.errors import DataError

from .dataset import Dataset
from .shapes import FIELD_FAMILIES, synthetic_shapes, with_defaults

N_KEY = "__n__"

# the codes of DataError are in spinlock_spec/errors_table.py (docs/errors.md)


def detect_format(path) -> str:
    """``"hdf5"`` or ``"npz"`` from the file's content (not its name)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset file not found: {path}", code="D001")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a dataset file", code="D002")
    try:
        with open(path, "rb") as fp:
            head = fp.read(8)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}", code="D001") from None
    from .hdf5 import HDF5_SIGNATURE

    if head == HDF5_SIGNATURE:
        return "hdf5"
    if head[:2] == b"PK":
        return "npz"
    import h5py   # HDF5 files may start with a user block; h5py looks further

    try:
        if h5py.is_hdf5(str(path)):
            return "hdf5"
    except OSError:
        pass
    if zipfile.is_zipfile(path):
        return "npz"
    kind = "empty" if not head else "unrecognized content"
    raise DataError(f"{path} is neither an HDF5 nor an NPZ file ({kind})", code="D002",
                    hint="give an HDF5 file in the spinlock layout or an NPZ file "
                                             "with one array per family")


def open_reader(path):
    path = Path(path)
    if detect_format(path) == "hdf5":
        from .hdf5 import HDF5Reader

        return HDF5Reader(path)
    from .npz import NPZReader

    return NPZReader(path)


def _err(reader, key: str, message: str, code: str) -> DataError:
    return DataError(f"{reader.path}:{key}: {message}", code=code)


def _check_ndim(reader, family: str, key: str, shape: tuple, expected_ndim: dict | None) -> None:
    if expected_ndim and family in expected_ndim:
        allowed = (int(expected_ndim[family]),)
    elif family == "temporal":
        allowed = (3,)
    else:
        allowed = (2, 3)
    if len(shape) not in allowed:
        layout = {2: "[N, D]", 3: "[N, T, D]"}
        want = " or ".join(layout.get(d, f"{d}-D") for d in allowed)
        raise _err(reader, key, f"family {family!r} must be {want}, found shape {shape}", "D005")
    if shape[-1] == 0:
        raise _err(reader, key, f"family {family!r} has no columns (shape {shape})", "D005")
    if not np.issubdtype(reader.dtype(key), np.number) or np.issubdtype(reader.dtype(key), np.complexfloating):
        raise _err(reader, key, f"family {family!r} must hold real numbers, found dtype "
                                f"{reader.dtype(key)}", "D005")


def _plan(reader, family_names, feature_type, need_fields, expected_ndim, fields_only=()):
    """Locate and shape-check every array to read; returns (keys by batch key, shapes)."""
    keys: dict[str, str] = {}
    shapes: dict[str, tuple] = {}
    fields_only = set(fields_only or ())
    need_fields = set(need_fields or ()) | fields_only
    unknown = need_fields - set(family_names)
    if unknown:
        raise ValueError(f"need_fields/fields_only name families not requested: {sorted(unknown)}")
    for family in family_names:
        if family in fields_only:
            fkey = _locate_fields(reader, family)
            keys[f"{family}/fields"], shapes[f"{family}/fields"] = fkey, reader.shape(fkey)
            continue
        key = reader.locate(family, feature_type)
        shape = reader.shape(key)
        _check_ndim(reader, family, key, shape, expected_ndim)
        keys[family], shapes[family] = key, shape
        lkey = reader.lengths_key(family, key)
        if lkey is not None:
            lshape = reader.shape(lkey)
            if len(shape) != 3 or len(lshape) != 1 or not np.issubdtype(reader.dtype(lkey), np.integer):
                raise _err(reader, lkey, f"lengths of family {family!r} must be an integer array [N] "
                                         f"beside a [N, T, D] array; found {lshape} "
                                         f"({reader.dtype(lkey)}) beside {shape}", "D009")
            keys[f"{family}/lengths"], shapes[f"{family}/lengths"] = lkey, lshape
        if family in need_fields:
            fkey = _locate_fields(reader, family)
            keys[f"{family}/fields"], shapes[f"{family}/fields"] = fkey, reader.shape(fkey)
    rows = {bk: (keys[bk], shp[0]) for bk, shp in shapes.items()}
    if len({n for _, n in rows.values()}) > 1:
        listed = ", ".join(f"{bk} has {n} ({k})" for bk, (k, n) in rows.items())
        raise DataError(f"{reader.path}: families have different numbers of rows: {listed}",
                        code="D008")
    return keys, shapes


def _locate_fields(reader, family: str) -> str:
    fkey = reader.fields_key(family)
    if fkey is None:
        raise DataError(f"{reader.path}: family {family!r} needs raw initial-condition fields "
                        f"(its encoder is initial_cnn or initial_hybrid) but the file has no "
                        f"{reader.fields_expected(family)}", code="D006")
    fshape = reader.shape(fkey)
    if len(fshape) != 4:
        raise _err(reader, fkey, f"raw fields must be [N, C, H, W], found shape {fshape}", "D005")
    if not np.issubdtype(reader.dtype(fkey), np.number):
        raise _err(reader, fkey, f"raw fields must hold real numbers, found dtype {reader.dtype(fkey)}", "D005")
    return fkey


def read_shapes(path, family_names: list[str], feature_type: str = "aggregated", *,
                need_fields=None, expected_ndim: dict | None = None,
                fields_only=frozenset()) -> dict[str, tuple]:
    """Per-sample shapes of the batch keys for ``family_names``, plus ``"__n__": (N,)``,
    without loading any data.

    Fields are reported for the families in ``need_fields`` (a DataError when
    missing); with ``need_fields=None`` they are reported, when present, for
    the ``initial`` family only.  Families in ``fields_only`` (encoder
    ``initial_cnn``) have no feature array: only ``F/fields`` is read.
    """
    with open_reader(path) as reader:
        required = set(need_fields or ())
        keys, shapes = _plan(reader, family_names, feature_type, required, expected_ndim, fields_only)
        if need_fields is None:
            for family in family_names:
                if family in FIELD_FAMILIES and f"{family}/fields" not in shapes:
                    fkey = reader.fields_key(family)
                    if fkey is not None and len(reader.shape(fkey)) == 4:
                        shapes[f"{family}/fields"] = reader.shape(fkey)
        n = next(iter(shapes.values()))[0] if shapes else 0
        out = {bk: tuple(int(d) for d in shp[1:]) for bk, shp in shapes.items()}
        out[N_KEY] = (int(n),)
        return out


def _validate_values(reader, family: str, key: str, arr: np.ndarray) -> None:
    if arr.size and np.isnan(arr).all():
        raise _err(reader, key, f"family {family!r} is all NaN", "D007")


def _validate_lengths(reader, family: str, key: str, lengths: np.ndarray, t_len: int) -> None:
    bad = (lengths < 1) | (lengths > t_len)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _err(reader, key, f"lengths of family {family!r} must be in [1, {t_len}]; row {i} has "
                                f"{int(lengths[i])} ({int(bad.sum())} bad row(s))", "D009")


def available_memory() -> int | None:
    """Bytes this process may still allocate: /proc/meminfo's MemAvailable, lowered to the
    address-space limit (ulimit -v) when one is set; None when neither is known."""
    import resource

    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            found.append(int(soft))
    except (OSError, ValueError, AttributeError):
        pass
    return min(found) if found else None


def features_bytes(reader, keys: dict[str, str], n_rows: int) -> int:
    """Memory that loading ``n_rows`` rows of ``keys`` takes: float32 copies, plus the file's
    own dtype while it is converted (nothing is read)."""
    total = 0
    for key in keys.values():
        shape = reader.shape(key)
        per_row = int(np.prod(shape[1:], dtype=object)) if len(shape) > 1 else 1
        itemsize = reader.dtype(key).itemsize
        total += n_rows * per_row * (4 + (itemsize if itemsize != 4 else 0))
    return total


def file_features_bytes(path, family_names: list[str], feature_type: str = "aggregated") -> int:
    """Bytes of the families' feature arrays in the file at ``path`` as float32 (from the
    headers; what ``dataset.streaming: auto`` decides on).  A family the file lacks counts 0
    (the loader names it); an array declaring rows it does not hold is an error (D003)."""
    total = 0
    with open_reader(path) as reader:
        for family in family_names:
            try:
                key = reader.locate(family, feature_type)
            except DataError as exc:
                if exc.code == "D003":
                    raise
                continue
            shape = reader.shape(key)
            total += 4 * int(np.prod(shape, dtype=object))
    return total


#: copies of the data that loading, cleaning, normalizing and splitting hold at once (about)
PIPELINE_COPIES = 3


def _check_memory(reader, keys: dict[str, str], n_rows: int) -> None:
    need = features_bytes(reader, keys, n_rows) * PIPELINE_COPIES
    have = available_memory()
    if have is not None and need > have:
        gib = 1024 ** 3
        raise DataError(f"{reader.path}: loading and normalizing {n_rows} rows of {', '.join(keys)} needs about "
                        f"{need / gib:.1f} GiB of memory; {have / gib:.1f} GiB is available", code="D014",
                        hint="set dataset.max_samples, or stream an HDF5 file of one tabular family "
                             "(dataset.streaming: true)")


def load_dataset(path, family_names: list[str], feature_type: str = "aggregated",
                 max_samples: int | None = None, need_fields=frozenset(), *,
                 expected_ndim: dict | None = None, fields_only=frozenset()) -> Dataset:
    """Load ``family_names`` (first ``max_samples`` rows) from an HDF5 or NPZ file."""
    if max_samples is not None and int(max_samples) < 1:
        raise DataError(f"{path}: max_samples must be at least 1, got {max_samples}")
    with open_reader(path) as reader:
        keys, shapes = _plan(reader, family_names, feature_type, need_fields, expected_ndim, fields_only)
        n_file = next(iter(shapes.values()))[0]
        if n_file == 0:
            raise DataError(f"{reader.path}: the dataset has no rows", code="D005")
        n = n_file if max_samples is None else min(int(max_samples), n_file)
        _check_memory(reader, keys, n if reader.format_name == "HDF5" else n_file)   # NPZ reads whole arrays
        arrays: dict[str, np.ndarray] = {}
        column_names: dict[str, list[str]] = {}
        true_groups: dict[str, np.ndarray] = {}
        for batch_key, key in keys.items():
            if batch_key.endswith("/lengths"):
                arrays[batch_key] = reader.read(key, n).astype(np.int64)
                continue
            arr = np.asarray(reader.read(key, n), dtype=np.float32)
            if batch_key.endswith("/fields"):
                arrays[batch_key] = arr
                continue
            family = batch_key
            _validate_values(reader, family, key, arr)
            arrays[family] = arr
            width = arr.shape[-1]
            names = reader.read_column_names(key)
            column_names[family] = (names if names is not None and len(names) == width
                                    else [f"{family}_{j:03d}" for j in range(width)])
            groups = reader.read_true_groups(key)
            if groups is not None and groups.shape == (width,):
                true_groups[family] = groups
        for family in family_names:
            lkey = f"{family}/lengths"
            if lkey in arrays:
                _validate_lengths(reader, family, keys[lkey], arrays[lkey], arrays[family].shape[1])
        return Dataset(arrays=arrays, column_names=column_names, true_groups=true_groups,
                       n_samples=n, source=str(reader.path))


# -- from the resolved ``dataset`` section ---------------------------------------

def load_from_config(dataset_cfg: dict, family_names: list[str], need_fields=frozenset(), *,
                     expected_ndim: dict | None = None, fields_only=frozenset(),
                     path_override=None) -> Dataset:
    """The dataset a resolved spec asks for: a file, or the embedded synthetic data."""
    path = path_override if path_override is not None else dataset_cfg.get("path")
    max_samples = dataset_cfg.get("max_samples")
    if path is None:
        from .synthetic import generate_synthetic

        ds = generate_synthetic(dataset_cfg.get("synthetic") or {}, family_names)
        if max_samples is not None and max_samples < ds.n_samples:
            ds = ds.subset(np.arange(int(max_samples)))
        for family in fields_only:
            if f"{family}/fields" not in ds.arrays:
                raise DataError(f"the synthetic dataset has no raw fields for family {family!r} "
                                f"(only {', '.join(FIELD_FAMILIES)} carries fields)", code="D006")
            ds.arrays.pop(family, None)
            ds.column_names.pop(family, None)
            ds.true_groups.pop(family, None)
        return ds
    return load_dataset(path, family_names, dataset_cfg.get("feature_type") or "aggregated",
                        max_samples, need_fields, expected_ndim=expected_ndim, fields_only=fields_only)


def shapes_from_config(dataset_cfg: dict, family_names: list[str], need_fields=None, *,
                       expected_ndim: dict | None = None, fields_only=frozenset(),
                       path_override=None) -> dict[str, tuple]:
    """Per-sample shapes plus ``"__n__"`` for a resolved ``dataset`` section."""
    path = path_override if path_override is not None else dataset_cfg.get("path")
    if path is None:
        cfg = with_defaults(dataset_cfg.get("synthetic"))
        shapes = synthetic_shapes(cfg, family_names)
        for family in fields_only:
            shapes.pop(family, None)
        n = cfg["n_samples"]
        if dataset_cfg.get("max_samples") is not None:
            n = min(n, int(dataset_cfg["max_samples"]))
        shapes[N_KEY] = (int(n),)
        return shapes
    shapes = read_shapes(path, family_names, dataset_cfg.get("feature_type") or "aggregated",
                         need_fields=need_fields, expected_ndim=expected_ndim, fields_only=fields_only)
    if dataset_cfg.get("max_samples") is not None:
        shapes[N_KEY] = (min(shapes[N_KEY][0], int(dataset_cfg["max_samples"])),)
    return shapes
