from pathlib import Path

import numpy as np
import pytest

from liftbench.datamodules.synthetic.bvh import bvh_positions, parse_bvh, read_bvh
from liftbench.datamodules.synthetic.bvh_mapping import (
    UNITS,
    bvh_to_h36m,
    detect_flavour,
    infer_unit,
    resolve_name_map,
)
from liftbench.datamodules.synthetic.deepmimic import Y_UP_TO_Z_UP
from liftbench.geometry.skeletons import H36M17, bone_lengths

# name, parent name, rest offset (metres, Y up, facing +Z so the subject's left is +X)
SKELETON = [
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("LeftUpLeg", "Hips", (0.1, -0.05, 0.0)), ("LeftLeg", "LeftUpLeg", (0.0, -0.42, 0.0)),
    ("LeftFoot", "LeftLeg", (0.0, -0.42, 0.02)),
    ("RightUpLeg", "Hips", (-0.1, -0.05, 0.0)), ("RightLeg", "RightUpLeg", (0.0, -0.42, 0.0)),
    ("RightFoot", "RightLeg", (0.0, -0.42, 0.02)),
    ("Spine1", "Hips", (0.0, 0.24, 0.0)), ("Neck", "Spine1", (0.0, 0.26, -0.02)),
    ("Head", "Neck", (0.0, 0.12, 0.03)),
    ("LeftArm", "Neck", (0.18, -0.02, 0.0)), ("LeftForeArm", "LeftArm", (0.28, 0.0, 0.0)),
    ("LeftHand", "LeftForeArm", (0.25, 0.0, 0.0)),
    ("RightArm", "Neck", (-0.18, -0.02, 0.0)), ("RightForeArm", "RightArm", (-0.28, 0.0, 0.0)),
    ("RightHand", "RightForeArm", (-0.25, 0.0, 0.0)),
]
END_SITES = {"Head": (0.0, 0.12, 0.0), "LeftFoot": (0.0, -0.05, 0.12),
             "RightFoot": (0.0, -0.05, 0.12)}
ORDERS = {
    "XYZ": ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"),
    "YXZ": ("Yrotation", "Xrotation", "Zrotation", "Zposition", "Xposition", "Yposition"),
}
J = {n: i for i, n in enumerate(H36M17.joints)}


def elementary(axis, deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def make_bvh(order="XYZ", frames=6, noise=0.02, seed=0, scale=1.0, rename=None, fps=30.0):
    """BVH text with position + rotation channels on every joint, and its channel table."""
    rng = np.random.default_rng(seed)
    rename = rename or {}
    children = {}
    for name, parent, _ in SKELETON:
        children.setdefault(parent, []).append(name)
    offsets = {n: np.array(o) * scale for n, _, o in SKELETON}
    lines, columns = ["HIERARCHY"], []

    def emit(name, depth):
        pad = "  " * depth
        kind = "ROOT" if depth == 0 else "JOINT"
        lines.extend([f"{pad}{kind} {rename.get(name, name)}", f"{pad}{{"])
        lines.append(f"{pad}  OFFSET " + " ".join(f"{v:.6f}" for v in offsets[name]))
        lines.append(f"{pad}  CHANNELS 6 " + " ".join(ORDERS[order]))
        columns.extend((name, ch) for ch in ORDERS[order])
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name in END_SITES:
            site = " ".join(f"{v:.6f}" for v in np.array(END_SITES[name]) * scale)
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {site}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit("Hips", 0)
    table = np.empty((frames, len(columns)))
    for k, (name, ch) in enumerate(columns):
        if ch.endswith("position"):
            axis = "XYZ".index(ch[0])
            base = offsets[name][axis] + (0.3 * scale * np.arange(frames) if name == "Hips"
                                          and axis == 2 else 0)
            table[:, k] = base + noise * scale * rng.standard_normal(frames)
        else:
            table[:, k] = rng.uniform(-40, 40, frames)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in table]
    return "\n".join(lines) + "\n", columns, np.round(table, 6)


