"""Starting and resuming a run folder (used by :func:`spinlock_spec.api.train`).

A new run writes its spec, normalization statistics, initial categories and data
source before the first epoch; a resumed run is checked against what it recorded:
the same architecture, only the changes the resume rule allows (docs/troubleshooting.md,
"Resuming a run"), and the same data unless the user says otherwise.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spinlock_spec.errors import CheckpointError, DataError
from spinlock_spec.runs.names import (BEST_MODEL_FILE, CONFIG_FILE, DATA_SOURCE_FILE, FINAL_MODEL_FILE,
                                      INITIAL_CATEGORIES_FILE, NORMALIZATION_FILE, RESUMES_FILE)

#: What a resume may change (dotted spec keys, or a section followed by "."); everything
#: else of the run's config.yaml stays as it was trained.
RESUMABLE_KEYS = ("training.num_epochs", "training.learning_rate", "training.device",
                  "training.use_torch_compile", "logging.")


def writes_run_folder() -> bool:
    """This process writes the run folder: a single process, or rank 0 of several."""
    from spinlock_spec.train.world import env_world_size

    return env_world_size() <= 1 or os.environ.get("RANK", "0") == "0"


def check_run_folder(path: Path) -> None:
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run folder", code="E400")
    if not (path / CONFIG_FILE).is_file():
        raise CheckpointError(f"{path}: not a spinlock-spec run folder (no {CONFIG_FILE})", code="E400")


def start_run_folder(run, compiled, prepared, built, data) -> None:
    from spinlock_spec.runs.guard import data_fingerprint

    path = data if data is not None else compiled.spec["dataset"].get("path")
    source = data_fingerprint(path if path is not None and Path(path).is_file() else None)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_text(CONFIG_FILE, _config_text(compiled))
    run.write_npz(NORMALIZATION_FILE, prepared.preprocessor.to_npz_dict())
    run.write_json(INITIAL_CATEGORIES_FILE, {
        "source": built.initial.source, "ari": built.initial.ari,
        "categories": built.initial.categories, "spec_hash": compiled.hash})
    run.write_json(DATA_SOURCE_FILE, {**source, "given_as": "--data" if data is not None else "spec"})


def _config_text(compiled) -> str:
    from spinlock_spec.api import spec_label
    from spinlock_spec.config import dump_resolved

    source = spec_label(compiled)
    return (f"# spec: {source}\n" if source else "") + dump_resolved(compiled.spec)


def record_data_source(run, data) -> None:
    """A resume on another file (``--data``): the run's data source is now that file."""
    from spinlock_spec.runs.guard import data_fingerprint

    run.write_json(DATA_SOURCE_FILE, {**data_fingerprint(data), "given_as": "--data"})


def spec_changes(folder: Path, compiled) -> list[Any]:
    """The changes between a run folder's config.yaml and ``compiled`` (diff entries)."""
    from spinlock_spec.api import compile_spec
    from spinlock_spec.compile import diff_specs

    config = folder / CONFIG_FILE
    if not config.is_file():
        return []
    return list(diff_specs(compile_spec(config), compiled).changes)


def architecture_changes(folder: Path, compiled) -> list[str]:
    """The spec changes a checkpoint cannot survive (the diff's ``architecture`` class)."""
    return [f"{c.dotted}: {c.a!r} -> {c.b!r}" for c in spec_changes(folder, compiled)
            if c.impact == "architecture"]


def _resumable(dotted: str) -> bool:
    return any(dotted == k or (k.endswith(".") and dotted.startswith(k)) for k in RESUMABLE_KEYS)


def check_resume(folder: Path, compiled) -> list[dict[str, Any]]:
    """The changes a resume makes (``{"key", "from", "to"}``); CheckpointError when one
    of them is not allowed by the resume rule."""
    changes = spec_changes(folder, compiled)
    arch = [f"{c.dotted}: {c.a!r} -> {c.b!r}" for c in changes if c.impact == "architecture"]
    if arch:
        raise CheckpointError(
            f"--resume {folder}: the run was trained from another spec; these changes make "
            "its checkpoint incompatible:\n  " + "\n  ".join(arch), code="E403",
            hint="resume without a SPEC (the run's config.yaml is used), or start a new run")
    refused = [f"{c.dotted}: {c.a!r} -> {c.b!r}" for c in changes if not _resumable(c.dotted)]
    if refused:
        raise CheckpointError(
            f"--resume {folder}: a resume may change only {', '.join(RESUMABLE_KEYS)}; "
            "refused:\n  " + "\n  ".join(refused), code="E422",
            hint="start a new run (--init-from RUN keeps the weights) to train with other settings")
    return [{"key": c.dotted, "from": c.a, "to": c.b} for c in changes]


