"""BVH skeletons with any joint names → H36M-17, from the hierarchy and a standing pose.

`map_skeleton` finds the body parts by structure, not by name:

1. Reference pose: the rest pose (forward kinematics of the OFFSETs with no rotation) when it
   stands: each leg's lowest point below the pelvis and the spine branch's highest point above
   it by at least half of that branch's reach (`_uprightness`). Files whose joints each carry
   their own axes (Maya-style exports with bones along ±x or ±z; the OFFSET-only pose is then
   a tangle) use the most upright of 64 evenly sampled frames instead; a file with no pose
   upright to 0.25 is an error. Joints on the same point (CMU's `LHipJoint` on the hips,
   `Neck` on `Spine1`, a zero-length End Site) count as one point, named after the ancestor.
   Sizes count the pelvis and below only, so a static root far from the body is ignored.
2. Pelvis: from the root down single-branch chains (a static root above the hips) to the
   first joint with three or more branches of three or more joints. The branch with the most
   leaves (hands, fingers, head) is the spine; up = from the legs' mean position to the spine
   branch's; the legs are the two other branches reaching lowest.
3. Head path: pelvis to the leaf of the spine branch whose path has the longest second side
   branch (both arms branch off the head's path, not off an arm's: the choice holds with the
   arms raised), the highest such leaf. The arms are the two side branches of the head path
   that reach farthest; each arm (leg) chain runs from its branch point to its farthest
   (lowest) leaf.
4. Limbs: twist (roll) joints inside a chain (named `…twist…` / `…roll…` and staying on the
   bone in every sampled frame) are left out; shoulder-elbow-wrist (hip-knee-ankle) are then
   the three consecutive chain points, after the branch point, whose two segments include
   the chain's longest and best fit adult proportions (Drillis & Contini in `bodies.py`:
   forearm / upper arm 0.785, hand / forearm 0.74; shank / thigh 1.0, foot / shank 0.62), so
   a collar, a hip bone, toes or finger joints are skipped whatever their names. Our rules
   beside the table: the rest of the chain costs only when it is longer than a hand (foot),
   since files often carry short or no hands, and a chain segment before the upper bone
   costs when it is over 0.75 of it (a collar or hip bone is shorter). Twist joints
   beside the chain (leaves) are side branches and never enter it.
5. Left / right: the feet point forward in the reference pose, so left = up × forward; a
   file whose feet give no direction falls back to side names (`Left…`, `L…`, `…_L`), then
   to BVH's convention (facing +Z).
6. Trunk: thorax = the head-path point from the arms' branch point up whose height is
   closest to the shoulders' (so with 1-4 spine joints, arms hanging off a chest joint below
   the neck, or collars, the neck base is found); nose = the last point before the head top
   at least a third of its distance from the thorax away from the top (so a `HeadTop` joint
   is not the nose); spine = the point between pelvis and thorax closest to their
   mid-height. A joint the flavour's name table (`bvh_mapping.NAME_MAPS`) names for one of
   these wins when it lies in the same stretch of the head path: names are hints, the
   structure decides.
7. A head path ending in a zero-length End Site less than 0.6 of the adult head + neck
   length above the shoulders has no head top (its joint is the nose): it gets a virtual head
   top along the nose joint's own bone axis (the direction of its OFFSET, turned with the
   head), the head + neck length of the adult table (0.182 of stature, stature from the legs)
   minus the file's thorax→nose length (at least a quarter of it; the floor is our choice).
   A zero-length End Site higher up ends a head-top joint, which is the head top.

A user `name_map` (H36M joint → BVH joint) overrides any entry.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from liftbench.datamodules.synthetic.bodies import FOREARM, MEAN_FRACTIONS, UPPER_ARM
from liftbench.datamodules.synthetic.bvh import bvh_positions
from liftbench.geometry.skeletons import H36M17

# Adult proportions (Drillis & Contini via `bodies.py`; hand 0.108 H and foot 0.152 H from
# the same table).
_HAND, _FOOT = 0.108, 0.152
ARM_RATIOS = (FOREARM / UPPER_ARM, _HAND / FOREARM)
LEG_RATIOS = (MEAN_FRACTIONS["shank"] / MEAN_FRACTIONS["thigh"], _FOOT / MEAN_FRACTIONS["shank"])
_LEG_FRACTION = MEAN_FRACTIONS["thigh"] + MEAN_FRACTIONS["shank"]
_NOSE_SHARE = 1.0 / 3.0  # nose: at least this share of thorax→top from the top
_BEFORE = 0.75  # a chain segment before the upper limb bone longer than this share of it
# costs (so an upper arm is not taken for a collar when the forearm is the longer bone)
_STRAIGHT = 0.02  # a twist joint this share of its bone's length from it or closer is on it
_UPRIGHT = 0.5  # the rest pose is the reference pose when it is at least this upright
_UPRIGHT_MIN = 0.25  # no pose this upright: not a standing humanoid, an error
_SAMPLED_FRAMES = 64  # frames sampled (evenly) for the reference pose and the twist test
_HEAD_TOP_SHARE = 0.6  # a zero-length top End Site lower than this share of the adult
# head + neck above the shoulders ends a head without a head top (virtual top, step 7)


@dataclass(frozen=True)
class SkeletonMap:
    """Where each H36M-17 joint is in a BVH file.

    Attributes:
        joints: H36M joint name → index into `bvh.joints`.
        bvh: the file, with a virtual head-top End Site when the file's has zero length.
        notes: how the ambiguous choices were made (sides, hints, virtual joints).
        method: `"topology"` or `"names (<flavour>)"`.
        pose: `(J, 3)` the reference pose the geometry was read from (file units and axes;
            the rest pose or a frame, step 1), None when mapped by names.
        up: `(3,)` the body's up direction in `pose` (unit, file axes), None when mapped by
            names.
    """

    joints: dict[str, int]
    bvh: object
    notes: tuple[str, ...] = ()
    method: str = "topology"
    pose: np.ndarray | None = None
    up: np.ndarray | None = None


def rest_positions(bvh: object) -> np.ndarray:
    """`(J, 3)` rest-pose positions (OFFSETs only, no rotation), file units and axes."""
    pos = np.zeros((len(bvh.joints), 3))
    for k, joint in enumerate(bvh.joints):
        pos[k] = joint.offset if joint.parent < 0 else pos[joint.parent] + joint.offset
    return pos


def _tokens(name: str) -> list[str]:
    base = re.split(r"[:|]", name)[-1]
    return [t.lower() for t in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", base)]


def side_of_name(name: str) -> str | None:
    """`"left"` / `"right"` from a joint name (`LeftArm`, `lShldr`, `UpperLeg_L`), else None."""
    tokens = _tokens(name)
    left = any(t in ("left", "l", "lft") for t in tokens)
    right = any(t in ("right", "r", "rt", "rgt") for t in tokens)
    return "left" if left and not right else "right" if right and not left else None


class _Tree:
    def __init__(self, bvh: object, pose: np.ndarray | None = None) -> None:
        self.bvh, self.names = bvh, bvh.names
        self.parents = [j.parent for j in bvh.joints]
        self.kids: list[list[int]] = [[] for _ in self.parents]
        for k, p in enumerate(self.parents):
            if p >= 0:
                self.kids[p].append(k)
        self.P = rest_positions(bvh) if pose is None else pose
        self.poses = self.P[None]  # (F, J, 3): the poses a straight run must hold in
        self.set_size(range(len(self.parents)))

    def set_size(self, joints: object) -> None:
        """Size (largest extent of `joints`) and the coincidence tolerance."""
        self.size = float(np.ptp(self.P[list(joints)], axis=0).max()) or 1.0
        self.tol = 1e-4 * self.size

    def desc(self, k: int) -> list[int]:
        out, stack = [], [k]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(self.kids[n])
        return out

    def leaves(self, k: int) -> list[int]:
        return [n for n in self.desc(k) if not self.kids[n]]

    def path(self, top: int, bottom: int) -> list[int]:
        out = [bottom]
        while out[-1] != top:
            out.append(self.parents[out[-1]])
        return out[::-1]

    def collapse(self, path: list[int]) -> list[int]:
        """Path points with coincident successors dropped (the ancestor names the point)."""
        out = [path[0]]
        for k in path[1:]:
            if np.linalg.norm(self.P[k] - self.P[out[-1]]) > self.tol:
                out.append(k)
        return out

    def length(self, a: int, b: int) -> float:
        return float(np.linalg.norm(self.P[b] - self.P[a]))


def _twist_joints(tree: _Tree, chain: list[int]) -> list[int]:
    """Chain points that are twist (roll) joints.

    A twist joint is named so (`twist` / `roll`) and stays on the straight bone between its
    chain neighbours (within `_STRAIGHT` of its length) in the reference pose and every sampled
    frame. Position alone cannot tell a twist joint from a limb joint that never bends in the take
    (a wrist that only turns about the forearm), so the name is required.
    """
    out = []
    for m in range(1, len(chain) - 1):
        if not any(w in _norm(tree.names[chain[m]]) for w in ("twist", "roll")):
            continue
        a, x, b = (tree.poses[:, chain[i]] for i in (m - 1, m, m + 1))  # (F, 3) each
        seg = b - a
        sq = np.maximum((seg**2).sum(-1), 1e-300)
        t = ((x - a) * seg).sum(-1) / sq
        off = np.linalg.norm(x - a - t[:, None] * seg, axis=-1)
        if ((t > 0) & (t < 1)).all() and (off <= _STRAIGHT * np.sqrt(sq)).all():
            out.append(chain[m])
    return out


def _fit_limb(tree: _Tree, chain: list[int], ratios: tuple[float, float], what: str,
              notes: list[str] | None = None) -> tuple:
    """(upper, middle, end) joints of a collapsed limb chain by the proportion costs.

    Twist joints inside the chain (`_twist_joints`) are left out first.
    """
    twists = _twist_joints(tree, chain)
    if twists and notes is not None:
        notes.append(f"twist joints left out of the {what} chain: "
                     f"{', '.join(tree.names[k] for k in twists)}")
    chain = [k for k in chain if k not in twists]
    if len(chain) < 4:
        raise ValueError(f"{tree.bvh.source}: the {what} chain "
                         f"{[tree.names[k] for k in chain]} has fewer than 3 joints after "
                         "its branch point; pass a name_map (--bvh-map)")
    best, best_cost = None, np.inf
    longest = max(tree.length(chain[i], chain[i + 1]) for i in range(1, len(chain) - 1))
    for s in range(1, len(chain) - 2):
        a, b, c = chain[s], chain[s + 1], chain[s + 2]
        upper, lower = tree.length(a, b), tree.length(b, c)
        beyond = sum(tree.length(chain[i], chain[i + 1]) for i in range(s + 2, len(chain) - 1))
        cost = (np.log(lower / upper) - np.log(ratios[0])) ** 2  # the two long bones:
        cost += np.log(max(upper, lower) / longest) ** 2  # the limb's longest segment is one
        if beyond > 0:  # a longer rest of the chain than a hand (foot): the fit is too high
            cost += 0.5 * max(0.0, np.log(beyond / lower) - np.log(ratios[1])) ** 2
        if s > 1:  # what comes before the upper bone (collar, hip bone) is shorter than it
            before = tree.length(chain[s - 1], a)
            cost += max(0.0, np.log(before / upper) - np.log(_BEFORE)) ** 2
        if cost < best_cost:
            best, best_cost = (a, b, c), cost
    return best


def _pelvis(tree: _Tree) -> tuple[int, list[int]]:
    node = 0
    while True:
        big = [c for c in tree.kids[node] if len(tree.desc(c)) >= 3]
        if len(big) >= 3:
            return node, big
        if len(big) != 1:
            raise ValueError(
                f"{tree.bvh.source}: no pelvis found (no joint from which a spine and two legs "
                f"of three or more joints branch; joint {tree.names[node]!r} has "
                f"{len(big)} such branches); pass a name_map (--bvh-map)")
        node = big[0]


def _sides(tree: _Tree, up: np.ndarray, legs: list[list[int]], notes: list[str]) -> np.ndarray:
    """The reference pose's left direction (unit, file axes)."""
    forward = np.zeros(3)
    for chain, ankle in legs:
        v = tree.P[chain[-1]] - tree.P[ankle]
        forward += v - (v @ up) * up
    if np.linalg.norm(forward) > 0.02 * tree.size:
        forward /= np.linalg.norm(forward)
        notes.append("left/right: from the feet pointing forward in the reference pose")
        return np.cross(up, forward)
    hips = [chain[1] for chain, _ in legs]
    sides = [side_of_name(tree.names[k]) for k in hips]
    if sorted(filter(None, sides)) == ["left", "right"]:
        named = tree.P[hips[sides.index("left")]] - tree.P[hips[sides.index("right")]]
        notes.append("left/right: from the joint names (the feet give no forward direction)")
        return named / np.linalg.norm(named)
    notes.append("left/right: assumed facing +Z (BVH convention; no foot direction, no side "
                 "names)")
    return np.cross(up, [0.0, 0.0, 1.0])


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.split(r"[:|]", name)[-1].lower())


