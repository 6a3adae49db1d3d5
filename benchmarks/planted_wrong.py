"""Learnable assignment from a wrong mapping file (issue 16 item 5): planted data with
``--groups`` x ``--per-group`` summary features, a quarter of them mapped to a wrong
category (fixed RNG); prints per-epoch ARI and which wrongly mapped features were not moved.

    python benchmarks/planted_wrong.py --groups 6 --per-group 12 --set learnable_assignment.orthogonality_weight=0
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    import spinlock_spec as ss
    from spinlock_spec.data.synthetic import generate_synthetic

    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=6)
    ap.add_argument("--per-group", type=int, default=12)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    ds = {"n_samples": args.rows, "n_groups": args.groups, "features_per_group": args.per_group, "seed": 1}
    groups = np.asarray(generate_synthetic(dict(ds), ["summary"]).true_groups["summary"])
    rng = np.random.default_rng(args.seed)
    n = len(groups)
    wrong = rng.choice(n, size=n // 4, replace=False)
    labels = groups.copy()
    labels[wrong] = (groups[wrong] + rng.integers(1, args.groups, size=len(wrong))) % args.groups
    tmp = Path(tempfile.mkdtemp(prefix="planted-"))
    mapping = tmp / "mapping.json"
    mapping.write_text(json.dumps({f"cat{c}": [int(i) for i in np.flatnonzero(labels == c)]
                                   for c in range(args.groups)}))
    spec = (f"dataset: {{synthetic: {{n_samples: {args.rows}, n_groups: {args.groups}, "
            f"features_per_group: {args.per_group}, seed: 1}}}}\n"
            "families: {summary: {encoder: identity}}\n"
            f"training: {{batch_size: 256, num_epochs: {args.epochs}, learning_rate: 0.003, "
            f"category_assignment: learnable, category_mapping_file: {mapping}}}\nrandom_seed: 0\n")
    res = ss.train(spec, out=tmp / "run", quiet=True, progress=False, overrides=args.overrides)
    h = res.history
    cats = json.loads((tmp / "run" / "categories.json").read_text())
    learned = np.full(n, -1)
    for cat in cats["categories"]:
        for feat in cat["features"]:
            learned[feat["index"]] = cat["index"]
    # a feature is fixed when it now shares its category with the majority of its planted group
    fixed = []
    for f in wrong:
        members = np.flatnonzero(groups == groups[f])
        majority = np.bincount(learned[members][learned[members] >= 0]).argmax()
        fixed.append(learned[f] == majority)
    print(f"initial ARI {res.initial_ari:.3f}; ARI per epoch {[round(a, 3) for a in h['assignment_ari']]}")
    print(f"features moved per epoch {h.get('features_moved')}")
    print(f"wrongly mapped: {len(wrong)}, fixed: {int(np.sum(fixed))}; not fixed: "
          f"{[int(f) for f, ok in zip(wrong, fixed) if not ok]}; final ARI {h['final_metrics']['ari']:.3f}, "
          f"quality {h['final_metrics']['quality']:.3f}")


if __name__ == "__main__":
    main()
