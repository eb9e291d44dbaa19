"""Fraud metrics on scored transactions; nothing here knows about models.

Most functions take a *scored frame*: one row per test transaction with columns
``timestamp`` (UTC; or a ``day`` column), ``customer_id``, ``is_fraud`` (ground truth),
``score`` and, for money, ``amount`` (and optionally ``fraud_type``). Days are UTC days.

Card Precision@k (the Handbook's ``card_precision_top_k``)
    Each day, rank customers by their highest score that day and alert the top k. The day's
    precision is the share of alerted customers with a fraud that day. Customers caught on an
    earlier day (alerted while having a fraud) are removed from later days: their card is
    blocked. CP@k is the mean over days with transactions; a day whose customers were all
    caught before has no precision (NaN) and is left out of the mean. Ties are broken by ``customer_id``
    (ascending) so results are deterministic. When a day has fewer than k customers, all are
    alerted and precision is over them (the Handbook divides by k regardless, which would make
    a perfect model score below 1 on a quiet day).

Queue order
    With ``evaluate.rings_first`` a scored frame also has a ``priority`` column (the score,
    plus 1 for the payments of a ring: :func:`okml.evaluate.scoring.ranking_priority`), the
    order reviewers work in; :func:`ranked` puts it in ``score`` for the functions here.

Operating points and money
    A *flag* marks a transaction for review; an *alert* is a customer-day with at least one
    flagged transaction (what a reviewer opens). ``top_k``: each day the customers alerted by
    CP@k are flagged on their transactions of that day with a score at or above the day's
    cut-off (the lowest alerted customer score that day), so alerts per day <= k. A threshold:
    every transaction with ``score >= threshold`` is flagged.
    After a *true* alert (the customer had a fraud that day) the customer is blocked: later
    days' transactions raise no alerts and their frauds count as caught (prevented). A fraud is
    *caught* if flagged or blocked, otherwise *missed*. Friction of blocked legit payments is
    not counted. Expected cost = ``review_cost`` x alerts + ``false_alert_cost`` x false alerts
    + compensation, where compensation = ``reimbursed_share`` x the missed amount of frauds
    with a victim to pay back (:mod:`okml.compensation`: fake orders and forged identities
    have none; frauds of unknown type are paid back), the rule of the finance ledger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from okml.compensation import reimbursable
from okml.config import CostParams


# ------------------------------------------------------------------ threshold-free metrics
def _arrays(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def _both_classes(y: np.ndarray) -> bool:
    return bool(len(y)) and 0 < y.sum() < len(y)


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, s = _arrays(y_true, scores)
    return float(roc_auc_score(y, s)) if _both_classes(y) else math.nan


def average_precision(y_true: Any, scores: Any) -> float:
    """Average precision (area under the step precision-recall curve, as scikit-learn).

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds; NaN without frauds.
    """
    y, s = _arrays(y_true, scores)
    return float(average_precision_score(y, s)) if _both_classes(y) else math.nan


def recall_at_fpr(y_true: Any, scores: Any, fpr: float = 0.01) -> float:
    """Share of frauds caught by the lowest threshold whose false-positive rate is <= ``fpr``.

    Thresholds are the distinct scores (flag ``score >= t``); no interpolation between them,
    so tied legit scores that would cross ``fpr`` together are all left unflagged.
    """
    y, s = _arrays(y_true, scores)
    if not _both_classes(y):
        return math.nan
    fprs, tprs, _ = roc_curve(y, s, drop_intermediate=False)
    return float(tprs[fprs <= fpr + 1e-12].max())


# ------------------------------------------------------------------------ scored frames
def ranked(scored: pd.DataFrame) -> pd.DataFrame:
    """``scored`` in the order of the review queue: ``score`` replaced by the frame's
    ``priority`` when it has one (:func:`okml.evaluate.scoring.ranking_priority`), else
    ``scored`` itself. The functions here rank by ``score``: pass them this."""
    return scored.assign(score=scored["priority"].to_numpy(dtype=float)) if "priority" in scored else scored


def _with_day(scored: pd.DataFrame) -> pd.DataFrame:
    if "day" in scored:
        return scored
    return scored.assign(day=pd.to_datetime(scored["timestamp"], utc=True).dt.floor("D"))


def daily_top_k(
    scored: pd.DataFrame, k: int, remove_detected: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-day customer alerts for Card Precision@k.

    Returns
    -------
    per_day:
        One row per day: ``day, customers`` (after removing caught customers),
        ``fraud_customers, alerts, detected, precision``.
    alerts:
        One row per alerted customer-day: ``day, customer_id, score`` (the customer's highest
        score that day) and ``fraud`` (1 if the customer had a fraud that day).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    df = _with_day(scored)
    _arrays(df["is_fraud"], df["score"])
    per_customer = (
        df.groupby(["day", "customer_id"], sort=True)
        .agg(score=("score", "max"), fraud=("is_fraud", "max"))
        .reset_index()
    )
    caught: list[Any] = []
    rows, alerts = [], []
    for day, group in per_customer.groupby("day", sort=True):
        if caught:
            group = group[~group["customer_id"].isin(caught)]
        # stable sort keeps customer_id order among equal scores
        top = group.sort_values("score", ascending=False, kind="stable").head(k)
        detected = top.loc[top["fraud"] == 1, "customer_id"].tolist()
        rows.append(
            {
                "day": day,
                "customers": len(group),
                "fraud_customers": int((group["fraud"] == 1).sum()),
                "alerts": len(top),
                "detected": len(detected),
                "precision": len(detected) / len(top) if len(top) else math.nan,
            }
        )
        alerts.append(top)
        if remove_detected:
            caught.extend(detected)
    per_day = pd.DataFrame(
        rows, columns=["day", "customers", "fraud_customers", "alerts", "detected", "precision"]
    )
    alert_frame = pd.concat(alerts, ignore_index=True) if alerts else per_customer.iloc[:0]
    return per_day, alert_frame[["day", "customer_id", "score", "fraud"]]


def card_precision_at_k(scored: pd.DataFrame, k: int, remove_detected: bool = True) -> float:
    """Card Precision@k: mean over days of the share of alerted customers with a fraud.

    See the module docstring for ties, removal of caught customers and days with fewer than
    k customers. NaN for an empty frame.
    """
    per_day, _ = daily_top_k(scored, k, remove_detected)
    return float(per_day["precision"].mean()) if len(per_day) else math.nan


def flags_top_k(scored: pd.DataFrame, k: int) -> np.ndarray:
    """Transactions flagged at the ``top_k`` operating point (boolean, in row order)."""
    df = _with_day(scored)
    _, alerts = daily_top_k(df, k, remove_detected=True)
    cutoff = alerts.groupby("day")["score"].min()
    alerted = pd.MultiIndex.from_frame(df[["day", "customer_id"]]).isin(
        pd.MultiIndex.from_frame(alerts[["day", "customer_id"]])
    )
    above = (df["score"] >= df["day"].map(cutoff)).fillna(False).to_numpy(dtype=bool)
    return alerted & above


def flags_threshold(scored: pd.DataFrame, threshold: float) -> np.ndarray:
    """Transactions with ``score >= threshold``."""
    return scored["score"].to_numpy(dtype=float) >= threshold


def _cents(amount: Any) -> float:
    """A money amount rounded to cents (``0.1 + 0.2`` is ``0.3``)."""
    return round(float(amount), 2)


class _Book:
    """Integer codes for fast repeated outcome computations on one scored frame."""

    def __init__(self, scored: pd.DataFrame) -> None:
        df = _with_day(scored)
        self.n = len(df)
        day_codes, days = pd.factorize(df["day"], sort=True)
        cust_codes, customers = pd.factorize(df["customer_id"], sort=True)
        self.day = day_codes.astype(np.int64)
        self.customer = cust_codes.astype(np.int64)
        self.n_days = len(days)
        self.n_customers = len(customers)
        self.key = self.day * max(self.n_customers, 1) + self.customer
        self.fraud = df["is_fraud"].to_numpy() == 1
        self.amount = df["amount"].to_numpy(dtype=float) if "amount" in df else np.zeros(self.n, dtype=float)
        # did this row's customer have a fraud that day
        fraud_keys = np.unique(self.key[self.fraud])
        self.customer_day_fraud = np.isin(self.key, fraud_keys)
        self.types = (
            df["fraud_type"].astype("string").fillna("unknown").to_numpy(dtype=object)
            if "fraud_type" in df
            else None
        )
        # frauds with a victim to pay back (okml.compensation: not fake orders or forged ids)
        self.victim = self.fraud & reimbursable(df["fraud_type"] if "fraud_type" in df else None, self.n)

    def outcome(self, flagged: np.ndarray) -> dict[str, np.ndarray]:
        flagged = np.asarray(flagged, dtype=bool)
        if flagged.shape != (self.n,):
            raise ValueError(f"{len(flagged)} flags for {self.n} transactions")
        true_rows = flagged & self.customer_day_fraud
        first_true = np.full(self.n_customers, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_true, self.customer[true_rows], self.day[true_rows])
        blocked = self.day > first_true[self.customer]
        effective = flagged & ~blocked
        caught = self.fraud & (effective | blocked)
        return {"flagged": effective, "blocked": blocked, "caught": caught}

    def money(self, flagged: np.ndarray, cost: CostParams) -> dict[str, float]:
        out = self.outcome(flagged)
        alert_keys = np.unique(self.key[out["flagged"]])
        true_alerts = int(np.unique(self.key[out["flagged"] & self.customer_day_fraud]).size)
        alerts = int(alert_keys.size)
        false_alerts = alerts - true_alerts
        # money is rounded to cents: float sums carry noise (31315.780000000003) into MLflow
        fraud_amount = _cents(self.amount[self.fraud].sum())
        caught_amount = _cents(self.amount[out["caught"]].sum())
        missed = _cents(fraud_amount - caught_amount)
        n_frauds = int(self.fraud.sum())
        days = max(self.n_days, 1)
        # paid back: the missed frauds that had a victim (the ledger's rule, okml.compensation)
        compensation = _cents(cost.reimbursed_share * self.amount[self.victim & ~out["caught"]].sum())
        return {
            "alerts_per_day": alerts / days,
            "false_alerts_per_day": false_alerts / days,
            "alert_precision": true_alerts / alerts if alerts else math.nan,
            "recall": int(out["caught"].sum()) / n_frauds if n_frauds else math.nan,
            "fraud_amount": fraud_amount,
            "caught_amount": caught_amount,
            "missed_amount": missed,
            "compensation": compensation,
            "expected_cost": _cents(
                cost.review_cost * alerts + cost.false_alert_cost * false_alerts + compensation
            ),
        }


def outcome(scored: pd.DataFrame, flagged: Any) -> pd.DataFrame:
    """Per transaction: ``flagged`` (raised an alert), ``blocked`` (after a true alert),
    ``caught`` (a fraud flagged or blocked). Same index as ``scored``."""
    res = _Book(scored).outcome(np.asarray(flagged, dtype=bool))
    return pd.DataFrame(res, index=scored.index)


def money(scored: pd.DataFrame, flagged: Any, cost: CostParams) -> dict[str, float]:
    """Alerts, recall and money at an operating point given by per-transaction ``flagged``.

    Keys: ``alerts_per_day, false_alerts_per_day, alert_precision, recall`` (share of fraud
    transactions caught), ``fraud_amount, caught_amount, missed_amount, compensation``
    (``reimbursed_share`` x the missed amount of frauds with a victim, :mod:`okml.compensation`)
    and ``expected_cost``; amounts are totals over the frame, rounded to cents.
    """
    return _Book(scored).money(np.asarray(flagged, dtype=bool), cost)


def recall_by_type(scored: pd.DataFrame, flagged: Any) -> dict[str, float]:
    """Share of fraud transactions caught, per ``fraud_type`` (missing type: ``unknown``)."""
    book = _Book(scored)
    if book.types is None:
        return {}
    caught = book.outcome(np.asarray(flagged, dtype=bool))["caught"]
    frame = pd.DataFrame({"type": book.types[book.fraud], "caught": caught[book.fraud]})
    return {str(t): float(v) for t, v in frame.groupby("type", sort=True)["caught"].mean().items()}


# -------------------------------------------------------------------------- cost search
def candidate_thresholds(scores: Any, max_candidates: int = 256) -> np.ndarray:
    """Score thresholds to try, highest first, always ending with ``+inf`` (flag nothing).

    All distinct scores when there are at most ``max_candidates``; otherwise thresholds that
    flag a log-spaced number of transactions (1, 2, 4, ... n), since useful thresholds flag a
    small share of payments.
    """
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    distinct = np.unique(s)[::-1]
    if len(distinct) <= max_candidates:
        chosen = distinct
    else:
        positions = np.unique(np.geomspace(1, len(s), max_candidates).astype(int) - 1)
        chosen = np.unique(s[positions])[::-1]
    return np.concatenate([[np.inf], chosen])


def cost_curve(
    scored: pd.DataFrame, cost: CostParams, thresholds: Sequence[float] | np.ndarray | None = None
) -> pd.DataFrame:
    """Expected cost, alerts and missed amount for each threshold (flag ``score >= t``)."""
    book = _Book(scored)
    ts = candidate_thresholds(scored["score"]) if thresholds is None else np.asarray(thresholds)
    s = scored["score"].to_numpy(dtype=float)
    rows = []
    for t in ts:
        m = book.money(s >= t, cost)
        rows.append(
            {
                "threshold": float(t),
                "alerts_per_day": m["alerts_per_day"],
                "missed_amount": m["missed_amount"],
                "expected_cost": m["expected_cost"],
            }
        )
    return pd.DataFrame(rows)


def cost_threshold(scored: pd.DataFrame, cost: CostParams, max_candidates: int = 256) -> float:
    """The threshold with the lowest expected cost on ``scored`` (highest one among ties).

    ``+inf`` (flag nothing) wins when no threshold pays for its reviews.
    """
    curve = cost_curve(scored, cost, candidate_thresholds(scored["score"], max_candidates))
    # the curve runs from high to low thresholds and argmin returns the first minimum
    costs = curve["expected_cost"].to_numpy()
    return float(curve["threshold"].iloc[int(np.argmin(costs))])
