"""Cases: a reviewer's unit of work is a customer, not a payment.

A **case** is one customer's flagged payments of one day (the reviewers' local day,
``features.timezone``), ranked by its highest score (its priority when the file was scored
rings first), with the customer's other payments of
the look-back as context: one investigation settles all of them, and the alert budget ``k``
of evaluation counts customers (Card Precision@k), so the queue and the report count cases.

:func:`build_cases` takes a scored file's rows (:mod:`okml.score`) and returns the cases of
every day, best first; :func:`cases_frame` is their headers as a table (one row per case).

A **ring case** (:func:`ring_cases`) is a group of linked accounts active that day
(:func:`okml.rings.active_rings`: they share devices, or pay one merchant minutes apart on
several days) with at least one member's case: the reviewer sees the members together and
decides them at once.

>>> import pandas as pd
>>> scored = pd.DataFrame({
...     "transaction_id": [1, 2, 3], "customer_id": ["C1", "C1", "C2"],
...     "merchant_id": ["M1", "M2", "M1"], "amount": [10.0, 20.0, 5.0],
...     "timestamp": pd.to_datetime(["2026-03-01 09:00", "2026-03-01 10:00",
...                                  "2026-03-01 11:00"], utc=True),
...     "score": [0.9, 0.7, 0.2], "flag": [True, True, False]})
>>> [(c.case_id, c.n_flagged, c.flagged_amount) for c in build_cases(scored, "UTC")]
[('2026-03-01/C1', 2, 30.0)]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from okml.config import FeatureParams
from okml.errors import DataError

#: The columns a scored file must have for cases.
NEEDED = ("transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "score", "flag")


@dataclass(frozen=True)
class CaseReason:
    """A reason over a whole case: a feature group, its contribution summed over the
    case's flagged payments, and the text of the payment where it weighed most."""

    group: str
    contribution: float
    text: str
    payments: int  # flagged payments of the case that have this reason


@dataclass(frozen=True)
class Case:
    """One customer's flagged payments of one local day.

    Attributes
    ----------
    case_id:
        ``DAY/CUSTOMER`` (stable: the same scored file gives the same ids).
    day:
        The reviewers' local day, ``YYYY-MM-DD``.
    rank:
        1 = the day's riskiest case (highest score, or first in the queue when the file was
        scored rings first: its ``priority``; ties: more flagged money first).
    payments:
        The flagged payments of the day, in time order.
    context:
        The customer's other payments in the scored rows within ``lookback`` before the
        case's last flagged payment (unflagged ones of the day included), in time order.
    """

    case_id: str
    day: str
    customer_id: Any
    rank: int
    score: float
    n_flagged: int
    flagged_amount: float
    first: pd.Timestamp
    last: pd.Timestamp
    merchants: list[Any]
    devices: list[Any]
    reasons: list[CaseReason]
    payments: pd.DataFrame = field(repr=False)
    context: pd.DataFrame = field(repr=False)

    def header(self) -> dict[str, Any]:
        """The case header as one flat record (what :func:`cases_frame` tabulates)."""
        return {
            "case_id": self.case_id,
            "day": self.day,
            "rank": self.rank,
            "customer_id": self.customer_id,
            "score": self.score,
            "n_flagged": self.n_flagged,
            "flagged_amount": self.flagged_amount,
            "first": self.first,
            "last": self.last,
            "n_merchants": len(self.merchants),
            "merchants": ", ".join(map(str, self.merchants)),
            "n_devices": len(self.devices),
            "devices": ", ".join(map(str, self.devices)),
            "reasons": [r.text for r in self.reasons],
            "n_context": len(self.context),
        }


def _check(scored: pd.DataFrame) -> None:
    missing = [c for c in NEEDED if c not in scored.columns]
    if missing:
        raise DataError(
            f"scored rows lack {', '.join(missing)}: cases are built from a file written by okml score",
            column=missing[0],
        )
    if not isinstance(scored["timestamp"].dtype, pd.DatetimeTZDtype):
        raise DataError("timestamp: cases need time-zone-aware timestamps (a scored file has UTC)")
    bad = scored["flag"].isna()
    if bad.any():
        raise DataError(
            "flag: missing for some rows (the model flags per day: score with a threshold)",
            column="flag",
            rows=scored.index[bad][:5].tolist(),
        )


def case_reasons(rows: pd.DataFrame, top: int = 3) -> list[CaseReason]:
    """Groups summed over the flagged payments (their ``reasons`` JSON), largest first."""
    if "reasons" not in rows.columns:
        return []
    total: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    count: dict[str, int] = {}
    for raw in rows["reasons"]:
        if not isinstance(raw, str) or not raw:
            continue
        for r in json.loads(raw):
            g, c = r["group"], float(r["contribution"])
            total[g] = total.get(g, 0.0) + c
            count[g] = count.get(g, 0) + 1
            if g not in best or c > best[g][0]:
                best[g] = (c, r["text"])
    order = sorted(total, key=lambda g: (-total[g], g))[:top]
    return [CaseReason(g, total[g], best[g][1], count[g]) for g in order]


