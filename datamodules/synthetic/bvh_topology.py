"""BVH skeletons with any joint names → H36M-17, from the hierarchy and the rest pose.

`map_skeleton` finds the body parts by structure, not by name:

1. Rest pose: forward kinematics of the OFFSETs with no rotation. Joints on the same point
   (CMU's `LHipJoint` on the hips, `Neck` on `Spine1`, a zero-length End Site) count as one
   point, named after the ancestor.
2. Pelvis: from the root down single-branch chains to the first joint with three or more
   branches of three or more joints. The branch with the most leaves (hands, fingers, head) is
   the spine; up = from the legs' mean rest position to the spine branch's; the legs are the
   two other branches reaching lowest.
3. Head path: pelvis to the highest leaf of the spine branch. The arms are the two side
   branches of the head path that reach farthest; each arm (leg) chain runs from its branch
   point to its farthest (lowest) leaf.
4. Limbs: shoulder-elbow-wrist (hip-knee-ankle) are the three consecutive chain points,
   after the branch point, whose two segments include the chain's longest and best fit
   adult proportions (Drillis & Contini in `bodies.py`: forearm / upper arm 0.785, hand /
   forearm 0.74; shank / thigh 1.0, foot / shank 0.62), so a collar, a hip bone or finger
   joints are skipped whatever their names.
5. Left / right: the feet point forward in the rest pose, so left = up × forward; a file
   whose feet give no direction falls back to side names (`Left…`, `L…`, `…_L`), then to
   BVH's convention (facing +Z).
6. Trunk: thorax = the head-path point from the arms' branch point up whose height is
   closest to the shoulders'; nose = the last point before the head top at least a third of
   its distance from the thorax away from the top (so a `HeadTop` joint is not the nose);
   spine = the point between pelvis and thorax closest to their mid-height. A joint the
   flavour's name table (`bvh_mapping.NAME_MAPS`) names for one of these wins when it lies in the
   same stretch of the head path: names are hints, the structure decides.
7. A head whose End Site has zero length gets a virtual head top along the neck, the head +
   neck length of the adult table (0.182 of stature, stature from the legs) minus the
   file's thorax→nose length (at least a quarter of it; the floor is our choice).

A user `name_map` (H36M joint → BVH joint) overrides any entry.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from liftbench.datamodules.synthetic.bodies import FOREARM, MEAN_FRACTIONS, UPPER_ARM
from liftbench.geometry.skeletons import H36M17

# Adult proportions (Drillis & Contini via `bodies.py`; hand 0.108 H and foot 0.152 H from
# the same table).
_HAND, _FOOT = 0.108, 0.152
ARM_RATIOS = (FOREARM / UPPER_ARM, _HAND / FOREARM)
LEG_RATIOS = (MEAN_FRACTIONS["shank"] / MEAN_FRACTIONS["thigh"], _FOOT / MEAN_FRACTIONS["shank"])
_LEG_FRACTION = MEAN_FRACTIONS["thigh"] + MEAN_FRACTIONS["shank"]
_NOSE_SHARE = 1.0 / 3.0  # nose: at least this share of thorax→top from the top


@dataclass(frozen=True)
class SkeletonMap:
    """Where each H36M-17 joint is in a BVH file.

    Attributes:
        joints: H36M joint name → index into `bvh.joints`.
        bvh: the file, with a virtual head-top End Site when the file's has zero length.
        notes: how the ambiguous choices were made (sides, hints, virtual joints).
        method: `"topology"` or `"names (<flavour>)"`.
    """

    joints: dict[str, int]
    bvh: object
    notes: tuple[str, ...] = ()
    method: str = "topology"


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
    def __init__(self, bvh: object) -> None:
        self.bvh, self.names = bvh, bvh.names
        self.parents = [j.parent for j in bvh.joints]
        self.kids: list[list[int]] = [[] for _ in self.parents]
        for k, p in enumerate(self.parents):
            if p >= 0:
                self.kids[p].append(k)
        self.P = rest_positions(bvh)
        self.size = float(np.ptp(self.P, axis=0).max()) or 1.0
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


def _fit_limb(tree: _Tree, chain: list[int], ratios: tuple[float, float], what: str) -> tuple:
    """(upper, middle, end) joints of a collapsed limb chain by the proportion costs."""
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
        if beyond > 0:
            cost += 0.5 * (np.log(beyond / lower) - np.log(ratios[1])) ** 2
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
    """The rest pose's left direction (unit, file axes)."""
    forward = np.zeros(3)
    for chain, ankle in legs:
        v = tree.P[chain[-1]] - tree.P[ankle]
        forward += v - (v @ up) * up
    if np.linalg.norm(forward) > 0.02 * tree.size:
        forward /= np.linalg.norm(forward)
        notes.append("left/right: from the feet pointing forward in the rest pose")
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


