"""The same motion written as BVH in many flavours maps to the same H36M-17 joints.

Flavours differ in joint names (`Left…`, `_L`/`_R`, 3ds-Max CMU, Mixamo), extra joints
(collars, CMU's zero-offset hip/back joints, split necks, fingers, toes), zero-length End
Sites, 3 or 6 channels per joint, rotation orders and units. Inserted joints carry no rotation
and split or offset bones so that every original joint stays where it was.
"""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.synthetic.bvh import parse_bvh
from liftbench.datamodules.synthetic.bvh_mapping import UNITS, bvh_to_h36m, describe_bvh, map_bvh
from liftbench.geometry.skeletons import H36M17

# base skeleton: name, parent, rest offset (metres, Y up, facing +Z: the left is +X)
BASE = [
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("LeftUpLeg", "Hips", (0.1, -0.05, 0.0)), ("LeftLeg", "LeftUpLeg", (0.0, -0.42, 0.01)),
    ("LeftFoot", "LeftLeg", (0.0, -0.42, -0.02)),
    ("RightUpLeg", "Hips", (-0.1, -0.05, 0.0)), ("RightLeg", "RightUpLeg", (0.0, -0.42, 0.01)),
    ("RightFoot", "RightLeg", (0.0, -0.42, -0.02)),
    ("Spine", "Hips", (0.0, 0.25, -0.01)), ("Neck", "Spine", (0.0, 0.26, -0.02)),
    ("Head", "Neck", (0.0, 0.12, 0.03)),
    ("LeftArm", "Neck", (0.17, -0.03, 0.0)), ("LeftForeArm", "LeftArm", (0.28, 0.0, 0.0)),
    ("LeftHand", "LeftForeArm", (0.24, 0.0, 0.0)),
    ("RightArm", "Neck", (-0.17, -0.03, 0.0)), ("RightForeArm", "RightArm", (-0.28, 0.0, 0.0)),
    ("RightHand", "RightForeArm", (-0.24, 0.0, 0.0)),
]
FOOT_END = (0.0, -0.06, 0.14)
HAND_END = 0.17  # along the arm, metres


def _sided(name, left, right):
    return name.replace("Left", left).replace("Right", right)


