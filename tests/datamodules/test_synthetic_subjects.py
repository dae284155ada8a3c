"""Synthetic subjects (anthropometric bodies) and per-take variants (mirror, speed, rig)."""

import numpy as np
import pytest

from liftbench.datamodules.synthetic import bodies, load_motion
from liftbench.datamodules.synthetic.augment import bone_vectors, standing_height
from liftbench.datamodules.synthetic.capture import Variant, draw_variant, iter_takes, perform
from liftbench.datamodules.synthetic.rigs import MIXED_RIGS
from liftbench.geometry.skeletons import H36M17

J = {n: i for i, n in enumerate(H36M17.joints)}
PAIRS = [(c - 1, H36M17.flip[c] - 1) for c in range(1, 17) if H36M17.flip[c] != c]


def lengths(x):
    return np.linalg.norm(bone_vectors(x), axis=-1)  # (T, 16)


@pytest.fixture(scope="module")
def kick():
    return load_motion("kick", fps=50.0)


def test_statures_follow_ansur_ii():
    drawn = [bodies.sample_body(k, seed=3) for k in range(400)]
    assert [b.sex for b in drawn[:4]] == ["male", "female", "male", "female"]
    for sex, (mean, sd) in bodies.STATURE_M.items():
        h = np.array([b.stature for b in drawn if b.sex == sex])
        assert (np.abs(h - mean) <= bodies.TRUNCATE_SD * sd + 1e-12).all()
        assert abs(h.mean() - mean) < 0.015 and 0.8 * sd < h.std() < 1.2 * sd
    assert 1.55 < np.mean([b.stature for b in drawn if b.sex == "female"]) < 1.70
    assert 1.70 < np.mean([b.stature for b in drawn if b.sex == "male"]) < 1.80
    # deterministic per (index, seed); other seeds give other people
    assert bodies.sample_body(5, seed=3) == drawn[5]
    assert bodies.sample_body(5, seed=4).stature != drawn[5].stature


@pytest.mark.parametrize("index", range(6))
def test_body_proportions_symmetric_constant_and_exact(kick, index):
    body = bodies.sample_body(index)
    x = bodies.apply_body(kick.joints, body)
    L = lengths(x)
    assert np.ptp(L, axis=0).max() < 1e-9  # constant over time
    for a, b in PAIRS:  # the same on the left and the right
        assert L[0, a] == pytest.approx(L[0, b], abs=1e-12)
    h = body.stature
    assert standing_height(x) == pytest.approx((1 - bodies.ANKLE_HEIGHT) * h, abs=1e-9)
    # Drillis & Contini fractions, within 4 SD of the per-segment spread (+ the rescale)
    tol = np.exp(4 * bodies.SEGMENT_SD) * 1.05
    for seg, child in (("thigh", "left_knee"), ("shank", "right_ankle"),
                       ("upper_arm", "left_elbow"), ("forearm", "right_wrist")):
        ratio = L[0, J[child] - 1] / h / bodies.MEAN_FRACTIONS[seg]
        assert 1 / tol < ratio < tol, (seg, ratio)
    assert L[0, J["left_knee"] - 1] == pytest.approx(body.fractions["thigh"] * h)
    assert x[..., 2].min() == pytest.approx(kick.joints[..., 2].min())  # feet stay on the floor


def test_subject_keeps_the_same_body_across_motions():
    takes = list(iter_takes(["walk", "kick"], subjects=3, rig="ring", cameras=2, noise="clean",
                            variants=2))
    per = {}
    for rec in takes:
        per.setdefault(rec.subject, []).append(lengths(rec.pose3d_world)[0])
    for subject, ls in per.items():
        assert len(ls) == 4
        for other in ls[1:]:
            np.testing.assert_allclose(other, ls[0], atol=1e-9, err_msg=subject)
    assert np.abs(per["S1"][0] - per["S2"][0]).max() > 0.01  # other subjects, other bodies


