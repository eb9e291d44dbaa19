"""The statistics of monitoring, on plain arrays: distances between distributions, the
calibration behind estimated precision, and the tests that turn counts into alarms.

Distances (both computed from the same bins, so the page can show either):

* **PSI**, the population stability index: ``sum_i (a_i - e_i) ln(a_i / e_i)`` over bins with
  reference shares ``e`` and current shares ``a``; an empty bin counts as :data:`EPS`. The
  usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one.
* **Jensen-Shannon distance** (``scipy.spatial.distance.jensenshannon``, base 2): the square
  root of the JS divergence, from 0 (same) to 1 (disjoint).

Numeric values are binned at the reference's quantiles (:func:`bin_edges`; ties merge bins,
so a flag has two), with one more bin for missing values; categories get one bin each, plus
one for categories the reference never had.

Estimated precision (confidence-based performance estimation, NannyML's CBPE): an isotonic
regression (scikit-learn's, as ``CalibratedClassifierCV(method="isotonic")`` uses) maps the
model's scores to probabilities on a window with labels; on a day without labels the
expected precision of the flagged payments is the mean of their calibrated probabilities,
and the realised precision, a sum of independent Bernoulli draws, follows the Poisson
binomial distribution of those probabilities: its quantiles are the interval. Labels that
have not arrived yet are corrected for by fitting on ``label / completeness`` (the expected
share of a day's frauds labelled so far): a known fraud of a day a quarter labelled stands
for four.

The same distribution bounds any estimate made without the day's labels: with ``n`` flagged
payments the realised precision only takes the values ``k / n``, so no number lands within
``tol`` of it more often than the most probable window of width ``2 tol`` holds
(:func:`best_window`); at a dozen flags a day that is about half the days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: share given to an empty bin, so that PSI stays finite (a common choice: 1e-4)
EPS = 1e-4


# ----------------------------------------------------------------------------- bins
def bin_edges(reference: Any, bins: int = 10) -> np.ndarray:
    """Inner bin edges of numeric values: the reference's ``bins``-quantiles (NaN left out),
    distinct ones only (a flag gets one edge, two bins).

    >>> bin_edges([1, 2, 3, 4], bins=2).tolist()
    [2.5]
    >>> bin_edges([0, 0, 0, 1], bins=4).tolist()
    [0.0, 0.25]
    """
    values = np.asarray(reference, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.zeros(0)
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_counts(values: Any, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the bins of ``edges``: ``len(edges) + 1`` bins (``(-inf,
    e0)``, ``[e0, e1)``, ..., ``[e_last, inf)``), then one for missing values."""
    v = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(v)
    where = np.searchsorted(edges, v[~missing], side="right")
    counts = np.bincount(where, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float(missing.sum()))


def category_counts(values: Any, categories: Sequence[Any]) -> np.ndarray:
    """Counts of each of ``categories`` (in order), then of any other value, then of
    missing values."""
    import pandas as pd

    s = pd.Series(values, dtype="object")
    missing = s.isna().to_numpy()
    known = s[~missing].value_counts()
    counts = [float(known.get(c, 0)) for c in categories]
    other = float((~missing).sum()) - sum(counts)
    return np.array([*counts, other, float(missing.sum())])


# ------------------------------------------------------------------------ distances
def _shares(counts: Any) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.full(len(c), np.nan)


def psi_counts(expected: Any, actual: Any, eps: float = EPS) -> float:
    """PSI between two histograms over the same bins (counts or shares); NaN when either
    is empty. Bins empty on both sides add nothing.

    >>> round(psi_counts([50, 50], [25, 75]), 4)
    0.2747
    >>> psi_counts([1, 2, 0], [2, 4, 0])
    0.0
    """
    e, a = _shares(expected), _shares(actual)
    if np.isnan(e).any() or np.isnan(a).any():
        return math.nan
    both_empty = (e == 0) & (a == 0)
    e, a = np.maximum(e[~both_empty], eps), np.maximum(a[~both_empty], eps)
    return float(np.sum((a - e) * np.log(a / e)))


def js_counts(expected: Any, actual: Any) -> float:
    """Jensen-Shannon distance (base 2, 0 to 1) between two histograms over the same bins.

    >>> js_counts([1, 0], [0, 1])
    1.0
    >>> js_counts([3, 1], [6, 2])
    0.0
    """
    from scipy.spatial.distance import jensenshannon

    e, a = _shares(expected), _shares(actual)
    if np.isnan(e).any() or np.isnan(a).any():
        return math.nan
    return float(np.clip(jensenshannon(e, a, base=2), 0.0, 1.0))


