#!/usr/bin/env python
"""Train the pretrained weights of the bundled zoo and register them in ``zoo/``.

Anyone can rerun this to reproduce (or refresh, after a model change) the weights:

    python scripts/train_zoo_weights.py                       # every entry of ENTRIES
    python scripts/train_zoo_weights.py static_baseline       # one entry
    python scripts/train_zoo_weights.py --epochs 20 --work /tmp/zoo-train --zoo-root zoo

For each entry the entry's own ``spec.yaml`` (from the zoo folder, so the weights
always belong to the spec that is shipped) is trained for a fixed number of epochs
on the embedded synthetic data the spec describes (``dataset.synthetic``, no file,
no network).  Then the *best* weights (lowest validation loss) are loaded back the
way a user loads them (``api.load_run``) and evaluated on the validation split of
that data, normalized with the run's own statistics; those are the metrics
recorded in the index.  The entry folder receives the files of a run folder that
``api.load_run`` / ``encode --model zoo:NAME`` / ``train --init-from zoo:NAME``
need:

    best_model.safetensors + best_model.json   weights + metadata      (roles weights, weights_meta)
    normalization_stats.npz                     normalization           (role normalization)
    categories.json, initial_categories.json    categories              (role categories)
    config.yaml                                 resolved spec           (role config)

and the index records the metrics, the spec hash, the full synthetic-data config
(with its seed), the split and the epochs, so that a test can regenerate the data
and check the metrics (tests/test_zoo_weights.py).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:          # runnable from a source checkout without installing
    sys.path.insert(0, str(REPO))

ENTRIES = ("static_baseline", "learnable_simple_test")
DEFAULT_EPOCHS = 20
MAX_FILE_BYTES = 5 * 1024 * 1024
METRIC_KEYS = ("quality", "utilization", "token_quality", "ari")
SYNTHETIC_DESCRIPTION = "embedded planted-structure synthetic data (spinlock_spec.data.synthetic)"
SCRIPT = "scripts/train_zoo_weights.py"


def _entry_record(zoo_root: Path, name: str, version: str | None) -> dict:
    index = json.loads((zoo_root / "index.json").read_text(encoding="utf-8"))
    from spinlock_spec.zoo import names

    records = [e for e in index["entries"] if e["name"] == name]
    if version is not None:
        records = [e for e in records if names.version_key(e["version"]) == names.version_key(version)]
    if not records:
        raise SystemExit(f"error: {name}{'@' + version if version else ''} is not in {zoo_root}/index.json")
    return max(records, key=lambda e: names.version_key(e["version"]))


def evaluate_best(run_dir: Path) -> tuple[dict, dict]:
    """Metrics of a run folder's best weights on the validation split of its data.

    Returns ``(metrics, info)``; ``info`` says which split and epoch."""
    import torch

    from spinlock_spec import api
    from spinlock_spec.assemble.categories import true_feature_labels
    from spinlock_spec.assemble.families import family_inputs
    from spinlock_spec.nn.layout import feature_layout
    from spinlock_spec.train.metrics import evaluate

    run = api.load_run(run_dir, which="best")
    compiled = run.compiled
    prepared = api.prepare_data(compiled, preprocessor=run.preprocessor)
    slots = feature_layout(family_inputs(compiled.graph, prepared.train))
    labels = true_feature_labels(slots, prepared.train)
    arrays = {k: torch.as_tensor(v) for k, v in prepared.val.arrays.items()}
    full = evaluate(run.model, arrays, batch_size=int(compiled.spec["training"]["batch_size"]),
                    true_labels=labels)
    metrics = {k: round(float(full[k]), 6) for k in METRIC_KEYS if full.get(k) is not None}
    info = {"epoch": run.metadata.get("epoch"), "val_rows": int(prepared.val.n_samples),
            "source": prepared.source}
    return metrics, info


def train_entry(name: str, version: str | None, epochs: int, work: Path, zoo_root: Path) -> dict:
    import torch

    from spinlock_spec import api
    from spinlock_spec.runs import names
    from spinlock_spec.zoo.index import add_entry_files

    record = _entry_record(zoo_root, name, version)
    version = record["version"]
    spec_path = zoo_root / name / version / record["spec"]
    compiled = api.compile_spec(str(spec_path), [f"training.num_epochs={epochs}"])
    api._require_ok(compiled)
    spec = compiled.spec
    if spec["dataset"]["path"] is not None:
        raise SystemExit(f"error: {name}: the spec reads {spec['dataset']['path']}; this script trains "
                         "entries on the embedded synthetic data only")
    out = work / name
    if out.exists():
        shutil.rmtree(out)
    print(f"== {name}@{version}: training {spec_path} for {epochs} epochs -> {out}", flush=True)
    t0 = time.time()
    result = api.train(str(spec_path), epochs=epochs, out=out, quiet=True, progress=False)
    seconds = time.time() - t0
    if result.compiled.hash != compiled.hash:        # the run's config.yaml is what we compiled
        raise SystemExit(f"error: {name}: spec hash changed during training")
    history = result.history
    metrics, info = evaluate_best(out)
    print(f"   {seconds:.0f}s, best epoch {info['epoch']}: " +
          ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()), flush=True)

    files = {
        "weights": out / names.weights_file(names.BEST_STEM),
        "weights_meta": out / names.BEST_MODEL_FILE,
        "normalization": out / names.NORMALIZATION_FILE,
        "categories": [out / names.CATEGORIES_FILE, out / names.INITIAL_CATEGORIES_FILE],
        "config": out / names.CONFIG_FILE,
    }
    for value in files.values():
        for path in (value if isinstance(value, list) else [value]):
            size = path.stat().st_size
            if size >= MAX_FILE_BYTES:
                raise SystemExit(f"error: {path} is {size} bytes; zoo files must stay under 5 MB")

    synthetic = dict(spec["dataset"]["synthetic"])
    shown = ", ".join(f"{k}={v}" for k, v in synthetic.items())
    training_data = {
        "description": f"{SYNTHETIC_DESCRIPTION} ({shown}); validation split: "
                       f"val_fraction={spec['dataset']['val_fraction']}, seed={spec['random_seed']}",
        "source": "synthetic",
        "synthetic": synthetic,
        "max_samples": spec["dataset"]["max_samples"],
        "val_fraction": spec["dataset"]["val_fraction"],
        "split_seed": spec["random_seed"],
    }
    training = {
        "script": SCRIPT,
        "command": f"python {SCRIPT} {name} --epochs {epochs}",
        "epochs": epochs,
        "epochs_trained": len(history.get("train_loss") or []),
        "best_epoch": info["epoch"],
        "weights": "best_model (lowest validation loss)",
        "trainer_type": compiled.trainer_type,
        "random_seed": spec["random_seed"],
        "torch_version": torch.__version__,
        "train_seconds": round(seconds, 1),
        "metrics_on": f"validation split ({info['val_rows']} rows of {info['source']}), normalized with "
                      "normalization_stats.npz; best weights in eval mode",
    }
    tags = [t for t in record.get("tags", []) if t != "pretrained"] + ["pretrained"]
    entry = add_entry_files(
        name, version, files, metrics=metrics, training_data=training_data, spec_hash=compiled.hash,
        extra={"training": training, "tags": tags,
               "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()},
        zoo_root=zoo_root)

    # the registered folder is a loadable run folder and gives the same numbers
    again, _ = evaluate_best(zoo_root / name / version)
    for key, value in metrics.items():
        if abs(again[key] - value) > 1e-6:
            raise SystemExit(f"error: {name}: {key} of the registered entry is {again[key]}, expected {value}")
    print(f"   registered {entry.ref}: " + ", ".join(f"{f.path} ({f.size:,} B)" for f in entry.files),
          flush=True)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="*", default=list(ENTRIES),
                        help=f"entry names, NAME or NAME@VERSION (default: {' '.join(ENTRIES)})")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"fixed number of training epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the run folders go (default: a temporary folder, removed)")
    parser.add_argument("--zoo-root", type=Path, default=REPO / "zoo",
                        help="zoo folder to register into (default: the bundled zoo/)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    from spinlock_spec.logs import configure

    configure(quiet=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="zoo-weights-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for item in args.entries:
            name, _, version = item.partition("@")
            train_entry(name, version or None, args.epochs, work, args.zoo_root.resolve())
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
