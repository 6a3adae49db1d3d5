"""The CUDA training paths: the whole step as one CUDA graph (the default: device, precision
and cuda_graphs auto), torch.compile with CUDA graphs (training.compile_mode auto =
reduce-overhead), bf16 autocast, pruning that reshapes a recorded or compiled model, resume,
and streaming with pinned copies.  Real training runs; skipped where no GPU is present (on
the device machine: ``source benchmarks/device_setup.sh && python -m pytest -q
tests/test_cuda_paths.py``, see benchmarks/README.md)."""
import json

import h5py
import numpy as np
import pytest
import torch

import spinlock_spec as ss
from spinlock_spec.errors import SpecError
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.train.trainer import compile_mode

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SYN = {"n_samples": 8000, "n_groups": 6, "features_per_group": 5, "seed": 0}


def test_compile_mode_auto_resolves_by_process_count():
    # CPU-side: what auto means is decided here, and an explicit mode is kept
    assert compile_mode("auto", distributed=False) == "reduce-overhead"
    assert compile_mode("auto", distributed=True) == "default"
    assert compile_mode("max-autotune", distributed=True) == "max-autotune"


def test_compile_mode_is_validated_with_a_location(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("families: {summary: {encoder: identity}}\n"
                    "training: {use_torch_compile: true, compile_mode: fastest}\n")
    with pytest.raises(SpecError) as err:
        ss.compile_spec(str(spec))
    (e,) = [d for d in err.value.diagnostics if d.severity == "error"]
    assert e.code == "E202" and e.pointer.endswith("compile_mode") and e.line == 2
    assert "reduce-overhead" in e.hint


def test_cuda_graphs_and_precision_settings(tmp_path):
    """CPU-side: the GPU defaults are auto, false and fp32 turn them off, anything else is a
    spec error at its location; on the CPU auto means eager fp32 steps."""
    from spinlock_spec.train.config import TrainingConfig

    auto = TrainingConfig.from_dict({})
    assert (auto.precision, auto.cuda_graphs) == ("auto", "auto")
    off = TrainingConfig.from_dict({"precision": "fp32", "cuda_graphs": False})
    assert (off.precision, off.cuda_graphs) == ("fp32", False)
    spec = tmp_path / "s.yaml"
    spec.write_text("families: {summary: {encoder: identity}}\ntraining: {cuda_graphs: sometimes}\n")
    with pytest.raises(SpecError) as err:
        ss.compile_spec(str(spec))
    (e,) = [d for d in err.value.diagnostics if d.severity == "error"]
    assert e.pointer.endswith("cuda_graphs") and e.line == 2
    if not torch.cuda.is_available():
        small = tmp_path / "small.yaml"
        small.write_text("dataset: {synthetic: {n_samples: 600, n_groups: 2, features_per_group: 3}}\n"
                         "families: {summary: {encoder: identity}}\ntraining: {num_epochs: 1, batch_size: 128}\n")
        res = ss.train(str(small), out=tmp_path / "cpu", quiet=True, progress=False)
        assert res.history["step"] == {"cuda_graphs": False, "captures": 0, "replays": 0, "bf16": False}


def _spec(tmp_path, mode: str, extra: str = "", name: str = "s.yaml"):
    spec = tmp_path / name
    spec.write_text(f"""
dataset: {{synthetic: {json.dumps(SYN)}}}
families: {{summary: {{encoder: identity}}}}
model: {{group_embedding_dim: 8, group_hidden_dim: 32}}
training: {{batch_size: 128, num_epochs: 6, category_assignment: {mode}, device: cuda,
           precision: bf16, use_torch_compile: true}}
{extra}
random_seed: 0
""")
    return str(spec)


@cuda
@pytest.mark.parametrize("mode", ["auto", "learnable"])
def test_cuda_graph_training_matches_eager(tmp_path, mode):
    """The compiled (CUDA graph) step trains to the same quality as eager on the GPU."""
    spec = _spec(tmp_path, mode)
    graphs = ss.train(spec, out=tmp_path / "graphs", quiet=True, progress=False)
    eager = ss.train(spec, overrides=["training.use_torch_compile=false"], out=tmp_path / "eager",
                     quiet=True, progress=False)
    qg, qe = graphs.history["final_metrics"]["quality"], eager.history["final_metrics"]["quality"]
    assert qg > 0.75 and abs(qg - qe) < 0.05, (qg, qe)
    losses = [r["train_loss"] for r in map(json.loads, (graphs.run_dir / "metrics.jsonl").read_text().splitlines())]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


@cuda
def test_cuda_graph_training_resumes(tmp_path):
    spec = _spec(tmp_path, "learnable")
    ss.train(spec, epochs=3, out=tmp_path / "run", quiet=True, progress=False)
    res = ss.train(resume=tmp_path / "run", epochs=6, quiet=True, progress=False)
    epochs = [r["epoch"] for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())]
    assert epochs == [1, 2, 3, 4, 5, 6]
    assert res.history["final_metrics"]["quality"] > 0.75


