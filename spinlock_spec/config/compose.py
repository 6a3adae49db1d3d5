"""Reading spec files and composing them: ``extends:`` bases and ``--set`` overrides.

Merge semantics (documented in docs/spec.md): a base is loaded first, the
extending file is laid over it; mappings merge key by key, everything else
(lists, scalars, null) replaces.  Several bases (``extends: [a.yaml, b.yaml]``)
are merged in order.  Cycles are errors.  Each value keeps its origin and, for
values from a base, the chain of files that led to it.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

from spinlock_spec.errors import Diagnostic, SpecError
from spinlock_spec.config.origin import Origin, Positions
from spinlock_spec.config.safe_yaml import parse_yaml
from spinlock_spec.zoo_ref import RefResolver, is_zoo_ref

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 16


def _fail(code: str, message: str, *, file=None, origin: Origin | None = None, hint=None, chain=()):
    d = Diagnostic(code, message, file=file, hint=hint, chain=list(chain))
    if origin is not None and origin.kind == "file":
        d.file, d.line, d.col = origin.file, origin.line, origin.col
    raise SpecError(message, code=code, diagnostics=[d])


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when below it."""
    text = os.path.normpath(str(path))
    try:
        rel = os.path.relpath(text)
        if not rel.startswith(".."):
            return rel
    except ValueError:
        pass
    return text


def read_text(path: Path, *, origin: Origin | None = None, chain=()) -> str:
    name = display_name(path)
    if not path.exists():
        _fail("E103", f"spec file not found: {name}", file=name, origin=origin, chain=chain,
              hint="check the path (relative paths in extends are relative to the extending file)")
    if path.is_dir():
        _fail("E103", f"{name} is a directory, not a spec file", file=name, origin=origin, chain=chain)
    if not path.is_file():          # a device (/dev/zero), FIFO or socket: never opened
        _fail("E103", f"{name} is not a regular file (a device, FIFO or socket)", file=name, origin=origin,
              chain=chain)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            _fail("E103", f"{name} is {size} bytes; a spec is at most {MAX_BYTES}", file=name, origin=origin)
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)       # bounded even if the file grows meanwhile
        if len(raw) > MAX_BYTES:
            _fail("E103", f"{name} is over {MAX_BYTES} bytes; a spec is at most {MAX_BYTES}", file=name,
                  origin=origin)
    except OSError as exc:
        _fail("E103", f"cannot read {name}: {exc.strerror or exc}", file=name, origin=origin, chain=chain)
    if b"\0" in raw:
        _fail("E103", f"{name} is a binary file, not a YAML spec", file=name, origin=origin, chain=chain)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail("E103", f"{name} is not UTF-8 text (byte {exc.start})", file=name, origin=origin, chain=chain)


def merge_into(base: dict, base_pos: Positions, over: dict, over_pos: Positions, path: tuple = ()) -> None:
    """Lay ``over`` on ``base`` in place: mappings merge, anything else replaces."""
    for key, value in over.items():
        p = path + (key,)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_into(base[key], base_pos, value, over_pos, p)
            if p in over_pos.keys:
                base_pos.keys[p] = over_pos.keys[p]
            continue
        base[key] = copy.deepcopy(value)
        base_pos.drop_under(p)
        n = len(p)
        for table_from, table_to in ((over_pos.values, base_pos.values), (over_pos.keys, base_pos.keys)):
            for q, o in table_from.items():
                if q[:n] == p:
                    table_to[q] = o


def _resolve_ref(ref: str, here: Path, origin: Origin | None, chain, resolve_ref: RefResolver | None) -> Path:
    if is_zoo_ref(ref):
        if resolve_ref is None:     # the loader knows the syntax, the zoo layer (above) the entries
            _fail("E111", f"cannot resolve {ref!r}: this spec was loaded without a zoo resolver",
                  origin=origin, chain=chain,
                  hint="load it through spinlock_spec.api or the CLI, or pass "
                       "resolve_ref=spinlock_spec.zoo.resolve_spec_ref")
        try:
            return Path(resolve_ref(ref))
        except SpecError:
            raise
        except Exception as exc:   # ZooError and friends: keep one located message
            message = getattr(exc, "message", None) or str(exc)
            _fail("E111", f"cannot resolve {ref!r}: {message}", origin=origin, chain=chain,
                  hint=getattr(exc, "hint", None) or "run `spinlock-spec zoo list` to see the entries")
    if not ref.strip():
        _fail("E106", "extends needs a file name", origin=origin, chain=chain)
    target = Path(os.path.expanduser(ref))
    target = target if target.is_absolute() else here.parent / target
    entry = zoo_entry_folder(here)
    if entry is not None and not _inside(os.path.realpath(target), entry):
        _fail("E112", f"a zoo entry's spec may only extend files of its own entry, not {ref!r}", origin=origin,
              chain=chain, hint="the entry is unsafe or corrupt; tell its maintainer (or extend zoo:NAME)")
    return target


#: the file that marks a folder of the zoo cache as one verified entry (zoo/cache.py MARKER)
ZOO_ENTRY_MARKER = ".zoo-entry.json"


def zoo_entry_folder(spec_path: Path) -> str | None:
    """The real path of the zoo entry folder holding ``spec_path``, or None for any other spec."""
    folder = Path(os.path.realpath(spec_path)).parent
    return str(folder) if (folder / ZOO_ENTRY_MARKER).is_file() else None


