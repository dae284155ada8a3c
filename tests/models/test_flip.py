"""Test-time flip averaging: the averaged predictor is mirror-equivariant, for any lifter."""

import pytest
import torch
from torch import nn

from liftbench.geometry.skeletons import H36M17, flip_keypoints
from liftbench.models import create_lifter
from liftbench.models.flip import flip_average


class _Echo(nn.Module):
    """A mirror-equivariant 'lifter': returns its input."""

    def forward(self, x):
        return x.clone()


def _x(b=2, t=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, 17, 3, generator=g, dtype=torch.float64)
    x[..., 2] = torch.rand(b, t, 17, generator=g, dtype=torch.float64)
    return x


def test_equivariant_model_is_unchanged():
    x = _x()
    torch.testing.assert_close(flip_average(_Echo(), x), x)


def test_mirror_negates_x_and_swaps_sides():
    x = _x()
    m = flip_keypoints(x, "h36m17")
    torch.testing.assert_close(m[..., 1, 0], -x[..., 4, 0])  # right hip <- left hip, x negated
    torch.testing.assert_close(m[..., 1, 1:], x[..., 4, 1:])
    torch.testing.assert_close(flip_keypoints(m, "h36m17"), x)
    assert list(H36M17.flip) == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


@pytest.mark.parametrize("name", ["motionagformer_xs", "motionbert"])
def test_flip_average_is_mirror_equivariant(name):
    torch.manual_seed(0)
    model = create_lifter(name, size="tiny").double().eval()
    x = _x()
    with torch.no_grad():
        out = flip_average(model, x)
        out_mirror = flip_average(model, flip_keypoints(x, "h36m17"))
        plain = model(x)
    torch.testing.assert_close(out_mirror, flip_keypoints(out, "h36m17"))
    assert not torch.allclose(out, plain)  # the random model is not equivariant by itself
    expected = 0.5 * (plain + flip_keypoints(model(flip_keypoints(x, "h36m17")), "h36m17"))
    torch.testing.assert_close(out, expected)


def test_gradients_flow_through_flip_average():
    torch.manual_seed(0)
    model = create_lifter("motionbert", size="tiny")
    flip_average(model, _x().float()).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match=r"\(B, T, 17, 3\)"):
        flip_average(_Echo(), torch.zeros(2, 9, 16, 3))
    with pytest.raises(ValueError, match=r"\(B, T, 17, 3\)"):
        flip_average(_Echo(), torch.zeros(9, 17, 3))