def psi(expected: Any, actual: Any, bins: int = 10) -> float:
    """PSI of numeric ``actual`` values against ``expected`` ones, in ``expected``'s
    quantile bins (:func:`bin_edges`)."""
    edges = bin_edges(expected, bins)
    return psi_counts(bin_counts(expected, edges), bin_counts(actual, edges))


def js_distance(expected: Any, actual: Any, bins: int = 10) -> float:
    """Jensen-Shannon distance of numeric ``actual`` values from ``expected`` ones, in the
    same bins as :func:`psi`."""
    edges = bin_edges(expected, bins)
    return js_counts(bin_counts(expected, edges), bin_counts(actual, edges))


def total_variation(expected: Any, actual: Any) -> float:
    """Half the L1 distance between two share vectors: the share of mass that moved
    (0 to 1). NaN when either is empty.

    >>> total_variation([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])
    0.5
    """
    e, a = _shares(expected), _shares(actual)
    if np.isnan(e).any() or np.isnan(a).any():
        return math.nan
    return float(0.5 * np.abs(e - a).sum())


# ------------------------------------------------------------------------- calibration
def fit_calibrator(scores: Any, labels: Any, completeness: Any = None) -> Any:
    """An isotonic regression from scores to the probability of fraud, fitted on scores
    whose labels are known (``sklearn.isotonic.IsotonicRegression``, clipped to [0, 1]
    and to the fitted score range).

    ``completeness``: per row, the expected share of its frauds labelled so far (in (0, 1]);
    the regression is then fitted on ``labels / completeness``, whose expectation is the
    probability of fraud when a fraud's label delay does not depend on its score.

    >>> fit_calibrator([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 0], [1, 1, 0.5, 0.5]).predict([0.1, 0.9]).tolist()
    [0.0, 1.0]
    """
    from sklearn.isotonic import IsotonicRegression

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(s) == 0 or y.min() == y.max():
        raise ValueError("calibration needs scores with both labels")
    if completeness is not None:
        c = np.asarray(completeness, dtype=np.float64)
        if c.shape != y.shape or not ((c > 0) & (c <= 1)).all():
            raise ValueError("completeness needs one share in (0, 1] per label")
        y = y / c
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(s, y)


def poisson_binomial_pmf(probs: Any) -> np.ndarray:
    """``P(sum of independent Bernoulli(p_i) = j)`` for ``j = 0..n``, exactly (dynamic
    programming, O(n^2)).

    >>> poisson_binomial_pmf([0.5, 0.5]).tolist()
    [0.25, 0.5, 0.25]
    """
    pmf = np.ones(1)
    for p in np.asarray(probs, dtype=np.float64):
        pmf = np.append(pmf * (1 - p), 0.0) + np.concatenate([[0.0], pmf * p])
    return pmf


def estimate_precision(probs: Any, level: float = 0.9) -> tuple[float, float, float]:
    """Expected precision of flagged payments with calibrated fraud probabilities ``probs``
    and the central ``level`` interval of the realised precision: ``(estimate, low, high)``;
    NaN for none.

    The realised precision is ``X / n`` with ``X`` Poisson binomial; the interval is its
    quantiles (exact up to 2,000 payments, a normal approximation beyond).

    >>> estimate_precision([1.0, 1.0, 0.0, 0.0])
    (0.5, 0.5, 0.5)
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    n = len(p)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(p.mean())
    tail = (1 - level) / 2
    if n <= 2000:
        cdf = np.cumsum(poisson_binomial_pmf(p))
        low = int(np.searchsorted(cdf, tail - 1e-12))
        high = int(np.searchsorted(cdf, 1 - tail - 1e-12))
        return mean, low / n, min(high, n) / n
    from scipy.stats import norm

    sd = math.sqrt(float((p * (1 - p)).sum())) / n
    z = float(norm.ppf(1 - tail))
    return mean, max(mean - z * sd, 0.0), min(mean + z * sd, 1.0)


def best_window(probs: Any, tol: float = 0.05) -> tuple[float, float]:
    """The most any estimate made without the labels can hope for: the largest probability
    that a number lies within ``tol`` of the realised precision ``X / n`` (``X`` Poisson
    binomial of ``probs``), and that number: ``(centre, probability)``; NaN for none.

    The window ``[e - tol, e + tol]`` holds the values ``k / n`` of ``floor(2 tol n) + 1``
    consecutive ``k`` at most; the best holds the most probability. Exact up to 2,000
    payments, a normal approximation (centred on the mean) beyond.

    >>> best_window([0.5, 0.5])
    (0.5, 0.5)
    >>> c, p = best_window([0.9] * 10)
    >>> round(c, 2), round(p, 4)
    (0.95, 0.7361)
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    n = len(p)
    if n == 0:
        return math.nan, math.nan
    if n > 2000:
        from scipy.stats import norm

        sd = math.sqrt(float((p * (1 - p)).sum())) / n
        mass = 1.0 if sd == 0 else float(2 * norm.cdf(tol / sd) - 1)
        return float(p.mean()), mass
    width = int(math.floor(2 * tol * n + 1e-9))  # k spans of at most 2 tol (rounding kept exact)
    cdf = np.concatenate([[0.0], np.cumsum(poisson_binomial_pmf(p))])
    low = np.arange(n + 1)
    high = np.minimum(low + width, n)
    mass = cdf[high + 1] - cdf[low]
    best = int(np.argmax(mass))
    return float(best + high[best]) / (2 * n), float(min(mass[best], 1.0))


