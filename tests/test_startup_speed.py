"""The start-up shortcuts of a GPU run (issue 18's wall target) change no result:
column-block statistics equal numpy's on the whole table, the normalization applied in
blocks equals one pass, the synthetic data do not depend on the thread count, the preload
thread imports and restores the interpreter's switch interval, and the fast exit keeps
every line written before it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spinlock_spec.data import colstats
from spinlock_spec.data.colstats import by_columns
from spinlock_spec.data.preprocess import Preprocessor
from spinlock_spec.data.synthetic import generate_synthetic


@pytest.fixture()
def table():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6000, 230)) * rng.uniform(0.1, 30, 230) + rng.uniform(-5, 5, 230)
    x[:, 7] = rng.standard_t(1.5, 6000)                # heavy tails
    x[rng.integers(0, 6000, 300), rng.integers(0, 230, 300)] = np.nan
    assert x.size > colstats.MIN_CELLS
    return x


@pytest.mark.parametrize("fn, args", [(np.percentile, ([0.5, 25.0, 99.5],)), (np.median, ()),
                                      (np.nanmedian, ()), (np.nanmean, ()), (np.nanstd, ())])
def test_column_blocks_equal_numpy_bit_for_bit(table, fn, args):
    whole = fn(table, *args, axis=0)
    blocks = by_columns(fn, table, *args)
    assert blocks.shape == whole.shape
    assert np.array_equal(blocks, whole, equal_nan=True)


def test_column_blocks_join_tuples_and_use_threads(table, monkeypatch):
    seen = set()

    def moments(block):
        import threading
        seen.add(threading.current_thread().name)
        return block.min(axis=0), block.max(axis=0)

    low, high = by_columns(moments, table, axis=None)
    assert np.array_equal(low, table.min(axis=0), equal_nan=True)
    assert np.array_equal(high, table.max(axis=0), equal_nan=True)
    if colstats.thread_count(table.shape[1]) > 1:
        assert seen and all(name.startswith("spinlock-colstats") for name in seen)
    monkeypatch.setattr(colstats, "MAX_THREADS", 1)
    seen.clear()
    by_columns(moments, table, axis=None)
    assert len(seen) == 1 and not next(iter(seen)).startswith("spinlock-colstats")


def _fitted(monkeypatch, threads: int):
    monkeypatch.setattr(colstats, "MAX_THREADS", threads)
    ds = generate_synthetic({"n_samples": 6000, "n_groups": 12, "features_per_group": 17, "seed": 4},
                            ["summary"])
    train, val = ds.split(0.1, 0)
    pre = Preprocessor("auto").fit(train)
    return ds.arrays["summary"], pre.families["summary"], pre.transform(val).arrays["summary"]


def test_threads_change_neither_data_nor_normalization(monkeypatch):
    raw1, st1, val1 = _fitted(monkeypatch, 1)
    raw8, st8, val8 = _fitted(monkeypatch, 8)
    assert raw1.shape == (6000, 204) and np.array_equal(raw1, raw8)
    assert (st1.transforms.kind != 0).any(), "the table has no heavy-tailed column to transform"
    for name in ("kept", "impute", "clip_low", "clip_high", "center", "scale", "user_center", "user_scale"):
        assert np.array_equal(getattr(st1, name), getattr(st8, name)), name
    assert np.array_equal(st1.transforms.lambdas, st8.transforms.lambdas)
    assert val1.dtype == np.float32 and np.array_equal(val1, val8)


def test_preload_imports_and_restores_the_switch_interval():
    code = textwrap.dedent("""
        import sys
        from spinlock_spec import preload
        before = sys.getswitchinterval()
        preload.start(("colorsys", "no_such_module_for_spinlock"))
        preload.wait()
        print("colorsys" in sys.modules, sys.getswitchinterval() == before)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_preload_wait_returns_only_after_the_imports(tmp_path):
    """The main thread's own imports wait for the preload thread (two threads importing
    modules that import each other can get a partially initialised module)."""
    (tmp_path / "slow_module_for_preload.py").write_text("import time\ntime.sleep(0.5)\nDONE = True\n")
    code = textwrap.dedent("""
        import sys, time
        from spinlock_spec import preload
        preload.start(("slow_module_for_preload",))
        time.sleep(0.05)
        preload.wait()
        module = sys.modules.get("slow_module_for_preload")
        print(getattr(module, "DONE", False))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["True"]


def test_fast_exit_keeps_what_was_written(tmp_path):
    log_file = tmp_path / "run.log"
    code = textwrap.dedent(f"""
        import atexit, logging, sys
        from spinlock_spec.cli import fast_exit
        log = logging.getLogger("fast-exit-test")
        log.addHandler(logging.FileHandler({str(log_file)!r}))
        log.warning("last log line")
        atexit.register(lambda: print("teardown ran"))
        sys.stdout.write("unflushed stdout")
        fast_exit.exit_now_after_cuda()            # no CUDA here: returns
        sys.stdout.write(" | still running")
        fast_exit.finish()
        print("not reached")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout == "unflushed stdout | still running"
    assert log_file.read_text() == "last log line\n"


def test_background_call_hands_back_value_and_error_and_restores_the_interval():
    """``train`` prepares its data on a BackgroundCall: its value and its exception arrive
    on the caller's thread; overlapping users leave the switch interval as it was."""
    import threading
    import time

    from spinlock_spec.background import SWITCH_INTERVAL_S, BackgroundCall, short_switch_interval
    from spinlock_spec.errors import DataError

    before = sys.getswitchinterval()
    seen = []
    call = BackgroundCall(lambda a, b=0: (seen.append(sys.getswitchinterval()), threading.current_thread().name,
                                          a + b)[1:], 2, b=3, name="bg-test")
    assert call.result() == ("bg-test", 5)
    assert seen == [pytest.approx(min(before, SWITCH_INTERVAL_S))]

    def fail():
        raise DataError("bad rows", code="D020")
    with pytest.raises(DataError, match="bad rows"):
        BackgroundCall(fail).result()

    slow = BackgroundCall(time.sleep, 0.3)          # overlapping users: restored when the last leaves
    with short_switch_interval():
        time.sleep(0.05)
    assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    slow.result()
    assert sys.getswitchinterval() == before


def test_training_on_synthetic_data_imports_no_scikit_learn(tmp_path):
    """A run with a fixed number of categories (workload B's) clusters and scores without
    scikit-learn: importing it cost 1.1-1.8 s of a 10 s GPU run (docs/decisions.md §9a)."""
    code = textwrap.dedent(f"""
        import sys
        from spinlock_spec import api
        spec = '''
        dataset: {{synthetic: {{n_samples: 600, n_groups: 3, features_per_group: 4}}}}
        families: {{summary: {{encoder: identity}}}}
        training: {{batch_size: 64, num_epochs: 1, category_assignment: learnable, num_categories_auto: 3,
                    device: cpu}}
        '''
        result = api.train(spec, out={str(tmp_path / "run")!r}, quiet=True, progress=False)
        print(sorted(m for m in ("sklearn", "scipy.cluster.hierarchy") if m in sys.modules),
              round(result.history["final_metrics"]["quality"], 3) > 0)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['scipy.cluster.hierarchy']", "True"]