def flavour_nodes(kind):
    """`[(name, parent, offset (m), base joint or None, end site?)]` of a flavour."""
    base = {n: (p, np.array(o)) for n, p, o in BASE}
    nodes = []

    def add(name, parent, offset, src=None, end=False):
        nodes.append((name, parent, np.asarray(offset, dtype=float), src, end))

    side = {"L": "Left", "R": "Right"}
    if kind in ("generic", "generic3"):
        for n, (p, o) in base.items():
            add(n, p, o, n)
        for s in "LR":
            add(f"{side[s]}Foot_End", f"{side[s]}Foot", FOOT_END, end=True)
            x = HAND_END if s == "L" else -HAND_END
            add(f"{side[s]}Hand_End", f"{side[s]}Hand", (x, 0, 0), end=True)
        add("Head_End", "Head", HEAD_END, end=True)
    elif kind == "suffix":  # Bandai-Namco style: _L/_R, a collar, toes, zero-length head end
        add("joint_Root", None, (0, 0, 0))
        add("Hips", "joint_Root", base["Hips"][1], "Hips")
        add("Spine", "Hips", base["Spine"][1], "Spine")
        add("Chest", "Spine", base["Neck"][1] * 0.6)
        add("Neck", "Chest", base["Neck"][1] * 0.4, "Neck")
        add("Head", "Neck", base["Head"][1], "Head")
        add("Head_End", "Head", (0, 0, 0), end=True)
        for s, sign in (("L", 1), ("R", -1)):
            long = side[s]
            add(f"UpperLeg_{s}", "Hips", base[f"{long}UpLeg"][1], f"{long}UpLeg")
            add(f"LowerLeg_{s}", f"UpperLeg_{s}", base[f"{long}Leg"][1], f"{long}Leg")
            add(f"Foot_{s}", f"LowerLeg_{s}", base[f"{long}Foot"][1], f"{long}Foot")
            add(f"Toes_{s}", f"Foot_{s}", np.array(FOOT_END) * 0.7)
            add(f"Toes_{s}_End", f"Toes_{s}", np.array(FOOT_END) * 0.3, end=True)
            collar = np.array([0.03 * sign, 0.02, 0.0])
            add(f"Shoulder_{s}", "Neck", collar)
            add(f"UpperArm_{s}", f"Shoulder_{s}", base[f"{long}Arm"][1] - collar, f"{long}Arm")
            add(f"LowerArm_{s}", f"UpperArm_{s}", base[f"{long}ForeArm"][1], f"{long}ForeArm")
            add(f"Hand_{s}", f"LowerArm_{s}", base[f"{long}Hand"][1], f"{long}Hand")
            add(f"Hand_{s}_End", f"Hand_{s}", (sign * HAND_END, 0, 0), end=True)
    elif kind == "cmu3dsmax":  # LHipJoint/LeftHip, LeftCollar -> LeftShoulder, fingers
        add("Hips", None, base["Hips"][1], "Hips")
        add("LowerBack", "Hips", (0, 0, 0))
        add("Spine", "LowerBack", base["Spine"][1], "Spine")
        add("Spine1", "Spine", base["Neck"][1], "Neck")
        add("Neck", "Spine1", (0, 0, 0))
        add("Neck1", "Neck", base["Head"][1] * 0.5)
        add("Head", "Neck1", base["Head"][1] * 0.5, "Head")
        add("Head_End", "Head", HEAD_END, end=True)
        for s, sign in (("L", 1), ("R", -1)):
            long = side[s]
            add(f"{s}HipJoint", "Hips", (0, 0, 0))
            add(f"{long}Hip", f"{s}HipJoint", base[f"{long}UpLeg"][1], f"{long}UpLeg")
            add(f"{long}Knee", f"{long}Hip", base[f"{long}Leg"][1], f"{long}Leg")
            add(f"{long}Ankle", f"{long}Knee", base[f"{long}Foot"][1], f"{long}Foot")
            add(f"{long}Toe", f"{long}Ankle", np.array(FOOT_END) * 0.8)
            add(f"{long}Toe_End", f"{long}Toe", np.array(FOOT_END) * 0.2, end=True)
            add(f"{long}Collar", "Spine1", (0, 0, 0))
            add(f"{long}Shoulder", f"{long}Collar", base[f"{long}Arm"][1], f"{long}Arm")
            add(f"{long}Elbow", f"{long}Shoulder", base[f"{long}ForeArm"][1], f"{long}ForeArm")
            add(f"{long}Wrist", f"{long}Elbow", base[f"{long}Hand"][1], f"{long}Hand")
            add(f"{long}FingerBase", f"{long}Wrist", (0, 0, 0))
            add(f"{s}Fingers", f"{long}FingerBase", (sign * 0.1, 0, 0))
            add(f"{s}Fingers_End", f"{s}Fingers", (sign * (HAND_END - 0.1), 0, 0), end=True)
            add(f"{s}Thumb", f"{long}Wrist", (sign * 0.03, 0, 0.03))
            add(f"{s}Thumb_End", f"{s}Thumb", (sign * 0.04, 0, 0.04), end=True)
    elif kind == "mixamo":  # namespaced names, nonzero collars, three-joint fingers
        ns = "mixamorig:"
        add(ns + "Hips", None, base["Hips"][1], "Hips")
        add(ns + "Spine", ns + "Hips", base["Spine"][1], "Spine")
        add(ns + "Neck", ns + "Spine", base["Neck"][1], "Neck")
        add(ns + "Head", ns + "Neck", base["Head"][1], "Head")
        add(ns + "HeadTop_End", ns + "Head", HEAD_END, end=True)
        for s, sign in (("L", 1), ("R", -1)):
            long = side[s]
            add(f"{ns}{long}UpLeg", ns + "Hips", base[f"{long}UpLeg"][1], f"{long}UpLeg")
            add(f"{ns}{long}Leg", f"{ns}{long}UpLeg", base[f"{long}Leg"][1], f"{long}Leg")
            add(f"{ns}{long}Foot", f"{ns}{long}Leg", base[f"{long}Foot"][1], f"{long}Foot")
            add(f"{ns}{long}Foot_End", f"{ns}{long}Foot", FOOT_END, end=True)
            collar = np.array([0.06 * sign, 0.01, 0.0])
            add(f"{ns}{long}Shoulder", ns + "Neck", collar)
            add(f"{ns}{long}Arm", f"{ns}{long}Shoulder", base[f"{long}Arm"][1] - collar,
                f"{long}Arm")
            add(f"{ns}{long}ForeArm", f"{ns}{long}Arm", base[f"{long}ForeArm"][1],
                f"{long}ForeArm")
            add(f"{ns}{long}Hand", f"{ns}{long}ForeArm", base[f"{long}Hand"][1], f"{long}Hand")
            for finger, z in (("Index", 0.01), ("Pinky", -0.02), ("Thumb", 0.04)):
                parent = f"{ns}{long}Hand"
                for k in (1, 2, 3):
                    name = f"{ns}{long}Hand{finger}{k}"
                    add(name, parent, (sign * 0.04, 0, z if k == 1 else 0))
                    parent = name
                add(parent + "_End", parent, (sign * 0.03, 0, 0), end=True)
    else:
        raise ValueError(kind)
    return nodes


