"""Compiled loops (numba) behind :mod:`okml.features._timeline`: each kernel is one pass over
the rows, linear in their number, with no binary search.

Two orders of rows appear. *pos order* is the global order (timestamp, transaction_id).
*Key order* groups the rows by key, each key's rows in pos order: row ``i`` (pos) sits at
``rank[i]``, and key group ``g`` holds ``off[g]:off[g + 1]`` (:func:`group_rows`, a
counting sort). Group ``g`` is key code ``g - 1``: code ``-1`` (a missing key) is group 0.

* Pos-order kernels walk the rows once and keep a little state per key: how many of the
  key's rows they have met (which gives each row's key-order slot), and per window a
  pointer to the key's first row still inside it. Rows a window has dropped are never
  looked at again (two pointers), and outputs are written in pos order, sequentially.
* Key-order kernels need a structure per key (a sorted buffer, a monotone deque, an hour
  histogram, a table of who is in the window); they run one key at a time on key-ordered
  inputs and their outputs go back to pos order with one scatter per column.

Windows follow :mod:`okml.features.engine`: row ``j`` is in row ``i``'s window of width
``w`` (ns) when it is an earlier row of the same key with ``t_j > t_i - w``; a negative
width means all earlier rows of the key.

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
def window_lo(t: np.ndarray, width: int) -> np.ndarray:
    """Per row, the first pos with time > t - width (``t`` sorted)."""
    n = t.shape[0]
    lo = np.empty(n, dtype=np.int64)
    p = 0
    for i in range(n):
        edge = t[i] - width
        while p < n and t[p] <= edge:
            p += 1
        lo[i] = p
    return lo


# ------------------------------------------------------------------ pos-order kernels
@_jit
def window_stats(
    codes: np.ndarray,
    off: np.ndarray,
    t: np.ndarray,
    widths: np.ndarray,
    values: np.ndarray,
    need: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
) -> None:
    """Per row (pos order) and window ``w``: ``counts[w]``, the key's rows in the window,
    and where ``need[w, k]``, ``sums[w, k]``, the sum of ``values[k]`` over them.

    A sum is the difference of two exclusive prefix sums of the key's rows, accumulated
    with Kahan compensation exactly as pandas' ``groupby().cumsum()`` does; prefix sums
    restart at each key, so other keys' rows cannot change a sum in the last bit.
    """
    n = t.shape[0]
    n_w, m = widths.shape[0], values.shape[0]
    groups = off.shape[0] - 1
    fill = off[:-1].copy()
    ptr = np.empty((groups, n_w), dtype=np.int64)
    for g in range(groups):
        ptr[g, :] = off[g]
    acc = np.zeros((groups, m))
    comp = np.zeros((groups, m))
    t_s = np.empty(n, dtype=np.int64)  # times in key order, filled as rows are met
    cum = np.empty((n, m))  # exclusive prefix sums in key order
    for i in range(n):
        g = codes[i] + 1
        r = fill[g]
        fill[g] = r + 1
        ti = t[i]
        t_s[r] = ti
        for k in range(m):
            a = acc[g, k]
            cum[r, k] = a
            y = values[k, i] - comp[g, k]
            s = a + y
            comp[g, k] = (s - a) - y
            acc[g, k] = s
        for w in range(n_w):
            p = ptr[g, w]
            if widths[w] >= 0:
                edge = ti - widths[w]
                while p < r and t_s[p] <= edge:
                    p += 1
                ptr[g, w] = p
            counts[w, i] = r - p
            for k in range(m):
                if need[w, k]:
                    sums[w, k, i] = cum[r, k] - cum[p, k]


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
def interval_counts(
    codes: np.ndarray,
    n_keys: int,
    ev_codes: np.ndarray,
    ev_start: np.ndarray,
    by_start: np.ndarray,
    ev_end: np.ndarray,
    by_end: np.ndarray,
    out: np.ndarray,
) -> None:
    """Per row ``q`` (pos order) and column ``w`` of ``ev_end``: ``out[w, q]``, the events of
    q's key whose interval ``[ev_start, ev_end[w])`` holds ``q``, in one sweep over the rows
    (``by_start``, ``by_end[w]``: the events in order of start, of end)."""
    n_w, n_ev = ev_end.shape
    active = np.zeros((n_keys + 1, n_w), dtype=np.int64)
    s = 0
    e = np.zeros(n_w, dtype=np.int64)
    for q in range(codes.shape[0]):
        while s < n_ev and ev_start[by_start[s]] <= q:
            k = by_start[s]
            for w in range(n_w):
                if ev_start[k] < ev_end[w, k]:
                    active[ev_codes[k] + 1, w] += 1
            s += 1
        for w in range(n_w):
            while e[w] < n_ev and ev_end[w, by_end[w, e[w]]] <= q:
                k = by_end[w, e[w]]
                if ev_start[k] < ev_end[w, k]:  # then it has started: ev_start < q
                    active[ev_codes[k] + 1, w] -= 1
                e[w] += 1
        g = codes[q] + 1
        for w in range(n_w):
            out[w, q] = active[g, w]


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
def amount_vs(
    amount: np.ndarray,
    n: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    floor: float,
    ratio: np.ndarray,
    z: np.ndarray,
) -> None:
    """Ratio of ``amount`` to the mean ``s1 / n`` (NaN for ``n == 0``) and z-score against
    the population standard deviation from ``s2 / n``, floored at ``floor`` times the mean
    (NaN for ``n < 2``): the engine's ``_amount_vs``, one pass."""
    for i in range(amount.shape[0]):
        if n[i] == 0:
            ratio[i] = np.nan
            z[i] = np.nan
            continue
        mean = s1[i] / n[i]
        var = s2[i] / n[i] - mean * mean
        if var < 0:  # rounding; NaN stays NaN, as with np.maximum
            var = 0.0
        spread = np.sqrt(var)
        low = floor * mean
        if spread < low or np.isnan(low):
            spread = low
        ratio[i] = amount[i] / mean
        z[i] = (amount[i] - mean) / spread if n[i] >= 2 and spread != 0 else np.nan


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
def recent_median(off: np.ndarray, t_s: np.ndarray, v_s: np.ndarray, width: int, most: int) -> np.ndarray:
    """Key order: median of ``v_s`` (no NaN) over the latest ``most`` rows of the window
    (the mean of the two middle ones for an even count; NaN with none).

    Each key keeps its window's values in a sorted buffer: a row's value goes in after its
    own median is read, and values that leave the window (too old, or more than ``most``
    back) come out; each step moves at most ``most`` values.
    """
    n = t_s.shape[0]
    out = np.empty(n)
    buf = np.empty(max(most, 1))
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p = a  # first row of the time window
        lo = a  # first row in the buffer
        size = 0
        for r in range(a, b):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
                    p += 1
            keep = max(p, r - most)
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
def window_max(off: np.ndarray, t_s: np.ndarray, v_s: np.ndarray, width: int) -> np.ndarray:
    """Key order: the largest ``v_s`` (no NaN) in the window, NaN with none (a monotone
    deque of row indices whose values decrease)."""
    n = t_s.shape[0]
    out = np.empty(n)
    dq = np.empty(n, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p, head, tail = a, a, a  # the deque is dq[head:tail], inside a's slice of dq
        for r in range(a, b):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
                    p += 1
            while head < tail and dq[head] < p:
                head += 1
            out[r] = v_s[dq[head]] if head < tail else np.nan
            while head < tail and v_s[dq[tail - 1]] <= v_s[r]:
                tail -= 1
            dq[tail] = r
            tail += 1
    return out


@_jit
def near_hour_count(off: np.ndarray, t_s: np.ndarray, h_s: np.ndarray, width: int) -> np.ndarray:
    """Key order: rows of the window whose hour (0-23) is within one of this row's (23 and
    0 are neighbours), from a 24-bin histogram of the window per key."""
    n = t_s.shape[0]
    out = np.empty(n)
    hist = np.zeros(24, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        hist[:] = 0
        p = a
        for r in range(a, b):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
                    hist[h_s[p]] -= 1
                    p += 1
            h = h_s[r]
            out[r] = hist[(h + 23) % 24] + hist[h] + hist[(h + 1) % 24]
            hist[h] += 1
    return out


@_jit
def pair_count(off: np.ndarray, t_s: np.ndarray, o_s: np.ndarray, n_other: int, width: int) -> np.ndarray:
    """Key order: rows of the window whose other key ``o_s`` (codes in ``[-1, n_other)``)
    is this row's: per key, a table of the window's rows by other key."""
    n = t_s.shape[0]
    out = np.empty(n)
    cnt = np.zeros(n_other + 1, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p = a
        for r in range(a, b):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
                    cnt[o_s[p] + 1] -= 1
                    p += 1
            o = o_s[r] + 1
            out[r] = cnt[o]
            cnt[o] += 1
        for r in range(p, b):
            cnt[o_s[r] + 1] = 0
    return out


@_jit
def distinct_others(
    off: np.ndarray, t_s: np.ndarray, o_s: np.ndarray, n_other: int, width: int
) -> np.ndarray:
    """Key order: distinct other keys ``o_s`` among the window's rows, this row's own left
    out (a table of the window's rows by other key and a running count of non-zero ones)."""
    n = t_s.shape[0]
    out = np.empty(n)
    cnt = np.zeros(n_other + 1, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        p = a
        distinct = 0
        for r in range(a, b):
            if width >= 0:
                edge = t_s[r] - width
                while p < r and t_s[p] <= edge:
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
    t_s: np.ndarray,
    q_s: np.ndarray,
    known_s: np.ndarray,
    delay: int,
    never: int,
    day: int,
    streak: np.ndarray,
    streak_days: np.ndarray,
    clean_days: np.ndarray,
) -> None:
    """Key order: the run of known frauds among each row's *settled* rows of its key (time
    at most ``t - delay``, and earlier); see ``_fraud_streak`` in the engine.

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
            edge = t_s[r] - delay
            while hi < r and t_s[hi] <= edge:
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
