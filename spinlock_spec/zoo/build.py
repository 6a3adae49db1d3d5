"""Maintain the bundled zoo folder (``zoo/`` at the top of the repository).

    python -m spinlock_spec.zoo.build              # recompute sha256/size of every listed file
                                                   # (and the spec hash of spec-only entries)
    python -m spinlock_spec.zoo.build --sync-examples
        # copy examples/NAME.yaml over the spec of the newest version of each
        # bundled entry that has one, then recompute the index
    python -m spinlock_spec.zoo.build --init SPEC_DIR
        # (re)create the spec-only bundled entries from SPEC_DIR/NAME.yaml

Weights are added by the training script through
:func:`spinlock_spec.zoo.index.add_entry_files`.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from spinlock_spec.zoo.index import _read_index_dict, add_entry_files, rebuild_index

REPO_ROOT = Path(__file__).resolve().parents[2]

_SYNTHETIC = "embedded planted-structure synthetic data (spinlock_spec.data.synthetic)"


def training_data_of(spec_path: Path) -> dict:
    """The ``training_data`` card of a spec, read from its dataset section
    (canonical ``dataset.path``/``dataset.synthetic`` or the original flat
    ``dataset_path``).  Safe YAML only: tags never construct objects."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(spec_path.read_text(encoding="utf-8")) or {}
    dataset = data.get("dataset") or {}
    path = dataset.get("path", data.get("dataset_path"))
    if path:
        return {"description": f"the dataset file {path} (spinlock HDF5 layout or NPZ; not shipped)",
                "source": "file", "dataset_path": str(path)}
    synthetic = dict(dataset.get("synthetic") or {})
    shown = ", ".join(f"{k}={v}" for k, v in synthetic.items()) or "defaults"
    return {"description": f"{_SYNTHETIC} ({shown})", "source": "synthetic", "synthetic": synthetic}

# The bundled entries: card metadata of each (version 1.0.0 is spec-only).
BUNDLED: dict[str, dict] = {
    "learnable_simple_test": {
        "description": "Learnable category assignment, the simple configuration of the learnable-mode "
                       "guide: initial and summary (identity) + temporal (PyramidTemporalEncoder), "
                       "no hybrid INITIAL encoding.",
        "needs_dataset": False,
        "tags": ["learnable", "synthetic"],
    },
    "learnable_vqvae_variable_length": {
        "description": "Learnable assignment on variable-length temporal series (padded at the end; "
                       "the pyramid temporal encoder pools under the padding mask).",
        "needs_dataset": False,
        "tags": ["learnable", "variable-length", "synthetic"],
    },
    "learnable_assignment": {
        "description": "Learnable assignment over every family kind (summary: MLPEncoder, temporal: "
                       "TemporalCNNEncoder, initial and architecture: identity), explicit levels, "
                       "cosine temperature schedule.",
        "needs_dataset": False,
        "tags": ["learnable", "synthetic"],
    },
    "static_baseline": {
        "description": "Static baseline: the families of learnable_simple_test with categories "
                       "discovered once by clustering (category_assignment: auto), VQVAETrainer.",
        "needs_dataset": False,
        "tags": ["static", "synthetic"],
    },
    "production_four_family": {
        "description": "The four-family production configuration in the original spinlock layout "
                       "(initial: initial_hybrid, summary: MLPEncoder, temporal: TemporalCNNEncoder, "
                       "architecture: identity). Spec only; needs your own HDF5 dataset.",
        "needs_dataset": True,
        "tags": ["production", "spinlock-layout"],
    },
}
BUNDLED_VERSION = "1.0.0"
LICENSE = "MIT"


def default_zoo() -> Path:
    return REPO_ROOT / "zoo"


def init_entries(spec_dir: Path, zoo_root: Path) -> list[str]:
    """Create (or refresh the spec of) every bundled entry from ``spec_dir/NAME.yaml``."""
    done = []
    for name, card in BUNDLED.items():
        spec = spec_dir / f"{name}.yaml"
        if not spec.is_file():
            continue
        import tempfile

        # entries name their spec file spec.yaml, whatever the source file is called
        with tempfile.TemporaryDirectory() as tmp:
            renamed = Path(tmp) / "spec.yaml"
            shutil.copyfile(spec, renamed)
            add_entry_files(name, BUNDLED_VERSION, {"spec": renamed}, metrics=None,
                            description=card["description"], training_data=training_data_of(spec),
                            license=LICENSE, needs_dataset=card["needs_dataset"],
                            extra={"tags": card["tags"]}, zoo_root=zoo_root)
        done.append(f"{name}@{BUNDLED_VERSION}")
    return done


