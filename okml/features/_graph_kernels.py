"""Compiled sweep behind :mod:`okml.features.graph`: the entity graph of each payment, one
epoch at a time, with two union-finds (hard links; hard and soft links).

Rows are in *pos order* (timestamp, transaction_id), as in :mod:`okml.features._kernels`.
For every epoch holding payments, the sweep replays the rows of the epoch's graph window
(``wa``: the first row after ``epoch start - window``) in order: before a row joins, the row
is answered from what joined before it (its query), so a payment sees only earlier payments
and the labels known at its position. Unions cannot be undone, so:

* hubs are known ahead: a first pass over the epoch's rows finds the row at which each device
  and merchant gets its ``hub + 1``-th distinct customer (``hub_from``); it is a hub for every
  later row, and links nobody from then on;
* a node that becomes a hub after links were made through it triggers a rebuild of both
  union-finds from the epoch's recorded links that do not go through a hub (nodes only become
  hubs within an epoch, never stop being one, so this happens at most once per node).

Union-find nodes are customers (``0 .. nc - 1``) and devices (``nc + d``); each root holds
its set's customers, payments and known frauds. Compiled like the other kernels
(``cache=True``, ``nogil=True``, single-threaded).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

_jit = njit(cache=True, nogil=True, error_model="numpy")
_PAIR = types.UniTuple(types.int64, 2)
_SLOT = 1 << 20  # a soft co-occurrence's value: last epoch * _SLOT + count


@_jit
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@_jit
def _union(
    parent: np.ndarray,
    nodes: np.ndarray,
    size: np.ndarray,
    pay: np.ndarray,
    fr: np.ndarray,
    nxt: np.ndarray,
    tail: np.ndarray,
    a: int,
    b: int,
) -> None:
    """Join the sets of ``a`` and ``b``: the larger root stays, sums add up, and the other
    set's member list (``nxt``, from its root; ``tail`` its last node) goes after its own."""
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra == rb:
        return
    if nodes[ra] < nodes[rb]:
        ra, rb = rb, ra
    parent[rb] = ra
    nodes[ra] += nodes[rb]
    size[ra] += size[rb]
    pay[ra] += pay[rb]
    fr[ra] += fr[rb]
    nxt[tail[ra]] = rb
    tail[ra] = tail[rb]


@_jit
def _at_merchant(
    root: int, nxt: np.ndarray, nc: int, nm: int, m: int, cm_keys: np.ndarray, pc: np.ndarray,
    pc_stamp: np.ndarray, e: int, own: int, own_code: int,
) -> int:  # fmt: skip
    """The payments in the graph at merchant ``m`` of the customers of ``root``'s set
    (customer ``own``'s pair code is ``own_code``; the others' are looked up)."""
    total = 0
    x = root
    while x >= 0:
        if x < nc:
            i = own_code
            if x != own:
                key = x * nm + m
                i = int(np.searchsorted(cm_keys, key))
                if i >= cm_keys.shape[0] or cm_keys[i] != key:
                    i = -1
            if i >= 0 and pc_stamp[i] == e:
                total += pc[i]
        x = nxt[x]
    return total


