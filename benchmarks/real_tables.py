"""Real tables (issue 16): for each table, assignment mode and normalization, train, then
measure the user-scale quality (validation rows, training_history.json), the linear probe
from tokens and raw features (every row, `evaluate`), utilization and time.

Tables shipped with scikit-learn (no download): breast_cancer, wine, digits; any NPZ
with ``summary`` and ``labels`` (e.g. benchmarks/catch22_table.py) as ``NAME=path``.

    python benchmarks/real_tables.py --tables breast_cancer wine digits --modes auto learnable
    python benchmarks/real_tables.py --tables catch22=/tmp/catch22.npz --methods standard auto
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))
from common import metadata, print_table, write_json  # noqa: E402

SKLEARN = ("breast_cancer", "wine", "digits")
METHODS = ("standard", "mad", "yeo-johnson", "quantile", "auto")

SPEC = """families:
  summary:
    encoder: identity
training:
  num_epochs: {epochs}
  batch_size: {batch}
  category_assignment: {mode}
normalization_method: {method}
random_seed: {seed}
"""


def sklearn_table(name: str, folder: Path) -> Path:
    from sklearn import datasets

    from spinlock_spec.data.dataset import Dataset
    from spinlock_spec.data.npz import write_npz

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, np.float32)
    names = [str(n) for n in getattr(bunch, "feature_names", [f"f{j}" for j in range(x.shape[1])])]
    path = folder / f"{name}.npz"
    ds = Dataset({"summary": x}, column_names={"summary": names}, n_samples=len(x))
    write_npz(ds, path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["labels"] = np.asarray(bunch.target)
    np.savez(path, **arrays)
    return path


def run_one(job: dict) -> dict:
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    from spinlock_spec import api
    from spinlock_spec.evaluate import evaluate_run

    spec = SPEC.format(**job)
    out = Path(job["folder"]) / f"{job['table']}-{job['mode']}-{job['method']}-{job['seed']}"
    extra = [f"{k}={v}" for k, v in job.get("overrides", {}).items()]
    t0 = time.perf_counter()
    result = api.train(spec, data=job["data"], out=out, quiet=True, progress=False,
                       overrides=extra, device=job.get("device"))
    seconds = time.perf_counter() - t0
    final = result.history["final_metrics"]
    ev = evaluate_run(api.load_run(out, which="final"), job["data"], "labels")
    probe = ev["probe"]["rows"]
    r2 = [v for fam in final["feature_r2"].values() for v in fam.values() if v is not None]
    return {**{k: job[k] for k in ("table", "mode", "method", "epochs", "batch", "seed")},
            "overrides": job.get("overrides", {}),
            "quality": final["quality"], "quality_clipped": final.get("quality_clipped"),
            "min_feature_r2": min(r2) if r2 else None, "utilization": final["utilization"],
            "ari": final.get("ari"), "time_s": seconds,
            "probe_level0": probe["tokens level 0"]["accuracy"],
            "probe_all": probe["tokens all levels"]["accuracy"],
            "probe_all_f1": probe["tokens all levels"]["macro_f1"],
            "probe_raw": probe["raw features (ceiling)"]["accuracy"],
            "decoded_columns": sum(len(v) for v in final["feature_r2"].values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", nargs="+", default=list(SKLEARN))
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--modes", nargs="+", default=["auto", "learnable"])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="spec override KEY=VALUE for every run")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/real_tables.json)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="real-tables-"))
    tables = {}
    for t in args.tables:
        name, _, path = t.partition("=")
        tables[name] = Path(path) if path else sklearn_table(name, folder)
    overrides = dict(o.split("=", 1) for o in args.overrides)
    jobs = [{"table": name, "data": str(path), "mode": mode, "method": method, "epochs": args.epochs,
             "batch": args.batch, "seed": seed, "folder": str(folder), "overrides": overrides,
             "device": args.device}
            for name, path in tables.items() for mode in args.modes for method in args.methods
            for seed in args.seeds]
    rows = []
    log = Path(args.out or ROOT / "benchmarks" / "out" / "real_tables.json").with_suffix(".jsonl")
    log.parent.mkdir(parents=True, exist_ok=True)
    with Pool(args.jobs, maxtasksperchild=1) as pool:        # one line per finished run, as they finish
        for row in pool.imap(run_one, jobs, chunksize=1):
            rows.append(row)
            with open(log, "a") as fp:
                fp.write(json.dumps(row) + "\n")
    print_table(rows, [("table", "table"), ("mode", "mode"), ("method", "normalization"),
                       ("quality", "quality (user)"), ("quality_clipped", "clipped"),
                       ("min_feature_r2", "min R2"), ("utilization", "util"),
                       ("probe_level0", "probe L0"), ("probe_all", "probe all"),
                       ("probe_raw", "probe raw"), ("time_s", "time s")])
    write_json({"meta": metadata(), "args": vars(args), "rows": rows}, "real_tables", args.out)


if __name__ == "__main__":
    main()
