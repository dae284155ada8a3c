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


# ----------------------------------------------------------- VideoPose3D 2D archives, any lifter
def _regime_checkpoint(path, lifter: str, frames: int | None) -> None:
    """A supervised-regime checkpoint of a tiny `lifter` built for `frames` (Trainer-saved)."""
    import lightning as L

    from liftbench.bench.regimes import regime_class

    torch.manual_seed(0)
    regime = regime_class("supervised")(lifter=lifter, size="tiny", frames=frames,
                                        flip_tta=False, standardize=False)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, max_steps=0)
    trainer.strategy.connect(regime)
    trainer.save_checkpoint(path)


def test_predict_videopose3d_archives_lifts_every_frame(tmp_path, capsys):
    """H36M layout (several subjects/actions/cameras) and custom layout, a frame-wise and a
    T = 27 lifter: T in = T out; a 10-frame clip with the T = 27 lifter is padded."""
    from tests.datamodules.layout_people import (
        COCO_METADATA,
        H36M_METADATA,
        long_clip,
        people_2d,
        write_h36m_archive,
    )

    clips = {("S1", "Directions", 0): long_clip("coco17", 591, azimuth=20.0),
             ("S1", "Directions", 3): people_2d("coco17", "walk", 200.0),
             ("S5", "Walking 1", 1): people_2d("coco17", "kick", 90.0),
             ("S5", "Walking 1", 2): people_2d("coco17", "walk", 0.0, frames=10)}
    h36m = tmp_path / "data_2d_h36m_detectron_ft_h36m.npz"  # COCO points labelled h36m
    write_h36m_archive(h36m, {k: v[..., :2] for k, v in clips.items()}, H36M_METADATA)
    custom = tmp_path / "data_2d_custom_clip.npz"
    np.savez_compressed(custom, positions_2d={"clip.mp4": {"custom": [
        clips[("S1", "Directions", 3)][..., :2]]}}, metadata=dict(
            COCO_METADATA, video_metadata={"clip.mp4": {"w": 1920, "h": 1080}}))
    for lifter, frames in (("simplebaseline", None), ("motionagformer_xs", 27)):
        ckpt = tmp_path / f"{lifter}.ckpt"
        _regime_checkpoint(ckpt, lifter, frames)
        runs = [(h36m, f"{s}/{a}#{c}", len(kp)) for (s, a, c), kp in clips.items()]
        runs.append((custom, None, len(clips[("S1", "Directions", 3)])))
        for path, video, frames_in in runs:
            out = tmp_path / "p"
            args = ["predict", str(ckpt), str(path), "--image-size", "1920", "1080",
                    "--out", str(out)] + (["--video", video] if video else [])
            assert main(args) == 0, (lifter, video)
            with np.load(out.with_suffix(".npz")) as f:
                pose = f["pose3d"]
            with capsys.disabled():  # the acceptance numbers, shown with `pytest -s`
                print(f"{lifter} {path.name} {video}: T in {frames_in}, pose3d {pose.shape}")
            assert pose.shape == (1, frames_in, 17, 3) and np.isfinite(pose).all()
            meta = json.loads(out.with_suffix(".json").read_text())
            assert meta["source_joint_set"] == "coco17"
            if path == h36m:  # the label says h36m, the data are COCO: reported, not obeyed
                assert "metadata says h36m17 but the data are coco17" in meta["notes"][0]
            else:
                assert "notes" not in meta
    printed = capsys.readouterr().out
    assert "note: " in printed and "lifted 1 view(s) x 591 frames with motionagformer_xs" in \
        printed and "x 10 frames with motionagformer_xs" in printed
    assert main(["predict", str(ckpt), str(h36m), "--image-size", "1920", "1080"]) == 2
    err = capsys.readouterr().err
    assert "holds 4 clips (S1/Directions#0, S1/Directions#3, S5/Walking 1#1" in err
    assert len(err.strip().splitlines()) == 1
