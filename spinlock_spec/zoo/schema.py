"""JSON Schema of the zoo index (``index.json``), format version 1.

docs/zoo.md documents the same format for people.  File names are checked
separately (:mod:`spinlock_spec.zoo.names`) so that an unsafe name gets its own
clear message instead of a generic pattern mismatch.
"""
from __future__ import annotations

from spinlock_spec.zoo.names import NAME_PATTERN, ROLES, VERSION_PATTERN

INDEX_FORMAT = "spinlock-spec-zoo"
INDEX_FORMAT_VERSION = 1

SHA256_PATTERN = r"^[0-9a-f]{64}$"

_UNIT = {"type": "number", "minimum": 0, "maximum": 1}

FILE_SCHEMA = {
    "type": "object",
    "required": ["path", "sha256", "size", "role"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "minLength": 1,
                 "description": "File name inside the entry folder NAME/VERSION/ (no sub-folders)."},
        "sha256": {"type": "string", "pattern": SHA256_PATTERN,
                   "description": "Lower-case hex sha256 of the file's bytes."},
        "size": {"type": "integer", "minimum": 0, "description": "Size in bytes."},
        "role": {"enum": list(ROLES), "description": "What the file is for."},
    },
}

ENTRY_SCHEMA = {
    "type": "object",
    "required": ["name", "version", "description", "spec", "files", "metrics", "training_data",
                 "spec_hash", "license", "needs_dataset"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "version": {"type": "string", "pattern": VERSION_PATTERN},
        "description": {"type": "string", "minLength": 1},
        "spec": {"type": "string", "minLength": 1,
                 "description": "File name (role spec) of the entry's spec YAML."},
        "files": {"type": "array", "minItems": 1, "items": FILE_SCHEMA},
        "metrics": {
            "type": "object",
            "description": "Validation metrics of the weights; empty for a spec-only entry.",
            "properties": {"quality": _UNIT, "utilization": _UNIT},
        },
        "training_data": {
            "type": ["object", "null"],
            "description": "The data the weights were trained on (or the spec is meant for).",
            "required": ["description"],
            "properties": {
                "description": {"type": "string"},
                "source": {"enum": ["synthetic", "file"]},
                "synthetic": {"type": "object"},
                "dataset_path": {"type": ["string", "null"]},
            },
        },
        "spec_hash": {"type": ["string", "null"], "pattern": SHA256_PATTERN,
                      "description": "Hash of the resolved spec (compile's spec hash); null until known."},
        "license": {"type": "string", "minLength": 1},
        "needs_dataset": {"type": "boolean",
                          "description": "True when the spec reads a dataset file that is not shipped."},
        "tags": {"type": "array", "items": {"type": "string"}},
        "created": {"type": "string"},
        "training": {"type": "object",
                     "description": "How the weights were produced (script, epochs, seed, ...)."},
    },
}

INDEX_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "spinlock-spec zoo index",
    "type": "object",
    "required": ["format", "format_version", "entries"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": INDEX_FORMAT},
        "format_version": {"const": INDEX_FORMAT_VERSION},
        "description": {"type": "string"},
        "entries": {"type": "array", "items": ENTRY_SCHEMA},
    },
}
