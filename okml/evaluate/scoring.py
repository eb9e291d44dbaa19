"""All evaluation metrics for one set of test scores, as a flat ``dict`` (MLflow-ready).

The queue order: reviewers work a day's payments from the highest *priority* down. It is the
score, unless ``evaluate.rings_first`` is on (it is off by default): then :func:`ranking_priority` puts every
payment of a ring (a hard group of at least :data:`okml.features.graph.MIN_SIZE` customers)
above the day's other payments, since reviewers work a ring as one case. The group sizes come
from :func:`group_sizes`, computed for the queue whether or not the model has the graph
family. The operating points, the ranking metrics (AUC, AP, CP@k, recall@FPR), the training
run's operating threshold and ``okml score``'s flags and ``rank_in_day`` all follow that
order; the ``score`` column stays the model's probability.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from okml.config import EvaluateParams, FeatureParams, Params
from okml.errors import ConfigError
from okml.evaluate import metrics as m
from okml.features.graph import MIN_SIZE, group_size_name

log = logging.getLogger(__name__)

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


def ring_feature_params(params: FeatureParams) -> FeatureParams:
    """``params`` with the graph family on: what computes the group size the queue reads,
    whether or not the model is given the family."""
    return params.model_copy(update={"families": params.families.model_copy(update={"graph": True})})


def group_sizes(
    tx: pd.DataFrame, params: FeatureParams, features: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The hard group size of every payment of canonical ``tx`` (the feature
    :func:`~okml.features.graph.group_size_name`), one column, same rows in the same order,
    indexed by ``transaction_id``: taken from ``features`` (the model's table of the same
    rows) when it has the column, else computed by the local engine (the graph family
    alone, so a model without it ranks rings first all the same; point in time like every
    feature: only the payments before each one).

    Without a ``device_id`` column no payment is in a hard group: the sizes are NaN (no
    ring, so the queue is in score order) and a warning says so.
    """
    from okml.features import build_features

    name = group_size_name(params)
    index = pd.Index(tx["transaction_id"])
    if features is not None and name in features:
        return pd.DataFrame({name: features[name].to_numpy(dtype=float)}, index=index)
    if "device_id" not in tx:
        return no_rings(index, name)
    return build_features(tx, ring_feature_params(params), names=[name])


def no_rings(index: pd.Index, name: str) -> pd.DataFrame:
    """Group sizes for data without ``device_id``: NaN (no payment is in a ring, so the queue
    is in score order), with a warning that says so."""
    log.warning(
        "evaluate.rings_first: the data has no device_id column, so no payment is in a group of "
        "accounts linked by devices: the queue is in score order"
    )
    return pd.DataFrame({name: np.full(len(index), np.nan)}, index=index)


def ring_rows(sizes: pd.DataFrame) -> np.ndarray:
    """Whether each payment of :func:`group_sizes` is in a ring: a hard group of at least
    :data:`~okml.features.graph.MIN_SIZE` customers (a NaN size is none)."""
    return sizes.iloc[:, 0].to_numpy(dtype=float) >= MIN_SIZE


def ring_payments(scored: pd.DataFrame) -> np.ndarray:
    """Which payments of a scored frame the queue put first for their ring: those whose
    ``priority`` is their score plus 1 (:func:`ranking_priority`); none without a
    ``priority`` column. The way back from the queue order to the rings, for code that has the
    scored rows but not the group sizes."""
    if "priority" not in scored:
        return np.zeros(len(scored), dtype=bool)
    return (scored["priority"].to_numpy(dtype=float) - scored["score"].to_numpy(dtype=float)) > 0.5


def ranking_priority(
    scores: Any, features: pd.DataFrame | None, feature_params: FeatureParams, rings_first: bool = True
) -> np.ndarray:
    """The queue order of payments with ``scores``: the scores themselves, or with
    ``rings_first`` the score plus 1 for every payment whose hard group (the column
    :func:`~okml.features.graph.group_size_name` of ``feature_params`` in ``features``, same
    rows in the same order: the model's feature table or :func:`group_sizes`) holds at least
    :data:`~okml.features.graph.MIN_SIZE` customers, so that a ring's payments come before
    the day's other payments and keep the model's order among themselves.

    Raises
    ------
    ConfigError
        ``rings_first`` and ``features`` lack the group size.
    """
    values = np.asarray(scores, dtype=float)
    if not rings_first:
        return values
    name = group_size_name(feature_params)
    if features is None or name not in features:
        raise ConfigError(
            f"evaluate.rings_first: no {name} for the payments (okml.evaluate.scoring.group_sizes "
            "computes it; it needs a device_id column)"
        )
    ring = ring_rows(features[[name]])
    if ring.shape != values.shape:
        raise ValueError(f"{len(ring)} feature rows for {len(values)} scores")
    return values + ring


