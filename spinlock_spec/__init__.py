"""spinlock-spec: a compiler and trainer for categorical hierarchical VQ-VAE tokenizer specs.

    import spinlock_spec as ss
    compiled = ss.compile_spec("examples/static_baseline.yaml")
    result = ss.train("examples/static_baseline.yaml", epochs=5, out="runs/demo")
    tok = ss.Tokenizer.load(result.run_dir)            # or "zoo:static_baseline"
    tokens = tok.encode("data.h5")                     # [rows, categories, levels]

The functions below forward to :mod:`spinlock_spec.api` and import it (and torch) only
when called, so ``import spinlock_spec`` stays light; their signatures are the API's own
(a test keeps them equal).  ``Tokenizer`` is imported on first use.

Importing the subpackage ``spinlock_spec.train`` replaces the function ``train`` here by that
subpackage; the subpackage is callable and forwards to :func:`spinlock_spec.api.train`."""
from __future__ import annotations

from collections.abc import Sequence

__version__ = "0.1.0"


def compile_spec(spec, overrides: Sequence[str] = (), data=None):
    """Load, validate and compile a spec (path, ``zoo:NAME``, YAML text or dict).

    ``overrides``: ``KEY=VALUE`` strings as ``--set`` takes them; ``data``: a dataset file
    whose header gives the family shapes.  Returns a ``CompiledSpec`` (``.graph``, ``.spec``,
    ``.hash``, ``.diagnostics``, ``.ok``)."""
    from spinlock_spec import api

    return api.compile_spec(spec, overrides, data)


def train(spec=None, *, overrides: Sequence[str] = (), data=None, epochs: int | None = None,
          out=None, runs_root="runs", device: str | None = None, batch_size: int | None = None,
          learning_rate: float | None = None, resume=None, init_from=None, quiet: bool = False,
          log_format: str = "text", dry_run: bool = False, progress: bool = True,
          overwrite: bool = False, data_changed_ok: bool = False):
    """Compile ``spec`` and train it; returns a ``TrainResult`` (``.run_dir``, ``.history``, ``.model``).

    The run folder is ``out`` or ``runs_root/<name>-<time>``.  ``resume``: a run folder to
    continue (its config.yaml is the spec when ``spec`` is None).  ``init_from``: a run folder
    or ``zoo:NAME`` whose weights start the training.  ``epochs``, ``batch_size``,
    ``learning_rate`` and ``device`` override the spec, after ``overrides``.  A non-empty
    ``out`` is refused unless ``overwrite`` (an old run there is replaced whole);
    ``data_changed_ok``: resume on the run's data file although it changed."""
    from spinlock_spec import api

    return api.train(spec, overrides=overrides, data=data, epochs=epochs, out=out, runs_root=runs_root,
                     device=device, batch_size=batch_size, learning_rate=learning_rate, resume=resume,
                     init_from=init_from, quiet=quiet, log_format=log_format, dry_run=dry_run,
                     progress=progress, overwrite=overwrite, data_changed_ok=data_changed_ok)


def load_run(path, which: str = "best"):
    """A trained run (a run folder or a pulled zoo entry ``zoo:NAME``): ``.model``, ``.compiled``,
    ``.preprocessor``, ``.metadata``.  ``which``: ``best`` or ``final`` weights."""
    from spinlock_spec import api

    return api.load_run(path, which)


def encode(run, data, *, batch_size: int = 4096, reconstructions: bool = False) -> dict:
    """Token ids of every row of ``data`` (a dataset file) with a run (folder, ``zoo:NAME`` or
    :func:`load_run`'s result): ``{"tokens": [N, categories, levels], "codebook_sizes": ...}``,
    plus ``reconstruction/FAMILY`` (normalized) with ``reconstructions``.  For arrays in memory
    and decoding, use :class:`Tokenizer`."""
    from spinlock_spec import api

    return api.encode(run, data, batch_size=batch_size, reconstructions=reconstructions)


def prepare_data(compiled, data=None, preprocessor=None):
    """Load, split (deterministic for the spec's seed), clean and normalize a compiled spec's data;
    statistics are fitted on the training split unless ``preprocessor`` is given."""
    from spinlock_spec import api

    return api.prepare_data(compiled, data, preprocessor)


def build_model(compiled, prepared, categories: list[list[int]] | None = None, log=None):
    """Families, initial categories (clustering, mapping file or ``categories``) and the model
    of a compiled spec for prepared data; returns a ``BuiltModel``."""
    from spinlock_spec import api

    return api.build_model(compiled, prepared, categories, log)


def __getattr__(name: str):
    if name == "Tokenizer":
        from spinlock_spec.tokenizer import Tokenizer

        return Tokenizer
    raise AttributeError(f"module 'spinlock_spec' has no attribute {name!r}")


__all__ = ["Tokenizer", "build_model", "compile_spec", "encode", "load_run", "prepare_data", "train"]
