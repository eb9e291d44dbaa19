"""Metrics as tables people read (the training notebook, the comparison of two models).

Numbers are formatted for reading: ratios to three decimals, money with thousands separators
and two decimals, counts as integers; the names say which ``k`` and which false-positive
rate they were measured at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from okml.config import Params

_MONEY = {"fraud_amount", "caught_amount", "missed_amount", "compensation", "expected_cost"}
_RATES = {"alerts_per_day", "false_alerts_per_day"}


def _names(params: Params) -> dict[str, str]:
    k, fpr = params.evaluate.k, params.evaluate.fpr
    return {
        "auc": "ROC AUC",
        "ap": "average precision",
        "cp_at_k": f"Card Precision@{k} (customers a day)",
        "cp_at_k_max": f"Card Precision@{k} of a perfect ranking",
        "recall_at_fpr": f"recall at {100 * fpr:g}% false-positive rate",
        "recall": "recall at the operating point",
        "alerts_per_day": "alerts per day",
        "alert_precision": "alert precision",
        "fraud_amount": "fraud amount",
        "caught_amount": "fraud amount caught",
        "missed_amount": "fraud amount missed",
        "compensation": "compensation exposure",
        "expected_cost": "expected cost",
    }


def format_metric(name: str, value: float) -> str:
    """``0.978``, ``31,315.78``, ``12.4``; ``n/a`` for NaN or a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if name in _MONEY or name.split(".")[-1] in _MONEY:
        return f"{value:,.2f}"
    if name in _RATES:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def metrics_table(metrics: Mapping[str, float], params: Params) -> pd.DataFrame:
    """Headline metrics of one model, named with their ``k`` and FPR, formatted (with
    Card Precision@k with alert feedback when the run measured it)."""
    names = _names(params)
    if "cp_at_k_feedback" in metrics:
        names = {**names, "cp_at_k_feedback": f"Card Precision@{params.evaluate.k} with alert feedback"}
    return pd.DataFrame(
        {"value": [format_metric(k, metrics.get(k, math.nan)) for k in names]},
        index=pd.Index(list(names.values()), name="metric"),
    )


def recall_by_type_table(metrics: Mapping[str, float], fraud_types: Iterable[Any] = ()) -> pd.DataFrame:
    """Recall at the operating point by fraud type: which kinds of fraud slip through.

    Every type in ``fraud_types`` (e.g. the data's ``fraud_type`` column) gets a row: a type
    with no fraud in the test window says so instead of silently missing.
    """
    rows = {k.removeprefix("recall."): v for k, v in metrics.items() if k.startswith("recall.")}
    values = fraud_types.unique() if hasattr(fraud_types, "unique") else fraud_types
    kinds = sorted(set(rows) | {str(t) for t in values if isinstance(t, str) and t})
    return pd.DataFrame(
        {
            "recall": [
                format_metric("recall", rows[t]) if t in rows else "no such fraud in the test window"
                for t in kinds
            ]
        },
        index=pd.Index(kinds, name="fraud_type"),
    )


def challenger_vs_champion(challenger: Mapping[str, float], champion: Mapping[str, float]) -> pd.DataFrame:
    """Headline metrics of both models on the same window, side by side (champion metrics
    are named ``champion.<metric>``)."""
    names = ["auc", "ap", "cp_at_k", "recall_at_fpr", "caught_amount", "missed_amount"]
    if "cp_at_k_feedback" in challenger:
        names.insert(3, "cp_at_k_feedback")
    names += sorted(k for k in challenger if k.startswith("recall."))
    return pd.DataFrame(
        {
            "challenger": [format_metric(k, challenger.get(k, math.nan)) for k in names],
            "champion": [format_metric(k, champion.get(f"champion.{k}", math.nan)) for k in names],
        },
        index=pd.Index(names, name="metric"),
    )


def cp_at_k_by_day_figure(scored: pd.DataFrame, k: int) -> Any:
    """Card Precision@k per test day of a scored test window (in the queue order: by
    ``priority`` when it has one)."""
    from okml.evaluate import metrics as m
    from okml.evaluate import plots

    per_day, _ = m.daily_top_k(m.ranked(scored), k)
    return plots.cp_at_k_figure(per_day, k)
