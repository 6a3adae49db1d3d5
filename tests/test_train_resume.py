"""Resume: a CPU run interrupted after epoch k and resumed ends EXACTLY like an
uninterrupted one (weights, buffers, optimizer moments, assignment, temperature)."""
from __future__ import annotations

import json

import pytest
import torch

from spinlock_spec.errors import CheckpointError
from spinlock_spec.runs.folder import RunDir
from spinlock_spec.train.trainer import TrainingInterrupted
from test_train_helpers import build_model, make_trainer, planted_arrays, state_snapshot, training_cfg

EPOCHS = 4


def _cfg(**over):
    # dropout (model cfg) + cosine schedule + warmup: every source of drift is exercised
    return training_cfg(**{"num_epochs": EPOCHS, **over})


def _assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _full_run(learnable: bool, tmp_path):
    trainer = make_trainer(learnable, RunDir(tmp_path / "full"), tcfg=_cfg())
    history = trainer.fit()
    return trainer, history


@pytest.mark.parametrize("learnable", [False, True], ids=["static", "learnable"])
def test_interrupted_and_resumed_run_matches_uninterrupted(learnable, tmp_path):
    full, full_hist = _full_run(learnable, tmp_path)

    # run 1: stops after epoch 2 (a real Ctrl-C arrives during epoch 3)
    run = RunDir(tmp_path / "interrupted")
    first = make_trainer(learnable, run, tcfg=_cfg())
    original = first.train_epoch

    def interrupt_in_epoch_3(epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(epoch)

    first.train_epoch = interrupt_in_epoch_3
    with pytest.raises(TrainingInterrupted) as info:
        first.fit()
    assert info.value.exit_code == 130 and info.value.epoch == 2
    assert info.value.checkpoint == run.file("checkpoint.json")
    assert json.loads(run.file("checkpoint.json").read_text())["epoch"] == 2

    # run 2: a fresh process would build a fresh model (other init seed on purpose) and resume
    second = make_trainer(learnable, run, tcfg=_cfg(), model=build_model(learnable, seed=123))
    assert second.resume_from(run.path) == 2
    history = second.fit()

    _assert_same_state(state_snapshot(full.model), state_snapshot(second.model))
    for name in full.optimizers:
        sa = full.optimizers[name].state_dict()["state"]
        sb = second.optimizers[name].state_dict()["state"]
        for pid in sa:
            for key in sa[pid]:
                assert torch.equal(torch.as_tensor(sa[pid][key]), torch.as_tensor(sb[pid][key]))
    assert history["train_loss"] == full_hist["train_loss"]
    assert history["val_loss"] == full_hist["val_loss"]
    assert len(run.file("metrics.jsonl").read_text().splitlines()) == EPOCHS
    if learnable:
        assert second.model.temperature == full.model.temperature
        assert torch.equal(second.model.hard_assignment(), full.model.hard_assignment())
        assert history["temperature"] == full_hist["temperature"]


def test_resume_restores_early_stopping_and_epoch(tmp_path):
    run = RunDir(tmp_path / "r")
    cfg = training_cfg(num_epochs=6, early_stopping_patience=3,
                       early_stopping_min_delta=1e6)      # no epoch after the first improves enough
    t1 = make_trainer(False, run, tcfg={**cfg, "num_epochs": 2})
    t1.fit()
    assert t1.epochs_without_improvement == 1
    t2 = make_trainer(False, run, tcfg=cfg)
    t2.resume_from(run)
    assert (t2.epoch, t2.epochs_without_improvement, t2.best_epoch) == (2, 1, t1.best_epoch)
    t2.fit()
    assert t2.stopped_early and t2.epoch == 4     # epoch 1 sets the reference, 2-4 fail to improve
    assert t2.history["stopped_early"] and len(t2.history["train_loss"]) == 4


def test_resume_refuses_another_model(tmp_path):
    run = RunDir(tmp_path / "r")
    make_trainer(False, run, tcfg=_cfg(num_epochs=1)).fit()
    other = build_model(False, categories=[list(range(12)), list(range(12, 16))])
    trainer = make_trainer(False, None, tcfg=_cfg(), model=other)
    with pytest.raises(CheckpointError, match="differs from the model"):
        trainer.resume_from(run)
    learnable = make_trainer(True, None, tcfg=_cfg())
    with pytest.raises(CheckpointError, match="written by VQVAETrainer"):
        learnable.resume_from(run)


def test_resume_refuses_another_spec(tmp_path):
    run = RunDir(tmp_path / "r")
    make_trainer(False, run, tcfg=_cfg(num_epochs=1), spec_hash="a" * 64).fit()
    trainer = make_trainer(False, None, tcfg=_cfg(), spec_hash="b" * 64)
    with pytest.raises(CheckpointError, match="from another spec"):
        trainer.resume_from(run)


def test_resume_from_folder_without_checkpoint(tmp_path):
    trainer = make_trainer(False, None, tcfg=_cfg())
    with pytest.raises(CheckpointError, match="no checkpoint.json"):
        trainer.resume_from(tmp_path)


def test_epoch_order_is_a_function_of_seed_and_epoch():
    a = make_trainer(False, None, tcfg=_cfg(), data=planted_arrays())
    b = make_trainer(False, None, tcfg=_cfg(), data=planted_arrays())
    assert torch.equal(a.epoch_order(3), b.epoch_order(3))
    assert not torch.equal(a.epoch_order(3), a.epoch_order(4))
    c = make_trainer(False, None, tcfg=_cfg(random_seed=8))
    assert not torch.equal(a.epoch_order(3), c.epoch_order(3))


def test_real_sigint_during_epoch_files_is_held_until_checkpoint_is_written(tmp_path):
    import os
    import signal

    run = RunDir(tmp_path / "sig")
    trainer = make_trainer(False, run, tcfg=_cfg())
    original = trainer._save_state
    calls = {"n": 0}

    def save_with_signal():
        calls["n"] += 1
        if calls["n"] == 3:                              # 1 = start-of-run, 2 = epoch 1, 3 = epoch 2
            os.kill(os.getpid(), signal.SIGINT)          # arrives while epoch 2's files are written
        return original()

    trainer._save_state = save_with_signal
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit()
    assert info.value.epoch == 2 and info.value.exit_code == 130
    assert json.loads(run.file("checkpoint.json").read_text())["epoch"] == 2
    assert len(run.file("metrics.jsonl").read_text().splitlines()) == 2
    assert run.leftover_temp_files() == []