def reference_fk(columns, table):
    """Independent FK: local = T(position channels) · R(channel 1) R(channel 2) R(channel 3)."""
    out = {}
    for row in table:
        trans, rot = {}, {}
        for (name, ch), value in zip(columns, row):
            trans.setdefault(name, np.zeros(3))
            rot.setdefault(name, np.eye(3))
            if ch.endswith("position"):
                trans[name]["XYZ".index(ch[0])] = value
            else:
                rot[name] = rot[name] @ elementary(ch[0], value)
        glob = {}
        for name, par, _ in SKELETON:
            if par is None:
                glob[name] = (rot[name], trans[name])
            else:
                pr, pp = glob[par]
                glob[name] = (pr @ rot[name], pp + pr @ trans[name])
            out.setdefault(name, []).append(glob[name][1])
        for name, off in END_SITES.items():
            pr, pp = glob[name]
            out.setdefault(f"{name}_End", []).append(pp + pr @ np.array(off))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("order", list(ORDERS))
def test_positions_match_an_independent_fk(order):
    text, columns, table = make_bvh(order)
    bvh = parse_bvh(text)
    assert bvh.num_frames == 6 and bvh.fps == 30.0 and len(bvh.joints) == 19
    got = bvh_positions(bvh)
    ref = reference_fk(columns, table)
    for k, name in enumerate(bvh.names):
        assert np.allclose(got[:, k], ref[name], atol=1e-9), name


def test_rigid_skeleton_maps_to_h36m_unchanged():
    text, _, _ = make_bvh("YXZ", frames=20, noise=0.0)  # position channels = offsets: rigid
    bvh = parse_bvh(text)
    mapping = resolve_name_map(bvh)
    assert detect_flavour(bvh.names) == "generic"
    assert bvh.names[mapping["head"]] == "Head_End" and bvh.names[mapping["thorax"]] == "Neck"
    raw = bvh_positions(bvh)[:, [mapping[j] for j in H36M17.joints]]
    joints, fps = bvh_to_h36m(bvh, unit="m", up="z")
    assert fps == 30.0 and np.allclose(joints, raw, atol=1e-9)
    lengths = bone_lengths(joints)
    assert np.allclose(lengths, lengths[:1], rtol=1e-9)
    z_up, _ = bvh_to_h36m(bvh, unit="m")
    assert np.allclose(z_up, raw @ Y_UP_TO_Z_UP.T)
    # rest facing +Z (Y up) = facing -Y (Z up): the left hip is on the left of that
    side = z_up[:, J["left_hip"]] - z_up[:, J["right_hip"]]
    forward = np.array([0.0, -1.0, 0.0])
    assert side[0] @ np.cross([0, 0, 1.0], forward) > 0


def test_non_rigid_bones_get_constant_lengths():
    text, _, _ = make_bvh("XYZ", frames=30, noise=0.03)  # stretching position channels
    joints, _ = bvh_to_h36m(parse_bvh(text), unit="m")
    lengths = bone_lengths(joints)
    assert np.abs(lengths / lengths[:1] - 1).max() < 1e-6


@pytest.mark.parametrize("unit", ["m", "cm", "mm", "inch"])
def test_unit_is_inferred_from_the_height(unit):
    text, _, _ = make_bvh(scale=1 / UNITS[unit], noise=0.0)
    bvh = parse_bvh(text)
    assert infer_unit(bvh) == unit
    joints, _ = bvh_to_h36m(bvh)
    ref, _ = bvh_to_h36m(parse_bvh(make_bvh(noise=0.0)[0]), unit="m")
    assert np.allclose(joints, ref, atol=1e-5)
    explicit, _ = bvh_to_h36m(bvh, unit=UNITS[unit])
    assert np.allclose(explicit, joints)


def test_resampling_keeps_bone_lengths():
    text, _, _ = make_bvh("YXZ", frames=13, noise=0.0, fps=30.0)
    bvh = parse_bvh(text)
    native, _ = bvh_to_h36m(bvh, unit="m")
    double, fps = bvh_to_h36m(bvh, fps=60.0, unit="m")
    assert fps == 60.0 and double.shape[0] == 25
    assert np.allclose(double[::2], native, atol=1e-9)
    for rate in (50.0, 7.0):
        joints, _ = bvh_to_h36m(bvh, fps=rate, unit="m")
        assert joints.shape[0] == int(np.floor(12 / 30 * rate + 1e-6)) + 1
        assert np.allclose(bone_lengths(joints), bone_lengths(native)[:1], rtol=1e-6)


