"""`regime=selffusion` (CanonPose → CVSF): losses per stage, rotation head, bad input, CLI fit."""

from __future__ import annotations

import warnings

import pytest
import roma
import torch

from liftbench.bench.cli import main
from liftbench.bench.regimes import regime_class
from liftbench.leaderboard.records import read_records
from liftbench.losses.canonical import canonicalize_2d

B, V, T, J = 2, 3, 4, 17


def _regime(lifter="canonpose", **kwargs):
    return regime_class("selffusion")(lifter=lifter, size="tiny", flip_tta=False, **kwargs)


def _batch(v=V, seed=0, low_conf=True):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(B, 1, T, J, 3, generator=g) * 0.2
    rot = roma.rotvec_to_rotmat(torch.randn(B, v, 1, 3, generator=g) * 0.6)
    cam = torch.einsum("bvtkl,bvtjl->bvtjk", rot.expand(B, v, T, 3, 3), pose.expand(B, v, T, J, 3))
    conf = torch.full((B, v, T, J, 1), 0.95)
    if low_conf:
        conf[:, 0, :, 13] = 0.3  # refined by the fusion module
    return {
        "input": torch.cat((cam[..., :2], conf), -1), "target": cam - cam[..., :1, :],
        "valid": torch.ones(B, v, T, J, dtype=bool), "factor": torch.ones(B, v, T),
        "action": torch.zeros(B, dtype=torch.long),
    }


