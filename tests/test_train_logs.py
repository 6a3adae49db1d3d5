"""Trainer console output: the guide's indicators, verbatim and in order."""
from __future__ import annotations

import json
import re

import pytest

from spinlock_spec.nn.schedules import temperature_at
from test_train_helpers import learnable_cfg, make_trainer, training_cfg

EPOCH_RE = re.compile(r"^Epoch (\d+)/(\d+) \((\d+\.\d)s\): train=(-?\d+\.\d{3}) val=(-?\d+\.\d{3})$")
COMP_RE = re.compile(r"^  Components: recon=(-?\d+\.\d{3}) vq=(-?\d+\.\d{3}) ortho=(-?\d+\.\d{3}) "
                     r"info=(-?\d+\.\d{3}) topo=(-?\d+\.\d{3})$")
UTIL_RE = re.compile(r"^  Utilization: \d+\.\d%$")
PAD = " " * 14


def _epoch_blocks(lines):
    starts = [i for i, line in enumerate(lines) if line.startswith("Epoch ")]
    return [lines[s:e] for s, e in zip(starts, starts[1:] + [len(lines)])]


def test_static_log_lines_and_train_is_sum_of_components():
    lines: list[str] = []
    trainer = make_trainer(False, lines=lines, tcfg=training_cfg(num_epochs=3))
    trainer.fit()
    assert lines[0] == "VQVAETrainer created"
    assert not any("Learnable assignment" in line or "assign_" in line or "Temperature" in line
                   for line in lines)
    blocks = _epoch_blocks(lines)
    assert len(blocks) == 3
    for e, block in enumerate(blocks, 1):
        m = EPOCH_RE.match(block[0])
        assert m, block[0]
        assert (int(m.group(1)), int(m.group(2))) == (e, 3)
        c = COMP_RE.match(block[1])
        assert c, block[1]
        comps = [float(x) for x in c.groups()]
        assert float(m.group(4)) == pytest.approx(sum(comps), abs=1e-9)
        assert UTIL_RE.match(block[2]), block[2]
    # the history carries the exact (unrounded) values, also summing up
    h = trainer.history
    for total, comps in zip(h["train_loss"], h["train_components"]):
        assert total == pytest.approx(sum(comps[k] for k in ("recon", "vq", "ortho", "info", "topo")))
        assert comps["recon"] > 0


def test_learnable_log_lines_in_guide_order():
    lines: list[str] = []
    trainer = make_trainer(True, lines=lines, tcfg=training_cfg(num_epochs=3))
    trainer.fit()
    assert lines[:5] == ["LearnableVQVAETrainer created",
                         "Learnable assignment training enabled:",
                         "  Assignment LR: 0.001",
                         "  Temperature schedule: linear",
                         "  Gradient clip norm: 1.0"]
    # the factor behind assignment_lr is printed, with the effective rate it gives
    assert lines[5] == "  Effective assignment LR: 1 per epoch (assignment_lr x 1000: the most a logit moves in an epoch)"
    blocks = _epoch_blocks(lines)
    assert len(blocks) == 3
    temps = []
    for block in blocks:
        assert EPOCH_RE.match(block[0]) and COMP_RE.match(block[1]), block[:2]
        assert block[2].startswith(PAD + "assign_orthogonality=")
        assert block[3].startswith(PAD + "assign_balance=")
        assert block[4].startswith(PAD + "assign_total=")
        a = float(block[2].split("=")[1])
        b = float(block[3].split("=")[1])
        assert float(block[4].split("=")[1]) == pytest.approx(a + b, abs=1e-9)
        assert re.match(r"^  Temperature: \d+\.\d{2}$", block[5]), block[5]
        temps.append(float(block[5].split(": ")[1]))
        assert UTIL_RE.match(block[6]), block[6]
        # train is the sum of the five model components shown (assignment terms apart)
        comps = [float(x) for x in COMP_RE.match(block[1]).groups()]
        assert float(EPOCH_RE.match(block[0]).group(4)) == pytest.approx(sum(comps), abs=1e-9)
    assert temps == [1.00, 0.55, 0.10]
    h = trainer.history
    assert h["temperature"] == pytest.approx([1.0, 0.55, 0.1])
    assert all(set(c) >= {"assign_orthogonality", "assign_balance", "assign_total"}
               for c in h["train_components"])


@pytest.mark.parametrize("kind", ["linear", "exponential", "cosine"])
def test_temperature_follows_schedule_across_epochs(kind):
    trainer = make_trainer(True, tcfg=training_cfg(num_epochs=5),
                           lcfg=learnable_cfg(temperature_schedule=kind, temperature_start=2.0,
                                              temperature_end=0.2))
    trainer.fit()
    expected = [temperature_at(e, 5, 2.0, 0.2, kind) for e in range(5)]
    assert trainer.history["temperature"] == pytest.approx(expected)
    assert trainer.model.temperature == pytest.approx(0.2)


