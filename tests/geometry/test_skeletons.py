"""Conversion maps and convert/flip/bone_lengths (geometry/joint_maps, conversions, skeletons)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liftbench.geometry.skeletons import (
    CONVERSIONS,
    H36M17,
    bone_lengths,
    convert,
    flip_keypoints,
    get_joint_set,
    get_map,
    list_conversions,
)

ALL_MAPS = list_conversions()


def _random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _dims(src: str, dst: str, variant: str) -> int:
    return CONVERSIONS[(src, dst)][variant].max_dims


# ---------------------------------------------------------------- conversion maps as data


@pytest.mark.parametrize(("src", "dst", "variant"), ALL_MAPS)
def test_map_rows_are_affine_and_indices_valid(src: str, dst: str, variant: str) -> None:
    m = get_map(src, dst, variant)
    j_src, j_dst = get_joint_set(src).num_joints, get_joint_set(dst).num_joints
    assert m.weights.shape == (m.max_dims, j_dst, j_src) and m.max_dims in (2, 3)
    assert np.allclose(m.weights.sum(-1), 1.0)
    assert m.conf_weights.shape == (j_dst, j_src)
    assert (m.conf_weights >= 0).all() and np.allclose(m.conf_weights.sum(-1), 1.0)
    assert all(0 < len(m.support(j)) and max(m.support(j)) < j_src for j in range(j_dst))


@pytest.mark.parametrize(("src", "dst", "variant"), ALL_MAPS)
def test_maps_are_translation_equivariant(src: str, dst: str, variant: str) -> None:
    dims = _dims(src, dst, variant)
    x = _random((3, get_joint_set(src).num_joints, dims))
    shift = np.array([5.0, -2.0, 7.0][:dims])
    assert np.allclose(convert(x + shift, src, dst, variant), convert(x, src, dst, variant) + shift)


@pytest.mark.parametrize(("src", "dst", "variant"), ALL_MAPS)
@pytest.mark.parametrize("axis", [0, 1])
def test_maps_are_flip_equivariant(src: str, dst: str, variant: str, axis: int) -> None:
    dims = _dims(src, dst, variant)
    x = _random((2, 3, get_joint_set(src).num_joints, dims), seed=axis)
    x = np.concatenate([x, np.random.default_rng(9).uniform(size=x.shape[:-1] + (1,))], -1)
    for reduce in ("mean", "min"):
        kw = {"has_confidence": True, "conf_reduce": reduce}
        lhs = convert(flip_keypoints(x, src, axis=axis), src, dst, variant, **kw)
        rhs = flip_keypoints(convert(x, src, dst, variant, **kw), dst, axis=axis)
        assert np.allclose(lhs, rhs)


def test_coco_variants_are_selectable_by_name_with_motionbert_default() -> None:
    assert list(CONVERSIONS[("coco17", "h36m17")]) == [
        "motionbert", "mhformer", "motionagformer", "sportspose",
    ]
    assert get_map("coco17", "h36m17").variant == "motionbert"


# ---------------------------------------------------------------- against step-by-step references


def _motionbert_reference(x: np.ndarray) -> np.ndarray:
    """coco2h36m as written in DATASETS.md §1.4a, applied to all channels."""
    y = np.zeros(x.shape[:-2] + (17, x.shape[-1]))
    y[..., 0, :] = (x[..., 11, :] + x[..., 12, :]) / 2
    y[..., [1, 2, 3, 4, 5, 6], :] = x[..., [12, 14, 16, 11, 13, 15], :]
    y[..., 8, :] = (x[..., 5, :] + x[..., 6, :]) / 2
    y[..., 7, :] = (y[..., 0, :] + y[..., 8, :]) / 2
    y[..., 9, :] = x[..., 0, :]
    y[..., 10, :] = (x[..., 1, :] + x[..., 2, :]) / 2
    y[..., [11, 12, 13, 14, 15, 16], :] = x[..., [5, 7, 9, 6, 8, 10], :]
    return y


def _mhformer_reference(kp: np.ndarray, k: float) -> np.ndarray:
    """The demo's sequential steps (DATASETS.md §1.4b) on (T, 17, 2) coordinates."""
    out = np.zeros_like(kp)
    out[:, 10, 0] = kp[:, 1:5, 0].mean(1)
    out[:, 10, 1] = kp[:, 1:3, 1].sum(1) - kp[:, 0, 1]
    thorax = kp[:, 5:7].mean(1)
    out[:, 8] = thorax + (kp[:, 0] - thorax) / 3
    out[:, 0] = kp[:, 11:13].mean(1)
    out[:, 7] = kp[:, [5, 6, 11, 12]].mean(1)
    out[:, [9, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]] = kp[:, [0, *range(5, 17)]]
    out[:, 9] -= (out[:, 9] - kp[:, 5:7].mean(1)) / 4
    out[:, 7, 0] += k * (out[:, 7, 0] - out[:, [0, 8], 0].mean(1))
    out[:, 8, 1] -= (kp[:, 1:3, 1].mean(1) - kp[:, 0, 1]) * 2 / 3
    return out


