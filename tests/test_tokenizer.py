"""ss.Tokenizer as a notebook uses it, against the CLI and the zoo entry's reported metrics;
the ONNX export run by onnxruntime; real signatures on the package's functions."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

import spinlock_spec as ss
from spinlock_spec import api
from spinlock_spec.errors import DataError
from helpers import ROOT as REPO
from test_zoo_support import run_cli

PUBLIC = ["compile_spec", "train", "load_run", "encode", "prepare_data", "build_model"]


def _val_rows(tok: ss.Tokenizer, name: str):
    """The validation rows the zoo entry's metrics were measured on, raw (user units)."""
    entry = next(e for e in json.loads((REPO / "zoo" / "index.json").read_text())["entries"]
                 if e["name"] == name)
    data = entry["training_data"]
    overrides = [f"dataset.synthetic.{k}={json.dumps(v)}" for k, v in data["synthetic"].items()]
    compiled = api.compile_spec(str(tok.path / "config.yaml"), overrides + ["dataset.path=null"])
    _, val = api.load_data(compiled).split(data["val_fraction"], data["split_seed"])
    return val, entry["metrics"]


def _quality(tok: ss.Tokenizer, original: dict, reconstructed: dict) -> float:
    """1 - MSE over every reconstruction target element, on the normalized scale (the
    definition of the reported token_quality), from arrays in the data's units."""
    def targets(arrays):
        batch = {k: torch.as_tensor(v) for k, v in tok.normalize(arrays).items()}
        out = tok.model.targets(batch)
        return torch.cat([out[f.name] for f in tok.model.families], 1)

    return 1.0 - float(((targets(original) - targets(reconstructed)) ** 2).mean())


@pytest.fixture
def static_tokenizer(zoo_cache):
    return ss.Tokenizer.load("zoo:static_baseline")


def test_notebook_encode_matches_cli_and_decode_gives_the_reported_quality(static_tokenizer, tmp_path):
    from spinlock_spec.data.hdf5 import write_hdf5

    tok = static_tokenizer
    val, metrics = _val_rows(tok, "static_baseline")
    data = tmp_path / "val.h5"
    write_hdf5(val, data)
    arrays = {k: np.asarray(v) for k, v in val.arrays.items()}          # what a notebook holds

    tokens = tok.encode(arrays)
    proc = run_cli("encode", "zoo:static_baseline", "--data", str(data), "--out", str(tmp_path / "t.npz"),
                   env={"SPINLOCK_SPEC_CACHE": str(tok.path.parents[1])}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(tokens, np.load(tmp_path / "t.npz")["tokens"])
    np.testing.assert_array_equal(tokens, tok.encode(str(data)))        # a file works too

    assert tokens.shape == (val.n_samples, len(tok.categories), len(tok.levels))
    sizes = np.array([lv["codebook_sizes"] for lv in tok.levels]).T    # [categories, levels]
    assert (tokens < sizes[None]).all() and len({tuple(r) for r in tokens[:, :, 0]}) > 10

    recon = tok.decode(tokens)
    assert {k: v.shape for k, v in recon.items()} == {k: v.shape for k, v in arrays.items()}
    assert _quality(tok, arrays, recon) == pytest.approx(metrics["token_quality"], abs=0.01)
    # coarser decoding (the first level only) reconstructs measurably worse
    assert _quality(tok, arrays, tok.decode(tokens, levels=1)) < metrics["token_quality"] - 0.02


def test_description_and_input_errors(static_tokenizer):
    tok = static_tokenizer
    features = [f for c in tok.categories for f in c["features"]]
    assert sorted(features) == sorted(tok.model.feature_names)            # every feature once
    assert list(tok.families) == ["initial", "temporal", "summary"]
    with pytest.raises(DataError, match="3 families"):
        tok.encode(np.zeros((4, 60)))
    with pytest.raises(DataError, match="tokens have shape"):
        tok.decode(np.zeros((4, 2, 3), np.int64))
    with pytest.raises(DataError, match="outside the codebooks"):
        tok.decode(np.full((1, len(tok.categories), len(tok.levels)), 10_000))


def test_onnx_export_gives_identical_tokens_under_onnxruntime(static_tokenizer, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    tok = static_tokenizer
    val, _ = _val_rows(tok, "static_baseline")
    proc = run_cli("export", "zoo:static_baseline", "--out", str(tmp_path / "m.onnx"), "--format", "json",
                   env={"SPINLOCK_SPEC_CACHE": str(tok.path.parents[1])}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    session = ort.InferenceSession(info["path"], providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(info["inputs"]) == ["initial", "temporal", "summary"]
    arrays = {k: np.asarray(v, np.float64) for k, v in val.arrays.items()}
    arrays["summary"][3, 5] = np.nan                       # a missing value is imputed the same way
    (got,) = session.run(["tokens"], arrays)
    np.testing.assert_array_equal(got, tok.encode(arrays))


@pytest.mark.parametrize("name", PUBLIC)
def test_public_functions_have_the_api_signature_and_a_docstring(name):
    public, real = inspect.signature(getattr(ss, name)), inspect.signature(getattr(api, name))
    assert [(p.name, p.kind, p.default) for p in public.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in real.parameters.values()]
    assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in public.parameters.values())
    assert len(getattr(ss, name).__doc__ or "") > 40


def test_tokenizer_methods_are_documented():
    for attr in ("load", "encode", "decode", "normalize", "categories", "levels", "families"):
        assert len(inspect.getdoc(getattr(ss.Tokenizer, attr)) or "") > 30, attr
    assert "data" in inspect.signature(ss.Tokenizer.encode).parameters
