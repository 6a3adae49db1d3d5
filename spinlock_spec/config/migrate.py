"""``spinlock-spec migrate``: rewrite an accepted spec in the canonical layout.

The file is first read and validated as ``compile`` reads it.  Its own document
(``extends`` bases are left as they are, only referenced) then goes through the
same legacy mapping as :func:`~spinlock_spec.config.resolve.resolve`: saved-run tags
decoded, renamed keys written under their new names, original-format keys moved,
no-effect keys dropped, nulls and
older layouts replaced.  The result is written over ruamel.yaml's round-trip tree of
the original text, so comments, key order and quoting survive wherever the key
survives (a moved key takes its comments along).  Defaults are not filled: the
migrated file says what the original said, in today's words.

Relative paths (``dataset.path``, ``training.category_mapping_file``, local
``extends``) are rewritten when the new file lives in another folder, so the
migrated spec resolves to the same data; the resolved spec, and so the hash
``compile`` prints, is the same as the original's (checked by the command).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from spinlock_spec.config.origin import dotted
from spinlock_spec.errors import Diagnostic, SpecError

# Diagnostic code -> the kind of change migrate reports for it.
CHANGES = {
    "I102": "tag decoded",
    "I301": "moved",
    "I302": "dropped",
    "I303": "null replaced",
    "W300": "dropped (no effect)",
    "W303": "renamed",
    "W304": "layout rewritten",
    "M100": "path rewritten",
}
PATH_VALUES = (("dataset", "path"), ("training", "category_mapping_file"))


@dataclass
class Migration:
    text: str                                   # the migrated YAML
    changes: list[Diagnostic] = field(default_factory=list)

    def change_lines(self) -> list[str]:
        return [f"{d.location()}: {CHANGES[d.code]}: {d.message}" for d in self.changes]


def migrate_file(path, out_path=None) -> Migration:
    """The migrated text of ``path`` (to be written at ``out_path``, default beside it)."""
    from spinlock_spec.config import legacy, renames
    from spinlock_spec.config.compose import display_name, read_text
    from spinlock_spec.config.resolve import resolve
    from spinlock_spec.config.safe_yaml import parse_yaml

    path = Path(path)
    resolve(path)                                    # every problem of the file, as compile reports it
    name = display_name(path)
    text = read_text(path)
    data, positions = parse_yaml(text, name)
    data = {} if data is None else data
    extends = data.pop("extends", None)
    notes = list(positions.notes) + renames.normalize(data, positions) + legacy.normalize(data, positions)
    errors = [d for d in notes if d.severity == "error"]
    if errors:                                       # a legacy conflict only visible in this file alone
        raise SpecError(f"{name}: {len(errors)} error(s)", code=errors[0].code, diagnostics=errors)
    changes = [d for d in notes if d.code in CHANGES]
    new_dir = Path(out_path).resolve().parent if out_path is not None else path.resolve().parent
    old_dir = path.resolve().parent
    if new_dir != old_dir:
        changes += _rewrite_paths(data, positions, old_dir, new_dir, name)
        extends = _rewrite_extends(extends, old_dir, new_dir)
    target = ({"extends": extends} if extends is not None else {}) | data
    tree = _round_trip(text)
    index = _key_index(tree)
    _sync(tree, target, (), positions, index)
    changes.sort(key=lambda d: (d.line or 0, d.col or 0))
    return Migration(_dump(tree), changes)


# --------------------------------------------------------------------------- paths

def _relocated(value: str, old_dir: Path, new_dir: Path) -> str:
    target = Path(os.path.expanduser(value))
    if target.is_absolute():
        return value
    return os.path.relpath((old_dir / target).resolve(), new_dir)


def _rewrite_paths(data: dict, positions, old_dir: Path, new_dir: Path, name: str) -> list[Diagnostic]:
    out = []
    for path in PATH_VALUES:
        section = data.get(path[0])
        value = section.get(path[1]) if isinstance(section, dict) else None
        if not isinstance(value, str):
            continue
        new = _relocated(value, old_dir, new_dir)
        if new != value:
            section[path[1]] = new
            origin = positions.locate(path)
            out.append(Diagnostic("M100", f"'{dotted(path)}: {value}' is written as {new!r} (relative to the "
                                  "new file's folder)", severity="info", file=name,
                                  line=getattr(origin, "line", None), col=getattr(origin, "col", None)))
    return out


def _rewrite_extends(extends, old_dir: Path, new_dir: Path):
    if extends is None:
        return None
    refs = [extends] if isinstance(extends, str) else list(extends)
    moved = [r if r.startswith("zoo:") else _relocated(r, old_dir, new_dir) for r in refs]
    return moved[0] if isinstance(extends, str) else moved


# --------------------------------------------------------------------------- round trip

def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096                # never re-wrap a line the user wrote
    yaml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null",
                                                                                      "null"))
    return yaml


def _round_trip(text: str):
    """ruamel's round-trip tree of text that already passed :func:`parse_yaml` (so its only tags are
    the saved-run allow-list; the round-trip loader keeps any tag as data and constructs nothing)."""
    from ruamel.yaml.comments import CommentedMap

    tree = _yaml().load(text)
    return tree if isinstance(tree, CommentedMap) else CommentedMap()


def _dump(tree) -> str:
    buf = io.StringIO()
    _yaml().dump(tree, buf)
    return buf.getvalue()


def _key_index(tree, out=None) -> dict:
    """1-based line of every mapping key of the original text -> (its value, its comments), taken
    before anything is changed."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    out = {} if out is None else out
    if isinstance(tree, CommentedMap):
        for key in tree:
            try:
                line = tree.lc.key(key)[0] + 1
            except (KeyError, TypeError, AttributeError):
                line = None
            if line is not None:
                out.setdefault(line, (tree[key], tree.ca.items.get(key)))
            _key_index(tree[key], out)
    elif isinstance(tree, CommentedSeq):
        for item in tree:
            _key_index(item, out)
    return out


