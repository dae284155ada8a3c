import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from liftbench.bench.metrics import functional as F

# ---------------------------------------------------------------- independent numpy references


def ref_similarity(p, q):
    """Umeyama on one (N, 3) set by np.linalg.svd with the reflection fix; returns aligned p."""
    mp, mq = p.mean(0), q.mean(0)
    pc, qc = p - mp, q - mq
    u, sig, vt = np.linalg.svd(qc.T @ pc)
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[2] = -1
    r = u @ np.diag(d) @ vt
    s = (sig * d).sum() / (pc**2).sum()
    return s * pc @ r.T + mq


def ref_errors(pred, target, metric, valid):
    """Per-(frame, joint) errors with python loops over frames; NaN where not valid."""
    pred, target = np.asarray(pred, float), np.asarray(target, float)
    if metric == "mpjve":
        pred, target = np.diff(pred, axis=-3), np.diff(target, axis=-3)
        valid = valid[..., 1:, :] & valid[..., :-1, :]
    lead = pred.shape[:-3]
    out = np.full(pred.shape[:-1], np.nan)
    for idx in np.ndindex(*lead):
        p, q, v = pred[idx], target[idx], valid[idx]
        if metric == "spa_mpjpe" and v.any():
            flat = ref_similarity(p[v], q[v])
            out[idx][v] = np.linalg.norm(flat - q[v], axis=-1)
            continue
        for t in range(p.shape[0]):
            vt = v[t]
            if not vt.any():
                continue
            pt, qt = p[t][vt], q[t][vt]
            if metric == "pa_mpjpe":
                pt = ref_similarity(pt, qt)
            elif metric == "n_mpjpe":
                pt = pt * (pt * qt).sum() / (pt * pt).sum()
            out[idx][t, vt] = np.linalg.norm(pt - qt, axis=-1)
    return out


def sample(rng, lead=(3, 8), j=17, noise=40.0, mirror=True):
    pred = rng.normal(size=(*lead, j, 3)) * np.array([150.0, 400.0, 100.0])
    target = pred + rng.normal(size=pred.shape) * noise
    if mirror:  # reflection-prone: first sequence's target is the mirrored prediction + noise
        target[0] = target[0] * np.array([-1.0, 1.0, 1.0])
    return pred, target


def rot(axis_angle):
    return torch.from_numpy(Rotation.from_rotvec(axis_angle).as_matrix())


# ---------------------------------------------------------------- agreement with the references


@pytest.mark.parametrize("metric", F.METRICS)
def test_joint_errors_match_numpy_reference(metric):
    rng = np.random.default_rng(0)
    pred, target = sample(rng)
    valid = np.ones(pred.shape[:-1], bool)
    got = F.joint_errors(torch.from_numpy(pred), torch.from_numpy(target), metric).numpy()
    np.testing.assert_allclose(got, ref_errors(pred, target, metric, valid), atol=1e-5, rtol=0)


@pytest.mark.parametrize("metric", F.METRICS)
def test_masked_joint_subset_matches_reference(metric):
    rng = np.random.default_rng(1)
    pred, target = sample(rng)
    mask = rng.uniform(size=pred.shape[:-1]) > 0.2
    mask[1, 2] = False  # a frame with no valid joint
    target[2, 3, 4] = np.nan  # NaN target joint: treated as masked
    pred[0, 1, 6] = np.nan  # NaN pred at a masked joint: must not poison anything
    mask[0, 1, 6] = False
    joints = [j for j in range(17) if j not in (9, 10)]  # without nose and head (Suzuki et al.)
    valid = mask & ~np.isnan(target).any(-1)
    valid[..., [9, 10]] = False
    got = F.joint_errors(
        torch.from_numpy(pred), torch.from_numpy(target), metric, torch.from_numpy(mask), joints
    ).numpy()
    ref = ref_errors(np.nan_to_num(pred), np.nan_to_num(target), metric, valid)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    fn = getattr(F, metric)
    args = (torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(mask), joints)
    mean = fn(*args).item()
    assert np.isfinite(mean)
    np.testing.assert_allclose(mean, np.nanmean(ref), atol=1e-5)
    per_frame = fn(*args, reduction="none").numpy()
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmean(ref, axis=-1)
    assert per_frame.shape == ref.shape[:-1]
    np.testing.assert_allclose(per_frame, expected, atol=1e-5, equal_nan=True)
    if metric != "mpjve":
        assert np.isnan(per_frame[1, 2])


def test_float32_inputs_keep_dtype_and_accuracy():
    rng = np.random.default_rng(2)
    pred, target = sample(rng)
    p32, t32 = torch.from_numpy(pred).float(), torch.from_numpy(target).float()
    out = F.pa_mpjpe(p32, t32)
    assert out.dtype == torch.float32 and out.ndim == 0
    ref = np.nanmean(ref_errors(p32.double().numpy(), t32.double().numpy(), "pa_mpjpe",
                                np.ones(pred.shape[:-1], bool)))  # fmt: skip
    np.testing.assert_allclose(out.item(), ref, rtol=1e-6)