def _mhformer_scores_reference(s: np.ndarray) -> np.ndarray:
    new = np.zeros_like(s)
    new[:, [9, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]] = s[:, [0, *range(5, 17)]]
    new[:, 0] = s[:, 11:13].mean(1)
    new[:, 8] = s[:, 5:7].mean(1)
    new[:, 7] = (new[:, 0] + new[:, 8]) / 2
    new[:, 10] = s[:, 1:5].mean(1)
    return new


def _sportspose_reference(coco: np.ndarray) -> np.ndarray:
    """h36m_from_coco as described in DATASETS.md §1.4c, coordinates only."""
    h = _motionbert_reference(coco)
    h[..., 10, :] = coco[..., [3, 4], :].mean(-2)
    direction = h[..., 10, :] - h[..., 8, :]
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    reach = np.linalg.norm(h[..., 10, :] - coco[..., [1, 2], :].mean(-2), axis=-1, keepdims=True)
    h[..., 10, :] += direction * reach * 0.8
    return h


def test_motionbert_variant_matches_reference_including_confidence() -> None:
    x = _random((4, 17, 3))
    x[..., 2] = np.random.default_rng(1).uniform(size=(4, 17))
    got = convert(x, "coco17", "h36m17", has_confidence=True)
    assert np.allclose(got, _motionbert_reference(x))
    x3 = _random((2, 5, 17, 3), seed=2)
    assert np.allclose(convert(x3, "coco17", "h36m17"), _motionbert_reference(x3))


@pytest.mark.parametrize(("variant", "k"), [("mhformer", 2.0), ("motionagformer", 0.3)])
def test_mhformer_variants_match_the_sequential_demo_code(variant: str, k: float) -> None:
    kp = _random((6, 17, 2), seed=3) * 100 + 500
    scores = np.random.default_rng(4).uniform(size=(6, 17))
    got = convert(np.concatenate([kp, scores[..., None]], -1), "coco17", "h36m17", variant,
                  has_confidence=True)
    assert np.allclose(got[..., :2], _mhformer_reference(kp, k))
    assert np.allclose(got[..., 2], _mhformer_scores_reference(scores))


def test_sportspose_variant_matches_reference_in_2d_and_3d() -> None:
    for dims in (2, 3):
        x = _random((5, 17, dims), seed=dims)
        assert np.allclose(convert(x, "coco17", "h36m17", "sportspose"), _sportspose_reference(x))
    xt = torch.tensor(_random((5, 17, 3), seed=3))
    assert torch.allclose(convert(xt, "coco17", "h36m17", "sportspose"),
                          torch.tensor(_sportspose_reference(xt.numpy())))


def test_spec_index_maps() -> None:
    mpi = _random((3, 17, 3))
    h36m_from_mpi = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
    assert np.array_equal(convert(mpi, "mpi3dhp17", "h36m17"), mpi[:, h36m_from_mpi])
    mpi28 = _random((3, 28, 3), seed=1)
    relevant = [7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6]
    assert np.array_equal(convert(mpi28, "mpi3dhp28", "mpi3dhp17"), mpi28[:, relevant])
    smpl = _random((2, 24, 3), seed=2)
    got = convert(smpl, "smpl24", "h36m17")
    order = [0, 2, 5, 8, 1, 4, 7, 3, 9, 12, 15, 16, 18, 20, 17, 19, 21]
    copied = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16]
    assert np.allclose(got[:, copied], smpl[:, order][:, copied])
    shoulders = smpl[:, [16, 17]].mean(1)
    assert np.allclose(got[:, 8], shoulders + (smpl[:, 15] - shoulders) / 4)
    assert np.allclose(got[:, 7], smpl[:, [1, 2, 16, 17]].mean(1))
    asp = _random((2, 17, 3), seed=3)
    got = convert(asp, "aspset17", "h36m17")
    src = [2, 1, 0, 8, 7, 6, 13, 12, 11, 10, 9, 5, 4, 3]
    assert np.allclose(got[:, [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16]], asp[:, src])
    shoulders = asp[:, [5, 11]].mean(1)
    assert np.allclose(got[:, 8], shoulders + (asp[:, 13] - shoulders) / 3)
    assert np.allclose(got[:, 0], asp[:, [2, 8]].mean(1))
    halpe = _random((2, 26, 3), seed=4)
    got = convert(halpe, "halpe26", "h36m17")
    assert np.allclose(got[:, [0, 8, 9, 10]], halpe[:, [19, 18, 0, 17]])
    assert np.allclose(got[:, 7], halpe[:, [18, 19]].mean(1))


