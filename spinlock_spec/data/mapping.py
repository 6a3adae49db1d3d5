"""Category mapping files: the one parser (standard library only).

A mapping file is JSON ``{category_name: [member, ...]}``; a member is a column
index of the concatenated feature vector or a feature name (``family:column``,
or just ``column`` when that is unique).  The compiler checks what it can
without data (:func:`read_mapping`, :func:`index_problems`); data loading turns
the members into indices (:func:`resolve_mapping`).  Both read the file here, so
they accept the same files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from spinlock_spec.errors import DataError

Member = int | str


@dataclass(frozen=True)
class CategoryMapping:
    path: Path
    categories: tuple[tuple[str, tuple[Member, ...]], ...]     # (name, members), in file order

    def __len__(self) -> int:
        return len(self.categories)


def _bad(path: Path, message: str, hint: str | None = None) -> DataError:
    return DataError(f"{path}: {message}", code="D010", hint=hint)


def read_mapping(path) -> CategoryMapping:
    """Parse and check the form of a mapping file; DataError D001 (missing) / D010 (malformed)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"category mapping file not found: {path}", code="D012",
                        hint="check the path; it is relative to the spec file that names it")
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"category mapping file is not valid JSON: {exc}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise _bad(path, "category mapping must be a non-empty JSON object "
                         "{category_name: [column indices or feature names]}")
    categories = []
    for name, members in mapping.items():
        if not isinstance(members, list) or not members:
            raise _bad(path, f"category {name!r} must be a non-empty list of column indices or feature names")
        for m in members:
            if isinstance(m, bool) or not isinstance(m, (int, str)):
                raise _bad(path, f"category {name!r}: entry {m!r} is neither a column index nor a feature name")
        categories.append((str(name), tuple(members)))
    return CategoryMapping(path, tuple(categories))


def index_problems(mapping: CategoryMapping, width: int | None) -> list[str]:
    """What the compiler can tell without data: column indices outside ``0..width-1``
    (when the width is known) and indices listed twice.  Names are checked with data."""
    problems, seen = [], {}
    for name, members in mapping.categories:
        for m in members:
            if not isinstance(m, int):
                continue
            if m < 0 or (width is not None and m >= width):
                problems.append(f"category {name!r}: column {m} is outside 0..{(width or 0) - 1}")
            elif m in seen:
                problems.append(f"column {m} is in both {seen[m]!r} and {name!r}")
            seen[m] = name
    return problems


def resolve_mapping(mapping: CategoryMapping, feature_names: list[str]) -> list[list[int]]:
    """The categories as feature indices, in file order.

    A name matches a feature name exactly, or the part after ``family:`` when that
    is unique.  Every feature must be covered exactly once (DataError D010)."""
    path = mapping.path
    by_name = {name: i for i, name in enumerate(feature_names)}
    short: dict[str, list[int]] = {}
    for i, name in enumerate(feature_names):
        short.setdefault(name.split(":", 1)[-1], []).append(i)
    n = len(feature_names)
    owner: dict[int, str] = {}
    categories: list[list[int]] = []
    for cat_name, members in mapping.categories:
        cat: list[int] = []
        for m in members:
            if isinstance(m, int):
                if not 0 <= m < n:
                    raise _bad(path, f"category {cat_name!r}: column index {m} out of range "
                                     f"(the model has {n} features, 0..{n - 1})")
                idx = m
            elif m in by_name:
                idx = by_name[m]
            elif len(short.get(m, [])) == 1:
                idx = short[m][0]
            else:
                kind = "ambiguous" if m in short else "unknown"
                listed = ", ".join(feature_names[:8]) + (", ..." if n > 8 else "")
                raise _bad(path, f"category {cat_name!r}: {kind} feature name {m!r}", hint=f"features are: {listed}")
            if idx in owner:
                raise _bad(path, f"feature {feature_names[idx]!r} (column {idx}) appears twice: in "
                                 f"{owner[idx]!r} and {cat_name!r}")
            owner[idx] = cat_name
            cat.append(idx)
        categories.append(cat)
    missing = [i for i in range(n) if i not in owner]
    if missing:
        listed = ", ".join(f"{i} ({feature_names[i]})" for i in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise _bad(path, f"{len(missing)} feature(s) are in no category: {listed}{more}",
                   hint="every feature must belong to exactly one category")
    return categories


def load_mapping_file(path, feature_names: list[str]) -> list[list[int]]:
    """Read a mapping file and resolve it against ``feature_names`` (see :func:`resolve_mapping`)."""
    return resolve_mapping(read_mapping(path), feature_names)
