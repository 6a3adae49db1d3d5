"""Keys renamed for what they do; the old names keep working.

One table: each entry names the section, the old key, the new key and how a
value maps between them.  ``normalize`` (run by ``resolve``) moves an old key to
its new name with a warning that names the new key; ``apply_aliases`` does the
same silently for hand-written section dicts (``config/sections.py``) and old
checkpoints' model configs.  ``hash_view`` maps the new names back, so the spec
hash of a spec is the same as before the rename (zoo weights are verified
against it).  Torch-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from spinlock_spec.errors import Diagnostic
from spinlock_spec.config.origin import Positions, dotted, pointer


@dataclass(frozen=True)
class Rename:
    section: str
    old: str
    new: str
    to_new: Callable = staticmethod(lambda v: v)
    to_old: Callable = staticmethod(lambda v: v)
    why: str = ""


RENAMES: tuple[Rename, ...] = (
    Rename("model", "uniform_codebook_init", "codebook_init",
           to_new=lambda v: v if v in ("kmeans", "random") else ("kmeans" if v else "random"),
           to_old=lambda v: v == "kmeans",
           why="true meant k-means initialisation from data, false random normal"),
    Rename("learnable_assignment", "credit_mask", "credit_mask_probability",
           why="the value is the probability that an identity entry is hidden"),
)


def _section_of(data: dict, section: str):
    node = data
    for part in section.split(".") if section else ():
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def apply_aliases(section: str, values: dict) -> None:
    """Old keys of ``section`` in ``values`` -> new keys, in place (no diagnostics)."""
    for r in RENAMES:
        if r.section == section and r.old in values:
            old = values.pop(r.old)
            values.setdefault(r.new, r.to_new(old))


def normalize(data: dict, positions: Positions) -> list[Diagnostic]:
    """Move old keys to their new names, in place; a warning per key moved (an error
    when both names are given)."""
    notes = []
    for r in RENAMES:
        node = _section_of(data, r.section)
        if node is None or r.old not in node:
            continue
        old_path, new_path = (*r.section.split("."), r.old), (*r.section.split("."), r.new)
        origin = positions.locate(old_path, key=True)
        if r.new in node:
            d = Diagnostic("E206", f"{dotted(old_path)} and {dotted(new_path)} name the same setting; "
                           f"keep {dotted(new_path)}", severity="error", pointer=pointer(old_path))
        else:
            node[r.new] = r.to_new(node.pop(r.old))
            positions.move(old_path, new_path)
            d = Diagnostic("W303", f"{dotted(old_path)} is now {dotted(new_path)} ({r.why}); the old name "
                           "still works", severity="warning", pointer=pointer(new_path),
                           hint=f"write {dotted(new_path)}: {node[r.new]!r}")
        if origin is not None and origin.kind == "file":
            d.file, d.line, d.col = origin.file, origin.line, origin.col
        notes.append(d)
    return notes


def hash_view(data: dict) -> dict:
    """A copy of resolved ``data`` with renamed keys under their old names (what the spec
    hash is computed from, so renames do not change hashes)."""
    import copy

    out = copy.deepcopy(data)
    for r in RENAMES:
        node = _section_of(out, r.section)
        if node is not None and r.new in node:
            node[r.old] = r.to_old(node.pop(r.new))
    return out