def sync_examples(examples: Path, zoo_root: Path, *, force: bool = False) -> list[str]:
    """Copy ``examples/NAME.yaml`` over the spec file of the newest version of
    each entry whose example exists; returns the refs updated.  Entries that
    carry weights are skipped unless ``force`` (their spec must stay the one
    the weights were trained with: add a new version instead)."""
    from spinlock_spec.zoo.names import version_key

    data = _read_index_dict(zoo_root)
    newest: dict[str, dict] = {}
    for entry in data["entries"]:
        if entry["name"] not in newest or version_key(entry["version"]) > version_key(
                newest[entry["name"]]["version"]):
            newest[entry["name"]] = entry
    updated = []
    for name, entry in newest.items():
        example = examples / f"{name}.yaml"
        if not example.is_file():
            continue
        if not force and any(f["role"] == "weights" for f in entry["files"]):
            print(f"skipped {name}@{entry['version']}: it has weights (use --force or a new version)")
            continue
        target = zoo_root / name / entry["version"] / entry["spec"]
        if target.read_bytes() != example.read_bytes():
            shutil.copyfile(example, target)
            updated.append(f"{name}@{entry['version']}")
    return updated


def compiled_hash(spec_path: Path) -> str | None:
    """compile's spec hash of a spec file, or None when the compiler is not
    available or the spec does not compile."""
    try:
        from spinlock_spec.compile.compiled import compile_spec
    except ImportError:
        return None
    try:
        from spinlock_spec.zoo import resolve_spec_ref

        return compile_spec(spec_path, resolve_ref=resolve_spec_ref).hash
    except Exception:        # noqa: BLE001 - a maintainer tool: report, do not stop
        return None


def update_spec_hashes(zoo_root: Path) -> list[str]:
    """Fill ``spec_hash`` of spec-only entries that need no dataset (their
    resolved spec, hence the hash, does not depend on where a dataset lies).
    For entries with weights the recorded hash is kept (it is the one the
    weights were trained with) and a mismatch is reported."""
    from spinlock_spec.zoo.index import parse_index, write_json_atomic

    data = _read_index_dict(zoo_root)
    messages = []
    for entry in data["entries"]:
        if entry["needs_dataset"]:
            continue
        digest = compiled_hash(zoo_root / entry["name"] / entry["version"] / entry["spec"])
        if digest is None or digest == entry["spec_hash"]:
            continue
        ref = f"{entry['name']}@{entry['version']}"
        if any(f["role"] == "weights" for f in entry["files"]):
            if entry["spec_hash"]:
                messages.append(f"warning: {ref}: the spec now compiles to {digest[:12]}, the weights "
                                f"were recorded with {entry['spec_hash'][:12]}")
            continue
        entry["spec_hash"] = digest
        messages.append(f"spec hash of {ref} set to {digest[:12]}")
    import json

    parse_index(json.dumps(data).encode(), str(zoo_root / "index.json"))
    write_json_atomic(zoo_root / "index.json", data)
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spinlock_spec.zoo.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", type=Path, default=default_zoo(), help="zoo folder (default: repo zoo/)")
    parser.add_argument("--init", type=Path, metavar="SPEC_DIR",
                        help="create the bundled spec-only entries from SPEC_DIR/NAME.yaml")
    parser.add_argument("--sync-examples", action="store_true",
                        help="copy examples/NAME.yaml over each entry's spec first")
    parser.add_argument("--force", action="store_true",
                        help="with --sync-examples: also overwrite the spec of entries with weights")
    args = parser.parse_args(argv)
    args.zoo.mkdir(parents=True, exist_ok=True)
    if args.init:
        for ref in init_entries(args.init, args.zoo):
            print(f"entry {ref}")
    if args.sync_examples:
        for ref in sync_examples(REPO_ROOT / "examples", args.zoo, force=args.force):
            print(f"spec of {ref} synced from examples/")
    for ref in rebuild_index(args.zoo):
        print(f"hashes of {ref} updated")
    for message in update_spec_hashes(args.zoo):
        print(message)
    print(f"index: {args.zoo / 'index.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
