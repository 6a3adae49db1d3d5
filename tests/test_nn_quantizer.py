"""Batched residual VQ: valid codes, data init, EMA, dead codes, commitment, fp32, DDP hook."""
import torch

from spinlock_spec.config.sections import ModelConfig
from spinlock_spec.nn.quantizer import BatchedResidualVQ

SIZES = torch.tensor([[8, 4], [5, 3], [2, 2]])   # K=3 categories, L=2 levels, uneven sizes


def _vq(**kw):
    torch.manual_seed(0)
    dim_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.float32)
    cfg = ModelConfig.from_dict({})            # the model section's defaults
    settings = dict(commitment_cost=cfg.commitment_cost, decay=cfg.decay, kmeans_iters=cfg.kmeans_iters,
                    dead_code_fraction=cfg.dead_code_fraction, reset_interval=cfg.dead_code_interval,
                    init_from_data=cfg.codebook_init == "kmeans")
    return BatchedResidualVQ(SIZES, 4, dim_mask, **{**settings, **kw})


def test_codes_in_valid_range_and_padded_dims_zero():
    vq = _vq()
    z = torch.randn(64, 3, 4) * 3
    out = vq(z)
    assert out.codes.shape == (64, 3, 2)
    assert (out.codes >= 0).all() and (out.codes < SIZES[None]).all()
    assert (out.quantized[:, 1, 2:] == 0).all() and (vq.codebook[1, :, :, 2:] == 0).all()
    # invalid codes never chosen even if they would be nearest
    vq.codebook[2, 0, 5:] = 0.0
    codes = vq.quantize(torch.zeros(4, 3, 4))[0]
    assert (codes[:, 2, 0] < 2).all()


def test_initialised_from_data_and_residual_levels():
    vq = _vq()
    z = torch.randn(256, 3, 4) + 10.0            # far from the random initial codebook
    vq.train()
    out = vq(z)
    assert bool(vq.initialized)
    # level-0 codes sit near the data (mean ~10), level-1 codes quantize residuals (mean ~0)
    assert vq.codebook[0, 0, :8].mean() > 8
    assert vq.codebook[0, 1, :4].abs().mean() < 3
    # residual structure: level 1 reduces the error of level 0
    e0 = ((z * vq.dim_mask - out.level_quantized[:, :, 0]) ** 2).mean()
    e1 = ((z * vq.dim_mask - out.level_quantized.sum(2)) ** 2).mean()
    assert e1 < e0


def test_ema_moves_codebooks_towards_data():
    vq = _vq(decay=0.8, dead_code_fraction=0.0)
    vq.train()
    vq(torch.randn(128, 3, 4))                   # init
    before = vq.codebook.clone()
    for _ in range(20):
        vq(torch.randn(128, 3, 4) + 2.0)         # the data moves
    assert not torch.allclose(before, vq.codebook)
    assert (vq.codebook[0, 0, :8].mean() - before[0, 0, :8].mean()) > 1.0
    # eval does not update
    vq.eval()
    frozen = vq.codebook.clone()
    vq(torch.randn(128, 3, 4) - 5.0)
    assert torch.equal(frozen, vq.codebook)


def test_dead_codes_are_reseeded_from_residuals():
    vq = _vq(dead_code_fraction=0.0)
    vq.train()
    vq(torch.randn(128, 3, 4))
    vq.cluster_size[0, 0, 3] = 0.0               # unreachable code (far away, EMA keeps it there)
    vq.embed_sum[0, 0, 3] = 1e3
    vq.apply_statistics({"counts": torch.zeros_like(vq.cluster_size), "sums": torch.zeros_like(vq.embed_sum)})
    assert vq.codebook[0, 0, 3].min() > 1e5
    vq.usage_since_reset.zero_()
    for _ in range(3):
        vq(torch.randn(128, 3, 4))
    dead = vq.dead_codes(threshold=1)             # chosen < 1 time since the last reset
    assert dead[0, 0, 3] and int(dead.sum()) < 6   # the unreachable one, not everything
    n = vq.reset_dead_codes(threshold=1)
    assert n == int(dead.sum())
    assert vq.codebook[0, 0, 3].abs().max() < 100      # now a residual of the batch
    assert vq.usage_since_reset.sum() == 0
    for _ in range(3):
        vq(torch.randn(128, 3, 4))
    assert vq.usage_since_reset[0, 0, 3] > 0          # and it gets used
    # the automatic rule (EMA count vs a fraction of the uniform share)
    vq.cluster_size[1, 1, 0] = 0.0
    vq.dead_code_fraction = 0.1
    assert vq.dead_codes()[1, 1, 0]


