"""Multi-hypothesis aggregations and metrics: official D3DP fixture and a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liftbench.bench.metrics import multihypothesis as mh

TOL = 1e-5


# --------------------------------------------------------------------- independent numpy reference
def ref_select(hyps: np.ndarray, target: np.ndarray, how: str, reproj=None, x2d=None):
    """(B, H, T, J, 3) → pose (B, T, J, 3), written with explicit loops over the samples."""
    b, h, t, j, _ = hyps.shape
    out = np.zeros((b, t, j, 3))
    for i in range(b):
        if how == "p_agg":
            out[i] = hyps[i].mean(0)
        elif how == "p_best":
            means = [np.sqrt(((hyps[i, k] - target[i]) ** 2).sum(-1)).mean() for k in range(h)]
            out[i] = hyps[i, int(np.argmin(means))]
        else:
            for f in range(t):
                for n in range(j):
                    if how == "j_best":
                        d = [np.linalg.norm(hyps[i, k, f, n] - target[i, f, n]) for k in range(h)]
                    else:
                        d = [np.linalg.norm(reproj[i, k, f, n] - x2d[i, f, n]) for k in range(h)]
                    out[i, f, n] = hyps[i, int(np.argmin(d)), f, n]
    return out


def ref_mpjpe(pose: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(((pose - target) ** 2).sum(-1)).mean())


def _random(seed: int = 0, b: int = 3, h: int = 4, t: int = 5):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(b, t, 17, 3, generator=g, dtype=torch.float64) * 100
    hyps = target[:, None] + torch.randn(b, h, t, 17, 3, generator=g, dtype=torch.float64) * 30
    x2d = torch.randn(b, t, 17, 2, generator=g, dtype=torch.float64)
    return hyps, target, x2d


@pytest.mark.parametrize("how", mh.AGGREGATIONS)
def test_functional_and_metric_class_match_the_numpy_reference(how):
    hyps, target, x2d = _random()
    reproj = mh.reproject_25d(hyps / 100, x2d)
    want = ref_select(hyps.numpy(), target.numpy(), how, reproj.numpy(), x2d.numpy())
    got = mh.aggregate(hyps, how, target, reproj, x2d)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    value = mh.multi_hypothesis_error(hyps, target, how, reproj_2d=reproj, input_2d=x2d)
    assert value.item() == pytest.approx(ref_mpjpe(want, target.numpy()), rel=1e-10)
    metric = mh.MultiHypothesisError(how, num_groups=2)
    metric.update(hyps[:2], target[:2], groups=torch.tensor([0, 1]), reproj_2d=reproj[:2],
                  input_2d=x2d[:2])  # fmt: skip
    metric.update(hyps[2:], target[2:], groups=torch.tensor([1]), reproj_2d=reproj[2:],
                  input_2d=x2d[2:])  # fmt: skip
    assert metric.compute().item() == pytest.approx(ref_mpjpe(want, target.numpy()), rel=1e-10)
    groups = metric.compute_groups()
    assert groups[0].item() == pytest.approx(ref_mpjpe(want[:1], target[:1].numpy()), rel=1e-10)
    assert groups[1].item() == pytest.approx(ref_mpjpe(want[1:], target[1:].numpy()), rel=1e-10)


def test_oracles_bound_the_aggregations_and_need_the_target():
    hyps, target, x2d = _random(1)
    reproj = mh.reproject_25d(hyps / 100, x2d)
    err = {a: mh.multi_hypothesis_error(hyps, target, a, reproj_2d=reproj, input_2d=x2d).item()
           for a in mh.AGGREGATIONS}  # fmt: skip
    assert err["j_best"] <= err["p_best"] and err["j_best"] <= err["j_agg"]
    with pytest.raises(ValueError, match="oracle"):
        mh.aggregate(hyps, "j_best")
    with pytest.raises(ValueError, match="j_agg needs"):
        mh.aggregate(hyps, "j_agg", target)
    with pytest.raises(ValueError, match="aggregation must be one of"):
        mh.MultiHypothesisError("mean")
    with pytest.raises(ValueError, match=r"\(B, H, T, J, 3\)"):
        mh.p_agg(target)


def test_reproject_25d_is_exact_for_a_consistent_pose():
    """A 2.5D pose whose x, y are the 2D input minus its root reprojects onto the input."""
    g = torch.Generator().manual_seed(2)
    x2d = torch.rand(2, 4, 17, 2, generator=g)
    pose = torch.cat([x2d - x2d[..., :1, :], torch.rand(2, 4, 17, 1, generator=g)], -1)
    torch.testing.assert_close(mh.reproject_25d(pose[:, None], x2d)[:, 0], x2d)


def test_p_best_per_sample_and_per_batch():
    hyps, target, _ = _random(3, b=4, h=3)
    pose_s, idx_s = mh.p_best(hyps, target, per="sample")
    pose_b, idx_b = mh.p_best(hyps, target, per="batch")
    assert idx_s.shape == (4,) and idx_b.shape == ()
    assert torch.equal(pose_b, hyps[:, idx_b])
    assert mh.multi_hypothesis_error(hyps, target, "p_best").item() <= \
        float(torch.linalg.vector_norm(pose_b - target, dim=-1).mean())


# --------------------------------------------------------------------- official D3DP evaluation
@pytest.fixture(scope="module")
def io(shared_data):
    path = shared_data / "official" / "d3dp_io.npz"
    if not path.is_file():
        pytest.skip(f"D3DP official-code fixture not found at {path}")
    with np.load(path) as data:
        return {k: torch.from_numpy(data[k]) for k in data.files}


@pytest.mark.parametrize(("prefix", "k_steps"), [("", 2), ("k3_", 3)])
def test_the_four_official_aggregations_are_reproduced(io, prefix, k_steps):
    hyps_all, gt, x2d = io[f"{prefix}y_root0"], io["gt_3d"], io["x"]
    root0 = io[f"{prefix}y"].clone()
    root0[..., 0, :] = 0
    assert torch.equal(root0, hyps_all)
    reproj = mh.project_h36m(hyps_all + io["traj"][:, None, None], io["cam_intrinsic"])
    assert (reproj - io[f"{prefix}reproj_2d"]).abs().max().item() <= TOL

    def err(pose):
        return torch.linalg.vector_norm(pose - gt, dim=-1).mean().item()

    for k in range(k_steps):
        hyps = hyps_all[:, k]
        pose, index = mh.j_best(hyps, gt)
        assert torch.equal(index, io[f"{prefix}jbest_index"][:, k])
        assert (pose - io[f"{prefix}pose_jbest"][:, k]).abs().max().item() <= TOL
        assert err(pose) == pytest.approx(io[f"{prefix}err_jbest"][k].item(), abs=TOL)
        pose, index = mh.p_best(hyps, gt, per="batch")
        assert int(index) == int(io[f"{prefix}pbest_index"][k])
        assert (pose - io[f"{prefix}pose_pbest"][:, k]).abs().max().item() <= TOL
        assert err(pose) == pytest.approx(io[f"{prefix}err_pbest"][k].item(), abs=TOL)
        pose = mh.p_agg(hyps)
        assert (pose - io[f"{prefix}pose_pagg"][:, k]).abs().max().item() <= TOL
        assert err(pose) == pytest.approx(io[f"{prefix}err_pagg"][k].item(), abs=TOL)
        pose, index = mh.j_agg(hyps, reproj[:, k], x2d)
        assert torch.equal(index, io[f"{prefix}jagg_index"][:, k])
        assert (pose - io[f"{prefix}pose_jagg"][:, k]).abs().max().item() <= TOL
        assert err(pose) == pytest.approx(io[f"{prefix}err_jagg"][k].item(), abs=TOL)
        # the official Protocol-2 P-Agg is the PA-MPJPE of the mean pose
        pa = mh.multi_hypothesis_error(hyps.double(), gt.double(), "p_agg", "pa_mpjpe")
        assert pa.item() == pytest.approx(io[f"{prefix}err_p2_pagg"][k].item(), abs=TOL)


@pytest.mark.ddp
def test_two_process_ddp_equals_single_process(tmp_path):
    import json

    import torch.multiprocessing as mp

    from tests._ddp_multihypothesis import multihypothesis_data, multihypothesis_worker
    from tests._ddp_workers import free_port

    out = tmp_path / "rank0.json"
    mp.start_processes(multihypothesis_worker, args=(2, free_port(), str(out)), nprocs=2,
                       start_method="spawn")
    got = json.loads(out.read_text())
    hyps, target, mask, groups, reproj, x2d = multihypothesis_data()
    for agg in mh.AGGREGATIONS:
        want = mh.multi_hypothesis_error(hyps, target, agg, reproj_2d=reproj, input_2d=x2d,
                                         mask=mask)  # fmt: skip
        assert got[agg] == pytest.approx(want.item(), abs=1e-9), agg
