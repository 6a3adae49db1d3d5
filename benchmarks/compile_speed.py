"""Compile speed: median wall time of the CLI `compile` (a fresh process each time) and of
in-process `compile_file` (after a warm-up) over the examples.

    python benchmarks/compile_speed.py [--repeat N]

Prints a table and writes benchmarks/results/compile_speed.json (or --out).  Targets: CLI <= 0.4 s,
in-process <= 20 ms per spec.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
CLI_TARGET_S = 0.4
INPROC_TARGET_S = 0.020


def cli_times(spec: Path, repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "spinlock_spec", "compile", str(spec)]
    subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)      # warm the file cache
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"compile {spec} failed:\n{proc.stderr.decode()}")
    return out


def inprocess_times(spec: Path, repeat: int) -> list[float]:
    from spinlock_spec.compile import compile_file

    compile_file(spec)   # warm-up: imports, schema, validator
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        compile_file(spec)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/compile_speed.json)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import metadata, write_json
    rows = []
    for spec in EXAMPLES:
        cli = statistics.median(cli_times(spec, args.repeat))
        inproc = statistics.median(inprocess_times(spec, max(args.repeat, 20)))
        rows.append({"spec": spec.name, "cli_median_s": round(cli, 4), "inprocess_median_ms": round(inproc * 1e3, 2)})
    cli_all = statistics.median(r["cli_median_s"] for r in rows)
    inproc_all = statistics.median(r["inprocess_median_ms"] for r in rows)
    print(f"{'spec':40s} {'CLI (s)':>8s} {'in-process (ms)':>16s}")
    for r in rows:
        print(f"{r['spec']:40s} {r['cli_median_s']:8.3f} {r['inprocess_median_ms']:16.2f}")
    print(f"{'median':40s} {cli_all:8.3f} {inproc_all:16.2f}")
    ok_cli, ok_in = cli_all <= CLI_TARGET_S, inproc_all <= INPROC_TARGET_S * 1e3
    print(f"targets: CLI <= {CLI_TARGET_S} s: {'met' if ok_cli else 'MISSED'}; "
          f"in-process <= {INPROC_TARGET_S * 1e3:.0f} ms: {'met' if ok_in else 'MISSED'}")
    result = {"benchmark": "compile_speed", "meta": metadata(torch_info=False), "rows": rows, "cli_median_s": cli_all, "inprocess_median_ms": inproc_all,
              "targets": {"cli_s": CLI_TARGET_S, "inprocess_ms": INPROC_TARGET_S * 1e3},
              "python": sys.version.split()[0], "cpus": os.cpu_count(), "load": os.getloadavg()}
    write_json(result, "compile_speed", args.out)


if __name__ == "__main__":
    main()