def test_pck_auc_jdr_match_reference():
    rng = np.random.default_rng(3)
    pred, target = sample(rng, noise=80.0, mirror=False)
    mask = rng.uniform(size=pred.shape[:-1]) > 0.1
    err = np.linalg.norm(pred - target, axis=-1)[mask]
    p, t, m = torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(mask)
    np.testing.assert_allclose(F.pck(p, t, mask=m).item(), 100 * (err < 150).mean(), atol=1e-10)
    np.testing.assert_allclose(
        F.pck(p, t, 100.0, mask=m).item(), 100 * (err < 100).mean(), atol=1e-10
    )
    thr = np.linspace(0, 150, 31)
    np.testing.assert_allclose(
        F.auc(p, t, mask=m).item(), 100 * np.mean([(err < k).mean() for k in thr]), atol=1e-10
    )
    p2, t2 = pred[..., 0, :, :2], target[..., 0, :, :2]  # (3, 17, 2)
    head = rng.uniform(50, 200, size=(3,))
    m2 = mask[:, 0]
    err2 = np.linalg.norm(p2 - t2, axis=-1)
    ref = 100 * (err2 < 0.5 * head[:, None])[m2].mean()
    got = F.jdr(torch.from_numpy(p2), torch.from_numpy(t2), torch.from_numpy(head), mask=m2)
    np.testing.assert_allclose(got.item(), ref, atol=1e-10)
    assert 0.0 < ref < 100.0


# ---------------------------------------------------------------- properties (hypothesis)

finite = st.floats(-3.0, 3.0, allow_nan=False)
vec3 = st.tuples(finite, finite, finite)


def _poses(seed, t=4):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(t, 17, 3, generator=g, dtype=torch.float64) * 200
    return p, p + torch.randn(t, 17, 3, generator=g, dtype=torch.float64) * 30


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), vec3, st.floats(0.2, 5.0), vec3)
def test_pa_mpjpe_invariant_to_similarity_of_prediction(seed, axis, scale, shift):
    p, q = _poses(seed)
    # a different similarity per frame: PA aligns each frame on its own
    moved = scale * p @ rot(np.array(axis)).T + torch.tensor(shift) * 1000
    moved = torch.cat((moved[:2], p[2:] * 0.5), dim=0)
    np.testing.assert_allclose(F.pa_mpjpe(moved, q), F.pa_mpjpe(p, q), atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), vec3, st.floats(0.2, 5.0), vec3)
def test_spa_mpjpe_sequence_invariant_not_per_frame(seed, axis, scale, shift):
    p, q = _poses(seed)
    r = rot(np.array(axis))
    moved = scale * p @ r.T + torch.tensor(shift) * 1000
    np.testing.assert_allclose(F.spa_mpjpe(moved, q), F.spa_mpjpe(p, q), atol=1e-8)
    per_frame = torch.cat((p[:1] @ rot(np.array([0.0, 1.2, 0.0])).T, p[1:]), dim=0)
    assert F.spa_mpjpe(per_frame, q) > F.spa_mpjpe(p, q) + 1.0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_n_mpjpe_scale_invariant_not_rotation(seed, scale):
    p, q = _poses(seed)
    np.testing.assert_allclose(F.n_mpjpe(scale * p, q), F.n_mpjpe(p, q), atol=1e-8)
    turned = p @ rot(np.array([0.0, 0.0, 0.8])).T
    assert F.n_mpjpe(turned, q) > F.n_mpjpe(p, q) + 1.0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(F.METRICS))
def test_identical_poses_give_zero(seed, metric):
    p, _ = _poses(seed)
    assert getattr(F, metric)(p, p.clone()).item() == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(F.METRICS))
def test_masked_garbage_never_changes_result(seed, metric):
    p, q = _poses(seed)
    mask = torch.ones(p.shape[:-1], dtype=torch.bool)
    mask[:, 3] = False
    base = getattr(F, metric)(p, q, mask=mask)
    p2, q2 = p.clone(), q.clone()
    p2[:, 3] = torch.nan
    q2[:, 3] = 1e6
    assert torch.isfinite(base)
    np.testing.assert_allclose(getattr(F, metric)(p2, q2, mask=mask), base, atol=1e-9)


# ---------------------------------------------------------------- gradients and errors


@pytest.mark.parametrize("metric", F.METRICS)
def test_gradient_finite_at_degenerate_input(metric):
    q = torch.randn(2, 5, 17, 3, dtype=torch.float64) * 100
    for pred in (q.clone(), torch.zeros_like(q), torch.ones_like(q)):
        x = pred.requires_grad_()
        (g,) = torch.autograd.grad(getattr(F, metric)(x, q), x)
        assert torch.isfinite(g).all()


