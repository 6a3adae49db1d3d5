import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None)
settings.register_profile("long", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("SPINLOCK_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def zoo_cache(tmp_path, monkeypatch) -> Path:
    """A private, empty zoo cache root; offline and registry environment variables cleared."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SPINLOCK_SPEC_CACHE", str(root))
    monkeypatch.delenv("SPINLOCK_SPEC_OFFLINE", raising=False)
    monkeypatch.delenv("SPINLOCK_SPEC_REGISTRY", raising=False)
    monkeypatch.setenv("SPINLOCK_SPEC_TIMEOUT", "10")
    return root
