"""Compiled loops (numba) behind :mod:`okml.features._timeline`: each kernel is one pass over
the rows, linear in their number, with no binary search.

Two orders of rows appear. *pos order* is the global order (timestamp, transaction_id).
*Key order* groups the rows by key, each key's rows in pos order: row ``i`` (pos) sits at
``rank[i]``, and key group ``g`` holds ``off[g]:off[g + 1]`` (:func:`group_rows`, a
counting sort). Group ``g`` is key code ``g - 1``: code ``-1`` (a missing key) is group 0.

A row's trailing window of width ``w`` (ns) holds the earlier rows of its key with time
``> t - w``: in key order the rows just before it, from ``start[r]`` (:func:`window_starts`,
two pointers over each key's rows; a negative width means all earlier rows of the key).

* Key-order kernels walk one key at a time, sequentially, with what they need per key: a
  sorted buffer (median), a monotone deque (maximum), an hour histogram, a table of who is
  in the window. Their outputs go back to pos order with one scatter per column.
* Pos-order kernels walk the rows in order and look up each row's slot ``rank[i]`` in
  key-ordered arrays (window starts, prefix sums), whose accesses stay near each key's
  latest rows; they write their outputs sequentially, straight into the feature table.
* Sweeps walk the rows in order adding events (known frauds) as they start and removing
  them as they end, with a counter per key.

Compiled with ``cache=True`` (the machine code is stored next to this file, or under
``NUMBA_CACHE_DIR``, so a new process loads it in milliseconds) and ``nogil=True``;
single-threaded. Floating-point arithmetic is plain IEEE (no ``fastmath``), so sums,
divisions and medians are the same numbers numpy gives for the same operations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# error_model="numpy": no ZeroDivisionError checks in loops (divisions here are guarded)
_jit = njit(cache=True, nogil=True, error_model="numpy")


# --------------------------------------------------------------------------- grouping
@_jit
def group_rows(codes: np.ndarray, n_keys: int, t: np.ndarray) -> tuple:
    """Key order of rows with ``codes`` in ``[-1, n_keys)``, by a stable counting sort:
    ``off`` (``n_keys + 2``; group ``g`` is ``off[g]:off[g + 1]``), ``rank`` (each row's
    slot in key order), ``perm`` (the pos in each slot) and ``t_s`` (the times in key
    order)."""
    n = codes.shape[0]
    off = np.zeros(n_keys + 2, dtype=np.int64)
    for i in range(n):
        off[codes[i] + 2] += 1
    for g in range(1, n_keys + 2):
        off[g] += off[g - 1]
    fill = off[:-1].copy()
    rank = np.empty(n, dtype=np.int64)
    perm = np.empty(n, dtype=np.int64)
    t_s = np.empty(n, dtype=np.int64)
    for i in range(n):
        g = codes[i] + 1
        r = fill[g]
        fill[g] = r + 1
        rank[i] = r
        perm[r] = i
        t_s[r] = t[i]
    return off, rank, perm, t_s


@_jit
def window_starts(off: np.ndarray, t_s: np.ndarray, width: int) -> np.ndarray:
    """Key order: per row, the first row of its key inside its window (time > t - width),
    itself if none is; the key's first row for a negative width."""
    start = np.empty(t_s.shape[0], dtype=np.int64)
    for g in range(off.shape[0] - 1):
        p = off[g]
        for r in range(off[g], off[g + 1]):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
                    p += 1
            start[r] = p
    return start


@_jit
def prefix_sums(off: np.ndarray, v_s: np.ndarray) -> np.ndarray:
    """Key order: per row, the sum of ``v_s`` (key order) over the earlier rows of its key,
    accumulated with Kahan compensation exactly as pandas' ``groupby().cumsum()`` does.
    Sums restart at each key, so other keys' rows cannot change them in the last bit; a
    window's sum is the difference of two of them (:func:`kahan_states` does the work)."""
    return kahan_states(off, v_s)[0]


# ------------------------------------------------------------------ pos-order kernels
@_jit
def window_count_sum(
    rank: np.ndarray, start: np.ndarray, cum: np.ndarray, count: np.ndarray, total: np.ndarray
) -> None:
    """Per row (pos order): ``count``, the earlier rows of its key in the window (``start``:
    the key-order window starts), and when ``cum`` (key-order prefix sums) is not empty,
    ``total``, the sum of the values over them."""
    with_sum = cum.shape[0] > 0
    for i in range(rank.shape[0]):
        r = rank[i]
        p = start[r]
        count[i] = r - p
        if with_sum:
            total[i] = cum[r] - cum[p]


