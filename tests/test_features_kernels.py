"""The compiled window kernels (okml.features._kernels) against brute force, on random data
with ties, exact window edges, missing keys and long windows.

The engine's own tests (test_features.py, test_features_props.py) check the features; these
check each kernel's contract on its own, including the numbers the engine relied on before
the kernels existed (Kahan prefix sums as pandas' groupby().cumsum(), medians as
np.median, numpy's formulas for ratios and z-scores, bit for bit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from okml.features import _kernels as K
from okml.features._timeline import (
    NS,
    Keyed,
    Timeline,
    interval_count,
    interval_share,
    interval_sum,
    started_extremes,
)


def _data(seed: int, n: int = 600, keys: int = 4, span_s: int = 5 * 86400):
    rng = np.random.default_rng(seed)
    # whole minutes: many ties and rows exactly a window apart
    t = np.sort(rng.integers(0, span_s // 60, n)) * 60 * NS
    codes = rng.integers(-1, keys, n)  # -1: a missing key
    values = np.round(rng.exponential(50.0, n), 2) * rng.choice([1.0, 1e-3, 1e6], n)
    return t, codes, values, rng


def _earlier(t, codes, i, width):
    """Rows of row i's key before it with time > t_i - width (width None: all)."""
    j = np.arange(i)
    mine = j[codes[:i] == codes[i]]
    return mine if width is None else mine[t[mine] > t[i] - width]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_rows_is_a_stable_sort_by_key(seed: int) -> None:
    t, codes, _, _ = _data(seed)
    off, rank, perm, t_s = K.group_rows(codes, int(codes.max()) + 1, t)
    want = np.argsort(codes, kind="stable")
    assert np.array_equal(perm, want)
    assert np.array_equal(rank[perm], np.arange(len(t)))
    assert np.array_equal(t_s, t[perm])
    assert np.array_equal(np.diff(off), np.bincount(codes + 1, minlength=int(codes.max()) + 2))


@pytest.mark.parametrize("seed", [0, 1])
def test_window_starts_are_the_first_row_of_the_key_inside(seed: int) -> None:
    t, codes, _, _ = _data(seed)
    keyed = Keyed(codes, Timeline(t, pd.Series(np.arange(len(t)))))
    for seconds in (60, 3600, 86400, None):
        start = keyed.starts(seconds)
        for i in range(len(t)):
            rows = _earlier(t, codes, i, None if seconds is None else seconds * NS)
            assert keyed.rank[i] - start[keyed.rank[i]] == len(rows)
            if len(rows):
                assert keyed.perm[start[keyed.rank[i]]] == rows[0]