def _either(first: int | None, second: int | None) -> int | None:
    return first if first is not None else second


def _hint(tree: _Tree, table: dict[str, tuple[str, ...]], joint: str,
          allowed: list[int]) -> int | None:
    """The first joint the name table gives for `joint` that lies in `allowed`, else None."""
    norm: dict[str, int] = {}
    for k, n in enumerate(tree.names):
        norm.setdefault(_norm(n), k)
    for cand in table.get(joint, ()):
        k = norm.get(_norm(cand))
        if k is not None and k in allowed:
            return k
    return None


def _sampled_frames(bvh: object) -> tuple[np.ndarray, np.ndarray]:
    """Up to `_SAMPLED_FRAMES` evenly spaced frames: `(indices (F,), positions (F, J, 3))`."""
    count = bvh.num_frames
    idx = np.unique(np.linspace(0, count - 1, min(count, _SAMPLED_FRAMES)).round().astype(int))
    return idx, bvh_positions(dataclasses.replace(bvh, motion=bvh.motion[idx]))


def _body_axes(tree: _Tree, P: np.ndarray, pelvis: int, spine_root: int,
               others: list[int]) -> tuple[np.ndarray, list[int]]:
    """`(up (3,) unit, the two leg branch roots)` of pose `P`."""
    up = P[tree.desc(spine_root)].mean(0) - P[[n for c in others for n in tree.desc(c)]].mean(0)
    up = up / max(np.linalg.norm(up), 1e-300)
    legs = sorted(others, key=lambda c: float(min((P[n] - P[pelvis]) @ up
                                                  for n in tree.desc(c))))[:2]
    return up, legs


