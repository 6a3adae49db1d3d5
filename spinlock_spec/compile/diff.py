"""Semantic diff of two specs: resolved values and compiled graphs, not text.

Each change is classed by impact:
  architecture  a checkpoint of A will not load into B (shapes, families, categories, model class)
  training      same model, different training (rates, weights, schedules, data rows, seeds)
  cosmetic      no effect on the result (logging, device, checkpoint cadence)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

ARCHITECTURE = "architecture"
TRAINING = "training"
COSMETIC = "cosmetic"
IMPACT_ORDER = (ARCHITECTURE, TRAINING, COSMETIC)

# Most specific prefix wins.  Anything unlisted is TRAINING.
_IMPACT_BY_PREFIX: dict[tuple, str] = {
    ("families",): ARCHITECTURE,
    ("model", "group_embedding_dim"): ARCHITECTURE,
    ("model", "group_hidden_dim"): ARCHITECTURE,
    ("model", "levels"): ARCHITECTURE,
    ("model", "level_structure"): ARCHITECTURE,
    ("model", "num_levels"): ARCHITECTURE,
    ("model", "compression_ratios"): ARCHITECTURE,
    ("model", "auto_compression_strategy"): ARCHITECTURE,
    ("model", "use_ema"): ARCHITECTURE,
    ("training", "category_assignment"): ARCHITECTURE,
    ("training", "category_mapping_file"): ARCHITECTURE,
    ("training", "num_categories_auto"): ARCHITECTURE,
    ("training", "min_features_per_category"): ARCHITECTURE,
    ("training", "max_clusters"): ARCHITECTURE,
    ("training", "category_assignment_config"): ARCHITECTURE,
    ("feature_cleaning",): ARCHITECTURE,
    ("dataset", "path"): ARCHITECTURE,
    ("dataset", "feature_type"): ARCHITECTURE,
    ("dataset", "synthetic", "n_groups"): ARCHITECTURE,
    ("dataset", "synthetic", "features_per_group"): ARCHITECTURE,
    ("dataset", "synthetic", "temporal_dim"): ARCHITECTURE,
    ("dataset", "synthetic", "field_channels"): ARCHITECTURE,
    ("logging",): COSMETIC,
    ("training", "save_every"): COSMETIC,
    ("training", "device"): COSMETIC,
    ("training", "use_torch_compile"): COSMETIC,
    ("training", "compile_mode"): COSMETIC,
    ("training", "cuda_graphs"): COSMETIC,
}
# Graph attributes and node attributes that are structural.
_GRAPH_ATTRS = {"model_class": ARCHITECTURE, "assignment_mode": ARCHITECTURE, "trainer_type": TRAINING}
_NODE_ATTRS = ("shape", "fields_shape", "out_dim", "width", "num_tokens", "latent_dim", "num_categories",
               "encoder")
_STRUCTURAL_KINDS = {"family", "family_encoder", "quantizer_level", "assignment", "category", "fusion"}


def classify(path) -> str:
    path = tuple(path)
    for n in range(len(path), 0, -1):
        impact = _IMPACT_BY_PREFIX.get(path[:n])
        if impact is not None:
            return impact
    return TRAINING


@dataclass
class Change:
    path: tuple
    kind: str                 # added | removed | changed
    a: object = None
    b: object = None
    a_source: str | None = None
    b_source: str | None = None
    impact: str = TRAINING

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)

    def reversed(self) -> Change:
        kind = {"added": "removed", "removed": "added"}.get(self.kind, self.kind)
        return Change(self.path, kind, self.b, self.a, self.b_source, self.a_source, self.impact)

    def to_dict(self) -> dict:
        return {"path": self.dotted, "pointer": "".join(f"/{p}" for p in self.path), "kind": self.kind,
                "a": self.a, "b": self.b, "a_source": self.a_source, "b_source": self.b_source,
                "impact": self.impact}


@dataclass
class GraphChange:
    kind: str                 # graph_attr | node_added | node_removed | node_attr
    node: str | None
    attr: str | None
    a: object = None
    b: object = None
    impact: str = ARCHITECTURE

    def reversed(self) -> GraphChange:
        kind = {"node_added": "node_removed", "node_removed": "node_added"}.get(self.kind, self.kind)
        return GraphChange(kind, self.node, self.attr, self.b, self.a, self.impact)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "node": self.node, "attr": self.attr, "a": self.a, "b": self.b,
                "impact": self.impact}


@dataclass
class SpecDiff:
    a_name: str
    b_name: str
    a_hash: str
    b_hash: str
    changes: list[Change] = field(default_factory=list)
    graph_changes: list[GraphChange] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.changes and not self.graph_changes

    def impacts(self) -> dict[str, int]:
        counts = {k: 0 for k in IMPACT_ORDER}
        for c in [*self.changes, *self.graph_changes]:
            counts[c.impact] += 1
        return counts

    @property
    def impact(self) -> str | None:
        """The strongest impact of all changes (None when the specs are the same)."""
        counts = self.impacts()
        return next((k for k in IMPACT_ORDER if counts[k]), None)

    def reversed(self) -> SpecDiff:
        return SpecDiff(self.b_name, self.a_name, self.b_hash, self.a_hash,
                        [c.reversed() for c in self.changes], [g.reversed() for g in self.graph_changes])

    def to_dict(self) -> dict:
        return {"a": self.a_name, "b": self.b_name, "a_hash": self.a_hash, "b_hash": self.b_hash,
                "same": self.same, "impact": self.impact, "counts": self.impacts(),
                "changes": [c.to_dict() for c in self.changes],
                "graph_changes": [g.to_dict() for g in self.graph_changes]}


def _walk(a, b, path, out, src_a, src_b):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            p = path + (key,)
            if key not in b:
                out.append(Change(p, "removed", a[key], None, src_a(p), None, classify(p)))
            elif key not in a:
                out.append(Change(p, "added", None, b[key], None, src_b(p), classify(p)))
            else:
                _walk(a[key], b[key], p, out, src_a, src_b)
        return
    if (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
            and any(isinstance(x, dict) for x in a + b)):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, path + (i,), out, src_a, src_b)
        return
    if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
        out.append(Change(path, "changed", a, b, src_a(path), src_b(path), classify(path)))


def _graph_changes(ga, gb) -> list[GraphChange]:
    out: list[GraphChange] = []
    for attr, impact in _GRAPH_ATTRS.items():
        if ga.graph.get(attr) != gb.graph.get(attr):
            out.append(GraphChange("graph_attr", None, attr, ga.graph.get(attr), gb.graph.get(attr), impact))
    for node in sorted(set(ga.nodes) | set(gb.nodes)):
        if node not in gb.nodes:
            kind = ga.nodes[node]["kind"]
            out.append(GraphChange("node_removed", node, None, kind, None,
                                   ARCHITECTURE if kind in _STRUCTURAL_KINDS else TRAINING))
        elif node not in ga.nodes:
            kind = gb.nodes[node]["kind"]
            out.append(GraphChange("node_added", node, None, None, kind,
                                   ARCHITECTURE if kind in _STRUCTURAL_KINDS else TRAINING))
        else:
            na, nb = ga.nodes[node], gb.nodes[node]
            for attr in _NODE_ATTRS:
                if attr in na and na.get(attr) != nb.get(attr):
                    out.append(GraphChange("node_attr", node, attr, na.get(attr), nb.get(attr), ARCHITECTURE))
    return out


def _compiled(spec, resolve_ref):
    from spinlock_spec.compile.compiled import CompiledSpec, compile_spec, spec_source
    from spinlock_spec.zoo_ref import is_zoo_ref

    if isinstance(spec, CompiledSpec):
        return spec
    if is_zoo_ref(spec):
        spec = spec_source(spec, resolve_ref)
    return compile_spec(spec, resolve_ref=resolve_ref)


def _name(spec, compiled) -> str:
    if compiled.resolved is not None:
        return compiled.resolved.source
    return str(spec) if not isinstance(spec, dict) else "<dict>"


def diff_specs(a, b, resolve_ref=None) -> SpecDiff:
    """Diff two specs (CompiledSpec, ``zoo:NAME`` with ``resolve_ref``, or anything compile_spec
    takes)."""
    ca, cb = _compiled(a, resolve_ref), _compiled(b, resolve_ref)
    changes: list[Change] = []
    _walk(ca.spec, cb.spec, (), changes, lambda p: str(ca.origin(p)), lambda p: str(cb.origin(p)))
    return SpecDiff(_name(a, ca), _name(b, cb), ca.hash, cb.hash, changes, _graph_changes(ca.graph, cb.graph))


def _value(v) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 50 else text[:47] + "..."


_VERDICT = {ARCHITECTURE: "a checkpoint of A will NOT load into B",
            TRAINING: "same model; training differs (a checkpoint of A loads into B)",
            COSMETIC: "cosmetic only: no effect on the model or its training"}


def diff_text(d: SpecDiff) -> str:
    if d.same:
        return f"{d.a_name} and {d.b_name} are the same (sha256:{d.a_hash[:16]})\n"
    counts = d.impacts()
    lines = [f"diff A={d.a_name} -> B={d.b_name}: {len(d.changes)} value change(s), "
             f"{len(d.graph_changes)} graph change(s)  ("
             + ", ".join(f"{counts[k]} {k}" for k in IMPACT_ORDER) + ")"]
    sign = {"added": "+", "removed": "-", "changed": "~"}
    for c in d.changes:
        if c.kind == "changed":
            what = f"{_value(c.a)} -> {_value(c.b)}   ({c.a_source} -> {c.b_source})"
        elif c.kind == "added":
            what = f"added {_value(c.b)}   ({c.b_source})"
        else:
            what = f"removed {_value(c.a)}   ({c.a_source})"
        lines.append(f"  {sign[c.kind]} [{c.impact}] {c.dotted}: {what}")
    if d.graph_changes:
        lines.append("graph:")
        for g in d.graph_changes:
            if g.kind == "graph_attr":
                lines.append(f"  ~ [{g.impact}] {g.attr}: {g.a} -> {g.b}")
            elif g.kind == "node_added":
                lines.append(f"  + [{g.impact}] node {g.node} ({g.b})")
            elif g.kind == "node_removed":
                lines.append(f"  - [{g.impact}] node {g.node} ({g.a})")
            else:
                lines.append(f"  ~ [{g.impact}] {g.node}.{g.attr}: {_value(g.a)} -> {_value(g.b)}")
    lines.append(f"verdict: {_VERDICT[d.impact]}")
    return "\n".join(lines) + "\n"
