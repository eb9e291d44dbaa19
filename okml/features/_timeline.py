"""Point-in-time window arithmetic in linear time: compiled single passes over the rows
(:mod:`okml.features._kernels`), no binary search over them.

Every transaction gets a position ``pos`` in the global order (timestamp, transaction_id).
"Earlier" means a smaller ``pos``. A trailing window of length ``w`` at a transaction with
time ``t`` holds the earlier transactions with timestamp in ``(t - w, t]``; because times
never decrease along ``pos``, that is the position range ``[lo, pos)`` where
``lo = first pos with time > t - w`` (:meth:`Timeline.lo`). Per-key windows work in *key
order*, the rows grouped by key and each key's rows in pos order (a counting sort,
:class:`Keyed`): there a row's window is the run of rows just before it, and its start
only moves forward from one row of the key to the next, so a pointer per window and key
finds every start in one pass.

Label-aware counts are interval events: an event contributes to the queries of its key
whose ``pos`` lies in ``[start, end)``; a sweep over the rows in pos order adds events as
they start and removes them as they end (:func:`interval_count`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import numpy as np
import pandas as pd

NS = 1_000_000_000


def kernels() -> ModuleType:
    """The compiled kernels, imported on first use (importing numba takes about 0.2 s, which
    ``import okml.features`` alone should not pay)."""
    from okml.features import _kernels

    return _kernels


def _int64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def time_ns(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since the epoch (UTC) as int64, and a mask of missing values."""
    values = s.to_numpy(dtype="datetime64[ns]")
    return values.view(np.int64), np.isnat(values)


