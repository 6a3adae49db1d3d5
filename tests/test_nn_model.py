"""Categorical model: interface, losses, gradients, batching over categories, config round trip."""
import json

import pytest
import torch
from safetensors.torch import load, save

from spinlock_spec.nn.losses import assignment_balance, assignment_orthogonality
from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, FamilyInput, LearnableCategoricalVQVAE
from spinlock_spec.nn.sizing import auto_levels

B = 32
TERMS = {"recon", "vq", "ortho", "info", "topo"}


def _families():
    return [
        FamilyInput("summary", "identity", {}, "tabular", (12,), column_names=[f"s{j}" for j in range(12)]),
        FamilyInput("arch", "MLPEncoder", {"hidden_dims": [8], "output_dim": 4}, "tabular", (5,)),
        FamilyInput("temporal", "PyramidTemporalEncoder", {"embedding_dim": 6, "hidden_channels": 8}, "temporal",
                    (16, 3)),
        FamilyInput("initial", "initial_hybrid", {"cnn_embedding_dim": 3, "channels": [4]}, "hybrid", (2,),
                    (2, 8, 8)),
    ]


def _batch(n=B, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"summary": torch.randn(n, 12, generator=g), "arch": torch.randn(n, 5, generator=g),
            "temporal": torch.randn(n, 16, 3, generator=g),
            "temporal/lengths": torch.randint(8, 17, (n,), generator=g),
            "initial": torch.randn(n, 2, generator=g), "initial/fields": torch.randn(n, 2, 8, 8, generator=g)}


# 12 + 4 + 6 + 5 = 27 features
CATS = [list(range(0, 6)), list(range(6, 12)), list(range(12, 16)), list(range(16, 22)), list(range(22, 27))]


def _model(cls=CategoricalHierarchicalVQVAE, **kw):
    torch.manual_seed(0)
    return cls(_families(), CATS, None, {"group_hidden_dim": 16, "group_embedding_dim": 8}, **kw)


def test_layout_and_sizes():
    m = _model()
    assert m.num_features == 27 and len(m.feature_names) == 27
    assert m.feature_names[0] == "summary:s0" and m.feature_names[12] == "arch:emb0"
    assert m.feature_names[22:24] == ["initial:col0", "initial:col1"] and m.feature_names[24] == "initial:emb0"
    sizes = m.codebook_sizes
    assert sizes.dtype == torch.long and sizes.shape == (5, 3)
    assert sizes[2].tolist() == [n for n, _ in auto_levels(4)]
    m2 = CategoricalHierarchicalVQVAE(_families(), CATS, [(8, 3), {"num_tokens": 4, "latent_dim": 3}], {})
    assert m2.codebook_sizes.tolist() == [[8, 4]] * 5 and m2.latent_dims == [3] * 5


def test_forward_backward_and_interface():
    m = _model()
    batch = _batch()
    out = m(batch)
    assert set(out.terms) == TERMS
    for name, v in out.terms.items():
        assert v.dim() == 0 and torch.isfinite(v), name
    assert out.codes.shape == (B, 5, 3) and out.codes.dtype == torch.long
    assert (out.codes < m.codebook_sizes[None]).all()
    targets = m.targets(batch)
    assert {k: v.shape for k, v in targets.items()} == {"summary": (B, 12), "arch": (B, 5), "temporal": (B, 24),
                                                         "initial": (B, 2 + 32)}
    assert torch.equal(targets["summary"], batch["summary"])
    sum(out.terms.values()).backward()
    for name in ("arch", "temporal", "initial"):    # trainable encoders learn end to end
        enc = m.encoders[[f.name for f in m.families].index(name)]
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters()), name
    assert m.heads[1].weight.grad.abs().sum() > 0


def test_encode_decode_matches_eval_forward():
    m = _model()
    batch = _batch()
    m(batch)                                  # one training step initialises the codebooks
    m.eval()
    with torch.no_grad():
        out = m(batch)
    codes = m.encode(batch)
    assert torch.equal(codes, out.codes)
    rec = m.decode_codes(codes)
    for k in rec:
        assert torch.allclose(rec[k], out.reconstruction[k], atol=1e-5)
    assert set(m.decode_codes(codes, levels=1)) == set(rec)
    m.train()
    book = m.quantizer.codebook.clone()
    m.encode(batch)                           # no EMA update, training flag restored
    assert m.training and torch.equal(book, m.quantizer.codebook)


def test_ortho_has_a_gradient():
    m = _model()
    out = m(_batch())
    assert out.terms["ortho"] > 0
    out.terms["ortho"].backward()
    assert m.enc_in.weight.grad.abs().sum() > 0


def _graph_size(loss):
    seen, stack = set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


