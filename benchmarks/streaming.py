"""Streaming benchmark: a 2,000,000 x 128 HDF5 file (planted groups, written in /tmp
and deleted afterwards) trained for one epoch streamed (dataset.streaming: true) and
loaded (false), each in its own process; peak RSS (ru_maxrss) and training samples/s.

    python benchmarks/streaming.py [--rows 2000000] [--device cuda] [--out JSON]
                                   [--mode both|streamed|in_memory] [--data FILE] [--repeat N]
                                   [--compile [--compile-mode MODE]] [--trace]

Prints a table and writes benchmarks/results/streaming_<device>.json (or --out).
``--data FILE`` reuses (or writes once and keeps) the HDF5 file instead of a
temporary one; ``--mode`` runs one child only (default: both, and their ratio).
``--repeat N`` (for a shared, noisy machine) runs the modes N times, alternating;
each mode then reports its best samples/s and its highest peak RSS, and ``runs``
keeps every run.  ``--trace`` (diagnostic) adds to each child's result the steps of
its resident-memory growth (each rise of 16 MB or more, with the main thread's
innermost frames at that moment) and the mappings of /proc/self/smaps whose
resident size grew most between the baseline and the end of training.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SPEC = """
dataset: {{streaming: {streaming}, val_fraction: 0.05}}
families: {{summary: {{encoder: identity}}}}
training: {{batch_size: 4096, num_epochs: 1, category_assignment: auto, num_categories_auto: 8,
           device: {device}, precision: bf16, use_torch_compile: {compile}, compile_mode: {compile_mode}}}
random_seed: 0
"""


def write_file(path: Path, rows: int, cols: int = 128, groups: int = 8, chunk: int = 100_000) -> None:
    import h5py
    import numpy as np

    rng = np.random.default_rng(0)
    mix = rng.normal(size=(groups * 3, cols)) * (np.arange(groups * 3)[:, None] // 3 == (np.arange(cols) % groups)[None])
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("features/summary/aggregated/features", (rows, cols), "f4", chunks=(8192, cols))
        f["features/summary/aggregated/true_groups"] = np.arange(cols) % groups
        for a in range(0, rows, chunk):
            n = min(chunk, rows - a)
            z = rng.normal(size=(n, groups * 3))
            ds[a:a + n] = (np.tanh(z @ mix) + 0.3 * rng.normal(size=(n, cols))).astype("f4")


def child(spec_path: str, data: str, trace: bool = False) -> None:
    import spinlock_spec as ss
    import torch

    if "cuda" in Path(spec_path).read_text():
        torch.zeros(1, device="cuda")            # CUDA context: part of the baseline below
    base = _rss_mb()
    base_maps = _smaps_by_mapping() if trace else None
    sampler = _PeakSampler(trace=trace)
    with tempfile.TemporaryDirectory(prefix="stream-run-") as run:
        try:
            res = ss.train(spec_path, data=data, out=run, quiet=True, progress=False)
        finally:
            sampler.stop()
        rec = json.loads((res.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    n = res.history["final_metrics"].get("n_samples")
    print(json.dumps({"train_time_s": rec["train_time_s"], "quality": res.history["final_metrics"]["quality"],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "baseline_rss_mb": base, "val_rows": n, "sampled": sampler.peaks,
                      **({"growth": sampler.growth, "smaps_growth_mb": _smaps_growth(base_maps)}
                         if trace else {})}))


class _PeakSampler:
    """Every 20 ms: VmRSS split into anonymous and file-backed pages (RssAnon, RssFile:
    library code such as cuBLAS kernels is file-backed), and the peak VmRSS before the
    trainer's fit() (data preparation, category discovery, model build) and during it.
    A diagnostic beside ru_maxrss, which is the figure of record."""

    def __init__(self, period: float = 0.02, trace: bool = False):
        import threading

        self.peaks = {"prepare_mb": 0.0, "train_mb": 0.0, "anon_mb": 0.0, "file_mb": 0.0}
        self.trace, self.growth, self._last = trace, [], 0.0
        self._main = threading.get_ident()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self._thread.start()

    def _in_fit(self) -> bool:
        frame = sys._current_frames().get(self._main)
        while frame is not None:
            if frame.f_code.co_name == "fit" and frame.f_code.co_filename.endswith("trainer.py"):
                return True
            frame = frame.f_back
        return False

    def _run(self, period: float) -> None:
        while not self._done.wait(period):
            st = _status()
            rss = st.get("VmRSS", 0.0)
            phase = "train_mb" if self._in_fit() else "prepare_mb"
            for key, value in ((phase, rss), ("anon_mb", st.get("RssAnon", 0.0)),
                               ("file_mb", st.get("RssFile", 0.0))):
                self.peaks[key] = max(self.peaks[key], value)
            if self.trace and rss >= self._last + 16:
                self._last = rss
                self.growth.append({"rss_mb": round(rss), "anon_mb": round(st.get("RssAnon", 0.0)),
                                    "file_mb": round(st.get("RssFile", 0.0)), "where": self._where()})

    def _where(self, depth: int = 5) -> list[str]:
        """The main thread's innermost frames, and its innermost spinlock_spec frame."""
        frame, out, ours = sys._current_frames().get(self._main), [], None
        while frame is not None:
            name = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
            if len(out) < depth:
                out.append(name)
            if ours is None and "spinlock_spec" in frame.f_code.co_filename:
                ours = name
            frame = frame.f_back
        return out + ([f"[ours] {ours}"] if ours and ours not in out else [])

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _status() -> dict:
    out = {}
    for line in open("/proc/self/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(rest.split()[0]) / 1024
    return out


def _smaps_by_mapping() -> dict:
    """Resident MB per mapping name of /proc/self/smaps (anonymous ones: "[anon]")."""
    out, name = {}, None
    for line in open("/proc/self/smaps"):
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else "[anon]"
        elif head[0] == "Rss:":
            out[name] = out.get(name, 0.0) + int(head[1]) / 1024
    return out


def _smaps_growth(base: dict, now: dict | None = None, top: int = 12) -> dict:
    """The ``top`` mappings whose resident MB changed most from ``base`` to ``now``
    (default: the current smaps)."""
    now = _smaps_by_mapping() if now is None else now
    delta = {k: now.get(k, 0.0) - base.get(k, 0.0) for k in set(now) | set(base)}
    return {k: round(v, 1) for k, v in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:top]}


