"""The zoo index: loading, validating and (for maintainers) writing it.

An index is one JSON file (``index.json``) at the root of a registry; entry
files live in ``NAME/VERSION/`` next to it.  The format is documented in
docs/zoo.md and checked on every load: first the JSON Schema
(:mod:`spinlock_spec.zoo.schema`), then the rules a schema cannot express
(unique ``NAME@VERSION``, one spec file, safe file names).
"""
from __future__ import annotations

import copy
import difflib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from spinlock_spec.errors import ZooError
from spinlock_spec.zoo import names
from spinlock_spec.zoo.fetch import Source, open_registry, sha256_file
from spinlock_spec.zoo.schema import INDEX_FORMAT, INDEX_FORMAT_VERSION, INDEX_SCHEMA

ENV_REGISTRY = "SPINLOCK_SPEC_REGISTRY"


@dataclass(frozen=True)
class ZooFile:
    path: str
    sha256: str
    size: int
    role: str

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "role": self.role}


@dataclass
class ZooEntry:
    name: str
    version: str
    description: str
    spec: str
    files: list[ZooFile]
    metrics: dict
    training_data: dict | None
    spec_hash: str | None
    license: str
    needs_dataset: bool
    extra: dict = field(default_factory=dict)     # optional keys (tags, created, training)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def has_weights(self) -> bool:
        return any(f.role == "weights" for f in self.files)

    def files_with_role(self, role: str) -> list[ZooFile]:
        return [f for f in self.files if f.role == role]

    def to_dict(self) -> dict:
        data = {
            "name": self.name, "version": self.version, "description": self.description,
            "spec": self.spec, "files": [f.to_dict() for f in self.files],
            "metrics": copy.deepcopy(self.metrics), "training_data": copy.deepcopy(self.training_data),
            "spec_hash": self.spec_hash, "license": self.license, "needs_dataset": self.needs_dataset,
        }
        data.update(copy.deepcopy(self.extra))
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ZooEntry:
        known = {"name", "version", "description", "spec", "files", "metrics", "training_data",
                 "spec_hash", "license", "needs_dataset"}
        return cls(
            name=data["name"], version=data["version"], description=data["description"],
            spec=data["spec"], files=[ZooFile(**f) for f in data["files"]],
            metrics=dict(data["metrics"]), training_data=data["training_data"],
            spec_hash=data["spec_hash"], license=data["license"],
            needs_dataset=bool(data["needs_dataset"]),
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass
class ZooIndex:
    entries: list[ZooEntry]
    source: Source
    description: str | None = None

    @property
    def location(self) -> str:
        return self.source.location

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries})

    def versions(self, name: str) -> list[str]:
        return sorted((e.version for e in self.entries if e.name == name), key=names.version_key)

    def get(self, name: str, version: str | None = None) -> ZooEntry:
        """The entry ``name@version`` (newest version when ``version`` is None)."""
        versions = self.versions(name)
        if not versions:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = (f"did you mean {', '.join(close)}?" if close
                    else "run `spinlock-spec zoo list` to see the entries")
            raise ZooError(f"no zoo entry named {name!r} in {self.location}", code="Z030", hint=hint)
        if version is None:
            version = versions[-1]
        for entry in self.entries:
            if entry.name == name and names.version_key(entry.version) == names.version_key(version):
                return entry
        raise ZooError(f"zoo entry {name!r} has no version {version!r} in {self.location}",
                       code="Z031", hint=f"available versions: {', '.join(versions)}")


# --------------------------------------------------------------------------- validation

