"""spinlock-spec: a compiler and trainer for categorical hierarchical VQ-VAE tokenizer specs.

The Python API lives in :mod:`spinlock_spec.api` and is re-exported here lazily,
so ``import spinlock_spec`` stays light."""

__version__ = "0.1.0"

_API = ("compile_spec", "train", "load_run", "encode", "prepare_data", "build_model", "load_data")


def __getattr__(name):
    if name in _API:
        from spinlock_spec import api

        return getattr(api, name)
    raise AttributeError(f"module 'spinlock_spec' has no attribute {name!r}")


__all__ = list(_API)
