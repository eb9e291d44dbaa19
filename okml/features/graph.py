"""The entity graph, point in time: customers linked by what they share, and the merchants
their confirmed fraud points at.

Families (names for the default windows; :mod:`okml.features.registry` has them all):

graph
    The graph of a payment at ``t`` holds the earlier payments (in the order (timestamp,
    transaction_id)) made after ``s - graph_window``, where ``s`` is the start of the
    payment's ``graph_epoch`` (epochs are whole multiples of it since 1970-01-01 UTC: UTC
    midnights for ``1d``), so it reaches ``graph_window`` to ``graph_window +
    graph_epoch`` back. In it, customers and devices are nodes and

    * a **hard** link joins a customer and a device it paid from;
    * a **soft** link joins two customers who paid the same merchant within ``soft_gap``
      of each other (the later payment less than ``soft_gap`` after the earlier) on
      ``soft_days`` different epochs (the later payment's epoch counts);
    * a device or merchant with more than ``hub_customers`` distinct customers in the graph
      is a **hub** and links nobody (one public terminal or supermarket must not merge
      everyone); only links through hubs are damped, so a hub device's customers may still
      be linked otherwise.

    A payment's **group** is its customer's connected component together with that of its
    own device (the payment links them, unless the device is a hub), over hard links
    (``graph_group_*``, needs ``device_id``) or hard and soft links
    (``graph_soft_group_*``): ``*_size_w`` its customers (the payment's own included, so at
    least 1), ``*_payments_w`` their payments in the graph, ``*_known_frauds_w`` those
    payments known to be fraud at ``t``, ``*_merchant_share_w`` the share of those payments
    made at this payment's merchant (NaN with none: a ring's orders all go to its shop, a
    family's are spread). ``device_known_frauds_w``: the payments in the
    graph known to be fraud at ``t`` of the *other* customers who paid from this device
    there (0 for a device new to the graph; NaN without a device, or on a hub).
compromise
    The common point of compromise: ``merch_victim_customers_w``: the distinct *other*
    customers who paid this merchant in the trailing window ``w`` and have a payment known
    to be fraud at ``t`` (anywhere) made at or after one of those payments here: victims
    confirmed later, whose common merchant may be where their cards were skimmed;
    ``merch_victim_share_w``: their share of the distinct other customers who paid this
    merchant in the window (NaN with none).

Time: the graph of a payment is built from payments before it, labels from ``label_time``
before its timestamp; the graph is rebuilt at each epoch, so a window that ends with the
payment and starts at an epoch boundary needs no deletions. Hubs, links and groups are
tested against a row-by-row definition (``tests/test_features_props.py``) and the day's
groups of :func:`okml.rings.day_groups` against the engine (``tests/test_graph.py``).

The dask engine computes them by time buckets (``okml.features.distributed``, pass 4: they
need only their trailing window, not whole entities). The online service does not compute
them yet and refuses a configuration that switches them on (:func:`refuse`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams, format_duration, parse_duration
from okml.errors import ConfigError
from okml.features._timeline import NS, codes_of, interval_count

Columns = dict[str, np.ndarray]

#: the families here, which only the local engine computes
GRAPH_FAMILIES = ("graph", "compromise")
#: a group of at least this many customers is a ring (families share a phone among two or
#: three): the groups ``okml rings`` lists, the payments ``evaluate.rings_first`` puts first
MIN_SIZE = 4


def group_size_name(params: FeatureParams) -> str:
    """The feature holding a payment's hard group size (``graph_group_size_7d`` for the
    default ``graph_window``)."""
    return f"graph_group_size_{_suffix(parse_duration(params.graph_window))}"


def refuse(params: FeatureParams, path: str, instead: str) -> None:
    """A one-line :class:`~okml.errors.ConfigError` when ``params`` switches on a family that
    ``path`` (``"okml serve (the online path)"``) cannot compute;
    ``instead`` says what to do."""
    on = [f for f in GRAPH_FAMILIES if getattr(params.families, f)]
    if on:
        raise ConfigError(
            f"features.families.{on[0]}: {path} does not compute the {on[0]} features yet; {instead}"
        )


def _kernels() -> Any:
    from okml.features import _graph_kernels

    return _graph_kernels


def _suffix(seconds: int) -> str:
    return format_duration(seconds)


def _pair_codes(a: np.ndarray, b: np.ndarray, n_b: int) -> tuple[np.ndarray, int]:
    """Dense codes of the pairs (a, b) (``-1`` where ``b`` is missing) and how many."""
    key = np.where(b >= 0, a * np.int64(max(n_b, 1)) + b, -1)
    codes = codes_of(pd.Series(key)).astype(np.int64)
    codes[b < 0] = -1
    return codes, int(codes.max(initial=-1)) + 1


@dataclass(frozen=True)
class _Epochs:
    """The epochs holding payments: their windows' first rows, their rows, the first label
    event after each window start."""

    wa: np.ndarray
    qa: np.ndarray
    qb: np.ndarray
    row_epoch: np.ndarray


def _epochs(t: np.ndarray, window: int, epoch: int) -> _Epochs:
    row_epoch = np.floor_divide(t, epoch * NS)
    ids, qa = np.unique(row_epoch, return_index=True)
    qb = np.append(qa[1:], len(t))
    wa = np.searchsorted(t, ids * epoch * NS - window * NS, side="right")
    return _Epochs(wa.astype(np.int64), qa.astype(np.int64), qb.astype(np.int64), row_epoch.astype(np.int64))


def graph_family(ctx: Any, want: set[str]) -> Columns:
    """The ``graph`` family (see the module docstring); ``ctx`` is the engine's shared
    context (``okml.features.engine._Context``: not imported, the engine imports this)."""
    p = ctx.params
    w, epoch = parse_duration(p.graph_window), parse_duration(p.graph_epoch)
    sfx = _suffix(w)
    names = [
        f"graph_group_size_{sfx}",
        f"graph_group_payments_{sfx}",
        f"graph_group_known_frauds_{sfx}",
        f"graph_soft_group_size_{sfx}",
        f"graph_soft_group_payments_{sfx}",
        f"graph_soft_group_known_frauds_{sfx}",
        f"device_known_frauds_{sfx}",
        f"graph_group_merchant_share_{sfx}",
        f"graph_soft_group_merchant_share_{sfx}",
    ]
    n = ctx.tl.n
    cust = ctx.codes("customer_id")
    merch = ctx.keyed("merchant_id")
    dev = ctx.codes("device_id") if "device_id" in ctx.tx.columns else np.full(n, -1, dtype=np.int64)
    nc, nm = int(cust.max(initial=-1)) + 1, merch.n_keys
    nd = int(dev.max(initial=-1)) + 1
    cd, n_cd = _pair_codes(cust, dev, nd)
    cm_keys, cm = np.unique(cust * np.int64(max(nm, 1)) + merch.codes, return_inverse=True)
    cm, n_cm = cm.astype(np.int64), len(cm_keys)
    if "is_fraud" in ctx.tx.columns and "label_time" in ctx.tx.columns:
        fpos, known_from = ctx.frauds
    else:
        fpos, known_from = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    by = np.argsort(known_from, kind="stable")
    ev_known, ev_rows = known_from[by].astype(np.int64), fpos[by].astype(np.int64)
    ep = _epochs(ctx.t, w, epoch)
    ep_ev = np.searchsorted(ev_known, ep.wa, side="right").astype(np.int64)
    soft = any(name in want for name in (*names[3:6], names[8]))
    shares = any(name in want for name in names[7:])
    out = np.empty((9, n))
    _kernels().graph_sweep(
        ctx.t, cust, dev, merch.codes, cd, cm, n_cd, n_cm, nc, nd, nm, ep.row_epoch,
        ev_known, ev_rows, ep.wa, ep.qa, ep.qb, ep_ev, merch.off, merch.rank, merch.perm,
        cm_keys.astype(np.int64), parse_duration(p.soft_gap) * NS, p.hub_customers, p.soft_days, soft,
        shares, out,
    )  # fmt: skip
    result = {}
    for i, name in enumerate(names):
        if name in want:
            column = ctx.column(name)
            np.copyto(column, out[i])
            result[name] = column
    return result


def compromise_family(ctx: Any, want: set[str]) -> Columns:
    """The ``compromise`` family (see the module docstring)."""
    tl = ctx.tl
    cust, merch = ctx.keyed("customer_id"), ctx.keyed("merchant_id")
    never = tl.n + 1
    fpos, known_from = ctx.frauds
    known = np.full(tl.n, never, dtype=np.int64)  # pos order: known as fraud from this pos
    known[fpos] = known_from
    k = _kernels()
    # the first pos that knows a fraud of the row's customer made at or after the row
    later = k.victim_from(cust.off, cust.perm, ctx.t, known, never)
    pair = ctx.keyed_pair("customer_id", "merchant_id")
    out: Columns = {}
    for w in [parse_duration(v) for v in ctx.params.compromise_windows]:
        sfx = _suffix(w)
        count_name, share_name = f"merch_victim_customers_{sfx}", f"merch_victim_share_{sfx}"
        if count_name not in want and share_name not in want:
            continue
        # a row's customer counts for its merchant's later rows from when the fraud is known
        # until the row leaves their window
        start = np.maximum(tl.pos + 1, later)
        end = tl.first_at_or_after(ctx.t + w * NS)
        rows, ev_start, ev_end = k.merge_intervals(pair.off, pair.perm, start, end)
        victims = interval_count(merch.codes, merch.codes[rows], ev_start, ev_end)
        # the payment's own customer is not one of "the other customers"
        victims -= interval_count(pair.codes, pair.codes[rows], ev_start, ev_end)
        others = merch.distinct_others(cust.codes, w)
        count = ctx.column(count_name) if count_name in want else np.empty(tl.n)
        np.copyto(count, victims)
        if count_name in want:
            out[count_name] = count
        if share_name in want:
            share = ctx.column(share_name)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(victims, others, out=share)
            share[others == 0] = np.nan
            out[share_name] = share
    return out


# ----------------------------------------------------------------- the groups of a day
@dataclass(frozen=True)
class Links:
    """The graph of the payments in ``(end - graph_window, end)`` (see the module docstring):
    its rows, hubs and links; customers and devices by their ids."""

    rows: pd.DataFrame
    hub_devices: frozenset[Any]
    hub_merchants: frozenset[Any]
    hard: pd.DataFrame  # customer_id, device_id
    soft: pd.DataFrame  # customer_id, other_id, merchant_id


def graph_links(tx: pd.DataFrame, params: FeatureParams, end: pd.Timestamp) -> Links:
    """The links of the graph that the first payment at or after ``end`` would see when
    ``end`` starts an epoch: payments with time in ``(end - graph_window, end)``, hubs
    damped, hard and soft links (pandas, one window at a time)."""
    w = pd.Timedelta(seconds=parse_duration(params.graph_window))
    ts = tx["timestamp"]
    rows = tx.loc[(ts > end - w) & (ts < end)]
    rows = rows.sort_values(["timestamp", "transaction_id"], kind="stable")
    hub = params.hub_customers
    has_device = "device_id" in rows.columns
    if has_device:
        per_device = (
            rows.dropna(subset=["device_id"]).groupby("device_id", sort=False)["customer_id"].nunique()
        )
        hub_devices = frozenset(per_device.index[per_device > hub])
        hard = rows.loc[rows["device_id"].notna() & ~rows["device_id"].isin(hub_devices)]
        hard = hard[["customer_id", "device_id"]].drop_duplicates().reset_index(drop=True)
    else:
        hub_devices = frozenset()
        hard = pd.DataFrame({"customer_id": [], "device_id": []})
    per_merchant = rows.groupby("merchant_id", sort=False)["customer_id"].nunique()
    hub_merchants = frozenset(per_merchant.index[per_merchant > hub])
    soft = _soft_links(rows.loc[~rows["merchant_id"].isin(hub_merchants)], params)
    return Links(rows, hub_devices, hub_merchants, hard, soft)


def _soft_links(rows: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    gap = parse_duration(params.soft_gap) * NS
    epoch = parse_duration(params.graph_epoch) * NS
    r = rows.sort_values(["merchant_id", "timestamp", "transaction_id"], kind="stable")
    t = r["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    m = codes_of(r["merchant_id"])
    c = r["customer_id"].to_numpy(dtype=object)
    seen: dict[tuple[Any, Any, int], set[int]] = {}
    for i in range(len(r)):
        j = i - 1
        while j >= 0 and m[j] == m[i] and t[i] - t[j] < gap:
            if c[j] != c[i]:
                a, b = sorted((c[i], c[j]), key=str)
                seen.setdefault((a, b, int(m[i])), set()).add(int(t[i] // epoch))
            j -= 1
    merchants = r["merchant_id"].to_numpy(dtype=object)
    first = {int(code): merchants[i] for i, code in enumerate(m)}
    pairs = [(a, b, first[k]) for (a, b, k), days in seen.items() if len(days) >= params.soft_days]
    return pd.DataFrame(pairs, columns=["customer_id", "other_id", "merchant_id"])


def components(links: Links, soft: bool = True) -> pd.Series:
    """Each customer of the graph's payments -> its component label (hard links, and soft
    ones when ``soft``), by :func:`scipy.sparse.csgraph.connected_components`."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    customers = pd.Index(links.rows["customer_id"].unique())
    devices = pd.Index(links.hard["device_id"].unique())
    n = len(customers) + len(devices)
    a = [customers.get_indexer(links.hard["customer_id"])]
    b = [len(customers) + devices.get_indexer(links.hard["device_id"])]
    if soft and len(links.soft):
        a.append(customers.get_indexer(links.soft["customer_id"]))
        b.append(customers.get_indexer(links.soft["other_id"]))
    i, j = np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return pd.Series(label[: len(customers)], index=customers, name="component")