def _tagged(node) -> bool:
    if isinstance(node, (bytes, bytearray)):
        return True
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value is not None and not str(value).startswith(("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
                                                            "tag:yaml.org,2002:str"))


def _plain_equal(node, value) -> bool:
    """``node`` (round-trip) holds exactly ``value`` and no tag anywhere inside."""
    if _tagged(node):
        return False
    if isinstance(value, dict):
        return (isinstance(node, dict) and list(node) == list(value)
                and all(_plain_equal(node[k], v) for k, v in value.items()))
    if isinstance(value, list):
        return (isinstance(node, list) and len(node) == len(value)
                and all(_plain_equal(n, v) for n, v in zip(node, value)))
    if isinstance(node, (dict, list)):
        return False
    return type(node) is type(value) and node == value if isinstance(value, bool) else node == value


def _fresh(value):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _fresh(v)
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_fresh(v) for v in value)
        if value and all(not isinstance(v, (dict, list)) for v in value) and len(value) <= 8:
            seq.fa.set_flow_style()
        return seq
    return value


def _source(positions, path: tuple, index: dict):
    """The original (value, comments) of the key now at ``path`` (it was moved), when known."""
    origin = positions.keys.get(path)
    if origin is None or origin.kind != "file" or origin.line is None:
        return None
    return index.get(origin.line)


def _position(node, key: str, path: tuple) -> int:
    """Where a new key goes: a new section before the first present section that follows it in
    the schema's order; anything else at the end of its mapping."""
    if path:
        return len(node)
    from spinlock_spec.config.schema import load_schema

    order = list(load_schema()["properties"])
    if key not in order:
        return len(node)
    later = set(order[order.index(key) + 1:])
    return next((i for i, k in enumerate(node) if k in later), len(node))


def _sync(node, target: dict, path: tuple, positions, index: dict) -> None:
    """Make the round-trip mapping ``node`` hold ``target``, keeping what is unchanged."""
    from ruamel.yaml.comments import CommentedMap

    for key in [k for k in node if k not in target]:
        del node[key]
    for key, value in target.items():
        here = path + (key,)
        if key in node and not _tagged(node[key]):
            current = node[key]
            if isinstance(value, dict) and isinstance(current, CommentedMap):
                _sync(current, value, here, positions, index)
            elif not _plain_equal(current, value):
                node[key] = _fresh(value)
            continue
        if key in node:                                   # a tagged value: the plain value replaces it
            node[key] = _fresh(value)
            continue
        source = _source(positions, here, index)
        old = source[0] if source is not None else None
        if isinstance(value, dict):
            new = old if isinstance(old, CommentedMap) and not _tagged(old) else CommentedMap()
        elif source is not None and _plain_equal(old, value):
            new = old
        else:
            new = _fresh(value)
        node.insert(_position(node, key, path), key, new)
        if isinstance(value, dict):
            _sync(new, value, here, positions, index)
        if source is not None and source[1] is not None:
            node.ca.items[key] = source[1]
