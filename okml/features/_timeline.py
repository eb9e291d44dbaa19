"""Point-in-time window arithmetic, vectorized: sorting and binary search, no Python loop
over rows (loops run over blocks of rows or over a handful of steps).

Every transaction gets a position ``pos`` in the global order (timestamp, transaction_id).
"Earlier" means a smaller ``pos``. A trailing window of length ``w`` at a transaction with
time ``t`` holds the earlier transactions with timestamp in ``(t - w, t]``; because times
never decrease along ``pos``, that is the position range ``[lo, pos)`` where
``lo = first pos with time > t - w`` (:meth:`Timeline.lo`). Per-key windows search the
combined key ``code * M + pos`` (``M > n + 1``), sorted once per key with a radix sort
(:class:`Keyed`); in (key, pos) order a row's window is the run of rows just before it, so
counts, sums (prefix sums), maxima (a sparse table) and medians (a strided view) need only
where that run starts.

Label-aware counts are interval events: an event contributes to the queries of its key
whose ``pos`` lies in ``[start, end)``, counted as ``#(start <= pos) - #(end <= pos)``
with two searches (:func:`interval_count`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

NS = 1_000_000_000
# rows x columns gathered at a time for window medians (about 32 MB of float64)
_MEDIAN_CELLS = 1 << 22
# window starts: step back up to _STEPS rows unless more than _LONG_SHARE of the rows (in a
# sample of every _SAMPLE_EVERY-th) have that many rows in their window; then search
_STEPS, _LONG_SHARE, _SAMPLE_EVERY = 8, 0.05, 64
# rows per block of the blockwise window-start search
_SEARCH_BLOCK = 1 << 13


def search_sorted(
    arr: np.ndarray, needles: np.ndarray, side: Literal["left", "right"] = "left"
) -> np.ndarray:
    """``np.searchsorted(arr, needles, side)``, block by block when ``needles`` are sorted.

    A block's answers lie between those of its first and last needle, so each block
    searches only that stretch of ``arr``, which stays in cache: the same answers, and the
    cost per needle no longer grows with the size of ``arr``.
    """
    n = len(needles)
    if n <= _SEARCH_BLOCK or not (needles[1:] >= needles[:-1]).all():
        return np.searchsorted(arr, needles, side=side)
    ends = needles[_SEARCH_BLOCK - 1 :: _SEARCH_BLOCK]
    bounds = np.searchsorted(arr, np.concatenate([needles[::_SEARCH_BLOCK], ends]), side=side)
    low, high = bounds[: len(bounds) - len(ends)], bounds[len(bounds) - len(ends) :]
    out = np.empty(n, dtype=np.intp)
    for k, a in enumerate(range(0, n, _SEARCH_BLOCK)):
        b = min(a + _SEARCH_BLOCK, n)
        lo, hi = low[k], high[k] if k < len(high) else len(arr)
        out[a:b] = lo + np.searchsorted(arr[lo:hi], needles[a:b], side=side)
    return out


def time_ns(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since the epoch (UTC) as int64, and a mask of missing values."""
    values = s.to_numpy(dtype="datetime64[ns]")
    return values.view(np.int64), np.isnat(values)


