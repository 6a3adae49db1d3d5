"""Parallel levels (model.level_structure: parallel, nn/parallel_levels.py): each level
quantizes its own slot with its own codebook; a spec with levels of latent_dim 32/24/16
compiles to them, trains, encodes and resumes bit-exactly through the real CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import EXAMPLES, SMALL_SET_ARGS, cli
from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, FamilyInput, LearnableCategoricalVQVAE

FAMS = [FamilyInput("summary", "identity", shape=(12,))]
CATS = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
LEVELS = [[16, 8], [8, 6], [4, 4]]
CFG = {"level_structure": "parallel", "dropout": 0.0}


def _planted(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    factors = torch.randn(n, 3, generator=g)
    x = factors.repeat_interleave(4, dim=1) + 0.1 * torch.randn(n, 12, generator=g)
    return {"summary": x}


def test_levels_quantize_their_own_slot_independently():
    torch.manual_seed(0)
    model = CategoricalHierarchicalVQVAE(FAMS, CATS, LEVELS, CFG)
    model.train()
    model(_planted())                                   # data initialisation of the codebooks
    q = model.quantizer
    z = torch.randn(32, 3, 3 * q.dim) * q.dim_mask[None]
    codes = q.quantize(z)[0]
    moved = z.clone()
    moved[:, :, q.dim:2 * q.dim] += 5.0 * q.dim_mask[None, :, q.dim:2 * q.dim]   # only level 1's slot
    codes2 = q.quantize(moved)[0]
    assert torch.equal(codes[..., 0], codes2[..., 0]) and torch.equal(codes[..., 2], codes2[..., 2])
    assert not torch.equal(codes[..., 1], codes2[..., 1])
    # each level's code vectors live in its own latent width (8, 6, 4) of the 8-wide slot
    widths = (q.codebook.abs().sum((0, 2)) > 0).sum(-1)
    assert widths.tolist() == [8, 6, 4]
    assert model.latent_dims == [18, 18, 18]


def test_training_steps_keep_slot_masks_and_use_the_partial_decoders():
    torch.manual_seed(0)
    model = CategoricalHierarchicalVQVAE(FAMS, CATS, LEVELS, CFG)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = _planted()
    first = None
    for _ in range(30):
        out = model(batch)
        loss = out.terms["recon"] + out.terms["vq"] + 0.5 * out.terms["info"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(out.terms["recon"].detach()) if first is None else first
    assert float(out.terms["recon"]) < 0.7 * first
    assert model.partial.inp[2].weight.grad.abs().sum() > 0          # info reaches every level's decoder
    outside = model.quantizer.codebook * (1 - model.quantizer._slot_mask()[:, :, None, :])
    assert float(outside.abs().max()) == 0.0


def test_pruning_a_parallel_learnable_model():
    torch.manual_seed(0)
    model = LearnableCategoricalVQVAE(FAMS, CATS, LEVELS, CFG)
    model.train()
    model(_planted())
    books = model.quantizer.codebook.clone()
    model.prune_categories([0, 2])
    assert torch.equal(model.quantizer.codebook, books[[0, 2]])
    assert model.partial.out[1].weight.shape[0] == 2 and model.partial.inp[0].weight.shape[0] == 2
    out = model(_planted())
    out.terms["info"].backward()
    assert out.codes.shape[1:] == (2, 3)
    rebuilt = LearnableCategoricalVQVAE.from_config(model.export_config())
    rebuilt.load_state_dict(model.state_dict())
    batch = _planted(seed=1)
    assert torch.equal(rebuilt.encode(batch), model.encode(batch))


# --------------------------------------------------------------------------- end to end (CLI)
SPEC = EXAMPLES / "parallel_levels.yaml"


@pytest.mark.slow
def test_32_24_16_spec_trains_encodes_and_resumes_bit_exactly(tmp_path):
    from safetensors.numpy import load_file

    proc = cli("compile", SPEC)
    assert proc.returncode == 0 and "levels    3 parallel: 32x32, 16x24, 8x16" in proc.stdout, proc.stdout
    data = tmp_path / "d.h5"                               # exactly the families and shapes SPEC reads
    proc = cli("data", "synth", "--spec", SPEC, "--out", data, "--n", 600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    full, part = tmp_path / "full", tmp_path / "part"
    args = [SPEC, "--data", data, "--set", "training.batch_size=64", "--set", "training.num_epochs=2",
            "--no-torch-compile"]
    proc = cli("train", *args, "--out", full)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = json.loads((full / "final_model.json").read_text())["model_config"]
    assert saved["model_cfg"]["level_structure"] == "parallel"
    assert cli("train", *args, "--epochs", 1, "--out", part).returncode == 0
    proc = cli("train", "--resume", part, "--data", data, "--epochs", 2, "--no-torch-compile")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    a, b = load_file(full / "final_model.safetensors"), load_file(part / "final_model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("partial.") for k in a)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    tokens = tmp_path / "tokens.npz"
    proc = cli("encode", full, "--data", data, "--out", tokens, "--reconstructions")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(tokens, allow_pickle=False) as npz:
        codes, sizes = npz["tokens"], npz["codebook_sizes"]
        assert codes.shape[0] == 600 and codes.shape[2] == 3 and (sizes[:, :] == [32, 16, 8]).all()
        assert (codes >= 0).all() and (codes < sizes[None]).all()
    # the zoo: pushed to a folder registry, pulled and verified, encodes the same tokens
    registry, cache = tmp_path / "registry", {"SPINLOCK_SPEC_CACHE": str(tmp_path / "cache")}
    proc = cli("zoo", "push", full, "par", "--registry", registry, env=cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = cli("encode", "--model", "zoo:par", "--data", data, "--out", tmp_path / "zoo_tokens.npz",
               env={**cache, "SPINLOCK_SPEC_REGISTRY": str(registry)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(tmp_path / "zoo_tokens.npz", allow_pickle=False) as npz:
        assert np.array_equal(npz["tokens"], codes)
    proc = cli("report", full, "--format", "json")       # encodes the validation split through lookup
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cats = json.loads(proc.stdout)["categories"]
    assert cats and all(len(c["utilization_per_level"]) == 3 and np.isfinite(c["recon_mse"]) and c["recon_mse"] > 0
                        for c in cats), cats


@pytest.mark.slow
def test_learnable_guide_example_trains_with_parallel_levels(tmp_path):
    out = tmp_path / "run"
    proc = cli("train", EXAMPLES / "learnable_simple_test.yaml", *SMALL_SET_ARGS, "--epochs", 1,
               "--set", "model.level_structure=parallel", "--no-torch-compile", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LearnableVQVAETrainer" in proc.stdout
    cfg = json.loads((out / "final_model.json").read_text())["model_config"]
    assert cfg["model_class"] == "LearnableCategoricalVQVAE" and cfg["model_cfg"]["level_structure"] == "parallel"
