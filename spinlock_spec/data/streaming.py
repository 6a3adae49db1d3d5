"""Streaming an HDF5 file larger than memory (``dataset.streaming``).

Rows are read in contiguous chunks of ``chunk_rows`` (rounded down to a multiple of
the file's HDF5 chunk rows), each straight into one of ``prefetch + 1`` float32
buffers allocated once per pass (``read_direct``); a background thread reads and
normalizes (in place) the next ``prefetch`` chunks while the trainer consumes the
current one.  Memory is therefore bounded by the buffers, a few fixed-size blocks
of ``BLOCK_ROWS`` rows, the training sample and the validation rows, whatever the
number of rows; no per-chunk array of chunk size is allocated (variable-size
allocations of that size fragment the C heap: resident memory then grows with
the number of chunks read).

* Split: row i is a validation row when ``hash(i, seed) mod 10^6 < val_fraction * 10^6``
  (a fixed integer hash); both splits are read from the same chunks.  The
  validation rows are gathered once into memory (val_fraction of the file), in the
  same pass as the normalization statistics.
* Preprocessing: the cleaning decisions (kept columns, imputation values, clip
  bounds) come from a sample of the training rows (``sample_rows``, spread over the
  file); the normalization statistics (mean and standard deviation of each kept
  column, after imputation and clipping) come from ONE streaming pass over every
  training row (Chan's parallel merge of per-block moments, float64), and replace the
  sample's.  ``normalization_method: mad`` needs medians, ``yeo-johnson`` and ``quantile``
  whole columns: they are refused; ``auto`` standardizes (no transform) when streaming.
* Shuffling, per epoch (seeded by the epoch): the order of the chunks is a random
  permutation, and the training rows of each chunk are permuted; batches are cut
  from that stream (a batch may span two consecutive chunks).  Rows of different
  chunks are never mixed beyond that: with chunks much smaller than the file the
  order is close to a full shuffle.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from collections.abc import Iterator

import numpy as np

from spinlock_spec.errors import DataError

DEFAULT_CHUNK_ROWS = 65_536
BLOCK_ROWS = 8192                          # rows per block of the in-place transform and the moment sums
USER_ROWS = 50_000                         # raw validation rows kept for the user-scale quality
DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3      # auto: stream files larger than this (bytes of features)


def val_mask(rows: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Bool mask of validation rows for global row indices ``rows`` (deterministic)."""
    h = (rows.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed * 97 + 13)) % np.uint64(2 ** 32)
    h = (h ^ (h >> np.uint64(13))) * np.uint64(1274126177) % np.uint64(2 ** 32)
    return (h % np.uint64(1_000_000)) < np.uint64(int(round(val_fraction * 1_000_000)))


def should_stream(setting, path, features_bytes: int, budget: int = DEFAULT_MEMORY_BUDGET) -> bool:
    """``dataset.streaming``: true / false, or auto = the features exceed ``budget`` bytes."""
    if setting in (True, "true"):
        return True
    if setting in (False, "false", None):
        return False
    return path is not None and features_bytes > budget