def test_mirrored_take_swaps_left_and_right(kick):
    body = bodies.sample_body(0)
    plain = perform(kick.joints, kick.fps, body, Variant(0, False, 1.0, "ring"),
                    np.random.default_rng(0))
    mirrored = perform(kick.joints, kick.fps, body, Variant(0, True, 1.0, "ring"),
                       np.random.default_rng(0))
    swapped = plain[:, list(H36M17.flip)]
    # a reflection with swapped labels: same heights, same distances between joints ...
    np.testing.assert_allclose(mirrored[..., 2], swapped[..., 2], atol=1e-9)
    d = lambda x: np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(mirrored), d(swapped), atol=1e-9)
    assert np.abs(mirrored - swapped).max() > 0.1  # ... but not the same positions

    def handedness(x):  # > 0: the left hip on the subject's left (facing the nose)
        side = x[:, J["left_hip"]] - x[:, J["right_hip"]]
        up = x[:, J["thorax"]] - x[:, J["pelvis"]]
        front = x[:, J["nose"]] - x[:, J["thorax"]]
        return np.sign((np.cross(side, up) * front).sum(-1)).mean()

    assert handedness(plain) == 1.0 and handedness(mirrored) == 1.0  # anatomically valid
    # DeepMimic's kick kicks with the right foot; its mirror image with the left
    top = lambda x, j: x[:, J[j], 2].max()  # noqa: E731
    assert top(plain, "right_ankle") > 1.0 > 0.3 > top(plain, "left_ankle")
    assert top(mirrored, "left_ankle") > 1.0 > 0.3 > top(mirrored, "right_ankle")


@pytest.mark.parametrize("speed", [0.8, 1.25])
def test_speed_variant_changes_length(kick, speed):
    body = bodies.sample_body(1)
    fast = perform(kick.joints, kick.fps, body, Variant(0, False, speed, "ring"),
                   np.random.default_rng(0))
    n = kick.num_frames
    assert len(fast) == int(np.floor((n - 1) / speed + 1e-9)) + 1 != n
    assert np.ptp(lengths(fast), axis=0).max() < 1e-9


def test_variants_alternate_mirror_and_draw_speed_and_rig():
    takes = list(iter_takes(["walk", "run"], subjects=2, rig="mixed", cameras=2,
                            noise="clean", variants=4, speed=(0.8, 1.25)))
    assert len(takes) == 16 and len({r.take for r in takes}) == 16
    for action in ("walk", "run"):
        for subject in ("S1", "S2"):
            mine = sorted((r for r in takes if r.action == action and r.subject == subject),
                          key=lambda r: r.take)
            flags = [r.labels["mirrored"] for r in mine]
            assert flags in (["0", "1", "0", "1"], ["1", "0", "1", "0"])
    speeds = np.array([float(r.labels["speed"]) for r in takes])
    assert (speeds >= 0.8).all() and (speeds <= 1.25).all() and np.ptp(speeds) > 0.1
    kinds = {r.labels["rig"] for r in takes}
    assert kinds <= set(MIXED_RIGS) and len(kinds) >= 2
    for r in takes:
        assert all(name.startswith(r.labels["rig"]) for name in r.view_names)
    fixed = list(iter_takes(["walk"], subjects=1, rig="broadcast", cameras=2, variants=2,
                            mirror=False, speed=(1.0, 1.0)))
    assert {r.labels["rig"] for r in fixed} == {"broadcast"}
    assert {r.labels["mirrored"] for r in fixed} == {"0"} and fixed[0].num_frames == 64


def test_select_skips_takes_without_changing_the_others():
    every = {r.take: r for r in iter_takes(["walk", "run"], subjects=3, cameras=2, variants=2)}
    some = list(iter_takes(["walk", "run"], subjects=3, cameras=2, variants=2,
                           select=lambda a, s, v: a == "run" and s != "S2" and v == 1))
    assert sorted(r.take for r in some) == ["run_S1_v1", "run_S3_v1"]
    for r in some:
        np.testing.assert_array_equal(r.pose2d, every[r.take].pose2d)
        np.testing.assert_array_equal(r.pose3d_world, every[r.take].pose3d_world)


def test_variant_arguments_are_checked():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="speed"):
        draw_variant(0, rng, False, speed=(1.2, 0.9))
    with pytest.raises(ValueError, match="rig must be"):
        draw_variant(0, rng, False, rig="orbit")
    with pytest.raises(ValueError, match="subject index"):
        bodies.sample_body(-1)