def _schema_problems(data: object) -> list[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(INDEX_SCHEMA)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        pointer = "/" + "/".join(str(p) for p in error.absolute_path)
        problems.append(f"at {pointer}: {error.message}")
    return problems


def validate_entry(entry: dict, label: str | None = None) -> None:
    """Rules beyond the schema for one entry (safe names, exactly one spec file)."""
    label = label or f"{entry.get('name')}@{entry.get('version')}"
    seen: set[str] = set()
    for f in entry["files"]:
        names.check_file_name(f["path"], label)
        if f["path"] in seen:
            raise ZooError(f"zoo entry {label}: file {f['path']!r} is listed twice", code="Z011")
        seen.add(f["path"])
    specs = [f["path"] for f in entry["files"] if f["role"] == "spec"]
    if len(specs) != 1:
        raise ZooError(f"zoo entry {label}: needs exactly one file with role 'spec', has {len(specs)}",
                       code="Z011")
    if entry["spec"] != specs[0]:
        raise ZooError(f"zoo entry {label}: 'spec' is {entry['spec']!r} but the spec file is {specs[0]!r}",
                       code="Z011")


def parse_index(raw: bytes, location: str) -> tuple[list[ZooEntry], str | None]:
    """Entries of an index given as bytes; :class:`ZooError` for anything invalid."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"zoo index {location} is not valid JSON: {exc}", code="Z011") from None
    # file names first: an unsafe name deserves its own message
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        for entry in data["entries"]:
            if isinstance(entry, dict) and isinstance(entry.get("files"), list):
                label = f"{entry.get('name')}@{entry.get('version')}"
                for f in entry["files"]:
                    if isinstance(f, dict) and "path" in f:
                        names.check_file_name(f["path"], label)
    problems = _schema_problems(data)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ZooError(f"zoo index {location} is invalid:\n  {shown}{more}", code="Z011")
    seen: set[tuple] = set()
    entries = []
    for item in data["entries"]:
        validate_entry(item)
        key = (item["name"], names.version_key(item["version"]))
        if key in seen:
            raise ZooError(f"zoo index {location}: {item['name']}@{item['version']} is listed twice",
                           code="Z011")
        seen.add(key)
        entries.append(ZooEntry.from_dict(item))
    return entries, data.get("description")


def default_registry() -> str:
    """``SPINLOCK_SPEC_REGISTRY`` or, when unset, the bundled zoo folder."""
    env = os.environ.get(ENV_REGISTRY)
    if env:
        return env
    from spinlock_spec.resources import zoo_dir

    return str(zoo_dir())


def load_index(registry: str | os.PathLike | None = None) -> ZooIndex:
    """Load and validate the index of ``registry`` (URL, folder or index file;
    default :func:`default_registry`)."""
    source = open_registry(registry if registry is not None else default_registry())
    raw = source.read_index()
    entries, description = parse_index(raw, source.location)
    return ZooIndex(entries=entries, source=source, description=description)


# --------------------------------------------------------------------------- writing (maintainers)

def _empty_index() -> dict:
    return {"format": INDEX_FORMAT, "format_version": INDEX_FORMAT_VERSION,
            "description": "spinlock-spec model zoo", "entries": []}


def write_json_atomic(path: Path, data: object) -> None:
    from spinlock_spec.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _read_index_dict(root: Path) -> dict:
    path = root / "index.json"
    if not path.exists():
        return _empty_index()
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    parse_index(json.dumps(data).encode(), str(path))      # validate
    return data


def _file_record(folder: Path, filename: str, role: str) -> dict:
    path = folder / filename
    if path.is_symlink() or not path.is_file():
        raise ZooError(f"zoo file {path} is missing or not a regular file", code="Z011")
    return {"path": filename, "sha256": sha256_file(path), "size": path.stat().st_size, "role": role}


def _sorted_entries(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: (e["name"], names.version_key(e["version"])))


def add_entry_files(entry_name: str, version: str, files: dict, metrics: dict | None = None, *,
                    description: str | None = None, training_data: dict | None = None,
                    spec_hash: str | None = None, license: str | None = None,
                    needs_dataset: bool | None = None, extra: dict | None = None,
                    zoo_root: str | os.PathLike | None = None) -> ZooEntry:
    """Add or update ``entry_name@version`` in a zoo folder (default: the bundled ``zoo/``).

    ``files`` maps a role (spec, weights, weights_meta, normalization,
    categories, card) to a path or a list of paths; each is copied into
    ``ZOO/NAME/VERSION/`` under its own file name, and the index is rewritten
    with its sha256 and size.  Files of roles not given are kept.  ``metrics``
    (when given) replaces the entry's metrics.  A new entry takes description,
    license, training data and ``needs_dataset`` from the newest existing
    version of the same name unless given.  Returns the entry as written.
    """
    from spinlock_spec.resources import zoo_dir

    root = Path(zoo_root) if zoo_root is not None else zoo_dir()
    names.check_name(entry_name)
    names.check_version(version)
    label = f"{entry_name}@{version}"
    data = _read_index_dict(root)
    existing = next((e for e in data["entries"] if e["name"] == entry_name
                     and names.version_key(e["version"]) == names.version_key(version)), None)
    siblings = [e for e in data["entries"] if e["name"] == entry_name and e is not existing]
    template = max(siblings, key=lambda e: names.version_key(e["version"])) if siblings else None
    if existing is None:
        if "spec" not in files:
            raise ZooError(f"new zoo entry {label} needs a 'spec' file", code="Z011")
        base = template or {}
        existing = {
            "name": entry_name, "version": version,
            "description": base.get("description", ""), "spec": "", "files": [],
            "metrics": {}, "training_data": base.get("training_data"),
            "spec_hash": None, "license": base.get("license", "MIT"),
            "needs_dataset": base.get("needs_dataset", False),
        }
        data["entries"].append(existing)
    # collect new files: role -> [Path]
    incoming: dict[str, list[Path]] = {}
    for role, value in files.items():
        if role not in names.ROLES:
            raise ZooError(f"zoo entry {label}: unknown file role {role!r} "
                           f"(one of {', '.join(names.ROLES)})", code="Z011")
        paths = [Path(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        for p in paths:
            names.check_file_name(p.name, label)
            if p.is_symlink() or not p.is_file():
                raise ZooError(f"zoo entry {label}: {p} is not a regular file", code="Z011")
        incoming[role] = paths
    new_names = [p.name for ps in incoming.values() for p in ps]
    if len(set(new_names)) != len(new_names):
        raise ZooError(f"zoo entry {label}: two files share a name: {new_names}", code="Z011")
    kept = [f for f in existing["files"] if f["role"] not in incoming and f["path"] not in new_names]
    folder = root / entry_name / version
    folder.mkdir(parents=True, exist_ok=True)
    for paths in incoming.values():
        for p in paths:
            target = folder / p.name
            if p.resolve() != target.resolve():
                fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=folder)
                os.close(fd)
                try:
                    shutil.copyfile(p, tmp)
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, target)
                except BaseException:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                    raise
    records = [_file_record(folder, f["path"], f["role"]) for f in kept]
    records += [_file_record(folder, p.name, role) for role, ps in incoming.items() for p in ps]
    existing["files"] = sorted(records, key=lambda f: (names.ROLES.index(f["role"]), f["path"]))
    existing["spec"] = next(f["path"] for f in existing["files"] if f["role"] == "spec") \
        if any(f["role"] == "spec" for f in existing["files"]) else existing["spec"]
    if metrics is not None:
        existing["metrics"] = dict(metrics)
    for key, value in (("description", description), ("training_data", training_data),
                       ("spec_hash", spec_hash), ("license", license),
                       ("needs_dataset", needs_dataset)):
        if value is not None:
            existing[key] = value
    if extra:
        existing.update(extra)
    if not existing["description"]:
        raise ZooError(f"zoo entry {label} needs a description", code="Z011")
    # files no longer referenced by the entry are removed from its folder
    listed = {f["path"] for f in existing["files"]}
    for child in folder.iterdir():
        if child.is_file() and not child.name.startswith(".") and child.name not in listed:
            child.unlink()
    data["entries"] = _sorted_entries(data["entries"])
    parse_index(json.dumps(data).encode(), str(root / "index.json"))   # never write an invalid index
    write_json_atomic(root / "index.json", data)
    return ZooEntry.from_dict(existing)


def rebuild_index(zoo_root: str | os.PathLike | None = None) -> list[str]:
    """Recompute sha256 and size of every file listed in a zoo folder's index
    (after a spec was edited by hand).  Returns the refs whose files changed."""
    from spinlock_spec.resources import zoo_dir

    root = Path(zoo_root) if zoo_root is not None else zoo_dir()
    data = _read_index_dict(root)
    changed = []
    for entry in data["entries"]:
        folder = root / entry["name"] / entry["version"]
        records = [_file_record(folder, f["path"], f["role"]) for f in entry["files"]]
        if records != entry["files"]:
            changed.append(f"{entry['name']}@{entry['version']}")
            entry["files"] = records
    data["entries"] = _sorted_entries(data["entries"])
    parse_index(json.dumps(data).encode(), str(root / "index.json"))
    write_json_atomic(root / "index.json", data)
    return changed
