"""Probe of the nn layer on workload A (and the N=5000 / 6-group quality case).

Not a trainer: a minimal loop used to tune the model defaults and to compare
the quantizer with vector-quantize-pytorch.  Reports training samples/s,
parameters, time to quality 0.65, quality and per-(category, level) codebook
utilisation on the validation split.

    python benchmarks/nn_probe.py                  # workload A, 40 epochs
    python benchmarks/nn_probe.py --n 5000 --groups 6 --epochs 40
    python benchmarks/nn_probe.py --mode learnable
    python benchmarks/nn_probe.py --quantizer vqp  # vector-quantize-pytorch (if installed)

Prints a table and writes benchmarks/results/nn_probe.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from common import metadata, print_table, write_json

from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, FamilyInput, LearnableCategoricalVQVAE

WEIGHTS = {"recon": 1.0, "vq": 1.0, "ortho": 0.1, "info": 0.1, "topo": 0.3,
           "assign_orthogonality": 0.1, "assign_balance": 0.05}


def planted(n: int, groups: int, per_group: int = 15, noise: float = 0.3, seed: int = 0):
    """Workload-A-like data: [N, G*per_group] float32 and the true group of each column."""
    try:
        from spinlock_spec.data.synthetic import generate_synthetic, workload
        cfg = workload("A")
        cfg.update(n_samples=n, n_groups=groups, features_per_group=per_group, noise=noise, seed=seed)
        ds = generate_synthetic(cfg, ["summary"])
        return ds.arrays["summary"].astype(np.float32), ds.true_groups["summary"], "data.synthetic"
    except Exception:  # the data layer is not there: a local generator of the same kind
        rng = np.random.default_rng(seed)
        cols, labels = [], []
        for g in range(groups):
            k = int(rng.integers(2, 5))
            z = rng.standard_normal((n, k))
            for _ in range(per_group):
                lin = z @ rng.normal(size=k)
                nl = np.tanh(1.5 * z @ rng.normal(size=k))
                c = lin / lin.std() + 0.6 * nl / nl.std()
                c = (c - c.mean()) / c.std() + noise * rng.standard_normal(n)
                cols.append(c * 10 ** rng.uniform(-1, 1.5) + rng.uniform(-50, 50))
                labels.append(g)
        x = np.stack(cols, 1).astype(np.float32)
        perm = rng.permutation(x.shape[1])
        return x[:, perm], np.asarray(labels)[perm], "local"


def utilization(codes: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """[K, L] fraction of each codebook used by codes [N, K, L]."""
    codes, sizes = codes.cpu(), sizes.cpu()
    k, levels = sizes.shape
    used = torch.zeros(k, levels)
    for c in range(k):
        for lv in range(levels):
            used[c, lv] = codes[:, c, lv].unique().numel() / float(sizes[c, lv])
    return used


def evaluate(model, xv: torch.Tensor, chunk: int = 4096):
    model.eval()
    with torch.no_grad():
        codes = torch.cat([model.encode({"summary": xv[i:i + chunk]}) for i in range(0, len(xv), chunk)])
        rec = torch.cat([model.decode_codes(codes[i:i + chunk])["summary"] for i in range(0, len(xv), chunk)])
    model.train()
    quality = max(0.0, 1.0 - float(((rec - xv) ** 2).mean()))
    return quality, utilization(codes, model.codebook_sizes)


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, groups, source = planted(args.n, args.groups, seed=args.seed)
    n_val = int(round(0.1 * len(x)))
    perm = np.random.default_rng(args.seed).permutation(len(x))
    tr, va = x[perm[n_val:]], x[perm[:n_val]]
    mu, sd = tr.mean(0), tr.std(0) + 1e-8                          # fitted on the training split only
    dev = torch.device(args.device)
    xt, xv = torch.from_numpy((tr - mu) / sd).to(dev), torch.from_numpy((va - mu) / sd).to(dev)
    init_groups = groups.copy()
    if args.wrong > 0:                                              # a mapping with a share of wrong features
        rng = np.random.default_rng(args.seed + 1)
        moved = rng.choice(len(groups), int(round(args.wrong * len(groups))), replace=False)
        init_groups[moved] = (groups[moved] + rng.integers(1, args.groups, len(moved))) % args.groups
    cats = [np.flatnonzero(init_groups == g).tolist() for g in range(args.groups)]
    fam = FamilyInput("summary", "identity", {}, "tabular", (x.shape[1],))
    cfg = json.loads(args.model_cfg) if args.model_cfg else {}
    cls = LearnableCategoricalVQVAE if args.mode == "learnable" else CategoricalHierarchicalVQVAE
    levels = json.loads(args.levels) if args.levels else None
    model = cls([fam], cats, levels, cfg).to(dev)
    if args.quantizer == "vqp":
        import sys
        import os
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from vqp_adapter import use_vector_quantize_pytorch  # benchmarks/vqp_adapter.py
        use_vector_quantize_pytorch(model)
    params = sum(p.numel() for p in model.parameters())
    groups_opt = [{"params": model.model_parameters(), "lr": args.lr}]
    if model.assignment_parameters():
        groups_opt.append({"params": model.assignment_parameters(), "lr": args.assign_lr})
    opt = torch.optim.Adam(groups_opt)
    bs = args.batch_size
    train_time, t_065, history = 0.0, None, []
    steps_per_epoch = len(xt) // bs
    eval_every = max(1, steps_per_epoch // 4)
    for epoch in range(args.epochs):
        if args.mode == "learnable":
            from spinlock_spec.nn.schedules import temperature_at
            model.temperature = temperature_at(epoch, args.epochs, 1.0, 0.1, "linear")
        order = torch.randperm(len(xt), device=dev)
        for step in range(steps_per_epoch):
            t0 = time.perf_counter()
            out = model({"summary": xt[order[step * bs:(step + 1) * bs]]})
            loss = sum(WEIGHTS[k] * v for k, v in out.terms.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(model.model_parameters(), args.clip)
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            train_time += time.perf_counter() - t0
            if t_065 is None and (step % eval_every == 0 or epoch < 2):
                q, _ = evaluate(model, xv)
                if q >= 0.65:
                    t_065 = train_time
        q, util = evaluate(model, xv)
        history.append({"epoch": epoch + 1, "quality": round(q, 4), "util_min": round(float(util.min()), 3),
                        "time": round(train_time, 2), "terms": {k: round(float(v.detach()), 4) for k, v in out.terms.items()}})
        if args.verbose:
            print(json.dumps(history[-1]), flush=True)
    q, util = evaluate(model, xv)
    samples = args.epochs * steps_per_epoch * bs
    ari = None
    if args.mode == "learnable":
        from sklearn.metrics import adjusted_rand_score
        ari = {"initial": round(adjusted_rand_score(groups, init_groups), 3),
               "final": round(adjusted_rand_score(groups, model.hard_assignment().cpu().numpy()), 3)}
    return {"tag": args.tag, "ari": ari, "source": source, "n": args.n, "groups": args.groups, "mode": args.mode, "quantizer": args.quantizer,
            "params": params, "samples_per_s": round(samples / train_time), "train_time_s": round(train_time, 1),
            "time_to_0.65_s": None if t_065 is None else round(t_065, 2), "quality": round(q, 4),
            "util_min": round(float(util.min()), 3), "util_mean": round(float(util.mean()), 3),
            "util_per_level_min": [round(float(v), 3) for v in util.min(0).values],
            "codebook_sizes": model.codebook_sizes[0].tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wrong", type=float, default=0.0, help="share of features put in a wrong initial category")
    ap.add_argument("--clip", type=float, default=0.0, help="gradient clip norm (0 = none)")
    ap.add_argument("--assign-lr", type=float, default=1e-2)
    ap.add_argument("--mode", choices=["static", "learnable"], default="static")
    ap.add_argument("--quantizer", choices=["own", "vqp"], default="own")
    ap.add_argument("--model-cfg", default="", help="JSON overrides of the model section")
    ap.add_argument("--levels", default="", help='JSON [[num_tokens, latent_dim], ...] for every category')
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tag", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/nn_probe.json)")
    args = ap.parse_args()
    result = run(args)
    print_table([result], [("mode", "mode"), ("quantizer", "quantizer"), ("n", "rows"), ("params", "parameters"),
                           ("samples_per_s", "samples/s"), ("time_to_0.65_s", "s to 0.65"), ("quality", "quality"),
                           ("util_min", "util min")])
    write_json({"benchmark": "nn_probe", "meta": metadata(), **result}, "nn_probe", args.out)


if __name__ == "__main__":
    main()
