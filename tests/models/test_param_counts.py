"""Paper configurations match the published parameter counts (built on the meta device)."""

import pytest
import torch

from models import create_lifter, get_lifter_entry, list_lifters

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
