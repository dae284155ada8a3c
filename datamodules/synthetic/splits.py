"""Split protocols of the synthetic capture: which takes form the train / val / adapt / test sets.

A take is keyed `(action, subject, variant)`. The protocols (`PROTOCOLS`):

- `"in-domain"`: held-out subjects, same motions. The subjects are split into disjoint train,
  val and test subjects; every set holds all motions. `adapt` = `train`.
- `"daily->sports"` (and `"sports->daily"`, source->target): four disjoint subject sets.
  train = source-group motions of the training subjects; val = the same motions of held-out
  val subjects; adapt = target-group motions of the adaptation subjects; test = the same
  target motions performed by yet other subjects (each take with its own rig). So a lifter
  supervised on adapt's 3D (the upper bound), the adaptation regimes (adapt without 3D) and
  the test all ask about the same motions; only the people and the cameras are new at test.
- `"random"`: takes drawn at random into test, val and train (`adapt` = `train`); subjects and
  motions are shared between the sets.

Subject split sizes: the pool (all subjects for in-domain; for the domain splits, half of the
subjects each for source and target, source getting the odd one) gives
`max(1, round(holdout * pool))` subjects to its held-out set (test, val; target: test), the
rest train (target: adapt). With too few subjects for disjoint sets (fewer than 3 for
in-domain, 4 for the domain splits) the sets share subjects and are disjoint by take instead:
within each motion, `holdout` of its takes are held out (none when it has a single take, so
every held-out motion is also in its training set). `SplitPlan.disjoint` records which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROTOCOLS = ("in-domain", "daily->sports", "sports->daily", "random")
SETS = ("train", "val", "adapt", "test")
TakeKey = tuple[str, str, int]  # (action, subject, variant)


@dataclass(frozen=True)
class SplitPlan:
    """The takes of every set.

    Attributes:
        split: protocol name (`PROTOCOLS`).
        disjoint: `"subjects"` (no subject in two of train / val / test / adapt-vs-test) or
            `"takes"` (sets share subjects and motions, never a take).
        sets: set name → take keys in generation order (empty sets omitted).
        subjects: set name → its subjects, in index order.
    """

    split: str
    disjoint: str
    sets: dict[str, list[TakeKey]]
    subjects: dict[str, list[str]]

    def motions(self, name: str) -> list[str]:
        """Sorted actions in set `name`."""
        return sorted({a for a, _, _ in self.sets.get(name, [])})

    def needed(self) -> set[TakeKey]:
        """Every take some set uses (the ones to generate)."""
        return {k for keys in self.sets.values() for k in keys}


def _held(n: int, holdout: float) -> int:
    return max(1, int(round(holdout * n)))


def _subject_sort(names: list[str]) -> list[str]:
    return sorted(names, key=lambda s: int(s[1:]))


def _cut_per_motion(
    keys: list[TakeKey], holdout: float, rng: np.random.Generator
) -> tuple[list[TakeKey], list[TakeKey]]:
    """`(kept, held)`: `holdout` of each motion's takes held out (none of a single take)."""
    kept: list[TakeKey] = []
    held: list[TakeKey] = []
    for action in dict.fromkeys(a for a, _, _ in keys):
        mine = [k for k in keys if k[0] == action]
        order = rng.permutation(len(mine))
        k = min(_held(len(mine), holdout), len(mine) - 1)
        held += [mine[i] for i in sorted(order[:k])]
        kept += [mine[i] for i in sorted(order[k:])]
    return kept, held