HEAD_END = np.zeros(3)  # replaced by the virtual head-top prior below


def write(kind, rots, root_pos, unit="m", channels=3, orders=("ZXY",), fps=60.0):
    """BVH text of a flavour performing the base motion.

    Args:
        rots: base joint → `Rotation` of length T (local, relative to the parent).
        root_pos: `(T, 3)` root positions, metres.
    """
    nodes = flavour_nodes(kind)
    scale = 1.0 / UNITS[unit]
    kids = {}
    for n in nodes:
        kids.setdefault(n[1], []).append(n)
    lines, columns = ["HIERARCHY"], []
    counter = iter(range(10**6))

    def emit(node, depth):
        name, parent, offset, src, end = node
        pad = "  " * depth
        if end:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET "
                          + " ".join(f"{v * scale:.6f}" for v in offset), f"{pad}}}"])
            return
        order = orders[next(counter) % len(orders)]
        rot_ch = [f"{a}rotation" for a in order]
        chans = (["Xposition", "Yposition", "Zposition"] + rot_ch) if (
            parent is None or channels == 6 or src == "Hips") else rot_ch
        lines.extend([f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}", f"{pad}{{",
                      f"{pad}  OFFSET " + " ".join(f"{v * scale:.6f}" for v in offset),
                      f"{pad}  CHANNELS {len(chans)} " + " ".join(chans)])
        columns.append((name, parent, offset, src, order, len(chans) == 6))
        for child in kids.get(name, []):
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    emit(kids[None][0], 0)
    frames = root_pos.shape[0]
    table = []
    for _name, _parent, offset, src, order, has_pos in columns:
        if has_pos:  # Hips carries the root motion (also below a reference root)
            base_pos = root_pos if src == "Hips" else np.broadcast_to(offset, (frames, 3))
            table.append(base_pos * scale)
        rot = rots[src] if src in rots else Rotation.identity(frames)
        table.append(rot.as_euler(order, degrees=True))
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / fps:.8f}"]
    body = np.concatenate(table, axis=1)
    lines += [" ".join(f"{v:.6f}" for v in row) for row in body]
    return "\n".join(lines) + "\n"


def _motion(frames=24, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, frames)[:, None]
    rots = {}
    for name, _, _ in BASE:
        amp = rng.uniform(-35, 35, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        rots[name] = Rotation.from_euler("ZXY", amp * np.sin(2 * np.pi * t + phase),
                                         degrees=True)
    root = np.array([0.0, 0.95, 0.0]) + np.concatenate(
        [0.5 * t, 0.03 * np.sin(6 * t), 1.2 * t], axis=1)
    return rots, root


@pytest.fixture(scope="module")
def motion():
    global HEAD_END
    rots, root = _motion()
    # the base's head top: where the zero-length-End-Site prior puts it, so every flavour
    # (including the one without a head top) has the same 17 joints
    smap = map_bvh(parse_bvh(write("suffix", rots, root)))
    HEAD_END = smap.bvh.joints[smap.joints["head"]].offset.copy()
    assert np.linalg.norm(HEAD_END) > 0.05
    return rots, root


CASES = [
    ("generic", "m", 3, ("ZXY",)),
    ("generic3", "cm", 6, ("XYZ", "YZX")),
    ("suffix", "m", 3, ("ZYX", "YXZ", "XZY")),
    ("cmu3dsmax", "inch", 3, ("ZXY", "ZYX")),
    ("mixamo", "cm", 6, ("ZXY",)),
    ("cmu3dsmax", "m", 6, ("XZY",)),
]


def test_every_flavour_gives_the_same_h36m_joints(motion):
    rots, root = motion
    ref, _ = bvh_to_h36m(parse_bvh(write("generic", rots, root)))
    assert np.ptp(ref[:, 0], axis=0).max() > 0.3  # the motion moves
    for kind, unit, channels, orders in CASES:
        bvh = parse_bvh(write(kind, rots, root, unit, channels, orders), source=kind)
        joints, fps = bvh_to_h36m(bvh)
        err = np.abs(joints - ref).max()
        assert fps == 60.0 and err < 1e-3, (kind, unit, channels, orders, err,
                                              describe_bvh(bvh))


def test_mapping_report_names_the_chosen_joints(motion):
    rots, root = motion
    text = describe_bvh(parse_bvh(write("cmu3dsmax", rots, root, "inch"), source="max.bvh"))
    assert "names look 'cmu'" in text and "unit 'inch'" in text
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()[1:18]}
    assert set(rows) == set(H36M17.joints)
    assert rows["left_shoulder"] == "LeftShoulder" and rows["left_wrist"] == "LeftWrist"
    assert rows["right_hip"] == "RightHip" and rows["thorax"] == "Spine1"
    suffix = describe_bvh(parse_bvh(write("suffix", rots, root), source="bn.bvh"))
    assert "head top: the End Site of 'Head' has zero length" in suffix
    assert "left_shoulder   UpperArm_L" in suffix


