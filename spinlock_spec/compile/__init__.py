"""compile layer (see docs/architecture.md): resolved spec -> typed networkx graph,
compatibility rules, spec hash, exports (json/dot/mermaid), diff, summary.
Never imports torch or scikit-learn; networkx is imported when a graph is built."""
from spinlock_spec.compile.compiled import CompiledSpec, compile_file, compile_spec


def diff_specs(a, b, resolve_ref=None):
    """Semantic diff of two specs (see :mod:`spinlock_spec.compile.diff`)."""
    from spinlock_spec.compile.diff import diff_specs as _diff

    return _diff(a, b, resolve_ref)


__all__ = ["CompiledSpec", "compile_file", "compile_spec", "diff_specs"]
