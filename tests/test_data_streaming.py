"""Streaming reader: every training row once per epoch, chunk + within-chunk shuffle,
one-pass moments equal to the in-memory ones, validation rows kept apart."""
from __future__ import annotations

import h5py
import numpy as np

from spinlock_spec.data.streaming import StreamingTable, should_stream, val_mask


def _file(tmp_path, n=1000, d=5):
    x = np.random.default_rng(0).normal(size=(n, d)).astype("f4") * 3 + 1
    x[:, 0] = np.arange(n)                      # column 0 = row id
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["features/summary/aggregated/features"] = x
    return path, x


def test_epoch_covers_training_rows_once_and_shuffles(tmp_path):
    path, x = _file(tmp_path)
    t = StreamingTable(path, "features/summary/aggregated/features", val_fraction=0.2, seed=1,
                       chunk_rows=128, prefetch=2)
    t.transform = lambda a: a
    val = val_mask(np.arange(1000), 0.2, 1)
    assert 150 < val.sum() < 250 and t.n_train == 1000 - val.sum()
    ids = [np.concatenate(list(t.epoch_batches(s, 64)))[:, 0].astype(int) for s in (1, 2)]
    for got in ids:
        assert sorted(got.tolist()) == np.flatnonzero(~val).tolist()
    assert not np.array_equal(ids[0], ids[1])                       # epochs differ
    assert not np.array_equal(ids[0], np.sort(ids[0]))              # shuffled
    mean, std, n, val_rows = t.scan(lambda a: a, keep_validation=True)
    train = x[~val].astype(np.float64)
    assert n == len(train)
    np.testing.assert_allclose(mean, train.mean(0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(std, train.std(0, ddof=1), rtol=1e-9)
    assert sorted(val_rows[:, 0].astype(int).tolist()) == np.flatnonzero(val).tolist()
    t.close()


def test_auto_switch():
    assert should_stream(True, "a.h5", 0) and not should_stream(False, "a.h5", 10 ** 12)
    assert should_stream("auto", "a.h5", 3 * 2 ** 30) and not should_stream("auto", "a.h5", 2 ** 20)
