"""compile_spec: resolved spec -> CompiledSpec (graph + rules + hash)."""
from __future__ import annotations

from dataclasses import dataclass, field

from spinlock_spec.errors import Diagnostic
from spinlock_spec.zoo_ref import RefResolver, is_zoo_ref


@dataclass
class CompiledSpec:
    graph: object                      # networkx.DiGraph (node table in docs/architecture.md)
    spec: dict                         # the resolved spec (canonical dict)
    hash: str                          # sha256 of its canonical JSON
    diagnostics: list[Diagnostic] = field(default_factory=list)   # resolution notes + rule findings
    resolved: object = None            # the ResolvedSpec (provenance), when compiled from one

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def model_class(self) -> str:
        return self.graph.graph["model_class"]

    @property
    def trainer_type(self) -> str:
        return self.graph.graph["trainer_type"]

    @property
    def assignment_mode(self) -> str:
        return self.graph.graph["assignment_mode"]

    def origin(self, path):
        from spinlock_spec.config.origin import DEFAULT

        return self.resolved.origin(path) if self.resolved is not None else DEFAULT


def compile_spec(spec, *, data=None, overrides=(), resolve_ref: RefResolver | None = None) -> CompiledSpec:
    """Compile a spec: a ResolvedSpec, or anything :func:`spinlock_spec.config.load_spec` takes
    (path, YAML text, dict, LoadedSpec).  ``data``: a dataset file whose header gives the shapes.

    Raises SpecError (invalid spec) or DataError (unreadable ``data``); rule findings
    are returned in ``diagnostics`` (errors there make ``ok`` false).  ``resolve_ref``: how
    ``zoo:NAME`` references are turned into files (see :mod:`spinlock_spec.zoo_ref`).
    """
    from spinlock_spec.compile.graph import build_graph
    from spinlock_spec.compile.hashing import spec_hash
    from spinlock_spec.compile.rules import run_rules
    from spinlock_spec.compile.shapes import family_shapes
    from spinlock_spec.config.resolve import ResolvedSpec, resolve

    resolved = spec if isinstance(spec, ResolvedSpec) and not overrides else resolve(spec, overrides, resolve_ref)
    data_dict = resolved.data
    info = family_shapes(data_dict, data)
    digest = spec_hash(data_dict)
    graph = build_graph(data_dict, info, resolved)
    graph.graph["spec_hash"] = digest
    findings = run_rules(graph, data_dict, resolved)
    order = {"error": 0, "warning": 1, "info": 2}
    diagnostics = sorted(findings, key=lambda d: order.get(d.severity, 3)) + list(resolved.diagnostics)
    diagnostics.sort(key=lambda d: order.get(d.severity, 3))
    return CompiledSpec(graph, data_dict, digest, diagnostics, resolved)


def compile_file(path, overrides=(), data=None, resolve_ref: RefResolver | None = None) -> CompiledSpec:
    """Compile the spec file ``path`` (or ``zoo:NAME[@VERSION]``) with ``--set`` overrides and an
    optional dataset header."""
    return compile_spec(spec_source(path, resolve_ref), data=data, overrides=tuple(overrides),
                        resolve_ref=resolve_ref)


def spec_source(spec, resolve_ref: RefResolver | None = None):
    """What ``compile_spec`` takes for a user's spec argument: ``zoo:NAME[@VERSION]`` becomes the
    entry's spec file (through ``resolve_ref``), another one-line string a path; YAML text,
    dicts and paths pass through."""
    from pathlib import Path

    if is_zoo_ref(spec):
        if resolve_ref is None:       # a caller's mistake, not the user's: the API and the CLI pass one
            raise ValueError(f"cannot resolve {spec!r}: pass resolve_ref=spinlock_spec.zoo.resolve_spec_ref")
        return resolve_ref(spec)
    if isinstance(spec, str) and "\n" not in spec:
        return Path(spec)
    return spec
