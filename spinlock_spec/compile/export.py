"""Graph exports: JSON (node-link), Graphviz DOT, Mermaid."""
from __future__ import annotations

import json

_SHAPES = {"dataset": "cylinder", "family": "box", "family_encoder": "box", "fusion": "hexagon",
           "assignment": "diamond", "category": "ellipse", "quantizer_level": "box3d", "decoder": "box",
           "loss": "note", "trainer": "doubleoctagon"}


def _label(node_id: str, attrs: dict) -> str:
    kind = attrs["kind"]
    if kind == "family":
        return f"{node_id}\\n{attrs['shape'] if attrs['shape'] is not None else '?'}"
    if kind == "family_encoder":
        return f"{attrs['encoder']}\\nout {attrs['out_dim'] if attrs['out_dim'] is not None else '?'}"
    if kind == "assignment":
        return f"assignment\\n{attrs['mode']}"
    if kind == "quantizer_level":
        size = "auto" if attrs["num_tokens"] is None else f"{attrs['num_tokens']}x{attrs['latent_dim']}"
        return f"{node_id}\\n{size}"
    if kind == "loss":
        return f"{attrs['name']} x{attrs['weight']}"
    if kind == "trainer":
        return f"{attrs['type']}\\n{attrs['model_class']}"
    return node_id


def to_json(compiled) -> str:
    g = compiled.graph
    doc = {
        "spec_hash": compiled.hash,
        "graph": {k: v for k, v in g.graph.items()},
        "nodes": [{"id": n, **attrs} for n, attrs in g.nodes(data=True)],
        "edges": [{"source": a, "target": b} for a, b in g.edges()],
        "diagnostics": [d.to_dict() for d in compiled.diagnostics],
    }
    return json.dumps(doc, indent=2, default=str)


def _dot_id(node_id: str) -> str:
    return '"' + node_id.replace('"', '\\"') + '"'


def to_dot(compiled) -> str:
    g = compiled.graph
    lines = ["digraph spinlock_spec {", "  rankdir=LR;", f'  label="{g.graph["model_class"]} + '
             f'{g.graph["trainer_type"]} ({compiled.hash[:12]})";', "  node [fontsize=10];"]
    for n, attrs in g.nodes(data=True):
        label = _label(n, attrs).replace('"', '\\"')
        lines.append(f'  {_dot_id(n)} [label="{label}", shape={_SHAPES.get(attrs["kind"], "box")}];')
    for a, b in g.edges():
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_id(node_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in node_id)


def to_mermaid(compiled) -> str:
    g = compiled.graph
    lines = ["flowchart LR"]
    for n, attrs in g.nodes(data=True):
        label = _label(n, attrs).replace("\\n", "<br/>").replace('"', "'")
        lines.append(f'  {_mermaid_id(n)}["{label}"]')
    for a, b in g.edges():
        lines.append(f"  {_mermaid_id(a)} --> {_mermaid_id(b)}")
    return "\n".join(lines) + "\n"
