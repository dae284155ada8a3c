import pytest
import torch
import torch.nn.functional as F

from liftbench.models import create_lifter, get_lifter_entry
from liftbench.models.simplebaseline import SimpleBaseline
from liftbench.models.videopose3d import VideoPose3D

VP3D = {"videopose3d": 243, "videopose3d_27": 27, "videopose3d_81": 81}


def _input(b=2, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, 17, 3, generator=g)


def _count(name, **kw):
    with torch.device("meta"):
        model = create_lifter(name, **kw)
    return sum(p.numel() for p in model.parameters())


# ---- parameter counts ----


@pytest.mark.parametrize(("name", "params"), [
    ("videopose3d", 16_952_371), ("videopose3d_27", 8_555_571), ("videopose3d_81", 12_753_971)
])  # fmt: skip
def test_videopose3d_param_counts_are_exact(name, params):
    assert _count(name) == params == get_lifter_entry(name).paper_params


def test_videopose3d_receptive_field_argument():
    assert _count("videopose3d", receptive_field=81) == 12_753_971
    with pytest.raises(ValueError, match="power of 3"):
        VideoPose3D(receptive_field=30)
    with pytest.raises(ValueError, match="power of 3"):
        VideoPose3D(receptive_field=1)


def test_simplebaseline_param_count():
    # the original: 16 joints in and out, 2D only
    assert _count("simplebaseline", num_joints=16) == 4_291_632
    assert get_lifter_entry("simplebaseline").paper_params == 4_291_632
    n17 = _count("simplebaseline")
    assert n17 == 4_296_755 and abs(n17 / 4_291_632 - 1) < 0.005


# ---- SimpleBaseline ----


def test_simplebaseline_is_a_per_frame_mlp():
    torch.manual_seed(0)
    m = create_lifter("simplebaseline", size="tiny").eval()
    x = _input()
    y = m(x)
    assert y.shape == (2, 6, 17, 3) and torch.isfinite(y).all()
    # each frame on its own gives the same answer (eval mode: BatchNorm uses running stats)
    torch.testing.assert_close(m(x[:1, 2:3])[0, 0], y[0, 2])
    # confidence is ignored
    x2 = x.clone()
    x2[..., 2] = 7.0
    torch.testing.assert_close(m(x2), y)
    # input layout: [x1, y1, x2, y2, ...]
    flat = x[..., :2].reshape(12, 34)
    torch.testing.assert_close(m.out(m.blocks(m.stem(flat))).view(2, 6, 17, 3), y)


def test_simplebaseline_residual_structure():
    m = SimpleBaseline(linear_size=8, num_blocks=2, dropout=0.0).eval()
    h = torch.randn(5, 8)
    block = m.blocks[0]
    torch.testing.assert_close(block(h), h + block.layers(h))
    assert len(m.blocks) == 2 and len(block.layers) == 2


def test_simplebaseline_gradients():
    torch.manual_seed(0)
    m = create_lifter("simplebaseline", size="tiny").train()
    m(_input()).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_simplebaseline_bad_arguments():
    with pytest.raises(ValueError, match="dropout"):
        SimpleBaseline(dropout=1.0)
    with pytest.raises(ValueError, match=r"\(B, T, 17, 3\)"):
        create_lifter("simplebaseline", size="tiny")(torch.zeros(2, 3, 16, 3))


# ---- VideoPose3D ----


def _official_centre(m: VideoPose3D, window: torch.Tensor) -> torch.Tensor:
    """The official window→centre-frame forward, `window` (RF, J, 3) → (J, 3), no padding."""
    h = window[..., :2].reshape(1, window.shape[0], -1).transpose(1, 2)
    h = F.relu(m.expand_bn(m.expand_conv(h)))
    for i, crop in enumerate(m.crops):
        res = h[:, :, crop : h.shape[-1] - crop]
        h = F.relu(m.layers_bn[2 * i](m.layers_conv[2 * i](h)))
        h = res + F.relu(m.layers_bn[2 * i + 1](m.layers_conv[2 * i + 1](h)))
    out = m.shrink(h)
    assert out.shape[-1] == 1
    return out[0, :, 0].view(-1, 3)


@pytest.mark.parametrize("rf", [27, 81])
def test_videopose3d_seq2seq_equals_official_windows(rf):
    torch.manual_seed(0)
    m = VideoPose3D(receptive_field=rf, channels=16).eval()
    x = _input(b=1, t=7)
    y = m(x)
    pad = (rf - 1) // 2
    padded = torch.cat([x[:, :1].expand(1, pad, 17, 3), x, x[:, -1:].expand(1, pad, 17, 3)], 1)
    for t in (0, 3, 6):
        want = _official_centre(m, padded[0, t : t + rf])
        torch.testing.assert_close(y[0, t], want, rtol=1e-4, atol=1e-5)


def test_videopose3d_dilations_and_receptive_field():
    m = VideoPose3D(receptive_field=243, channels=8)
    dil = [c.dilation[0] for c in m.layers_conv[::2]]
    assert dil == [3, 9, 27, 81] and m.crops == [3, 9, 27, 81]
    # an impulse at frame 0 reaches exactly the frames within (RF-1)/2 = 121 (eval mode)
    m.eval()
    x = torch.zeros(1, 300, 17, 3)
    base = m(x)
    x[0, 150, :, :2] = 1.0
    changed = (m(x) - base).abs().amax(dim=(0, 2, 3)) > 0
    idx = changed.nonzero().flatten()
    assert idx.min() == 150 - 121 and idx.max() == 150 + 121


@pytest.mark.parametrize("name", list(VP3D))
def test_videopose3d_tiny_contract(name):
    torch.manual_seed(0)
    m = create_lifter(name, size="tiny")
    assert m.receptive_field == VP3D[name] and not m.uses_confidence
    m.train()
    y = m(_input(t=3))
    assert y.shape == (2, 3, 17, 3) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    m.eval()
    with torch.no_grad():
        y1 = m(_input(b=1, t=1))  # a single frame works (edge replication)
    assert y1.shape == (1, 1, 17, 3)


def test_videopose3d_eval_batch_independence():
    torch.manual_seed(0)
    m = create_lifter("videopose3d_27", size="tiny").eval()
    x = _input(b=3)
    x2 = x.clone()
    x2[1:] = _input(b=2, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(m(x2)[0], m(x)[0])


def test_videopose3d_bad_input():
    m = create_lifter("videopose3d_27", size="tiny")
    with pytest.raises(ValueError, match=r"\(B, T, 17, 3\)"):
        m(torch.zeros(2, 5, 17, 2))
