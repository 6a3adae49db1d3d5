"""Variable-length temporal families end to end (issue 6, item 2): the padding mask
reaches the encoders, a sample's embedding, target and tokens do not depend on how
much padding follows it, and the variable-length example trains on generated data
(the embedded generator and an HDF5 file from `spinlock-spec data synth --variable-length`)."""
from __future__ import annotations

import math
import shutil

import h5py
import numpy as np
import pytest
import torch

import spinlock_spec as ss
from spinlock_spec.compile.summary import summary_text
from spinlock_spec.nn.model import FamilyInput, LearnableCategoricalVQVAE

from helpers import ROOT, main_exit_code

EXAMPLE = str(ROOT / "examples" / "learnable_vqvae_variable_length.yaml")
SMALL = ["dataset.synthetic.n_samples=400", "dataset.synthetic.features_per_group=3", "training.batch_size=64"]


_cli = main_exit_code


# --------------------------------------------------------------------------- full model, no training
def _model(t_len: int, encoder: str, params: dict):
    fams = [FamilyInput("summary", "identity", {}, "tabular", (6,)),
            FamilyInput("temporal", encoder, params, "temporal", (t_len, 3))]
    return LearnableCategoricalVQVAE(fams, [[0, 1, 2], [3, 4, 5], list(range(6, 14))], None,
                                     {"group_hidden_dim": 16, "group_embedding_dim": 8})


@pytest.mark.parametrize("encoder,params", [
    ("pyramid_temporal", {"embedding_dim": 8, "hidden_channels": 8, "scales": [1, 2, 4]}),
    ("temporal_cnn", {"embedding_dim": 8, "hidden_channels": 8, "architecture": "resnet1d_2"}),
])
def test_full_model_is_padding_invariant(encoder, params):
    g = torch.Generator().manual_seed(0)
    n = 48
    lengths = torch.randint(5, 21, (n,), generator=g)
    valid = torch.arange(20)[None, :, None] < lengths[:, None, None]
    series = torch.randn(n, 20, 3, generator=g) * valid
    summary = torch.randn(n, 6, generator=g)
    short = {"summary": summary, "temporal": series, "temporal/lengths": lengths}
    padded_series = torch.full((n, 57, 3), 9.0)                      # garbage after each length
    padded_series[:, :20] = torch.where(valid, series, torch.full_like(series, -4.0))
    padded = {"summary": summary, "temporal": padded_series, "temporal/lengths": lengths}

    torch.manual_seed(1)
    a = _model(20, encoder, params)
    a(short)                                                         # initialises the codebooks from data
    b = _model(57, encoder, params)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    with torch.no_grad():
        fa, fb = a.features(short), b.features(padded)
        assert torch.allclose(fa, fb, atol=1e-5), (fa - fb).abs().max()
        ta, tb = a.targets(short)["temporal"], b.targets(padded)["temporal"]
        assert torch.allclose(ta, tb, atol=1e-6)
        assert torch.equal(a.encode(short), b.encode(padded))
        assert torch.allclose(a(short).terms["recon"], b(padded).terms["recon"], atol=1e-5)
        # the mask is what makes it so: without lengths the padded batch encodes differently
        no_mask = {k: v for k, v in padded.items() if k != "temporal/lengths"}
        assert not torch.allclose(b.features(no_mask), fb, atol=1e-3)


# --------------------------------------------------------------------------- training
def test_variable_length_example_compiles_and_shows_it():
    c = ss.compile_spec(EXAMPLE)
    assert c.ok and c.trainer_type == "LearnableVQVAETrainer" and c.diagnostics == []
    assert "temporal  [48, 8] variable length -> pyramid_temporal -> 16 features" in summary_text(c)


def test_variable_length_example_trains_on_embedded_data(tmp_path):
    result = ss.train(EXAMPLE, overrides=SMALL, epochs=1, out=tmp_path / "run", quiet=True, progress=False)
    lengths = ss.prepare_data(result.compiled).train.arrays["temporal/lengths"]
    assert lengths.min() >= 24 and lengths.max() <= 48 and len(np.unique(lengths)) > 10
    history = result.history
    assert len(history["train_loss"]) == 1 and all(map(math.isfinite, history["train_loss"] + history["val_loss"]))
    assert history["trainer_type"] == "LearnableVQVAETrainer" and len(history["temperature"]) == 1
    assert history["final_metrics"]["quality"] > 0.05          # one epoch already beats the mean predictor
    assert (tmp_path / "run" / "final_model.safetensors").is_file()


def test_variable_length_trains_on_synth_hdf5_and_tokens_ignore_padding(tmp_path):
    data = tmp_path / "vl.h5"
    assert _cli(["data", "synth", "--out", str(data), "--n", "400", "--variable-length", "--features-per-group", "3",
                 "--families", "initial,temporal,summary"]) == 0
    result = ss.train(EXAMPLE, data=data, overrides=["training.batch_size=64"], epochs=1,
                      out=tmp_path / "run", quiet=True, progress=False)
    assert all(map(math.isfinite, result.history["train_loss"]))
    run = ss.load_run(result.run_dir)
    tokens = ss.encode(run, data)["tokens"]
    # the same rows padded to 61 steps with garbage after each length: the same tokens
    wide = tmp_path / "vl_wide.h5"
    shutil.copy(data, wide)
    with h5py.File(wide, "a") as f:
        x = f["features/temporal/features"][...]
        lengths = f["features/temporal/lengths"][...]
        del f["features/temporal/features"]
        y = np.full((x.shape[0], 61, x.shape[2]), 50.0, np.float32)
        y[:, :x.shape[1]] = x
        y[np.arange(61)[None, :] >= lengths[:, None]] = 50.0
        f["features/temporal/features"] = y
    assert np.array_equal(ss.encode(run, wide)["tokens"], tokens)
    # and the lengths are what matters: claiming full length changes the tokens
    with h5py.File(wide, "a") as f:
        f["features/temporal/lengths"][...] = np.full_like(lengths, 61)
    assert not np.array_equal(ss.encode(run, wide)["tokens"], tokens)
