"""Scoring each payment as it arrives: the online feature state, the model, the flag at its
operating point and the top reasons, in one call (:class:`LiveScorer`).

The features come from :class:`okml.features.online.OnlineFeatures`, which gives the numbers
of the batch engine over the full history (``tests/test_online.py``), so a payment scored
here gets the score the trained model gives it in a batch over all data. The reasons are
those of the reviewers' report (:func:`okml.explain.explain`), in ``explain.language``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from okml.config import Params
from okml.errors import DataError
from okml.features.online import OnlineFeatures, replay, warm_state
from okml.schema import validate

log = logging.getLogger(__name__)

#: The payment fields the service takes (canonical names).
PAYMENT_FIELDS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "merchant_id",
    "amount",
    "device_id",
    "region",
    "account_created_at",
    "merchant_name",
    "merchant_category",
    "channel",
)
_LABEL_COLUMNS = ("is_fraud", "label_time")


@dataclass
class Scored:
    """One scored payment."""

    transaction_id: Any
    score: float
    flag: bool | None  # None: the model has no threshold (top-k models flag per day)
    reasons: list[str]
    features: dict[str, float]
    seconds: float  # time spent in :meth:`LiveScorer.score`
    amount: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "score": self.score,
            "flag": self.flag,
            "reasons": self.reasons,
        }


class LiveScorer:
    """A model and the feature state it scores with.

    Parameters
    ----------
    model:
        A loaded okml model (``okml.pyfunc.FraudModel`` or the pyfunc wrapping it).
    params:
        All parameters (``explain.language``, ``explain.top_reasons``, ``serve``).
    state:
        The feature state to continue from (default: empty).
    """

    def __init__(self, model: Any, params: Params, state: OnlineFeatures | None = None) -> None:
        from okml.models import as_scorer
        from okml.score import _model, operating_point

        self.model = _model(model)
        self.params = params
        self.scorer = as_scorer(self.model)
        self.columns = list(self.model.columns)
        self.feature_params = self.model.feature_params
        point = operating_point(self.model, params)
        self.threshold = point.threshold if point.kind == "threshold" else None
        if point.rings_first and self.threshold is not None:
            # its threshold is of the queue order, rings first, which needs the entity graph
            # the online state does not hold: flag by score at the same daily budget's threshold
            meta = getattr(self.model, "meta", None) or {}
            self.threshold = meta.get("score_threshold")
            log.warning(
                "the model ranks rings first (evaluate.rings_first) but okml serve has no entity graph: "
                "it flags by score alone, at %s (the score threshold of the same daily budget); "
                "okml score ranks rings first",
                "no threshold" if self.threshold is None else f"{float(self.threshold):.4f}",
            )
        self.state = state or self.new_state()
        self._fast = getattr(self.scorer, "predict_array", None)  # xgboost: no pandas per payment
        self._explainer: Any = None
        booster = getattr(self.scorer, "booster", None)
        if booster is not None and hasattr(booster, "set_param"):
            # one row at a time: worker threads would only spin (and take a core from the clients)
            booster.set_param({"nthread": 1})
        if self.state.names != self.columns[: len(self.state.names)] and set(self.columns) - set(
            self.state.names
        ):
            raise DataError(
                f"the model needs features the state does not compute: "
                f"{', '.join(sorted(set(self.columns) - set(self.state.names))[:3])}"
            )

    def new_state(self) -> OnlineFeatures:
        """An empty state for this model's features."""
        return OnlineFeatures(self.feature_params, self.input_columns(), str(self.params.serve.horizon))

    def input_columns(self) -> list[str]:
        """The input columns whose features the model uses (optional families included)."""
        from okml.features import registry

        specs = registry(self.feature_params)
        needs = {col for c in self.columns if c in specs for col in specs[c].needs}
        base = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]
        return base + sorted(needs)

    # ------------------------------------------------------------------------- warm
    def warm(self, history: pd.DataFrame) -> int:
        """Take ``history`` (canonical transactions with labels, validated) into the state,
        in time order; returns the number of payments taken. An empty state is built in
        batch (:func:`okml.features.online.warm_state`); a state that already holds payments
        takes them one at a time."""
        if self.state.last_key is None and not self.state.pending:
            self.state = warm_state(
                history, self.feature_params, self.input_columns(), self.params.serve.horizon
            )
        else:
            replay(history, self.feature_params, self.state)
        return len(history)

    # ------------------------------------------------------------------------ score
    def score(self, payments: Iterable[Mapping[str, Any]], explain: bool = True) -> list[Scored]:
        """Score payments in order (each one sees the ones before it).

        The payments are scored together: each one's features in turn (the state moves
        payment by payment), then one booster call for all of them and one explanation call
        for the flagged ones, which is what makes a group of requests cheaper than its
        requests one by one. ``seconds`` of each result is the time the group took.
        ``explain=False`` leaves the reasons to :meth:`explain` (which needs no state, so
        it can run beside the next group).
        """
        started = time.perf_counter()
        pays = list(payments)
        if not pays:
            return []
        feats = [self.state.payment(pay) for pay in pays]
        x = np.array([[f[c] for c in self.columns] for f in feats], dtype=np.float64)
        if self._fast is not None:
            scores = self._fast(x)
        else:
            scores = self.scorer.predict_proba(pd.DataFrame(x, columns=self.columns))
        flags: list[bool | None] = (
            [None] * len(pays) if self.threshold is None else [bool(s >= self.threshold) for s in scores]
        )
        results = [
            Scored(pay["transaction_id"], float(score), flag, [], f, 0.0, float(pay["amount"]))
            for pay, score, flag, f in zip(pays, scores, flags, feats, strict=True)
        ]
        if explain:
            self.explain(results, x)
        seconds = time.perf_counter() - started
        for r in results:
            r.seconds = seconds
        return results

    def explain(self, results: list[Scored], x: np.ndarray | None = None) -> None:
        """Fill in the reasons of the flagged ``results`` of :meth:`score` (``x``: their
        feature rows, default: from their features)."""
        flagged = [i for i, r in enumerate(results) if r.flag]
        if not flagged:
            return
        if x is None:
            rows = np.array([[results[i].features[c] for c in self.columns] for i in flagged])
        else:
            rows = x[flagged]
        texts = self._reasons(rows, [results[i].amount for i in flagged])
        for i, t in zip(flagged, texts, strict=True):
            results[i].reasons = t

    def _reasons(self, x: np.ndarray, amounts: list[float]) -> list[list[str]]:
        if self._explainer is None:  # built on the first flag: most payments need none
            from okml.explain import RowExplainer

            self._explainer = RowExplainer(
                self.scorer,
                self.columns,
                self.feature_params,
                self.params.explain.language,
                self.params.explain.top_reasons,
            )
        return [[r.text for r in row if r.text] for row in self._explainer.reasons(x, amounts)]

    def label(self, transaction_id: Any, is_fraud: int, at: Any) -> None:
        """A label event (see :meth:`OnlineFeatures.label`)."""
        self.state.label(transaction_id, is_fraud, at)


