"""Streaming an HDF5 file larger than memory (``dataset.streaming``).

Rows are read in contiguous chunks of ``chunk_rows`` (one h5py slice each); a
background thread reads and normalizes the next ``prefetch`` chunks while the
trainer consumes the current one, so at most ``prefetch + 2`` chunks are in
memory at a time, whatever the file size.

* Split: row i is a validation row when ``hash(i, seed) mod 10^6 < val_fraction * 10^6``
  (a fixed integer hash); both splits are read from the same chunks.  The
  validation rows are gathered once into memory (val_fraction of the file).
* Preprocessing: the cleaning decisions (kept columns, imputation values, clip
  bounds) come from a sample of the training rows (``fit_rows``, spread over the
  file); the normalization statistics (mean and standard deviation of each kept
  column, after imputation and clipping) come from ONE streaming pass over every
  training row (Chan's parallel merge of per-chunk moments), and replace the
  sample's.  ``normalization_method: mad`` needs medians: it is refused.
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
from typing import Iterator

import numpy as np

from spinlock_spec.errors import DataError

DEFAULT_CHUNK_ROWS = 65_536
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
            raise DataError(f"{self.path}: no dataset {key!r} to stream", code="D010")
        self.ds = self.file[key]
        if self.ds.ndim != 2:
            raise DataError(f"{self.path}:{key}: streaming supports tabular [N, D] families, "
                            f"got shape {self.ds.shape}", code="D011")
        self.n_rows = int(self.ds.shape[0]) if max_rows is None else min(int(max_rows), int(self.ds.shape[0]))
        self.n_cols = int(self.ds.shape[1])
        self.val_fraction, self.seed = float(val_fraction), int(seed)
        self.chunk_rows, self.prefetch = int(chunk_rows), int(prefetch)
        self.starts = list(range(0, self.n_rows, self.chunk_rows))
        self.transform = None                  # raw chunk [n, D] -> normalized float32 [n, D']
        self.n_train = self.n_rows - int(sum(val_mask(np.arange(a, min(a + self.chunk_rows, self.n_rows)),
                                                       self.val_fraction, self.seed).sum()
                                              for a in self.starts))

    def close(self):
        self.file.close()

    def _read(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        stop = min(start + self.chunk_rows, self.n_rows)
        x = np.asarray(self.ds[start:stop])
        return x, val_mask(np.arange(start, stop), self.val_fraction, self.seed)

    # -- statistics ------------------------------------------------------------------
    def sample_train_rows(self, n: int) -> np.ndarray:
        """About ``n`` training rows spread over the file (for cleaning decisions and
        category discovery): the head of evenly spaced chunks."""
        per = max(1, n // max(1, len(self.starts)))
        parts = []
        for a in self.starts:
            stop = min(a + per * 2, self.n_rows)
            x = np.asarray(self.ds[a:stop])
            parts.append(x[~val_mask(np.arange(a, stop), self.val_fraction, self.seed)][:per])
        return np.concatenate(parts)[:n]

    def streaming_moments(self, clean) -> tuple[np.ndarray, np.ndarray, int]:
        """(mean, std, rows) of ``clean(raw chunk)`` over every training row, one pass."""
        n, mean, m2 = 0, None, None
        for x, is_val in self._chunks(list(range(len(self.starts))), transform=False):
            c = np.asarray(clean(x[~is_val]), np.float64)
            if not len(c):
                continue
            cn, cmean = len(c), c.mean(0)
            cm2 = ((c - cmean) ** 2).sum(0)
            if mean is None:
                n, mean, m2 = cn, cmean, cm2
            else:
                delta = cmean - mean
                tot = n + cn
                mean = mean + delta * cn / tot
                m2 = m2 + cm2 + delta ** 2 * n * cn / tot
                n = tot
        if mean is None:
            raise DataError(f"{self.path}: no training rows to stream", code="D020")
        return mean, np.sqrt(m2 / max(n - 1, 1)), n

    def validation_rows(self) -> np.ndarray:
        parts = [self.transform(x[is_val]) for x, is_val in
                 self._chunks(list(range(len(self.starts))), transform=False) if is_val.any()]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_cols), np.float32)

    # -- epochs ------------------------------------------------------------------------
    def _chunks(self, order, transform: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Chunks in ``order``, read and (optionally) normalized by a background thread."""
        q: queue.Queue = queue.Queue(maxsize=max(1, self.prefetch))
        stop = threading.Event()
        done = object()

        def worker():
            try:
                for i in order:
                    if stop.is_set():
                        return
                    x, is_val = self._read(self.starts[i])
                    if transform:
                        x = self.transform(x[~is_val])
                    q.put((x, is_val))
                q.put(done)
            except BaseException as exc:   # noqa: BLE001 - re-raised in the consumer
                q.put(exc)

        t = threading.Thread(target=worker, daemon=True, name="spinlock-spec-prefetch")
        t.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while t.is_alive():            # unblock a worker waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    t.join(0.05)

    def epoch_batches(self, epoch_seed: int, batch_size: int) -> Iterator[np.ndarray]:
        """Normalized training batches [b, D'] of one epoch (the module doc's shuffle);
        a trailing batch of fewer than 2 rows is dropped."""
        rng = np.random.default_rng(epoch_seed)
        order = rng.permutation(len(self.starts)).tolist()
        carry = None
        for x, _ in self._chunks(order):
            x = x[rng.permutation(len(x))]
            if carry is not None and len(carry):
                x = np.concatenate([carry, x])
            full = (len(x) // batch_size) * batch_size
            for a in range(0, full, batch_size):
                yield x[a:a + batch_size]
            carry = x[full:]
        if carry is not None and len(carry) >= 2:
            yield carry


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

        if method != "standard":
            raise DataError("streaming needs normalization_method: standard (mad needs medians "
                            "of the whole file)", code="D030", location="normalization_method")
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
        stats.center = np.zeros_like(stats.center)
        stats.scale = np.ones_like(stats.scale)
        mean, std, _ = self.stream.streaming_moments(stats.apply)       # the one streaming pass
        stats.center, stats.scale = mean, np.where(std > 1e-12, std, 1.0)
        self.preprocessor = pre
        self.stream.transform = _float32_transform(stats)
        self.train_sample = pre.transform(self.sample)
        val = self.stream.validation_rows()
        self.val = Dataset({family: val}, n_samples=len(val), source=source,
                           column_names=self.train_sample.column_names,
                           true_groups=self.train_sample.true_groups)


def _float32_transform(stats):
    """``stats.apply`` (impute, clip, standardize the kept columns) in float32: the
    prefetch thread's per-chunk cost, without the float64 copy of the general path."""
    kept = np.asarray(stats.kept)
    impute = np.asarray(stats.impute, np.float32)
    low, high = np.asarray(stats.clip_low, np.float32), np.asarray(stats.clip_high, np.float32)
    center = np.asarray(stats.center, np.float32)
    inv = (1.0 / np.asarray(stats.scale, np.float64)).astype(np.float32)

    def apply(arr: np.ndarray) -> np.ndarray:
        x = np.asarray(arr, np.float32)
        x = x[:, kept] if len(kept) != x.shape[1] else x.copy()
        bad = ~np.isfinite(x)
        if bad.any():
            x = np.where(bad, impute, x)
        np.clip(x, low, high, out=x)
        x -= center
        x *= inv
        return x

    return apply
