"""Rings: the groups of linked accounts of a day, and how well they find the simulator's
fake-order rings.

:func:`day_groups` lists the connected groups of the entity graph (:mod:`okml.features.graph`)
as of the end of a day: the graph that the next day's first payment sees, so a group's size
there is that payment's ``graph_soft_group_size`` (or ``graph_group_size`` with
``soft=False``). :func:`active_rings` is what ``okml rings --date D`` prints: the groups
of the end of the reviewers' local day that paid on that day, each with an id ``DAY/Gn``
(:func:`ring_id`) that ``okml evidence --ring`` and the review queue use. :func:`ring_detection`
scores those lists against the ground truth ``actor_id`` of the simulator (``ring-3``):
for each ring, the share of its accounts in the group that holds most of them (recall), the
share of that group that belongs to the ring (precision), and the first day it is listed.

Pure functions of canonical transactions and the ``features`` parameters; nothing here
reads or writes files.
"""

from __future__ import annotations

import pandas as pd

from okml.config import FeatureParams
from okml.features.graph import MIN_SIZE, components, graph_links

_DAY = pd.Timedelta(days=1)
GROUP_COLUMNS = [
    "group",
    "size",
    "members",
    "devices",
    "merchants",
    "payments",
    "amount",
    "known_frauds",
    "confirmed_share",
    "first_payment",
    "last_payment",
]


def _day(day: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(day)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("D")


def groups_at(
    tx: pd.DataFrame, params: FeatureParams, end: pd.Timestamp, *, min_size: int = MIN_SIZE, soft: bool = True
) -> pd.DataFrame:
    """The groups of at least ``min_size`` customers in the graph of the payments in
    ``(end - graph_window, end)`` (hubs damped; hard links, and soft ones when ``soft``),
    labels known before ``end``; largest first.

    Columns: ``group`` (0, 1, ... by size), ``size``, ``members`` (customer ids, sorted),
    ``devices`` (the non-hub devices they paid from), ``merchants`` (the merchants they
    paid, most paid first), ``payments``, ``amount`` (their payments in the graph and the
    sum), ``known_frauds`` (those payments known to be fraud at ``end``),
    ``confirmed_share`` (the share of members with one), ``first_payment``,
    ``last_payment``.
    """
    links = graph_links(tx, params, end)
    rows = links.rows
    if rows.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    label = components(links, soft=soft)
    sizes = label.value_counts()
    big = sizes.index[sizes >= min_size]
    if len(big) == 0:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    mine = rows.assign(component=rows["customer_id"].map(label))
    mine = mine.loc[mine["component"].isin(big)]
    if "is_fraud" in mine and "label_time" in mine:
        known = (mine["is_fraud"] == 1) & (mine["label_time"] < end).fillna(False)
    else:
        known = pd.Series(False, index=mine.index)
    mine = mine.assign(known=known.astype(bool))
    device_of = links.hard.assign(component=links.hard["customer_id"].map(label))
    out = []
    for comp, part in mine.groupby("component", sort=False):
        members = sorted(part["customer_id"].unique(), key=str)
        confirmed = part.loc[part["known"], "customer_id"].nunique()
        out.append(
            {
                "size": len(members),
                "members": tuple(members),
                "devices": tuple(
                    sorted(device_of.loc[device_of["component"] == comp, "device_id"].unique(), key=str)
                ),
                "merchants": tuple(part["merchant_id"].value_counts(sort=True).index),
                "payments": len(part),
                "amount": round(float(part["amount"].sum()), 2),
                "known_frauds": int(part["known"].sum()),
                "confirmed_share": confirmed / len(members),
                "first_payment": part["timestamp"].min(),
                "last_payment": part["timestamp"].max(),
            }
        )
    frame = pd.DataFrame(out).sort_values(["size", "payments"], ascending=False, kind="stable")
    frame.insert(0, "group", range(len(frame)))
    return frame.reset_index(drop=True)[GROUP_COLUMNS]


def day_groups(
    tx: pd.DataFrame,
    params: FeatureParams,
    day: str | pd.Timestamp,
    *,
    min_size: int = MIN_SIZE,
    soft: bool = True,
) -> pd.DataFrame:
    """The groups listed for UTC day ``day``: :func:`groups_at` the end of that day (its
    payments and the ``graph_window`` before them, labels known by midnight)."""
    return groups_at(tx, params, _day(day) + _DAY, min_size=min_size, soft=soft)


#: the columns :func:`active_rings` adds in front of :data:`GROUP_COLUMNS`
ACTIVE_COLUMNS = ["ring_id", "day", "payments_day", "amount_day", "flagged_customers"]


def ring_id(day: str, n: int) -> str:
    """``DAY/Gn``: the ``n``-th (from 1) group listed for local day ``DAY``."""
    return f"{day}/G{int(n)}"


def parse_ring_id(text: str) -> tuple[str, int]:
    """``(DAY, n)`` of a :func:`ring_id`; :class:`~okml.errors.OkmlError` in one line if it is not one."""
    import re

    from okml.errors import OkmlError

    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})/G([1-9]\d*)", str(text).strip())
    if m is None:
        raise OkmlError(f"ring id {text!r}: expected DAY/Gn as okml rings lists it (e.g. 2026-06-18/G1)")
    return m.group(1), int(m.group(2))