def codes_of(s: pd.Series) -> np.ndarray:
    """Dense int64 codes of a key column, ``-1`` where the key is missing."""
    return pd.factorize(s, use_na_sentinel=True)[0].astype(np.int64, copy=False)


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
        self.t = _int64(t)
        self.n = len(t)
        self.pos = np.arange(self.n, dtype=np.int64)
        # input already in order: pos-order arrays need no reordering
        self.in_order = bool(np.array_equal(order, self.pos))
        self._lo: dict[int, np.ndarray] = {}

    def lo(self, seconds: int) -> np.ndarray:
        """Per transaction, the first ``pos`` with time > t - ``seconds``."""
        if seconds not in self._lo:
            self._lo[seconds] = kernels().window_lo(self.t, seconds * NS)
        return self._lo[seconds]

    def first_after(self, times: np.ndarray) -> np.ndarray:
        """First ``pos`` whose time is strictly after each of ``times`` (ns)."""
        return np.searchsorted(self.t, times, side="right").astype(np.int64)

    def first_at_or_after(self, times: np.ndarray) -> np.ndarray:
        """First ``pos`` whose time is at or after each of ``times`` (ns)."""
        return np.searchsorted(self.t, times, side="left").astype(np.int64)

    def in_pos_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder an input-order array to ``pos`` order (the array itself when the input
        was in order: callers never write to it)."""
        return values if self.in_order else values[self.order]

    def input_rows(self) -> np.ndarray | None:
        """``pos`` of each input row (``values[rows]`` is in input order); ``None`` when the
        input was already in order, so callers can skip the gather."""
        if self.in_order:
            return None
        rows = np.empty(self.n, dtype=np.int64)
        rows[self.order] = self.pos
        return rows


class Keyed:
    """Transactions grouped by a key (customer, merchant, device, ...), in key order.

    Parameters
    ----------
    codes:
        Key codes in ``pos`` order; ``-1`` marks a missing key (its rows form a group of
        their own; callers give them NaN where that matters).
    timeline:
        The global order the positions refer to.
    """

    def __init__(self, codes: np.ndarray, timeline: Timeline) -> None:
        self.tl = timeline
        self.codes = _int64(codes)
        self.missing = self.codes < 0
        self.n_keys = int(self.codes.max(initial=-1)) + 1
        # key order: off[g]:off[g + 1] holds key code g - 1; rank[pos] is a row's slot there,
        # perm[slot] its pos, t_s the times in key order
        self.off, self.rank, self.perm, self.t_s = kernels().group_rows(self.codes, self.n_keys, timeline.t)
        self._counts: dict[int | None, np.ndarray] = {}
        self._sums: dict[tuple[str, int | None], np.ndarray] = {}

    def in_key_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder a ``pos``-order array to key order."""
        return np.ascontiguousarray(values[self.perm])

    def to_pos(self, values_s: np.ndarray) -> np.ndarray:
        """Reorder a key-order array to ``pos`` order."""
        out = np.empty_like(values_s)
        out[self.perm] = values_s
        return out

    def windows(
        self, seconds: Sequence[int | None], values: dict[str, np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]]]:
        """Per window (``None``: all earlier rows of the key), the earlier rows of the same
        key in it and the sum of each of ``values`` (``pos`` order, by name) over them.

        Returns the counts and, per name, the sums, one float64 array per window in
        ``pos`` order. The windows not yet known (for these names) are computed in one
        pass and kept: families share them. Prefix sums restart at each key, so a row's
        sum depends only on its own key's earlier rows (appending other rows cannot change
        it in the last bit).
        """
        values = values or {}
        todo = [
            s
            for s in dict.fromkeys(seconds)
            if s not in self._counts or any((name, s) not in self._sums for name in values)
        ]
        if todo:
            n = self.tl.n
            widths = np.array([self._width(s) for s in todo], dtype=np.int64)
            need = np.array([[(name, s) not in self._sums for name in values] for s in todo], dtype=bool)
            need = need.reshape(len(todo), len(values))
            stacked = np.empty((len(values), n))
            for k, v in enumerate(values.values()):
                stacked[k] = v
            counts = np.empty((len(todo), n))
            sums = np.empty((len(todo), len(values), n))  # pages of unneeded sums stay untouched
            kernels().window_stats(self.codes, self.off, self.tl.t, widths, stacked, need, counts, sums)
            for w, s in enumerate(todo):
                self._counts[s] = counts[w]
                for j, name in enumerate(values):
                    if need[w, j]:
                        self._sums[name, s] = sums[w, j]
        return [self._counts[s] for s in seconds], {
            name: [self._sums[name, s] for s in seconds] for name in values
        }

    def count(self, seconds: int | None) -> np.ndarray:
        """Earlier rows of the same key in the trailing window, in ``pos`` order."""
        return self.windows([seconds])[0][0]

    def _width(self, seconds: int | None) -> int:
        return -1 if seconds is None else seconds * NS

    def recent_median(self, values: np.ndarray, seconds: int, most: int) -> np.ndarray:
        """Median of ``values`` (``pos`` order, no NaN) over the latest ``most`` earlier rows
        of the same key in the trailing window (mean of the two middle values for an even
        count, NaN with none), in ``pos`` order."""
        v_s = self.in_key_order(values.astype(np.float64))
        return self.to_pos(kernels().recent_median(self.off, self.t_s, v_s, self._width(seconds), most))

    def window_max(self, values: np.ndarray, seconds: int) -> np.ndarray:
        """Largest of ``values`` (``pos`` order, no NaN) over the earlier rows of the same key
        in the trailing window, NaN with none, in ``pos`` order."""
        v_s = self.in_key_order(values.astype(np.float64))
        return self.to_pos(kernels().window_max(self.off, self.t_s, v_s, self._width(seconds)))

    def near_hours(self, hours: np.ndarray, seconds: int | None) -> np.ndarray:
        """Earlier rows of the same key in the window whose hour of day (``hours``, 0-23,
        ``pos`` order) is within one hour of the row's own (23 and 0 are neighbours)."""
        h_s = self.in_key_order(_int64(hours))
        return self.to_pos(kernels().near_hour_count(self.off, self.t_s, h_s, self._width(seconds)))

    def count_same(self, other: np.ndarray, seconds: int | None) -> np.ndarray:
        """Earlier rows of the same key in the window that also share the ``other`` key
        (codes, ``pos`` order; a missing one counts as a value of its own)."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        return self.to_pos(kernels().pair_count(self.off, self.t_s, o_s, n_other, self._width(seconds)))

    def distinct_others(self, other: np.ndarray, seconds: int | None) -> np.ndarray:
        """Distinct values of the ``other`` key (codes, ``pos`` order) among the earlier rows
        of the same key in the window, leaving out the row's own value."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        k = kernels()
        return self.to_pos(k.distinct_others(self.off, self.t_s, o_s, n_other, self._width(seconds)))

    def first_seen(self, other: np.ndarray) -> np.ndarray:
        """1 where no earlier row of the same key had this ``other`` key (codes, ``pos``
        order), else 0; NaN where either key is missing."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        return self.to_pos(kernels().first_seen(self.off, o_s, n_other))

    def secs_since_prev(self) -> np.ndarray:
        """Seconds since the previous row with the same key (NaN for the first)."""
        out = np.empty(self.tl.n)
        kernels().secs_since_prev(self.codes, self.n_keys, self.tl.t, NS, out)
        return out


def _by(values: np.ndarray) -> np.ndarray:
    """Events in order of ``values`` (ties in event order)."""
    return np.argsort(values, kind="stable").astype(np.int64)


def interval_count(
    codes: np.ndarray, ev_codes: np.ndarray, ev_start: np.ndarray, ev_ends: list[np.ndarray]
) -> list[np.ndarray]:
    """Per row (``codes``: its key, ``pos`` order) and per list of ends, the events of its
    key whose interval ``[start, end)`` holds its ``pos`` (float64); ends may be ``n + 1``
    for "never ends"."""
    codes, ev_codes, ev_start = _int64(codes), _int64(ev_codes), _int64(ev_start)
    n_keys = int(max(codes.max(initial=-1), ev_codes.max(initial=-1))) + 1
    ends = np.empty((len(ev_ends), len(ev_start)), dtype=np.int64)
    by_end = np.empty_like(ends)
    for w, end in enumerate(ev_ends):
        ends[w] = end
        by_end[w] = _by(ends[w])
    out = np.empty((len(ev_ends), len(codes)))
    kernels().interval_counts(codes, n_keys, ev_codes, ev_start, _by(ev_start), ends, by_end, out)
    return list(out)


def interval_sum(
    codes: np.ndarray,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    ev_value: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the sum of ``value`` over the events of its key whose interval
    ``[start, end)`` holds its ``pos`` (0.0 with none), and how many there are; see
    :func:`interval_count`.

    Prefix sums restart at each key, so a row's sum depends only on its own key's events
    (events of other keys cannot change it in the last bit). They run in extended precision
    (``np.longdouble``, 64-bit mantissa on x86-64): a sum is started-minus-ended over the
    key's whole history, so one huge value long gone would otherwise leave a float64
    rounding error of about 1e-16 times itself in every later sum of its key. Rows only
    index the few distinct (started, ended) states, so the extended arithmetic runs per
    state, not per row.
    """
    codes = _int64(codes)
    keep = ev_start < ev_end
    c, start, end = _int64(ev_codes[keep]), _int64(ev_start[keep]), _int64(ev_end[keep])
    values = ev_value[keep].astype(np.longdouble)
    n = len(codes)
    if len(c) == 0:
        return np.zeros(n), np.zeros(n)
    n_keys = int(max(codes.max(initial=-1), c.max())) + 1
    state = np.empty(n, dtype=np.int64)
    st_group, st_started, st_ended = (np.empty(2 * len(c) + 1, dtype=np.int64) for _ in range(3))
    k = kernels()
    n_states = k.interval_states(
        codes, n_keys, c, start, _by(start), end, _by(end), state, st_group, st_started, st_ended
    )
    group, started, ended = st_group[:n_states], st_started[:n_states], st_ended[:n_states]

    def prefix(at: np.ndarray, counted: np.ndarray) -> np.ndarray:
        # per state, the sum over its key's first `counted` events by `at` (ties in event order)
        o = np.lexsort((at, c))
        c_o, v = c[o], values[o]
        sums = np.empty(len(v), dtype=np.longdouble)
        edges = np.concatenate([[0], np.flatnonzero(c_o[1:] != c_o[:-1]) + 1, [len(c_o)]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):  # one pass per key with events
            np.cumsum(v[a:b], out=sums[a:b])
        first = np.searchsorted(c_o, np.arange(-1, n_keys), side="left")  # per key group
        i = first[group] + counted - 1
        return np.where(counted > 0, sums[np.maximum(i, 0)], np.longdouble(0))

    total = (prefix(start, started) - prefix(end, ended)).astype(np.float64)
    return total[state], (started - ended).astype(np.float64)[state]


def started_extremes(
    codes: np.ndarray, ev_codes: np.ndarray, ev_start: np.ndarray, ev_value: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, over the events of its key with ``start <= pos``: how many (float64), and
    the largest and the smallest ``value`` (a ``pos``; ``-1`` if there is none)."""
    codes, ev_codes, ev_start = _int64(codes), _int64(ev_codes), _int64(ev_start)
    n = len(codes)
    n_keys = int(max(codes.max(initial=-1), ev_codes.max(initial=-1))) + 1
    count = np.empty(n)
    largest, smallest = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    kernels().started_extremes(
        codes, n_keys, ev_codes, ev_start, _by(ev_start), _int64(ev_value), count, largest, smallest
    )
    return count, largest, smallest