def within_probability(probs: Any, estimate: float, tol: float = 0.05) -> float:
    """The probability that ``estimate`` lies within ``tol`` of the realised precision
    ``X / n`` (``X`` Poisson binomial of ``probs``, exact); NaN for none or a NaN estimate.

    >>> within_probability([0.5, 0.5], 0.5)
    0.5
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    n = len(p)
    if n == 0 or not math.isfinite(estimate):
        return math.nan
    k = np.arange(n + 1)
    near = np.abs(k - estimate * n) <= tol * n + 1e-9
    return float(min(poisson_binomial_pmf(p)[near].sum(), 1.0))


def label_completeness(delays_days: Any, ages_days: Any) -> np.ndarray:
    """The expected share of frauds already labelled at each of ``ages_days`` (days since
    the payment), from the label delays (days) of older frauds whose labels are known:
    ``P(delay <= age)``. 1 where there is nothing to learn from.

    It overstates completeness a little: the older frauds' own late labels may not be in
    yet, and frauds never labelled are not seen at all.

    >>> label_completeness([1, 2, 3, 10], [0, 2, 30]).tolist()
    [0.0, 0.5, 1.0]
    """
    d = np.sort(np.asarray(delays_days, dtype=np.float64))
    ages = np.asarray(ages_days, dtype=np.float64)
    if len(d) == 0:
        return np.ones(len(ages))
    return np.searchsorted(d, ages, side="right") / len(d)


def truncated_completeness(delays_days: Any, windows_days: Any, ages_days: Any) -> np.ndarray:
    """As :func:`label_completeness`, for delays seen only because they were short enough:
    a fraud paid ``w`` days before now is known only if its label came within ``w`` days
    (right truncation), so recent frauds tell of short delays only. Lynden-Bell's
    product-limit estimator: ``P(delay <= a) = prod over delays u > a of (1 - d_u / R_u)``,
    with ``d_u`` the frauds of delay ``u`` and ``R_u`` those of delay at most ``u`` whose
    ``windows_days`` reach ``u``. Without truncation (``windows`` infinite) it is the share
    of delays at most ``a``. 1 where there is nothing to learn from; beyond the longest
    window it cannot see, so it still overstates completeness there.

    >>> truncated_completeness([1, 1, 2, 4], [10, 1.5, 10, 10], [0, 1, 2, 4]).round(4).tolist()
    [0.0, 0.3333, 0.6667, 1.0]
    """
    x = np.asarray(delays_days, dtype=np.float64)
    t = np.asarray(windows_days, dtype=np.float64)
    ages = np.asarray(ages_days, dtype=np.float64)
    if len(x) == 0:
        return np.ones(len(ages))
    u, d = np.unique(x, return_counts=True)
    at_most = np.searchsorted(np.sort(x), u, side="right")
    cut_short = np.searchsorted(np.sort(t), u, side="left")  # windows shorter than u
    factors = 1.0 - d / np.maximum(at_most - cut_short, d)
    suffix = np.append(np.cumprod(factors[::-1])[::-1], 1.0)  # suffix[i] = prod of factors[i:]
    return suffix[np.searchsorted(u, ages, side="right")]


# ------------------------------------------------------------------------------- tests
def binomial_low_p(caught: int, n: int, rate: float) -> float:
    """One-sided p-value of catching at most ``caught`` of ``n`` when each is caught with
    probability ``rate`` (``scipy.stats.binom.cdf``); 1 for ``n = 0``.

    >>> round(binomial_low_p(0, 5, 0.5), 5)
    0.03125
    """
    from scipy.stats import binom

    if n <= 0:
        return 1.0
    return float(binom.cdf(caught, n, min(max(rate, 0.0), 1.0)))


def poisson_two_sided_p(count: int, expected: float) -> float:
    """Two-sided p-value of ``count`` events when ``expected`` are expected (Poisson):
    twice the smaller tail, at most 1."""
    from scipy.stats import poisson

    if expected <= 0:
        return 1.0 if count == 0 else 0.0
    low = float(poisson.cdf(count, expected))
    high = float(poisson.sf(count - 1, expected))
    return min(1.0, 2 * min(low, high))
