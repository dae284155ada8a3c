"""Registry-wide contract tests: every registered lifter, built with its tiny config."""

import pytest
import torch

from models import create_lifter, list_lifters

LIFTERS = list_lifters()


def _frames(model: torch.nn.Module) -> int:
    """A clip length the model accepts: 9 frames, or fewer if it is built for fewer."""
    max_frames = getattr(model, "max_frames", None)
    return min(9, max_frames) if max_frames else 9


def _build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_lifter(name, size="tiny")


def _input(batch: int, frames: int, joints: int = 17, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, joints, 3, generator=g) * 0.3
    x[..., 2] = torch.rand(batch, frames, joints, generator=g)  # a confidence in [0, 1]
    return x


def test_the_registry_holds_the_expected_families():
    for name in ("motionagformer_xs", "motionagformer_s", "motionagformer_b",
                 "motionagformer_l", "motionbert"):
        assert name in LIFTERS


@pytest.mark.parametrize("name", LIFTERS)
def test_forward_shape_and_finite(name):
    model = _build(name)
    t = _frames(model)
    y = model(_input(2, t))
    assert y.shape == (2, t, 17, 3)
    assert torch.isfinite(y).all()
    if getattr(model, "feature_dim", None) and hasattr(model, "forward_features"):
        f = model.forward_features(_input(2, t))
        assert f.shape == (2, t, 17, model.feature_dim)


@pytest.mark.parametrize("name", LIFTERS)
def test_gradients_reach_every_parameter(name):
    model = _build(name).train()
    y = model(_input(3, _frames(model)))
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in params if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    bad = [n for n, p in params if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient in {bad}"
    zero = [n for n, p in params if p.grad.abs().sum() == 0]
    assert not zero, f"gradient is exactly zero for {zero}"


@pytest.mark.parametrize("name", LIFTERS)
def test_eval_mode_is_deterministic(name):
    model = _build(name).eval()
    x = _input(2, _frames(model))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", LIFTERS)
def test_no_cross_talk_between_batch_items(name):
    model = _build(name).eval()
    x = _input(3, _frames(model))
    x2 = x.clone()
    x2[1] = _input(1, x.shape[1], seed=7)[0]  # change only item 1
    with torch.no_grad():
        y, y2 = model(x), model(x2)
    torch.testing.assert_close(y[0], y2[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y[2], y2[2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(y[1], y2[1])


@pytest.mark.parametrize("name", LIFTERS)
def test_bad_input_names_the_expected_shape(name):
    model = _build(name).eval()
    t = _frames(model)
    with pytest.raises(ValueError, match=r"\(B, T.*17, 3\)"):
        model(_input(1, t, joints=16))
    with pytest.raises(ValueError, match=r"\(B, T.*17, 3\)"):
        model(_input(1, t)[..., :2])
    if getattr(model, "max_frames", None):
        with pytest.raises(ValueError, match=f"T<={model.max_frames}"):
            model(_input(1, model.max_frames + 1))