def map_skeleton(bvh: object, table: dict[str, tuple[str, ...]] | None = None,
                 name_map: dict[str, str] | None = None) -> SkeletonMap:
    """H36M-17 joints of a BVH hierarchy by topology and rest geometry (module docstring).

    Args:
        bvh: a parsed `bvh.Bvh`.
        table: name hints for the trunk joints (a `bvh_mapping.NAME_MAPS` entry), or None.
        name_map: H36M joint → BVH joint name overrides.

    Returns:
        The `SkeletonMap`.

    Raises:
        ValueError: no humanoid structure (no pelvis, limbs with too few joints, no spine
            joint between pelvis and thorax), naming the file and suggesting `--bvh-map`.
    """
    tree, notes = _Tree(bvh), []
    pelvis, branches = _pelvis(tree)
    spine_root = max(branches, key=lambda c: (len(tree.leaves(c)), len(tree.desc(c))))
    others = [c for c in branches if c != spine_root]
    up = tree.P[tree.desc(spine_root)].mean(0) - tree.P[
        [n for c in others for n in tree.desc(c)]].mean(0)
    up /= np.linalg.norm(up)

    def height(k: int) -> float:
        return float((tree.P[k] - tree.P[pelvis]) @ up)

    leg_roots = sorted(others, key=lambda c: min(height(n) for n in tree.desc(c)))[:2]
    legs = []
    for root in leg_roots:
        low = min(tree.leaves(root), key=height)
        chain = tree.collapse([pelvis, *tree.path(root, low)])
        legs.append((chain, _fit_limb(tree, chain, LEG_RATIOS, "leg")))
    top = max(tree.leaves(spine_root), key=height)
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
    arm_fits = [_fit_limb(tree, tree.collapse(tree.path(node, far)), ARM_RATIOS, "arm")
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
            notes.append(f"note: the joints placed on the {side} by the rest pose carry "
                         f"{'/'.join(sorted(filter(None, named)))} names")
    # trunk
    table = table or {}
    branch_at = max(i for _, i, _, _ in arms)
    raw_top = head_path[-1]
    virtual = bvh.joints[raw_top].end_site and np.linalg.norm(
        bvh.joints[raw_top].offset) <= tree.tol
    trunk = tree.collapse(head_path[:-1] if virtual else head_path)
    if virtual:
        trunk = trunk + [raw_top]
    pos_of = {k: i for i, k in enumerate(head_path)}
    shoulder_h = np.mean([height(out["left_shoulder"]), height(out["right_shoulder"])])
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
        tree = _Tree(bvh)
    out["head"] = raw_top
    for key, value in (name_map or {}).items():
        out[key] = _named(tree, key, value)
    return SkeletonMap(joints={j: out[j] for j in H36M17.joints}, bvh=bvh, notes=tuple(notes))


def _named(tree: _Tree, key: str, value: str) -> int:
    if key not in H36M17.joints:
        raise ValueError(f"name_map key {key!r} is not an H36M-17 joint {H36M17.joints}")
    for k, n in enumerate(tree.names):
        if n == value or _norm(n) == _norm(value):
            return k
    raise ValueError(f"name_map[{key!r}] = {value!r} is not a joint of {tree.bvh.source} "
                     f"(joints: {tree.names})")


def head_top_length(tree_or_bvh: object, joints: dict[str, int]) -> float:
    """Prior nose→head-top length in file units (module docstring, step 7)."""
    tree = tree_or_bvh if isinstance(tree_or_bvh, _Tree) else _Tree(tree_or_bvh)
    legs = [tree.length(joints[f"{s}_hip"], joints[f"{s}_knee"])
            + tree.length(joints[f"{s}_knee"], joints[f"{s}_ankle"]) for s in ("left", "right")]
    head_neck = MEAN_FRACTIONS["head_neck"] * np.mean(legs) / _LEG_FRACTION
    neck = tree.length(joints["thorax"], joints["nose"])
    return float(max(head_neck - neck, 0.25 * head_neck))


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
                 f"{length:.4g} file units along the neck (adult head + neck proportion)")
    return dataclasses.replace(tree.bvh, joints=tuple(joints_))
