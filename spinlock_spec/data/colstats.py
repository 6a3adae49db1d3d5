"""Per-column statistics of a large [N, D] table, computed on column blocks in threads.

numpy's reductions along axis 0 (``percentile``, ``median``, ``nanmedian``, ``mean``,
``std`` and the elementwise passes around them) run on one core and release the GIL
while they work; on a 100,000 x 204 table the statistics of fitting the normalization
took seconds.  :func:`by_columns` splits the columns into blocks, runs the same numpy code
on each block in a thread pool and joins the blocks: each column is computed by numpy
exactly as before, so the numbers are bit-identical, only sooner on a machine with
several cores.  Small tables take the plain single call.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_CELLS = 1_000_000        # below this many cells one numpy call is faster than a pool
MAX_THREADS = 8
_WORKER_PREFIX = "spinlock-colstats"


def thread_count(items: int) -> int:
    """Threads for ``items`` independent pieces of numpy work: at most MAX_THREADS and the
    cores, and one inside a worker of :func:`by_columns` (no pools within pools)."""
    if threading.current_thread().name.startswith(_WORKER_PREFIX):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores, items))


def column_blocks(fn: Callable[[slice], object], columns: int, cells: int):
    """``fn(block)`` for slices ``block`` covering ``range(columns)``, in threads when the
    work (``cells`` values) is large, joined along the last axis (a tuple element by
    element) -- as ``fn(slice(0, columns))`` for a per-column ``fn``."""
    threads = thread_count(columns)
    if threads < 2 or cells < MIN_CELLS:
        return fn(slice(0, columns))
    edges = np.linspace(0, columns, threads + 1).astype(np.int64)
    blocks = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    with ThreadPoolExecutor(threads, thread_name_prefix=_WORKER_PREFIX) as pool:
        parts = list(pool.map(fn, blocks))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p, axis=-1) for p in zip(*parts))
    return np.concatenate(parts, axis=-1)


def by_columns(fn: Callable[..., np.ndarray], x: np.ndarray, *args, axis: int | None = 0, **kwargs):
    """``fn(x, *args, axis=0, **kwargs)`` for a 2-d ``x``, over blocks of columns in threads
    (``axis=None``: ``fn(block, *args, **kwargs)``, for a function that works per column
    itself).  ``fn`` must keep one output per column in its last axis (percentile with a
    list of q gives [len(q), D]); a tuple of such outputs is joined element by element."""
    x = np.asarray(x)
    kw = dict(kwargs) if axis is None else {**kwargs, "axis": axis}
    if x.ndim != 2:
        return fn(x, *args, **kw)
    return column_blocks(lambda cols: fn(x[:, cols], *args, **kw), x.shape[1], x.size)