def test_json_log_format_one_object_per_epoch():
    lines: list[str] = []
    trainer = make_trainer(True, lines=lines, tcfg=training_cfg(num_epochs=2), log_format="json")
    trainer.fit()
    objs = [json.loads(line) for line in lines]           # every line is JSON
    epochs = [o for o in objs if o["event"] == "epoch"]
    assert [o["epoch"] for o in epochs] == [1, 2]
    assert {"train_loss", "val_loss", "components", "assign", "temperature", "utilization"} <= set(epochs[0])
    assert objs[0]["event"] == "trainer_created" and objs[0]["trainer_type"] == "LearnableVQVAETrainer"


def test_quiet_mode_prints_nothing_but_warnings():
    lines: list[str] = []
    trainer = make_trainer(False, lines=lines, tcfg=training_cfg(num_epochs=2), quiet=True)
    trainer.fit()
    assert lines == []


def test_collapse_warning_with_guide_advice():
    from test_train_helpers import build_model
    lines: list[str] = []
    collapsed = [list(range(0, 10)), [10, 11], [], [12, 13, 14, 15]]   # 10 of 16 in one, one empty
    model = build_model(True, categories=collapsed)
    # a negligible assignment_lr keeps the collapsed assignment (the default would fix it in epoch 1)
    trainer = make_trainer(True, lines=lines, model=model, tcfg=training_cfg(num_epochs=2),
                           lcfg=learnable_cfg(assignment_lr=1e-7))
    trainer.fit()
    warnings = [line for line in lines if line.startswith("[WARNING]")]
    assert len(warnings) == 1, lines                  # warned once, not every epoch
    w = warnings[0]
    assert "Category collapse at epoch 1" in w
    assert "category 0 holds 10 of 16 features" in w and "empty categories: 2" in w
    assert "balance_weight from 0.05 to 0.10" in w and "temperature_end from 0.1 to 0.3" in w
    assert trainer.history["collapse_warnings"][0]["category_sizes"] == [10, 2, 0, 4]


def test_no_collapse_warning_for_balanced_assignment():
    lines: list[str] = []
    make_trainer(True, lines=lines, tcfg=training_cfg(num_epochs=2)).fit()
    assert not any("collapse" in line for line in lines)


def test_two_optimizers_update_logits_at_assignment_lr():
    import torch
    trainer = make_trainer(True, tcfg=training_cfg(num_epochs=1, batch_size=10_000, warmup_epochs=0,
                                                   scheduler="none", learning_rate=1e-4),
                           # constant temperature 1: the softmax is not saturated, logits get gradients
                           # assignment_lr is per epoch (x ASSIGNMENT_LR_UNIT / batches): one batch -> 0.02 a step
                           lcfg=learnable_cfg(assignment_lr=2e-5, temperature_end=1.0,
                                              assignment_warmup_epochs=0))
    model = trainer.model
    assign_opt = trainer.optimizers["assignment"]
    model_opt = trainer.optimizers["model"]
    assert trainer.num_batches() == 1
    assert assign_opt.param_groups[0]["lr"] == pytest.approx(0.02) == trainer.assignment_step()
    assert model_opt.param_groups[0]["lr"] == 1e-4
    assert [id(p) for p in assign_opt.param_groups[0]["params"]] == [id(model.assignment_logits)]
    assert id(model.assignment_logits) not in {id(p) for p in model_opt.param_groups[0]["params"]}
    before = model.assignment_logits.detach().clone()
    enc_before = model.enc_in.weight.detach().clone() if hasattr(model.enc_in, "weight") else None
    trainer.fit()                                      # exactly one Adam step (one batch)
    delta = (model.assignment_logits.detach() - before).abs()
    # Adam's first step moves every parameter with a gradient by lr (up to eps)
    assert delta.max().item() == pytest.approx(0.02, rel=1e-3)
    if enc_before is not None:
        assert (model.enc_in.weight.detach() - enc_before).abs().max().item() == pytest.approx(1e-4, rel=1e-3)
    assert torch.count_nonzero(delta) > 0


def test_logits_hold_still_during_the_assignment_warmup():
    trainer = make_trainer(True, tcfg=training_cfg(num_epochs=3),
                           lcfg=learnable_cfg(assignment_lr=1e-2, temperature_end=1.0,
                                              assignment_warmup_epochs=2))
    before = trainer.model.assignment_logits.detach().clone()
    trainer.fit(2)
    assert trainer.model.assignment_logits.detach().equal(before)     # warm-up: no move
    trainer.fit(3)
    assert not trainer.model.assignment_logits.detach().equal(before)  # then the assignment learns
