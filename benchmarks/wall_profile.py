"""Where the wall time of one ``spinlock-spec train`` goes: a stack sampler (issue 18).

cProfile counts CPU in Python frames and slows imports several-fold; a GPU run's wall time
is spent as much in imports, numpy calls, waits for the GPU and file writes. This runs the
command in this process (so ``os._exit`` does not end it early) while a thread records the
main thread's stack every ``--interval`` seconds, then prints the wall seconds per stage:
the outermost frame of ``spinlock_spec`` below the command (one level deeper with
``--depth 2``), the innermost frame of our code, and imports.

    python benchmarks/wall_profile.py --workload B --mode learnable --epochs 10
    python benchmarks/wall_profile.py --spec my.yaml --depth 2 --out /tmp/profile.json

Writes the samples and the tables as JSON (``--out``; default
benchmarks/out/wall_profile.json, git-ignored).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, workload_spec  # noqa: E402

OURS = str(ROOT / "spinlock_spec")


def _frames(frame) -> list[str]:
    """The stack, outermost first, as 'file:function' (our files relative to the package)."""
    out = []
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        if "spinlock_spec" in name:
            name = "spinlock_spec" + name.split("spinlock_spec", 1)[1]
        elif "<frozen importlib" in name:
            name = "<import>"
        out.append(f"{name}:{code.co_name}")
        frame = frame.f_back
    return out[::-1]


class Sampler(threading.Thread):
    def __init__(self, target_ident: int, interval: float):
        super().__init__(daemon=True, name="wall-sampler")
        self.ident_target, self.interval = target_ident, interval
        self.samples: list[tuple[float, list[str]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            frame = sys._current_frames().get(self.ident_target)
            if frame is not None:
                self.samples.append((time.perf_counter() - START, _frames(frame)))
            time.sleep(self.interval)


def stage_of(stack: list[str], depth: int) -> str:
    """The first ``depth`` frames of our package below the click command (the stage)."""
    ours = [f for f in stack if f.startswith("spinlock_spec/") and "/cli/main.py" not in f]
    if not ours:
        return "<outside spinlock_spec: interpreter, click>"
    return " > ".join(ours[:depth])


def summarise(samples, depth: int) -> dict:
    spans = [(t1 - t0, s) for (t0, s), (t1, _) in zip(samples, samples[1:])]
    by_stage, by_leaf, imports = collections.Counter(), collections.Counter(), collections.Counter()
    for dt, stack in spans:
        by_stage[stage_of(stack, depth)] += dt
        ours = [f for f in stack if f.startswith("spinlock_spec/")]
        by_leaf[ours[-1] if ours else "<outside>"] += dt
        if "<import>:_find_and_load" in stack:
            i = stack.index("<import>:_find_and_load")
            caller = stack[i - 1] if i else "?"
            imports[caller] += dt
    top = lambda c: [[k, round(v, 3)] for k, v in c.most_common(25)]  # noqa: E731
    return {"by_stage": top(by_stage), "by_innermost_frame": top(by_leaf), "imports_by_caller": top(imports)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", type=Path, help="a spec file (default: workload --workload)")
    p.add_argument("--workload", default="B")
    p.add_argument("--mode", choices=("static", "learnable"), default="learnable")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--rows", type=int)
    p.add_argument("--interval", type=float, default=0.005)
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "wall_profile.json")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wall-profile-"))
    spec = args.spec
    if spec is None:
        spec = work / "spec.yaml"
        spec.write_text(json.dumps(workload_spec(args.workload, args.mode, args.epochs, n_samples=args.rows)))
    sampler = Sampler(threading.main_thread().ident, args.interval)
    sampler.start()
    from spinlock_spec.cli.main import main as cli_main
    argv = ["train", str(spec), "--out", str(work / "run"), "--quiet"]
    argv += [a for o in args.overrides for a in ("--set", o)]
    try:
        cli_main(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    wall = time.perf_counter() - START
    sampler.stop.set()
    sampler.join()
    summary = summarise(sampler.samples, args.depth)
    print(f"wall {wall:.2f} s (from this script's start; {len(sampler.samples)} samples)")
    for key in ("by_stage", "by_innermost_frame", "imports_by_caller"):
        print(f"\n{key}:")
        for name, secs in summary[key]:
            print(f"  {secs:7.3f}  {name}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"wall_s": wall, "argv": argv, **summary,
                                    "timeline": [[round(t, 4), s[-12:]] for t, s in sampler.samples]}))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
