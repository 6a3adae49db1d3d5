"""Resident memory of a CUDA process, stage by stage (diagnostic for issue 7's streaming
memory): after importing torch and spinlock_spec, creating the CUDA context, the first
fp32 and bf16 matmuls, and one training step of a small model; each stage reports
VmRSS / RssAnon / RssFile (MB) and the smaps mappings that grew most.

    python benchmarks/rss_stages.py [--out JSON] [--trim]      # needs a GPU

Prints a table and writes benchmarks/results/rss_stages.json (or --out).

``--trim``: after each stage, glibc's malloc_trim(0) returns the free pages of the C
heap to the system, and the stage also reports VmRSS after it (``trimmed_mb``): what
the stage left resident versus what it only left free in the heap.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import metadata, print_table, write_json  # noqa: E402
from streaming import _smaps_by_mapping, _smaps_growth, _status  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--trim", action="store_true")
    a = p.parse_args()
    libc = None
    if a.trim:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
    stages, prev = [], _smaps_by_mapping()

    def mark(name):
        nonlocal prev
        now = _smaps_by_mapping()
        top = _smaps_growth(prev, now, top=5)
        prev = now
        st = {k: round(v) for k, v in _status().items()}
        if libc is not None:
            libc.malloc_trim(0)
            st["trimmed_mb"] = round(_status()["VmRSS"])
            prev = _smaps_by_mapping()
        stages.append({"stage": name, **st, "grew_mb": top})
        print(name, st, top, flush=True)

    mark("python")
    import torch
    mark("import torch")
    import spinlock_spec  # noqa: F401
    mark("import spinlock_spec")
    torch.zeros(1, device="cuda")
    mark("cuda context")
    x = torch.randn(4096, 512, device="cuda")
    (x @ x.T).sum().item()
    mark("fp32 matmul")
    with torch.autocast("cuda", torch.bfloat16):
        (x @ x.T).float().sum().item()
    mark("bf16 matmul")
    net = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.GELU(), torch.nn.LayerNorm(512),
                              torch.nn.Linear(512, 512)).cuda()
    opt = torch.optim.Adam(net.parameters(), fused=True)
    for _ in range(3):
        with torch.autocast("cuda", torch.bfloat16):
            loss = net(x).float().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0, foreach=True)
        opt.step()
    torch.cuda.synchronize()
    mark("mlp train steps")
    h = torch.randn(4096, 128).pin_memory()
    for _ in range(20):
        h.to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    mark("pinned copies")
    y = torch.randn(4096, 128, device="cuda")
    for op in (torch.sin, torch.exp, torch.log1p, torch.tanh, torch.sigmoid, torch.erf,
               lambda t: t.cumsum(1), lambda t: t.sort(1)[0], lambda t: t.topk(5, 1)[0],
               lambda t: t.argmax(1), lambda t: t.softmax(1), lambda t: t.log_softmax(1),
               lambda t: torch.nn.functional.one_hot(t.argmax(1), 128), lambda t: t.median(1)[0],
               lambda t: torch.zeros(128, device="cuda").index_add_(0, t.argmax(1), t[:, 0]),
               lambda t: t.gather(1, t.argmax(1, keepdim=True)), lambda t: torch.cdist(t[:256], t[:256]),
               lambda t: torch.einsum("bi,bj->ij", t, t), lambda t: t.var(0), lambda t: t.norm(dim=1)):
        op(y)
    torch.cuda.synchronize()
    mark("20 more kinds of op")
    print_table(stages, [("stage", "stage"), ("VmRSS", "VmRSS MB"), ("RssAnon", "anonymous MB"),
                         ("RssFile", "file-backed MB"), ("trimmed_mb", "after malloc_trim MB")])
    write_json({"benchmark": "rss_stages", "meta": metadata(), "trim": a.trim, "stages": stages}, "rss_stages", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
