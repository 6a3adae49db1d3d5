"""Safe YAML reading with positions.

The text is *composed* (parsed to a node tree) by ruamel.yaml's round-trip
composer and the node tree is turned into plain Python values here, by this
module alone: no ruamel constructor ever runs, so no tag can construct an
object.  Only the core YAML tags are accepted, plus the saved-run allow-list of
:mod:`spinlock_spec.config.python_tags` (path, numpy scalar, tuple), decoded as
plain data with an info (I102); any other tag (other ``!!python/...``,
``!!binary``, ``!!set``, local tags such as ``!foo``) is refused with its position.
Duplicate keys are errors.  Every key and value gets a file:line:col origin.
"""
from __future__ import annotations

import math

from spinlock_spec.errors import Diagnostic, SpecError
from spinlock_spec.config import python_tags
from spinlock_spec.config.origin import Origin, Positions

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE = _CORE + "merge"
MAX_NODES = 200_000          # guards against alias expansion bombs
MAX_FLOW_DEPTH = 64          # flow collections nested deeper are refused before parsing


def _flow_depth_exceeded(text: str) -> tuple[int, int] | None:
    """(line, col) where ``[``/``{`` nesting first exceeds MAX_FLOW_DEPTH, ignoring quoted text and
    comments.  The YAML scanner is slow (and recursive) on deep nesting, so check cheaply first."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return None
    depth, quote, line, col, comment = 0, None, 1, 0, False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, comment = line + 1, 0, False
            continue
        if comment:
            continue
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line, col
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return None


class _Reader:
    def __init__(self, file: str, chain: tuple[str, ...]):
        self.file = file
        self.chain = chain
        self.pos = Positions()
        self.errors: list[Diagnostic] = []
        self.count = 0

    def origin(self, node) -> Origin:
        mark = node.start_mark
        return Origin("file", self.file, mark.line + 1, mark.column + 1, self.chain)

    def error(self, node, code: str, message: str, hint: str | None = None, path=()) -> None:
        o = self.origin(node)
        from spinlock_spec.config.origin import pointer
        self.errors.append(Diagnostic(code, message, file=o.file, line=o.line, col=o.col,
                                      pointer=pointer(path), hint=hint, chain=list(self.chain[:-1])))

    def convert(self, node, path: tuple):
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
        kind = type(node).__name__
        tag = str(node.tag) if node.tag is not None else ""
        self.pos.values[path] = self.origin(node)
        if tag in python_tags.ALLOWED:
            return self.python_tag(node, tag, path)
        if kind == "ScalarNode":
            return self.scalar(node, tag, path)
        if kind == "SequenceNode":
            if tag != _CORE + "seq":
                return self.bad_tag(node, tag, path)
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        if kind == "MappingNode":
            if tag != _CORE + "map":
                return self.bad_tag(node, tag, path)
            return self.mapping(node, path)
        self.error(node, "E102", f"unsupported YAML node {kind}", path=path)
        return None

    def python_tag(self, node, tag: str, path):
        """A tag of the saved-run allow-list (python_tags), decoded as plain data, with an info."""
        try:
            if tag == python_tags.TUPLE_TAG:
                if type(node).__name__ != "SequenceNode":
                    raise python_tags.PayloadError(node, "!!python/tuple needs a list")
                value = [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
                what = "read as a list"
            elif tag in python_tags.PATH_TAGS:
                value = python_tags.decode_path(node, tag)
                what = f"read as the path string {value!r}"
            else:
                value = python_tags.decode_numpy_scalar(node, tag)
                what = f"read as the number {value!r}"
        except python_tags.PayloadError as exc:
            self.error(exc.node, "E102", f"{python_tags.shown(tag)}: {exc}",
                       hint="write the value as plain YAML (a string, a number or a list)", path=path)
            return None
        o = self.origin(node)
        self.pos.values[path] = o
        from spinlock_spec.config.origin import pointer
        self.pos.notes.append(Diagnostic(
            "I102", f"saved-run tag {python_tags.shown(tag)} {what}", severity="info", file=o.file,
            line=o.line, col=o.col, pointer=pointer(path), chain=list(self.chain[:-1]),
            hint="`spinlock-spec migrate` writes the file without Python tags"))
        return value

    def bad_tag(self, node, tag: str, path) -> None:
        shown = tag.replace(_CORE, "!!")
        self.error(node, "E102", f"YAML tag {shown!r} is not allowed in a spec",
                   hint="specs hold plain data only (maps, lists, strings, numbers, booleans, null); "
                        "tags that construct objects are refused and never executed",
                   path=path)
        return None

    def scalar(self, node, tag: str, path):
        if tag not in _SCALAR_TAGS:
            return self.bad_tag(node, tag, path)
        text = node.value
        try:
            if tag == _CORE + "int":
                return _to_int(text)
            if tag == _CORE + "float":
                return _to_float(text)
            if tag == _CORE + "bool":
                return text.lower() in ("true", "yes", "on")
            if tag == _CORE + "null":
                return None
        except ValueError:
            shown = repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"
            self.error(node, "E100", f"cannot read {shown} as {tag.replace(_CORE, '')}", path=path)
            return None
        return str(text)      # str and timestamp (dates stay strings)

    def mapping(self, node, path: tuple) -> dict:
        out: dict = {}
        merged: dict = {}
        merged_sources: list = []
        for key_node, value_node in node.value:
            key_tag = str(key_node.tag)
            if key_tag == _MERGE or (type(key_node).__name__ == "ScalarNode" and key_node.value == "<<"
                                     and key_tag == _CORE + "str" and key_node.style is None):
                sources = value_node.value if type(value_node).__name__ == "SequenceNode" else [value_node]
                for src in sources:
                    if type(src).__name__ != "MappingNode":
                        self.error(src, "E100", "a merge key '<<' needs a mapping or a list of mappings",
                                   path=path)
                        continue
                    src_path = path + ("\0merge", len(merged_sources))
                    merged_sources.append(src_path)
                    sub = self.convert(src, src_path)
                    for k, v in (sub or {}).items():
                        merged.setdefault(k, (v, src_path))
                continue
            if type(key_node).__name__ != "ScalarNode":
                self.error(key_node, "E100", "mapping keys must be plain scalars", path=path)
                continue
            key = self.convert(key_node, path + ("\0key",))
            self.pos.values.pop(path + ("\0key",), None)
            if not isinstance(key, str):
                if key is None or isinstance(key, (list, dict)):
                    self.error(key_node, "E100", "mapping keys must be strings, numbers or booleans",
                               path=path)
                    continue
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                first = self.pos.keys[path + (key,)]
                self.error(key_node, "E101", f"duplicate key {key!r} (first at line {first.line})",
                           hint="remove one of the two entries", path=path + (key,))
                continue
            self.pos.keys[path + (key,)] = self.origin(key_node)
            out[key] = self.convert(value_node, path + (key,))
        for k, (v, src_path) in merged.items():
            if k not in out:
                out[k] = v
                self.pos.move(src_path + (k,), path + (k,))
        for src_path in merged_sources:
            self.pos.drop_under(src_path)
        return out


class _TooLarge(Exception):
    def __init__(self, node):
        self.node = node


def _to_int(text: str) -> int:
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    low = s.lower()
    if low.startswith("0x"):
        return sign * int(s[2:], 16)
    if low.startswith("0o"):
        return sign * int(s[2:], 8)
    if low.startswith("0b"):
        return sign * int(s[2:], 2)
    if ":" in s:   # YAML 1.1 sexagesimal
        value = 0
        for part in s.split(":"):
            value = value * 60 + int(part)
        return sign * value
    return sign * int(s, 10)


def _to_float(text: str) -> float:
    s = text.replace("_", "").lower()
    if s in (".inf", "+.inf"):
        return math.inf
    if s == "-.inf":
        return -math.inf
    if s == ".nan":
        return math.nan
    return float(s)


def _yaml_error(exc, file: str, chain) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    line = col = None
    if mark is not None:
        line, col = mark.line + 1, mark.column + 1
    elif getattr(exc, "position", None) is not None:
        message = f"YAML syntax error: {str(exc).splitlines()[0]}"
    return Diagnostic("E100", message, file=file, line=line, col=col, pointer="",
                      hint="fix the YAML syntax at this position", chain=list(chain[:-1]))


def parse_yaml(text: str, file: str, chain: tuple[str, ...] = ()) -> tuple[object, Positions]:
    """Parse one YAML document into plain Python values and their positions.

    Raises :class:`SpecError` carrying every problem found (syntax, duplicate
    keys, refused tags).  An empty document gives ``None``.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    chain = chain or (file,)
    deep = _flow_depth_exceeded(text)
    if deep is not None:
        raise SpecError(f"{file}: nested too deeply", code="E105", diagnostics=[Diagnostic(
            "E105", f"flow collections nested deeper than {MAX_FLOW_DEPTH} levels", file=file, line=deep[0],
            col=deep[1], pointer="", hint="a spec needs only a few levels of nesting")])
    yaml = YAML(typ="rt", pure=True)
    try:
        node = yaml.compose(text)
    except YAMLError as exc:
        raise SpecError(f"{file}: YAML syntax error", code="E100",
                        diagnostics=[_yaml_error(exc, file, chain)]) from None
    except RecursionError:
        raise SpecError(f"{file}: nested too deeply", code="E105", diagnostics=[Diagnostic(
            "E105", "document is nested too deeply to read", file=file, pointer="",
            hint="a spec needs only a few levels of nesting")]) from None
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise SpecError(f"{file}: cannot parse YAML", code="E100",
                        diagnostics=[Diagnostic("E100", f"YAML parse failure: {exc}", file=file, pointer="")]) from None
    if node is None:
        return None, Positions()
    reader = _Reader(file, chain)
    try:
        data = reader.convert(node, ())
    except _TooLarge as big:
        o = reader.origin(big.node)
        raise SpecError("spec too large", code="E105", diagnostics=[Diagnostic(
            "E105", f"document expands to more than {MAX_NODES} values (alias bomb?)",
            file=file, line=o.line, col=o.col, hint="do not nest aliases of aliases")]) from None
    except RecursionError:
        raise SpecError("spec too deep", code="E105", diagnostics=[Diagnostic(
            "E105", "document is nested too deeply", file=file)]) from None
    if reader.errors:
        raise SpecError(f"{file}: {len(reader.errors)} problem(s)", code=reader.errors[0].code,
                        diagnostics=reader.errors)
    return data, reader.pos
