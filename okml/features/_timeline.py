"""Point-in-time window arithmetic in linear time: compiled single passes over the rows
(:mod:`okml.features._kernels`), no binary search over them.

Every transaction gets a position ``pos`` in the global order (timestamp, transaction_id).
"Earlier" means a smaller ``pos``. A trailing window of length ``w`` at a transaction with
time ``t`` holds the earlier transactions with timestamp in ``(t - w, t]``. Per-key windows
work in *key order*, the rows grouped by key and each key's rows in pos order (a counting
sort, :class:`Keyed`): there a row's window is the run of rows just before it, and its
start only moves forward from one row of the key to the next, so one pointer per key finds
every start in one pass (:meth:`Keyed.starts`). Counts and sums (differences of prefix
sums) then need only those starts; medians, maxima, hour shares and the like come from a
structure kept per key while its rows go by.

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
        self._starts: dict[int | None, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}
        self._cums: dict[tuple[str, int], np.ndarray] = {}
        self._counts: dict[int | None, np.ndarray] = {}
        self._sums: dict[tuple[str, int | None], np.ndarray] = {}

    def in_key_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder a ``pos``-order array to key order."""
        return np.ascontiguousarray(values[self.perm])

    def to_pos(self, values_s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Reorder a key-order array to ``pos`` order (into ``out`` when given)."""
        if out is None:
            out = np.empty_like(values_s)
        out[self.perm] = values_s
        return out

    def starts(self, seconds: int | None) -> np.ndarray:
        """Key order: per row, the first row of its key in its trailing window (``None``:
        the key's first row), itself when the window holds no earlier row; kept."""
        if seconds not in self._starts:
            width = -1 if seconds is None else seconds * NS
            self._starts[seconds] = kernels().window_starts(self.off, self.t_s, width)
        return self._starts[seconds]

    def key_values(self, values: np.ndarray, name: str | None = None) -> np.ndarray:
        """``values`` (``pos`` order) as float64 in key order, kept under ``name`` if given."""
        if name is None:
            return self.in_key_order(values.astype(np.float64, copy=False))
        if name not in self._values:
            self._values[name] = self.in_key_order(values.astype(np.float64, copy=False))
        return self._values[name]

    def _cum(self, name: str, values: np.ndarray, power: int = 1) -> np.ndarray:
        """Key-order prefix sums of ``values ** power`` (``pos`` order), kept under ``name``."""
        if (name, power) not in self._cums:
            v_s = self.key_values(values, name)
            self._cums[name, power] = kernels().prefix_sums(self.off, v_s if power == 1 else v_s**power)
        return self._cums[name, power]

    def count(self, seconds: int | None, out: np.ndarray | None = None) -> np.ndarray:
        """Earlier rows of the same key in the trailing window (``None``: all of them), in
        ``pos`` order; computed into ``out`` unless already known (then the known array)."""
        if seconds not in self._counts:
            count = np.empty(self.tl.n) if out is None else out
            none = np.empty(0)
            kernels().window_count_sum(self.rank, self.starts(seconds), none, count, none)
            self._counts[seconds] = count
        return self._counts[seconds]

    def count_sum(
        self,
        seconds: int | None,
        name: str,
        values: np.ndarray,
        count: np.ndarray | None = None,
        total: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`count` and the sum of ``values`` (``pos`` order, kept under ``name``) over
        the same rows, computed into ``count`` and ``total`` unless already known.

        Prefix sums restart at each key, so a row's sum depends only on its own key's
        earlier rows (appending other rows cannot change it in the last bit).
        """
        if (name, seconds) not in self._sums:
            if seconds in self._counts:  # the same numbers again, into the known array
                count = self._counts[seconds]
            count = np.empty(self.tl.n) if count is None else count
            total = np.empty(self.tl.n) if total is None else total
            cum = self._cum(name, values)
            kernels().window_count_sum(self.rank, self.starts(seconds), cum, count, total)
            self._counts[seconds], self._sums[name, seconds] = count, total
        return self._counts[seconds], self._sums[name, seconds]

    def ratio_z(
        self, name: str, values: np.ndarray, seconds: int, floor: float, out: Sequence[np.ndarray | None]
    ) -> list[np.ndarray]:
        """Per row, its value (``pos`` order, kept under ``name``) over the mean of the
        earlier values of its key in the window, and its z-score there (the population
        standard deviation, floored at ``floor`` times the mean); then the same over all
        earlier values of the key. NaN without earlier values (z: with fewer than 2). Four
        arrays, into ``out``."""
        ratio, z, ratio_all, z_all = (np.empty(self.tl.n) if o is None else o for o in out)
        v = np.ascontiguousarray(values, dtype=np.float64)
        cum, cum2 = self._cum(name, v), self._cum(name, v, power=2)
        k = kernels()
        k.ratio_z(
            self.codes, self.off, self.rank, self.starts(seconds), v, cum, cum2, floor,
            ratio, z, ratio_all, z_all,
        )  # fmt: skip
        return [ratio, z, ratio_all, z_all]

    def recent_median(
        self,
        values: np.ndarray,
        seconds: int,
        most: int,
        out: np.ndarray | None = None,
        name: str | None = None,
    ) -> np.ndarray:
        """Median of ``values`` (``pos`` order, no NaN; kept under ``name`` if given) over
        the latest ``most`` earlier rows of the same key in the trailing window (mean of the
        two middle values for an even count, NaN with none), in ``pos`` order."""
        v_s = self.key_values(values, name)
        median = kernels().recent_median(self.off, self.starts(seconds), v_s, most)
        return self.to_pos(median, out)

    def window_max(
        self, values: np.ndarray, seconds: int, out: np.ndarray | None = None, name: str | None = None
    ) -> np.ndarray:
        """Largest of ``values`` (``pos`` order, no NaN; kept under ``name`` if given) over
        the earlier rows of the same key in the trailing window, NaN with none, in ``pos``
        order."""
        v_s = self.key_values(values, name)
        return self.to_pos(kernels().window_max(self.off, self.starts(seconds), v_s), out)

    def near_hour_share(
        self, hours: np.ndarray, seconds: int | None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Share of the earlier rows of the same key in the window whose hour of day
        (``hours``, 0-23, ``pos`` order) is within one hour of the row's own (23 and 0 are
        neighbours); NaN with none."""
        h_s = self.in_key_order(_int64(hours))
        return self.to_pos(kernels().near_hour_share(self.off, self.starts(seconds), h_s), out)

    def count_same(self, other: np.ndarray, seconds: int | None, out: np.ndarray | None = None) -> np.ndarray:
        """Earlier rows of the same key in the window that also share the ``other`` key
        (codes, ``pos`` order; a missing one counts as a value of its own)."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        return self.to_pos(kernels().pair_count(self.off, self.starts(seconds), o_s, n_other), out)

    def distinct_others(
        self, other: np.ndarray, seconds: int | None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Distinct values of the ``other`` key (codes, ``pos`` order) among the earlier rows
        of the same key in the window, leaving out the row's own value."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        k = kernels()
        return self.to_pos(k.distinct_others(self.off, self.starts(seconds), o_s, n_other), out)

    def first_seen(self, other: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """1 where no earlier row of the same key had this ``other`` key (codes, ``pos``
        order), else 0; NaN where either key is missing."""
        o_s = self.in_key_order(_int64(other))
        n_other = int(o_s.max(initial=-1)) + 1
        return self.to_pos(kernels().first_seen(self.off, o_s, n_other), out)

    def secs_since_prev(self, out: np.ndarray | None = None) -> np.ndarray:
        """Seconds since the previous row with the same key (NaN for the first)."""
        out = np.empty(self.tl.n) if out is None else out
        kernels().secs_since_prev(self.codes, self.n_keys, self.tl.t, NS, out)
        return out


def _by(values: np.ndarray) -> np.ndarray:
    """Events in order of ``values`` (ties in event order)."""
    return np.argsort(values, kind="stable").astype(np.int64)


def interval_count(
    codes: np.ndarray,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Per row (``codes``: its key, ``pos`` order), the events of its key whose interval
    ``[start, end)`` holds its ``pos`` (float64, into ``out`` when given); ends may be
    ``n + 1`` for "never ends"."""
    codes, ev_codes = _int64(codes), _int64(ev_codes)
    ev_start, ev_end = _int64(ev_start), _int64(ev_end)
    n_keys = int(max(codes.max(initial=-1), ev_codes.max(initial=-1))) + 1
    out = np.empty(len(codes)) if out is None else out
    kernels().interval_count(codes, n_keys, ev_codes, ev_start, _by(ev_start), ev_end, _by(ev_end), out)
    return out


def interval_share(timeline: Timeline, seconds: int, ev_start: np.ndarray, ev_end: np.ndarray) -> np.ndarray:
    """Per row, the events (any key) whose interval ``[start, end)`` holds its ``pos``, as
    a share of the earlier rows in its trailing window of ``seconds``; 0 with none."""
    ev_start, ev_end = _int64(ev_start), _int64(ev_end)
    out = np.empty(timeline.n)
    k = kernels()
    k.interval_share(timeline.t, seconds * NS, ev_start, _by(ev_start), ev_end, _by(ev_end), out)
    return out


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
    codes: np.ndarray,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    ev_value: np.ndarray,
    count: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, over the events of its key with ``start <= pos``: how many (float64, into
    ``count`` when given), and the largest and the smallest ``value`` (a ``pos``; ``-1`` if
    there is none)."""
    codes, ev_codes, ev_start = _int64(codes), _int64(ev_codes), _int64(ev_start)
    n = len(codes)
    n_keys = int(max(codes.max(initial=-1), ev_codes.max(initial=-1))) + 1
    count = np.empty(n) if count is None else count
    largest, smallest = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    kernels().started_extremes(
        codes, n_keys, ev_codes, ev_start, _by(ev_start), _int64(ev_value), count, largest, smallest
    )
    return count, largest, smallest
