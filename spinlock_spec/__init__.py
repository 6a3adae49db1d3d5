"""spinlock-spec: a compiler and trainer for categorical hierarchical VQ-VAE tokenizer specs.

The Python API lives in :mod:`spinlock_spec.api`; the functions below forward to it
and import it (and torch) only when called, so ``import spinlock_spec`` stays light.
They are real functions, not lazy attributes, so that importing the subpackage
``spinlock_spec.train`` cannot hide :func:`train`."""

__version__ = "0.1.0"


def compile_spec(*args, **kwargs):
    """Load, validate and compile a spec; see :func:`spinlock_spec.api.compile_spec`."""
    from spinlock_spec import api

    return api.compile_spec(*args, **kwargs)


def train(*args, **kwargs):
    """Compile a spec and train it; see :func:`spinlock_spec.api.train`."""
    from spinlock_spec import api

    return api.train(*args, **kwargs)


def load_run(*args, **kwargs):
    """Load a trained run folder or zoo entry; see :func:`spinlock_spec.api.load_run`."""
    from spinlock_spec import api

    return api.load_run(*args, **kwargs)


def encode(*args, **kwargs):
    """Token ids of a dataset with a trained run; see :func:`spinlock_spec.api.encode`."""
    from spinlock_spec import api

    return api.encode(*args, **kwargs)


def prepare_data(*args, **kwargs):
    """Load, split, clean and normalize a spec's data; see :func:`spinlock_spec.api.prepare_data`."""
    from spinlock_spec import api

    return api.prepare_data(*args, **kwargs)


def build_model(*args, **kwargs):
    """Families, initial categories and the model; see :func:`spinlock_spec.api.build_model`."""
    from spinlock_spec import api

    return api.build_model(*args, **kwargs)


__all__ = ["compile_spec", "train", "load_run", "encode", "prepare_data", "build_model"]