@_jit
def _grow(a: np.ndarray, n: int) -> np.ndarray:
    if n < a.shape[0]:
        return a
    b = np.empty(2 * a.shape[0] + 16, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@_jit
def graph_sweep(
    t: np.ndarray,
    cust: np.ndarray,
    dev: np.ndarray,
    merch: np.ndarray,
    cd: np.ndarray,
    cm: np.ndarray,
    n_cd: int,
    n_cm: int,
    nc: int,
    nd: int,
    nm: int,
    row_epoch: np.ndarray,
    ev_known: np.ndarray,
    ev_rows: np.ndarray,
    ep_wa: np.ndarray,
    ep_qa: np.ndarray,
    ep_qb: np.ndarray,
    ep_ev: np.ndarray,
    m_off: np.ndarray,
    m_rank: np.ndarray,
    m_perm: np.ndarray,
    cm_keys: np.ndarray,
    gap: int,
    hub: int,
    soft_min: int,
    soft: bool,
    shares: bool,
    out: np.ndarray,
) -> int:
    """Per row, into ``out`` (9 x n): the hard group's customers, payments and known frauds,
    the soft group's (hard and soft links) the same, the known frauds of the device's other
    customers (NaN without a device or on a hub), and (with ``shares``) the share of the hard
    and of the soft group's payments made at the row's merchant (NaN without payments).
    Returns the number of rebuilds.

    ``cd``, ``cm``: codes of each row's (customer, device) pair (-1 without a device) and
    (customer, merchant) pair, the latter the index of ``customer * nm + merchant`` in the
    sorted ``cm_keys``; ``ev_known``, ``ev_rows``: known frauds sorted by the first
    pos that knows them, and their rows; per epoch ``ep_wa`` (first row of its window),
    ``ep_qa``:``ep_qb`` (its rows) and ``ep_ev`` (the first label event after ``ep_wa``);
    ``m_off``, ``m_rank``, ``m_perm``: the merchant key order (``_kernels.group_rows``).
    """
    n_nodes = nc + nd
    never = np.iinfo(np.int64).max
    # per node, lazily reset per epoch by its stamp
    stamp = np.full(n_nodes, -1, dtype=np.int64)
    par_h = np.arange(n_nodes, dtype=np.int64)
    par_s = np.arange(n_nodes, dtype=np.int64)
    nodes_h = np.ones(n_nodes, dtype=np.int64)
    nodes_s = np.ones(n_nodes, dtype=np.int64)
    size_h = np.zeros(n_nodes, dtype=np.int64)
    size_s = np.zeros(n_nodes, dtype=np.int64)
    pay_h = np.zeros(n_nodes, dtype=np.int64)
    pay_s = np.zeros(n_nodes, dtype=np.int64)
    fr_h = np.zeros(n_nodes, dtype=np.int64)
    fr_s = np.zeros(n_nodes, dtype=np.int64)
    links = np.zeros(n_nodes, dtype=np.int64)  # hard links through a device node
    cp = np.zeros(nc, dtype=np.int64)  # the customer's payments in the graph
    cf = np.zeros(nc, dtype=np.int64)  # and its known frauds there
    members = np.empty((max(nd, 1), hub + 1), dtype=np.int64)  # a device's customers
    n_members = np.zeros(max(nd, 1), dtype=np.int64)
    touched = np.empty(n_nodes, dtype=np.int64)
    nxt_h = np.full(n_nodes, -1, dtype=np.int64)  # member lists of the sets, from their roots
    nxt_s = np.full(n_nodes, -1, dtype=np.int64)
    tail_h = np.arange(n_nodes, dtype=np.int64)
    tail_s = np.arange(n_nodes, dtype=np.int64)
    pc = np.zeros(max(n_cm, 1), dtype=np.int64)  # a customer's payments in the graph at a merchant
    pc_stamp = np.full(max(n_cm, 1), -1, dtype=np.int64)
    # hubs of the epoch (first pass) and the pairs seen
    a_stamp_cd = np.full(max(n_cd, 1), -1, dtype=np.int64)
    a_stamp_cm = np.full(max(n_cm, 1), -1, dtype=np.int64)
    b_stamp_cd = np.full(max(n_cd, 1), -1, dtype=np.int64)
    d_stamp = np.full(max(nd, 1), -1, dtype=np.int64)
    d_count = np.zeros(max(nd, 1), dtype=np.int64)
    d_hub = np.full(max(nd, 1), never, dtype=np.int64)
    m_stamp = np.full(max(nm, 1), -1, dtype=np.int64)
    m_count = np.zeros(max(nm, 1), dtype=np.int64)
    m_hub = np.full(max(nm, 1), never, dtype=np.int64)
    m_links = np.zeros(max(nm, 1), dtype=np.int64)  # soft links through a merchant
    h_a = np.empty(1024, dtype=np.int64)
    h_b = np.empty(1024, dtype=np.int64)
    s_a = np.empty(1024, dtype=np.int64)
    s_b = np.empty(1024, dtype=np.int64)
    s_m = np.empty(1024, dtype=np.int64)
    rebuilds = 0
    n_ev = ev_known.shape[0]
    for e in range(ep_wa.shape[0]):
        wa, qa, qb = ep_wa[e], ep_qa[e], ep_qb[e]
        # ---- first pass: the row at which each device and merchant becomes a hub
        for r in range(wa, qb):
            d = dev[r]
            if d >= 0 and a_stamp_cd[cd[r]] != e:
                a_stamp_cd[cd[r]] = e
                if d_stamp[d] != e:
                    d_stamp[d] = e
                    d_count[d] = 0
                    d_hub[d] = never
                d_count[d] += 1
                if d_count[d] == hub + 1:
                    d_hub[d] = r
            m = merch[r]
            if a_stamp_cm[cm[r]] != e:
                a_stamp_cm[cm[r]] = e
                if m_stamp[m] != e:
                    m_stamp[m] = e
                    m_count[m] = 0
                    m_hub[m] = never
                    m_links[m] = 0
                m_count[m] += 1
                if m_count[m] == hub + 1:
                    m_hub[m] = r
        # ---- second pass: answer each row of the epoch, then let it join
        n_touched = 0
        n_h = 0
        n_s = 0
        pairs = Dict.empty(key_type=_PAIR, value_type=types.int64)
        k = ep_ev[e]
        for q in range(wa, qb):
            # labels known at q (their rows are earlier: a label is never before its payment)
            while k < n_ev and ev_known[k] <= q:
                r = ev_rows[k]
                k += 1
                if r >= wa:
                    c = cust[r]
                    cf[c] += 1
                    fr_h[_find(par_h, c)] += 1
                    fr_s[_find(par_s, c)] += 1
            c = cust[q]
            d = dev[q]
            dn = nc + d
            if q >= qa:
                present = stamp[c] == e
                linked = d >= 0 and stamp[dn] == e and d_hub[d] >= q
                mq = merch[q]
                for which in range(2):
                    par = par_h if which == 0 else par_s
                    size = size_h if which == 0 else size_s
                    pay = pay_h if which == 0 else pay_s
                    fr = fr_h if which == 0 else fr_s
                    nxt = nxt_h if which == 0 else nxt_s
                    r1 = _find(par, c) if present else -1
                    g_size, g_pay, g_fr, g_at = 1, 0, 0, 0
                    if r1 >= 0:
                        g_size, g_pay, g_fr = size[r1], pay[r1], fr[r1]
                        if shares:
                            g_at = _at_merchant(r1, nxt, nc, nm, mq, cm_keys, pc, pc_stamp, e, c, cm[q])
                    if linked:
                        r2 = _find(par, dn)
                        if r2 != r1:
                            g_size += size[r2]
                            g_pay += pay[r2]
                            g_fr += fr[r2]
                            if shares:
                                g_at += _at_merchant(r2, nxt, nc, nm, mq, cm_keys, pc, pc_stamp, e, c, cm[q])
                    out[3 * which, q] = g_size
                    out[3 * which + 1, q] = g_pay
                    out[3 * which + 2, q] = g_fr
                    out[7 + which, q] = g_at / g_pay if g_pay > 0 else np.nan
                if d < 0 or (stamp[dn] == e and d_hub[d] < q):
                    out[6, q] = np.nan
                elif stamp[dn] != e:
                    out[6, q] = 0.0
                else:
                    total = 0
                    for i in range(n_members[d]):
                        other = members[d, i]
                        if other != c:
                            total += cf[other]
                    out[6, q] = total
            # ---- row q joins the graph
            if stamp[c] != e:
                stamp[c] = e
                touched[n_touched] = c
                n_touched += 1
                par_h[c] = c
                par_s[c] = c
                nodes_h[c] = 1
                nodes_s[c] = 1
                nxt_h[c] = -1
                nxt_s[c] = -1
                tail_h[c] = c
                tail_s[c] = c
                size_h[c] = 1
                size_s[c] = 1
                pay_h[c] = 0
                pay_s[c] = 0
                fr_h[c] = 0
                fr_s[c] = 0
                cp[c] = 0
                cf[c] = 0
            cp[c] += 1
            pay_h[_find(par_h, c)] += 1
            pay_s[_find(par_s, c)] += 1
            if pc_stamp[cm[q]] != e:
                pc_stamp[cm[q]] = e
                pc[cm[q]] = 0
            pc[cm[q]] += 1
            rebuild = False
            if d >= 0:
                if stamp[dn] != e:
                    stamp[dn] = e
                    touched[n_touched] = dn
                    n_touched += 1
                    par_h[dn] = dn
                    par_s[dn] = dn
                    nodes_h[dn] = 1
                    nodes_s[dn] = 1
                    nxt_h[dn] = -1
                    nxt_s[dn] = -1
                    tail_h[dn] = dn
                    tail_s[dn] = dn
                    size_h[dn] = 0
                    size_s[dn] = 0
                    pay_h[dn] = 0
                    pay_s[dn] = 0
                    fr_h[dn] = 0
                    fr_s[dn] = 0
                    links[dn] = 0
                    n_members[d] = 0
                if b_stamp_cd[cd[q]] != e:
                    b_stamp_cd[cd[q]] = e
                    if n_members[d] <= hub:
                        members[d, n_members[d]] = c
                        n_members[d] += 1
                    if d_hub[d] > q:
                        h_a = _grow(h_a, n_h)
                        h_b = _grow(h_b, n_h)
                        h_a[n_h] = c
                        h_b[n_h] = dn
                        n_h += 1
                        links[dn] += 1
                        _union(par_h, nodes_h, size_h, pay_h, fr_h, nxt_h, tail_h, c, dn)
                        _union(par_s, nodes_s, size_s, pay_s, fr_s, nxt_s, tail_s, c, dn)
                if d_hub[d] == q and links[dn] > 0:
                    rebuild = True
            m = merch[q]
            if soft and m_hub[m] > q:
                j = m_rank[q] - 1
                lo = m_off[m + 1]  # key group m + 1 holds merchant code m
                while j >= lo:
                    p = m_perm[j]
                    if p < wa or t[p] <= t[q] - gap:
                        break
                    j -= 1
                    c2 = cust[p]
                    if c2 == c:
                        continue
                    key = (min(c, c2) * nc + max(c, c2), m)
                    now = row_epoch[q]
                    value = pairs.get(key, -1)
                    if value >= 0 and value // _SLOT == now:
                        continue  # this epoch is counted for the pair already
                    old = 0 if value < 0 else value % _SLOT
                    new = min(old + 1, soft_min)
                    pairs[key] = now * _SLOT + new
                    if old < soft_min <= new:  # just reached: the link is made
                        s_a = _grow(s_a, n_s)
                        s_b = _grow(s_b, n_s)
                        s_m = _grow(s_m, n_s)
                        s_a[n_s] = c
                        s_b[n_s] = c2
                        s_m[n_s] = m
                        n_s += 1
                        m_links[m] += 1
                        _union(par_s, nodes_s, size_s, pay_s, fr_s, nxt_s, tail_s, c, c2)
            if m_hub[m] == q and m_links[m] > 0:
                rebuild = True
            if rebuild:  # a node became a hub: the links through it go
                rebuilds += 1
                for i in range(n_touched):
                    x = touched[i]
                    par_h[x] = x
                    par_s[x] = x
                    nodes_h[x] = 1
                    nodes_s[x] = 1
                    nxt_h[x] = -1
                    nxt_s[x] = -1
                    tail_h[x] = x
                    tail_s[x] = x
                    is_c = x < nc
                    size_h[x] = 1 if is_c else 0
                    size_s[x] = size_h[x]
                    pay_h[x] = cp[x] if is_c else 0
                    pay_s[x] = pay_h[x]
                    fr_h[x] = cf[x] if is_c else 0
                    fr_s[x] = fr_h[x]
                for i in range(n_h):
                    if d_hub[h_b[i] - nc] > q:
                        _union(par_h, nodes_h, size_h, pay_h, fr_h, nxt_h, tail_h, h_a[i], h_b[i])
                        _union(par_s, nodes_s, size_s, pay_s, fr_s, nxt_s, tail_s, h_a[i], h_b[i])
                for i in range(n_s):
                    if m_hub[s_m[i]] > q:
                        _union(par_s, nodes_s, size_s, pay_s, fr_s, nxt_s, tail_s, s_a[i], s_b[i])
    return rebuilds


@_jit
def victim_from(
    off: np.ndarray, perm: np.ndarray, t: np.ndarray, known_from: np.ndarray, never: int
) -> np.ndarray:
    """Pos order: per row, the first pos that knows a fraud of its customer made at or after
    its time (``never`` when none will be known), walking each customer's rows (``off``,
    ``perm``: the customer key order) from the latest back, runs of one time at once."""
    out = np.full(perm.shape[0], never, dtype=np.int64)
    for g in range(off.shape[0] - 1):
        a, b = off[g], off[g + 1]
        best = never
        r = b - 1
        while r >= a:
            s = r
            while s - 1 >= a and t[perm[s - 1]] == t[perm[r]]:
                s -= 1
            for i in range(s, r + 1):
                if known_from[perm[i]] < best:
                    best = known_from[perm[i]]
            for i in range(s, r + 1):
                out[perm[i]] = best
            r = s - 1
    return out


@_jit
def merge_intervals(
    off: np.ndarray, perm: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per key (``off``, ``perm``: its rows in pos order), the union of its rows' intervals
    ``[start, end)`` (pos order; both non-decreasing along a key's rows) as disjoint
    intervals: (row whose key they belong to, start, end); empty intervals are dropped."""
    n = perm.shape[0]
    ev_row = np.empty(n, dtype=np.int64)
    ev_start = np.empty(n, dtype=np.int64)
    ev_end = np.empty(n, dtype=np.int64)
    k = 0
    for g in range(off.shape[0] - 1):
        cur_a, cur_b, row = -1, -1, -1
        for i in range(off[g], off[g + 1]):
            p = perm[i]
            a, b = start[p], end[p]
            if a >= b:
                continue
            if row >= 0 and a <= cur_b:
                if b > cur_b:
                    cur_b = b
                continue
            if row >= 0:
                ev_row[k], ev_start[k], ev_end[k] = row, cur_a, cur_b
                k += 1
            cur_a, cur_b, row = a, b, p
        if row >= 0:
            ev_row[k], ev_start[k], ev_end[k] = row, cur_a, cur_b
            k += 1
    return ev_row[:k], ev_start[:k], ev_end[:k]