def local_day_bounds(day: str | pd.Timestamp, timezone: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The start and end (UTC) of local day ``day`` in ``timezone``."""
    start = pd.Timestamp(pd.Timestamp(day).strftime("%Y-%m-%d")).tz_localize(timezone)
    end = (start.tz_localize(None) + _DAY).tz_localize(timezone)
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def active_rings(
    tx: pd.DataFrame,
    params: FeatureParams,
    day: str | pd.Timestamp,
    *,
    min_size: int = MIN_SIZE,
    soft: bool = True,
    flagged: pd.Series | None = None,
) -> pd.DataFrame:
    """The groups of at least ``min_size`` customers at the end of local day ``day``
    (``params.timezone``) that paid on that day, ranked: largest first, then most payments
    of the day, then most payments in the graph.

    Columns :data:`ACTIVE_COLUMNS` then :data:`GROUP_COLUMNS`: ``ring_id`` (``DAY/Gn`` by
    rank), ``day``, ``payments_day`` and ``amount_day`` (the group's payments of the day and
    their sum), ``flagged_customers`` (members among ``flagged``, customer ids whose
    payments the model flagged that day; 0 without it). The graph holds the payments before
    the day's end and labels known by then (:func:`groups_at`).
    """
    label = pd.Timestamp(day).strftime("%Y-%m-%d")
    start, end = local_day_bounds(label, params.timezone)
    groups = groups_at(tx, params, end, min_size=min_size, soft=soft)
    if groups.empty:
        return pd.DataFrame(columns=ACTIVE_COLUMNS + GROUP_COLUMNS)
    today = tx.loc[(tx["timestamp"] >= start) & (tx["timestamp"] < end), ["customer_id", "amount"]]
    member_of = {c: i for i, members in enumerate(groups["members"]) for c in members}
    of_day = today.assign(_g=today["customer_id"].map(member_of)).dropna(subset=["_g"])
    per = of_day.groupby("_g")["amount"].agg(["size", "sum"])
    marked = set(flagged.tolist()) if flagged is not None else set()
    groups = groups.assign(
        payments_day=[int(per["size"].get(i, 0)) for i in range(len(groups))],
        amount_day=[round(float(per["sum"].get(i, 0.0)), 2) for i in range(len(groups))],
        flagged_customers=[len(marked & set(m)) for m in groups["members"]],
        day=label,
    )
    groups = groups.loc[groups["payments_day"] > 0]
    groups = groups.sort_values(["size", "payments_day", "payments"], ascending=False, kind="stable")
    groups = groups.assign(
        ring_id=[ring_id(label, n) for n in range(1, len(groups) + 1)], group=range(len(groups))
    )
    return groups.reset_index(drop=True)[ACTIVE_COLUMNS + GROUP_COLUMNS]


def ring_payments(tx: pd.DataFrame, params: FeatureParams, ring: pd.Series) -> pd.DataFrame:
    """The payments of a listed ring (a row of :func:`active_rings`): its members' payments
    of the graph it was found in (from its first to its last payment, up to the day's end)."""
    _, end = local_day_bounds(ring["day"], params.timezone)
    members = set(ring["members"])
    span = (tx["timestamp"] >= ring["first_payment"]) & (tx["timestamp"] < end)
    return tx.loc[span & tx["customer_id"].isin(members)]


def ring_detection(
    tx: pd.DataFrame,
    params: FeatureParams,
    *,
    min_size: int = MIN_SIZE,
    soft: bool = True,
    prefix: str = "ring-",
    whole: float = 0.9,
) -> pd.DataFrame:
    """For each ring of the ground truth (``actor_id`` starting with ``prefix``), day by day
    from its first payment to its last: the listed group holding most of its accounts, its
    recall (share of the ring's accounts in it) and precision (share of it in the ring).

    Returns one row per ring: ``ring``, ``accounts``, ``first_payment`` (day),
    ``days_active``, ``day_listed`` (days after the day of its first payment on which a
    listed group first holds at least half of its accounts and is at least half ring; NaN if
    never), ``recall_listed``, ``precision_listed`` (that day), ``day_whole`` (the first day
    with recall and precision at least ``whole``), ``recall_last``, ``precision_last`` (on
    the day of its last payment).

    Raises
    ------
    KeyError
        ``tx`` has no ``actor_id`` column (simulated data has one).
    """
    truth = tx.loc[tx["actor_id"].astype("string").str.startswith(prefix).fillna(False)]
    rows = []
    for ring, part in truth.groupby("actor_id", sort=True):
        accounts = set(part["customer_id"])
        first, last = _day(part["timestamp"].min()), _day(part["timestamp"].max())
        days = pd.date_range(first, last, freq="D")
        per_day = []
        for day in days:
            groups = day_groups(tx, params, day, min_size=min_size, soft=soft)
            best_recall, best_precision = 0.0, 0.0
            for members in groups["members"]:
                hit = len(accounts & set(members))
                if hit / len(accounts) > best_recall:
                    best_recall, best_precision = hit / len(accounts), hit / len(members)
            per_day.append((best_recall, best_precision))
        listed = [i for i, (r, p) in enumerate(per_day) if r >= 0.5 and p >= 0.5]
        at = listed[0] if listed else None
        complete = [i for i, (r, p) in enumerate(per_day) if r >= whole and p >= whole]
        rows.append(
            {
                "ring": ring,
                "accounts": len(accounts),
                "first_payment": first,
                "days_active": len(days),
                "day_listed": float(at) if at is not None else float("nan"),
                "recall_listed": per_day[at][0] if at is not None else float("nan"),
                "precision_listed": per_day[at][1] if at is not None else float("nan"),
                "day_whole": float(complete[0]) if complete else float("nan"),
                "recall_last": per_day[-1][0],
                "precision_last": per_day[-1][1],
            }
        )
    return pd.DataFrame(rows)
