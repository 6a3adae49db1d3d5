"""Loading and resolution: any accepted input -> the canonical, defaulted spec.

    load_spec(path_or_text, overrides) -> LoadedSpec     (files, extends, --set; positions)
    resolve(spec)                        -> ResolvedSpec   (legacy keys mapped, validated, defaults filled)

Both take ``resolve_ref``, the callback that turns ``extends: zoo:NAME`` into a file
(the zoo layer sits above this one; the API and the CLI pass
``spinlock_spec.zoo.resolve_spec_ref``).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

from spinlock_spec.errors import Diagnostic, SpecError
from spinlock_spec.config.origin import DEFAULT, Origin, Positions
from spinlock_spec.zoo_ref import RefResolver

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class LoadedSpec:
    """A spec as written: bases merged, overrides applied, not yet validated."""

    data: dict
    positions: Positions
    files: list[str]                   # the spec first, then its bases
    source: str                        # how the spec is named in messages
    base_dir: Path                     # directory of the spec (or the working directory for text)
    overrides: tuple[str, ...] = ()


@dataclass
class ResolvedSpec:
    """The canonical spec (docs/architecture.md), every default filled, with provenance."""

    data: dict
    positions: Positions
    diagnostics: list[Diagnostic] = field(default_factory=list)   # warnings and info
    files: list[str] = field(default_factory=list)
    source: str = "<spec>"
    base_dir: Path = field(default_factory=Path.cwd)

    def origin(self, path) -> Origin:
        """Where the value at ``path`` came from (``default`` for filled defaults)."""
        path = tuple(path)
        while path:
            if path in self.positions.values:
                return self.positions.values[path]
            path = path[:-1]
        return DEFAULT


def _is_path_like(value) -> bool:
    if isinstance(value, Path):
        return True
    if not isinstance(value, str) or "\n" in value:
        return False
    if os.path.exists(value):
        return True
    return value.endswith((".yaml", ".yml", ".json")) and ": " not in value and "{" not in value


def load_spec(path_or_text, overrides=(), resolve_ref: RefResolver | None = None) -> LoadedSpec:
    """Load a spec from a file path, YAML text, or a dict, apply ``--set`` overrides.

    A ``pathlib.Path`` or a one-line string naming a ``.yaml``/``.yml`` file (or an
    existing file) is read as a file; any other string is YAML text.
    """
    from spinlock_spec.config.compose import apply_override, display_name, load_file, load_text

    if isinstance(path_or_text, LoadedSpec):
        loaded = copy.deepcopy(path_or_text)
    elif isinstance(path_or_text, dict):
        loaded = LoadedSpec(copy.deepcopy(path_or_text), Positions(), ["<dict>"], "<dict>", Path.cwd())
    elif _is_path_like(path_or_text):
        path = Path(path_or_text)
        data, positions, files = load_file(path, resolve_ref=resolve_ref)
        loaded = LoadedSpec(data, positions, files, display_name(path), path.resolve().parent)
    elif isinstance(path_or_text, str):
        data, positions, files = load_text(path_or_text, resolve_ref=resolve_ref)
        loaded = LoadedSpec(data, positions, files, "<text>", Path.cwd())
    else:
        raise SpecError(f"cannot load a spec from {type(path_or_text).__name__}", code="E104")
    if isinstance(overrides, str):
        overrides = (overrides,)
    for option in overrides:
        apply_override(loaded.data, loaded.positions, option)
    loaded.overrides = tuple(loaded.overrides) + tuple(overrides)
    return loaded


def _sort_key(d: Diagnostic):
    return (_SEVERITY_ORDER.get(d.severity, 3), d.file or "", d.line or 0, d.col or 0)


def resolve(spec, overrides=(), resolve_ref: RefResolver | None = None) -> ResolvedSpec:
    """Validate and canonicalise a spec (anything :func:`load_spec` takes).

    Raises :class:`SpecError` with every problem when the spec is invalid.
    """
    from spinlock_spec.config import legacy, renames
    from spinlock_spec.config.defaults import fill_defaults
    from spinlock_spec.config.schema import validate

    loaded = load_spec(spec, overrides, resolve_ref)
    data, positions = loaded.data, loaded.positions
    notes = list(positions.notes) + renames.normalize(data, positions) + legacy.normalize(data, positions)
    problems = [d for d in notes if d.severity == "error"] + validate(data, positions)
    if problems:
        everything = sorted(problems, key=_sort_key) + sorted(
            [d for d in notes if d.severity != "error"], key=_sort_key)
        n = len(problems)
        raise SpecError(f"{loaded.source}: {n} error(s)", code=problems[0].code, diagnostics=everything)
    fill_defaults(data, positions, loaded.base_dir)
    return ResolvedSpec(data, positions, sorted(notes, key=_sort_key), loaded.files, loaded.source,
                        loaded.base_dir)


def dump_resolved(resolved) -> str:
    """The resolved spec as nested YAML that compiles again (a run's ``config.yaml``)."""
    import io

    from ruamel.yaml import YAML

    from spinlock_spec.config.schema_source import SCHEMA_ID

    data = resolved.data if isinstance(resolved, ResolvedSpec) else resolved
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    yaml.dump(_plain(data), buf)
    return f"# yaml-language-server: $schema={SCHEMA_ID}\n# resolved spec written by spinlock-spec\n" \
        + buf.getvalue()


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
