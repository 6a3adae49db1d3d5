"""Maintain the bundled zoo folder (``zoo/`` at the top of the repository).

    python -m spinlock_spec.zoo.build              # recompute sha256/size of every listed file
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

# The bundled entries: card metadata of each (version 1.0.0 is spec-only).
BUNDLED: dict[str, dict] = {
    "learnable_simple_test": {
        "description": "Learnable category assignment on two families (initial: identity, temporal: "
                       "PyramidTemporalEncoder); the seed guide's working test configuration.",
        "training_data": {"description": f"{_SYNTHETIC}, 2000 samples, seed 0",
                          "source": "synthetic", "synthetic": {"n_samples": 2000, "seed": 0}},
        "needs_dataset": False,
        "tags": ["learnable", "synthetic"],
    },
    "learnable_vqvae_variable_length": {
        "description": "learnable_simple_test on variable-length temporal series (padded at the end, "
                       "lengths given to the encoder).",
        "training_data": {"description": f"{_SYNTHETIC}, variable-length series, 2000 samples, seed 0",
                          "source": "synthetic",
                          "synthetic": {"n_samples": 2000, "seed": 0, "variable_length": True}},
        "needs_dataset": False,
        "tags": ["learnable", "variable-length", "synthetic"],
    },
    "learnable_assignment": {
        "description": "Learnable category assignment over summary (identity), temporal "
                       "(TemporalCNNEncoder) and architecture (identity) families.",
        "training_data": {"description": f"{_SYNTHETIC}, 3000 samples, seed 1",
                          "source": "synthetic", "synthetic": {"n_samples": 3000, "seed": 1}},
        "needs_dataset": False,
        "tags": ["learnable", "synthetic"],
    },
    "static_baseline": {
        "description": "Static baseline: categories discovered once by feature clustering "
                       "(category_assignment: auto) over identity families.",
        "training_data": {"description": f"{_SYNTHETIC}, 3000 samples, seed 2",
                          "source": "synthetic", "synthetic": {"n_samples": 3000, "seed": 2}},
        "needs_dataset": False,
        "tags": ["static", "synthetic"],
    },
    "production_four_family": {
        "description": "The four-family production configuration in the original spinlock layout "
                       "(initial: initial_hybrid, summary: MLPEncoder, temporal: TemporalCNNEncoder, "
                       "architecture: identity). Spec only; needs your own HDF5 dataset.",
        "training_data": {"description": "a spinlock-layout HDF5 file of ~100K operators with summary, "
                                         "temporal, architecture and initial features plus inputs/fields "
                                         "(not shipped)",
                          "source": "file", "dataset_path": "datasets/100k_full_features.h5"},
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
                            description=card["description"], training_data=card["training_data"],
                            license=LICENSE, needs_dataset=card["needs_dataset"],
                            extra={"tags": card["tags"]}, zoo_root=zoo_root)
        done.append(f"{name}@{BUNDLED_VERSION}")
    return done


def sync_examples(examples: Path, zoo_root: Path) -> list[str]:
    """Copy ``examples/NAME.yaml`` over the spec file of the newest version of
    each entry whose example exists; returns the refs updated."""
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
        target = zoo_root / name / entry["version"] / entry["spec"]
        if target.read_bytes() != example.read_bytes():
            shutil.copyfile(example, target)
            updated.append(f"{name}@{entry['version']}")
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spinlock_spec.zoo.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", type=Path, default=default_zoo(), help="zoo folder (default: repo zoo/)")
    parser.add_argument("--init", type=Path, metavar="SPEC_DIR",
                        help="create the bundled spec-only entries from SPEC_DIR/NAME.yaml")
    parser.add_argument("--sync-examples", action="store_true",
                        help="copy examples/NAME.yaml over each entry's spec first")
    args = parser.parse_args(argv)
    args.zoo.mkdir(parents=True, exist_ok=True)
    if args.init:
        for ref in init_entries(args.init, args.zoo):
            print(f"entry {ref}")
    if args.sync_examples:
        for ref in sync_examples(REPO_ROOT / "examples", args.zoo):
            print(f"spec of {ref} synced from examples/")
    for ref in rebuild_index(args.zoo):
        print(f"hashes of {ref} updated")
    print(f"index: {args.zoo / 'index.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
