import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None)
settings.register_profile("long", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("SPINLOCK_HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """One torch (OpenMP) thread for the suite and the CLI subprocesses it starts (set before any
    test module imports torch; a value set in the environment is kept).  The suite's models and
    batches are tiny: on the 2-core CI machine a second thread only adds synchronization, and
    while other processes load the machine the two threads wait on each other (a learnable
    trainer's 15 steps took 23 s with 2 threads and 0.5 s with 1, at load 5)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def zoo_cache(tmp_path, monkeypatch) -> Path:
    """A private, empty zoo cache root; offline and registry environment variables cleared."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SPINLOCK_SPEC_CACHE", str(root))
    monkeypatch.delenv("SPINLOCK_SPEC_OFFLINE", raising=False)
    monkeypatch.delenv("SPINLOCK_SPEC_REGISTRY", raising=False)
    monkeypatch.setenv("SPINLOCK_SPEC_TIMEOUT", "10")
    return root