@_jit
def _ratio_z(amount: float, n: int, s1: float, s2: float, floor: float) -> tuple[float, float]:
    """Ratio of ``amount`` to the mean ``s1 / n`` (NaN for ``n == 0``) and z-score against
    the population standard deviation from ``s2 / n`` (>= 0 despite rounding), floored at
    ``floor`` times the mean (NaN for ``n < 2``); numpy's numbers for the same formulas."""
    if n == 0:
        return np.nan, np.nan
    mean = s1 / n
    var = s2 / n - mean * mean
    if var < 0:  # NaN stays NaN, as with np.maximum
        var = 0.0
    spread = np.sqrt(var)
    low = floor * mean
    if spread < low or np.isnan(low):
        spread = low
    z = (amount - mean) / spread if n >= 2 and spread != 0 else np.nan
    return amount / mean, z


@_jit
def ratio_z(
    codes: np.ndarray,
    off: np.ndarray,
    rank: np.ndarray,
    start: np.ndarray,
    values: np.ndarray,
    cum: np.ndarray,
    cum2: np.ndarray,
    floor: float,
    ratio: np.ndarray,
    z: np.ndarray,
    ratio_all: np.ndarray,
    z_all: np.ndarray,
) -> None:
    """Per row (pos order), :func:`_ratio_z` of its value against the earlier rows of its
    key in the window (``start``: key-order window starts; into ``ratio``, ``z``) and
    against all of them (``ratio_all``, ``z_all``); ``cum`` and ``cum2`` are the key-order
    prefix sums of the values and of their squares."""
    for i in range(rank.shape[0]):
        r = rank[i]
        p = start[r]
        ratio[i], z[i] = _ratio_z(values[i], r - p, cum[r] - cum[p], cum2[r] - cum2[p], floor)
        a = off[codes[i] + 1]
        ratio_all[i], z_all[i] = _ratio_z(values[i], r - a, cum[r] - cum[a], cum2[r] - cum2[a], floor)


@_jit
def interval_share(
    t: np.ndarray,
    width: int,
    ev_start: np.ndarray,
    by_start: np.ndarray,
    ev_end: np.ndarray,
    by_end: np.ndarray,
    out: np.ndarray,
) -> None:
    """Per row ``q``: the events (any key) whose interval ``[ev_start, ev_end)`` holds
    ``q``, over the earlier rows with time > t - width; 0 where there are none. One sweep
    (``by_start``, ``by_end``: the events in order of start, of end) and one pointer."""
    n_ev = ev_start.shape[0]
    active = 0
    s, e, p = 0, 0, 0
    for q in range(t.shape[0]):
        while s < n_ev and ev_start[by_start[s]] <= q:
            active += ev_start[by_start[s]] < ev_end[by_start[s]]
            s += 1
        while e < n_ev and ev_end[by_end[e]] <= q:
            active -= ev_start[by_end[e]] < ev_end[by_end[e]]
            e += 1
        edge = t[q] - width
        while p < q and t[p] <= edge:
            p += 1
        out[q] = active / (q - p) if q > p else 0.0


# ----------------------------------------------------------------- sweeps, elementwise
@_jit
def secs_since_prev(codes: np.ndarray, n_keys: int, t: np.ndarray, ns: int, out: np.ndarray) -> None:
    """Per row, seconds since the previous row of its key (NaN for the first)."""
    last = np.zeros(n_keys + 1, dtype=np.int64)
    seen = np.zeros(n_keys + 1, dtype=np.bool_)
    for i in range(t.shape[0]):
        g = codes[i] + 1
        out[i] = (t[i] - last[g]) / ns if seen[g] else np.nan
        last[g] = t[i]
        seen[g] = True


@_jit
def interval_count(
    codes: np.ndarray,
    n_keys: int,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    by_start: np.ndarray,
    ev_end: np.ndarray,
    by_end: np.ndarray,
    out: np.ndarray,
) -> None:
    """Per row ``q`` (pos order), the events of its key whose interval ``[ev_start,
    ev_end)`` holds ``q``, in one sweep over the rows that adds events as they start and
    removes them as they end (``by_start``, ``by_end``: the events in order of start, of
    end)."""
    n_ev = ev_start.shape[0]
    active = np.zeros(n_keys + 1, dtype=np.int64)
    s = 0
    e = 0
    for q in range(codes.shape[0]):
        while s < n_ev and ev_start[by_start[s]] <= q:
            k = by_start[s]
            if ev_start[k] < ev_end[k]:
                active[ev_codes[k] + 1] += 1
            s += 1
        while e < n_ev and ev_end[by_end[e]] <= q:
            k = by_end[e]
            if ev_start[k] < ev_end[k]:  # then it has started: ev_start < q
                active[ev_codes[k] + 1] -= 1
            e += 1
        out[q] = active[codes[q] + 1]


