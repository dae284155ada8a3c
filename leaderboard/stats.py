"""Statistics for comparison tables: percentile bootstrap CIs and paired tests between two rows.

Samples are small (3–5 seeds, 5–8 actions), so the bootstrap is a plain percentile bootstrap of
the mean (BCa needs more samples than a leaderboard has) and the default paired test is the exact
sign-flip permutation test of the mean difference (no normality assumption; exact for n <= 16).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PAIRED_METHODS = ("permutation", "wilcoxon", "ttest")


def _as_sample(values: Sequence[float], argument: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError(f"{argument} must hold at least one finite value (shape (n,)), got none")
    return x


def bootstrap_ci(values: Sequence[float], level: float = 0.95, n_boot: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap confidence interval of the mean.

    Args:
        values: the sample, shape `(n,)` (e.g. one metric in mm per seed); NaNs are dropped.
        level: coverage of the interval, in (0, 1).
        n_boot: number of bootstrap resamples.
        seed: seed of the resampling generator (the same inputs always give the same interval).

    Returns:
        `(mean, low, high)` in the unit of `values`; with a single value the interval collapses
        to it (`low == high == mean`): one seed gives no spread estimate.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    x = _as_sample(values, "values")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(low), float(high)


def sign_flip_pvalue(diffs: Sequence[float], n_random: int = 20000, seed: int = 0) -> float:
    """Two-sided p-value of the sign-flip permutation test that the mean difference is zero.

    Under the null hypothesis each paired difference is symmetric around 0, so flipping its sign
    is as likely as not. All `2**n` sign patterns are enumerated for `n <= 16`; above that,
    `n_random` random patterns (plus the observed one) estimate the p-value.

    Args:
        diffs: paired differences, shape `(n,)`, n >= 1.
        n_random: random sign patterns when `n > 16`.
        seed: seed of the random patterns.
    """
    d = _as_sample(diffs, "diffs")
    observed = abs(d.mean())
    # A tolerance so that patterns equal to the observed statistic up to rounding count as
    # "at least as extreme" (the test is otherwise anti-conservative on ties).
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if d.size <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        stats = np.abs(signs @ d) / d.size
        return float(np.mean(stats >= observed - tol))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_random, d.size))
    stats = np.abs(signs @ d) / d.size
    return float((np.sum(stats >= observed - tol) + 1) / (n_random + 1))


@dataclass
class PairedResult:
    """A paired comparison of rows `a` and `b` on their shared units (actions or seeds).

    `mean_diff` is mean(a − b) in the metric's unit (mm for errors), with a percentile bootstrap
    CI over the units; `p_value` is two-sided.
    """

    a: str
    b: str
    metric: str
    over: str
    units: list[str]
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    protocols_differ: bool = False

    @property
    def n(self) -> int:
        """Number of paired units."""
        return len(self.units)

    def summary(self) -> str:
        """One line for the terminal."""
        flag = " [protocols differ: not a like-for-like comparison]" if self.protocols_differ \
            else ""
        return (f"{self.a} - {self.b}: {self.metric} diff {self.mean_diff:+.2f} "
                f"[{self.ci_low:+.2f}, {self.ci_high:+.2f}] 95% CI, p = {self.p_value:.4g} "
                f"({self.method}, n = {self.n} {self.over}s){flag}")


def paired_test(a: dict[str, float], b: dict[str, float], metric: str = "mpjpe",
                over: str = "action", method: str = "permutation", labels: tuple[str, str] =
                ("a", "b"), n_boot: int = 2000, seed: int = 0) -> PairedResult:
    """Compare two rows on the units they share.

    Args:
        a: unit name → value of row a (e.g. action → MPJPE in mm, averaged over the row's seeds).
        b: unit name → value of row b.
        metric: the metric's name (for the report).
        over: what the units are (`"action"` or `"seed"`; for the report).
        method: `"permutation"` (exact sign flip), `"wilcoxon"` (signed-rank, scipy) or
            `"ttest"` (paired t-test, scipy).
        labels: names of rows a and b.
        n_boot: bootstrap resamples for the CI of the mean difference.
        seed: seed of the bootstrap (and of the random permutations for n > 16).

    Returns:
        The `PairedResult` over the shared, finite units (sorted by name).
    """
    if method not in PAIRED_METHODS:
        raise ValueError(f"method must be one of {PAIRED_METHODS}, got {method!r}")
    units = sorted(u for u in set(a) & set(b)
                   if math.isfinite(a[u]) and math.isfinite(b[u]))
    if len(units) < 2:
        raise ValueError(
            f"a paired test needs >= 2 shared {over}s with finite {metric}; rows "
            f"{labels[0]!r} and {labels[1]!r} share {units or 'none'}"
        )
    d = np.array([a[u] - b[u] for u in units])
    mean, low, high = bootstrap_ci(d, n_boot=n_boot, seed=seed)
    if method == "permutation":
        p = sign_flip_pvalue(d, seed=seed)
    elif np.all(d == 0):
        p = 1.0  # scipy's tests are undefined on all-zero differences; no evidence of a change
    elif method == "wilcoxon":
        from scipy.stats import wilcoxon

        p = float(wilcoxon(d).pvalue)
    else:
        from scipy.stats import ttest_1samp

        p = float(ttest_1samp(d, 0.0).pvalue)
    return PairedResult(a=labels[0], b=labels[1], metric=metric, over=over, units=units,
                        mean_diff=mean, ci_low=low, ci_high=high, p_value=p, method=method)
