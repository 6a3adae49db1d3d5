"""Metric definitions on hand-made inputs, the LR schedule and the config views."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spinlock_spec.errors import SpecError
from spinlock_spec.train.config import LearnableConfig, TrainingConfig
from spinlock_spec.train.epoch_log import epoch_text_lines
from spinlock_spec.train.lr_schedule import lr_factor
from spinlock_spec.train.metrics import (CodeUsage, adjusted_rand_index, evaluate, labels_from_true_groups,
                                         quality_from_mse, topo_pre, usage_metrics)
from test_train_helpers import build_model, planted_arrays, split, true_labels


def test_code_usage_utilization_perplexity_dead_codes():
    sizes = torch.tensor([[4, 2], [3, 1]])
    usage = CodeUsage(sizes, "cpu")
    # category 0: level 0 uses codes {0, 1} equally, level 1 uses {0}; category 1: level 0 all 3, level 1 {0}
    codes = torch.tensor([[[0, 0], [0, 0]],
                          [[1, 0], [1, 0]],
                          [[0, 0], [2, 0]],
                          [[1, 0], [2, 0]]])
    usage.update(codes[:2])
    usage.update(codes[2:])                              # accumulates across batches
    util = usage.utilization()
    assert util.tolist() == [[0.5, 0.5], [1.0, 1.0]]
    ppl = usage.perplexity()
    assert ppl[0, 0].item() == pytest.approx(2.0)        # two codes, equal frequency
    assert ppl[0, 1].item() == pytest.approx(1.0)
    p = torch.tensor([0.25, 0.25, 0.5])
    assert ppl[1, 0].item() == pytest.approx(math.exp(-(p * p.log()).sum().item()))
    assert usage.dead_codes().tolist() == [[2, 1], [0, 0]]
    m = usage_metrics(usage, ["a", "b"])
    assert m["utilization"] == pytest.approx(0.75)
    assert m["dead_codes"] == 3 and m["codebook_entries"] == 10
    assert m["a/level_0/utilization"] == 0.5 and m["b/level_1/utilization"] == 1.0
    assert m["utilization_per_level"] == [0.75, 0.75]


def test_quality_is_clamped():
    assert quality_from_mse(0.1) == pytest.approx(0.9)
    assert quality_from_mse(3.0) == 0.0
    assert quality_from_mse(-1.0) == 1.0


def test_ari_and_true_group_labels():
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1, -1], [5, 7, 5, 7, 5]) < 0.01    # -1 features ignored
    labels = labels_from_true_groups(["s:c0", "s:c1", "a:x", "t:emb0"],
                                     {"s": np.array([1, 0]), "a": np.array([0])},
                                     {"s": ["c0", "c1"], "a": ["x"]})
    assert labels == [2, 1, 0, -1]                       # families offset, unknown -> -1


def test_topo_pre_is_one_for_scaled_copy_and_low_for_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=g)
    assert topo_pre(x, 3.0 * x) == pytest.approx(1.0)
    assert abs(topo_pre(x, torch.randn(50, 6, generator=g))) < 0.3


def test_evaluate_on_real_model_reports_every_metric():
    model = build_model(False)
    _, val = split(planted_arrays())
    m = evaluate(model, val, batch_size=16, true_labels=true_labels())
    assert m["n_samples"] == 48
    for key in ("utilization", "perplexity", "dead_codes", "recon_mse", "quality", "token_recon_mse",
                "token_quality", "topo_pre", "ari"):
        assert key in m
    assert m["ari"] == pytest.approx(1.0)              # the planted categories
    assert m["quality"] == pytest.approx(max(0.0, 1 - m["recon_mse"]))
    # an untrained model: tokens-only reconstruction is the eval forward's (static model)
    assert m["token_recon_mse"] == pytest.approx(m["recon_mse"], rel=1e-5)
    assert model.training                               # training flag restored


def test_lr_schedule_warmup_cosine_step():
    cfg = TrainingConfig.from_dict({"num_epochs": 10, "warmup_epochs": 2, "scheduler": "cosine"})
    assert lr_factor(cfg, 1, 0, 5) == pytest.approx(1 / 10)
    assert lr_factor(cfg, 2, 4, 5) == pytest.approx(1.0)
    assert lr_factor(cfg, 3, 0, 5) == pytest.approx(1.0)
    assert lr_factor(cfg, 7, 0, 5) == pytest.approx(0.5)          # halfway through the cosine
    assert lr_factor(cfg, 10, 4, 5) == pytest.approx(0.0, abs=1e-2)
    step = TrainingConfig.from_dict({"scheduler": "step", "scheduler_step_size": 2, "scheduler_gamma": 0.5})
    assert [lr_factor(step, e, 0, 3) for e in (1, 2, 3, 5)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_factor(TrainingConfig.from_dict({}), 9, 2, 3) == 1.0


def test_config_views_defaults_and_errors():
    t = TrainingConfig.from_dict({"early_stopping_patience": 0, "gradient_clip_norm": None,
                                  "use_bf16": True, "unknown_key": 1}, random_seed=3)
    assert t.early_stopping_patience is None and t.gradient_clip_norm is None
    assert t.precision == "bf16" and t.random_seed == 3 and t.extra == {"unknown_key": 1}
    assert TrainingConfig.from_dict(None).gradient_clip_norm == 1.0
    with pytest.raises(SpecError, match="optimizer"):
        TrainingConfig.from_dict({"optimizer": "sgdx"})
    lc = LearnableConfig.from_dict({"gumbel_noise": True})
    assert lc.gumbel_noise == 1.0 and lc.assignment_lr == 0.001 and lc.temperature_end == 0.1
    with pytest.raises(SpecError, match="linear, exponential, cosine"):
        LearnableConfig.from_dict({"temperature_schedule": "step"})


def test_printed_sums_check_out_after_rounding():
    comps = {"recon": 0.12345, "vq": 0.00049, "ortho": 0.00049, "info": 0.1, "topo": 0.2}
    lines = epoch_text_lines(epoch=1, num_epochs=2, seconds=0.04, components=comps, val_loss=0.5,
                             utilization=0.112, assign={"assign_orthogonality": 0.4234,
                                                        "assign_balance": 0.1564}, temperature=1.0)
    assert lines[0] == "Epoch 1/2 (0.0s): train=0.423 val=0.500"
    assert lines[1] == "  Components: recon=0.123 vq=0.000 ortho=0.000 info=0.100 topo=0.200"
    assert lines[2:] == ["              assign_orthogonality=0.423", "              assign_balance=0.156",
                         "              assign_total=0.579", "  Temperature: 1.00", "  Utilization: 11.2%"]


def test_make_trainer_picks_the_trainer_from_the_model():
    from spinlock_spec.train.learnable import LearnableVQVAETrainer
    from spinlock_spec.train.trainer import VQVAETrainer
    from spinlock_spec.train.trainers import make_trainer as pick
    train, val = split(planted_arrays())
    assert type(pick(build_model(False), train, val, {}, None, None, lambda s: None, "cpu")) is VQVAETrainer
    assert type(pick(build_model(True), train, val, {}, {}, None, lambda s: None, "cpu")) is LearnableVQVAETrainer
    with pytest.raises(TypeError, match="LearnableVQVAETrainer"):
        VQVAETrainer(build_model(True), train, val, {}, None, None, lambda s: None, "cpu")


def test_trainer_class_maps_every_graph_trainer_type_to_its_class():
    from spinlock_spec.compile import compile_spec
    from spinlock_spec.train.trainers import trainer_class
    for mode in ("auto", "learnable"):
        c = compile_spec("families: {summary: {encoder: identity}}\n"
                         f"training: {{category_assignment: {mode}}}\n")
        cls = trainer_class(c.trainer_type)
        assert cls.trainer_type == c.trainer_type and cls.learns_assignment == (mode == "learnable")
    with pytest.raises(ValueError, match="unknown trainer_type 'Other'"):
        trainer_class("Other")