def record_resume(run, compiled, epoch: int, changes: list[dict[str, Any]], data_note: str | None) -> None:
    """config.yaml takes the allowed changes; resumes.jsonl gets one line per resume."""
    from spinlock_spec.config import dump_resolved

    if changes:
        header = ""
        try:                        # keep the run's "# spec: FILE" line (runs list shows it)
            first = (run.path / CONFIG_FILE).read_text(encoding="utf-8").split("\n", 1)[0]
            header = first + "\n" if first.startswith("# spec: ") else ""
        except (OSError, UnicodeDecodeError):
            pass
        run.write_text(CONFIG_FILE, header + dump_resolved(compiled.spec))
    run.append_jsonl(RESUMES_FILE, {"after_epoch": int(epoch), "changes": changes, "data": data_note,
                                    "spec_hash": compiled.hash})


def spec_hashes(folder: Path) -> set[str]:
    """The spec hashes the run's config.yaml has had (at the start, after each resume);
    empty when the run recorded none."""
    hashes: set[str] = set()
    try:
        first = json.loads((folder / INITIAL_CATEGORIES_FILE).read_text(encoding="utf-8"))
        if isinstance(first, dict) and isinstance(first.get("spec_hash"), str):
            hashes.add(first["spec_hash"])
        if (folder / RESUMES_FILE).is_file():
            for line in (folder / RESUMES_FILE).read_text(encoding="utf-8").splitlines():
                record = json.loads(line) if line.strip() else {}
                if isinstance(record, dict) and isinstance(record.get("spec_hash"), str):
                    hashes.add(record["spec_hash"])
    except (OSError, UnicodeDecodeError, ValueError):
        return hashes
    return hashes


def check_spec_hash(folder: Path, compiled, meta: dict[str, Any], meta_name: str) -> None:
    """config.yaml and the model file belong to this run (CheckpointError E403 otherwise)."""
    if not (folder / DATA_SOURCE_FILE).is_file():
        return      # a run (or zoo entry) from before the hashes were recorded: spec hashes of
        # older versions may differ for the same spec, so nothing can be compared
    known = spec_hashes(folder)
    if not known:
        return
    if compiled.hash not in known:
        raise CheckpointError(f"{folder / CONFIG_FILE}: does not match the spec this run was trained with "
                              f"(spec hash {compiled.hash[:12]}; the run recorded "
                              f"{', '.join(sorted(h[:12] for h in known))}): was it edited?", code="E403",
                              hint="restore the run's config.yaml; to train another spec start a new run")
    recorded = meta.get("spec_hash")
    if recorded is not None and recorded not in known:
        raise CheckpointError(f"{folder / meta_name}: its spec_hash {str(recorded)[:12]} is not one of this "
                              "run's specs (edited, or a file of another run)", code="E403")


def normalization_sha256(folder) -> str | None:
    """sha256 of ``folder``'s normalization_stats.npz (recorded in every model file's metadata)."""
    path = Path(folder) / NORMALIZATION_FILE if folder is not None else None
    if path is None or not path.is_file():
        return None
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_normalization(folder: Path, meta: dict[str, Any], meta_name: str):
    """The run's fitted preprocessor, from one read of normalization_stats.npz: the bytes are
    parsed (with the preprocessor's own checks first: shapes, finite values), then their sha256
    is compared with the one ``meta`` recorded (runs from before the record have none).  D013
    when it differs: a file of another run has the same shapes but other statistics, and would
    silently change tokens."""
    import hashlib

    from spinlock_spec.data.preprocess import Preprocessor

    path = Path(folder) / NORMALIZATION_FILE
    try:
        data = path.read_bytes()
    except OSError:
        data = None                  # Preprocessor.load names the missing or unreadable file
    pre = Preprocessor.load(path, data)
    recorded = meta.get("normalization_sha256") if isinstance(meta, dict) else None
    if isinstance(recorded, str) and data is not None and hashlib.sha256(data).hexdigest() != recorded:
        raise DataError(f"{path}: is not the file the weights of {meta_name} were trained "
                        "with (sha256 differs: edited, or a file of another run)", code="D013",
                        hint="restore the run's own normalization_stats.npz")
    return pre


def _model_meta(run_dir: Path) -> tuple[dict[str, Any], str]:
    for name in (BEST_MODEL_FILE, FINAL_MODEL_FILE):
        try:
            meta = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(meta, dict):
            return meta, name
    return {}, BEST_MODEL_FILE


def saved_state(run_dir: Path):
    pre = load_normalization(Path(run_dir), *_model_meta(Path(run_dir)))
    try:
        saved = json.loads((run_dir / INITIAL_CATEGORIES_FILE).read_text())
        categories = [[int(i) for i in c] for c in saved["categories"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{run_dir / INITIAL_CATEGORIES_FILE}: unreadable ({exc})", code="E401") from None
    return pre, categories
