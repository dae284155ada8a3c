"""Damaged and wrong inputs to every reader and to `predict` / `calibrate` / `data` commands.

Each input is empty, truncated, garbage bytes, the wrong type, NaN-only or has the wrong joint
count. Every one must end the command with exit code 2 and one error line that names the file,
without a traceback, and leave no output file behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from liftbench.bench.cli import main
from tests.datamodules.test_aspset import _write_release
from tests.datamodules.test_keypoints import H, W, _coco

RNG = np.random.default_rng(0)
GARBAGE = RNG.integers(0, 256, 700, dtype=np.uint8).tobytes()


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path.read_bytes()


def _npy(path, arr):
    np.save(path, arr)
    return path.read_bytes()


def _bytes_variants(valid: bytes) -> dict[str, bytes]:
    return {"empty": b"", "truncated": valid[: len(valid) // 2], "garbage": GARBAGE}


def keypoint_inputs(tmp: Path) -> list[tuple[str, str, bytes]]:
    """`(case, file name, content)` for every keypoint format `predict` reads."""
    coco = _coco(12)
    h36m = np.concatenate([coco[:, :17, :2], coco[:, :17, 2:]], -1)
    cases = []
    own = _npz(tmp / "a.npz", pose2d=h36m[None], image_size=np.array([W, H]))
    for kind, data in _bytes_variants(own).items():
        cases.append((f"own-{kind}", "take.npz", data))
    cases += [
        ("own-wrong-type", "take.npz", _npz(tmp / "b.npz", pose2d=np.array(["x"] * 4),
                                            image_size=np.array([W, H]))),
        ("own-nan", "take.npz", _npz(tmp / "c.npz", pose2d=np.full((1, 12, 17, 3), np.nan),
                                     image_size=np.array([W, H]))),
        ("own-joints", "take.npz", _npz(tmp / "d.npz", pose2d=h36m[None, :, :13],
                                        image_size=np.array([W, H]))),
        ("own-image-size", "take.npz", _npz(tmp / "e.npz", pose2d=h36m[None],
                                            image_size=np.array([[1.0, 2.0, 3.0]]))),
    ]
    npy = _npy(tmp / "a.npy", coco)
    for kind, data in _bytes_variants(npy).items():
        cases.append((f"npy-{kind}", "det.npy", data))
    cases += [
        ("npy-object", "det.npy", _npy(tmp / "o.npy", np.array([{"a": 1}], dtype=object))),
        ("npy-nan", "det.npy", _npy(tmp / "n.npy", np.full((12, 17, 3), np.nan))),
        ("npy-zero-scores", "det.npy", _npy(tmp / "z.npy", coco * [1, 1, 0])),
        ("npy-joints", "det.npy", _npy(tmp / "j.npy", coco[:, :13])),
        ("npy-huge-scores", "det.npy", _npy(tmp / "h.npy", coco * [1, 1, 500])),
    ]
    frame = {"people": [{"pose_keypoints_2d": coco[0].reshape(-1).tolist()}]}
    op = json.dumps(frame).encode()
    for kind, data in _bytes_variants(op).items():
        cases.append((f"openpose-{kind}", "f_keypoints.json", data))
    cases += [
        ("openpose-wrong-type", "f_keypoints.json", b'{"people": [{"pose_keypoints_2d": "x"}]}'),
        ("openpose-wrong-type2", "f_keypoints.json", b'{"people": 7}'),
        ("json-list", "f.json", b"[1, 2, 3]"),
        ("openpose-nan", "f_keypoints.json", json.dumps(
            {"people": [{"pose_keypoints_2d": [float("nan")] * 51}]}).encode()),
        ("openpose-joints", "f_keypoints.json", json.dumps(
            {"people": [{"pose_keypoints_2d": coco[0, :13].reshape(-1).tolist()}]}).encode()),
    ]
    vp = {"vid": {"custom": [coco[..., :2].astype("float32")]}}
    meta = {"layout_name": "coco", "num_joints": 17, "video_metadata": {"vid": {"w": W, "h": H}}}
    cases += [
        ("vp3d-truncated", "data_2d_custom_x.npz",
         _npz(tmp / "v.npz", positions_2d=vp, metadata=meta)[:400]),
        ("vp3d-wrong-type", "data_2d_custom_x.npz",
         _npz(tmp / "w.npz", positions_2d=np.array(5), metadata=meta)),
        ("vp3d-joints", "data_2d_custom_x.npz", _npz(
            tmp / "x.npz", positions_2d={"vid": {"custom": [coco[:, :13, :2]]}}, metadata=meta)),
        ("vp3d-two-videos", "data_2d_custom_x.npz", _npz(
            tmp / "y.npz", positions_2d={"a": vp["vid"], "b": vp["vid"]}, metadata=meta)),
        ("vp3d-nan", "data_2d_custom_x.npz", _npz(
            tmp / "n2.npz", positions_2d={"vid": {"custom": [np.full((5, 17, 2), np.nan)]}},
            metadata=meta)),
    ]
    return cases


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _check_error(capsys, code: int, name: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("liftbench ") and name in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from tests.bench.test_predict import _checkpoint

    tmp = tmp_path_factory.mktemp("fuzz")
    _checkpoint(tmp / "m.ckpt")
    return tmp


def test_predict_rejects_every_damaged_keypoint_file(work, tmp_path, capsys):
    for case, name, data in keypoint_inputs(tmp_path):
        f = tmp_path / case / name
        f.parent.mkdir()
        f.write_bytes(data)
        out = tmp_path / f"out-{case}"
        code = main(["predict", str(work / "m.ckpt"), str(f), "--image-size", str(W), str(H),
                     "--out", str(out / "pred"), "--render", str(out / "anim.gif")])
        line = _check_error(capsys, code, name)
        assert _files(out) == [], (case, line)


def test_predict_rejects_a_damaged_checkpoint(work, tmp_path, capsys):
    kp = tmp_path / "det.npy"
    np.save(kp, _coco(12))
    for kind, data in {**_bytes_variants((work / "m.ckpt").read_bytes()),
                       "wrong-type": b"PK\x03\x04not a zip"}.items():
        ckpt = tmp_path / f"{kind}.ckpt"
        ckpt.write_bytes(data)
        code = main(["predict", str(ckpt), str(kp), "--image-size", str(W), str(H),
                     "--model", "videopose3d_27", "--out", str(tmp_path / "o" / "p")])
        _check_error(capsys, code, ckpt.name)
    assert _files(tmp_path / "o") == []


def test_output_problems_fail_before_any_work(work, tmp_path, capsys, monkeypatch):
    kp = tmp_path / "det.npy"
    np.save(kp, _coco(12))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["predict", str(work / "m.ckpt"), str(kp), "--image-size", str(W), str(H),
                 "--out", str(blocker / "sub" / "p")])
    assert "is a file, not a folder" in _check_error(capsys, code, "file")
    monkeypatch.setattr("shutil.which", lambda name: None)
    code = main(["predict", str(work / "m.ckpt"), str(kp), "--image-size", str(W), str(H),
                 "--out", str(tmp_path / "o" / "p"), "--render", str(tmp_path / "o" / "a.mp4")])
    assert "needs ffmpeg" in _check_error(capsys, code, "a.mp4")
    assert _files(tmp_path / "o") == []


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    out = tmp_path_factory.mktemp("take")
    assert main(["data", "synth", "--out", str(out), "--motions", "walk", "--subjects", "1",
                 "--cameras", "2", "--noise", "clean"]) == 0
    path = sorted(out.glob("*.npz"))[0]
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    pose3d = out / "pose3d.npz"
    np.savez(pose3d, pose3d=np.zeros(data["pose2d"].shape[:2] + (17, 3)))
    return path, pose3d, data


def test_calibrate_rejects_damaged_inputs(take, tmp_path, capsys):
    path, pose3d, data = take
    view = tmp_path / "v0.npz"
    np.savez(view, pose2d=data["pose2d"][0], image_size=data["image_size"][0])
    intr = tmp_path / "cams.json"
    intr.write_text(json.dumps({"K": data["K"].tolist()}))
    bad_pose = {k: v for k, v in _bytes_variants(pose3d.read_bytes()).items()}
    bad_intr = {**_bytes_variants(intr.read_bytes()), "wrong-type": b'{"K": "abc"}'}
    runs = []
    for case, name, content in keypoint_inputs(tmp_path):
        if case.startswith("own") or case.startswith("openpose"):
            runs.append(("keypoints", name, content))
    runs += [("pose3d", "p3.npz", c) for c in bad_pose.values()]
    runs += [("intrinsics", "k.json", c) for c in bad_intr.values()]
    for i, (role, name, content) in enumerate(runs):
        f = tmp_path / f"c{i}" / name
        f.parent.mkdir()
        f.write_bytes(content)
        views = [str(f), str(view)] if role == "keypoints" else [str(view), str(view)]
        args = ["calibrate", *views, "--pose3d", str(f if role == "pose3d" else pose3d),
                "--intrinsics", str(f if role == "intrinsics" else intr),
                "--image-size", str(W), str(H), "--out", str(tmp_path / "out")]
        code = main(args)
        _check_error(capsys, code, name)
    assert _files(tmp_path / "out") == []


def test_data_commands_reject_damaged_files(tmp_path, capsys):
    from tests.datamodules.test_bvh import make_bvh

    good = make_bvh(frames=4)[0].encode()
    bvh_cases = {**_bytes_variants(good), "wrong-type": b"HIERARCHY\nROOT Hips\n{\nOFFSET a b c\n",
                 "nan": good.replace(b"MOTION", b"MOTION", 1).rsplit(b"\n", 2)[0]
                 + b"\n" + b" ".join([b"nan"] * 114) + b"\n"}
    for kind, content in bvh_cases.items():
        f = tmp_path / f"{kind}.bvh"
        f.write_bytes(content)
        code = main(["data", "synth", "--out", str(tmp_path / "takes"), "--motions", str(f),
                     "--subjects", "1"])
        _check_error(capsys, code, f.name)
        _check_error(capsys, main(["data", "show-bvh", str(f)]), f.name)
    assert _files(tmp_path / "takes") == []
    take = tmp_path / "t.npz"
    for content in {**_bytes_variants(_npz(tmp_path / "x.npz", a=np.ones(3))),
                    "wrong-type": _npz(tmp_path / "y.npz", pose2d=np.ones(3))}.values():
        take.write_bytes(content)
        code = main(["data", "show", str(take), "--out", str(tmp_path / "png" / "a.png")])
        _check_error(capsys, code, take.name)
    assert _files(tmp_path / "png") == []


def test_data_prepare_rejects_damaged_files(tmp_path, capsys):
    root = tmp_path / "asp"
    _write_release(root, [("1e28", "train")])
    c3d = root / "trainval/joints_3d/1e28/1e28-0001.c3d"
    cam = root / "trainval/cameras/1e28/1e28-mid.json"
    good_c3d, good_cam = c3d.read_bytes(), cam.read_bytes()
    cases = [(c3d, v) for v in _bytes_variants(good_c3d).values()]
    cases += [(cam, v) for v in _bytes_variants(good_cam).values()]
    cases += [(cam, b'{"intrinsic_matrix": "x", "extrinsic_matrix": [1]}')]
    for f, content in cases:
        c3d.write_bytes(good_c3d)
        cam.write_bytes(good_cam)
        f.write_bytes(content)
        code = main(["data", "prepare", "aspset", "--root", str(root), "--cache-dir",
                     str(tmp_path / "cache")])
        _check_error(capsys, code, f.name)
        assert _files(tmp_path / "cache") == [], f
    assert _files(tmp_path / "cache") == []


def test_console_script_one_line_and_debug_traceback(work, tmp_path):
    f = tmp_path / "empty.npz"
    f.write_bytes(b"")
    cmd = [sys.executable, "-m", "liftbench", "predict", str(work / "m.ckpt"), str(f),
           "--out", str(tmp_path / "p")]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "empty.npz" in run.stderr
    env = {**os.environ, "LIFTBENCH_DEBUG": "1"}
    debug = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