def _uprightness(tree: _Tree, P: np.ndarray, pelvis: int, spine_root: int,
                 others: list[int]) -> float:
    """How much pose `P` stands (1 = straight up, <= 0 = not at all).

    The least of each leg's lowest point below the pelvis and the spine branch's highest point
    above it, each over that branch's reach.
    """
    up, legs = _body_axes(tree, P, pelvis, spine_root, others)
    rel = P - P[pelvis]
    h, reach = rel @ up, np.linalg.norm(rel, axis=-1)
    scores = [-h[tree.desc(c)].min() / max(reach[tree.desc(c)].max(), 1e-300) for c in legs]
    nodes = tree.desc(spine_root)
    scores.append(h[nodes].max() / max(reach[nodes].max(), 1e-300))
    return float(min(scores))


def _reference_pose(bvh: object, notes: list[str]) -> tuple[_Tree, int, list[int]]:
    """The tree in its reference pose (step 1), the pelvis and its big branches."""
    rest = _Tree(bvh)
    pelvis, branches = _pelvis(rest)
    spine_root = max(branches, key=lambda c: (len(rest.leaves(c)), len(rest.desc(c))))
    others = [c for c in branches if c != spine_root]
    idx, frames = _sampled_frames(bvh)
    score = _uprightness(rest, rest.P, pelvis, spine_root, others)
    if score >= _UPRIGHT:
        tree = rest
    else:
        scores = [_uprightness(rest, f, pelvis, spine_root, others) for f in frames]
        best = int(np.argmax(scores))
        if scores[best] < _UPRIGHT_MIN:
            raise ValueError(
                f"{bvh.source}: no standing pose: neither the OFFSET-only rest pose nor any of "
                f"{len(idx)} sampled frames has both legs below the pelvis and the head above "
                f"it (uprightness {max(score, scores[best]):.2f} < {_UPRIGHT_MIN}); map by "
                "names instead (--flavour generic with --bvh-map)")
        tree = _Tree(bvh, frames[best])
        notes.append(f"geometry: the OFFSET-only rest pose is not upright (uprightness "
                     f"{score:.2f}: bones along their joints' own axes?); read from frame "
                     f"{idx[best]}, the most upright of {len(idx)} sampled "
                     f"({scores[best]:.2f})")
    tree.poses = np.concatenate([tree.P[None], frames])
    tree.set_size(tree.desc(pelvis))  # a static root far from the body does not count
    return tree, pelvis, branches


