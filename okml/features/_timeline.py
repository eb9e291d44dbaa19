"""Point-in-time window arithmetic, vectorized: sorting and binary search, no Python loops.

Every transaction gets a position ``pos`` in the global order (timestamp, transaction_id).
"Earlier" means a smaller ``pos``. A trailing window of length ``w`` at a transaction with
time ``t`` holds the earlier transactions with timestamp in ``(t - w, t]``; because times
never decrease along ``pos``, that is the position range ``[lo, pos)`` where
``lo = first pos with time > t - w`` (:meth:`Timeline.lo`). Per-key windows search the
combined key ``code * M + pos`` (``M > n + 1``), sorted once per key (:class:`Keyed`).

Label-aware counts are interval events: an event contributes to the queries of its key
whose ``pos`` lies in ``[start, end)``, counted as ``#(start <= pos) - #(end <= pos)``
with two searches (:func:`interval_count`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS = 1_000_000_000


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
            self._lo[seconds] = np.searchsorted(self.t, self.t - seconds * NS, side="right")
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
        key = codes * self.M + np.arange(n, dtype=np.int64)
        self.perm = np.argsort(key)  # keys are unique, so any sort is stable enough
        self.K = key[self.perm]  # also the sorted query keys "same key, at my pos"
        self.code_s = codes[self.perm]
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
                idx = np.arange(len(self.K))
                start = np.maximum.accumulate(np.where(self.first_s, idx, 0))
            else:
                query = self.code_s * self.M + self.tl.lo(seconds)[self.perm]
                start = np.searchsorted(self.K, query, side="left")
            self._starts[seconds] = start
        return self._starts[seconds]

    def forget_windows(self) -> None:
        """Drop the cached window starts."""
        self._starts.clear()

    def count(self, seconds: int | None) -> np.ndarray:
        """Earlier rows of the same key in the trailing window, in ``pos`` order."""
        return self.to_pos(np.arange(len(self.K)) - self._start(seconds))

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

    ``query_keys`` are ``code * M + pos`` (e.g. :attr:`Keyed.K`, already sorted, which
    makes the searches fast); ends may be ``n + 1`` for "never ends".
    """
    keep = ev_start < ev_end
    starts = np.sort(ev_codes[keep] * M + ev_start[keep])
    ends = np.sort(ev_codes[keep] * M + ev_end[keep])
    return np.searchsorted(starts, query_keys, side="right") - np.searchsorted(ends, query_keys, side="right")


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
    i = np.searchsorted(keys, query_keys, side="right") - 1
    q_codes = query_keys // M
    ok = i >= 0
    i = np.maximum(i, 0)
    ok &= ev_codes[o][i] == q_codes
    return np.where(ok, best[i] - q_codes * M, -1)
