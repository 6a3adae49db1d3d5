"""MembershipOutput.batch_sq_error: the per-category batch error from Gram matrices must
equal the direct sum over the [K, B, F] reconstruction, in value and in gradients."""
import torch

from spinlock_spec.nn.grouped import MembershipOutput


def test_batch_sq_error_matches_the_direct_sum_and_its_gradients():
    torch.manual_seed(0)
    out = MembershipOutput(30, 4, 16)
    with torch.no_grad():
        out.bias.normal_()
    h = torch.randn(4, 64, 16, requires_grad=True)
    t = torch.randn(64, 10)
    fast = out.batch_sq_error(h, t, 5, 15)
    direct = ((out.per_category(h)[:, :, 5:15] - t) ** 2).sum(1)
    torch.testing.assert_close(fast, direct, rtol=1e-4, atol=1e-3)
    weights = torch.rand(4, 10)
    g_fast = torch.autograd.grad((fast * weights).sum(), [h, out.weight, out.bias])
    g_direct = torch.autograd.grad((direct * weights).sum(), [h, out.weight, out.bias])
    for a, b in zip(g_fast, g_direct):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