def map_skeleton(bvh: object, table: dict[str, tuple[str, ...]] | None = None,
                 name_map: dict[str, str] | None = None) -> SkeletonMap:
    """H36M-17 joints of a BVH hierarchy by topology and reference-pose geometry.

    See the module docstring.

    Args:
        bvh: a parsed `bvh.Bvh`.
        table: name hints for the trunk joints (a `bvh_mapping.NAME_MAPS` entry), or None.
        name_map: H36M joint → BVH joint name overrides.

    Returns:
        The `SkeletonMap`.

    Raises:
        ValueError: no humanoid structure (no pelvis, no standing pose, limbs with too few
            joints, no spine joint between pelvis and thorax), naming the file and suggesting
            `--bvh-map`.
    """
    notes: list[str] = []
    tree, pelvis, branches = _reference_pose(bvh, notes)
    spine_root = max(branches, key=lambda c: (len(tree.leaves(c)), len(tree.desc(c))))
    others = [c for c in branches if c != spine_root]
    up, leg_roots = _body_axes(tree, tree.P, pelvis, spine_root, others)

    def height(k: int) -> float:
        return float((tree.P[k] - tree.P[pelvis]) @ up)

    legs = []
    for root in leg_roots:
        low = min(tree.leaves(root), key=height)
        chain = tree.collapse([pelvis, *tree.path(root, low)])
        legs.append((chain, _fit_limb(tree, chain, LEG_RATIOS, "leg", notes)))
    down = np.zeros(len(tree.parents))  # longest bone path from each joint to a leaf below
    for k in range(len(tree.parents) - 1, 0, -1):
        parent = tree.parents[k]
        if parent >= 0:
            down[parent] = max(down[parent], tree.length(parent, k) + down[k])

    def side_reach(leaf: int) -> float:
        """The second-longest branch off the path pelvis → leaf (both arms off the head's)."""
        path = tree.path(pelvis, leaf)
        reach = sorted(tree.length(node, c) + down[c] for i, node in enumerate(path[:-1])
                       if i > 0 for c in tree.kids[node] if c != path[i + 1])
        return reach[-2] if len(reach) >= 2 else 0.0

    top = max(tree.leaves(spine_root), key=lambda n: (side_reach(n), height(n)))
    head_path = tree.path(pelvis, top)
    arms = []
    for i, node in enumerate(head_path[:-1]):
        if i == 0:
            continue  # the pelvis: its side branches are the legs
        for c in tree.kids[node]:
            if c != head_path[i + 1]:
                far = max(tree.leaves(c), key=lambda n: tree.length(node, n))
                arms.append((tree.length(node, far), i, node, far))
    arms = sorted(arms, reverse=True)[:2]
    if len(arms) < 2:
        raise ValueError(f"{bvh.source}: found {len(arms)} arm(s) branching off the spine "
                         "(expected 2); pass a name_map (--bvh-map)")
    arm_fits = [_fit_limb(tree, tree.collapse(tree.path(node, far)), ARM_RATIOS, "arm", notes)
                for _, _, node, far in arms]
    left = _sides(tree, up, [(chain, fit[2]) for chain, fit in legs], notes)
    out: dict[str, int] = {"pelvis": pelvis}
    leg_fits = sorted((fit for _, fit in legs), key=lambda f: -(tree.P[f[0]] @ left))
    arm_fits = sorted(arm_fits, key=lambda f: -(tree.P[f[0]] @ left))
    for side, leg, arm in zip(("left", "right"), leg_fits, arm_fits):
        out.update(zip((f"{side}_hip", f"{side}_knee", f"{side}_ankle"), leg))
        out.update(zip((f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"), arm))
    for side in ("left", "right"):
        named = {side_of_name(tree.names[out[f"{side}_{j}"]]) for j in ("hip", "shoulder")}
        if ({"left", "right"} - {side}) & named:
            notes.append(f"note: the joints placed on the {side} by the reference pose carry "
                         f"{'/'.join(sorted(filter(None, named)))} names")
    # trunk
    table = table or {}
    branch_at = max(i for _, i, _, _ in arms)
    raw_top = head_path[-1]
    shoulder_h = np.mean([height(out["left_shoulder"]), height(out["right_shoulder"])])
    virtual = False
    if bvh.joints[raw_top].end_site and np.linalg.norm(bvh.joints[raw_top].offset) <= tree.tol:
        # a zero-length top: the head top itself, or a head (nose) without one
        virtual = height(raw_top) - shoulder_h < _HEAD_TOP_SHARE * _head_neck(tree, out)
        if not virtual:
            notes.append(f"head top: {tree.names[tree.parents[raw_top]]!r} (its End Site has "
                         "zero length, at head-top height above the shoulders)")
    trunk = tree.collapse(head_path[:-1] if virtual else head_path)
    if virtual:
        trunk = trunk + [raw_top]
    pos_of = {k: i for i, k in enumerate(head_path)}
    cands = [k for k in trunk[:-2] if pos_of[k] >= branch_at]
    thorax = _either(_hint(tree, table, "thorax", head_path[branch_at:-2]), min(
        cands or trunk[-3:-2], key=lambda k: abs(height(k) - shoulder_h)))
    out["thorax"] = thorax
    if virtual:
        nose = trunk[-2]
    else:
        reach = tree.length(thorax, raw_top)
        after = [k for k in trunk[:-1] if pos_of[k] > pos_of[thorax]]
        ok = [k for k in after if tree.length(k, raw_top) >= _NOSE_SHARE * reach]
        allowed = head_path[pos_of[thorax] + 1 : -1]
        nose = _either(_hint(tree, table, "nose", allowed), ok[-1] if ok else None)
        if nose is None:
            raise ValueError(f"{bvh.source}: no head joint between the thorax "
                             f"{tree.names[thorax]!r} and the head top; pass a name_map")
    out["nose"] = nose
    between = [k for k in trunk if 0 < pos_of[k] < pos_of[thorax]]
    mid = 0.5 * height(thorax)
    spine = _either(_hint(tree, table, "spine", head_path[1 : pos_of[thorax]]),
                    min(between, key=lambda k: abs(height(k) - mid)) if between else None)
    if spine is None:
        raise ValueError(f"{bvh.source}: no spine joint between the pelvis "
                         f"{tree.names[pelvis]!r} and the thorax {tree.names[thorax]!r}; "
                         "pass a name_map (--bvh-map)")
    out["spine"] = spine
    if virtual:
        bvh = _virtual_head_top(tree, out, raw_top, up, notes)
    out["head"] = raw_top
    tree = _Tree(bvh, tree.P)
    for key, value in (name_map or {}).items():
        out[key] = _named(tree, key, value)
    return SkeletonMap(joints={j: out[j] for j in H36M17.joints}, bvh=bvh, notes=tuple(notes),
                       pose=tree.P, up=up)


def _named(tree: _Tree, key: str, value: str) -> int:
    if key not in H36M17.joints:
        raise ValueError(f"name_map key {key!r} is not an H36M-17 joint {H36M17.joints}")
    for k, n in enumerate(tree.names):
        if n == value or _norm(n) == _norm(value):
            return k
    raise ValueError(f"name_map[{key!r}] = {value!r} is not a joint of {tree.bvh.source} "
                     f"(joints: {tree.names})")


def head_top_prior(leg: float, neck: float) -> float:
    """Nose→head-top length (module docstring, step 7), in the units of its arguments.

    Args:
        leg: hip→knee + knee→ankle length (mean of the two legs).
        neck: thorax→nose length.
    """
    head_neck = MEAN_FRACTIONS["head_neck"] * leg / _LEG_FRACTION
    return float(max(head_neck - neck, 0.25 * head_neck))


def _head_neck(tree: _Tree, joints: dict[str, int]) -> float:
    """Adult head + neck length (0.182 of stature, stature from the legs), file units."""
    legs = [tree.length(joints[f"{s}_hip"], joints[f"{s}_knee"])
            + tree.length(joints[f"{s}_knee"], joints[f"{s}_ankle"]) for s in ("left", "right")]
    return float(MEAN_FRACTIONS["head_neck"] * np.mean(legs) / _LEG_FRACTION)


def head_top_length(tree_or_bvh: object, joints: dict[str, int]) -> float:
    """Prior nose→head-top length in file units (module docstring, step 7).

    `head_top_prior` of the file's legs and thorax→nose in its reference pose (given a parsed
    file: its rest pose).
    """
    tree = tree_or_bvh if isinstance(tree_or_bvh, _Tree) else _Tree(tree_or_bvh)
    leg = _head_neck(tree, joints) * _LEG_FRACTION / MEAN_FRACTIONS["head_neck"]
    return head_top_prior(leg, tree.length(joints["thorax"], joints["nose"]))


def _virtual_head_top(tree: _Tree, joints: dict[str, int], site: int, up: np.ndarray,
                      notes: list[str]) -> object:
    nose = joints["nose"]
    direction = tree.bvh.joints[nose].offset
    direction = direction / np.linalg.norm(direction) if np.linalg.norm(direction) > tree.tol \
        else up
    length = head_top_length(tree, {**joints, "head": site})
    joints_ = list(tree.bvh.joints)
    joints_[site] = dataclasses.replace(joints_[site], offset=direction * length)
    notes.append(f"head top: the End Site of {tree.names[nose]!r} has zero length; placed "
                 f"{length:.4g} file units along that joint's own bone, the neck (adult head "
                 "+ neck proportion)")
    return dataclasses.replace(tree.bvh, joints=tuple(joints_))