def test_reduction_shapes_and_empty_validity():
    p, q = _poses(0)
    assert F.mpjpe(p, q).shape == ()
    assert F.mpjpe(p[None], q[None], reduction="none").shape == (1, 4)
    assert F.mpjve(p, q, reduction="none").shape == (3,)
    nothing = torch.zeros(p.shape[:-1], dtype=torch.bool)
    assert torch.isnan(F.pa_mpjpe(p, q, mask=nothing))
    assert torch.isnan(F.pck(p, q, mask=nothing))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": torch.zeros(4, 16, 3)}, "same shape"),
        ({"pred": torch.zeros(17, 3), "target": torch.zeros(17, 3)}, r"pred must have shape"),
        ({"pred": torch.zeros(4, 17, 2), "target": torch.zeros(4, 17, 2)}, "pred must have shape"),
        ({"pred": torch.zeros(0, 17, 3), "target": torch.zeros(0, 17, 3)}, "empty"),
        ({"reduction": "sum"}, "reduction"),
        ({"joints": [0, 17]}, "joints"),
        ({"joints": [-1]}, "joints"),
        ({"mask": torch.ones(4, 17)}, "mask"),
        ({"mask": torch.ones(4, 16, dtype=torch.bool)}, "mask"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    args = {"pred": torch.zeros(1, 4, 17, 3), "target": torch.ones(1, 4, 17, 3)}
    if "target" in kwargs and "pred" not in kwargs:
        args["pred"] = torch.zeros(4, 17, 3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        F.mpjpe(**args)


def test_inf_and_nan_prediction_raise():
    q = torch.zeros(1, 4, 17, 3)
    p = torch.zeros(1, 4, 17, 3)
    p[0, 1, 2, 0] = torch.inf
    with pytest.raises(ValueError, match="pred must not contain inf"):
        F.pa_mpjpe(p, q)
    with pytest.raises(ValueError, match="target must not contain inf"):
        F.pa_mpjpe(q, p)
    p[0, 1, 2, 0] = torch.nan
    with pytest.raises(ValueError, match="pred has NaN"):
        F.mpjpe(p, q)
    with pytest.raises(ValueError, match="metric"):
        F.joint_errors(q, q, "mpjpe2")
    with pytest.raises(ValueError, match="T >= 2"):
        F.mpjve(q[:, :1], q[:, :1])
    with pytest.raises(ValueError, match="head_size"):
        F.jdr(q[..., :2], q[..., :2], torch.zeros(1, 4))
    with pytest.raises(ValueError, match="head_size"):
        F.jdr(q[..., :2], q[..., :2], torch.ones(4))
    with pytest.raises(ValueError, match="threshold"):
        F.pck(q, q, threshold=-1.0)


@pytest.mark.parametrize("metric", ["pa_mpjpe", "spa_mpjpe"])
def test_chunked_thread_pool_path_matches_reference(metric, monkeypatch):
    monkeypatch.setattr(F, "_CHUNK_FRAMES", 8)  # many chunks: the worker-pool path runs
    threads = torch.get_num_threads()
    rng = np.random.default_rng(9)
    pred, target = sample(rng, lead=(5, 6))
    mask = rng.uniform(size=pred.shape[:-1]) > 0.2
    got = F.joint_errors(
        torch.from_numpy(pred), torch.from_numpy(target), metric, torch.from_numpy(mask)
    ).numpy()
    np.testing.assert_allclose(got, ref_errors(pred, target, metric, mask), atol=1e-5, rtol=0)
    assert torch.get_num_threads() == threads  # the temporary single-thread setting is undone
    x = torch.from_numpy(pred).requires_grad_()
    (g,) = torch.autograd.grad(getattr(F, metric)(x, torch.from_numpy(target)), x)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_perf_metrics_module_runs_and_agrees(capsys):
    import argparse

    from liftbench.bench.perf import metrics as perf

    parser = argparse.ArgumentParser()
    perf.add_arguments(parser)
    out = perf.run(parser.parse_args(["--poses", "3000", "--loop-poses", "500", "--repeats", "1"]))
    assert out["agree"] and out["max_diff_vs_batched_mm"] < 1e-6
    assert out["loop_extrapolated"] and out["poses"] == 3000
    assert "extrapolated" in capsys.readouterr().out
    pred, target = perf.realistic_poses(200, seed=1)
    ref = ref_errors(pred[None], target[None], "pa_mpjpe", np.ones((1, 200, 17), bool))
    np.testing.assert_allclose(perf.pa_mpjpe_loop(pred, target), np.nanmean(ref[0], -1), atol=1e-9)
