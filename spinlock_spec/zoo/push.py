"""``zoo push RUN NAME``: pack a trained run folder into a zoo entry and publish it.

A folder registry (``--registry DIR``) is updated in place: the entry's files are copied into
``DIR/NAME/VERSION/`` and ``DIR/index.json`` is rewritten atomically, under a lock file
(``DIR/.index.lock``) so that two pushes at once both land.  An http(s) registry cannot be
written by this tool: the entry is staged in a local folder (``--out``) together with the
registry's current index plus the new entry, ready to upload (docs/zoo.md).

The entry holds the best weights (safetensors + JSON), the resolved spec (as ``spec.yaml`` and
``config.yaml``), the categories, the normalization statistics, the metrics of those weights and
the sha256 and size of every file.  Published versions are immutable: pushing an existing
NAME@VERSION is refused unless ``force``.  Torch-free.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spinlock_spec.errors import ZooError
from spinlock_spec.runs import names as rn
from spinlock_spec.zoo import names

RUN_FILES = {          # role -> file names in a run folder
    "weights": [rn.weights_file(rn.BEST_STEM)],
    "weights_meta": [rn.BEST_MODEL_FILE],
    "normalization": [rn.NORMALIZATION_FILE],
    "categories": [rn.CATEGORIES_FILE, rn.INITIAL_CATEGORIES_FILE],
    "config": [rn.CONFIG_FILE],
}
METRIC_KEYS = ("quality", "token_quality", "utilization", "ari", "val_loss")


@dataclass
class PushResult:
    entry: object               # the ZooEntry as written
    registry: str               # where the index lives
    staged: Path | None = None  # http(s): the folder to upload


def _run_files(run: Path) -> dict[str, list[Path]]:
    if not run.is_dir():
        raise ZooError(f"{run}: no such run folder", code="Z060")
    files, missing = {}, []
    for role, wanted in RUN_FILES.items():
        files[role] = [run / name for name in wanted]
        missing += [name for name in wanted if not (run / name).is_file()]
    if missing:
        raise ZooError(f"{run}: not a finished run folder (missing {', '.join(missing)})", code="Z060",
                       hint="push a run that `spinlock-spec train` completed")
    return files


def run_metrics(run: Path) -> tuple[dict, str]:
    """The metrics of the run's best weights, and a sentence saying what they were measured on."""
    best = json.loads((run / rn.BEST_MODEL_FILE).read_text())
    try:
        history = json.loads((run / rn.HISTORY_FILE).read_text())
    except (OSError, ValueError):
        history = {}
    final = history.get("final_metrics") or {}
    epochs = history.get("epochs") or []
    best_epoch = best.get("epoch")
    source = dict(best.get("metrics") or {})
    how = f"validation split at epoch {best_epoch} (best_model)"
    if final and epochs and best_epoch == epochs[-1]:       # the best weights are the final ones
        source = {**source, **final}
        how = f"validation split after training (epoch {best_epoch}: best and final weights agree)"
    metrics = {k: round(float(source[k]), 6) for k in METRIC_KEYS
               if isinstance(source.get(k), (int, float)) and source[k] == source[k]}
    return metrics, how


def _entry_arguments(run: Path, name: str, description: str | None) -> dict:
    from spinlock_spec.zoo.build import training_data_of

    best = json.loads((run / rn.BEST_MODEL_FILE).read_text())
    metrics, how = run_metrics(run)
    training_data = training_data_of(run / rn.CONFIG_FILE)
    return {
        "metrics": metrics, "spec_hash": best.get("spec_hash"), "training_data": training_data,
        "needs_dataset": training_data.get("source") == "file", "license": "MIT",
        "description": description or (f"{name}: {best.get('model_class', 'model')} trained by "
                                        f"{best.get('trainer_type', 'spinlock-spec')} (run {run.name})"),
        "extra": {"training": {"run": run.name, "epoch": best.get("epoch"), "metrics_on": how,
                               "trainer_type": best.get("trainer_type"),
                               "torch_version": best.get("torch_version")},
                  "tags": ["pretrained", "pushed"]},
    }


def _exists(root: Path, name: str, version: str) -> bool:
    from spinlock_spec.zoo.index import _read_index_dict

    data = _read_index_dict(root)
    return any(e["name"] == name and names.version_key(e["version"]) == names.version_key(version)
               for e in data["entries"])


def _add(run: Path, name: str, version: str, root: Path, description: str | None, force: bool):
    from spinlock_spec.zoo.index import add_entry_files

    files = _run_files(run)
    if _exists(root, name, version) and not force:
        raise ZooError(f"{name}@{version} is already in the registry {root}", code="Z061",
                       hint="published versions do not change: push a new --version (or --force)")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"                # entries name their spec spec.yaml
        shutil.copyfile(run / rn.CONFIG_FILE, spec)
        return add_entry_files(name, version, {"spec": spec, **files}, zoo_root=root,
                               **_entry_arguments(run, name, description))


def push_run(run, name: str, *, registry: str, version: str = "1.0.0", description: str | None = None,
             out=None, force: bool = False) -> PushResult:
    """Pack run folder ``run`` as zoo entry ``name@version`` into ``registry`` (a folder, or an
    http(s) URL: then staged in ``out`` for upload)."""
    from filelock import FileLock

    names.check_name(name)
    names.check_version(version)
    run = Path(run)
    if str(registry).startswith(("http://", "https://")):
        return _stage_for_http(run, name, version, registry, description, out, force)
    text = str(registry)
    if text.startswith("file://"):
        import urllib.parse
        import urllib.request

        text = urllib.request.url2pathname(urllib.parse.urlsplit(text).path)
    root = Path(text).expanduser()
    if root.suffix == ".json":
        root = root.parent
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".index.lock"), timeout=120):
        entry = _add(run, name, version, root, description, force)
    return PushResult(entry, str(root / "index.json"))


def _stage_for_http(run, name, version, url, description, out, force) -> PushResult:
    """An http(s) registry: fetch its index, add the entry in a local copy, stage the upload."""
    from spinlock_spec.zoo.fetch import open_registry
    from spinlock_spec.zoo.index import parse_index, write_json_atomic

    staged = Path(out) if out is not None else Path("zoo-upload")
    if staged.exists() and any(staged.iterdir()):
        raise ZooError(f"{staged}: the staging folder is not empty", code="Z062",
                       hint="give --out a new or empty folder")
    source = open_registry(url)
    raw = source.read_index()
    parse_index(raw, source.location)                 # the remote index is valid before we add to it
    staged.mkdir(parents=True, exist_ok=True)
    write_json_atomic(staged / "index.json", json.loads(raw))
    entry = _add(run, name, version, staged, description, force)
    return PushResult(entry, source.location, staged)


def upload_instructions(result: PushResult) -> str:
    """What to copy where, for an entry staged for an http(s) registry."""
    e = result.entry
    return (f"Staged {e.ref} in {result.staged}. Upload, in this order:\n"
            f"  1. {result.staged / e.name / e.version}/*  ->  <registry>/{e.name}/{e.version}/\n"
            f"  2. {result.staged / 'index.json'}  ->  <registry>/index.json (replace it last, in one step)\n"
            f"Then check: spinlock-spec zoo pull {e.ref} --registry {result.registry.rsplit('/index.json', 1)[0]}")