# ---------------------------------------------------------------- convert behaviour


def test_round_trips_and_identity() -> None:
    mpi = _random((4, 17, 3))
    back = convert(convert(mpi, "mpi3dhp17", "h36m17"), "h36m17", "mpi3dhp17")
    assert np.array_equal(back, mpi)
    mpi28 = _random((4, 28, 3), seed=1)
    via17 = convert(convert(mpi28, "mpi3dhp28", "mpi3dhp17"), "mpi3dhp17", "h36m17")
    assert np.array_equal(convert(mpi28, "mpi3dhp28", "h36m17"), via17)
    ski = _random((4, 17, 3), seed=2)
    assert np.array_equal(convert(ski, "skipose", "h36m17"), ski)
    same = convert(ski, "h36m17", "h36m17")
    assert np.array_equal(same, ski) and same is not ski
    coco = _random((4, 17, 2), seed=3)
    h = convert(coco, "coco17", "h36m17")
    assert np.array_equal(h[:, [11, 12, 13, 14, 15, 16]], coco[:, [5, 7, 9, 6, 8, 10]])
    assert np.array_equal(h[:, [1, 2, 3, 4, 5, 6]], coco[:, [12, 14, 16, 11, 13, 15]])


@pytest.mark.parametrize(("src", "dst", "variant"), ALL_MAPS)
def test_nan_source_joint_reaches_only_the_joints_that_use_it(
    src: str, dst: str, variant: str
) -> None:
    m = get_map(src, dst, variant)
    j_src = get_joint_set(src).num_joints
    for bad in range(j_src):
        x = _random((2, j_src, m.max_dims + 1), seed=bad)
        x[:, bad, :] = np.nan
        out = convert(x, src, dst, variant, has_confidence=True)
        users = {j for j in range(m.weights.shape[1]) if bad in m.support(j)}
        if m.post is not None and bad in (1, 2, 3, 4, 5, 6):  # eyes/ears/shoulders move the head
            users.add(10)
        nan_joints = set(np.flatnonzero(np.isnan(out).any(axis=(0, 2))))
        assert nan_joints == users
        x[:, bad, -1] = 0.5  # a missing position with a finite confidence
        out = convert(x, src, dst, variant, has_confidence=True)
        assert np.isfinite(out[..., -1]).all()
        assert set(np.flatnonzero(np.isnan(out[..., :-1]).any(axis=(0, 2)))) == users


def test_inf_counts_as_missing_and_torch_matches() -> None:
    x = _random((3, 17, 3))
    x[1, 5, 0] = np.inf
    out = convert(x, "coco17", "h36m17")
    assert set(np.flatnonzero(np.isnan(out[1]).any(-1))) == {7, 8, 11}  # spine, thorax, l_sho
    assert np.isfinite(out[[0, 2]]).all()
    assert np.allclose(convert(torch.tensor(x), "coco17", "h36m17").numpy(), out, equal_nan=True)


@pytest.mark.parametrize(("src", "dst", "variant"), ALL_MAPS)
@pytest.mark.parametrize("reduce", ["mean", "min"])
def test_numpy_and_torch_agree(src: str, dst: str, variant: str, reduce: str) -> None:
    dims = _dims(src, dst, variant)
    x = _random((2, 3, get_joint_set(src).num_joints, dims + 1), seed=5)
    ref = convert(x, src, dst, variant, has_confidence=True, conf_reduce=reduce)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    got = convert(xt, src, dst, variant, has_confidence=True, conf_reduce=reduce)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert np.allclose(got.detach().numpy(), ref, atol=1e-5)
    got.sum().backward()
    assert torch.isfinite(xt.grad).all()