@_jit
def interval_states(
    codes: np.ndarray,
    n_keys: int,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    by_start: np.ndarray,
    ev_end: np.ndarray,
    by_end: np.ndarray,
    state: np.ndarray,
    st_group: np.ndarray,
    st_started: np.ndarray,
    st_ended: np.ndarray,
) -> int:
    """Per row ``q``, which events of its key have started (``ev_start <= q``) and ended
    (``ev_end <= q``), as a state: ``state[q]`` indexes ``(st_group, st_started,
    st_ended)``, the key group and how many of its events have started and ended. A key's
    state changes only when one of its events does, so there are at most ``2 * events +
    1`` states (0: nothing started); returns how many. Events need ``ev_start < ev_end``."""
    n_ev = ev_start.shape[0]
    n_started = np.zeros(n_keys + 1, dtype=np.int64)
    n_ended = np.zeros(n_keys + 1, dtype=np.int64)
    current = np.zeros(n_keys + 1, dtype=np.int64)
    dirty = np.zeros(n_keys + 1, dtype=np.bool_)
    st_group[0], st_started[0], st_ended[0] = 0, 0, 0
    n_states = 1
    s = 0
    e = 0
    for q in range(codes.shape[0]):
        while s < n_ev and ev_start[by_start[s]] <= q:
            g = ev_codes[by_start[s]] + 1
            n_started[g] += 1
            dirty[g] = True
            s += 1
        while e < n_ev and ev_end[by_end[e]] <= q:
            g = ev_codes[by_end[e]] + 1
            n_ended[g] += 1
            dirty[g] = True
            e += 1
        g = codes[q] + 1
        if dirty[g]:
            st_group[n_states], st_started[n_states], st_ended[n_states] = g, n_started[g], n_ended[g]
            current[g] = n_states
            n_states += 1
            dirty[g] = False
        state[q] = current[g]
    return n_states


@_jit
def started_extremes(
    codes: np.ndarray,
    n_keys: int,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    by_start: np.ndarray,
    ev_value: np.ndarray,
    count: np.ndarray,
    largest: np.ndarray,
    smallest: np.ndarray,
) -> None:
    """Per row ``q``, over the events of its key with ``ev_start <= q`` (``by_start``: the
    events in order of start): how many, and the largest and smallest ``ev_value`` (``-1``
    with none)."""
    n_ev = ev_start.shape[0]
    n = np.zeros(n_keys + 1, dtype=np.int64)
    hi = np.zeros(n_keys + 1, dtype=np.int64)
    lo = np.zeros(n_keys + 1, dtype=np.int64)
    s = 0
    for q in range(codes.shape[0]):
        while s < n_ev and ev_start[by_start[s]] <= q:
            k = by_start[s]
            g = ev_codes[k] + 1
            v = ev_value[k]
            if n[g] == 0 or v > hi[g]:
                hi[g] = v
            if n[g] == 0 or v < lo[g]:
                lo[g] = v
            n[g] += 1
            s += 1
        g = codes[q] + 1
        count[q] = n[g]
        largest[q] = hi[g] if n[g] else -1
        smallest[q] = lo[g] if n[g] else -1


