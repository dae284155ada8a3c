import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from liftbench.geometry.skeletons import H36M17
from liftbench.models import create_lifter, get_lifter_entry
from liftbench.models.kasportsformer import AnatomyLayer, KASportsFormer, skeleton_adjacency
from liftbench.models.kasportsformer_anatomy import (
    BONE_DISTAL,
    BONE_PROXIMAL,
    LIMB_GROUPS,
    LimbFusion,
    bone_tokens,
)
from liftbench.models.kasportsformer_block import FormerBlock, Mlp
from liftbench.models.kasportsformer_mixers import (
    GraphMixer,
    NodeBatchNorm,
    TokenAttention,
    knn_frame_graph,
)


@pytest.fixture(scope="module")
def tiny() -> KASportsFormer:
    torch.manual_seed(0)
    return create_lifter("kasportsformer", size="tiny")


def _pose(b=2, t=27, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, 17, 3, generator=g) * 0.3
    x[..., 2] = torch.rand(b, t, 17, generator=g)
    return x


# ---- parameter counts (paper config, built on the meta device) ----


def test_paper_param_count_is_exact():
    with torch.device("meta"):
        model = create_lifter("kasportsformer")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert total == 29_365_668 == get_lifter_entry("kasportsformer").paper_params
    # The official model's unused context LayerNorms: 4 per layer x 26 layers x 256.
    assert total - trainable == 26_624
    layer = sum(p.numel() for p in model.layers[0].parameters())
    assert layer == 1_126_363
    assert sum(p.numel() for p in model.limb_fusion.parameters()) == 4_323


def test_frozen_parameters_are_exactly_the_unused_context_norms():
    with torch.device("meta"):
        model = create_lifter("kasportsformer", n_layers=2)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = {
        f"layers.{i}.{blk}.norm1_limb.{w}"
        for i in range(2)
        for blk in ("att_spatial", "att_temporal", "graph_spatial", "graph_temporal")
        for w in ("weight", "bias")
    }
    assert frozen == expected


# ---- the lifter contract ----


def test_shapes_finite_and_features(tiny):
    x = _pose()
    tiny.eval()
    y = tiny(x)
    assert y.shape == (2, 27, 17, 3) and torch.isfinite(y).all()
    feats = tiny.forward_features(x)
    assert feats.shape == (2, 27, 17, tiny.feature_dim) and tiny.feature_dim == 64
    assert tiny.max_frames == 27 and tiny.uses_confidence


def test_gradient_reaches_every_trainable_parameter(tiny):
    tiny.train()
    tiny.zero_grad(set_to_none=True)
    tiny(_pose()).square().mean().backward()
    missing = [
        n
        for n, p in tiny.named_parameters()
        if p.requires_grad
        and (p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0)
    ]
    assert missing == []


def test_eval_mode_is_deterministic_and_batch_independent(tiny):
    # BatchNorm over joints/frames (as the official GCN) mixes batch items in train mode only;
    # in eval mode each item is processed independently.
    tiny.eval()
    x = _pose(b=3)
    with torch.no_grad():
        y1 = tiny(x)
        y2 = tiny(x)
        x2 = x.clone()
        x2[1:] = _pose(b=2, seed=5)
        y3 = tiny(x2)
    assert torch.equal(y1, y2)
    torch.testing.assert_close(y3[0], y1[0], rtol=1e-5, atol=1e-6)


