"""Training-step time of the nn layer on workload-A shapes (120 features, 8
categories of 15, batch 512), for model-section variants given as JSON.
Rounds are interleaved and the minimum is reported (robust on a shared CPU).

    python benchmarks/nn_step_time.py '{}' '{"group_hidden_dim": 32}' '{"_learnable": true}'

Keys starting with "_" are benchmark options: _learnable, _fused_adam, _credit_mask
(learnable only; default 0.25, the trainer's default).  model.dropout defaults to the
spec's 0.1.  --profile prints a torch.profiler table per variant instead of timings.
--threads=N (default 2); --out=PATH (default benchmarks/results/nn_step_time.json).
Prints a table and writes the JSON.
"""
from __future__ import annotations

import json
import sys
import time

import torch
from common import metadata, print_table, write_json

from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, FamilyInput, LearnableCategoricalVQVAE

WEIGHTS = {"recon": 1.0, "vq": 1.0, "ortho": 0.1, "info": 0.1, "topo": 0.3,
           "assign_orthogonality": 0.1, "assign_balance": 0.05}


def make_step(cfg: dict, batch: int = 512):
    cfg = dict(cfg)
    learnable = cfg.pop("_learnable", False)
    fused = cfg.pop("_fused_adam", False)
    fam = FamilyInput("summary", "identity", {}, "tabular", (120,))
    cats = [list(range(i, 120, 8)) for i in range(8)]
    torch.manual_seed(0)
    credit = cfg.pop("_credit_mask", 0.25)         # the trainer's default masked-credit probability
    cfg.setdefault("dropout", 0.1)                  # the spec's default (model.dropout)
    model = (LearnableCategoricalVQVAE if learnable else CategoricalHierarchicalVQVAE)([fam], cats, None, cfg)
    if learnable:
        model.credit_mask = credit
    opt = torch.optim.Adam(model.parameters(), 1e-3, **({"fused": True} if fused else {"foreach": True}))
    x = torch.randn(batch, 120)

    def step():
        out = model({"summary": x})
        loss = sum(WEIGHTS[k] * v for k, v in out.terms.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return model, step


def profile(variants) -> None:
    """--profile: torch.profiler table (self CPU time) of 20 steps per variant."""
    for v in variants:
        _, step = make_step(json.loads(v))
        for _ in range(5):
            step()
        with torch.profiler.profile() as prof:
            for _ in range(20):
                step()
        print(f"--- profile {v} (20 steps) ---")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=22, max_name_column_width=50))


def main(argv):
    threads = int(next((a.split("=")[1] for a in argv if a.startswith("--threads=")), 2))
    torch.set_num_threads(threads)
    variants = [a for a in argv if not a.startswith("--")] or ["{}"]
    if "--profile" in argv:
        profile(variants)
        return
    runs = {}
    for v in variants:
        model, step = make_step(json.loads(v))
        for _ in range(5):
            step()
        runs[v] = (model, step, [])
    for _ in range(6):
        for _model, step, times in runs.values():
            t0 = time.perf_counter()
            for _ in range(10):
                step()
            times.append((time.perf_counter() - t0) / 10)
    rows = []
    for v, (model, _, times) in runs.items():
        best = min(times)
        rows.append({"variant": v, "threads": threads, "step_ms_min": round(best * 1e3, 2),
                     "step_ms_median": round(sorted(times)[len(times) // 2] * 1e3, 2),
                     "samples_per_s": round(512 / best), "params": sum(p.numel() for p in model.parameters())})
    print_table(rows, [("variant", "variant"), ("step_ms_min", "step ms (min)"), ("step_ms_median", "step ms (median)"),
                       ("samples_per_s", "samples/s"), ("params", "parameters")])
    out = next((a.split("=", 1)[1] for a in argv if a.startswith("--out=")), None)
    write_json({"benchmark": "nn_step_time", "meta": metadata(), "runs": rows}, "nn_step_time", out)


if __name__ == "__main__":
    main(sys.argv[1:])