@cuda
def test_cuda_graph_training_survives_pruning(tmp_path):
    """Merging and pruning categories reshapes the compiled model mid-run (recompiles)."""
    groups = generate_synthetic(dict(SYN), ["summary"]).true_groups["summary"]
    cats = {}
    for g in range(6):
        cols = [int(i) for i, x in enumerate(groups) if x == g]
        cats.update({f"g{g}a": cols[:3], f"g{g}b": cols[3:]} if g < 3 else {f"g{g}": cols})
    (tmp_path / "map9.json").write_text(json.dumps(cats))
    spec = _spec(tmp_path, "learnable", "learnable_assignment: {balance_weight: 0, pruning: {enabled: true, "
                 "min_mass: 0.07, patience: 1}}")
    spec_text = open(spec).read().replace("category_assignment: learnable",
                                           "category_assignment: learnable, category_mapping_file: map9.json")
    open(spec, "w").write(spec_text.replace("num_epochs: 6", "num_epochs: 8"))
    res = ss.train(spec, out=tmp_path / "run", quiet=True, progress=False)
    assert res.model.num_categories < 9
    assert res.history["final_metrics"]["quality"] > 0.75


@cuda
def test_streaming_on_cuda_trains_like_in_memory(tmp_path):
    data = generate_synthetic(dict(SYN, n_samples=40000), ["summary"])
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("features/summary/aggregated/features", data=data.arrays["summary"].astype("f4"),
                         chunks=(1024, data.arrays["summary"].shape[1]))
    spec = _spec(tmp_path, "auto")
    text = open(spec).read().replace(f"dataset: {{synthetic: {json.dumps(SYN)}}}", "dataset: {streaming: true}")
    open(spec, "w").write(text)
    # streamed rows through the whole-step graph (copied into its input buffer), loaded rows compiled
    streamed = ss.train(spec, data=str(path), overrides=["training.use_torch_compile=false"],
                        out=tmp_path / "streamed", quiet=True, progress=False)
    loaded = ss.train(spec, data=str(path), overrides=["dataset.streaming=false"], out=tmp_path / "loaded",
                      quiet=True, progress=False)
    assert streamed.history["step"]["replays"] > 0 and loaded.history["step"]["replays"] == 0
    qs, ql = streamed.history["final_metrics"]["quality"], loaded.history["final_metrics"]["quality"]
    assert qs > 0.75 and abs(qs - ql) < 0.05, (qs, ql)


# --------------------------------------------------------------------------- whole-step CUDA graphs
def _graph_spec(tmp_path, mode: str, extra: str = "", epochs: int = 6):
    """Defaults only: device auto picks CUDA, precision auto bf16, cuda_graphs auto on."""
    spec = tmp_path / f"g-{mode}.yaml"
    spec.write_text(f"""
dataset: {{synthetic: {json.dumps(SYN)}}}
families: {{summary: {{encoder: identity}}}}
model: {{group_embedding_dim: 8, group_hidden_dim: 32}}
training: {{batch_size: 128, num_epochs: {epochs}, category_assignment: {mode}}}
{extra}
random_seed: 0
""")
    return str(spec)


