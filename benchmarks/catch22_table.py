"""A catch22 table of chaotic dynamical systems, like the held-out table of issue 16
(a proxy: not the same rows).  Needs the optional packages ``dysts`` and
``pycatch22`` (with ``numba`` for speed); not part of the project's dependencies.

For each continuous system of dysts with at least 3 dimensions: one trajectory
(RK45, 25 points per period), cut into ``--windows`` windows of ``--length`` points;
each window is a row of catch24 (catch22 + mean + std) of its first 3 coordinates:
72 features.  Label = the system.  Written as NPZ: ``summary`` [N, 72],
``summary/column_names``, ``labels`` [N] (system index), ``systems`` [S].

    python benchmarks/catch22_table.py --out catch22.npz --jobs 16
"""
from __future__ import annotations

import argparse
import warnings
from multiprocessing import Pool

import numpy as np


def _rows(args) -> tuple[str, np.ndarray | None, list[str]]:
    name, windows, length = args
    warnings.simplefilter("ignore")
    try:
        import dysts.flows as flows
        import pycatch22

        model = getattr(flows, name)()
        traj = model.make_trajectory(windows * length + 500, pts_per_period=25, method="RK45",
                                     rtol=1e-6, atol=1e-8, random_seed=0)
        if traj is None or traj.ndim != 2 or traj.shape[1] < 3 or not np.isfinite(traj).all():
            return name, None, []
        traj = traj[500:]
        rows, names = [], []
        for w in range(windows):
            seg = traj[w * length:(w + 1) * length]
            feats = []
            for dim in range(3):
                out = pycatch22.catch22_all(list(map(float, seg[:, dim])), catch24=True)
                feats += out["values"]
                if not names or len(names) < 72:
                    names += [f"x{dim}_{n}" for n in out["names"]]
            rows.append(feats)
        return name, np.asarray(rows, np.float64), names[:72]
    except Exception:                     # a system that does not integrate: left out
        return name, None, []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--windows", type=int, default=156)
    ap.add_argument("--length", type=int, default=250)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--max-systems", type=int, default=94)
    args = ap.parse_args()
    from dysts.systems import get_attractor_list

    names = get_attractor_list()
    names = names[:: max(1, len(names) // args.max_systems)][: args.max_systems]   # spread, not the first
    with Pool(args.jobs) as pool:
        results = pool.map(_rows, [(n, args.windows, args.length) for n in names], chunksize=1)
    kept = [(n, r, c) for n, r, c in results if r is not None]
    x = np.concatenate([r for _, r, _ in kept]).astype(np.float32)
    labels = np.concatenate([np.full(len(r), i) for i, (_, r, _) in enumerate(kept)])
    np.savez(args.out, summary=x, **{"summary/column_names": np.array(kept[0][2]),
                                     "labels": labels, "systems": np.array([n for n, _, _ in kept])})
    print(f"{args.out}: {x.shape[0]} rows x {x.shape[1]} features, {len(kept)} systems "
          f"({len(names) - len([r for r in results if r[1] is not None])} failed); "
          f"non-finite entries: {int((~np.isfinite(x)).sum())}")


if __name__ == "__main__":
    main()