def _rss_mb() -> float:
    return _status().get("VmRSS", 0.0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/streaming_<device>.json)")
    p.add_argument("--mode", choices=("both", "streamed", "in_memory"), default="both")
    p.add_argument("--data", default=None, help="HDF5 file to reuse (written when missing, kept)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--compile", action="store_true", help="training.use_torch_compile: true")
    p.add_argument("--compile-mode", default="auto", help="training.compile_mode (with --compile)")
    p.add_argument("--trace", action="store_true", help="memory growth steps and smaps deltas")
    p.add_argument("--child", nargs=2, default=None)
    a = p.parse_args()
    if a.child:
        child(*a.child, trace=a.trace)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="streaming-bench-", dir="/tmp"))
    data = Path(a.data) if a.data else tmp / "big.h5"
    modes = {"both": ("true", "false"), "streamed": ("true",), "in_memory": ("false",)}[a.mode]
    try:
        if not data.is_file():
            write_file(data, a.rows)
        import h5py

        with h5py.File(data, "r") as f:
            a.rows = int(f["features/summary/aggregated/features"].shape[0])
        results = {"rows": a.rows, "cols": 128, "file_mb": data.stat().st_size / 2 ** 20, "device": a.device,
                   "compile_mode": a.compile_mode if a.compile else None}
        runs = {"streamed": [], "in_memory": []}
        for _ in range(max(1, a.repeat)):
            for mode in modes:
                spec = tmp / f"spec-{mode}.yaml"
                spec.write_text(SPEC.format(streaming=mode, device=a.device, compile=str(a.compile).lower(),
                                             compile_mode=a.compile_mode))
                out = subprocess.run([sys.executable, __file__, "--child", str(spec), str(data)]
                                     + (["--trace"] if a.trace else []),
                                     capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-3000:])
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r["samples_per_s"] = (a.rows - r["val_rows"]) / r["train_time_s"]
                runs["streamed" if mode == "true" else "in_memory"].append(r)
                print(mode, r, flush=True)
        for name, rs in runs.items():
            if rs:
                best = dict(max(rs, key=lambda r: r["samples_per_s"]))
                best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rs)
                results[name] = best
        if len(modes) == 2:
            results["throughput_ratio"] = (results["streamed"]["samples_per_s"]
                                           / results["in_memory"]["samples_per_s"])
        if a.repeat > 1:
            results["runs"] = runs
        from common import metadata, print_table, write_json

        table = [{"mode": name, **results[name]} for name in ("in_memory", "streamed") if name in results]
        print_table(table, [("mode", "mode"), ("samples_per_s", "training samples/s"), ("peak_rss_mb", "peak RSS MB"),
                            ("baseline_rss_mb", "RSS before training MB"), ("quality", "quality")],
                    title=f"\n{a.rows:,} x 128 HDF5, one epoch, {a.device}")
        if "throughput_ratio" in results:
            print(f"streamed / in memory throughput: {results['throughput_ratio']:.2f}")
        write_json({"benchmark": "streaming", "meta": metadata(), **results}, f"streaming_{a.device}", a.out)
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
