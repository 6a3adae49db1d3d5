"""train/flat_allreduce.py: gradients as views of one flat buffer, averaged across
processes by one all-reduce (the multi-process step without DDP).  The two-process case
runs real gloo processes on CPU."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import torch

from spinlock_spec.train.flat_allreduce import FlatGradients


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def test_grads_live_in_the_flat_buffer_and_match_autograd():
    x, y = torch.randn(32, 6), torch.randn(32, 3)
    ref, net = _net(), _net()
    ((ref(x) - y) ** 2).mean().backward()
    flat = FlatGradients(net.parameters())
    for _ in range(2):                   # zero() between steps: no accumulation across steps
        flat.zero()
        ((net(x) - y) ** 2).mean().backward()
    buf = flat.buffers[0]
    assert flat.numel == sum(p.numel() for p in net.parameters()) == buf.numel()
    for p, q in zip(net.parameters(), ref.parameters()):
        assert p.grad.data_ptr() >= buf.data_ptr()
        assert p.grad.data_ptr() < buf.data_ptr() + buf.numel() * buf.element_size()
        assert torch.allclose(p.grad, q.grad, atol=1e-6)
    # zero_grad(set_to_none=True) detaches .grad from the buffer; zero() binds it again
    torch.optim.SGD(net.parameters(), lr=0.1).zero_grad(set_to_none=True)
    flat.zero()
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0.0 for p in net.parameters())
    flat.average()                       # one process: nothing to average
    assert float(buf.abs().sum()) == 0.0


WORKER = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist
    from spinlock_spec.train.flat_allreduce import FlatGradients, broadcast_parameters
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(100 + rank)                  # different initial weights on purpose
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    broadcast_parameters(net)                      # rank 0's weights everywhere
    flat = FlatGradients(net.parameters(), dist.get_world_size())
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(64, 6, generator=g), torch.randn(64, 3, generator=g)
    flat.zero()
    ((net(x[rank::2]) - y[rank::2]) ** 2).sum().backward()   # each rank its half of the rows
    flat.average()
    from safetensors.torch import save_file
    tensors = {"grad": flat.buffers[0].clone()}
    tensors.update({f"w{i}": p.detach().clone() for i, p in enumerate(net.parameters())})
    save_file(tensors, sys.argv[1] + f"/rank{rank}.safetensors")
    dist.destroy_process_group()
""")


def test_two_gloo_processes_average_one_flat_buffer_and_exit_cleanly(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                              env=dict(os.environ, RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                       MASTER_PORT=str(port), OMP_NUM_THREADS="1",
                                       PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", "")),
                              stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    from safetensors.torch import load_file
    out = [load_file(tmp_path / f"rank{r}.safetensors") for r in range(2)]
    assert torch.equal(out[0]["grad"], out[1]["grad"])
    assert all(torch.equal(out[0][f"w{i}"], out[1][f"w{i}"]) for i in range(4))
    # the average of the two halves' gradients = the gradient of the whole batch / 2
    torch.manual_seed(100)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(64, 6, generator=g), torch.randn(64, 3, generator=g)
    ((net(x) - y) ** 2).sum().backward()
    whole = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert torch.allclose(out[0]["grad"], whole / 2, atol=1e-5)
