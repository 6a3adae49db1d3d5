"""spec layer (see docs/architecture.md): load YAML with positions, compose
``extends``/``--set``, validate against the shipped JSON Schema, resolve to the
canonical defaulted form.  Never imports torch, scikit-learn or numpy."""
from spinlock_spec.config.origin import Origin, Positions
from spinlock_spec.config.resolve import LoadedSpec, ResolvedSpec, dump_resolved, load_spec, resolve

__all__ = ["LoadedSpec", "Origin", "Positions", "ResolvedSpec", "dump_resolved", "load_spec", "resolve"]
