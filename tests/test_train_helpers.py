"""Shared builders for the train-layer tests: small planted data + the REAL model.

Imported by the other tests/test_train_*.py modules (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import numpy as np
import torch

from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, FamilyInput, LearnableCategoricalVQVAE
from spinlock_spec.train.learnable import LearnableVQVAETrainer
from spinlock_spec.train.trainer import VQVAETrainer

N_GROUPS = 3
PER_GROUP = 4
N_FEATURES = N_GROUPS * PER_GROUP
LEVELS = [(8, 2), (4, 2)]
MODEL_CFG = {"group_hidden_dim": 16, "group_embedding_dim": 8, "dropout": 0.1, "topo_samples": 64}


def planted_arrays(n: int = 240, seed: int = 0, with_mlp_family: bool = True) -> dict[str, torch.Tensor]:
    """``summary`` [n, 12]: 3 groups of 4 noisy copies of one latent each (standardized);
    ``architecture`` [n, 5] (encoded by an MLP) driven by the same latents."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, N_GROUPS))
    cols = [z[:, [g]] + 0.3 * rng.standard_normal((n, PER_GROUP)) for g in range(N_GROUPS)]
    summary = np.concatenate(cols, 1)
    summary = (summary - summary.mean(0)) / summary.std(0)
    out = {"summary": torch.from_numpy(summary.astype(np.float32))}
    if with_mlp_family:
        arch = np.tanh(z @ rng.standard_normal((N_GROUPS, 5))) + 0.1 * rng.standard_normal((n, 5))
        arch = (arch - arch.mean(0)) / arch.std(0)
        out["architecture"] = torch.from_numpy(arch.astype(np.float32))
    return out


def split(arrays: dict[str, torch.Tensor], n_val: int = 48):
    return ({k: v[n_val:] for k, v in arrays.items()}, {k: v[:n_val] for k, v in arrays.items()})


def true_labels(with_mlp_family: bool = True) -> list[int]:
    labels = [g for g in range(N_GROUPS) for _ in range(PER_GROUP)]
    return labels + ([-1] * 4 if with_mlp_family else [])


def families(with_mlp_family: bool = True) -> list[FamilyInput]:
    fams = [FamilyInput("summary", "identity", {}, "tabular", (N_FEATURES,))]
    if with_mlp_family:
        fams.append(FamilyInput("architecture", "mlp",
                                {"hidden_dims": [8], "output_dim": 4}, "tabular", (5,)))
    return fams


def planted_categories(with_mlp_family: bool = True) -> list[list[int]]:
    cats = [list(range(g * PER_GROUP, (g + 1) * PER_GROUP)) for g in range(N_GROUPS)]
    if with_mlp_family:
        cats.append(list(range(N_FEATURES, N_FEATURES + 4)))     # embedding columns: own category
    return cats


def build_model(learnable: bool = False, *, seed: int = 0, categories=None, with_mlp_family: bool = True,
                model_cfg: dict | None = None):
    torch.manual_seed(seed)
    cls = LearnableCategoricalVQVAE if learnable else CategoricalHierarchicalVQVAE
    cats = categories if categories is not None else planted_categories(with_mlp_family)
    return cls(families(with_mlp_family), cats, levels=LEVELS, model_cfg={**MODEL_CFG, **(model_cfg or {})})


def training_cfg(**over) -> dict:
    cfg = {"batch_size": 64, "learning_rate": 3e-3, "num_epochs": 4, "optimizer": "adam",
           "scheduler": "cosine", "warmup_epochs": 1, "random_seed": 7,
           "reconstruction_weight": 1.0, "vq_weight": 1.0, "orthogonality_weight": 0.1,
           "informativeness_weight": 0.1, "topo_weight": 0.3, "gradient_clip_norm": 1.0}
    cfg.update(over)
    return cfg


def learnable_cfg(**over) -> dict:
    cfg = {"temperature_start": 1.0, "temperature_end": 0.1, "temperature_schedule": "linear",
           "orthogonality_weight": 0.1, "balance_weight": 0.05, "assignment_lr": 0.001}
    cfg.update(over)
    return cfg


def make_trainer(learnable: bool = False, run_dir=None, *, lines: list | None = None, tcfg=None,
                 lcfg=None, model=None, data=None, **kw):
    data = data if data is not None else planted_arrays()
    train, val = split(data)
    model = model if model is not None else build_model(learnable)
    cls = LearnableVQVAETrainer if learnable else VQVAETrainer
    sink = lines.append if lines is not None else (lambda line: None)
    return cls(model, train, val, tcfg or training_cfg(), (lcfg or learnable_cfg()) if learnable else None,
               run_dir, sink, "cpu", **kw)


def state_snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_helpers_build_real_models():
    static = build_model(False)
    learn = build_model(True)
    assert len(static.feature_names) == len(learn.feature_names) == N_FEATURES + 4