@_jit
def calendar(wall_ns: np.ndarray, hour: np.ndarray, dow: np.ndarray) -> None:
    """Hour of day and day of week (Monday 0) of wall-clock times (ns since 1970-01-01,
    a Thursday)."""
    hour_ns, day_ns = 3600 * 10**9, 86400 * 10**9
    for i in range(wall_ns.shape[0]):
        hour[i] = (wall_ns[i] // hour_ns) % 24
        dow[i] = (wall_ns[i] // day_ns + 3) % 7


@_jit
def divide(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``a / b``, NaN where ``b`` is 0."""
    for i in range(a.shape[0]):
        out[i] = a[i] / b[i] if b[i] != 0 else np.nan


@_jit
def smoothed_share(k: np.ndarray, g: np.ndarray, n: np.ndarray, a: float, out: np.ndarray) -> None:
    """``(k + a * g) / (n + a)``, NaN where ``n + a`` is 0."""
    for i in range(k.shape[0]):
        den = n[i] + a
        out[i] = (k[i] + a * g[i]) / den if den != 0 else np.nan


@_jit
def days_since(t: np.ndarray, at: np.ndarray, day: int, out: np.ndarray) -> None:
    """Days from the time of pos ``at`` to each row's time, NaN where ``at`` is ``-1``."""
    for i in range(t.shape[0]):
        out[i] = (t[i] - t[at[i]]) / day if at[i] >= 0 else np.nan


@_jit
def any_infinite(block: np.ndarray) -> bool:
    """Whether any value of a 2-D float array is +-inf."""
    rows, cols = block.shape
    for a in range(rows):
        bad = False
        for b in range(cols):
            bad |= np.isinf(block[a, b])
        if bad:
            return True
    return False


# ------------------------------------------------------------------ key-order kernels
@_jit
def recent_median(off: np.ndarray, start: np.ndarray, v_s: np.ndarray, most: int) -> np.ndarray:
    """Key order: median of ``v_s`` (no NaN) over the latest ``most`` rows of the window
    (``start``: the window starts; the mean of the two middle ones for an even count; NaN
    with none).

    Each key keeps its window's values in a sorted buffer: a row's value goes in after its
    own median is read, and values that leave the window (too old, or more than ``most``
    back) come out; each step moves at most ``most`` values.
    """
    n = v_s.shape[0]
    out = np.empty(n)
    buf = np.empty(most + 1)  # up to `most` values of the window, and the row's own
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        lo = a  # first row in the buffer
        size = 0
        for r in range(a, b):
            keep = max(start[r], r - most)
            while lo < keep:  # drop v_s[lo]: find one equal value and close the gap
                x = v_s[lo]
                j, top = 0, size
                while j < top:  # binary search: the first buffered value >= x
                    mid = (j + top) // 2
                    if buf[mid] < x:
                        j = mid + 1
                    else:
                        top = mid
                for k in range(j, size - 1):
                    buf[k] = buf[k + 1]
                size -= 1
                lo += 1
            out[r] = (buf[(size - 1) // 2] + buf[size // 2]) / 2 if size else np.nan
            x = v_s[r]
            j = size
            while j > 0 and buf[j - 1] > x:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = x
            size += 1
    return out


@_jit
def window_max(off: np.ndarray, start: np.ndarray, v_s: np.ndarray) -> np.ndarray:
    """Key order: the largest ``v_s`` (no NaN) in the window (``start``: the window
    starts), NaN with none; a monotone deque of row indices whose values decrease."""
    n = v_s.shape[0]
    out = np.empty(n)
    dq = np.empty(n, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        head, tail = a, a  # the deque is dq[head:tail], inside a's slice of dq
        for r in range(a, b):
            while head < tail and dq[head] < start[r]:
                head += 1
            out[r] = v_s[dq[head]] if head < tail else np.nan
            while head < tail and v_s[dq[tail - 1]] <= v_s[r]:
                tail -= 1
            dq[tail] = r
            tail += 1
    return out


@_jit
def near_hour_share(off: np.ndarray, start: np.ndarray, h_s: np.ndarray) -> np.ndarray:
    """Key order: the share of the window's rows (``start``: the window starts) whose hour
    (0-23) is within one of this row's (23 and 0 are neighbours; NaN with none), from a
    24-bin histogram of the window."""
    n = h_s.shape[0]
    out = np.empty(n)
    hist = np.zeros(24, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        hist[:] = 0
        p = a
        for r in range(a, b):
            while p < start[r]:
                hist[h_s[p]] -= 1
                p += 1
            h = h_s[r]
            near = hist[(h + 23) % 24] + hist[h] + hist[(h + 1) % 24]
            out[r] = near / (r - p) if r > p else np.nan
            hist[h] += 1
    return out


@_jit
def pair_count(off: np.ndarray, start: np.ndarray, o_s: np.ndarray, n_other: int) -> np.ndarray:
    """Key order: rows of the window (``start``: the window starts) whose other key ``o_s``
    (codes in ``[-1, n_other)``) is this row's: per key, a table of the window's rows by
    other key."""
    n = o_s.shape[0]
    out = np.empty(n)
    cnt = np.zeros(n_other + 1, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p = a
        for r in range(a, b):
            while p < start[r]:
                cnt[o_s[p] + 1] -= 1
                p += 1
            o = o_s[r] + 1
            out[r] = cnt[o]
            cnt[o] += 1
        for r in range(p, b):
            cnt[o_s[r] + 1] = 0
    return out


@_jit
def distinct_others(off: np.ndarray, start: np.ndarray, o_s: np.ndarray, n_other: int) -> np.ndarray:
    """Key order: distinct other keys ``o_s`` among the window's rows (``start``: the
    window starts), this row's own left out; a table of the window's rows by other key and
    a running count of its non-zero entries."""
    n = o_s.shape[0]
    out = np.empty(n)
    cnt = np.zeros(n_other + 1, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p = a
        distinct = 0
        for r in range(a, b):
            while p < start[r]:
                o = o_s[p] + 1
                cnt[o] -= 1
                if cnt[o] == 0:
                    distinct -= 1
                p += 1
            o = o_s[r] + 1
            out[r] = distinct - (cnt[o] > 0)
            if cnt[o] == 0:
                distinct += 1
            cnt[o] += 1
        for r in range(p, b):
            cnt[o_s[r] + 1] = 0
    return out


@_jit
def first_seen(off: np.ndarray, o_s: np.ndarray, n_other: int) -> np.ndarray:
    """Key order: 1 where the row's other key ``o_s`` is new for its key, 0 if an earlier
    row of the key had it, NaN where either key is missing."""
    out = np.empty(o_s.shape[0])
    stamp = np.full(n_other, -1, dtype=np.int64)  # the last key that had each other key
    for g in range(off.shape[0] - 1):
        for r in range(off[g], off[g + 1]):
            o = o_s[r]
            if o < 0 or g == 0:  # g == 0: the row's own key is missing
                out[r] = np.nan
            elif stamp[o] == g:
                out[r] = 0.0
            else:
                out[r] = 1.0
                stamp[o] = g
    return out


@_jit
def fraud_streak(
    off: np.ndarray,
    settled: np.ndarray,
    t_s: np.ndarray,
    q_s: np.ndarray,
    known_s: np.ndarray,
    never: int,
    day: int,
    streak: np.ndarray,
    streak_days: np.ndarray,
    clean_days: np.ndarray,
) -> None:
    """Key order: the run of known frauds among each row's *settled* rows of its key, those
    before ``settled[r]`` (the window starts for the label delay: time at most ``t -
    delay``, and earlier); see ``_fraud_streak`` in the engine.

    ``q_s`` is each row's pos, ``known_s`` the first pos that knows it as a fraud
    (``never`` when no label ever comes). A settled row ``j`` breaks the run at query
    ``q`` unless ``known_s[j] <= q``. Per key, as rows become settled, the frauds after the
    latest never-known row wait on a stack (in row order); at each query the frauds now
    known come off its top, so the top, if any, is the latest breaking fraud. Each fraud
    goes on and off once: linear time.
    """
    stack = np.empty(t_s.shape[0], dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        hi = a  # rows [a, hi) are settled
        last_never = a - 1
        top = a  # the stack is stack[a:top]
        for r in range(a, b):
            while hi < settled[r]:
                if known_s[hi] == never:
                    last_never = hi
                    top = a
                else:
                    stack[top] = hi
                    top += 1
                hi += 1
            q = q_s[r]
            while top > a and known_s[stack[top - 1]] <= q:
                top -= 1
            brk = stack[top - 1] if top > a else last_never
            run = hi - 1 - brk
            streak[r] = run
            streak_days[r] = (t_s[r] - t_s[brk + 1]) / day if run > 0 else np.nan
            clean_days[r] = (t_s[r] - t_s[brk]) / day if brk >= a else np.nan


@_jit
def kahan_states(off: np.ndarray, v_s: np.ndarray) -> tuple:
    """Key order: :func:`prefix_sums` of ``v_s``, and per group the running sum after its
    last row and its Kahan compensation (where a sum kept one value at a time continues
    from, to the bit)."""
    n_groups = off.shape[0] - 1
    cum = np.empty(v_s.shape[0])
    acc_out, comp_out = np.zeros(n_groups), np.zeros(n_groups)
    for g in range(n_groups):
        acc, comp = 0.0, 0.0
        for r in range(off[g], off[g + 1]):
            cum[r] = acc
            y = v_s[r] - comp
            s = acc + y
            comp = (s - acc) - y
            acc = s
        acc_out[g], comp_out[g] = acc, comp
    return cum, acc_out, comp_out
