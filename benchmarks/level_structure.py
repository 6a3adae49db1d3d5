"""Residual against parallel levels (``model.level_structure``) on short runs, through the
real API (``spinlock_spec.train``), one process, alternating structures.

    python benchmarks/level_structure.py                        # workload A + breast cancer, 6 epochs
    python benchmarks/level_structure.py --tables A --epochs 4 --repeat 2

Tables: ``A`` = synthetic workload A (20,000 x 120, 8 planted groups, batch 512, static
categories by clustering); ``cancer`` = scikit-learn's breast cancer table (569 x 30,
written to a temporary NPZ, batch 64, 3 categories by clustering, 40 epochs by default
since it has 8 batches an epoch).  Both structures use the automatic level sizes (the
same codebooks and latent widths), so only the structure differs.

Figures per run: quality (1 - val recon MSE after the last epoch, from the token ids),
utilization (mean and minimum over the (category, level) codebooks, val split),
samples/s (training time of epochs 2-, validation excluded), parameters.  Writes
benchmarks/results/level_structure.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))
from common import metadata, print_table, workload_spec, write_json  # noqa: E402

STRUCTURES = ("residual", "parallel")
CANCER_ROWS = 569


def cancer_npz(folder: Path) -> Path:
    """scikit-learn's breast cancer features as an NPZ (one identity family)."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    path = folder / "breast_cancer.npz"
    np.savez(path, **{"summary": table.data.astype("float32"),
                      "summary/column_names": np.array([str(n) for n in table.feature_names])})
    return path


def table_spec(table: str, epochs: int) -> dict:
    """The spec of a table (``cancer`` reads the NPZ given to train)."""
    if table == "A":
        return workload_spec("A", "static", epochs)
    spec = {"dataset": {"val_fraction": 0.2}, "families": {"summary": {"encoder": "identity"}},
            "training": {"batch_size": 64, "num_epochs": epochs, "category_assignment": "auto",
                         "num_categories_auto": 3, "min_features_per_category": 3},
            "random_seed": 0}
    return spec


def run(table: str, structure: str, epochs: int, out_dir: Path, data: Path | None) -> dict:
    import spinlock_spec as ss

    spec = table_spec(table, epochs)
    t0 = time.perf_counter()
    result = ss.train(spec, overrides=["training.device=cpu", f"model.level_structure={structure}"],
                      data=str(data) if data is not None else None,
                      out=out_dir / f"{table}-{structure}", quiet=True, progress=False)
    wall = time.perf_counter() - t0
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines() if line]
    ds = result.compiled.spec["dataset"]
    n_rows = ds["synthetic"]["n_samples"] if data is None else CANCER_ROWS
    n_train = round(n_rows * (1 - ds["val_fraction"]))
    steady = [r["train_time_s"] for r in records][1:] or [records[0]["train_time_s"]]
    final = result.history["final_metrics"]
    utils = [v for k, v in final.items() if k.endswith("/utilization")]
    return {"table": table, "structure": structure, "epochs": len(records),
            "quality": round(final["quality"], 4), "utilization": round(final["utilization"], 4),
            "util_min": round(min(utils), 4) if utils else None,
            "samples_per_s": round(n_train * len(steady) / sum(steady), 1),
            "params": sum(p.numel() for p in result.model.parameters() if p.requires_grad),
            "wall_s": round(wall, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", default="A,cancer", help="comma list of A, cancer")
    p.add_argument("--epochs", type=int, default=6, help="epochs on workload A")
    p.add_argument("--cancer-epochs", type=int, default=40, help="epochs on the breast cancer table")
    p.add_argument("--repeat", type=int, default=1, help="alternating residual/parallel pairs per table")
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/level_structure.json)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    folder = Path(tempfile.mkdtemp(prefix="level_structure-"))
    rows = []
    for table in [t.strip() for t in args.tables.split(",") if t.strip()]:
        data = cancer_npz(folder) if table == "cancer" else None
        epochs = args.cancer_epochs if table == "cancer" else args.epochs
        for rep in range(max(1, args.repeat)):
            for structure in STRUCTURES:
                r = run(table, structure, epochs, folder / f"r{rep}", data)
                r["repeat"] = rep
                rows.append(r)
                print(r, flush=True)
    summary = {}
    for table in {r["table"] for r in rows}:
        for structure in STRUCTURES:
            sel = [r for r in rows if r["table"] == table and r["structure"] == structure]
            summary[f"{table}/{structure}"] = {k: statistics.median(r[k] for r in sel)
                                               for k in ("quality", "utilization", "util_min", "samples_per_s")}
    print_table(rows, [("table", "table"), ("structure", "structure"), ("repeat", "run"), ("epochs", "epochs"),
                       ("quality", "quality"), ("utilization", "util mean"), ("util_min", "util min"),
                       ("samples_per_s", "samples/s"), ("params", "parameters"), ("wall_s", "wall s")],
                title="\nresidual vs parallel levels (CPU)")
    write_json({"benchmark": "level_structure", "meta": metadata(), "threads": torch.get_num_threads(),
                "runs": rows, "median": summary}, "level_structure", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