def test_shorter_clips_are_accepted(tiny):
    tiny.eval()
    with torch.no_grad():
        y = tiny(_pose(t=9))
    assert y.shape == (2, 9, 17, 3) and torch.isfinite(y).all()


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ((2, 27, 16, 3), "(B, T, 17, 3)"),
        ((2, 27, 17, 2), "(B, T, 17, 3)"),
        ((27, 17, 3), "(B, T, 17, 3)"),
        ((2, 28, 17, 3), "T<=27"),
    ],
)
def test_bad_input_names_expected_shape(tiny, shape, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        tiny(torch.zeros(shape))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible"):
        KASportsFormer(n_layers=1, dim_feat=30, num_heads=4)
    with pytest.raises(ValueError, match="limb_input"):
        KASportsFormer(n_layers=1, dim_feat=16, num_heads=2, limb_input="limbs")
    with pytest.raises(ValueError, match="n_layers"):
        KASportsFormer(n_layers=0)


def test_limb_input_bones_variant_runs():
    model = KASportsFormer(n_layers=1, dim_feat=16, num_heads=2, dim_rep=8, limb_input="bones")
    assert torch.isfinite(model(_pose(b=1))).all()


def test_confidence_changes_output_only_through_joint_and_limb_streams():
    x = _pose(b=1)
    x2 = x.clone()
    x2[..., 2] = 1.0
    assert torch.equal(bone_tokens(x), bone_tokens(x2))
    fusion = LimbFusion()
    diff = (fusion(x) - fusion(x2)).abs().amax(dim=(0, 1, 2))
    assert diff[2] > 0 and diff[0] == 0 and diff[1] == 0


# ---- BoneExt ----


def test_bone_lists_are_the_h36m_bones():
    assert tuple(zip(BONE_PROXIMAL, BONE_DISTAL)) == H36M17.bones


def test_bone_tokens_hand_computed():
    x = torch.zeros(1, 1, 17, 3)
    x[0, 0, 1, :2] = torch.tensor([3.0, 4.0])  # right hip at (3, 4); pelvis at the origin
    x[0, 0, 2, :2] = torch.tensor([3.0, 4.0])  # right knee on the hip: a zero-length bone
    tok = bone_tokens(x)[0, 0]
    # bone 0 = pelvis - hip: points from the child towards the parent
    torch.testing.assert_close(tok[0], torch.tensor([-0.6, -0.8, 5.0]))
    torch.testing.assert_close(tok[1], torch.tensor([0.0, 0.0, 1.0]))  # zero length -> 1
    torch.testing.assert_close(tok[16], tok[:16].mean(dim=0))


def test_bone_tokens_gradient_is_finite_for_coincident_joints():
    x = torch.zeros(1, 2, 17, 3, requires_grad=True)
    bone_tokens(x).sum().backward()
    assert torch.isfinite(x.grad).all()


# ---- LimbFus ----


class _LoopLimbFusion(nn.Module):
    """Independent reference: one nn.Linear pair per (group, channel), looped."""

    def __init__(self, hidden=16):
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.ModuleList(
                nn.Sequential(nn.Linear(len(g), hidden), nn.GELU(), nn.Linear(hidden, 1))
                for _ in range(3)
            )
            for g in LIMB_GROUPS
        )

    def forward(self, x):
        out = []
        for g, mlps in zip(LIMB_GROUPS, self.mlps):
            sel = x[:, :, list(g), :]
            out.append(torch.cat([mlps[c](sel[..., c]) for c in range(3)], dim=-1))
        return torch.stack(out, dim=-2)


def test_limb_fusion_matches_looped_reference():
    torch.manual_seed(0)
    ref = _LoopLimbFusion()
    fused = LimbFusion()
    with torch.no_grad():
        fused.weight1.copy_(
            torch.cat([torch.stack([m[0].weight.T for m in mlps], 1) for mlps in ref.mlps])
        )
        fused.bias1.copy_(
            torch.stack([torch.stack([m[0].bias for m in mlps]) for mlps in ref.mlps])
        )
        fused.weight2.copy_(
            torch.stack([torch.stack([m[2].weight[0] for m in mlps]) for mlps in ref.mlps])
        )
        fused.bias2.copy_(torch.stack([torch.cat([m[2].bias for m in mlps]) for mlps in ref.mlps]))
    x = _pose(b=2, t=5)
    torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in fused.parameters()) == sum(p.numel() for p in ref.parameters())


def test_limb_fusion_init_bounds_follow_fan_in():
    torch.manual_seed(0)
    fusion = LimbFusion()
    start = 0
    for g in LIMB_GROUPS:
        w = fusion.weight1[start : start + len(g)]
        assert w.abs().max() <= 1 / math.sqrt(len(g))
        start += len(g)
    assert fusion.weight2.abs().max() <= 0.25


def test_limb_fusion_rejects_bad_input():
    with pytest.raises(ValueError, match="LimbFusion"):
        LimbFusion()(torch.zeros(1, 1, 10, 3))


# ---- mixers ----


def _manual_attention(q, k, v, mode, heads):
    b, t, j, c = q.shape
    d = c // heads
    qh, kh, vh = (z.view(b, t, j, heads, d) for z in (q, k, v))
    if mode == "spatial":
        att = torch.einsum("btihd,btkhd->bthik", qh, kh) / math.sqrt(d)
        return torch.einsum("bthik,btkhd->btihd", att.softmax(-1), vh).reshape(b, t, j, c)
    att = torch.einsum("bijhd,bkjhd->bjhik", qh, kh) / math.sqrt(d)
    return torch.einsum("bjhik,bkjhd->bijhd", att.softmax(-1), vh).reshape(b, t, j, c)


@pytest.mark.parametrize("mode", ["spatial", "temporal"])
@pytest.mark.parametrize("cross", [False, True])
def test_token_attention_matches_manual(mode, cross):
    torch.manual_seed(0)
    att = TokenAttention(16, 4, mode, cross=cross)
    x, ctx = torch.randn(2, 5, 17, 16), torch.randn(2, 5, 17, 16)
    if cross:
        q = att.q(x)
        k, v = att.kv(ctx).chunk(2, dim=-1)
        got = att(x, ctx)
    else:
        q, k, v = att.qkv(x).chunk(3, dim=-1)
        got = att(x)
    want = att.proj(_manual_attention(q, k, v, mode, 4))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    scale = torch.rand(16)
    torch.testing.assert_close(att(x, ctx if cross else None, scale), scale * got)