class StreamingTable:
    """One tabular family of an HDF5 file, read in chunks (see the module doc)."""

    def __init__(self, path, key: str, *, val_fraction: float, seed: int,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, prefetch: int = 2, max_rows: int | None = None):
        import h5py

        self.path, self.key = Path(path), key
        self.file = h5py.File(self.path, "r")
        if key not in self.file:
            raise DataError(f"{self.path}: no dataset {key!r} to stream", code="D004")
        self.ds = self.file[key]
        if self.ds.ndim != 2:
            raise DataError(f"{self.path}:{key}: streaming supports tabular [N, D] families, "
                            f"got shape {self.ds.shape}", code="D011")
        self.n_rows = int(self.ds.shape[0]) if max_rows is None else min(int(max_rows), int(self.ds.shape[0]))
        self.n_cols = int(self.ds.shape[1])
        self.val_fraction, self.seed = float(val_fraction), int(seed)
        self.chunk_rows, self.prefetch = _aligned_rows(int(chunk_rows), self.ds.chunks), int(prefetch)
        self.starts = list(range(0, self.n_rows, self.chunk_rows))
        self.transform = None                  # chunk [n, D] float32 (may change it in place) -> [n, D']
        self.n_val = int(sum(int(val_mask(np.arange(a, min(a + self.chunk_rows, self.n_rows)),
                                          self.val_fraction, self.seed).sum()) for a in self.starts))
        self.n_train = self.n_rows - self.n_val

    def close(self):
        self.file.close()

    def _read_into(self, start: int, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows [start, start + chunk_rows) read into ``buf`` (no new array), and their val mask."""
        stop = min(start + self.chunk_rows, self.n_rows)
        self.ds.read_direct(buf, np.s_[start:stop], np.s_[0:stop - start])
        return buf[:stop - start], val_mask(np.arange(start, stop), self.val_fraction, self.seed)

    # -- statistics ------------------------------------------------------------------
    def sample_train_rows(self, n: int) -> np.ndarray:
        """About ``n`` training rows spread over the file (for cleaning decisions and
        category discovery): the head of evenly spaced chunks."""
        per = max(1, n // max(1, len(self.starts)))
        parts = []
        for a in self.starts:
            stop = min(a + per * 2, self.n_rows)
            x = np.asarray(self.ds[a:stop], np.float32)
            parts.append(x[~val_mask(np.arange(a, stop), self.val_fraction, self.seed)][:per])
        return np.concatenate(parts)[:n]

    def scan(self, clean, keep_validation: bool = False):
        """One pass over the file: (mean, std, rows) of ``clean(raw chunk)`` over every
        training row, and, with ``keep_validation``, the raw validation rows [n_val, D]
        (else None).  ``clean`` may change the chunk in place.  The moments are merged
        per block of at most BLOCK_ROWS rows (Chan's formula) in float64."""
        n, mean, m2 = 0, None, None
        val = np.empty((self.n_val, self.n_cols), np.float32) if keep_validation else None
        pos = 0
        for x, is_val in self._chunks(range(len(self.starts))):
            if val is not None and is_val.any():
                idx = np.flatnonzero(is_val)
                np.take(x, idx, axis=0, out=val[pos:pos + len(idx)], mode="clip")   # unbuffered
                pos += len(idx)
            c = clean(x)
            train = np.flatnonzero(~is_val)
            for a in range(0, len(train), BLOCK_ROWS):
                b = np.asarray(c[train[a:a + BLOCK_ROWS]], np.float64)
                bn, bmean = len(b), b.mean(0)
                b -= bmean
                bm2 = np.einsum("ij,ij->j", b, b)
                if mean is None:
                    n, mean, m2 = bn, bmean, bm2
                else:
                    delta = bmean - mean
                    tot = n + bn
                    mean = mean + delta * (bn / tot)
                    m2 = m2 + bm2 + delta ** 2 * (n * bn / tot)
                    n = tot
        if mean is None:
            raise DataError(f"{self.path}: no training rows to stream", code="D020")
        return mean, np.sqrt(m2 / max(n - 1, 1)), n, val

    # -- epochs ------------------------------------------------------------------------
    def _chunks(self, order, transform=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Chunks in ``order`` as (rows, val mask), read (and transformed by ``transform``,
        in place) by a background thread into ``prefetch + 1`` buffers allocated once.
        A yielded chunk is a view of a buffer: valid until the next one is requested."""
        n_buf = max(1, self.prefetch) + 1
        bufs = [np.empty((min(self.chunk_rows, self.n_rows), self.n_cols), np.float32)
                for _ in range(n_buf)]
        free: queue.Queue = queue.Queue()
        for i in range(n_buf):
            free.put(i)
        ready: queue.Queue = queue.Queue()
        stop = threading.Event()
        done = object()

        def worker():
            try:
                for i in order:
                    slot = None
                    while slot is None:
                        if stop.is_set():
                            return
                        try:
                            slot = free.get(timeout=0.05)
                        except queue.Empty:
                            pass
                    x, is_val = self._read_into(self.starts[i], bufs[slot])
                    if transform is not None:
                        x = transform(x)
                    ready.put((slot, x, is_val))
                ready.put(done)
            except BaseException as exc:   # noqa: BLE001 - re-raised in the consumer
                ready.put(exc)

        t = threading.Thread(target=worker, daemon=True, name="spinlock-spec-prefetch")
        t.start()
        try:
            while True:
                item = ready.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                slot, x, is_val = item
                yield x, is_val
                free.put(slot)
        finally:
            stop.set()
            t.join()

    def epoch_batches(self, epoch_seed: int, batch_size: int) -> Iterator[np.ndarray]:
        """Normalized training batches [b, D'] of one epoch (the module doc's shuffle);
        a trailing batch of fewer than 2 rows is dropped.  Each batch is its own array
        (gathered from the chunk buffer), so it stays valid after the next one."""
        rng = np.random.default_rng(epoch_seed)
        order = rng.permutation(len(self.starts)).tolist()
        carry = None                          # rows of the previous chunks, fewer than a batch
        for x, is_val in self._chunks(order, self.transform):
            train = np.flatnonzero(~is_val)
            rows = train[rng.permutation(len(train))]
            pos = 0
            if carry is not None and len(carry):
                need = batch_size - len(carry)
                if len(rows) < need:
                    carry = np.concatenate([carry, x[rows]])
                    continue
                yield np.concatenate([carry, x[rows[:need]]])
                pos = need
            full = pos + ((len(rows) - pos) // batch_size) * batch_size
            for a in range(pos, full, batch_size):
                yield x[rows[a:a + batch_size]]
            carry = x[rows[full:]]
        if carry is not None and len(carry) >= 2:
            yield carry


def _aligned_rows(chunk_rows: int, hdf5_chunks) -> int:
    """``chunk_rows`` rounded down to a multiple of the file's HDF5 chunk rows (when
    smaller), so each HDF5 chunk is read (and decompressed) once per pass."""
    c = int(hdf5_chunks[0]) if hdf5_chunks else 0
    return (chunk_rows // c) * c if 0 < c < chunk_rows else max(1, chunk_rows)


# --------------------------------------------------------------------------- pipeline glue
class StreamedData:
    """What api.train needs from a streamed file: a training ``sample`` Dataset (category
    discovery, model shapes), the in-memory ``val`` Dataset, the fitted ``preprocessor``
    and the training ``stream``."""

    def __init__(self, path, family: str, feature_type: str, val_fraction: float, seed: int,
                 cleaning: dict, method: str, *, max_rows: int | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, sample_rows: int = 20_000):
        from .dataset import Dataset
        from .hdf5 import HDF5Reader
        from .preprocess import fit_preprocessor

        if method == "auto":          # per-column transforms need whole columns: plain standardization
            method = "standard"
        if method != "standard":
            raise DataError(f"streaming needs normalization_method: standard or auto ({method} needs "
                            "medians or quantiles of the whole file)", code="D030",
                            location="normalization_method")
        with HDF5Reader(Path(path)) as reader:
            key = reader.locate(family, feature_type)
            groups = reader.read_true_groups(key)
            names = reader.read_column_names(key)
        self.stream = StreamingTable(path, key, val_fraction=val_fraction, seed=seed,
                                     chunk_rows=chunk_rows, max_rows=max_rows)
        self.stream.family = family
        d = self.stream.n_cols
        meta = {"column_names": {family: list(names or [f"{family}_{j:03d}" for j in range(d)])},
                "true_groups": {family: groups} if groups is not None else {}}
        sample = self.stream.sample_train_rows(sample_rows)
        source = f"{path} (streamed)"
        self.sample = Dataset({family: sample}, n_samples=len(sample), source=source, **meta)
        pre = fit_preprocessor(self.sample, cleaning, method)
        stats = pre.families[family]
        # the one streaming pass: moments of the cleaned training rows + the raw validation rows
        mean, std, _, val_raw = self.stream.scan(ChunkNormalizer(stats, standardize=False),
                                                 keep_validation=True)
        stats.center, stats.scale = mean, np.where(std > 1e-12, std, 1.0)
        self.preprocessor = pre
        self.stream.transform = ChunkNormalizer(stats)
        self.train_sample = pre.transform(self.sample)
        # raw validation rows for the user-scale quality (train/user_quality.py), at most USER_ROWS
        self.val_raw = Dataset({family: np.array(val_raw[:USER_ROWS], np.float32)},
                               n_samples=min(len(val_raw), USER_ROWS), source=source, **meta)
        val = np.ascontiguousarray(self.stream.transform(val_raw))     # in place (a copy if columns dropped)
        self.val = Dataset({family: val}, n_samples=len(val), source=source,
                           column_names=self.train_sample.column_names,
                           true_groups=self.train_sample.true_groups)


class ChunkNormalizer:
    """``TabularStats.apply`` (keep columns, impute, clip, standardize) in float32 and in
    place: ``normalizer(x)`` changes the float32 rows ``x`` [n, D] and returns the
    [n, D'] result, a view of ``x`` (a non-float32 or read-only ``x`` is copied first).
    Works per block of BLOCK_ROWS rows, so its temporaries are small and of a fixed
    size.  ``standardize=False``: cleaning only (for the moments pass)."""

    def __init__(self, stats, *, standardize: bool = True):
        self.kept = np.asarray(stats.kept, np.int64)
        n_in = int(stats.n_input_columns)
        self.subset = not (len(self.kept) == n_in and np.array_equal(self.kept, np.arange(n_in)))
        self.impute = np.asarray(stats.impute, np.float32)
        self.low = np.asarray(stats.clip_low, np.float32)
        self.high = np.asarray(stats.clip_high, np.float32)
        self.center = np.asarray(stats.center, np.float32) if standardize else None
        self.inv = (1.0 / np.asarray(stats.scale, np.float64)).astype(np.float32) if standardize else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.dtype != np.float32 or not x.flags.writeable:
            x = np.array(x, np.float32)
        n, k = len(x), len(self.kept)
        m = min(n, BLOCK_ROWS)
        tmp = np.empty((m, k), np.float32) if self.subset else None
        bad = np.empty((m, k), bool)
        for a in range(0, n, BLOCK_ROWS):
            block = x[a:a + BLOCK_ROWS]
            b = len(block)
            # mode="clip": np.take does not buffer its output (the indices are valid)
            y = np.take(block, self.kept, axis=1, out=tmp[:b], mode="clip") if self.subset else block
            finite = np.isfinite(y, out=bad[:b])
            if not finite.all():
                np.copyto(y, self.impute, where=np.logical_not(finite, out=finite))
            np.clip(y, self.low, self.high, out=y)
            if self.center is not None:
                y -= self.center
                y *= self.inv
            if self.subset:
                x[a:a + b, :k] = y
        return x[:, :k]
