"""`leaderboard.stats.bootstrap_ci` against `scipy.stats.bootstrap(method="percentile")`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from liftbench.leaderboard.stats import bootstrap_ci


@pytest.mark.parametrize(("values", "level"), [
    ([52.0, 50.0, 54.0, 49.5, 51.0], 0.95),            # five seeds, mm
    (list(np.random.default_rng(1).gamma(2.0, 10.0, 40)), 0.95),  # skewed, 40 values
    (list(np.random.default_rng(2).normal(60.0, 8.0, 8)), 0.9),  # 90% interval
])
def test_percentile_interval_matches_scipy(values, level):
    mean, low, high = bootstrap_ci(values, level=level, n_boot=40000, seed=0)
    ref = stats.bootstrap((np.asarray(values),), np.mean, confidence_level=level,
                          n_resamples=40000, method="percentile", random_state=7)
    assert mean == pytest.approx(float(np.mean(values)))
    # both are Monte-Carlo estimates of the same quantiles: agree to a small share of the width
    tol = 0.03 * (ref.confidence_interval.high - ref.confidence_interval.low)
    assert abs(low - ref.confidence_interval.low) < tol
    assert abs(high - ref.confidence_interval.high) < tol
