"""The move audit (train/callbacks/move_audit.py) on a real learnable trainer: a move after
which the touched categories' training error rose against the untouched ones' trend is
undone (the logits from before the move, the feature held: no gradient, Adam moments
zeroed); a move after which it fell is kept."""
from __future__ import annotations

import torch

from spinlock_spec.train.callbacks.move_audit import MoveAudit
from test_train_helpers import learnable_cfg, make_trainer, planted_arrays


def _audit_and_trainer(tmp_path):
    trainer = make_trainer(True, lcfg=learnable_cfg(move_audit_epochs=2))
    trainer.fit(2)                       # real optimizer state for the logits
    audit = next(c for c in trainer.callbacks if isinstance(c, MoveAudit))
    return audit, trainer


def _epoch(audit, trainer, epoch, errors):
    record = {"epoch": epoch}
    audit.observe(epoch, errors, record)
    return record


def _move(model, f, to):
    with torch.no_grad():
        model.assignment_logits[f] = -5.0
        model.assignment_logits[f, to] = 5.0


def _setup(tmp_path, after):
    audit, trainer = _audit_and_trainer(tmp_path)
    trainer.schedule_epochs = 20                 # the audits fall inside the run
    model = trainer.model
    n = model.num_features
    f = model.categories[0][0]
    to = 1
    _epoch(audit, trainer, 3, [1.0] * n)                           # reference epoch
    before = model.assignment_logits[f].detach().clone()
    _move(model, f, to)
    _epoch(audit, trainer, 4, [1.0] * n)                           # the move is seen
    assert audit.pending and audit.pending[0]["features"] == [f]
    touched = set(audit.pending[0]["touched"])
    _epoch(audit, trainer, 5, [1.0] * n)
    errors = [after if g in touched else 0.8 for g in range(n)]    # the others fell by 20 %
    record = _epoch(audit, trainer, 6, errors)
    return model, trainer, f, to, before, record


def test_a_move_that_raised_its_categories_error_against_the_trend_is_undone(tmp_path):
    model, trainer, f, to, before, record = _setup(tmp_path, after=0.9)   # -10 %: worse than -20 %
    assert torch.equal(model.assignment_logits[f].detach(), before)
    assert int(model.hard_assignment()[f]) == 0 and model.held_features[f] == 1
    assert "undid the move" in record["assignment_notes"][0]
    state = trainer.optimizers["assignment"].state[model.assignment_logits]
    assert state["exp_avg"][f].abs().sum() == 0 and state["exp_avg_sq"][f].abs().sum() == 0
    # held: the logits of f get no gradient, the others still do
    model.train()
    model.assignment_logits.grad = None
    out = model({k: v[:64] for k, v in planted_arrays().items()})
    (out.terms["recon"] + out.terms["assign_balance"]).backward()
    grad = model.assignment_logits.grad
    assert grad[f].abs().sum() == 0 and grad.abs().sum() > 0


def test_a_move_that_lowered_its_categories_error_against_the_trend_is_kept(tmp_path):
    model, trainer, f, to, before, record = _setup(tmp_path, after=0.7)   # -30 %: better than -20 %
    assert int(model.hard_assignment()[f]) == to and model.held_features[f] == 0
    assert "kept the move" in record["assignment_notes"][0]


def test_the_audit_state_survives_a_checkpoint(tmp_path):
    model, trainer, f, to, before, record = _setup(tmp_path, after=0.9)
    audit = next(c for c in trainer.callbacks if isinstance(c, MoveAudit))
    state = audit.state_dict()
    fresh = make_trainer(True, lcfg=learnable_cfg(move_audit_epochs=2))
    again = next(c for c in fresh.callbacks if isinstance(c, MoveAudit))
    again.load_state_dict(state)
    assert again.held == [f] and fresh.model.held_features[f] == 1


def test_the_audit_measures_each_features_validation_error(tmp_path):
    """The errors the audit judges by are the per-feature mean squared errors of the
    validation rows' reconstruction, from the trainer's validation pass of the last epoch."""
    audit, trainer = _audit_and_trainer(tmp_path)
    errors = trainer.val_feature_mse
    model = trainer.model
    model.eval()
    with torch.no_grad():
        out = model(trainer.val_arrays)
    (a, b) = model.feature_slices[0]
    fam = model.families[0].name
    direct = ((out.reconstruction[fam] - out.targets[fam]) ** 2).mean(0)
    torch.testing.assert_close(torch.tensor(errors[a:b]), direct, rtol=1e-4, atol=1e-6)
    assert model.encoders[0].is_identity and min(errors[a:b]) > 0
