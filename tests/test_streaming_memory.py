"""Streaming keeps memory bounded: no array of the file's size (or of a size growing
with the number of rows, the validation split aside), chunks read into a fixed set of
reused buffers, and the in-place float32 normalizer equal to the fitted statistics."""
from __future__ import annotations

import tracemalloc

import h5py
import numpy as np

from spinlock_spec.data.dataset import Dataset
from spinlock_spec.data.preprocess import CLEANING_DEFAULTS, fit_preprocessor
from spinlock_spec.data.streaming import BLOCK_ROWS, ChunkNormalizer, StreamedData, StreamingTable, val_mask

KEY = "features/summary/aggregated/features"


def _write(path, n, d=32, dtype="f4", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.linspace(0.5, 3.0, d) + np.arange(d)
    x[:, 1] = 2.0 * x[:, 0] + 1.0                     # a duplicate column: dropped by cleaning
    x[::53, 2] = np.nan                               # missing values: imputed
    x[::71, 3] = np.inf
    with h5py.File(path, "w") as f:
        f.create_dataset(KEY, data=x.astype(dtype), chunks=(1024, d))
    return x


CHUNK_ROWS = 32_768                                   # 4 MiB chunks of 32 float32 columns


def _traced_peak(path) -> tuple[int, int, StreamedData]:
    """(peak traced bytes while preparing and reading one epoch, validation bytes, data)."""
    tracemalloc.start()
    try:
        sd = StreamedData(path, "summary", "aggregated", 0.05, 0, dict(CLEANING_DEFAULTS), "standard",
                          chunk_rows=CHUNK_ROWS, sample_rows=2000)
        rows = sum(len(b) for b in sd.stream.epoch_batches(1, 512))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == sd.stream.n_train
    sd.stream.close()
    return peak, sd.val.arrays["summary"].nbytes, sd


def test_prepare_and_epoch_memory_is_bounded_by_chunks_not_rows(tmp_path):
    small, large = tmp_path / "small.h5", tmp_path / "large.h5"
    _write(small, 80_000)
    _write(large, 320_000)                           # 41 MB of features, 10 chunks
    peak_s, val_s, _ = _traced_peak(small)
    peak_l, val_l, sd = _traced_peak(large)
    d = 32
    # the chunk buffers (prefetch + 1), the validation rows, fixed-size blocks, the sample
    bound = ((sd.stream.prefetch + 1) * CHUNK_ROWS * d * 4 + val_l + 3 * BLOCK_ROWS * d * 8
             + 2 * 2 ** 20)
    assert bound < 320_000 * d * 4 / 1.5             # far from the training array
    assert peak_l < bound, (peak_l, bound)
    # 4x the rows: only the validation rows (held once, not copied) add memory
    assert peak_l - peak_s < 1.25 * (val_l - val_s) + 512 * 1024, (peak_s, peak_l, val_s, val_l)


def test_chunks_are_read_into_a_fixed_set_of_buffers(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, 20_000, d=8)
    t = StreamingTable(path, KEY, val_fraction=0.1, seed=0, chunk_rows=512, prefetch=2)
    bases = {}
    n = 0
    for x, _ in t._chunks(range(len(t.starts))):
        b = x
        while b.base is not None:
            b = b.base
        bases[id(b)] = b                             # kept alive: distinct arrays keep distinct ids
        n += 1
    t.close()
    assert n == len(t.starts) >= 30
    assert len(bases) <= t.prefetch + 1


def test_chunk_normalizer_matches_fitted_statistics(tmp_path):
    x = _write(tmp_path / "unused.h5", 3000)
    train = Dataset({"summary": x.astype(np.float32)}, n_samples=len(x), source="t")
    stats = fit_preprocessor(train, dict(CLEANING_DEFAULTS), "standard").families["summary"]
    assert len(stats.kept) < x.shape[1]                 # the column-subset path is exercised
    chunk = x.astype(np.float32)
    out = ChunkNormalizer(stats)(chunk)
    assert np.shares_memory(out, chunk)                  # in place, no chunk-sized copy
    np.testing.assert_allclose(out, stats.apply(x), rtol=1e-5, atol=1e-5)
    kept = x[:, stats.kept]
    cleaned = np.clip(np.where(np.isfinite(kept), kept, stats.impute), stats.clip_low, stats.clip_high)
    np.testing.assert_allclose(ChunkNormalizer(stats, standardize=False)(x.astype(np.float32)), cleaned,
                               rtol=1e-6, atol=1e-5)


def test_streamed_statistics_and_validation_rows_equal_in_memory(tmp_path):
    path = tmp_path / "d.h5"
    x = _write(path, 30_000, d=12, dtype="f8")           # float64 file: converted on read
    sd = StreamedData(path, "summary", "aggregated", 0.1, 3, dict(CLEANING_DEFAULTS), "standard",
                      chunk_rows=4096, sample_rows=3000)
    stats = sd.preprocessor.families["summary"]
    is_val = val_mask(np.arange(len(x)), 0.1, 3)
    raw = x.astype(np.float32).astype(np.float64)[:, stats.kept]
    cleaned = np.clip(np.where(np.isfinite(raw), raw, stats.impute), stats.clip_low, stats.clip_high)
    np.testing.assert_allclose(stats.center, cleaned[~is_val].mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stats.scale, cleaned[~is_val].std(0, ddof=1), rtol=1e-6)
    val = sd.val.arrays["summary"]
    assert val.flags.c_contiguous and val.shape == (int(is_val.sum()), len(stats.kept))
    np.testing.assert_allclose(val, stats.apply(x[is_val]), rtol=1e-5, atol=1e-5)
    sd.stream.close()
