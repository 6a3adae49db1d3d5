"""Shared parts of the benchmark entry points: the workloads' specs, the record of where a
figure was measured (commit, machine, torch), the table printer and the JSON writer.

Every entry point writes ``benchmarks/results/<benchmark>.json`` unless given ``--out``;
the JSON holds ``meta`` (see :func:`metadata`) next to the figures.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BATCH = {"A": 512, "B": 1024}


def git_commit(repo: Path = ROOT) -> dict:
    """The checked-out commit of ``repo`` and whether tracked files differ from it."""
    def git(*args):
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(dirty) if dirty is not None else None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def metadata(torch_info: bool = True) -> dict:
    """Commit, machine and library versions of this measurement."""
    meta = {**git_commit(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "host": platform.node(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version()}
    try:
        meta["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    if torch_info:
        import torch

        meta["torch"] = torch.__version__
        meta["threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            meta["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return meta


def workload_spec(workload: str, mode: str, epochs: int, *, batch_size: int | None = None,
                  n_samples: int | None = None) -> dict:
    """The spec of workload ``A`` or ``B`` (synthetic planted groups, 90/10 split), static
    (clustered categories, one per planted group) or learnable."""
    from spinlock_spec.data.synthetic import workload as workload_cfg

    cfg = workload_cfg(workload)
    if n_samples is not None:
        cfg["n_samples"] = n_samples
    return {
        "dataset": {"synthetic": cfg, "val_fraction": 0.1},
        "families": {"summary": {"encoder": "identity"}},
        "training": {"batch_size": batch_size or BATCH[workload], "num_epochs": epochs,
                     "category_assignment": "auto" if mode == "static" else "learnable",
                     "num_categories_auto": cfg["n_groups"]},
        "random_seed": 0,
    }


def read_metrics(run_dir: Path) -> list[dict]:
    """The per-epoch records of a run folder (metrics.jsonl)."""
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line]


def print_table(rows: list[dict], columns: list[tuple[str, str]], title: str | None = None) -> None:
    """A plain-text table: ``columns`` = [(key, header)]; floats get thousands separators."""
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    cells = [[fmt(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(columns)]
    if title:
        print(title)
    print("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))


def write_json(data: dict, name: str, out: str | None = None) -> Path:
    """Write ``data`` to ``out`` or ``benchmarks/results/<name>.json``; prints the path."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
    return path