def codes_of(s: pd.Series) -> np.ndarray:
    """Dense int64 codes of a key column, ``-1`` where the key is missing."""
    return pd.factorize(s, use_na_sentinel=True)[0].astype(np.int64, copy=False)


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes of the pair ``(a, b)``; ``-1`` where either is missing."""
    missing = (a < 0) | (b < 0)
    pair = a * (int(b.max(initial=0)) + 1) + b
    codes = pd.factorize(np.where(missing, -1, pair))[0].astype(np.int64)
    # factorize numbered the "missing" value like any other; put -1 back
    codes[missing] = -1
    return codes


def group_order(codes: np.ndarray) -> np.ndarray:
    """Positions sorted by code, equal codes in position order (a stable sort).

    Codes are small non-negative integers (``-1`` for missing sorts first), so numpy's
    radix sort does it in linear time: one pass of 16-bit digits, or two passes (low
    digit, then high digit, each stable) for up to 2**32 codes. It is the same order as
    ``argsort(codes * M + pos)``, several times faster.
    """
    shifted = codes + 1
    top = int(shifted.max(initial=0))
    if top < 1 << 16:
        return np.argsort(shifted.astype(np.uint16), kind="stable")
    if top < 1 << 32:
        order = np.argsort((shifted & 0xFFFF).astype(np.uint16), kind="stable")
        high = (shifted >> 16).astype(np.uint16)
        return order[np.argsort(high[order], kind="stable")]
    return np.argsort(shifted, kind="stable")


def _tie_ranks(ids: pd.Series) -> np.ndarray:
    try:
        return pd.factorize(ids, sort=True)[0]
    except TypeError:  # ids of mixed types: order them as text
        return pd.factorize(ids.astype(str), sort=True)[0]


class Timeline:
    """The global order of transactions and their times.

    Parameters
    ----------
    t_ns:
        Timestamps (int64 ns) in input order.
    ids:
        Transaction ids in input order; they break ties between equal timestamps.
    """

    def __init__(self, t_ns: np.ndarray, ids: pd.Series) -> None:
        order = np.argsort(t_ns, kind="stable")
        t = t_ns[order]
        tied = np.zeros(len(t), dtype=bool)
        same = t[1:] == t[:-1]
        tied[1:] |= same
        tied[:-1] |= same
        if tied.any():
            # only rows sharing a timestamp need the (costlier) id ranks; they sit in runs
            # of equal times, so sorting them by (time, id) keeps each run in its place
            idx = np.flatnonzero(tied)
            ranks = _tie_ranks(ids.iloc[order[idx]].reset_index(drop=True))
            order[idx] = order[idx][np.lexsort((ranks, t[idx]))]
        self.order = order  # order[pos] = input row
        self.t = t
        self.n = len(t)
        self.M = self.n + 2  # key multiplier: positions and interval ends are < n + 2
        self.pos = np.arange(self.n, dtype=np.int64)
        self._lo: dict[int, np.ndarray] = {}

    def lo(self, seconds: int) -> np.ndarray:
        """Per transaction, the first ``pos`` with time > t - ``seconds``."""
        if seconds not in self._lo:
            self._lo[seconds] = search_sorted(self.t, self.t - seconds * NS, side="right")
        return self._lo[seconds]

    def first_after(self, times: np.ndarray) -> np.ndarray:
        """First ``pos`` whose time is strictly after each of ``times`` (ns)."""
        return np.searchsorted(self.t, times, side="right")

    def first_at_or_after(self, times: np.ndarray) -> np.ndarray:
        """First ``pos`` whose time is at or after each of ``times`` (ns)."""
        return np.searchsorted(self.t, times, side="left")

    def in_pos_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder an input-order array to ``pos`` order."""
        return values[self.order]

    def input_rows(self) -> np.ndarray | None:
        """``pos`` of each input row (``values[rows]`` is in input order); ``None`` when the
        input was already in order, so callers can skip the gather."""
        if np.array_equal(self.order, self.pos):
            return None
        rows = np.empty(self.n, dtype=np.int64)
        rows[self.order] = self.pos
        return rows


