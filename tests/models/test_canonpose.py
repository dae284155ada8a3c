import math

import pytest
import torch
import torch.nn.functional as F

from liftbench.models import create_lifter, get_lifter_entry
from liftbench.models.canonpose import CanonPoseLifter, rotate, rotation_matrix


def _input(b=2, t=4, j=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, j, 3, generator=g)
    x[..., :2] -= x[..., :1, :2]
    x[..., :2] /= torch.linalg.matrix_norm(x[..., :2], dim=(-2, -1), keepdim=True)
    x[..., 2] = torch.rand(b, t, j, generator=g)
    return x


def test_param_counts():
    with torch.device("meta"):
        paper = create_lifter("canonpose")
        official16 = create_lifter("canonpose", num_joints=16)
    assert sum(p.numel() for p in official16.parameters()) == 10_598_451
    assert get_lifter_entry("canonpose").paper_params == 10_598_451
    n17 = sum(p.numel() for p in paper.parameters())
    assert n17 == 10_604_598 and abs(n17 / 10_598_451 - 1) < 0.005


def test_layer_shapes_follow_the_official_network():
    m = CanonPoseLifter(num_joints=16)
    assert m.upscale.in_features == 48 and m.pose3d.out_features == 48
    assert m.enc_rot.out_features == 3 and len(m.pose_blocks) == len(m.cam_blocks) == 2


def test_matches_flat_reference_implementation():
    torch.manual_seed(0)
    m = create_lifter("canonpose", size="tiny").eval()
    x = _input()
    pose, rotvec = m.forward_with_rotation(x)
    # reference on the official flat layout [x.., y.., conf..] -> [x.., y.., z..], frame by frame
    flat = torch.cat([x[..., 0], x[..., 1], x[..., 2]], dim=-1)

    def res(block, h):
        return h + F.leaky_relu(block.l2(F.leaky_relu(block.l1(h))))

    h = F.leaky_relu(res(m.res_common, m.upscale(flat)))
    hp = F.leaky_relu(res(m.pose_blocks[1], F.leaky_relu(res(m.pose_blocks[0], h))))
    hc = F.leaky_relu(res(m.cam_blocks[1], F.leaky_relu(res(m.cam_blocks[0], h))))
    p = m.pose3d(hp)
    want_pose = torch.stack([p[..., :17], p[..., 17:34], p[..., 34:]], dim=-1)
    torch.testing.assert_close(pose, want_pose)
    torch.testing.assert_close(rotvec, m.enc_rot(hc))


def test_forward_is_rotated_canonical_pose():
    torch.manual_seed(0)
    m = create_lifter("canonpose", size="tiny")
    x = _input()
    pose, rotvec = m.forward_with_rotation(x)
    cam = m(x)
    assert cam.shape == (2, 4, 17, 3)
    r = rotation_matrix(rotvec)
    want = torch.einsum("btik,btjk->btji", r, pose)
    torch.testing.assert_close(cam, want, rtol=1e-5, atol=1e-6)
    # rotations keep bone lengths
    torch.testing.assert_close(cam.norm(dim=-1), pose.norm(dim=-1), rtol=1e-5, atol=1e-6)


def test_rotation_helpers():
    rv = torch.tensor([0.0, 0.0, math.pi / 2])
    r = rotation_matrix(rv)
    torch.testing.assert_close(r @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]))
    p = torch.tensor([[[[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]]])  # (1, 1, 2, 3)
    out = rotate(p, rv.view(1, 1, 3))
    torch.testing.assert_close(out, torch.tensor([[[[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]]]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rotation_matrix(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="rotvec"):
        rotate(p, torch.zeros(1, 2, 3))


def test_confidence_is_used():
    torch.manual_seed(0)
    m = create_lifter("canonpose", size="tiny")
    x = _input()
    x2 = x.clone()
    x2[..., 2] = 1.0
    assert m.uses_confidence and not torch.allclose(m(x), m(x2))


def test_gradients_and_frame_independence():
    torch.manual_seed(0)
    m = create_lifter("canonpose", size="tiny").train()
    x = _input()
    pose, rotvec = m.forward_with_rotation(x)
    (pose.square().mean() + rotvec.square().mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    # no normalisation layers: even in train mode, frames and items do not interact
    x2 = x.clone()
    x2[1] = _input(seed=3)[1]
    x2[0, 1:] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(m(x2)[0, 0], m(x)[0, 0])


@pytest.mark.parametrize("shape", [(2, 4, 16, 3), (2, 4, 17, 2), (4, 17, 3)])
def test_bad_input(shape):
    m = create_lifter("canonpose", size="tiny")
    with pytest.raises(ValueError, match=r"\(B, T, 17, 3\)"):
        m(torch.zeros(shape))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="width"):
        CanonPoseLifter(width=0)
