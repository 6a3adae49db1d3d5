"""Where a value of a spec came from: a file position, a ``--set`` option or a default.

Positions are kept in plain dicts keyed by the value's path (a tuple of keys and
list indices), next to a plain Python document: nothing of ruamel leaks out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Path = tuple  # a path into the document: keys (str) and list indices (int)


@dataclass(frozen=True)
class Origin:
    """Provenance of one value.  ``kind`` is ``file``, ``set`` or ``default``."""

    kind: str
    file: str | None = None
    line: int | None = None       # 1-based
    col: int | None = None        # 1-based
    chain: tuple[str, ...] = ()   # extends chain, outermost file first (for values of a base)
    detail: str | None = None     # the --set option text, or a note such as "moved from ..."

    def __str__(self) -> str:
        if self.kind == "file":
            return f"{self.file}:{self.line}:{self.col}"
        if self.kind == "set":
            return f"--set {self.detail}" if self.detail else "--set"
        return "default"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "file": self.file, "line": self.line, "col": self.col,
                "chain": list(self.chain), "detail": self.detail, "text": str(self)}


DEFAULT = Origin("default")


@dataclass
class Positions:
    """Origins of values (``values[path]``) and of mapping keys (``keys[path]``)."""

    values: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)   # info diagnostics of reading (decoded saved-run tags)

    def drop_under(self, path: Path) -> None:
        """Forget every position at or below ``path`` (the subtree was replaced)."""
        n = len(path)
        for table in (self.values, self.keys):
            for p in [p for p in table if p[:n] == path]:
                del table[p]

    def move(self, old: Path, new: Path) -> None:
        """Re-key every position at or below ``old`` to sit below ``new``."""
        n = len(old)
        for table in (self.values, self.keys):
            for p in [p for p in table if p[:n] == old]:
                table[new + p[n:]] = table.pop(p)

    def update(self, other: Positions) -> None:
        self.values.update(other.values)
        self.keys.update(other.keys)
        self.notes.extend(n for n in other.notes if n not in self.notes)

    def locate(self, path: Path, *, key: bool = False) -> Origin | None:
        """The origin of ``path`` (its key when ``key``), else of the nearest ancestor."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
            if not path:
                return None
            path = path[:-1]


def pointer(path) -> str:
    """JSON pointer (RFC 6901) of a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def dotted(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"