def plan_split(
    split: str,
    motions: list[tuple[str, str]],
    subjects: int,
    variants: int,
    holdout: float = 0.25,
    seed: int = 0,
) -> SplitPlan:
    """Assign takes to sets (see the module docstring); deterministic for `seed`.

    Args:
        split: protocol name (`PROTOCOLS`).
        motions: `(action, group)` per motion, group `"daily"`, `"sports"` or other.
        subjects: number of subjects `S1..SN`.
        variants: takes per motion × subject.
        holdout: fraction of each pool held out, in (0, 1).
        seed: split seed.

    Raises:
        ValueError: unknown split, or no train or no test takes.
    """
    if split not in PROTOCOLS:
        raise ValueError(f"split must be one of {', '.join(map(repr, PROTOCOLS))}, got {split!r}")
    if not 0 < holdout < 1 or subjects < 1 or variants < 1:
        raise ValueError("need subjects >= 1, variants >= 1 and holdout in (0, 1)")
    rng = np.random.default_rng([seed, 7])
    names = [f"S{k + 1}" for k in range(subjects)]
    shuffled = [names[i] for i in rng.permutation(subjects)]

    def keys(actions: list[str], who: list[str]) -> list[TakeKey]:
        return [(a, s, v) for a in actions for s in _subject_sort(who) for v in range(variants)]

    if split == "random":
        every = keys([a for a, _ in motions], names)
        order = [every[i] for i in rng.permutation(len(every))]
        k = _held(len(order), holdout) if len(order) > 1 else 0
        rest, test = order[k:], order[:k]
        k = _held(len(rest), holdout) if len(rest) > 1 else 0
        train, val = sorted(rest[k:], key=every.index), sorted(rest[:k], key=every.index)
        sets = {"train": train, "val": val, "adapt": list(train),
                "test": sorted(test, key=every.index)}
        disjoint = "takes"
    elif split == "in-domain":
        actions = [a for a, _ in motions]
        if subjects >= 3:
            n_test = min(_held(subjects, holdout), subjects - 1)
            n_val = min(_held(subjects - n_test, holdout), subjects - n_test - 1)
            who = {"test": shuffled[:n_test], "val": shuffled[n_test:n_test + n_val],
                   "train": shuffled[n_test + n_val:]}
            sets = {name: keys(actions, s) for name, s in who.items()}
            disjoint = "subjects"
        else:
            rest, test = _cut_per_motion(keys(actions, names), holdout, rng)
            train, val = _cut_per_motion(rest, holdout, rng)
            sets = {"train": train, "val": val, "test": test}
            disjoint = "takes"
        sets["adapt"] = list(sets["train"])
    else:
        src, dst = split.split("->")
        src_actions = [a for a, g in motions if g == src]
        dst_actions = [a for a, g in motions if g == dst]
        if subjects >= 4:
            pool_src, pool_dst = shuffled[:(subjects + 1) // 2], shuffled[(subjects + 1) // 2:]
            n_val = min(_held(len(pool_src), holdout), len(pool_src) - 1)
            n_test = min(_held(len(pool_dst), holdout), len(pool_dst) - 1)
            sets = {"train": keys(src_actions, pool_src[n_val:]),
                    "val": keys(src_actions, pool_src[:n_val]),
                    "adapt": keys(dst_actions, pool_dst[n_test:]),
                    "test": keys(dst_actions, pool_dst[:n_test])}
            disjoint = "subjects"
        else:
            train, val = _cut_per_motion(keys(src_actions, names), holdout, rng)
            adapt, test = _cut_per_motion(keys(dst_actions, names), holdout, rng)
            sets = {"train": train, "val": val, "adapt": adapt, "test": test}
            disjoint = "takes"
    for name in ("train", "test"):
        if not sets.get(name):
            raise ValueError(
                f"split {split!r} leaves no {name} takes for motions {[a for a, _ in motions]} "
                f"with {subjects} subject(s) x {variants} variant(s); add motions of both "
                "groups, subjects or variants, or use split='random'"
            )
    sets = {name: sets[name] for name in SETS if sets.get(name)}
    who = {name: _subject_sort(list({s for _, s, _ in ks})) for name, ks in sets.items()}
    return SplitPlan(split=split, disjoint=disjoint, sets=sets, subjects=who)