@cuda
@pytest.mark.parametrize("mode", ["auto", "learnable"])
def test_whole_step_graph_is_the_default_and_trains_like_eager(tmp_path, mode):
    spec = _graph_spec(tmp_path, mode)
    graphs = ss.train(spec, out=tmp_path / "graphs", quiet=True, progress=False)
    eager = ss.train(spec, overrides=["training.cuda_graphs=false"], out=tmp_path / "eager",
                     quiet=True, progress=False)
    step = graphs.history["step"]
    assert step["cuda_graphs"] and step["bf16"] and not eager.history["step"]["cuda_graphs"]
    # 7,200 training rows / 128: 56 full batches and a short one per epoch, 6 epochs; every
    # step but the first of each graph key (full, short, straight-through phase) replays
    assert step["captures"] >= 2 and step["replays"] >= 6 * 57 - 8
    qg, qe = graphs.history["final_metrics"]["quality"], eager.history["final_metrics"]["quality"]
    assert qg > 0.75 and abs(qg - qe) < 0.03, (qg, qe)


@cuda
def test_graph_step_matches_the_eager_step_numerically():
    """Same model, same data, same learning-rate changes: the replayed graph and eager
    steps give the same parameters (fp32, no dropout), including after an lr change."""
    from spinlock_spec.train.cuda_graph_step import StepRunner

    def make():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).cuda()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
        return net, opt

    data = torch.randn(8, 64, 16, device="cuda")
    target = torch.randn(8, 64, 4, device="cuda")
    params = []
    for graphs in (True, False):
        net, opt = make()

        def step(inputs, net=net, opt=opt):
            loss = ((net(data[inputs["i"]].squeeze(0)) - target[inputs["i"]].squeeze(0)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5, foreach=True)
            opt.step()

        runner = StepRunner(step, graphs=graphs, optimizers_fn=lambda opt=opt: {"m": opt})
        for i in range(8):
            opt.param_groups[0]["lr"] = 1e-2 if i < 4 else 3e-3
            runner.run({"i": torch.tensor([i], device="cuda")})
        assert (runner.captures, runner.replays) == ((1, 7) if graphs else (0, 0))
        assert opt.param_groups[0]["lr"] == 3e-3       # a float again for logs and checkpoints
        params.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    assert torch.allclose(params[0], params[1], rtol=1e-4, atol=1e-6), (params[0] - params[1]).abs().max()


@cuda
def test_graph_step_recaptures_after_pruning_and_resumes(tmp_path):
    groups = generate_synthetic(dict(SYN), ["summary"]).true_groups["summary"]
    cats = {}
    for g in range(6):
        cols = [int(i) for i, x in enumerate(groups) if x == g]
        cats.update({f"g{g}a": cols[:3], f"g{g}b": cols[3:]} if g < 3 else {f"g{g}": cols})
    (tmp_path / "map9.json").write_text(json.dumps(cats))
    spec = _graph_spec(tmp_path, "learnable, category_mapping_file: map9.json",
                       "learnable_assignment: {balance_weight: 0, pruning: {enabled: true, "
                       "min_mass: 0.07, patience: 1}}", epochs=8)
    first = ss.train(spec, epochs=3, out=tmp_path / "run", quiet=True, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    pruned_at = [r["epoch"] for r in records if "num_categories" in r]
    assert pruned_at and min(pruned_at) < 3, pruned_at      # pruned before the last epoch (again later is fine)
    assert first.history["step"]["captures"] >= 3     # full and short batch, again after a prune
    res = ss.train(resume=tmp_path / "run", epochs=8, quiet=True, progress=False)   # the pruned shape
    assert res.model.num_categories == first.model.num_categories < 9
    assert res.history["step"]["captures"] >= 2 and res.history["step"]["replays"] > 0
    assert res.history["final_metrics"]["quality"] > 0.75
