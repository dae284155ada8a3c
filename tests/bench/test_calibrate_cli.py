"""`liftbench calibrate`: a take or per-view files + intrinsics → cameras JSON, 3D, diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from liftbench.bench.cli import main
from liftbench.bench.regimes.supervised import SupervisedRegime
from liftbench.geometry.cameras import camera_to_25d


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    out = tmp_path_factory.mktemp("takes")
    assert main(["data", "synth", "--out", str(out), "--motions", "run", "--subjects", "1",
                 "--cameras", "3", "--noise", "clean"]) == 0
    path = sorted(out.glob("*.npz"))[0]
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    # exact monocular 3D (camera frames): the calibration must come out exact
    cam = np.einsum("vtij,tkj->vtki", data["R"], data["pose3d_world"]) + data["t"][:, :, None]
    pose3d = out / "pose3d.npz"
    np.savez(pose3d, pose3d=cam - cam[:, :, :1])
    # and the exact 2.5D (what `liftbench predict` writes for a perfect lifter)
    size = np.asarray(data["image_size"], dtype=float).reshape(-1, 2)[:, None]
    p25, _ = camera_to_25d(cam, data["K"][:, None], size)
    np.savez(out / "pose25d.npz", pose3d=p25)
    return path, pose3d, data


def test_take_with_exact_monocular_3d(take, tmp_path, capsys):
    path, pose3d, data = take
    out = tmp_path / "calib"
    assert main(["calibrate", str(path), "--pose3d", str(pose3d), "--pose-space", "camera",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "calibrate" in captured.err  # the progress bar
    assert "vs ground truth" in captured.out
    cams = json.loads((out / "cameras.json").read_text())
    assert cams["gauge"]["world"].startswith("camera 1")
    R = np.array([c["R"] for c in cams["cameras"]])
    t = np.array([c["t"] for c in cams["cameras"]])
    np.testing.assert_allclose(R[0], np.eye(3), atol=1e-9)
    assert np.linalg.norm(t[0]) < 1e-9 and np.linalg.norm(t[1]) == pytest.approx(1.0)
    np.testing.assert_allclose(np.array(cams["cameras"][2]["K"]), data["K"][2])
    diag = json.loads((out / "diagnostics.json").read_text())
    assert max(diag["ground_truth"]["rotation_deg"]) < 1e-3
    assert max(diag["ground_truth"]["centre_error_rel"]) < 1e-5
    assert diag["cheirality"]["negative"] == 0 and diag["eigen_gap"] < 1e-6
    with np.load(out / "points3d.npz") as f:
        V, T = data["pose2d"].shape[:2]
        assert f["world"].shape == (T, 17, 3) and f["pose25d"].shape == (V, T, 17, 3)
        # the triangulated joints, rescaled, are the world joints in camera 1's frame
        ref = np.einsum("ij,tkj->tki", data["R"][0, 0], data["pose3d_world"]) + data["t"][0, 0]
        world = f["world"]
    s = np.nansum(world * ref) / np.nansum(world * world)
    assert np.nanmax(np.abs(world * s - ref)) < 1e-4  # metres


def test_per_view_files_and_intrinsics_json(take, tmp_path):
    path, pose3d, data = take
    files = []
    for v in range(3):
        p = tmp_path / f"view{v}.json"
        p.write_text(json.dumps({"image_size": data["image_size"][v].tolist(),
                                 "keypoints": data["pose2d"][v].tolist()}))
        files.append(str(p))
    intr = tmp_path / "cams.json"
    intr.write_text(json.dumps({"cameras": [{"K": k.tolist()} for k in data["K"]]}))
    out = tmp_path / "calib"
    assert main(["calibrate", *files, "--intrinsics", str(intr), "--pose3d", str(pose3d),
                 "--pose-space", "camera", "--out", str(out)]) == 0
    ref = tmp_path / "ref"
    assert main(["calibrate", str(path), "--pose3d", str(pose3d), "--pose-space", "camera",
                 "--out", str(ref)]) == 0
    a = json.loads((out / "cameras.json").read_text())["cameras"]
    b = json.loads((ref / "cameras.json").read_text())["cameras"]
    np.testing.assert_allclose([c["R"] for c in a], [c["R"] for c in b], atol=1e-7)
    np.testing.assert_allclose([c["t"] for c in a], [c["t"] for c in b], atol=1e-6)


def test_take_with_exact_25d_and_a_mirrored_view(take, tmp_path, capsys):
    path, pose3d, data = take
    p25 = np.load(pose3d.parent / "pose25d.npz")["pose3d"].copy()
    out = tmp_path / "calib"
    assert main(["calibrate", str(path), "--pose3d", str(pose3d.parent / "pose25d.npz"),
                 "--out", str(out)]) == 0
    diag = json.loads((out / "diagnostics.json").read_text())
    assert max(diag["ground_truth"]["rotation_deg"]) < 1e-3 and diag["pose_space"] == "2.5d"
    assert diag["mirrored_views"] == [] and diag["warnings"] == []
    p25[1, ..., 2] *= -1  # view 2's depth mirrored
    mirrored = tmp_path / "mirrored.npz"
    np.savez(mirrored, pose3d=p25)
    assert main(["calibrate", str(path), "--pose3d", str(mirrored), "--out", str(out)]) == 0
    diag = json.loads((out / "diagnostics.json").read_text())
    assert max(diag["ground_truth"]["rotation_deg"]) < 1e-3 and diag["mirrored_views"] == [1]
    capsys.readouterr()
    # without the check: a wrong rig, flagged on its own line naming the views
    assert main(["calibrate", str(path), "--pose3d", str(mirrored), "--out", str(out),
                 "--no-mirror-check"]) == 0
    err = capsys.readouterr().err
    assert any(line.startswith("warning: ") and str(path) in line for line in err.splitlines())


def test_with_a_checkpoint(take, tmp_path):
    path, _, _ = take
    torch.manual_seed(0)
    module = SupervisedRegime(lifter="simplebaseline", size="tiny")
    ckpt = tmp_path / "lifter.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    out = tmp_path / "calib"
    code = main(["calibrate", str(path), "--checkpoint", str(ckpt), "--out", str(out),
                 "--orthonormalize"])
    assert code == 0
    R = np.array([c["R"] for c in json.loads((out / "cameras.json").read_text())["cameras"]])
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    with np.load(out / "points3d.npz") as f:
        assert np.isfinite(f["lifted"]).all() and f["lifted"].shape[0] == 3


def test_bad_input_is_a_clear_error(take, tmp_path, capsys):
    path, pose3d, data = take
    views = []
    for v, frames in enumerate((20, 21)):
        p = tmp_path / f"v{v}.json"
        p.write_text(json.dumps({"image_size": [1920, 1080],
                                 "keypoints": data["pose2d"][v, :frames].tolist()}))
        views.append(str(p))
    out = str(tmp_path / "o")
    assert main(["calibrate", *views, "--pose3d", str(pose3d), "--out", out]) == 2
    assert "mismatched frame counts" in capsys.readouterr().err
    assert main(["calibrate", views[0], "--pose3d", str(pose3d), "--out", out]) == 2
    assert "no intrinsics" in capsys.readouterr().err
    intr = tmp_path / "one.json"
    intr.write_text(json.dumps({"K": [data["K"][0].tolist()]}))
    assert main(["calibrate", views[0], "--intrinsics", str(intr), "--pose3d", str(pose3d),
                 "--out", out]) == 2
    assert "at least 2 cameras" in capsys.readouterr().err
    assert main(["calibrate", str(path), "--out", out]) == 2
    assert "exactly one of --checkpoint" in capsys.readouterr().err
    nan_k = tmp_path / "nan.json"
    nan_k.write_text(json.dumps({"K": [[[float("nan")] * 3] * 3] * 2}))
    assert main(["calibrate", *views[:1], views[0], "--intrinsics", str(nan_k), "--pose-space",
                 "camera", "--pose3d", str(pose3d), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "non-finite" in err and str(nan_k) in err
    assert not (tmp_path / "o").exists()  # nothing written


def test_perf_calibration_smoke(tmp_path, capsys):
    out = tmp_path / "perf.json"
    assert main(["perf", "calibration", "--frames", "400", "--repeats", "1", "--levels", "0",
                 "1", "--motions", "run", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["timing"]["rotation_deg_max"] < 0.01
    assert [r["cameras"] for r in result["noise_free"]] == list(range(2, 9))
    assert all(r["pass"] for r in result["noise_free"])
    table = result["noise_table"]
    assert table[0]["rotation_deg"] < 1e-6 and table[1]["rotation_deg"] > table[0]["rotation_deg"]
    assert "| k |" in capsys.readouterr().out
