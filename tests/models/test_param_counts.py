"""Paper configurations match the published parameter counts (built on the meta device)."""

import pytest
import torch

from liftbench.models import create_lifter, get_lifter_entry, list_lifters

WITH_COUNTS = [n for n in list_lifters() if get_lifter_entry(n).paper_params]


def _count(name: str, **overrides) -> int:
    with torch.device("meta"):
        model = create_lifter(name, **overrides)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", WITH_COUNTS)
def test_paper_config_matches_published_count(name):
    expected = get_lifter_entry(name).paper_params
    got = _count(name)
    assert abs(got - expected) <= 0.005 * expected, f"{name}: {got:,} vs {expected:,}"


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        # MODELS.md §0.1: exact counts of the official code, incl. the T-dependent BatchNorm.
        ("motionagformer_xs", {}, 2_241_531),
        ("motionagformer_s", {}, 4_817_119),
        ("motionagformer_s", {"n_frames": 27}, 4_814_311),
        ("motionagformer_b", {}, 11_723_811),
        ("motionagformer_b", {"n_frames": 27}, 11_716_899),
        ("motionagformer_l", {}, 19_007_111),
        ("motionagformer_l", {"n_frames": 27}, 18_995_879),
        ("motionbert", {}, 42_466_317),
        ("motionbert", {"maxlen": 27}, 42_355_725),
    ],
)
def test_exact_official_counts(name, overrides, expected):
    assert _count(name, **overrides) == expected


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


@pytest.mark.parametrize("joints", [16, 17])
def test_simplebaseline_count_from_the_paper_architecture(joints):
    # Martinez et al. 2017, Fig. 1: Linear(2J→1024)+BN, two residual blocks of two
    # Linear(1024→1024)+BN each, Linear(1024→3J); the paper used J = 16.
    w = 1024
    expected = _linear(2 * joints, w) + 2 * w + 4 * (_linear(w, w) + 2 * w) + _linear(w, 3 * joints)
    assert _count("simplebaseline", num_joints=joints) == expected
    if joints == 16:
        assert expected == get_lifter_entry("simplebaseline").paper_params


@pytest.mark.parametrize("joints", [16, 17])
def test_canonpose_count_from_the_paper_architecture(joints):
    # Wandt et al. 2021, Fig. 2: Linear(3J→1024) on 2D + confidences, one common residual block,
    # then a pose and a camera branch of two residual blocks each (two Linear(1024→1024) per
    # block), Linear(1024→3J) for the pose and Linear(1024→3) for the axis-angle; J = 16.
    w = 1024
    expected = (_linear(3 * joints, w) + 5 * 2 * _linear(w, w) + _linear(w, 3 * joints)
                + _linear(w, 3))
    assert _count("canonpose", num_joints=joints) == expected
    if joints == 16:
        assert expected == get_lifter_entry("canonpose").paper_params
