"""All evaluation metrics for one set of test scores, as a flat ``dict`` (MLflow-ready)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from okml.config import EvaluateParams, Params
from okml.errors import ConfigError
from okml.evaluate import metrics as m

#: metrics shown in comparison tables, in order; ``recall.<fraud_type>`` columns follow
MAIN_METRICS = [
    "auc",
    "ap",
    "cp_at_k",
    "cp_at_k_max",
    "recall_at_fpr",
    "recall",
    "caught_amount",
    "missed_amount",
    "compensation",
    "alerts_per_day",
    "expected_cost",
]
#: threshold-free metrics (the rest of MAIN_METRICS are measured at the operating point)
RANKING_METRICS = {"auc", "ap", "cp_at_k", "cp_at_k_max", "recall_at_fpr"}
#: metrics where smaller is better (for picking the best candidate)
LOWER_IS_BETTER = {
    "missed_amount",
    "compensation",
    "alerts_per_day",
    "false_alerts_per_day",
    "expected_cost",
}


def scored_frame(test_frame: pd.DataFrame, scores: Any) -> pd.DataFrame:
    """The columns metrics need from canonical test transactions, plus ``score``."""
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or len(values) != len(test_frame):
        raise ValueError(f"{len(values)} scores for {len(test_frame)} transactions")
    cols = [c for c in ("timestamp", "customer_id", "is_fraud", "amount", "fraud_type") if c in test_frame]
    return test_frame[cols].assign(score=values)


def _evaluate_params(params: Params | EvaluateParams) -> EvaluateParams:
    return params.evaluate if isinstance(params, Params) else params


def operating_flags(
    scored: pd.DataFrame, params: Params | EvaluateParams, threshold: float | None = None
) -> np.ndarray:
    """Per-transaction flags at ``evaluate.operating_point`` (``threshold`` for ``cost``)."""
    ev = _evaluate_params(params)
    if ev.operating_point == "top_k":
        return m.flags_top_k(scored, ev.k)
    if threshold is None:
        raise ConfigError(
            "evaluate.operating_point is 'cost': pass the threshold chosen on validation data "
            "(okml.evaluate.metrics.cost_threshold)"
        )
    return m.flags_threshold(scored, threshold)


def evaluate_scores(
    test_frame: pd.DataFrame,
    scores: Any,
    params: Params | EvaluateParams,
    threshold: float | None = None,
) -> dict[str, float]:
    """Every metric for ``scores`` of the canonical ``test_frame`` (same row order).

    Parameters
    ----------
    test_frame:
        Test transactions with ``timestamp, customer_id, is_fraud, amount`` (and
        ``fraud_type`` for per-type recall).
    scores:
        Fraud scores, one per row.
    params:
        ``Params`` or its ``evaluate`` section: ``k``, ``fpr``, operating point and costs.
    threshold:
        Score threshold for the ``cost`` operating point (chosen on data before the test
        window); ignored for ``top_k``.

    Returns
    -------
    dict
        ``auc, ap, cp_at_k, cp_at_k_max`` (CP@k of a perfect ranking: the ceiling when
        fewer than k customers a day are defrauded), ``recall_at_fpr`` (threshold-free),
        then at the operating point ``recall, alerts_per_day, false_alerts_per_day,
        alert_precision, fraud_amount, caught_amount, missed_amount, compensation,
        expected_cost``, ``recall.<fraud_type>`` per type, ``threshold`` (NaN for top_k),
        ``n_transactions, n_frauds``.
    """
    ev = _evaluate_params(params)
    scored = scored_frame(test_frame, scores)
    y, s = scored["is_fraud"].to_numpy(), scored["score"].to_numpy()
    out: dict[str, float] = {
        "auc": m.roc_auc(y, s),
        "ap": m.average_precision(y, s),
        "cp_at_k": m.card_precision_at_k(scored, ev.k),
        # a perfect ranking's CP@k: the ceiling set by how many customers are defrauded a day
        "cp_at_k_max": m.card_precision_at_k(scored.assign(score=(y == 1).astype(float)), ev.k),
        "recall_at_fpr": m.recall_at_fpr(y, s, ev.fpr),
    }
    flags = operating_flags(scored, ev, threshold)
    out.update(m.money(scored, flags, ev.cost))
    out.update({f"recall.{t}": v for t, v in m.recall_by_type(scored, flags).items()})
    out["threshold"] = (
        float(threshold) if ev.operating_point == "cost" and threshold is not None else math.nan
    )
    out["n_transactions"] = float(len(scored))
    out["n_frauds"] = float((y == 1).sum())
    return out


def operating_threshold(scored: pd.DataFrame, k: int) -> float:
    """A score threshold equivalent to top-k customers per day: the median over test days of
    the k-th highest customer score of the day (used when scoring new data)."""
    day = scored["timestamp"].dt.floor("D")
    per_customer = scored.assign(day=day).groupby(["day", "customer_id"])["score"].max()
    kth = per_customer.groupby(level="day").apply(lambda s: np.sort(s.to_numpy())[::-1][min(k, len(s)) - 1])
    return float(np.median(kth.to_numpy()))


def evaluate_test(
    test_tx: pd.DataFrame, scores: Any, params: Params
) -> tuple[dict[str, float], pd.DataFrame, float]:
    """What a training run reports on its test window, from either engine: the metrics, the
    scored rows (``transaction_id``, the metric columns, ``score``, ``flag``) and the
    operating threshold (top-k customers a day, as a score)."""
    metrics = evaluate_scores(test_tx, scores, params)
    scored = scored_frame(test_tx, scores)
    scored.insert(0, "transaction_id", test_tx["transaction_id"].to_numpy())
    scored["flag"] = operating_flags(scored, params)
    return metrics, scored, operating_threshold(scored, params.evaluate.k)