def test_interval_share_over_the_rows_in_the_window() -> None:
    t, _, _, rng = _data(0)
    n = len(t)
    ev_pos, _, start, end = _events(rng, n, 1)
    got = interval_share(Timeline(t, pd.Series(np.arange(n))), 3600, start, end)
    for q in range(n):
        rows = (np.arange(n) < q) & (t > t[q] - 3600 * NS)
        live = ((start <= q) & (q < end)).sum()
        assert got[q] == (live / rows.sum() if rows.any() else 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_counts_and_sums_match_brute_force_and_pandas_cumsum(seed: int) -> None:
    t, codes, values, _ = _data(seed)
    keyed = Keyed(codes, Timeline(t, pd.Series(np.arange(len(t)))))
    # the sums the engine computed before: differences of pandas' (Kahan) group cumsum
    incl = pd.Series(values[keyed.perm]).groupby(codes[keyed.perm], sort=False).cumsum().to_numpy()
    excl = np.concatenate([[0.0], incl[:-1]])
    excl[keyed.off[:-1][np.diff(keyed.off) > 0]] = 0.0
    for s in (60, 3600, 86400, None):
        width = None if s is None else s * NS
        count, total = keyed.count_sum(s, "v", values)
        for i in range(len(t)):
            rows = _earlier(t, codes, i, width)
            assert count[i] == len(rows)
            assert total[i] == pytest.approx(values[rows].sum(), rel=1e-9, abs=1e-6)
            r = keyed.rank[i]
            assert total[i] == excl[r] - excl[r - len(rows)]  # bit for bit
        # known windows are kept: asked again, the same arrays
        assert keyed.count(s) is count and keyed.count_sum(s, "v", values)[1] is total


@pytest.mark.parametrize("seed", [0, 1])
def test_ratio_and_z_over_the_window_and_all_history(seed: int) -> None:
    t, codes, _, rng = _data(seed, n=400)
    values = np.round(rng.exponential(50.0, len(t)), 2)  # prefix sums of like sizes: no cancellation
    keyed = Keyed(codes, Timeline(t, pd.Series(np.arange(len(t)))))
    ratio, z, ratio_all, z_all = keyed.ratio_z("v", values, 3600, 0.01, [None] * 4)
    for i in range(len(t)):
        for width, r_got, z_got in ((3600 * NS, ratio, z), (None, ratio_all, z_all)):
            past = values[_earlier(t, codes, i, width)]
            if not len(past):
                assert np.isnan(r_got[i]) and np.isnan(z_got[i])
                continue
            mean = past.mean()
            assert r_got[i] == pytest.approx(values[i] / mean, rel=1e-9)
            if len(past) < 2:
                assert np.isnan(z_got[i])
            else:
                spread = max(past.std(), 0.01 * mean)
                assert z_got[i] == pytest.approx((values[i] - mean) / spread, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_near_hours_pair_counts_distinct_others_and_first_seen(seed: int) -> None:
    t, codes, _, rng = _data(seed, n=500)
    keyed = Keyed(codes, Timeline(t, pd.Series(np.arange(len(t)))))
    hours = rng.integers(0, 24, len(t))
    other = rng.integers(-1, 5, len(t))
    width = 3600
    share = keyed.near_hour_share(hours, width)
    same = keyed.count_same(other, width)
    distinct = keyed.distinct_others(other, width)
    first = keyed.first_seen(other)
    for i in range(len(t)):
        rows = _earlier(t, codes, i, width * NS)
        apart = np.minimum((hours[rows] - hours[i]) % 24, (hours[i] - hours[rows]) % 24)
        if len(rows):
            assert share[i] == (apart <= 1).sum() / len(rows)
        else:
            assert np.isnan(share[i])
        assert same[i] == (other[rows] == other[i]).sum()
        assert distinct[i] == len(set(other[rows]) - {other[i]})
        before = _earlier(t, codes, i, None)
        if other[i] < 0 or codes[i] < 0:
            assert np.isnan(first[i])
        else:
            assert first[i] == float(other[i] not in set(other[before]))


@pytest.mark.parametrize("seed", [0, 1])
def test_secs_since_prev(seed: int) -> None:
    t, codes, _, _ = _data(seed)
    got = Keyed(codes, Timeline(t, pd.Series(np.arange(len(t))))).secs_since_prev()
    for i in range(len(t)):
        rows = _earlier(t, codes, i, None)
        assert (np.isnan(got[i]) and not len(rows)) or got[i] == (t[i] - t[rows[-1]]) / NS


def _events(rng, n: int, keys: int, count: int = 80):
    ev_pos = np.sort(rng.choice(n, count, replace=False))
    ev_codes = rng.integers(-1, keys, count)
    start = ev_pos + rng.integers(0, 40, count)
    end = start + rng.integers(-5, 60, count)  # some empty or reversed intervals
    end[rng.random(count) < 0.1] = n + 1  # never ends
    return ev_pos, ev_codes, start, end


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interval_counts_sums_and_started_extremes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, keys = 400, 4
    codes = rng.integers(-1, keys, n)
    ev_pos, ev_codes, start, end = _events(rng, n, keys)
    end2 = start + 7
    value = rng.normal(0, 1e3, len(start)) * rng.choice([1.0, 1e12], len(start))
    c1, c2 = (interval_count(codes, ev_codes, start, e) for e in (end, end2))
    total, count = interval_sum(codes, ev_codes, start, end, value)
    n_started, largest, smallest = started_extremes(codes, ev_codes, start, ev_pos)
    for q in range(n):
        mine = ev_codes == codes[q]
        live = mine & (start <= q) & (q < end)
        assert c1[q] == live.sum() == count[q]
        assert c2[q] == (mine & (start <= q) & (q < end2)).sum()
        assert total[q] == pytest.approx(value[live].sum(), rel=1e-9, abs=1e-3)
        began = mine & (start <= q)
        assert n_started[q] == began.sum()
        assert largest[q] == (ev_pos[began].max() if began.any() else -1)
        assert smallest[q] == (ev_pos[began].min() if began.any() else -1)


def test_interval_sum_forgets_a_huge_value() -> None:
    """Extended-precision prefix sums: a huge value that has ended leaves a residue far
    below float64's (which would be about 6e-8 after 1e9)."""
    codes = np.zeros(10, dtype=np.int64)
    start = np.array([0, 1, 2])
    end = np.array([3, 11, 11])
    value = np.array([1e9, 0.1, 0.2])
    total, count = interval_sum(codes, np.zeros(3, dtype=np.int64), start, end, value)
    assert abs(total[5] - 0.3) < 1e-9
    assert count[5] == 2 and count[2] == 3


def _streak_reference(t, codes, known, delay, q):
    """Settled rows of q's key (time <= t_q - delay, earlier than q): the run of rows known
    at q counted back from the latest, and the rows around it."""
    settled = [j for j in range(q) if codes[j] == codes[q] and t[j] <= t[q] - delay]
    run = 0
    while run < len(settled) and known[settled[-1 - run]] <= q:
        run += 1
    first = settled[-run] if run else None
    clean = settled[-1 - run] if run < len(settled) else None
    return run, first, clean


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fraud_streak_matches_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    t = np.sort(rng.integers(0, 3000, n)) * 60 * NS
    codes = rng.integers(0, 3, n)
    never = n + 1
    known = np.full(n, never, dtype=np.int64)
    fraud = rng.random(n) < 0.5  # long runs of frauds
    delays = rng.choice([0, 3, 30, 300, 10**6], n) * 60 * NS
    known[fraud] = np.searchsorted(t, t[fraud] + delays[fraud], side="right")
    keyed = Keyed(codes, Timeline(t, pd.Series(np.arange(n))))
    streak, run_days, clean_days = (np.empty(n) for _ in range(3))
    day = 86400 * NS
    delay = 60 * 60 * NS
    K.fraud_streak(
        keyed.off, keyed.starts(delay // NS), keyed.t_s, keyed.perm, keyed.in_key_order(known), never, day,
        streak, run_days, clean_days,
    )  # fmt: skip
    streak, run_days, clean_days = (keyed.to_pos(a) for a in (streak, run_days, clean_days))
    for q in range(n):
        run, first, clean = _streak_reference(t, codes, known, delay, q)
        assert streak[q] == run
        assert (np.isnan(run_days[q]) and first is None) or run_days[q] == (t[q] - t[first]) / day
        assert (np.isnan(clean_days[q]) and clean is None) or clean_days[q] == (t[q] - t[clean]) / day


def test_calendar_matches_pandas() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(-(10**18), 3 * 10**18, 2000))
    hour, dow = np.empty(len(t), dtype=np.int64), np.empty(len(t), dtype=np.int64)
    K.calendar(t, hour, dow)
    idx = pd.DatetimeIndex(t.view("datetime64[ns]"))
    assert np.array_equal(hour, idx.hour) and np.array_equal(dow, idx.day_of_week)


def test_divide_and_smoothed_share_give_numpys_numbers() -> None:
    rng = np.random.default_rng(0)
    m = 5000
    n = rng.integers(0, 5, m).astype(np.float64)
    k = np.minimum(rng.integers(0, 3, m), n)
    g = rng.random(m) * rng.choice([0.0, 1.0], m)
    out = np.empty(m)
    K.divide(k, n, out)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.array_equal(out, np.where(n == 0, np.nan, k / n), equal_nan=True)
    for a in (0.0, 2.0):
        K.smoothed_share(k, g, n, a, out)
        with np.errstate(divide="ignore", invalid="ignore"):
            want = np.where(n + a == 0, np.nan, (k + a * g) / (n + a))
        assert np.array_equal(out, want, equal_nan=True)


def test_any_infinite() -> None:
    block = np.zeros((3, 4))
    block[1, 2] = np.nan
    assert not K.any_infinite(block)
    block[2, 3] = -np.inf
    assert K.any_infinite(block)
