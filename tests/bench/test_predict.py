"""`liftbench predict` on detector formats (COCO-17 numpy) with a hand-made checkpoint."""

from __future__ import annotations

import json

import numpy as np
import torch

from liftbench.bench.cli import main
from liftbench.models import create_lifter


def _checkpoint(path):
    torch.manual_seed(0)
    lifter = create_lifter("videopose3d_27", size="tiny")
    torch.save({"hyper_parameters": {"lifter": "videopose3d_27", "lifter_name": "videopose3d_27",
                                     "size": "tiny", "lifter_kwargs": {}, "flip_tta": False},
                "state_dict": {f"lifter.{k}": v for k, v in lifter.state_dict().items()}}, path)
    return lifter


def test_predict_coco_numpy_and_missing_joints(tmp_path, capsys):
    ckpt = tmp_path / "m.ckpt"
    lifter = _checkpoint(ckpt)
    rng = np.random.default_rng(0)
    coco = np.concatenate([rng.uniform(400, 800, (40, 17, 2)), np.ones((40, 17, 1))], -1)
    coco[5, 9, :2] = np.nan  # a missed left wrist: interpolated, confidence 0
    np.save(tmp_path / "det.npy", coco)
    assert main(["predict", str(ckpt), str(tmp_path / "det.npy"), "--joint-set", "coco17",
                 "--image-size", "1280", "720", "--out", str(tmp_path / "p")]) == 0
    with np.load(tmp_path / "p.npz") as f:
        pose = f["pose3d"]
    assert pose.shape == (1, 40, 17, 3) and np.isfinite(pose).all()
    assert json.loads((tmp_path / "p.json").read_text())["flip_tta"] is False
    # the same frames through the lifter directly (no flip; VideoPose3D takes any T at once)
    from liftbench.bench.predict import fill_missing, load_keypoints
    from liftbench.geometry.cameras import normalize_screen

    data = load_keypoints(tmp_path / "det.npy", joint_set="coco17", image_size=(1280, 720))
    kp = fill_missing(data["keypoints"][0])
    assert np.isfinite(kp).all() and kp[5, 13, 2] == 0  # H36M left wrist: score 0
    kp[..., :2] = normalize_screen(kp[..., :2], np.array([1280.0, 720.0]))
    with torch.no_grad():
        ref = lifter.eval()(torch.as_tensor(kp[None], dtype=torch.float32))[0]
    ref = (ref - ref[:, :1]).numpy()
    np.testing.assert_allclose(pose[0], ref, atol=1e-5)


def test_predict_needs_image_size_for_bare_arrays(tmp_path, capsys):
    ckpt = tmp_path / "m.ckpt"
    _checkpoint(ckpt)
    np.save(tmp_path / "det.npy", np.ones((5, 17, 3)))
    assert main(["predict", str(ckpt), str(tmp_path / "det.npy"), "--joint-set", "coco17"]) == 2
    assert "det.npy" in capsys.readouterr().err