def test_automatic_reseeding_gives_full_use():
    vq = _vq(dead_code_fraction=0.3)
    vq.train()
    for _ in range(60):
        vq(torch.randn(256, 3, 4))
    vq.eval()
    codes = vq(torch.randn(2048, 3, 4)).codes
    for k in range(3):
        for lv in range(2):
            assert codes[:, k, lv].unique().numel() == int(SIZES[k, lv])


def test_commitment_has_real_beta_and_gradient():
    for beta in (0.25, 1.0):
        vq = _vq(commitment_cost=beta)
        vq.train()
        z = torch.randn(64, 3, 4, requires_grad=True)
        out = vq(z)
        assert out.loss > 0
        out.loss.backward()
        assert z.grad is not None and z.grad.abs().sum() > 0
        # straight-through: the quantized output passes gradient 1 to z
        z2 = torch.randn(64, 3, 4, requires_grad=True)
        vq(z2).quantized.sum().backward()
        assert torch.allclose(z2.grad, vq.dim_mask.expand(64, 3, 4))
    # the loss is beta times the averaged (not summed) per-level error
    vq = _vq(commitment_cost=0.5)
    vq.eval()
    vq.initialized.fill_(True)
    z = torch.randn(32, 3, 4)
    out = vq(z)
    _, vecs, res = vq.quantize(z * vq.dim_mask)
    dims = vq.dim_mask.sum(-1)
    expected = 0.5 * (((res - vecs) ** 2).sum(-1) / dims[None, :, None]).mean()
    assert torch.allclose(out.loss, expected)


def test_fp32_under_autocast_and_stats_hook():
    vq = _vq()
    vq.train()
    seen = {}

    def hook(stats):
        seen.update(stats)
        return {k: v * 1.0 for k, v in stats.items()}

    vq.stats_hook = hook
    z = torch.randn(64, 3, 4).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vq(z)
    assert vq.codebook.dtype == torch.float32 and out.loss.dtype == torch.float32
    assert seen["counts"].shape == (3, 2, 8) and seen["sums"].shape == (3, 2, 8, 4)
    # rank 0's re-seeding candidates travel in the same all-reduce (distributed._all_reduce_stats)
    assert seen["candidates"].shape == (3, 2, 8, 4)
    assert torch.allclose(seen["counts"].sum(-1), torch.full((3, 2), 64.0))


def test_lookup_matches_quantized():
    vq = _vq()
    vq.train()
    vq(torch.randn(128, 3, 4))
    vq.eval()
    z = torch.randn(16, 3, 4)
    out = vq(z)
    assert torch.allclose(vq.lookup(out.codes), out.level_quantized.sum(2), atol=1e-6)
    assert torch.allclose(vq.lookup(out.codes, levels=1), out.level_quantized[:, :, 0], atol=1e-6)


def test_reseed_interval_counts_steps_on_device():
    """dead_code_interval=2: a dead code is re-seeded after even steps only (the step
    count is the ``steps`` buffer, so a resumed run keeps the phase)."""
    vq = _vq(dead_code_fraction=0.2, reset_interval=2)
    vq.train()
    vq(torch.randn(128, 3, 4))                     # step 1 (init)

    def kill_code():                               # unreachable: zero count, far-away EMA sum
        vq.cluster_size[0, 0, 3] = 0.0
        vq.embed_sum[0, 0, 3] = 1e3

    kill_code()
    vq(torch.randn(128, 3, 4))                     # step 2: re-seeded from the residuals
    assert vq.codebook[0, 0, 3].abs().max() < 100
    kill_code()
    state = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(torch.randn(128, 3, 4))                     # step 3: odd, left alone (EMA only)
    assert vq.codebook[0, 0, 3].abs().min() > 1e3 and int(vq.steps) == 3
    # a fresh quantizer loaded from the state knows it is initialised (no second k-means)
    other = _vq(dead_code_fraction=0.2, reset_interval=2)
    other.load_state_dict(state)
    other.train()
    book = other.codebook.clone()
    other(torch.randn(128, 3, 4))
    keep = torch.ones_like(book, dtype=torch.bool)
    keep[0, 0, 3] = False                          # the killed code (far away in both)
    assert other._init_done and (other.codebook - book)[keep].abs().max() < 1.0


def test_training_step_traces_as_one_graph_after_init():
    """No host sync or data-dependent Python branch in a training step once the
    codebooks are initialised: dynamo traces it as a single graph."""
    import torch._dynamo

    vq = _vq()
    vq.train()
    vq(torch.randn(64, 3, 4))                       # eager first step: data init
    torch._dynamo.reset()
    explain = torch._dynamo.explain(vq)(torch.randn(64, 3, 4))
    assert explain.graph_break_count == 0, explain.break_reasons
    assert explain.graph_count == 1
