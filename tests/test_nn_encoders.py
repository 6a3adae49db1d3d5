"""Family encoders: shapes, registry wiring, targets, padding invariance."""
import pytest
import torch

from spinlock_spec.nn import encoders as E
from spinlock_spec.nn.targets import temporal_target
from spinlock_spec.registry import ENCODERS

torch.manual_seed(0)
B = 6


def test_registry_builders_are_the_classes():
    for entry in ENCODERS.entries():
        cls = entry.load_builder()
        assert issubclass(cls, E.FamilyEncoder), entry.name


@pytest.mark.parametrize("name,shape,fields_shape,params,batch,out_dim,target_dim", [
    ("identity", (7,), None, {}, {"x": torch.randn(B, 7)}, 7, 7),
    ("MLPEncoder", (7,), None, {"hidden_dims": [16, 8], "output_dim": 5, "batch_norm": True, "dropout": 0.1},
     {"x": torch.randn(B, 7)}, 5, 7),
    ("td_cnn", (20, 3), None, {"embedding_dim": 9, "architecture": "resnet1d_2"},
     {"x": torch.randn(B, 20, 3)}, 9, 24),
    ("PyramidTemporalEncoder", (20, 3), None, {"embedding_dim": 4, "scales": [1, 3]},
     {"x": torch.randn(B, 20, 3), "lengths": torch.tensor([20, 11, 5, 20, 1, 8])}, 4, 24),
    ("ic_cnn", (2, 16, 16), (2, 16, 16), {"embedding_dim": 6, "in_channels": 2},
     {"fields": torch.randn(B, 2, 16, 16)}, 6, 32),
    ("initial_hybrid", (4,), (3, 8, 8), {"cnn_embedding_dim": 5, "manual_dim": 4},
     {"x": torch.randn(B, 4), "fields": torch.randn(B, 3, 8, 8)}, 9, 4 + 48),
])
def test_encoder_shapes(name, shape, fields_shape, params, batch, out_dim, target_dim):
    entry = ENCODERS.get(name)
    enc = entry.build(shape, fields_shape, params)
    assert enc.out_dim == out_dim == entry.out_dim(entry.params(params), fields_shape if entry.input_kind == "fields" else shape)
    emb = enc(batch.get("x"), lengths=batch.get("lengths"), fields=batch.get("fields"))
    assert emb.shape == (B, out_dim) and torch.isfinite(emb).all()
    tgt = enc.target(batch.get("x"), lengths=batch.get("lengths"), fields=batch.get("fields"))
    assert tgt.shape == (B, target_dim) == (B, enc.target_dim)
    if entry.trainable:
        emb.sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_channels_are_not_averaged():
    enc = ENCODERS.get("initial_cnn").build((2, 8, 8), (2, 8, 8), {"embedding_dim": 4})
    f = torch.randn(3, 2, 8, 8)
    swapped = f.flip(1)                       # same channel mean, different channels
    assert not torch.allclose(enc(fields=f), enc(fields=swapped))
    with pytest.raises(ValueError):
        ENCODERS.get("initial_cnn").build((2, 8, 8), (2, 8, 8), {"in_channels": 3})


@pytest.mark.parametrize("name,params", [("pyramid_temporal", {"scales": [1, 2, 4]}),
                                          ("temporal_cnn", {"architecture": "resnet1d_2"})])
def test_padding_invariance(name, params):
    torch.manual_seed(1)
    lengths = torch.tensor([13, 7, 30])
    series = torch.randn(3, 30, 4)
    short = series * (torch.arange(30)[None, :, None] < lengths[:, None, None])
    entry = ENCODERS.get(name)
    enc = entry.build((30, 4), None, params).eval()
    enc_long = entry.build((64, 4), None, params).eval()
    enc_long.load_state_dict(enc.state_dict())
    padded = torch.zeros(3, 64, 4)
    padded[:, :30] = short
    padded[:, 40:] = 5.0                      # garbage past the length must not matter
    a = enc(short, lengths=lengths)
    b = enc_long(padded, lengths=lengths)
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    # and the target too
    assert torch.allclose(temporal_target(short, lengths), temporal_target(padded, lengths), atol=1e-6)
    # sanity: the embedding does depend on the valid steps
    changed = short.clone()
    changed[0, 0] += 3.0
    assert not torch.allclose(enc(changed, lengths=lengths)[0], a[0])


def test_temporal_target_segment_means():
    x = torch.arange(16, dtype=torch.float32).reshape(1, 16, 1)
    t = temporal_target(x, torch.tensor([16]))
    assert torch.allclose(t, torch.tensor([[0.5, 2.5, 4.5, 6.5, 8.5, 10.5, 12.5, 14.5]]))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        ENCODERS.get("identity").build((5, 3))
    with pytest.raises(ValueError):
        ENCODERS.get("temporal_cnn").build((10, 3), None, {"architecture": "resnet_3"})
    with pytest.raises(ValueError):
        ENCODERS.get("pyramid_temporal").build((10, 3), None, {"kernel_size": 4})
    with pytest.raises(ValueError):
        ENCODERS.get("initial_hybrid").build((4,), None)