def test_cross_attention_requires_context():
    with pytest.raises(ValueError, match="context"):
        TokenAttention(16, 4, "spatial", cross=True)(torch.zeros(1, 2, 17, 16))
    with pytest.raises(ValueError, match="mode"):
        TokenAttention(16, 4, "diagonal")


def test_knn_frame_graph_matches_brute_force():
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5)
    got = knn_frame_graph(x, 2)
    for b in range(3):
        sim = x[b] @ x[b].T
        adj = torch.zeros(7, 7)
        for t in range(7):
            kth = sorted(sim[t].tolist(), reverse=True)[1]
            adj[t] = (sim[t] >= kth).float()
        deg = adj.sum(1)
        want = adj / torch.sqrt(deg[:, None] * deg[None, :])
        torch.testing.assert_close(got[b], want)
    assert not got.requires_grad
    # k larger than T is clipped: every frame links to every frame
    torch.testing.assert_close(knn_frame_graph(x, 50), torch.full((3, 7, 7), 1 / 7))


def test_skeleton_adjacency_is_symmetric_with_32_links():
    adj = skeleton_adjacency()
    assert torch.equal(adj, adj.T) and adj.sum() == 32 and adj.diagonal().sum() == 0


def test_node_batch_norm_prefix_matches_sliced_batch_norm():
    torch.manual_seed(0)
    full = NodeBatchNorm(6)
    with torch.no_grad():
        full.weight.uniform_(0.5, 2)
        full.bias.uniform_(-1, 1)
    ref = nn.BatchNorm1d(4)
    with torch.no_grad():
        ref.weight.copy_(full.weight[:4])
        ref.bias.copy_(full.bias[:4])
    x = torch.randn(3, 4, 8)
    torch.testing.assert_close(full(x), ref(x))
    torch.testing.assert_close(full.running_mean[:4], ref.running_mean)
    assert torch.equal(full.running_mean[4:], torch.zeros(2))
    full.eval()
    ref.eval()
    torch.testing.assert_close(full(x), ref(x))
    with pytest.raises(ValueError, match="6 nodes"):
        full(torch.randn(3, 7, 8))


def test_temporal_graph_mixer_batch_norm_is_per_frame():
    torch.manual_seed(0)
    gcn = GraphMixer(8, "temporal", 5, neighbours=2)
    x = torch.randn(2, 5, 17, 8)
    out = gcn(x)
    # reference: official layout (B*J, T, C) with BatchNorm1d(T)
    xt = x.transpose(1, 2).reshape(-1, 5, 8)
    agg = knn_frame_graph(xt, 2) @ gcn.V(xt) + gcn.U(xt)
    bn = nn.BatchNorm1d(5)
    want = F.relu(xt + bn(agg)).reshape(2, 17, 5, 8).transpose(1, 2)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)


# ---- block, MLP and layer ----


def test_recomputing_mlp_matches_plain_autograd():
    torch.manual_seed(0)
    mlp = Mlp(6, 12).double()
    scale = torch.rand(6, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    got = mlp(x, out_scale=scale)
    want = scale * mlp.fc2(F.gelu(mlp.fc1(x)))
    torch.testing.assert_close(got, want)
    params = [x, scale, *mlp.parameters()]
    g_got = torch.autograd.grad(got.sin().sum(), params)
    g_want = torch.autograd.grad(want.sin().sum(), params)
    for a, b in zip(g_got, g_want):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        torch.testing.assert_close(mlp(x, out_scale=scale), want)


def test_former_block_equals_unfolded_formula():
    torch.manual_seed(0)
    block = FormerBlock(16, TokenAttention(16, 4, "spatial"))
    with torch.no_grad():
        block.layer_scale_1.uniform_(0.5, 1.5)
        block.layer_scale_2.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 17, 16)
    h = x + block.layer_scale_1 * block.mixer(block.norm1(x))
    m = block.mlp
    want = h + block.layer_scale_2 * m.fc2(F.gelu(m.fc1(block.norm2(h))))
    torch.testing.assert_close(block(x), want, rtol=1e-5, atol=1e-5)


def test_anatomy_layer_starts_as_equal_blend():
    torch.manual_seed(0)
    layer = AnatomyLayer(16, 4, n_frames=5, neighbours=2).eval()
    x, limbs, bone = (torch.randn(2, 5, 17, 16) for _ in range(3))
    with torch.no_grad():
        out = layer(x, limbs, query=bone)
        a = layer.att_temporal(layer.att_spatial(x))
        g = layer.graph_temporal(layer.graph_spatial(x))
        c = layer.bone_temporal(layer.bone_spatial(bone, limbs), limbs)
    torch.testing.assert_close(out, (a + g + c) / 3, rtol=1e-5, atol=1e-6)


def test_recomputing_mlp_under_autocast_returns_input_dtype_grads():
    mlp = Mlp(8, 16)
    x = torch.randn(4, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = mlp(x, out_scale=torch.ones(8))
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32 and mlp.fc1.weight.grad.dtype == torch.float32
    assert torch.isfinite(mlp.fc2.weight.grad).all()