def test_no_python_loop_over_categories():
    """The autograd graph (one node per tensor op) has the same size for K=4 and
    K=16: category count changes tensor shapes, never the number of ops."""
    fam = [FamilyInput("summary", "identity", {}, "tabular", (64,))]
    sizes = []
    for k in (4, 16):
        cats = [list(range(i, 64, k)) for i in range(k)]
        m = CategoricalHierarchicalVQVAE(fam, cats, [(8, 4), (4, 4)], {})
        out = m({"summary": torch.randn(64, 64)})
        sizes.append(_graph_size(sum(out.terms.values())))
    assert sizes[0] == sizes[1]


def test_assignment_losses_on_hand_made_matrices():
    one_hot = torch.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]
    assert assignment_orthogonality(one_hot) == 0
    assert assignment_balance(one_hot) == 0                      # equal masses
    uniform = torch.full((8, 4), 0.25)
    assert assignment_orthogonality(uniform) == pytest.approx(0.75)
    assert assignment_balance(uniform) == pytest.approx(0.0)
    all_in_one = torch.zeros(8, 4)
    all_in_one[:, 0] = 1
    assert assignment_orthogonality(all_in_one) == 0
    assert assignment_balance(all_in_one) == pytest.approx(3.0)  # K - 1: the maximum
    skewed = torch.eye(4)[[0, 0, 0, 0, 0, 1, 2, 3]]
    assert 0 < assignment_balance(skewed) < 3.0


def test_learnable_model_terms_and_parameter_split():
    m = _model(LearnableCategoricalVQVAE)
    assert m.assignment_logits.shape == (27, 5)
    assert torch.equal(m.hard_assignment(), torch.tensor([c for c, f in enumerate(CATS) for _ in f]))
    out = m(_batch())
    assert set(out.terms) == TERMS | {"assign_orthogonality", "assign_balance"}
    ids = {id(p) for p in m.model_parameters()}
    assert id(m.assignment_logits) not in ids
    assert [id(p) for p in m.assignment_parameters()] == [id(m.assignment_logits)]
    assert len(ids) + 1 == len(list(m.parameters()))
    probs = m.assignment_probs()
    assert torch.allclose(probs.sum(-1), torch.ones(27))
    m.temperature = 0.1
    assert m.assignment_probs().max(-1).values.min() > probs.max(-1).values.min()
    m.eval()
    assert torch.equal(m.assignment_matrix(), torch.eye(5)[m.hard_assignment()])


@pytest.mark.parametrize("straight_through,gumbel", [(False, 0.0), (True, 0.0), (False, 1.0)])
def test_gradients_reach_logits_from_recon_alone(straight_through, gumbel):
    m = _model(LearnableCategoricalVQVAE)
    m.straight_through, m.gumbel_noise = straight_through, gumbel
    out = m(_batch())
    out.terms["recon"].backward()
    g = m.assignment_logits.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    # the static model has no assignment parameters at all
    s = _model()
    assert s.assignment_parameters() == [] and not s.membership.requires_grad


def test_learnable_can_start_with_features_unassigned_and_empty_categories():
    cats = [list(range(0, 20)), [], list(range(20, 26))]
    m = LearnableCategoricalVQVAE(_families(), cats, None, {})
    assert torch.allclose(m.assignment_probs()[26], torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="empty"):
        CategoricalHierarchicalVQVAE(_families(), cats, None, {})
    with pytest.raises(ValueError, match="more than one category"):
        CategoricalHierarchicalVQVAE(_families(), [[0, 1], [1, 2]], None, {})
    with pytest.raises(ValueError, match="features"):
        CategoricalHierarchicalVQVAE(_families(), [[0, 99]], None, {})


@pytest.mark.parametrize("cls", [CategoricalHierarchicalVQVAE, LearnableCategoricalVQVAE])
def test_export_config_round_trip(cls):
    m = _model(cls)
    batch = _batch()
    for _ in range(2):
        m(batch)
    if cls is LearnableCategoricalVQVAE:
        m.temperature = 0.4
        with torch.no_grad():
            m.assignment_logits[0] = torch.tensor([0.0, 0.0, 0.0, 9.0, 0.0])   # moved feature
    cfg = json.loads(json.dumps(m.export_config()))
    blob = save({k: v.contiguous() for k, v in m.state_dict().items()})
    m2 = CategoricalHierarchicalVQVAE.from_config(cfg)
    assert type(m2) is cls
    m2.load_state_dict(load(blob))
    m.eval(), m2.eval()
    with torch.no_grad():
        a, b = m(batch), m2(batch)
    assert torch.equal(a.codes, b.codes)
    for k in a.terms:
        assert torch.allclose(a.terms[k], b.terms[k]), k
    assert torch.equal(m.encode(batch), m2.encode(batch))
    assert m2.feature_names == m.feature_names
    if cls is LearnableCategoricalVQVAE:
        assert m2.temperature == 0.4 and cfg["hard_categories"][3][0] == 0
    with pytest.raises(ValueError):
        CategoricalHierarchicalVQVAE.from_config({**cfg, "format": "other"})
