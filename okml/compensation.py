"""Compensation: which payments OKPay pays back once an investigation confirms a fraud.

One rule, used by the finance ledger (``okml cases --compensation``) and by the money metrics
of evaluation (:mod:`okml.evaluate.metrics`), so the compensation a model is judged by is the
money finance would pay:

* A fraud has a **victim** to pay back unless the account holder is the fraudster: fake
  orders (accounts colluding with a merchant, 骗单) and forged identities are first-party
  fraud, and nobody is reimbursed for them (:data:`FIRST_PARTY`). Account takeover, a
  compromised merchant and any fraud of unknown type (real data rarely says) are paid back to
  the customer whose money it was.
* A **confirmed case** (the reviewers' latest decision is *fraud confirmed*) pays back the
  customer's confirmed fraudulent payments of the look-back up to the end of the case's day;
  when they were skimmed at a compromised merchant, every customer's confirmed frauds of that
  kind at that merchant in the same span are paid back too (one confirmed case reveals the
  merchant). A payment is paid once, to the customer who made it.

"Confirmed" is what the labels say when the ledger is written: ``is_fraud`` of the merged
transactions (:func:`okml.data.load` folds in chargebacks, user reports and the reviewers'
decisions) with ``label_time`` at or before ``as_of``.

>>> import pandas as pd
>>> reimbursable(pd.Series(["account_takeover", "fake_orders", None]))
array([ True, False,  True])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from okml.errors import DataError

#: Fraud types with no victim to pay back: the account holder is the fraudster.
FIRST_PARTY = frozenset({"fake_orders", "forged_identity"})
#: The fraud type whose victims are every customer skimmed at the merchant.
COMPROMISED_MERCHANT = "compromised_merchant"

#: The columns of :func:`ledger`, in order.
LEDGER = (
    "case_id", "decided_at", "reviewer", "payee", "transaction_id", "timestamp", "merchant_id",
    "amount", "fraud_type", "label_source", "basis",
)  # fmt: skip


def reimbursable(fraud_type: pd.Series | None, n: int | None = None) -> np.ndarray:
    """Per fraud, whether it has a victim to pay back (not :data:`FIRST_PARTY`; an unknown
    type is paid back). ``fraud_type`` None: all ``n`` are."""
    if fraud_type is None:
        return np.ones(int(n or 0), dtype=bool)
    return ~fraud_type.astype("string").isin(FIRST_PARTY).fillna(False).to_numpy(dtype=bool)


def _check(transactions: pd.DataFrame, confirmed: pd.DataFrame) -> None:
    need = ("transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "is_fraud")
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise DataError(
            f"transactions lack {', '.join(missing)} for the compensation ledger", column=missing[0]
        )
    missing = [c for c in ("case_id", "customer_id", "day", "time", "reviewer") if c not in confirmed.columns]
    if missing:
        raise DataError(f"confirmed cases lack {', '.join(missing)}", column=missing[0])


def ledger(
    transactions: pd.DataFrame,
    confirmed: pd.DataFrame,
    timezone: str,
    lookback: str | pd.Timedelta = "30D",
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The payments to pay back for ``confirmed`` cases, one row each (:data:`LEDGER`).

    Parameters
    ----------
    transactions:
        Transactions with labels merged (:func:`okml.data.load`): ``is_fraud``, and
        ``label_time``, ``label_source``, ``fraud_type`` when present.
    confirmed:
        The confirmed cases, one row each: ``case_id``, ``customer_id``, ``day`` (the
        reviewers' local day ``YYYY-MM-DD``), ``time`` (of the decision), ``reviewer``.
    timezone:
        The reviewers' time zone (``features.timezone``): where a case's day ends.
    lookback:
        How far back before the end of the case's day its payments are paid back.
    as_of:
        Labels known at this time count (default: now).

    Returns
    -------
    pandas.DataFrame
        By payee, then time; amounts as in the data. No confirmed case: no rows.
    """
    _check(transactions, confirmed)
    as_of = as_of if as_of is not None else pd.Timestamp.now(tz="UTC")
    back = pd.Timedelta(lookback)
    fraud = transactions["is_fraud"].to_numpy() == 1
    if "label_time" in transactions.columns:
        known = (
            transactions["label_time"].notna().to_numpy() & (transactions["label_time"] <= as_of).to_numpy()
        )
        fraud &= known
    types = transactions["fraud_type"] if "fraud_type" in transactions.columns else None
    frauds = transactions.loc[fraud & reimbursable(types, len(transactions))]
    customer = frauds["customer_id"].astype(str)
    rows: list[pd.DataFrame] = []
    paid: set[Any] = set()
    for case in confirmed.sort_values(["day", "time", "case_id"], kind="stable").itertuples(index=False):
        end = (pd.Timestamp(case.day) + pd.Timedelta(days=1)).tz_localize(timezone)
        span = (frauds["timestamp"] < end) & (frauds["timestamp"] >= end - back)
        own = frauds.loc[span & (customer == str(case.customer_id))]
        found = [own.assign(basis="own confirmed fraud")]
        if types is not None:
            skimmed = own.loc[own["fraud_type"].astype("string") == COMPROMISED_MERCHANT, "merchant_id"]
            for merchant in dict.fromkeys(skimmed):
                at = frauds.loc[
                    span
                    & (frauds["merchant_id"] == merchant)
                    & (frauds["fraud_type"].astype("string") == COMPROMISED_MERCHANT).to_numpy()
                    & (customer != str(case.customer_id))
                ]
                found.append(at.assign(basis=f"customer of compromised merchant {merchant}"))
        for part in found:
            part = part.loc[~part["transaction_id"].isin(paid)]
            if part.empty:
                continue
            paid.update(part["transaction_id"])
            rows.append(
                pd.DataFrame(
                    {
                        "case_id": case.case_id,
                        "decided_at": case.time,
                        "reviewer": case.reviewer,
                        "payee": part["customer_id"].to_numpy(),
                        "transaction_id": part["transaction_id"].to_numpy(),
                        "timestamp": part["timestamp"].to_numpy(),
                        "merchant_id": part["merchant_id"].to_numpy(),
                        "amount": part["amount"].to_numpy(dtype=float),
                        "fraud_type": part["fraud_type"].to_numpy() if types is not None else None,
                        "label_source": part["label_source"].to_numpy()
                        if "label_source" in part.columns
                        else None,
                        "basis": part["basis"].to_numpy(),
                    }
                )
            )
    if not rows:
        return pd.DataFrame(columns=list(LEDGER))
    out = pd.concat(rows, ignore_index=True)
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    order = out.assign(_payee=out["payee"].astype(str)).sort_values(
        ["_payee", "timestamp", "transaction_id"], kind="stable"
    )
    return order.drop(columns="_payee").reset_index(drop=True)[list(LEDGER)]
