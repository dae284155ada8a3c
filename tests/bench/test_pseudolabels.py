"""Pseudo-labels: takes rebuilt from cached clips, exact 2.5D labels from exact 2D, lifting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liftbench.bench.pseudolabel_metrics import evaluate_take, label_loop, pool_metrics
from liftbench.bench.pseudolabels import (
    labels_for_clips,
    lift_views,
    load_clip_arrays,
    pseudo_labels,
    strip_ground_truth,
    takes_from_clips,
)
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
from liftbench.models import create_lifter
from liftbench.models.flip import flip_average


def _adapt_set(folder, motions, cameras, noise):
    """A small 2-view synthetic capture: the DataModule and its cached `adapt` clip arrays."""
    dm = SyntheticDataModule(motions=motions, subjects=2, cameras=cameras, views=2, noise=noise,
                             cache_dir=folder, batch_size=8)
    dm.prepare_data()
    return dm, load_clip_arrays(dm.cache_path / "adapt")


@pytest.fixture(scope="module")
def adapt(tmp_path_factory):
    return _adapt_set(tmp_path_factory.mktemp("cache"), ["walk", "run"], 3, "clean")


def test_takes_rebuilt_from_clips(adapt):
    dm, arrays = adapt
    takes, index = takes_from_clips(arrays, dm.config["cameras"], dm.config["stride"])
    assert len(takes) == len(np.unique(arrays["take"])) >= 1
    take = takes[0]
    assert take.inputs.shape[0] == 3 and take.inputs.shape[2:] == (17, 3)
    # every clip is a window of its take's sequences, for its cameras
    for key, per in (("input", "inputs"), ("pose2d_px", "pose2d_px")):
        back = labels_for_clips(index, {t.take: getattr(t, per) for t in takes}, 27)
        np.testing.assert_allclose(back, arrays[key], atol=1e-6)
    back = labels_for_clips(index, {t.take: t.gt["target"] for t in takes}, 27)
    np.testing.assert_allclose(back, arrays["target"], atol=1e-6)
    assert take.gt["static"] and take.gt["R"].shape == (3, 3, 3)
    # each camera's intrinsics are the ones the clips carry
    s = np.flatnonzero(index.take == take.take)[0]
    for v, cam in enumerate(index.cameras[s]):
        np.testing.assert_allclose(take.K[cam], arrays["K"][s, v])


def test_exact_2d_gives_exact_25d_labels(adapt):
    """Noise-free 2D + the exact 2.5D (a perfect lifter) → exact rig, points and labels."""
    dm, arrays = adapt
    takes, _ = takes_from_clips(arrays, dm.config["cameras"], dm.config["stride"])
    take = takes[0]
    lifted = take.gt["target"]  # what a perfect lifter outputs
    result = pseudo_labels(take, lifted)
    assert result["valid"].all()
    # the 2.5D convention is scale-free: baseline-unit reconstructions give the metric labels
    np.testing.assert_allclose(result["labels"], take.gt["target"], atol=2e-5)
    metrics = pool_metrics([evaluate_take(take, lifted, result)])
    assert metrics["multi_pa_mpjpe"] < 0.05 and metrics["multi_spa_mpjpe"] < 0.05  # mm
    assert metrics["label_pa_mpjpe"] < 0.05 and metrics["mono_pa_mpjpe"] < 0.05
    assert metrics["rotation_deg"] < 1e-3 and metrics["centre_error_rel"] < 1e-5


def test_labels_scale_free_and_masked(adapt):
    dm, arrays = adapt
    take = takes_from_clips(arrays, dm.config["cameras"], dm.config["stride"])[0][0]
    lifted = take.gt["target"]
    conf = take.pose2d_px[..., 2].copy()
    take.pose2d_px[1:, :, 3, 2] = 0.0  # right ankle seen by camera 0 only: not triangulable
    try:
        res = pseudo_labels(take, lifted)
    finally:
        take.pose2d_px[..., 2] = conf
    assert not res["valid"][:, :, 3].any() and res["valid"][:, :, 4].all()
    assert np.isnan(res["labels"][:, :, 3]).all()
    np.testing.assert_allclose(res["labels"][:, :, 4], take.gt["target"][:, :, 4], atol=2e-5)


def test_lift_views_lays_windows_end_to_end(adapt):
    dm, arrays = adapt
    take = takes_from_clips(arrays, dm.config["cameras"], dm.config["stride"])[0][0]
    torch.manual_seed(0)
    lifter = create_lifter("motionagformer_xs", size="tiny", n_frames=27).eval()
    n = take.inputs.shape[1]
    assert 27 < n < 54, n
    x = take.inputs[:2]  # one window and an end-aligned tail
    ours = lift_views(lifter, x, flip=True, batch_size=2)
    with torch.no_grad():
        for c in range(2):
            for start, keep in ((0, slice(0, 27)), (n - 27, slice(27, n))):
                clip = torch.as_tensor(x[c, start : start + 27][None], dtype=torch.float32)
                ref = flip_average(lifter, clip)[0]
                ref = (ref - ref[:, :1]).numpy()[keep.start - start : keep.stop - start]
                np.testing.assert_allclose(ours[c, keep], ref, atol=1e-5)
    assert np.abs(ours[..., 0, :]).max() == 0.0


def test_bad_layouts_are_clear_errors(adapt):
    dm, arrays = adapt
    single = {k: v[:, 0] if v.ndim >= 2 and k != "take" else v for k, v in arrays.items()}
    with pytest.raises(ValueError, match=r"multi-view clips.*views >= 2"):
        takes_from_clips(single, 3, dm.config["stride"])
    with pytest.raises(ValueError, match=r"take \d+: .*(not a multiple|disagree)"):
        takes_from_clips(arrays, 4, dm.config["stride"])
    with pytest.raises(ValueError, match="not cut with stride"):
        takes_from_clips(arrays, 3, dm.config["stride"] + 1)
    assert "target" not in strip_ground_truth(arrays) and "input" in strip_ground_truth(arrays)


@pytest.fixture(scope="module")
def detector_takes(tmp_path_factory):
    dm, arrays = _adapt_set(tmp_path_factory.mktemp("det"), ["walk", "jump"], 4, "detector")
    return takes_from_clips(arrays, dm.config["cameras"], dm.config["stride"])[0]


def test_perfect_lifter_loop_is_a_fixed_point(detector_takes):
    """Labels fed back as the lifter's output (a perfect lifter) with detector 2D: no drift."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for take in detector_takes:
            rot = [r["rotation_deg"] for r in label_loop(take, take.gt["target"], 5)]
            # iteration 0 starts from the true 2.5D, later ones from labels: it settles at once
            assert max(abs(r - rot[0]) for r in rot) <= 0.1, rot
            assert abs(rot[-1] - rot[-2]) <= 0.005, rot
            # the same loop reading the 2.5D as camera-frame 3D drifts (what the fix removed)
            bad = [r["rotation_deg"] for r in label_loop(
                take, take.gt["target"], 5, {"pose_space": "camera", "resolve_mirror": False})]
            assert bad[-1] - bad[0] > 0.5, bad


def test_perf_labelling_runs(capsys):
    from liftbench.bench.cli import main

    assert main(["perf", "labelling", "--iterations", "1", "--motions", "walk",
                 "--subjects", "1", "--cameras", "3"]) == 0
    out = capsys.readouterr().out
    assert "perfect-lifter loop" in out and "every view, resolved" in out