def scored_frame(test_frame: pd.DataFrame, scores: Any, priority: Any = None) -> pd.DataFrame:
    """The columns metrics need from canonical test transactions, plus ``score`` (and
    ``priority``, the queue order, when given: :func:`ranking_priority`)."""
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or len(values) != len(test_frame):
        raise ValueError(f"{len(values)} scores for {len(test_frame)} transactions")
    cols = [c for c in ("timestamp", "customer_id", "is_fraud", "amount", "fraud_type") if c in test_frame]
    out = test_frame[cols].assign(score=values)
    if priority is not None:
        out["priority"] = np.asarray(priority, dtype=float)
    return out


def _evaluate_params(params: Params | EvaluateParams) -> EvaluateParams:
    return params.evaluate if isinstance(params, Params) else params


def queue_priority(
    scores: Any, features: pd.DataFrame | None, params: Params | EvaluateParams
) -> np.ndarray | None:
    """:func:`ranking_priority` of ``scores`` as ``params`` asks (``features`` of the same
    rows), or ``None`` when the queue is in score order (``evaluate.rings_first`` off)."""
    if not _evaluate_params(params).rings_first:
        return None
    if not isinstance(params, Params):
        raise ConfigError(
            "evaluate.rings_first: pass all the params, not the evaluate section (the group size "
            "feature depends on features.graph_window)"
        )
    return ranking_priority(scores, features, params.features)


def operating_flags(
    scored: pd.DataFrame, params: Params | EvaluateParams, threshold: float | None = None
) -> np.ndarray:
    """Per-transaction flags at ``evaluate.operating_point`` (``threshold`` for ``cost``), in
    the queue order (``priority`` when ``scored`` has it)."""
    ev = _evaluate_params(params)
    queue = m.ranked(scored)
    if ev.operating_point == "top_k":
        return m.flags_top_k(queue, ev.k)
    if threshold is None:
        raise ConfigError(
            "evaluate.operating_point is 'cost': pass the threshold chosen on validation data "
            "(okml.evaluate.metrics.cost_threshold)"
        )
    return m.flags_threshold(queue, threshold)


def evaluate_scores(
    test_frame: pd.DataFrame,
    scores: Any,
    params: Params | EvaluateParams,
    threshold: float | None = None,
    *,
    features: pd.DataFrame | None = None,
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
        window, in the queue order); ignored for ``top_k``.
    features:
        The feature table of the same rows (needed by ``evaluate.rings_first``: the queue
        order, :func:`ranking_priority`, is then what the ranking metrics and the operating
        point measure).

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
    scored = scored_frame(test_frame, scores, queue_priority(scores, features, params))
    queue = m.ranked(scored)
    y, s = scored["is_fraud"].to_numpy(), queue["score"].to_numpy()
    out: dict[str, float] = {
        "auc": m.roc_auc(y, s),
        "ap": m.average_precision(y, s),
        "cp_at_k": m.card_precision_at_k(queue, ev.k),
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
    the k-th highest customer score of the day (used when scoring new data); of the
    ``priority`` when ``scored`` has one (then flag ``priority >= threshold``)."""
    queue = m.ranked(scored)
    day = queue["timestamp"].dt.floor("D")
    per_customer = queue.assign(day=day).groupby(["day", "customer_id"])["score"].max()
    kth = per_customer.groupby(level="day").apply(lambda s: np.sort(s.to_numpy())[::-1][min(k, len(s)) - 1])
    return float(np.median(kth.to_numpy()))


def evaluate_test(
    test_tx: pd.DataFrame, scores: Any, params: Params, features: pd.DataFrame | None = None
) -> tuple[dict[str, float], pd.DataFrame, float]:
    """What a training run reports on its test window, from either engine: the metrics, the
    scored rows (``transaction_id``, the metric columns, ``score``, ``priority`` with
    ``evaluate.rings_first``, ``flag``) and the operating threshold (top-k customers a day,
    as a score, or a priority with ``evaluate.rings_first``). ``features``: the feature
    table of the test rows (needed by ``evaluate.rings_first``)."""
    metrics = evaluate_scores(test_tx, scores, params, features=features)
    scored = scored_frame(test_tx, scores, queue_priority(scores, features, params))
    scored.insert(0, "transaction_id", test_tx["transaction_id"].to_numpy())
    scored["flag"] = operating_flags(scored, params)
    return metrics, scored, operating_threshold(scored, params.evaluate.k)