class Keyed:
    """Transactions grouped by a key (customer, merchant, pair, ...), in (key, pos) order.

    Parameters
    ----------
    codes:
        Key codes in ``pos`` order; ``-1`` marks a missing key (callers give those NaN).
    timeline:
        The global order the positions refer to.
    """

    def __init__(self, codes: np.ndarray, timeline: Timeline) -> None:
        n = len(codes)
        self.tl, self.M = timeline, timeline.M
        self.codes = codes
        self.missing = codes < 0
        self.perm = group_order(codes)
        self.code_s = codes[self.perm]
        self._base = self.code_s * self.M
        # sorted combined keys code * M + pos, also the query keys "same key, at my pos"
        self.K = self._base + self.perm
        self._idx = np.arange(n)
        self._t_s: np.ndarray | None = None  # times in (key, pos) order, when needed
        first = np.ones(n, dtype=bool)
        first[1:] = self.code_s[1:] != self.code_s[:-1]
        self.first_s = first
        self._cumsums: dict[str, np.ndarray] = {}
        self._starts: dict[int | None, np.ndarray] = {}

    def to_pos(self, values_s: np.ndarray) -> np.ndarray:
        """Reorder a (key, pos)-order array to ``pos`` order."""
        out = np.empty_like(values_s)
        out[self.perm] = values_s
        return out

    def _start(self, seconds: int | None) -> np.ndarray:
        """Per row in (key, pos) order, the index of the first row of its key inside its
        window (``seconds=None``: all history, the first row of the key)."""
        if seconds not in self._starts:
            if seconds is None:
                start = np.maximum.accumulate(np.where(self.first_s, self._idx, 0))
            else:
                start = self._window_start(seconds)
            self._starts[seconds] = start
        return self._starts[seconds]

    def _window_start(self, seconds: int) -> np.ndarray:
        # A row's window holds the rows of its key just before it, back to the first one
        # with time > t - w. Where windows hold few rows (short windows, sparse keys), step
        # back row by row over the rows still inside: a few cheap passes over shrinking sets.
        # Where many rows have long windows, binary search the combined keys for the first
        # row of the key at or after lo (the first position inside the window) instead.
        if self._t_s is None:
            self._t_s = self.tl.t[self.perm]
        t_s, first = self._t_s, self._start(None)
        edge = t_s - seconds * NS  # inside the window: time > edge

        def inside(rows: np.ndarray, k: int) -> np.ndarray:  # row - k is in row's window
            back = rows - k
            return (back >= first[rows]) & (t_s[np.maximum(back, 0)] > edge[rows])

        if inside(self._idx[::_SAMPLE_EVERY], _STEPS).mean() > _LONG_SHARE:
            query = self._base + self.tl.lo(seconds)[self.perm]
            # row i's answer lies in [first row of its key, i]: search block by block in
            # the short stretch of K that a block's answers can reach (cache-resident)
            start = np.empty(len(query), dtype=np.int64)
            for a in range(0, len(query), _SEARCH_BLOCK):
                b, low = min(a + _SEARCH_BLOCK, len(query)), first[a]
                start[a:b] = low + np.searchsorted(self.K[low:b], query[a:b], side="left")
            return start
        start, rows = self._idx.copy(), self._idx
        for k in range(1, _STEPS + 1):
            rows = rows[inside(rows, k)]
            start[rows] = rows - k
            if len(rows) == 0:
                return start
        lo = np.searchsorted(self.tl.t, edge[rows], side="right")  # longer than _STEPS
        start[rows] = np.searchsorted(self.K, self._base[rows] + lo, side="left")
        return start

    def key_start(self) -> np.ndarray:
        """Per row in (key, pos) order, the index of the first row of its key."""
        return self._start(None)

    def forget_windows(self) -> None:
        """Drop the cached window starts."""
        self._starts.clear()

    def count(self, seconds: int | None) -> np.ndarray:
        """Earlier rows of the same key in the trailing window, in ``pos`` order."""
        return self.to_pos(self._idx - self._start(seconds))

    def count_at(self, codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Rows of key ``codes`` (any key, per query) with ``pos`` in ``[lo, hi)``."""
        base = codes * self.M
        return np.searchsorted(self.K, base + hi, side="left") - np.searchsorted(
            self.K, base + lo, side="left"
        )

    def window_sum(self, name: str, values: np.ndarray, seconds: int | None) -> np.ndarray:
        """Sum of ``values`` (``pos`` order, cached under ``name``) over the earlier rows of
        the same key in the trailing window, in ``pos`` order.

        Prefix sums restart at each key, so a row's sum depends only on its own key's
        earlier rows (appending other rows cannot change it in the last bit).
        """
        if name not in self._cumsums:
            v = values[self.perm]
            incl = pd.Series(v).groupby(self.code_s, sort=False).cumsum().to_numpy()
            excl = np.zeros_like(incl)
            excl[1:] = incl[:-1]
            excl[self.first_s] = 0.0
            self._cumsums[name] = excl
        excl = self._cumsums[name]
        return self.to_pos(excl - excl[self._start(seconds)])

    def recent_median(self, values: np.ndarray, seconds: int, most: int) -> np.ndarray:
        """Median of ``values`` (``pos`` order) over the latest ``most`` earlier rows of the
        same key in the trailing window (mean of the two middle values for an even count,
        NaN with none), in ``pos`` order.

        A row's window rows sit just before it in (key, pos) order: each row takes the
        ``most`` values before it (a strided view, no gather), replaces those outside its
        window with +inf, sorts them, and reads the middle of the first ``count``. Blocks of
        rows bound the memory.
        """
        v = np.concatenate([np.full(most, np.inf), values[self.perm]])
        before = np.lib.stride_tricks.sliding_window_view(v, most)  # row i: v[i - most:i]
        count = np.minimum(self._idx - self._start(seconds), most)
        out = np.full(len(count), np.nan)
        columns = np.arange(most)
        block = max(1, _MEDIAN_CELLS // most)
        for a in range(0, len(count), block):
            b = min(a + block, len(count))
            c = count[a:b]
            window = np.where(columns < (most - c)[:, None], np.inf, before[a:b])
            window.sort(axis=1)
            r = np.flatnonzero(c > 0)
            c = c[r]
            out[a + r] = (window[r, (c - 1) // 2] + window[r, c // 2]) / 2
        return self.to_pos(out)

    def window_max(self, values: np.ndarray, seconds: int) -> np.ndarray:
        """Largest of ``values`` (``pos`` order, no NaN) over the earlier rows of the same key
        in the trailing window, NaN with none, in ``pos`` order.

        A sparse table: level ``k`` holds the maximum of each run of ``2**k`` rows in (key,
        pos) order; a window of ``c`` rows is the union of two runs of ``2**floor(log2 c)``
        rows, one from each end. Only one level is kept at a time.
        """
        level = values[self.perm].astype(np.float64)
        start = self._start(seconds)
        count = self._idx - start
        out = np.full(len(count), np.nan)
        if not len(count) or count.max() == 0:
            return self.to_pos(out)
        k_of = np.zeros(len(count), dtype=np.int64)
        has = count > 0
        k_of[has] = np.floor(np.log2(count[has])).astype(np.int64)
        # floor(log2) in floats can land one off for huge counts: fix against powers of two
        k_of[has] -= (1 << k_of[has]) > count[has]
        k_of[has] += (1 << (k_of[has] + 1)) <= count[has]
        for k in range(int(k_of.max()) + 1):
            if k:
                half = 1 << (k - 1)
                level = np.maximum(level[:-half], level[half:])
            rows = np.flatnonzero(has & (k_of == k))
            out[rows] = np.maximum(level[start[rows]], level[rows - (1 << k)])
        return self.to_pos(out)

    def prev_pos(self) -> np.ndarray:
        """``pos`` of the previous row with the same key, ``-1`` if none."""
        prev = np.full(len(self.K), -1, dtype=np.int64)
        prev[1:] = self.perm[:-1]
        prev[self.first_s] = -1
        return self.to_pos(prev)

    def next_pos(self, none: int) -> np.ndarray:
        """``pos`` of the next row with the same key, ``none`` if there is none."""
        nxt = np.full(len(self.K), none, dtype=np.int64)
        nxt[:-1] = self.perm[1:]
        last = np.ones(len(self.K), dtype=bool)
        last[:-1] = self.first_s[1:]
        nxt[last] = none
        return self.to_pos(nxt)


def interval_count(
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    query_keys: np.ndarray,
    M: int,
) -> np.ndarray:
    """Per query, the events of its key whose interval ``[start, end)`` holds its ``pos``.

    ``query_keys`` are ``code * M + pos``, sorted (e.g. :attr:`Keyed.K`); ends may be
    ``n + 1`` for "never ends".
    """
    keep = ev_start < ev_end
    starts = np.sort(ev_codes[keep] * M + ev_start[keep])
    ends = np.sort(ev_codes[keep] * M + ev_end[keep])
    # the query keys are sorted (code * M + pos, in key order)
    return search_sorted(starts, query_keys, side="right") - search_sorted(ends, query_keys, side="right")


def interval_sum(
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    ev_value: np.ndarray,
    query_keys: np.ndarray,
    M: int,
) -> np.ndarray:
    """Per query, the sum of ``value`` over the events of its key whose interval
    ``[start, end)`` holds its ``pos`` (0.0 with none); see :func:`interval_count`.

    Prefix sums restart at each key, so a query's sum depends only on its own key's events
    (events of other keys cannot change it in the last bit). They run in extended precision
    (``np.longdouble``, 64-bit mantissa on x86-64): a sum is started-minus-ended over the
    key's whole history, so one huge value long gone would otherwise leave a float64
    rounding error of about 1e-16 times itself in every later sum of its key.
    """
    keep = ev_start < ev_end
    codes, values = ev_codes[keep], ev_value[keep].astype(np.longdouble)

    def prefix(at: np.ndarray) -> np.ndarray:
        keys = codes * M + at[keep]
        o = np.argsort(keys, kind="stable")
        keys, c, v = keys[o], codes[o], values[o]
        sums = np.empty(len(v), dtype=np.longdouble)
        edges = np.concatenate([[0], np.flatnonzero(c[1:] != c[:-1]) + 1, [len(c)]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):  # one pass per key with events
            np.cumsum(v[a:b], out=sums[a:b])
        i = search_sorted(keys, query_keys, side="right") - 1
        same = (i >= 0) & (c[np.maximum(i, 0)] == query_keys // M)
        return np.where(same, sums[np.maximum(i, 0)], np.longdouble(0))

    if len(codes) == 0:
        return np.zeros(len(query_keys))
    return (prefix(ev_start) - prefix(ev_end)).astype(np.float64)


def last_started(
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_value: np.ndarray,
    query_keys: np.ndarray,
    M: int,
) -> np.ndarray:
    """Per query, the largest ``value`` (a ``pos``) among events of its key with
    ``start <= pos``; ``-1`` if there is none."""
    if len(ev_codes) == 0:
        return np.full(len(query_keys), -1, dtype=np.int64)
    keys = ev_codes * M + ev_start
    o = np.argsort(keys, kind="stable")
    keys = keys[o]
    # running max per key without a loop: code * M + value only grows from key to key
    best = np.maximum.accumulate(ev_codes[o] * M + ev_value[o])
    i = search_sorted(keys, query_keys, side="right") - 1
    q_codes = query_keys // M
    ok = i >= 0
    i = np.maximum(i, 0)
    ok &= ev_codes[o][i] == q_codes
    return np.where(ok, best[i] - q_codes * M, -1)
