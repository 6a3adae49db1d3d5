"""``compile --print`` / ``--origins`` and ``train --dry-run``: the resolved spec as the user
can read it back, optionally with the origin of every value (``file:line:col``,
``--set KEY=VALUE`` or ``default``).  Torch-free.

The YAML printed compiles again to the same spec hash (the origins are YAML comments)."""
from __future__ import annotations

import io
import json


def leaves(value, path=()):
    """(path, value) of every scalar and empty container of a nested spec, in order."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, path + (key,))
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, child in enumerate(value):
            yield from leaves(child, path + (i,))
    else:
        yield path, value


def origins(compiled) -> list[dict]:
    """One record per leaf value: ``{"key": dotted path, "value", "origin": text, ...}``."""
    from spinlock_spec.config.origin import dotted

    out = []
    for path, value in leaves(compiled.spec):
        origin = compiled.origin(path)
        out.append({"key": dotted(path), "value": value, "origin": str(origin), "kind": origin.kind})
    return out


def resolved_json(compiled, *, with_origins: bool = False) -> str:
    """The resolved spec as JSON (``{"spec_hash", "spec", "origins"?}``)."""
    doc = {"spec_hash": compiled.hash, "spec": compiled.spec}
    if with_origins:
        doc["origins"] = {r["key"]: r["origin"] for r in origins(compiled)}
    return json.dumps(doc, indent=2, default=str) + "\n"


def resolved_yaml(compiled, *, with_origins: bool = False) -> str:
    """The resolved spec as YAML that compiles again to ``compiled.hash``; with origins, every
    value carries an end-of-line comment naming where it came from."""
    from spinlock_spec.config.resolve import dump_resolved

    header = f"# spec hash sha256:{compiled.hash}\n"
    if not with_origins:
        return header + dump_resolved(compiled.spec)
    from ruamel.yaml import YAML

    yaml = YAML()                 # round-trip dumper: it writes the comments
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(_commented(compiled.spec, (), compiled), buf)
    return header + "# each value's origin: file:line:col, --set KEY=VALUE, or default\n" + buf.getvalue()


def _commented(value, path, compiled):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        node = CommentedMap()
        for key, child in value.items():
            node[str(key)] = _commented(child, path + (key,), compiled)
            if not _nested(child):
                node.yaml_add_eol_comment(str(compiled.origin(path + (key,))), str(key))
        return node
    if isinstance(value, (list, tuple)):
        if not _nested(value):
            seq = CommentedSeq(list(value))
            seq.fa.set_flow_style()
            return seq
        seq = CommentedSeq()
        for i, child in enumerate(value):
            seq.append(_commented(child, path + (i,), compiled))
        return seq
    return value


def _nested(value) -> bool:
    if isinstance(value, dict):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, (dict, list, tuple)) for v in value)
    return False


def origins_text(compiled) -> str:
    """``key = value    origin`` lines, aligned."""
    rows = [(r["key"], json.dumps(r["value"], default=str), r["origin"]) for r in origins(compiled)]
    wk = max((len(k) for k, _, _ in rows), default=0)
    wv = min(max((len(v) for _, v, _ in rows), default=0), 40)
    return "".join(f"{k:<{wk}} = {v:<{wv}}  {o}\n" for k, v, o in rows)