def _inside(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def load_file(path: Path, *, stack: tuple = (), chain: tuple = (), origin: Origin | None = None,
              resolve_ref: RefResolver | None = None):
    """Load ``path`` with its bases merged.  Returns (data, positions, files).

    ``resolve_ref`` turns an ``extends: zoo:NAME`` into the entry's spec file (see
    :mod:`spinlock_spec.zoo_ref`); without it such a base is an error E106."""
    name = display_name(path)
    via = chain[:-1]          # files leading to the one holding ``origin`` (the extends entry)
    chain = chain + (name,)
    if len(stack) > MAX_DEPTH:
        _fail("E107", f"extends chain deeper than {MAX_DEPTH} files", origin=origin, chain=via)
    real = os.path.realpath(path)
    if real in stack:
        _fail("E107", "extends cycle: " + " -> ".join(chain), origin=origin, chain=via,
              hint="remove one of the extends entries")
    text = read_text(path, origin=origin, chain=via)
    data, positions = parse_yaml(text, name, chain)
    return _compose(data, positions, path, name, stack + (real,), chain, resolve_ref)


def _compose(data, positions: Positions, path: Path, name: str, stack: tuple, chain: tuple,
             resolve_ref: RefResolver | None):
    if data is None:
        data = {}
        positions.values[()] = Origin("file", name, 1, 1, chain)
    if not isinstance(data, dict):
        o = positions.values.get(())
        _fail("E104", f"a spec must be a mapping of sections, not a {type(data).__name__}", origin=o,
              file=name, chain=chain[:-1], hint="start with e.g. `families:`")
    files = [name]
    refs = data.pop("extends", None)
    if refs is None:
        return data, positions, files
    ref_origin = positions.values.get(("extends",))
    positions.drop_under(("extends",))
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        _fail("E106", "extends must be a file name, zoo:NAME, or a list of them", origin=ref_origin,
              chain=chain[:-1])
    merged: dict = {}
    merged_pos = Positions()
    for i, ref in enumerate(refs):
        o = positions.values.get(("extends", i), ref_origin) if len(refs) > 1 else ref_origin
        base_path = _resolve_ref(ref, path, o, chain[:-1], resolve_ref)
        b_data, b_pos, b_files = load_file(base_path, stack=stack, chain=chain, origin=o, resolve_ref=resolve_ref)
        merge_into(merged, merged_pos, b_data, b_pos)
        merged_pos.notes.extend(b_pos.notes)
        files += [f for f in b_files if f not in files]
    positions.drop_under(("extends",))
    root_origin = positions.values.get(())
    merge_into(merged, merged_pos, data, positions)
    merged_pos.notes.extend(positions.notes)
    if root_origin is not None:
        merged_pos.values[()] = root_origin
    return merged, merged_pos, files


def load_text(text: str, name: str = "<text>", base_dir: Path | None = None, resolve_ref: RefResolver | None = None):
    """Load spec text (extends are relative to ``base_dir``, default the working directory)."""
    data, positions = parse_yaml(text, name, (name,))
    anchor = (base_dir or Path.cwd()) / "__spec_text__.yaml"
    return _compose(data, positions, anchor, name, (), (name,), resolve_ref)


# --------------------------------------------------------------------------- --set


def apply_override(data: dict, positions: Positions, option: str) -> None:
    """Apply one ``dotted.key=value`` override (value parsed as YAML, safely)."""
    key, sep, raw = option.partition("=")
    key = key.strip()
    if not sep or not key:
        _fail("E108", f"--set needs KEY=VALUE, got {option!r}", file="--set",
              hint="e.g. --set training.batch_size=64")
    parts: list = key.split(".")
    if any(not p for p in parts):
        _fail("E108", f"--set key {key!r} has an empty part", file="--set")
    if parts[0] == "extends":
        _fail("E108", "extends cannot be set with --set", file="--set", hint="edit the spec file")
    try:
        value, _ = parse_yaml(raw, f"--set {option}", (f"--set {option}",))
    except SpecError as exc:
        for d in exc.diagnostics:
            d.file, d.line, d.col = f"--set {option}", None, None
        raise
    node = data
    path: tuple = ()
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node, part = _list_step(node, part, key)
            if not isinstance(node, (dict, list)):
                _fail("E108", f"--set {key}: item {part} is not a mapping or list", file="--set")
        elif not isinstance(node.get(part), (dict, list)):
            node[part] = {}
            node = node[part]
        else:
            node = node[part]
        path += (part,)
        parts[i] = part
    last = parts[-1]
    if isinstance(node, list):
        _, last = _list_step(node, last, key)
    node[last] = value
    path += (last,)
    positions.drop_under(path)
    origin = Origin("set", detail=option)
    _mark(value, path, positions, origin)
    positions.keys[path] = origin


def _list_step(node: list, part: str, key: str):
    try:
        index = int(part)
    except ValueError:
        index = None
    if index is None or not -len(node) <= index < len(node):
        _fail("E108", f"--set {key}: {part!r} is not an index of a list of {len(node)} item(s)", file="--set")
    index %= len(node)
    return node[index], index


def _mark(value, path: tuple, positions: Positions, origin: Origin) -> None:
    positions.values[path] = origin
    if isinstance(value, dict):
        for k, v in value.items():
            positions.keys[path + (k,)] = origin
            _mark(v, path + (k,), positions, origin)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _mark(v, path + (i,), positions, origin)
