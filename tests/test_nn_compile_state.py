"""The learnable model's per-epoch state (temperature, masked credit)
lives in 0-d buffers that the forward pass reads as data, so torch.compile traces the
training forward once for a whole run instead of once per temperature (a Python float
attribute is a guard: every new value recompiled, and dynamo gave up after 8).  The forward
mode (straight-through or soft) is a Python flag: one graph per mode, and a run changes its
mode at most once."""
import pytest
from dataclasses import replace

import torch
import torch._dynamo
from torch._dynamo.testing import CompileCounter

from spinlock_spec.config.sections import ModelConfig
from spinlock_spec.nn.model import FamilyInput, LearnableCategoricalVQVAE

# frozen codebooks (decay 1: outside the spec's bounds, so set on the typed config directly),
# no dead-code reset, no dropout (the default before the model read the schema's): exact comparisons
FROZEN = replace(ModelConfig.from_dict({"dead_code_interval": 0, "dropout": 0.0}), decay=1.0)


def _model():
    fam = FamilyInput("summary", "identity", {}, "tabular", (24,))
    torch.manual_seed(0)
    m = LearnableCategoricalVQVAE([fam], [list(range(i, 24, 3)) for i in range(3)], None, {"dropout": 0.0},
                                  temperature=1.0)
    m.train()
    return m


def test_epoch_state_changes_do_not_recompile_the_training_forward():
    model = _model()
    x = torch.randn(64, 24)
    model({"summary": x})                        # codebook initialisation happens eagerly
    torch._dynamo.reset()
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter, dynamic=False)
    values, frames = [], []
    for tau, st, credit in [(1.0, False, 0.25), (0.6, False, 0.25), (0.3, False, 0.25), (0.1, True, 0.0),
                            (0.05, True, 0.0)]:
        model.temperature, model.straight_through, model.credit_mask = tau, st, credit
        out = compiled({"summary": x})
        out.terms["recon"].backward()
        values.append(float(model.assignment_matrix().detach().max()))
        frames.append(counter.frame_count)
    # temperature and credit are buffers (no recompile); the forward mode (soft or hard) is a
    # Python flag: its own graphs, once (a run's mode changes at most once); the credit pass
    # runs eagerly between the graphs' pieces
    assert frames[0] == frames[1] == frames[2] and frames[3] == frames[4] <= 2 * frames[0], frames
    # the buffers are really read: a lower temperature sharpens P, straight-through makes it one-hot
    assert values[0] < values[1] < values[2] and values[3] == values[4] == 1.0


def test_state_is_a_float_mirror_of_a_non_persistent_buffer():
    model = _model()
    model.temperature = 0.37
    model.credit_mask = 0.25
    assert isinstance(model.temperature, float) and model.temperature == 0.37
    assert float(model._temperature) == pytest.approx(0.37) and float(model._credit_mask) == 0.25
    keys = model.state_dict().keys()
    assert not any(k in keys for k in ("_temperature", "_straight_through", "_credit_mask"))


def test_traced_and_eager_paths_agree():
    """The eager forward skips the credit selects by their Python flag; the traced one
    computes them from the buffer: same values and gradients, in both forward modes."""
    fam = FamilyInput("summary", "identity", {}, "tabular", (24,))
    torch.manual_seed(0)
    model = LearnableCategoricalVQVAE([fam], [list(range(i, 24, 3)) for i in range(3)], None,
                                      FROZEN, temperature=0.5)
    model.train()
    x = torch.randn(64, 24)
    model({"summary": x})
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="eager", dynamic=False)
    for st in (False, True):
        model.temperature, model.straight_through, model.credit_mask = 0.5, st, 0.0
        results = []
        for fn in (model, compiled):
            model.zero_grad()
            out = fn({"summary": x})
            loss = out.terms["recon"] + out.terms["info"]
            loss.backward()
            results.append((loss.detach(), model.assignment_logits.grad.clone()))
        torch.testing.assert_close(results[0][0], results[1][0])
        torch.testing.assert_close(results[0][1], results[1][1])