_KEYS = ("transaction_id", "customer_id", "merchant_id")
_OPTIONAL_KEYS = ("device_id", "region")
_TEXT = ("merchant_name", "merchant_category", "channel")


def check_payment_fields(raw: Mapping[str, Any], params: Params) -> dict[str, Any]:
    """One payment as JSON gives it, checked by the canonical schema's rules for one row
    (ids strings or integers and not blank, a timestamp, an amount > 0 within
    ``data.amount_min`` .. ``amount_max``, optional keys and texts, the account's creation
    time) without building a frame: about 20 µs where :func:`okml.schema.validate` of a
    one-row frame takes 10 ms. Times come back as timezone-aware ``pandas.Timestamp`` (they
    need an offset, or are integer nanoseconds since the epoch); the first problem raises
    :class:`DataError` naming the field. ``tests/test_serve.py`` checks that it accepts and
    refuses what ``validate`` does."""
    unknown = sorted(set(raw) - set(PAYMENT_FIELDS) - set(_LABEL_COLUMNS))
    if unknown:
        raise DataError(f"unknown field {unknown[0]!r}", column=unknown[0])
    out: dict[str, Any] = {}
    for key in (*_KEYS, *_OPTIONAL_KEYS):
        v = raw.get(key)
        if v is None:
            if key in _KEYS:
                raise DataError("missing or empty: every payment needs it", column=key)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise DataError(f"ids must be strings or integers (found {v!r})", column=key)
        if isinstance(v, str) and not v.strip():
            raise DataError("blank id", column=key)
        out[key] = v
    out["timestamp"] = _time(raw.get("timestamp"), "timestamp", required=True)
    if "account_created_at" in raw:
        out["account_created_at"] = _time(raw.get("account_created_at"), "account_created_at")
    amount = raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise DataError(f"amount is not numeric (e.g. {amount!r})", column="amount")
    amount = float(amount)
    if not math.isfinite(amount):
        raise DataError("amount is NaN or infinite", column="amount")
    if amount <= 0:
        raise DataError(f"amount must be > 0 (found {amount:g})", column="amount")
    lo, hi = params.data.amount_min, params.data.amount_max
    if amount < lo:
        raise DataError(f"amount {amount:g} is below data.amount_min ({lo:g})", column="amount")
    if amount > hi:
        raise DataError(f"amount {amount:g} is above data.amount_max ({hi:g})", column="amount")
    out["amount"] = amount
    for key in _TEXT:
        if key in raw:
            v = raw[key]
            if v is not None and not isinstance(v, str):
                raise DataError(f"expected text (found {v!r})", column=key)
            out[key] = v
    return out


def _time(value: Any, column: str, required: bool = False) -> pd.Timestamp | None:
    if value is None:
        if required:
            raise DataError("empty timestamps; every payment needs its time", column=column)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"not a time: {value!r}", column=column)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"not a time: {value!r}", column=column) from None
    if ts is pd.NaT:
        raise DataError(f"not a time: {value!r}", column=column)
    if isinstance(value, int):  # nanoseconds since the epoch, UTC
        return ts.tz_localize("UTC")
    if ts.tzinfo is None:
        raise DataError(
            f"timestamps are timezone-naive (e.g. {value!r}); add an offset (e.g. "
            "'2026-01-01T10:00:00Z' or '+08:00')",
            column=column,
        )
    return ts.tz_convert("UTC")


def canonical_payment(raw: Mapping[str, Any], params: Params) -> dict[str, Any]:
    """One payment as JSON gives it, checked against the canonical schema (the same rules
    as loading a file); the first problem raises :class:`DataError` naming the field."""
    known = {k: v for k, v in raw.items() if k in PAYMENT_FIELDS}
    unknown = sorted(set(raw) - set(PAYMENT_FIELDS) - set(_LABEL_COLUMNS))
    if unknown:
        raise DataError(f"unknown field {unknown[0]!r}", column=unknown[0])
    frame = validate(
        pd.DataFrame([known]),
        source="payment",
        amount_min=params.data.amount_min,
        amount_max=params.data.amount_max,
    )
    rec = frame.iloc[0].to_dict()
    for key, value in list(rec.items()):
        if isinstance(value, float) and math.isnan(value):
            rec[key] = None
        elif isinstance(value, np.generic):
            rec[key] = value.item()
    return rec