def build_cases(
    scored: pd.DataFrame, timezone: str, lookback: str | pd.Timedelta = "30D", top_reasons: int = 3
) -> list[Case]:
    """The cases of every day of ``scored``: days in order, each day's cases best first.

    Parameters
    ----------
    scored:
        Rows of a scored file (``okml score``): at least :data:`NEEDED`; ``device_id`` and
        ``reasons`` are used when present.
    timezone:
        The reviewers' time zone (``features.timezone``): it decides which day a payment
        belongs to.
    lookback:
        How far back the context of a case reaches (from its last flagged payment).
    top_reasons:
        Reasons per case.

    Raises
    ------
    DataError
        A needed column is missing, timestamps are naive, or ``flag`` is missing.
    """
    _check(scored)
    back = pd.Timedelta(lookback)
    rows = scored.sort_values(["timestamp", "transaction_id"], kind="stable")
    local_day = rows["timestamp"].dt.tz_convert(timezone).dt.strftime("%Y-%m-%d")
    flagged = rows[rows["flag"].astype(bool).to_numpy()]
    by_customer = {c: g for c, g in rows.groupby("customer_id", sort=False)}
    cases: list[Case] = []
    for day, of_day in flagged.groupby(local_day[flagged.index], sort=True):
        built = []
        for customer, pays in of_day.groupby("customer_id", sort=False):
            last = pays["timestamp"].max()
            mine = by_customer[customer]
            ctx = mine[
                (mine["timestamp"] > last - back)
                & (mine["timestamp"] <= last)
                & ~mine["transaction_id"].isin(pays["transaction_id"])
            ]
            devices = list(dict.fromkeys(pays["device_id"].dropna())) if "device_id" in pays.columns else []
            built.append(
                dict(
                    day=str(day),
                    customer_id=customer,
                    score=float(pays["score"].max()),
                    # the queue's order (rings first when the file was scored so)
                    priority=float(pays["priority"].max() if "priority" in pays else pays["score"].max()),
                    n_flagged=len(pays),
                    flagged_amount=float(pays["amount"].sum()),
                    first=pays["timestamp"].min(),
                    last=last,
                    merchants=list(dict.fromkeys(pays["merchant_id"])),
                    devices=devices,
                    reasons=case_reasons(pays, top_reasons),
                    payments=pays.reset_index(drop=True),
                    context=ctx.reset_index(drop=True),
                )
            )
        built.sort(key=lambda c: (-c["priority"], -c["score"], -c["flagged_amount"], str(c["customer_id"])))
        for rank, c in enumerate(built, start=1):
            fields = {k: v for k, v in c.items() if k != "priority"}
            cases.append(Case(case_id=f"{day}/{c['customer_id']}", rank=rank, **fields))
    return cases


@dataclass(frozen=True)
class RingCase:
    """A ring of linked accounts of one local day and its members' cases.

    ``ring_id`` is ``okml rings``' id (``DAY/Gn``); ``members`` all the group's accounts,
    ``cases`` those of them with a case that day (riskiest first); ``score``, ``n_flagged``
    and ``flagged_amount`` are over those cases; ``confirmed_share`` is the share of members
    with a fraud known by the day's end; ``payments_day`` and ``amount_day`` are the whole
    group's payments of the day.
    """

    ring_id: str
    day: str
    members: tuple[Any, ...]
    devices: tuple[Any, ...]
    merchants: tuple[Any, ...]
    confirmed_share: float
    payments_day: int
    amount_day: float
    cases: list[Case] = field(repr=False)

    @property
    def score(self) -> float:
        return max(c.score for c in self.cases)

    @property
    def n_flagged(self) -> int:
        return sum(c.n_flagged for c in self.cases)

    @property
    def flagged_amount(self) -> float:
        return sum(c.flagged_amount for c in self.cases)


def ring_cases(cases: Sequence[Case], rings: pd.DataFrame) -> list[RingCase]:
    """The ring cases of one day: each row of ``rings`` (:func:`okml.rings.active_rings` of
    that day) that holds the customer of at least one of ``cases`` (that day's), riskiest
    first (highest member score, then more flagged money)."""
    by_customer = {str(c.customer_id): c for c in cases}
    out = []
    for _, r in rings.iterrows():
        mine = [by_customer[str(m)] for m in r["members"] if str(m) in by_customer]
        if not mine:
            continue
        mine.sort(key=lambda c: c.rank)
        out.append(
            RingCase(
                ring_id=r["ring_id"], day=r["day"], members=tuple(r["members"]), devices=tuple(r["devices"]),
                merchants=tuple(r["merchants"]), confirmed_share=float(r["confirmed_share"]),
                payments_day=int(r["payments_day"]), amount_day=float(r["amount_day"]), cases=mine,
            )
        )  # fmt: skip
    out.sort(key=lambda rc: (-rc.score, -rc.flagged_amount, rc.ring_id))
    return out


def day_ring_cases(
    tx: pd.DataFrame, params: FeatureParams, cases: Sequence[Case], day: str
) -> list[RingCase]:
    """:func:`ring_cases` of local day ``day``: the groups active that day in ``tx`` (the
    transactions, or the scored rows), with the customers of that day's ``cases`` as the
    flagged members."""
    from okml.rings import active_rings

    mine = [c for c in cases if c.day == day]
    if not mine:
        return []
    flagged = pd.Series([c.customer_id for c in mine])
    return ring_cases(mine, active_rings(tx, params, day, flagged=flagged))


def cases_frame(cases: Sequence[Case]) -> pd.DataFrame:
    """One row per case (:meth:`Case.header`), in the order given (no case: no rows, the
    same columns)."""
    return pd.DataFrame([c.header() for c in cases], columns=list(HEADER))


#: The columns of :func:`cases_frame`.
HEADER = (
    "case_id", "day", "rank", "customer_id", "score", "n_flagged", "flagged_amount", "first", "last",
    "n_merchants", "merchants", "n_devices", "devices", "reasons", "n_context",
)  # fmt: skip
