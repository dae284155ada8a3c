"""Registry-wide contract tests: every registered lifter, built with its tiny config."""

import pytest
import torch

from liftbench.models import create_lifter, layers, list_lifters
from liftbench.models.layers import Attention
from liftbench.models.motionagformer import (
    CONNECTIONS,
    GraphConv,
    knn_frame_adjacency,
    spatial_adjacency,
)
from liftbench.models.motionbert import DualBlock

LIFTERS = list_lifters()
# The trivial baselines (`models/trivial.py`) have no parameters and, for mean_pose, an output
# that does not depend on the input: the gradient / input-dependence contracts do not apply.
TRAINABLE = [n for n in LIFTERS if getattr(create_lifter(n, size="tiny"), "trainable", True)]


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


@pytest.mark.parametrize("name", TRAINABLE)
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


@pytest.mark.parametrize("name", TRAINABLE)
def test_bf16_autocast_backward_matches_fp32(name):
    """Custom autograd functions must run their backward under the forward's autocast."""
    x = _input(2, 9)
    ref = _build(name).eval()
    model = _build(name).eval()
    t = _frames(model)
    ref(x[:, :t]).square().mean().backward()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x[:, :t])
    y.float().square().mean().backward()
    num = den = 0.0
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        if q.grad is None:
            continue
        assert p.grad.dtype == p.dtype and torch.isfinite(p.grad).all()
        num += float((p.grad - q.grad).square().sum())
        den += float(q.grad.square().sum())
    assert (num / den) ** 0.5 < 0.05  # bf16 rounding, not a wrong gradient


@pytest.mark.parametrize("name", LIFTERS)
def test_eval_mode_is_deterministic(name):
    model = _build(name).eval()
    x = _input(2, _frames(model))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", TRAINABLE)
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


# --- Reference checks: the vectorised blocks equal a literal transcription of the official ops ---

def _official_gcn(gcn, x, temporal):
    """MotionAGFormer `GCN.forward` as written officially (bmm with diagonal degree matrices)."""
    b, t, j, c = x.shape
    if temporal:
        x = x.transpose(1, 2).reshape(-1, t, c)
        sim = x @ x.transpose(1, 2)
        thr = sim.topk(k=gcn.k, dim=-1, largest=True)[0][..., -1].view(b * j, t, 1)
        adj = (sim >= thr).float()
    else:
        x = x.reshape(-1, j, c)
        adj = torch.zeros(j, j)
        for i, nbrs in CONNECTIONS.items():
            adj[i, list(nbrs)] = 1
        adj = adj.repeat(b * t, 1, 1)
    n = adj.shape[1]
    deg = torch.eye(n).view(1, n, n) * adj.sum(-1).pow(-0.5).view(-1, n, 1)
    norm_adj = torch.bmm(torch.bmm(deg, adj), deg)
    out = torch.relu(x + gcn.batch_norm(norm_adj @ gcn.V(x) + gcn.U(x)))
    return out.reshape(b, j, t, c).transpose(1, 2) if temporal else out.reshape(b, t, j, c)


@pytest.mark.parametrize("temporal", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_graph_conv_matches_the_official_formulation(temporal, train):
    torch.manual_seed(0)
    gcn = GraphConv(16, 7 if temporal else 17, "temporal" if temporal else "spatial", 2)
    with torch.no_grad():
        gcn.batch_norm.running_mean.uniform_(-0.5, 0.5)
        gcn.batch_norm.running_var.uniform_(0.5, 1.5)
        gcn.batch_norm.weight.uniform_(0.5, 1.5)
    gcn.train(train)
    x = torch.randn(2, 7, 17, 16)
    ref = _official_gcn(gcn, x, temporal)
    ours = gcn(x.transpose(1, 2)).transpose(1, 2) if temporal else gcn(x)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_spatial_adjacency_is_the_official_asymmetric_graph():
    adj = spatial_adjacency()
    assert int((adj > 0).sum()) == 29 and torch.all(adj.diagonal() == 0)
    assert adj[0, 4] == 0 and adj[4, 0] > 0 and adj[8, 11] == 0 and adj[11, 8] > 0


def test_temporal_graph_keeps_k_neighbours_per_row():
    adj = knn_frame_adjacency(torch.randn(5, 20, 8), k=2)
    assert torch.all((adj > 0).sum(-1) == 2)


@pytest.mark.parametrize("length", [17, 200])  # MATH backend and (on CPU) the flash kernel
def test_attention_matches_explicit_softmax(length):
    torch.manual_seed(0)
    attn = Attention(32, 4, qkv_bias=True)
    x = torch.randn(2, 3, length, 32)
    q, k, v = attn.qkv(x).reshape(2, 3, length, 3, 4, 8).permute(3, 0, 1, 4, 2, 5)
    w = (q @ k.transpose(-1, -2) * 8**-0.5).softmax(-1)
    ref = attn.proj((w @ v).transpose(2, 3).reshape(2, 3, length, 32))
    torch.testing.assert_close(attn(x), ref, rtol=1e-4, atol=1e-5)


def test_dual_block_order_and_shapes():
    torch.manual_seed(0)
    st, ts = DualBlock(16, 2, order="st"), DualBlock(16, 2, order="ts")
    ts.load_state_dict(st.state_dict())
    x = torch.randn(2, 5, 17, 16)
    assert st(x).shape == x.shape
    assert not torch.allclose(st(x), ts(x))  # same weights, different order
    torch.testing.assert_close(st(x), st._temporal(st._spatial(x)))


@pytest.mark.parametrize("recompute", [False, True])
def test_memory_saving_autograd_functions_have_exact_gradients(recompute, monkeypatch):
    # Mlp / Attention with a pre-norm recompute LN (and GELU, optionally the hidden layer) in
    # backward; compare with double-precision numerical gradients.
    monkeypatch.setattr(layers, "RECOMPUTE_HIDDEN_BYTES", 0 if recompute else 1 << 40)
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(8).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    mlp, attn = layers.Mlp(8, 16).double(), Attention(8, 2, qkv_bias=True).double()
    x = torch.randn(2, 3, 5, 8, dtype=torch.double, requires_grad=True)
    scale = torch.randn(8, dtype=torch.double, requires_grad=True)
    ln = (norm.weight, norm.bias)
    torch.autograd.gradcheck(lambda x, s, *_: mlp(x, out_scale=s, norm=norm), (x, scale, *ln))
    torch.autograd.gradcheck(
        lambda x, s, *_: attn(x.transpose(1, 2), s, norm=norm), (x, scale, *ln)
    )
    with torch.no_grad():
        ref = attn(norm(x))  # the plain (no-grad) path
    torch.testing.assert_close(attn(x, norm=norm), ref)
    plain = mlp.fc2(torch.nn.functional.gelu(mlp.fc1(norm(x))))
    torch.testing.assert_close(mlp(x, norm=norm), plain)