def test_mixamo_names_and_user_maps():
    rename = {n: f"mixamorig:{n}" for n, _, _ in SKELETON}
    bvh = parse_bvh(make_bvh(rename=rename)[0])
    assert detect_flavour(bvh.names) == "mixamo"
    assert bvh.names[resolve_name_map(bvh)["pelvis"]] == "mixamorig:Hips"
    odd = parse_bvh(make_bvh(rename={"Head": "Skull", "Spine1": "Torso2"})[0])
    with pytest.raises(ValueError, match=r"\['spine', 'nose', 'head'\].*name_map=") as err:
        resolve_name_map(odd)
    assert "Skull" in str(err.value)
    fixed = resolve_name_map(odd, name_map={"nose": "Skull", "spine": "Torso2"})
    assert odd.names[fixed["head"]] == "Skull_End"  # head top: the nose joint's End Site
    with pytest.raises(ValueError, match="not an H36M-17 joint"):
        resolve_name_map(odd, name_map={"chin": "Skull"})
    with pytest.raises(ValueError, match="is not a joint of"):
        resolve_name_map(odd, name_map={"nose": "Cranium"})


def test_clear_errors(tmp_path):
    good, _, _ = make_bvh(frames=3)
    lines = good.splitlines()
    assert lines[3].strip().startswith("OFFSET")
    garbled = good.replace(lines[3], "  OFFSET 0.0 abc 0.0", 1)
    with pytest.raises(ValueError, match=r"line 4: expected a number for OFFSET.*'abc'"):
        parse_bvh(garbled)
    with pytest.raises(ValueError, match=r"line \d+: file ends .*truncated"):
        parse_bvh("\n".join(lines[:20]))
    motion = lines.index("MOTION")
    with pytest.raises(ValueError, match=r"truncated: Frames: 3 but only 2 frame lines"):
        parse_bvh("\n".join(lines[:-1]))
    short = lines[:-1] + [" ".join(lines[-1].split()[:-5])]
    with pytest.raises(ValueError, match=rf"line {len(lines)}: frame 2 has \d+ values, fewer"):
        parse_bvh("\n".join(short))
    zero = lines[:motion] + ["MOTION", "Frames: 0", "Frame Time: 0.033"]
    with pytest.raises(ValueError, match="zero frames"):
        parse_bvh("\n".join(zero))
    with pytest.raises(ValueError, match="unknown channel 'Wrotation'"):
        parse_bvh(good.replace("Zrotation", "Wrotation", 1))
    with pytest.raises(ValueError, match="expected 'HIERARCHY'"):
        parse_bvh("hello\n")
    bad_value = lines[:-1] + ["nan_x " + " ".join(lines[-1].split()[1:])]
    with pytest.raises(ValueError, match=rf"line {len(lines)}: expected a number, got 'nan_x'"):
        parse_bvh("\n".join(bad_value))
    with pytest.raises(FileNotFoundError, match="no BVH file"):
        read_bvh(tmp_path / "none.bvh")


@pytest.fixture(scope="module")
def cmu_path():
    path = Path(__file__).resolve().parents[2] / "../shared/data" / "mocap" / "cmu_01_01.bvh"
    if not path.is_file():
        pytest.skip(f"no CMU capture at {path}")
    return path


def test_cmu_file(cmu_path):
    bvh = read_bvh(cmu_path)
    assert detect_flavour(bvh.names) == "cmu" and infer_unit(bvh) == "cmu"
    assert bvh.num_frames == 2752 and bvh.fps == 120.0 and bvh.motion.shape[1] == 96
    mapping = resolve_name_map(bvh)
    assert bvh.names[mapping["thorax"]] == "Spine1" and bvh.names[mapping["head"]] == "Head_End"
    joints, _ = bvh_to_h36m(bvh)
    raw = bvh_positions(bvh)[:, [mapping[j] for j in H36M17.joints]] * UNITS["cmu"]
    moved = np.linalg.norm(joints - raw @ Y_UP_TO_Z_UP.T, axis=-1).max(axis=0)
    # only the bones spanning several CMU joints (thorax->nose->head) are re-lengthened
    assert (moved[[J["nose"], J["head"]]] < 0.03).all()
    assert np.delete(moved, [J["nose"], J["head"]]).max() < 1e-9
    lengths = bone_lengths(joints)
    assert np.abs(lengths / lengths[:1] - 1).max() < 1e-6
