"""Workload A on CPU, two commits against each other in one invocation: the speed check of a
change that should not change speed (issue 14: "within 5 % of before").

    python benchmarks/compare_commits.py --before 24d68ef --after HEAD
    python benchmarks/compare_commits.py --before 24d68ef --after HEAD --pairs 6 --epochs 40 --threads 2
    python benchmarks/compare_commits.py --before 24d68ef --after . --pairs 1 --epochs 2   # smoke

Each commit is checked out into a temporary ``git worktree`` (``--after .`` uses this
working tree as it is, uncommitted changes included) and trained by its own
``spinlock-spec train`` (a fresh process per run, the commit's package first on the path).
Runs alternate: for each pair and mode, before and after back to back, the order flipping
every pair (ABBA), so that a machine whose speed drifts (other jobs, a noisy shared box)
affects both sides alike. The figure per run is the median training time of epochs 2-
(metrics.jsonl ``train_time_s``: forward, backward, optimizer; validation and start-up
excluded); the ratio per pair is after / before, and the result per mode is the median over
pairs. A time ratio <= 1.05 passes (at most 5 % slower).

``--measure cpu`` is for a machine that other jobs share: wall time per epoch under
contention varies several-fold from run to run (OpenMP threads spin while they wait for a
core), so each side is instead run single-threaded twice, for 1 epoch and for ``--epochs``
epochs, and the figure is the difference of the two processes' CPU time (user + system)
divided by the extra epochs: the compute an epoch costs, start-up cancelled out.

Writes benchmarks/results/compare_commits.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, metadata, print_table, read_metrics, workload_spec, write_json  # noqa: E402

TOLERANCE = 1.05
# run the tree's own CLI, making sure its package (not an installed one) is the one imported
# (an editable install's import hook is dropped first: it would map the shipped-files subpackages
# such as spinlock_spec._schemas to the installed checkout, giving the old code the new schema)
CHILD = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in "
         "getattr(f, '__module__', '') + getattr(f, '__name__', '')]; "
         "import runpy, spinlock_spec; from pathlib import Path; "
         "tree = Path(sys.argv.pop(1)).resolve(); "
         "assert Path(spinlock_spec.__file__).resolve().parent.parent == tree, spinlock_spec.__file__; "
         "sys.argv[0] = 'spinlock-spec'; runpy.run_module('spinlock_spec', run_name='__main__')")


def _git(*args, cwd=ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def checkout(ref: str, base: Path, label: str) -> tuple[Path, str, bool]:
    """(tree, commit id, is a temporary worktree) for ``ref``; ``.`` = this working tree."""
    if ref == ".":
        return ROOT, _git("rev-parse", "HEAD") + "+worktree", False
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tree = base / label
    _git("worktree", "add", "--detach", str(tree), commit)
    return tree, commit, True


def _train(tree: Path, spec_path: Path, run_dir: Path, args, *, threads: int, epochs: int | None = None
           ) -> tuple[float, float]:
    """Train once in a fresh process: (wall seconds, CPU seconds of that process)."""
    cmd = [sys.executable, "-c", CHILD, str(tree), "train", str(spec_path), "--out", str(run_dir), "--quiet",
           "--set", "training.device=cpu"]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    if args.taskset:
        cmd = ["taskset", "-c", args.taskset, *cmd]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=args.timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"training in {tree} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_once(tree: Path, spec_path: Path, run_dir: Path, args) -> dict:
    if args.measure == "cpu":
        _, cpu_one = _train(tree, spec_path, run_dir, args, threads=1, epochs=1)
        shutil.rmtree(run_dir, ignore_errors=True)
    wall, cpu = _train(tree, spec_path, run_dir, args, threads=1 if args.measure == "cpu" else args.threads)
    records = read_metrics(run_dir)
    train_s = [r["train_time_s"] for r in records]
    steady = train_s[1:] or train_s
    hist = json.loads((run_dir / "training_history.json").read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    figure = (cpu - cpu_one) / max(1, len(records) - 1) if args.measure == "cpu" else statistics.median(steady)
    return {"epoch_s_median": round(figure, 4), "epoch_train_s": [round(t, 4) for t in train_s],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "quality": round(hist["final_metrics"]["quality"], 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="24d68ef", help="commit (default 24d68ef: the last before the redesign)")
    p.add_argument("--after", default="HEAD", help="commit, or . for this working tree (default HEAD)")
    p.add_argument("--modes", default="static,learnable")
    p.add_argument("--pairs", type=int, default=6, help="back-to-back pairs per mode (default 6)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each run (default 2)")
    p.add_argument("--measure", choices=("wall", "cpu"), default="wall",
                   help="wall: median training seconds of epochs 2- (quiet machine); cpu: CPU seconds an "
                        "epoch adds, single-threaded (a machine shared with other jobs)")
    p.add_argument("--taskset", default=None, help="pin each run to these CPUs (taskset -c LIST), e.g. 0,1")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/compare_commits.json)")
    args = p.parse_args(argv)
    if args.measure == "cpu" and args.epochs < 2:
        p.error("--measure cpu needs --epochs 2 or more")
    modes = [m.strip() for m in args.modes.split(",")]
    base = Path(tempfile.mkdtemp(prefix="compare_commits-"))
    trees = []
    try:
        for side, ref in (("before", args.before), ("after", args.after)):
            tree, commit, temporary = checkout(ref, base, side)
            trees.append({"side": side, "ref": ref, "commit": commit, "tree": tree, "temporary": temporary})
        specs = {}
        for mode in modes:
            specs[mode] = base / f"workload-A-{mode}.yaml"
            specs[mode].write_text(json.dumps(workload_spec("A", mode, args.epochs)))     # JSON is YAML
        runs, pairs = [], {m: [] for m in modes}
        for i in range(args.pairs):
            order = trees if i % 2 == 0 else trees[::-1]
            for mode in modes:
                got = {}
                for t in order:
                    r = run_once(t["tree"], specs[mode], base / f"run-{t['side']}-{mode}-{i}", args)
                    r.update(pair=i, mode=mode, side=t["side"], commit=t["commit"])
                    runs.append(r)
                    got[t["side"]] = r
                ratio = got["after"]["epoch_s_median"] / got["before"]["epoch_s_median"]
                pairs[mode].append(round(ratio, 4))
                print(f"pair {i + 1}/{args.pairs} {mode} ({args.measure}): before {got['before']['epoch_s_median']} s/epoch, "
                      f"after {got['after']['epoch_s_median']} s/epoch, after/before {ratio:.3f}", flush=True)
    finally:
        for t in trees:
            if t["temporary"]:
                subprocess.run(["git", "worktree", "remove", "--force", str(t["tree"])], cwd=ROOT, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    summary = []
    for mode in modes:
        side_runs = {s: [r for r in runs if r["mode"] == mode and r["side"] == s] for s in ("before", "after")}
        ratio = statistics.median(pairs[mode])
        summary.append({"mode": mode, "pairs": len(pairs[mode]),
                        "before_epoch_s": statistics.median(r["epoch_s_median"] for r in side_runs["before"]),
                        "after_epoch_s": statistics.median(r["epoch_s_median"] for r in side_runs["after"]),
                        "ratio_median": round(ratio, 4), "ratio_min": min(pairs[mode]), "ratio_max": max(pairs[mode]),
                        "before_quality": side_runs["before"][-1]["quality"],
                        "after_quality": side_runs["after"][-1]["quality"],
                        "verdict": "pass" if ratio <= TOLERANCE else "FAIL"})
    print_table(summary, [("mode", "mode"), ("pairs", "pairs"), ("before_epoch_s", "before s/epoch"),
                          ("after_epoch_s", "after s/epoch"), ("ratio_median", "after/before (median of pairs)"),
                          ("ratio_min", "min"), ("ratio_max", "max"), ("before_quality", "quality before"),
                          ("after_quality", "quality after"), ("verdict", f"<= {TOLERANCE}")],
                title=f"\nworkload A, CPU, {args.epochs} epochs, {args.measure} time, "
                      f"{1 if args.measure == 'cpu' else args.threads} threads: "
                      f"{trees[0]['commit'][:10]} (before) vs {trees[1]['commit'][:10]} (after)")
    write_json({"benchmark": "compare_commits", "meta": metadata(),
                "before": {k: trees[0][k] for k in ("ref", "commit")}, "after": {k: trees[1][k] for k in ("ref", "commit")},
                "epochs": args.epochs, "measure": args.measure,
                "threads": 1 if args.measure == "cpu" else args.threads, "taskset": args.taskset, "tolerance": TOLERANCE,
                "ratio_per_pair": pairs, "summary": summary, "runs": runs}, "compare_commits", args.out)
    return 0 if all(s["verdict"] == "pass" for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