def test_mirrored_names_follow_the_geometry(motion):
    """A file whose 'Left' joints are on the body's right: the rest pose decides, with a note."""
    rots, root = motion
    swapped = write("generic", rots, root).replace("Left", "Tmp").replace(
        "Right", "Left").replace("Tmp", "Right")
    smap = map_bvh(parse_bvh(swapped))
    names = smap.bvh.names
    assert names[smap.joints["left_hip"]] == "RightUpLeg"
    assert any("carry" in n and "right" in n for n in smap.notes)


def test_user_map_overrides_and_named_flavours(motion):
    rots, root = motion
    bvh = parse_bvh(write("suffix", rots, root))
    smap = map_bvh(bvh, name_map={"thorax": "Chest"})
    assert bvh.names[smap.joints["thorax"]] == "Chest"
    with pytest.raises(ValueError, match="no BVH joint for the H36M-17 joints"):
        map_bvh(bvh, flavour="cmu")
    with pytest.raises(ValueError, match="is not a joint of"):
        map_bvh(bvh, name_map={"thorax": "Sternum"})


def test_not_a_humanoid_is_a_clear_error():
    text = "\n".join([
        "HIERARCHY", "ROOT A", "{", "OFFSET 0 0 0", "CHANNELS 3 Zrotation Xrotation Yrotation",
        "JOINT B", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation",
        "End Site", "{", "OFFSET 0 1 0", "}", "}", "}", "MOTION", "Frames: 1",
        "Frame Time: 0.1", "0 0 0 0 0 0"])
    with pytest.raises(ValueError, match="no pelvis found.*--bvh-map"):
        bvh_to_h36m(parse_bvh(text, source="stick.bvh"))


def test_datamodule_and_cli_options(motion, tmp_path, capsys):
    from liftbench.bench.cli import main
    from liftbench.datamodules.synthetic.bvh_mapping import bvh_motion_options
    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

    rots, root = motion
    f = tmp_path / "bn.bvh"
    f.write_text(write("suffix", rots, root))
    mapping = tmp_path / "map.json"
    mapping.write_text('{"thorax": "Chest"}')
    assert bvh_motion_options(mapping) == {"flavour": "auto", "name_map": {"thorax": "Chest"}}
    plain = SyntheticDataModule(motions=[str(f)], cache_dir=tmp_path)
    mapped = SyntheticDataModule(motions=[str(f)], cache_dir=tmp_path, bvh_map=mapping)
    assert "bvh" not in plain.config and mapped.cache_key != plain.cache_key
    assert mapped.config["bvh"]["name_map"] == {"thorax": "Chest"}
    with pytest.raises(ValueError, match="flavour must be"):
        SyntheticDataModule(motions=[str(f)], flavour="maya")
    assert main(["data", "show-bvh", str(f), "--bvh-map", str(mapping)]) == 0
    assert "thorax          Chest" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text('["thorax"]')
    assert main(["data", "synth", "--out", str(tmp_path / "t"), "--motions", str(f),
                 "--bvh-map", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: expected a JSON object" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path / "t"), "--motions", str(f),
                 "--subjects", "1", "--cameras", "2", "--bvh-map", str(mapping)]) == 0
    assert len(list((tmp_path / "t").glob("*.npz"))) == 1
