"""Random humanoid BVH hierarchies performing one known motion map to the same H36M-17 joints.

A reference body (17 H36M joints plus toes and hand ends, metres, Y up, facing +Z, the left is
+X; stature and upper arm / forearm / leg lengths drawn per hierarchy) moves by known joint
rotations. Each random hierarchy places its H36M joints where the
reference's are and adds joints that keep them there: a static root above the pelvis, 1-4 spine
joints (the arms may hang off a chest joint below the thorax), 1-3 neck/head joints, collars,
hip bones, twist joints inside or beside the limb chains (turning about the bone; those
inside are named `..._Twist` / `..._Roll`, as the mapping needs), toes and fingers; head tops
as an End Site, a zero-length End Site or a joint. Every joint is written in
its own rest frame (`_rest_frames`: T-pose, A-pose, or bones along +-x / +-z as Maya-style
exports do, which makes the OFFSET-only rest pose a meaningless tangle), in Y-up or Z-up axes,
in m / cm / inch, with 3 or 6 channels and random rotation orders. The channel values are
chosen so each joint's world transform follows its reference body: joint k with reference
global rotation E_k(t) and rest frame R_k gets the world rotation G_k = W E_k R_k^-1 W^-1 (W:
the file's axes) and the OFFSET W R_parent (P_k - P_parent).

The reference motion keeps the thorax rigid with the spine (a chest joint below the thorax
carries the arms in some hierarchies, which is the same body only then); its head top lies on
the thorax->nose line at the adult-proportion prior, so hierarchies without a head top (a
zero-length End Site) give the same 17 joints too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.synthetic.bvh import parse_bvh
from liftbench.datamodules.synthetic.bvh_mapping import (
    UNITS,
    bvh_to_h36m,
    describe_bvh,
    infer_up,
)
from liftbench.datamodules.synthetic.bvh_topology import head_top_prior
from liftbench.datamodules.synthetic.deepmimic import Y_UP_TO_Z_UP
from liftbench.geometry.skeletons import H36M17

# reference body: joint -> (parent, rest position (m, Y up, facing +Z, left = +X))
_HALF = {
    "hip": ("pelvis", (0.1, 0.9, 0.0)), "knee": ("hip", (0.1, 0.48, 0.01)),
    "ankle": ("knee", (0.1, 0.07, -0.01)), "toe": ("ankle", (0.1, 0.01, 0.13)),
    "shoulder": ("thorax", (0.17, 1.45, -0.03)), "elbow": ("shoulder", (0.45, 1.45, -0.03)),
    "wrist": ("elbow", (0.69, 1.45, -0.03)), "hand": ("wrist", (0.87, 1.45, -0.03)),
}
_TRUNK = {
    "pelvis": (None, (0.0, 0.95, 0.0)), "spine": ("pelvis", (0.0, 1.2, -0.01)),
    "thorax": ("spine", (0.0, 1.45, -0.03)), "nose": ("thorax", (0.0, 1.56, 0.0)),
}


def reference_body(body: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> dict:
    """Joint -> (parent, rest position (m, Y up, facing +Z, left = +X)) of a reference body.

    The reference scaled by `body[0]`, with the upper arm, forearm and thigh + shank lengths
    times `body[1:]`; its head top on the thorax->nose line at the length the zero-End-Site
    prior gives.
    """
    scale, upper, fore, leg = body
    stretch = {"elbow": upper, "wrist": fore, "knee": leg, "ankle": leg}
    out: dict[str, tuple[str | None, np.ndarray]] = {}
    items = [(k, p, np.array(v)) for k, (p, v) in _TRUNK.items()]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for j, (p, v) in _HALF.items():
            parent = p if p in ("pelvis", "thorax") else f"{side}_{p}"
            items.append((f"{side}_{j}", parent, np.array(v) * (sign, 1.0, 1.0)))
    given = {k: v for k, _, v in items}
    for k, p, v in items:
        if p is None:
            out[k] = (None, v * scale)
        else:
            bone = (v - given[p]) * scale * stretch.get(k.split("_")[-1], 1.0)
            out[k] = (p, out[p][1] + bone)

    def dist(a: str, b: str) -> float:
        return float(np.linalg.norm(out[a][1] - out[b][1]))

    legs = np.mean([dist(f"{s}_hip", f"{s}_knee") + dist(f"{s}_knee", f"{s}_ankle")
                    for s in ("left", "right")])
    u = out["nose"][1] - out["thorax"][1]
    length = head_top_prior(legs, dist("thorax", "nose"))
    out["head"] = ("nose", out["nose"][1] + length * u / np.linalg.norm(u))
    return out


REF = reference_body()
ORDER = list(REF)  # parents first


def reference_motion(frames: int, seed: int = 0,
                     ref: dict | None = None) -> tuple[dict[str, Rotation], dict]:
    """Global rotations and positions `(T, 3)` (m) of every joint of `ref` (default `REF`).

    The thorax has no rotation of its own (it stays rigid with the spine); ends (toe, hand,
    head) have none either.
    """
    ref = REF if ref is None else ref
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, frames)[:, None]
    local = {}
    for name in ORDER:
        if name in ("thorax", "head") or name.endswith(("toe", "hand")):
            local[name] = Rotation.identity(frames)
            continue
        amp = rng.uniform(-30, 30, 3) * (0.5 if name == "pelvis" else 1.0)
        phase = rng.uniform(0, 2 * np.pi, 3)
        local[name] = Rotation.from_rotvec(np.deg2rad(amp * np.sin(2 * np.pi * t + phase)))
    local["pelvis"] = Rotation.from_euler("y", 100 * t, degrees=True) * local["pelvis"]
    glob, pos = {}, {}
    root = ref["pelvis"][1] + np.concatenate([0.6 * t, 0.04 * np.sin(5 * t), 1.1 * t], 1)
    for name in ORDER:
        parent, rest = ref[name]
        if parent is None:
            glob[name], pos[name] = local[name], root
        else:
            glob[name] = glob[parent] * local[name]
            pos[name] = pos[parent] + glob[parent].apply(rest - ref[parent][1])
    return glob, pos


@dataclass
class Node:
    """One joint of a generated hierarchy.

    Attributes:
        name: joint name (End Sites: `<parent>_End`).
        parent: parent node name, None for the root.
        rest: rest position in reference coordinates (m, Y up).
        body: reference joint whose rotation this joint follows (None: static).
        twist: twist amplitude (degrees) about `axis`, the bone it lies on.
        end: End Site.
    """

    name: str
    parent: str | None
    rest: np.ndarray
    body: str | None
    twist: float = 0.0
    axis: np.ndarray = field(default_factory=lambda: np.zeros(3))
    end: bool = False


@dataclass
class Spec:
    """The choices that make one hierarchy (drawn by `random_spec`)."""

    unit: str = "cm"
    up: str = "y"
    rest: str = "x"  # T | A | x | z (bones along +-x / +-z)
    mirror: bool = True  # right-side bones along -axis
    six: bool = True  # 6 channels on every joint
    static_root: bool = True
    spine_low: int = 0  # extra spine joints on pelvis->spine
    spine_high: int = 0  # extra spine joints on spine->thorax (the lowest may carry the arms)
    arms_on_chest: bool = True
    collars: bool = True
    neck: int = 0  # extra joints on thorax->nose
    head: str = "zero"  # end | zero | joint
    hip_bone: str = "none"  # none | zero | offset
    leg_twist: str = "none"  # none | chain | leaf
    arm_twist: str = "none"
    toe: str = "joint_zero"  # end | joint | joint_zero
    hand: str = "zero"  # end | zero | fingers
    fingers: tuple[int, int] = (0, 0)  # count, segments
    names: str = "bandai"  # bandai | generic | neutral
    body: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # `reference_body`
    seed: int = 0


def random_spec(rng: np.random.Generator, seed: int) -> Spec:
    """A hierarchy drawn at random (every option independently)."""
    def pick(*options):
        return options[rng.integers(len(options))]

    spine_high = int(rng.integers(0, 3))
    spec = Spec(
        unit=pick("m", "cm", "inch"), up=pick("y", "z"), rest=pick("T", "A", "x", "z"),
        mirror=bool(rng.integers(2)), six=bool(rng.integers(2)),
        static_root=bool(rng.integers(2)), spine_low=int(rng.integers(0, 2)),
        spine_high=spine_high, arms_on_chest=spine_high > 0 and bool(rng.integers(2)),
        collars=bool(rng.integers(2)), neck=int(rng.integers(0, 3)),
        head=pick("end", "zero", "joint"), hip_bone=pick("none", "zero", "offset"),
        leg_twist=pick("none", "chain", "leaf"), arm_twist=pick("none", "chain", "leaf"),
        toe=pick("end", "joint", "joint_zero"), hand=pick("end", "zero", "fingers"),
        fingers=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
        names=pick("bandai", "generic", "neutral"),
        body=(float(rng.uniform(0.85, 1.15)), *(float(x) for x in rng.uniform(0.92, 1.08, 3))),
        seed=seed,
    )
    return spec


_NAMES = {  # reference joint -> name per naming scheme ({s}: L/R, {side}: Left/Right)
    "bandai": {"pelvis": "Hips", "spine": "Spine", "thorax": "Neck", "nose": "Head",
               "hip": "UpperLeg_{s}", "knee": "LowerLeg_{s}", "ankle": "Foot_{s}",
               "toe": "Toes_{s}", "shoulder": "UpperArm_{s}", "elbow": "LowerArm_{s}",
               "wrist": "Hand_{s}", "collar": "Shoulder_{s}", "chest": "Chest"},
    "generic": {"pelvis": "Hips", "spine": "Spine", "thorax": "Neck", "nose": "Head",
                "hip": "{side}UpLeg", "knee": "{side}Leg", "ankle": "{side}Foot",
                "toe": "{side}ToeBase", "shoulder": "{side}Arm", "elbow": "{side}ForeArm",
                "wrist": "{side}Hand", "collar": "{side}Shoulder", "chest": "Chest"},
}


def build_nodes(spec: Spec, rng: np.random.Generator, ref: dict) -> list[Node]:
    """The hierarchy of `spec` around the reference body `ref`, as nodes (parents first)."""
    nodes: list[Node] = []
    counter = iter(range(10**6))

    def name_of(key: str, side: str | None = None) -> str:
        if spec.names == "neutral":
            return f"jnt{next(counter):02d}"
        table = _NAMES[spec.names]
        if key in table:
            s = {"left": "L", "right": "R", None: ""}[side]
            return table[key].format(s=s, side=(side or "").capitalize())
        prefix = (side or "")[:1].upper()
        return f"{prefix}{key}{next(counter)}"

    def twist_name(side: str) -> str:  # in-chain twist joints are recognised by name
        return f"{name_of('twist', side)}_{'Roll' if spec.seed % 2 else 'Twist'}"

    def add(name, parent, rest, body, **kw) -> str:
        nodes.append(Node(name, parent, np.asarray(rest, dtype=float), body, **kw))
        return name

    def end(parent: str, rest) -> None:
        add(f"{parent}_End", parent, rest, None, end=True)

    def on(a: str, b: str, frac: float) -> np.ndarray:
        return ref[a][1] + frac * (ref[b][1] - ref[a][1])

    def axis(a: str, b: str) -> np.ndarray:
        u = ref[b][1] - ref[a][1]
        return u / np.linalg.norm(u)

    root = None
    if spec.static_root:
        root = add(name_of("root") if spec.names != "bandai" else "joint_Root", None,
                   np.zeros(3), None)
    pelvis = add(name_of("pelvis"), root, ref["pelvis"][1], "pelvis")
    parent = pelvis
    for f in np.sort(rng.uniform(0.2, 0.7, spec.spine_low)):
        parent = add(name_of("spinelow"), parent, on("pelvis", "spine", f), "pelvis")
    spine = add(name_of("spine"), parent, ref["spine"][1], "spine")
    parent, chest = spine, spine
    for i, f in enumerate(np.sort(rng.uniform(0.3, 0.8, spec.spine_high))):
        key = "chest" if i == 0 else "spinehigh"
        parent = add(name_of(key), parent, on("spine", "thorax", f), "spine")
        chest = parent if i == 0 else chest
    thorax = add(name_of("thorax"), parent, ref["thorax"][1], "thorax")
    parent = thorax
    for f in np.sort(rng.uniform(0.3, 0.8, spec.neck)):
        parent = add(name_of("neck"), parent, on("thorax", "nose", f), "thorax")
    nose = add(name_of("nose"), parent, ref["nose"][1], "nose")
    if spec.head == "end":
        end(nose, ref["head"][1])
    elif spec.head == "zero":
        end(nose, ref["nose"][1])
    else:
        top = add(name_of("headtop"), nose, ref["head"][1], "nose")
        end(top, ref["head"][1])
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0

        def j(k: str, side=side) -> str:
            return f"{side}_{k}"

        parent = pelvis
        if spec.hip_bone == "zero":
            parent = add(name_of("hipbone", side), pelvis, ref["pelvis"][1], "pelvis")
        elif spec.hip_bone == "offset":
            parent = add(name_of("hipbone", side), pelvis,
                         ref["pelvis"][1] + (0.04 * sign, -0.02, 0.0), "pelvis")
        limb = [("hip", "knee", spec.leg_twist), ("knee", "ankle", spec.leg_twist),
                ("ankle", None, "none")]
        names = {}
        for a, b, twist in limb:
            names[a] = add(name_of(a, side), parent, ref[j(a)][1], j(a))
            parent = names[a]
            if twist != "none":
                f = rng.uniform(0.3, 0.7)
                tw = add(twist_name(side), parent, on(j(a), j(b), f), j(a),
                         twist=float(rng.uniform(20, 60)), axis=axis(j(a), j(b)))
                if twist == "chain":
                    parent = tw
                else:
                    end(tw, on(j(a), j(b), f + 0.1))
        ankle = names["ankle"]
        if spec.toe == "end":
            end(ankle, ref[j("toe")][1])
        else:
            toe = add(name_of("toe", side), ankle, on(j("ankle"), j("toe"), 0.7), j("ankle"))
            end(toe, ref[j("toe")][1] if spec.toe == "joint" else on(j("ankle"), j("toe"), 0.7))
        parent = chest if spec.arms_on_chest else thorax
        if spec.collars:
            parent = add(name_of("collar", side), parent,
                         ref["thorax"][1] + (rng.uniform(0.02, 0.06) * sign,
                                             rng.uniform(-0.03, 0.0), 0.0), "thorax")
        limb = [("shoulder", "elbow", spec.arm_twist), ("elbow", "wrist", spec.arm_twist),
                ("wrist", None, "none")]
        for a, b, twist in limb:
            names[a] = add(name_of(a, side), parent, ref[j(a)][1], j(a))
            parent = names[a]
            if twist != "none":
                f = rng.uniform(0.3, 0.7)
                tw = add(twist_name(side), parent, on(j(a), j(b), f), j(a),
                         twist=float(rng.uniform(20, 60)), axis=axis(j(a), j(b)))
                if twist == "chain":
                    parent = tw
                else:
                    end(tw, on(j(a), j(b), f + 0.1))
        wrist = names["wrist"]
        if spec.hand == "end":
            end(wrist, ref[j("hand")][1])
        elif spec.hand == "zero":
            end(wrist, ref[j("wrist")][1])
        else:
            count, segments = spec.fingers
            for finger in range(count):
                base = ref[j("wrist")][1] + (0.02 * sign, 0.0, 0.02 * (finger - 1))
                parent = add(name_of("finger", side), wrist, base, j("wrist"))
                for k in range(1, segments):
                    parent = add(name_of("finger", side), parent,
                                 base + (0.035 * k * sign, 0.0, 0.0), j("wrist"))
                end(parent, base + (0.035 * segments * sign, 0.0, 0.0))
    return nodes


def _rest_frames(spec: Spec, nodes: list[Node], rng: np.random.Generator) -> dict:
    """Each joint's rest frame R (reference coordinates -> the joint's own axes)."""
    kids: dict[str, list[Node]] = {}
    for n in nodes:
        kids.setdefault(n.parent, []).append(n)
    by_name = {n.name: n for n in nodes}
    out = {}
    for n in nodes:
        if n.end:
            continue
        if n.body is None or spec.rest == "T" or (spec.rest == "A" and not n.body.endswith(
                ("shoulder", "elbow", "wrist"))):  # a static root keeps the file's axes
            out[n.name] = Rotation.identity()
        elif spec.rest == "A":
            sign = 1.0 if n.body.startswith("left") else -1.0
            out[n.name] = Rotation.from_euler("z", -45 * sign, degrees=True)
        else:
            children = kids.get(n.name, [])  # the first child: the spine / neck / limb
            main = children[0] if children else None
            u = main.rest - n.rest if main is not None else np.zeros(3)
            if np.linalg.norm(u) < 1e-9:  # a zero-length End Site: along the joint's own bone
                u = n.rest - by_name[n.parent].rest
            target = np.eye(3)[0 if spec.rest == "x" else 2]
            if spec.mirror and n.rest[0] < -0.05:
                target = -target
            align, _ = Rotation.align_vectors([target], [u / np.linalg.norm(u)])
            spin = Rotation.from_rotvec(target * rng.uniform(-np.pi, np.pi))
            out[n.name] = spin * align
    return out


def write_bvh(spec: Spec, frames: int = 12, motion_seed: int = 0) -> tuple[str, np.ndarray]:
    """BVH text of `spec` performing the reference motion, and the expected `(T, 17, 3)`.

    The expected joints are the reference's in metres, turned Z up (what `bvh_to_h36m`
    returns).
    """
    rng = np.random.default_rng(spec.seed)
    ref = reference_body(spec.body)
    nodes = build_nodes(spec, rng, ref)
    rest = _rest_frames(spec, nodes, rng)
    glob, pos = reference_motion(frames, motion_seed, ref)
    W = Rotation.from_matrix(Y_UP_TO_Z_UP) if spec.up == "z" else Rotation.identity()
    scale = 1.0 / UNITS[spec.unit]
    by_name = {n.name: n for n in nodes}
    world: dict[str, Rotation] = {}  # G_k (file axes) per joint
    for n in nodes:
        if n.end:
            continue
        e = Rotation.identity(frames) if n.body is None else glob[n.body]
        if n.twist:
            t = np.linspace(0, 1, frames)[:, None]
            e = e * Rotation.from_rotvec(np.deg2rad(n.twist) * np.sin(3 * t) * n.axis)
        world[n.name] = W * e * rest[n.name].inv() * W.inv()
    kids: dict[str | None, list[Node]] = {}
    for n in nodes:
        kids.setdefault(n.parent, []).append(n)
    lines, table = ["HIERARCHY"], []
    order_rng = np.random.default_rng(spec.seed + 7)

    def fmt(values) -> str:
        return " ".join(f"{v:.6f}" for v in values)

    def emit(n: Node, depth: int) -> None:
        pad = "  " * depth
        if n.parent is None:
            offset = W.apply(n.rest) * scale
        else:
            par = by_name[n.parent]
            offset = W.apply(rest[par.name].apply(n.rest - par.rest)) * scale
        if n.end:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {fmt(offset)}",
                          f"{pad}}}"])
            return
        order = "".join(order_rng.permutation(list("XYZ")))
        has_pos = spec.six or n.parent is None or n.body == "pelvis" and (
            n.parent is not None and by_name[n.parent].body is None)
        chans = ["Xposition", "Yposition", "Zposition"] * has_pos + [
            f"{a}rotation" for a in order]
        lines.extend([f"{pad}{'ROOT' if n.parent is None else 'JOINT'} {n.name}", f"{pad}{{",
                      f"{pad}  OFFSET {fmt(offset)}",
                      f"{pad}  CHANNELS {len(chans)} {' '.join(chans)}"])
        if n.parent is None:
            local = world[n.name]
        else:
            local = world[n.parent].inv() * world[n.name]
        if has_pos:
            if n.body == "pelvis" and (n.parent is None or by_name[n.parent].body is None):
                base = W.apply(pos["pelvis"]) * scale  # the root motion (static root: at 0)
                if n.parent is not None:
                    base = base - W.apply(by_name[n.parent].rest) * scale
                table.append(base)
            else:
                table.append(np.broadcast_to(offset, (frames, 3)))
        table.append(local.as_euler(order, degrees=True))
        for child in kids.get(n.name, []):
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    emit(kids[None][0], 0)
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.033333"]
    lines += [fmt(row) for row in np.concatenate(table, axis=1)]
    expected = np.stack([pos[j] for j in H36M17.joints], axis=1) @ Y_UP_TO_Z_UP.T
    return "\n".join(lines) + "\n", expected


def _check(specs: list[Spec], frames: int) -> tuple[int, float]:
    worst = 0.0
    for spec in specs:
        text, expected = write_bvh(spec, frames)
        bvh = parse_bvh(text, source=f"random-{spec.seed}.bvh")
        joints, _ = bvh_to_h36m(bvh)
        err = float(np.abs(joints - expected).max())
        assert err < 1e-3, (spec, err, describe_bvh(bvh))
        worst = max(worst, err)
    return len(specs), worst


BANDAI = Spec(spine_high=1)  # the hierarchy of the failing public dataset (defaults of `Spec`)


def test_bandai_style_hierarchy_maps():
    """Static root, Spine -> Chest, Neck -> Head with a zero End Site, collars off the chest,
    bones along +-x in cm, Y up: the OFFSET-only rest pose is a tangle, the frames are not."""
    text, expected = write_bvh(BANDAI, frames=20)
    assert "ROOT joint_Root" in text and "JOINT Shoulder_L" in text
    bvh = parse_bvh(text, source="bandai.bvh")
    joints, _ = bvh_to_h36m(bvh)
    assert np.abs(joints - expected).max() < 1e-3
    report = describe_bvh(bvh)
    rows = {line.split()[0]: line.split()[1] for line in report.splitlines()[1:18]}
    assert rows["thorax"] == "Neck" and rows["nose"] == "Head"
    assert rows["left_shoulder"] == "UpperArm_L" and rows["right_wrist"] == "Hand_R"
    assert "unit 'cm'" in report and "up 'y'" in report
    assert "not upright" in report and "head top" in report


def _coverage(specs: list[Spec]) -> dict[str, set]:
    out: dict[str, set] = {}
    for spec in specs:
        for key, value in vars(spec).items():
            out.setdefault(key, set()).add(value)
        out.setdefault("spine joints", set()).add(1 + spec.spine_low + spec.spine_high)
        out.setdefault("neck joints", set()).add(1 + spec.neck)
    return out


def test_random_hierarchies_give_the_same_joints():
    rng = np.random.default_rng(2024)
    specs = [random_spec(rng, seed) for seed in range(60)]
    seen = _coverage(specs)  # every option drawn at least once
    assert seen["rest"] == {"T", "A", "x", "z"} and seen["up"] == {"y", "z"}
    assert seen["unit"] == {"m", "cm", "inch"} and seen["spine joints"] == {1, 2, 3, 4}
    assert seen["neck joints"] == {1, 2, 3} and seen["head"] == {"end", "zero", "joint"}
    assert seen["arm_twist"] == seen["leg_twist"] == {"none", "chain", "leaf"}
    assert seen["hand"] == {"end", "zero", "fingers"} and len(seen["toe"]) == 3
    assert all(len(seen[k]) == 2 for k in ("static_root", "collars", "arms_on_chest",
                                           "six", "mirror"))
    count, worst = _check(specs, frames=8)
    print(f"BVH property test: {count} random hierarchies mapped, max joint difference "
          f"{worst * 1000:.4f} mm")


@pytest.mark.slow
def test_many_random_hierarchies_give_the_same_joints():
    rng = np.random.default_rng(7)
    count, worst = _check([random_spec(rng, seed) for seed in range(500)], frames=12)
    print(f"BVH property test (slow): {count} random hierarchies mapped, max joint "
          f"difference {worst * 1000:.4f} mm")


def test_a_tangled_rest_pose_without_a_standing_frame_is_an_error():
    """Bones along their own axes and no rotation in any frame: nothing stands."""
    bvh = parse_bvh(write_bvh(BANDAI, frames=3)[0], source="still.bvh")
    rotation = np.concatenate([[c.endswith("rotation") for c in j.channels]
                               for j in bvh.joints])
    still = dataclasses.replace(bvh, motion=np.where(rotation, 0.0, bvh.motion))
    with pytest.raises(ValueError, match="still.bvh: no standing pose.*--bvh-map"):
        bvh_to_h36m(still)


def test_up_axis_is_detected_or_refused():
    spec = dataclasses.replace(BANDAI, up="z", rest="T")
    text, expected = write_bvh(spec, frames=6)
    bvh = parse_bvh(text, source="zup.bvh")
    assert "up 'z'" in describe_bvh(bvh)
    assert np.abs(bvh_to_h36m(bvh)[0] - expected).max() < 1e-3
    assert np.abs(bvh_to_h36m(bvh, up="z")[0] - expected).max() < 1e-3
    lying = np.zeros((2, 17, 3))  # the trunk along +X all the take
    lying[:, H36M17.joints.index("thorax")] = (0.5, 0.0, 0.1)
    assert infer_up(bvh, lying, np.array([0.1, 0.9, 0.0])) == "y"  # the standing pose decides
    with pytest.raises(ValueError, match="zup.bvh: cannot tell the up axis.*up='y'"):
        infer_up(bvh, lying)


def test_show_bvh_explains_twist_joints_and_head_top_joints():
    spec = dataclasses.replace(BANDAI, head="joint", arm_twist="chain", names="generic")
    text, expected = write_bvh(spec, frames=6)
    bvh = parse_bvh(text, source="twist.bvh")
    assert np.abs(bvh_to_h36m(bvh)[0] - expected).max() < 1e-3
    report = describe_bvh(bvh)
    assert "twist joints left out of the arm chain: L" in report
    assert "(its End Site has zero length, at head-top height above the shoulders)" in report
    assert "not upright" in report and "up 'y'" in report
