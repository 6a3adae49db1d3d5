"""nn/dropout.py: the CPU mask from 16-bit slices of random words must drop at rate p,
keep the expectation, draw independent entries, follow the torch seed, and be the
identity in eval mode."""
import pytest
import torch

from spinlock_spec.nn.dropout import Dropout, cpu_keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_and_expectation(p):
    torch.manual_seed(0)
    drop = Dropout(p).train()
    y = drop(torch.ones(400, 1000))
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.005                      # 400k draws: sd ~ 0.0008
    assert abs(y.mean().item() - 1.0) < 0.01
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(1 / (1 - p)), rtol=1e-4))


def test_entries_are_independent_and_the_seed_decides():
    torch.manual_seed(1)
    keep, _ = cpu_keep_mask(torch.Size([200, 1001]), 0.5)       # odd size: words cut mid-way
    k = keep.float()
    # neighbours (same 64-bit word or not) are uncorrelated
    corr = torch.corrcoef(torch.stack([k[:, :-1].reshape(-1), k[:, 1:].reshape(-1)]))[0, 1]
    assert abs(corr.item()) < 0.01
    torch.manual_seed(1)
    again, _ = cpu_keep_mask(torch.Size([200, 1001]), 0.5)
    assert torch.equal(keep, again)


def test_gradient_follows_the_mask_and_eval_is_identity():
    torch.manual_seed(2)
    drop = Dropout(0.3).train()
    x = torch.randn(50, 40, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    assert torch.equal(x.grad == 0, y == 0)
    drop.eval()
    assert torch.equal(drop(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)
