"""The learnable model's expected reconstruction error is computed without the [K, B, F]
tensor of every category's reconstruction: MembershipOutput.batch_sq_norm (Gram matrices)
and the decomposition in LearnableCategoricalVQVAE._recon_loss must equal the direct
sums, in value and in gradients."""
from dataclasses import replace

import torch

from spinlock_spec.config.sections import ModelConfig
from spinlock_spec.nn.grouped import MembershipOutput
from spinlock_spec.nn.model import FamilyInput, LearnableCategoricalVQVAE

# frozen codebooks (decay 1: outside the spec's bounds, so set on the typed config directly),
# no dead-code reset, no dropout (the default before the model read the schema's): exact comparisons
FROZEN = replace(ModelConfig.from_dict({"dead_code_interval": 0, "dropout": 0.0}), decay=1.0)


def test_batch_sq_norm_matches_the_direct_sum_and_its_gradients():
    torch.manual_seed(0)
    out = MembershipOutput(30, 4, 16)
    with torch.no_grad():
        out.bias.normal_()
    h = torch.randn(4, 64, 16, requires_grad=True)
    fast = out.batch_sq_norm(h, 5, 15)
    direct = (out.per_category(h)[:, :, 5:15] ** 2).sum(1)
    torch.testing.assert_close(fast, direct, rtol=1e-4, atol=1e-3)
    weights = torch.rand(4, 10)
    g_fast = torch.autograd.grad((fast * weights).sum(), [h, out.weight, out.bias])
    g_direct = torch.autograd.grad((direct * weights).sum(), [h, out.weight, out.bias])
    for a, b in zip(g_fast, g_direct):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


def _direct_expected_error(model, x):
    """sum_c P[f,c] (out_c,f - x_f)^2 averaged over the batch and features, from the full
    [K, B, F] per-category reconstruction (the definition in docs/model.md).  The recon
    term also carries the probe, whose gradient reaches only dec_out: compare the rest."""
    feats = model.features({"summary": x})
    p = model.assignment_matrix()
    z = model.encode_latents(feats, p)
    q = model.quantizer(z).quantized
    per_cat = model.dec_out.per_category(model.decode_hidden(q))           # [K, B, F]
    err = (per_cat - x[None]) ** 2
    return (err * p.t()[:, None, :]).sum() / x.numel()


def test_expected_error_without_credit_equals_the_direct_form_and_trains_the_logits_alike():
    fam = FamilyInput("summary", "identity", {}, "tabular", (24,))
    cats = [list(range(i, 24, 3)) for i in range(3)]
    torch.manual_seed(0)
    model = LearnableCategoricalVQVAE([fam], cats, None, FROZEN,
                                      init_scale=0.5, temperature=0.8)
    model.train()
    x = torch.randn(96, 24)
    model({"summary": x})                                  # codebooks initialised from data
    torch.manual_seed(1)
    fast = model({"summary": x}).terms["recon"]
    g_fast = torch.autograd.grad(fast, [model.assignment_logits, model.dec_in.weight, model.enc_in.weight])
    direct = _direct_expected_error(model, x)
    g_direct = torch.autograd.grad(direct, [model.assignment_logits, model.dec_in.weight, model.enc_in.weight])
    torch.testing.assert_close(fast, direct, rtol=1e-4, atol=1e-5)
    assert g_fast[0].abs().max() > 0
    for a, b in zip(g_fast, g_direct):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-6)


def test_move_margin_pulls_each_feature_towards_the_category_that_holds_it():
    """``move_margin`` lowers the holding category's credit error by that share of the hidden
    entries' energy: on the same batch and mask, the logits' gradient changes by a term that
    raises each feature's own logit and lowers the others (a feature then moves only for a
    category that predicts it clearly better)."""
    from dataclasses import replace

    from spinlock_spec.config.sections import ModelConfig
    from spinlock_spec.nn.model import FamilyInput, LearnableCategoricalVQVAE

    fam = FamilyInput("summary", "identity", {}, "tabular", (12,))
    cfg = replace(ModelConfig.from_dict({"dead_code_interval": 0, "dropout": 0.0}), decay=1.0)
    torch.manual_seed(0)
    model = LearnableCategoricalVQVAE([fam], [list(range(i, 12, 3)) for i in range(3)], None, cfg)
    model.train()
    x = torch.randn(64, 12)
    model({"summary": x})                              # codebooks initialised
    model.straight_through, model.credit_mask, model.credit_row_fraction = True, 0.25, 0.5
    grads = []
    for margin in (0.0, 0.5):
        model.credit_margin = margin
        model.credit_generator.manual_seed(7)
        model.zero_grad()
        model({"summary": x}).terms["recon"].backward()
        grads.append(model.assignment_logits.grad.clone())
    change = grads[1] - grads[0]                                        # [F, K]
    own = torch.zeros_like(change, dtype=torch.bool)
    for k, cat in enumerate(model.categories):
        own[cat, k] = True
    assert (change[own] < 0).all()           # gradient descent raises the holding category's logit
    assert (change[~own] > 0).all()          # and lowers every other one

