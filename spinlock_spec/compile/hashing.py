"""The spec hash: sha256 of the canonical JSON of the resolved spec."""
from __future__ import annotations

import hashlib
import json
import math


def _canon(value):
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        if value == int(value) and abs(value) < 2**53:
            return float(value)
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def canonical_json(data) -> str:
    """Sorted keys, no whitespace, UTF-8 characters kept: one text per resolved spec.  Renamed
    keys are written under their old names (config/renames.py), so a rename keeps every
    existing spec hash."""
    from spinlock_spec.config.renames import hash_view

    return json.dumps(_canon(hash_view(data)), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def spec_hash(data) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
