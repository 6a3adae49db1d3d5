"""Training speed and quality on the benchmark workloads, through the real API
(``spinlock_spec.train``: compile -> data -> discovery -> trainer), nothing private.

    python benchmarks/train_speed.py                          # workload A, static, 40 epochs, CPU
    python benchmarks/train_speed.py --mode both              # static then learnable, same process
    python benchmarks/train_speed.py --workload B --device cuda --epochs 10 --bf16 --compile
    python benchmarks/train_speed.py --workload B --device cuda --profile   # torch.profiler table

Workload A: synthetic WORKLOADS["A"] (20,000 rows, 120 summary features, 8 groups of
15), B: WORKLOADS["B"] (100,000 rows, 204 features, 12 groups of 17); 90/10 split;
batch 512 (A) / 1024 (B); categories by clustering (auto, 8 resp. 12 categories)
or learned (learnable).

Figures (per mode):
  samples_per_s     training rows per second of pure training time (the epochs'
                    ``train_time_s``: forward, backward, optimizer; validation excluded)
  params            trainable parameters
  quality           1 - val recon MSE after the last epoch (the trainer's final metrics,
                    reconstruction from the token ids)
  util_min          utilization, minimum over every (category, level) codebook (val split)
  t_quality_065     wall seconds (train + per-epoch validation) until an epoch's validation
                    quality (1 - val recon) reached 0.65; and the same in training time only
  epoch_s_median    median per-epoch training time; ``both`` reports learnable / static

Prints a table and writes benchmarks/results/train_speed_<workload>_<device>.json
(``--profile``: ..._profile.json; or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))
from common import BATCH, metadata, print_table, workload_spec, write_json  # noqa: E402

TARGET_QUALITY = 0.65


def _overrides(args) -> list[str]:
    out = [f"training.device={args.device}"]
    if args.bf16:
        out.append("training.precision=bf16")
    if args.compile:
        out += ["training.use_torch_compile=true", f"training.compile_mode={args.compile_mode}"]
    return out


def _n_train(result) -> int:
    """Training rows of a run on a synthetic workload (its val_fraction split off)."""
    ds = result.compiled.spec["dataset"]
    return round(ds["synthetic"]["n_samples"] * (1 - ds["val_fraction"]))


def run_mode(args, mode: str, out_dir: Path) -> dict:
    import spinlock_spec as ss

    overrides = _overrides(args)
    t0 = time.perf_counter()
    result = ss.train(workload_spec(args.workload, mode, args.epochs), overrides=overrides,
                      out=out_dir / f"run-{args.workload}-{mode}", quiet=not args.verbose, progress=False)
    total_s = time.perf_counter() - t0
    hist = result.history
    records = [json.loads(line) for line in
               (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    n_train = _n_train(result)
    train_times = [r["train_time_s"] for r in records]
    quality_curve = [max(0.0, min(1.0, 1.0 - r["val_terms"]["recon"])) for r in records]
    t_wall, t_train, reached = 0.0, 0.0, None
    for r, q in zip(records, quality_curve):
        t_wall += r["time_s"]
        t_train += r["train_time_s"]
        if q >= TARGET_QUALITY:
            reached = {"epoch": r["epoch"], "wall_s": round(t_wall, 3), "train_s": round(t_train, 3)}
            break
    final = hist["final_metrics"]
    utils = {k: v for k, v in final.items() if k.endswith("/utilization")}
    # epochs after the first: steady state (the first holds compilation and k-means init)
    steady = train_times[1:] or train_times
    return {
        "mode": mode, "workload": args.workload, "device": args.device, "epochs": len(records),
        "bf16": args.bf16, "compile": args.compile,
        "compile_mode": args.compile_mode if args.compile else None,
        "samples_per_s": round(n_train * len(steady) / sum(steady), 1),
        "samples_per_s_incl_first_epoch": round(n_train * len(train_times) / sum(train_times), 1),
        "params": sum(p.numel() for p in result.model.parameters() if p.requires_grad),
        "quality": round(final["quality"], 4), "token_quality": round(final.get("token_quality", -1), 4),
        "util_min": round(min(utils.values()), 4) if utils else None,
        "utilization": round(final["utilization"], 4),
        "t_quality_065": reached, "quality_per_epoch": [round(q, 4) for q in quality_curve],
        "epoch_train_s": [round(t, 4) for t in train_times],
        "epoch_s_median": round(statistics.median(steady), 4),
        "total_s": round(total_s, 2),
    }


def profile_mode(args, mode: str, out_dir: Path) -> dict:
    """torch.profiler over a 2-epoch run: top kernels and GPU busy time vs wall time."""
    from torch.profiler import ProfilerActivity, profile

    import spinlock_spec as ss

    overrides = _overrides(args)
    spec = workload_spec(args.workload, mode, 3)
    ss.train(spec, overrides=overrides, out=out_dir / f"warm-{mode}", quiet=True, progress=False)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        result = ss.train(spec, overrides=overrides, out=out_dir / f"prof-{mode}", quiet=True, progress=False)
        wall = time.perf_counter() - t0
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    train_wall = sum(r["train_time_s"] for r in records)
    events = prof.key_averages()
    sort = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
    table = events.table(sort_by=sort, row_limit=18, max_name_column_width=60)
    gpu_us = sum(getattr(e, "self_device_time_total", 0) or 0 for e in events)
    kernels = sum(e.count for e in events if getattr(e, "device_type", None) is not None
                  and str(e.device_type).endswith("CUDA") and (getattr(e, "self_device_time_total", 0) or 0) > 0)
    print(f"--- profile {mode} ({args.workload}, {args.device}) ---")
    print(table)
    # per training step: the GPU's kernel time (validation's kernels included: an upper
    # bound) against the wall time of a step in the steady epochs (2 on; 1 holds compilation)
    steps = -(-_n_train(result) // BATCH[args.workload])
    steady = [r["train_time_s"] for r in records[1:]] or [records[0]["train_time_s"]]
    step_ms = 1e3 * sum(steady) / (len(steady) * steps)
    gpu_ms = gpu_us / 1e3 / (len(records) * steps)
    print(f"steady step {step_ms:.2f} ms; GPU kernel time per step <= {gpu_ms:.2f} ms "
          f"(GPU busy <= {gpu_ms / step_ms:.0%} of a step)")
    return {"mode": mode, "profiled_wall_s": round(wall, 2), "train_time_s": round(train_wall, 3),
            "steady_step_ms": round(step_ms, 3), "gpu_kernel_ms_per_step_upper": round(gpu_ms, 3),
            "gpu_kernel_time_s": round(gpu_us / 1e6, 3), "kernel_launches": int(kernels),
            "gpu_busy_fraction_of_total": round(gpu_us / 1e6 / wall, 3) if wall else None,
            "epochs_profiled": len(records), "table": table}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", choices=["A", "B"], default="A")
    p.add_argument("--mode", choices=["static", "learnable", "both"], default="static")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--bf16", action="store_true", help="training.precision=bf16 (CUDA only)")
    p.add_argument("--compile", action="store_true", help="training.use_torch_compile=true (CUDA only)")
    p.add_argument("--compile-mode", default="auto", help="training.compile_mode with --compile (default auto)")
    p.add_argument("--profile", action="store_true", help="torch.profiler table of a 3-epoch run per mode")
    p.add_argument("--out", type=str, default=None,
                   help="JSON output (default benchmarks/results/train_speed_<workload>_<device>.json)")
    p.add_argument("--runs", type=str, default=None, help="where run folders go (default: a temp folder)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the modes this many times, alternating (static, learnable, static, ...): "
                        "on a shared machine the ratio is then taken over pairs run back to back")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    import tempfile

    import torch

    if args.device == "cpu":
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    modes = ["static", "learnable"] if args.mode == "both" else [args.mode]
    out_dir = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="train_speed-"))
    results = {"benchmark": "train_speed", "meta": metadata(), "workload": args.workload, "device": args.device,
               "epochs": args.epochs, "bf16": args.bf16, "compile": args.compile, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "runs": []}
    if args.device == "cuda":
        results["gpu"] = torch.cuda.get_device_name(0)
    for rep_i in range(max(1, args.repeat)):
        for mode in modes:
            r = profile_mode(args, mode, out_dir / f"r{rep_i}") if args.profile else run_mode(args, mode, out_dir / f"r{rep_i}")
            r["repeat"] = rep_i
            results["runs"].append(r)
            if not args.profile:
                print(f"{mode:9s} {args.workload} {args.device}: {r['samples_per_s']:,.0f} samples/s "
                      f"(incl. epoch 1: {r['samples_per_s_incl_first_epoch']:,.0f}), params {r['params']:,}, "
                      f"quality {r['quality']:.4f} after {r['epochs']} epochs, util min {r['util_min']:.3f}, "
                      f"quality {TARGET_QUALITY} at {r['t_quality_065']}, median epoch {r['epoch_s_median']} s",
                      flush=True)
            else:
                print({k: v for k, v in r.items() if k != "table"}, flush=True)
    if args.mode == "both" and not args.profile:
        runs = results["runs"]
        pairs = [round(lr["epoch_s_median"] / s["epoch_s_median"], 3) for s, lr in zip(runs[::2], runs[1::2])]
        results["learnable_over_static_per_pair"] = pairs
        results["learnable_over_static_epoch_time"] = statistics.median(pairs)
        print(f"learnable / static median epoch training time: {results['learnable_over_static_epoch_time']}"
              + (f" (median of pairs {pairs})" if len(pairs) > 1 else ""))
        if len(pairs) > 1:
            for mode in modes:
                sps = [r["samples_per_s"] for r in runs if r["mode"] == mode]
                results[f"{mode}_samples_per_s_median"] = statistics.median(sps)
                print(f"{mode}: median samples/s over {len(sps)} runs {statistics.median(sps):,.0f} ({sps})")
    if not args.profile:
        print_table(results["runs"], [("mode", "mode"), ("repeat", "run"), ("samples_per_s", "samples/s (epochs 2-)"),
                                      ("epoch_s_median", "median epoch s"), ("quality", "quality"),
                                      ("util_min", "util min"), ("params", "parameters"), ("total_s", "wall s")],
                    title=f"\nworkload {args.workload}, {args.device}, {args.epochs} epochs")
    name = f"train_speed_{args.workload}_{args.device}" + ("_profile" if args.profile else "")
    write_json(results, name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
