"""Split protocols of the synthetic capture: subject-disjoint sets, same motions in adapt/test."""

import itertools

import numpy as np
import pytest

from liftbench.datamodules.synthetic.capture import motion_label, resolve_motions
from liftbench.datamodules.synthetic.datamodule import CACHE_VERSION, SyntheticDataModule
from liftbench.datamodules.synthetic.motion import MOTION_GROUPS
from liftbench.datamodules.synthetic.splits import plan_split

ALL = [motion_label(m) for m in resolve_motions("all")]


def subjects_of(plan, name):
    return {s for _, s, _ in plan.sets[name]}


@pytest.mark.parametrize("subjects", [4, 5, 8, 12, 16])
@pytest.mark.parametrize("split", ["daily->sports", "sports->daily"])
def test_domain_split_is_subject_disjoint_and_asks_one_question(split, subjects):
    plan = plan_split(split, ALL, subjects, variants=2, seed=1)
    src, dst = split.split("->")
    assert plan.disjoint == "subjects" and set(plan.sets) == {"train", "val", "adapt", "test"}
    for a, b in itertools.combinations(plan.sets, 2):
        assert not subjects_of(plan, a) & subjects_of(plan, b), (a, b)
    assert set(plan.motions("train")) == set(plan.motions("val")) == set(MOTION_GROUPS[src])
    assert set(plan.motions("adapt")) == set(MOTION_GROUPS[dst])
    assert set(plan.motions("test")) <= set(plan.motions("adapt"))  # every test motion adapted
    assert set(plan.motions("test")) == set(MOTION_GROUPS[dst])
    for name, keys in plan.sets.items():  # every subject of a set performs all its motions
        assert len(keys) == len(plan.motions(name)) * len(plan.subjects[name]) * 2
        assert sorted(subjects_of(plan, name)) == sorted(plan.subjects[name])
    used = set().union(*(subjects_of(plan, n) for n in plan.sets))
    assert used == {f"S{k + 1}" for k in range(subjects)}
    assert len(plan.subjects["train"]) >= len(plan.subjects["val"])
    assert len(plan.subjects["adapt"]) >= len(plan.subjects["test"])


def test_in_domain_split_holds_out_subjects_with_every_motion():
    plan = plan_split("in-domain", ALL, 8, variants=1, seed=0)
    assert plan.disjoint == "subjects"
    for a, b in itertools.combinations(("train", "val", "test"), 2):
        assert not subjects_of(plan, a) & subjects_of(plan, b)
    actions = sorted(a for a, _ in ALL)
    assert plan.motions("train") == plan.motions("val") == plan.motions("test") == actions
    assert plan.sets["adapt"] == plan.sets["train"]
    assert [len(plan.subjects[n]) for n in ("train", "val", "test")] == [4, 2, 2]


@pytest.mark.parametrize("split", ["daily->sports", "in-domain"])
def test_too_few_subjects_fall_back_to_disjoint_takes(split):
    plan = plan_split(split, ALL, 2, variants=2, seed=0)
    assert plan.disjoint == "takes"
    sets = {n: set(k) for n, k in plan.sets.items()}
    for a, b in itertools.combinations(sets, 2):
        if {a, b} != {"train", "adapt"} or split != "in-domain":
            assert not sets[a] & sets[b], (a, b)
    assert set(plan.motions("test")) <= set(plan.motions("adapt"))
    assert set(plan.motions("val")) <= set(plan.motions("train"))


def test_random_split_and_errors():
    plan = plan_split("random", ALL, 3, variants=1, seed=0)
    assert not set(plan.sets["train"]) & set(plan.sets["test"])
    assert plan.sets["adapt"] == plan.sets["train"]
    assert sum(len(plan.sets[n]) for n in ("train", "val", "test")) == len(ALL) * 3
    with pytest.raises(ValueError, match="split must be"):
        plan_split("daily", ALL, 8, 1)
    with pytest.raises(ValueError, match="no test takes"):
        plan_split("daily->sports", [("walk", "daily")], 8, 1)
    with pytest.raises(ValueError, match="no test takes"):  # one take per motion: no hold-out
        plan_split("in-domain", ALL, 1, 1)
    a = plan_split("daily->sports", ALL, 8, 2, seed=0)
    assert a == plan_split("daily->sports", ALL, 8, 2, seed=0)
    assert a.subjects != plan_split("daily->sports", ALL, 8, 2, seed=5).subjects


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    dm = SyntheticDataModule(motions=["walk", "dance_a", "run", "kick"], subjects=4, variants=2,
                             cameras=2, frames=9, batch_size=8, seed=2,
                             cache_dir=tmp_path_factory.mktemp("cache"))
    dm.setup()
    return dm


def test_datamodule_sets_hold_their_subjects_only(domain):
    proto = domain.protocol()
    assert proto["split"] == "daily->sports" and proto["disjoint"] == "subjects"
    assert proto["subjects"] == 4 and proto["variants"] == 2 and proto["rig"] == "mixed"
    assert domain.config["version"] == CACHE_VERSION >= 2
    sets = ("train", "val", "adapt", "test")
    assert set(proto["set_subjects"]) == set(proto["set_takes"]) == set(proto["set_clips"])
    assert set(proto["set_subjects"]) == set(sets)
    for name in sets:  # the clip arrays themselves: only this set's subjects and motions
        arrays = domain.datasets[name].arrays
        assert proto["set_clips"][name] == len(domain.datasets[name]) > 0
        assert proto["set_takes"][name] == len(domain.takes[name]) == 2 * 2
        seen = {domain.subject_names[i] for i in np.unique(arrays["subject"])}
        assert seen == set(proto["set_subjects"][name]), name
        acts = {domain.action_names[i] for i in np.unique(arrays["action"])}
        assert acts == set(proto["set_motions"][name]), name
    for a, b in itertools.combinations(sets, 2):
        assert not set(proto["set_subjects"][a]) & set(proto["set_subjects"][b])
    assert proto["set_motions"]["test"] == proto["set_motions"]["adapt"] == ["kick", "run"]
    assert proto["set_motions"]["train"] == ["dance_a", "walk"]
    # the body of every subject is recorded with the cache
    statures = [b["stature_m"] for b in domain.meta["bodies"].values()]
    assert len(statures) == 4 and all(1.4 < h < 2.0 for h in statures)


def test_datamodule_in_domain_and_option_errors(tmp_path):
    dm = SyntheticDataModule(motions=["walk", "run"], split="in-domain", subjects=3, variants=1,
                             cameras=2, frames=9, rig="ring", cache_dir=tmp_path)
    proto = dm.protocol()  # generates on demand
    assert proto["split"] == "in-domain" and proto["disjoint"] == "subjects"
    assert [len(proto["set_subjects"][n]) for n in ("train", "val", "test")] == [1, 1, 1]
    assert proto["set_motions"]["test"] == proto["set_motions"]["train"] == ["run", "walk"]
    assert all("_v" not in t for t in dm.takes["train"])  # variant 0: `<action>_<subject>`
    with pytest.raises(ValueError, match="rig must be"):
        SyntheticDataModule(rig="orbit")
    with pytest.raises(ValueError, match="speed"):
        SyntheticDataModule(speed=(1.3, 1.0))
    with pytest.raises(ValueError, match="variants"):
        SyntheticDataModule(variants=0)