def _step(regime, batch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a Trainer
        return regime.training_step(batch, 0)


@pytest.mark.parametrize("lifter", ["canonpose", "motionagformer_xs", "simplebaseline"])
def test_training_step_finite_with_gradients(lifter):
    regime = _regime(lifter)
    loss = _step(regime, _batch())
    loss.backward()
    grads = [p.grad for p in regime.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and loss > 0 and grads
    assert all(torch.isfinite(g).all() for g in grads)
    if lifter == "motionagformer_xs":  # rotation head on the lifter's features
        assert regime.rot_head is not None and regime.rot_head.weight.grad is not None
    if lifter == "simplebaseline":  # forward only: a separate rotation MLP on the 2D
        assert regime.rot_head is None and regime.rot_net[-1].weight.grad is not None


def test_fusion_and_second_pass_change_the_loss():
    torch.manual_seed(0)
    full = _regime(stage2_epoch=0)  # stage-2 weights: fusion terms at weight 1
    base = _regime(stage2_epoch=0, fusion={"enabled": False}, two_stage=False)
    base.load_state_dict(full.state_dict())
    batch = _batch(seed=1)
    assert full.current_stage() == 2 and not _regime().current_stage() == 2
    assert not torch.isclose(_step(full, batch), _step(base, batch))


def test_prediction_is_camera_frame_in_input_units():
    regime = _regime()
    x = _batch(seed=2)["input"][:, 0]
    pred = regime.predict_pose(x)
    assert pred.shape == (B, T, J, 3) and torch.all(pred[..., 0, :] == 0)
    # scale equivariance: the canonical lifter sees the same input, the output scales with it
    big = x.clone()
    big[..., :2] = big[..., :2] * 3 + 0.5
    assert torch.allclose(regime.predict_pose(big), 3 * pred, atol=1e-4)


def test_lifter_without_features_gets_a_rotation_mlp_starting_at_identity():
    regime = _regime("simplebaseline", rot_width=16)
    assert regime.rot_head is None and regime.rot_net[1].in_features == 3 * J
    regime.eval()
    x = _batch()["input"][:, 0]
    pose, rot = regime.pose_and_rotation(x)
    assert pose.shape == (B, T, J, 3) and rot.shape == (B, T, 3, 3)
    assert torch.allclose(rot, torch.eye(3).expand(B, T, 3, 3))
    assert torch.allclose(pose, regime.lifter(x))


def test_single_view_and_missing_confidence():
    regime = _regime()
    with pytest.raises(ValueError, match=r"multi-view.*V >= 2"):
        regime.training_step(_batch(v=1), 0)
    batch = _batch(seed=3)
    batch["input"] = batch["input"][..., :2]
    with pytest.warns(UserWarning, match="confidence 1.0"):
        loss = regime.training_step(batch, 0)
    assert torch.isfinite(loss)


def test_bad_loss_keys():
    with pytest.raises(ValueError, match="unknown key stage1.bogus"):
        _regime(loss={"stage1": {"bogus": 1.0}})
    with pytest.raises(ValueError, match="unknown key w_rep .*valid: stage1, stage2"):
        _regime(loss={"w_rep": 1.0})


def test_cli_fit_canonpose_with_stage_switch(tmp_path):
    args = [
        "fit", "model=canonpose", "size=tiny", "regime=selffusion",
        "data.kwargs.motions=[walk,dance_a,run,kick]", "data.kwargs.subjects=1",
        "data.kwargs.cameras=3", "data.kwargs.views=3", "data.kwargs.train_on=adapt",
        "data.kwargs.noise=hard", f"data.kwargs.cache_dir={tmp_path / 'cache'}",
        "data.batch_size=8", "trainer.limit_train_batches=2", "trainer.max_epochs=2",
        "regime.stage2_epoch=1", f"output_dir={tmp_path / 'runs'}",
        f"results_dir={tmp_path / 'results'}", "logger=none",
    ]
    assert main(args) == 0
    (record,) = read_records(tmp_path / "results")
    assert record.regime["name"] == "selffusion"
    assert record.metrics["n_mpjpe"] > 0
    # the fusion's JDR on the test takes, from the run's config and checkpoint
    from liftbench.bench.config import compose
    from liftbench.bench.fusion_jdr import fusion_jdr

    cfg = compose(args[1:])
    ckpt = tmp_path / "runs" / record.run_id / "checkpoints" / "best.ckpt"
    res = fusion_jdr(cfg, ckpt, rate=0.3)
    assert 0 <= res["fusion/jdr_input"] <= 100 and 0 <= res["fusion/jdr_refined"] <= 100
    assert res["fusion/jdr_miss_input"] == pytest.approx(100 - res["fusion/jdr_input"])
    assert res["fusion/refined_joint_fraction"] > 0  # the injected outliers were refined
    # outliers lower the input JDR (the measurement sees them)
    clean = fusion_jdr(cfg, ckpt, rate=0.0)
    assert clean["fusion/jdr_input"] > res["fusion/jdr_input"]


def test_standardised_checkpoint_predicts_as_in_its_own_regime():
    """A supervised (standardised) CanonPose predicts here what it predicts in its own regime.

    The output statistics are per camera-frame coordinate, so they apply to R·P (not to the
    canonical P), and the lifter sees the 2D where it lies in the input.
    """
    torch.manual_seed(0)
    regime = _regime()
    g = torch.Generator().manual_seed(4)
    inputs = torch.randn(64, T, J, 3, generator=g) * 0.1 + 0.3
    targets = torch.randn(64, T, J, 3, generator=g) * torch.tensor([0.05, 0.1, 0.2]) + 0.1
    regime.fit_normalizer(inputs, targets)
    with torch.no_grad():  # a lifter whose rotation branch is far from the identity
        regime.lifter.enc_rot.bias.copy_(torch.tensor([0.6, -0.9, 0.4]))
    regime.eval()
    x = _batch(seed=5)["input"][:, 0]
    with torch.no_grad():
        expected = regime.standalone_lifter()(x)
        pred = regime.predict_pose(x)
        # the canonical pose is still canonical: R·P has the 2D's size (weak perspective)
        canon, root, norm = canonicalize_2d(x[..., :2])
        pose, rot = regime.pose_and_rotation(torch.cat((canon, x[..., 2:]), -1), root, norm)
        fallback, _ = regime.pose_and_rotation(torch.cat((canon, x[..., 2:]), -1))
    assert torch.allclose(pred, expected - expected[..., :1, :], atol=1e-5)
    assert torch.allclose(pose @ rot.transpose(-1, -2) * norm[..., None, None], expected, atol=1e-5)
    assert fallback.shape == (B, T, J, 3) and torch.isfinite(fallback).all()


def test_supervised_term_makes_the_regime_read_3d_labels():
    assert not _regime().uses_3d_labels
    assert _regime(loss={"stage1": {"sup": 1.0}}).uses_3d_labels
    assert _regime(loss={"stage2": {"sup": 0.5}}).uses_3d_labels