def test_confidence_rules() -> None:
    x = np.zeros((17, 3))
    x[:, 2] = np.linspace(0.1, 0.9, 17)
    mean = convert(x, "coco17", "h36m17", has_confidence=True)[:, 2]
    low = convert(x, "coco17", "h36m17", has_confidence=True, conf_reduce="min")[:, 2]
    assert np.isclose(mean[0], x[[11, 12], 2].mean()) and np.isclose(low[0], x[11, 2])
    assert np.isclose(mean[7], x[[5, 6, 11, 12], 2].mean()) and np.isclose(low[7], x[5, 2])
    assert np.isclose(mean[14], x[6, 2]) and np.isclose(low[14], x[6, 2])
    dm = np.zeros((15, 4))
    dm[:, 3] = np.linspace(0.2, 0.8, 15)
    conf = convert(dm, "deepmimic15", "h36m17", has_confidence=True)[:, 3]
    assert np.isclose(conf[10], (2 * dm[2, 3] + dm[1, 3]) / 3)  # |weights| renormalised
    assert ((conf >= 0.2) & (conf <= 0.8)).all()


def test_bad_inputs_raise_clear_errors() -> None:
    x = np.zeros((2, 17, 3))
    with pytest.raises(ValueError, match="known: .*h36m17"):
        convert(x, "nope", "h36m17")
    with pytest.raises(ValueError, match="no conversion map h36m17->coco17; known:"):
        convert(x, "h36m17", "coco17")
    with pytest.raises(ValueError, match="unknown variant 'x' .*motionbert"):
        convert(x, "coco17", "h36m17", "x")
    with pytest.raises(ValueError, match=r"\(\.\.\., 26, C\)"):
        convert(x, "halpe26", "h36m17")
    with pytest.raises(ValueError, match="has_confidence=True"):
        convert(np.zeros((17, 4)), "coco17", "h36m17")
    with pytest.raises(ValueError, match="C=5"):
        convert(np.zeros((17, 5)), "coco17", "h36m17", has_confidence=True)
    with pytest.raises(ValueError, match="2D keypoints only"):
        convert(x, "coco17", "h36m17", "mhformer")
    with pytest.raises(ValueError, match="conf_reduce"):
        convert(x, "coco17", "h36m17", has_confidence=True, conf_reduce="max")
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, C\)"):
        flip_keypoints(np.zeros((16, 2)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, C\)"):
        bone_lengths(np.zeros(17))


def test_mhformer_accepts_2d_plus_confidence() -> None:
    out = convert(np.ones((4, 17, 3)), "coco17", "h36m17", "mhformer", has_confidence=True)
    assert np.allclose(out, 1.0)


# ---------------------------------------------------------------- flip and bone lengths


def test_flip_keypoints() -> None:
    x = _random((2, 4, 17, 3))
    flipped = flip_keypoints(x)
    assert np.array_equal(flipped[..., 0], -x[..., H36M17.flip_array, 0])
    assert np.array_equal(flipped[..., 1:], x[..., H36M17.flip_array, 1:])
    assert np.allclose(flip_keypoints(flipped), x)
    pixels = flip_keypoints(x, "h36m17", axis=0, center=500.0)
    assert np.allclose(pixels[..., 0], 1000.0 - x[..., H36M17.flip_array, 0])
    xt = torch.tensor(x, requires_grad=True)
    assert torch.equal(flip_keypoints(xt), torch.tensor(flipped))
    flip_keypoints(xt)[..., 0].sum().backward()
    assert torch.equal(xt.grad[..., 0], -torch.ones(2, 4, 17, dtype=xt.dtype))
    assert np.array_equal(x, _random((2, 4, 17, 3)))  # input untouched
    coco = flip_keypoints(_random((17, 2)), "coco17", axis=1)
    assert coco.shape == (17, 2)


def test_bone_lengths() -> None:
    x = np.zeros((17, 3))
    for parent, child in H36M17.bones:
        x[child] = x[parent] + [0.0, float(child), 0.0]
    lengths = bone_lengths(x)
    assert lengths.shape == (16,)
    assert np.allclose(lengths, [c for _, c in H36M17.bones])
    batch = _random((3, 5, 17, 3))
    assert np.allclose(bone_lengths(torch.tensor(batch)).numpy(), bone_lengths(batch))
    # mirroring permutes the bones but keeps every length
    assert np.allclose(np.sort(bone_lengths(flip_keypoints(batch)), -1),
                       np.sort(bone_lengths(batch), -1))
