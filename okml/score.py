"""Batch scoring of new payments: features from their history, score, flag, rank, reasons.

:func:`score_transactions` is the library call; :func:`score_cli` is ``okml score``.

What a scored file holds, one row per new payment in input order:

* ``transaction_id, timestamp, customer_id, merchant_id, amount`` and the optional
  descriptive columns the input has (``merchant_name``, ``merchant_category``, ``channel``,
  ``device_id``, ``region``; labels ``is_fraud``, ``fraud_type`` when scoring labelled data);
* ``score`` (fraud probability), ``priority`` (the queue order: the score, plus 1 for a
  payment of a ring when the model was trained with ``evaluate.rings_first``:
  :func:`okml.evaluate.scoring.ranking_priority`), ``flag`` (sent to review at the model's
  operating point, in that order), ``rank_in_day`` (1 = first payment of its UTC day in that
  order);
* ``reason_1 .. reason_{explain.top_reasons}`` for flagged rows (plain text in
  ``explain.language``) and ``reasons`` (JSON: group, feature, value, contribution, text);
* ``feat_<name>``: the features as built for the model (before any imputation its scorer
  applies, e.g. an xgboost pipeline with SMOTE), so reports and audits explain exactly what
  was scored without rebuilding them from history.

The file's metadata (``pandas.read_parquet(path).attrs``) records ``model_uri`` (as given),
``model_version`` (``NAME/N`` that the URI resolved to when scoring), ``operating_point``,
``approximate_features`` and ``flags``: payments and customers flagged, per UTC day, against
the daily budget ``evaluate.k``. ``okml score`` prints the same and warns of days with no flag.

Operating point: the score threshold chosen in training (``meta["threshold"]`` of the logged
model), or the top ``evaluate.k`` customers per UTC day when the model has no threshold or
``top_k=True`` is asked (all payments of an alerted customer at or above the day's cut-off).
Both rank by ``priority``: rings first when the model's training run had
``evaluate.rings_first`` (``meta["rings_first"]``; its threshold was measured in that order),
so the platform flags what was evaluated.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm  # a terminal bar: `okml score` runs in a shell

from okml.config import FeatureParams, Params
from okml.errors import DataError
from okml.features import build_features, lookback, registry

log = logging.getLogger(__name__)

#: Prefix of the feature columns in a scored file.
FEATURE_PREFIX = "feat_"
#: Transaction columns copied to the scored file when the input has them.
CONTEXT_COLUMNS = [
    "merchant_name",
    "merchant_category",
    "channel",
    "device_id",
    "region",
    "is_fraud",
    "fraud_type",
]
OUTPUT_KEYS = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]


@dataclass(frozen=True)
class OperatingPoint:
    """How rows were flagged: ``kind`` is ``threshold`` or ``top_k``."""

    kind: str
    threshold: float | None = None
    k: int | None = None
    rings_first: bool = False  # rank by ranking_priority: rings above the day's other payments

    def describe(self) -> str:
        rings = ", rings first" if self.rings_first else ""
        if self.kind == "threshold":
            what = "priority" if self.rings_first else "score"
            return f"{what} >= {self.threshold:.4f} (threshold chosen in training{rings})"
        return f"top {self.k} customers per day{rings}"


def _model(model: Any) -> Any:
    """The FraudModel behind a loaded pyfunc model (or the object itself)."""
    unwrap = getattr(model, "unwrap_python_model", None)
    return unwrap() if unwrap is not None else model


def operating_point(model: Any, params: Params, top_k: bool = False) -> OperatingPoint:
    """The model's threshold, or top-k customers per day when it has none or when asked; in
    the queue order of the model's training run (``meta["rings_first"]``, false if absent)."""
    meta = getattr(_model(model), "meta", None) or {}
    threshold = meta.get("threshold")
    rings_first = bool(meta.get("rings_first", False))
    if top_k or threshold is None or not math.isfinite(float(threshold)):
        return OperatingPoint("top_k", k=params.evaluate.k, rings_first=rings_first)
    return OperatingPoint("threshold", threshold=float(threshold), rings_first=rings_first)


def _validated(df: pd.DataFrame, source: str, params: Params) -> pd.DataFrame:
    from okml.schema import validate

    # the same amount bounds as loading: data that loads must score
    return validate(df, source=source, amount_min=params.data.amount_min, amount_max=params.data.amount_max)


def _check_overlap(new: pd.DataFrame, history: pd.DataFrame) -> None:
    dup = new["transaction_id"].isin(history["transaction_id"]).to_numpy()
    if dup.any():
        ids = ", ".join(map(str, new["transaction_id"][dup].head(3)))
        raise DataError(
            f"{int(dup.sum())} transaction id(s) appear in both the new transactions and the "
            f"history (e.g. {ids}); pass history that ends before the new payments",
            file="new transactions",
            column="transaction_id",
            rows=np.flatnonzero(dup)[:3].tolist(),
        )


def approximate_features(
    columns: list[str], feature_params: FeatureParams, trimmed: bool, no_history: bool = False
) -> list[str]:
    """Model columns that are not exact for the scored rows.

    ``trimmed``: history before the look-back was dropped, so all-history features (first
    device, known frauds, ...) describe the slice only. ``no_history``: nothing but the new
    payments themselves, so every windowed feature misses the past too. (History that simply
    starts later is taken as all there is: the data may begin there.)
    """
    specs = registry(feature_params)
    return [
        c
        for c in columns
        if c in specs
        and (
            (specs[c].all_history and (trimmed or no_history))
            or (no_history and specs[c].window_seconds is not None)
        )
    ]


def _combined(
    new: pd.DataFrame, history: pd.DataFrame | None, feature_params: FeatureParams, needs_labels: bool
) -> tuple[pd.DataFrame, int, bool]:
    """History trimmed to the look-back, then the new rows; returns the frame, the number of
    history rows, and whether history was trimmed."""
    cutoff = new["timestamp"].min() - lookback(feature_params)
    trimmed = False
    if history is not None and len(history):
        keep = (history["timestamp"] >= cutoff).to_numpy()
        trimmed = bool((~keep).any())
        history = history.loc[keep]
    else:
        history = None
    parts = [history, new] if history is not None else [new]
    frame = pd.concat(parts, ignore_index=True, sort=False) if len(parts) > 1 else new.copy()
    if needs_labels:
        # a payment without a label (the new rows, typically) is simply not known fraud
        if "is_fraud" not in frame:
            log.warning(
                "no fraud labels in the input: merchant risk and known-fraud features see no confirmed fraud"
            )
            frame["is_fraud"] = 0
        frame["is_fraud"] = frame["is_fraud"].fillna(0).astype("int8")
        if "label_time" not in frame:
            frame["label_time"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    n_history = 0 if history is None else len(history)
    return frame, n_history, trimmed


def _check_inputs(columns: list[str], specs: dict[str, Any], new: pd.DataFrame) -> None:
    """The optional input columns the model's features need (labels excepted: unlabelled
    payments are simply not known fraud)."""
    need: dict[str, list[str]] = {}
    for c in columns:
        for col in specs[c].needs if c in specs else ():
            if col not in ("is_fraud", "label_time") and col not in new:
                need.setdefault(col, []).append(c)
    if need:
        col, feats = next(iter(need.items()))
        raise DataError(
            f"the model needs column {col} (for {', '.join(feats[:3])}); the new transactions do not have it",
            file="new transactions",
            column=col,
        )


def _flags(scored: pd.DataFrame, point: OperatingPoint) -> np.ndarray:
    """Flags of ``scored`` (with its ``priority``) at ``point``, in the queue order."""
    from okml.evaluate.metrics import flags_threshold, flags_top_k, ranked

    queue = ranked(scored[["timestamp", "customer_id", "score", "priority"]])
    if point.kind == "threshold":
        return flags_threshold(queue, point.threshold)  # type: ignore[arg-type]
    # labels play no part in choosing alerts: pass none (a real label would remove
    # "already caught" customers with knowledge the reviewers do not have yet)
    return flags_top_k(queue.assign(is_fraud=0), point.k)  # type: ignore[arg-type]


def _rank_in_day(timestamp: pd.Series, score: np.ndarray) -> np.ndarray:
    day = timestamp.dt.floor("D").to_numpy()
    frame = pd.DataFrame({"day": day, "score": score})
    # ties: earlier row first (input order is time order after okml.data.load)
    return frame.groupby("day")["score"].rank(method="first", ascending=False).to_numpy(dtype=np.int64)


def score_features(
    model: Any,
    new: pd.DataFrame,
    feats: pd.DataFrame,
    params: Params,
    top_k: bool = False,
    steps: Any = None,
    approximate: Sequence[str] = (),
    queue: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The scored frame of :func:`score_transactions` for validated ``new`` payments whose
    features ``feats`` (same rows, same order) are already built: score, flag, rank in the
    day and the reasons of the flagged ones (a reason told through one of the
    ``approximate`` features says so). Flags at ``top_k`` and ranks need whole days in
    ``new`` (the dask engine scores one partition of whole days at a time). With a model
    trained with ``evaluate.rings_first``, ``queue`` (or else ``feats``) holds the group
    sizes of the same rows (:func:`okml.evaluate.scoring.group_sizes`)."""
    from okml.evaluate.scoring import ranking_priority
    from okml.explain import explain
    from okml.models import as_scorer

    fm = _model(model)
    scorer = as_scorer(fm)
    fparams: FeatureParams = fm.feature_params
    columns = list(fm.columns)
    if steps is None:
        steps = tqdm(total=0, disable=True)
    steps.set_postfix_str("score")
    scores = scorer.predict_proba(feats)
    out = new[OUTPUT_KEYS + [c for c in CONTEXT_COLUMNS if c in new]].copy()
    out["score"] = scores
    steps.update()

    steps.set_postfix_str("flag")
    point = operating_point(fm, params, top_k)
    priority = ranking_priority(scores, feats if queue is None else queue, fparams, point.rings_first)
    out["priority"] = priority
    out["flag"] = _flags(out, point)
    out["rank_in_day"] = _rank_in_day(out["timestamp"], priority)
    steps.update()

    steps.set_postfix_str("reasons")
    top = params.explain.top_reasons
    flagged = np.flatnonzero(out["flag"].to_numpy())
    explained = explain(
        scorer,
        feats.iloc[flagged],
        columns,
        fparams,
        params.explain.language,
        top,
        transactions=out["amount"].iloc[flagged],
        approximate=approximate,
    )
    reasons = explained.reason_columns(top)
    for col in reasons.columns:
        values = pd.Series(pd.NA, index=out.index, dtype="str")
        values.iloc[flagged] = reasons[col].to_numpy()
        out[col] = values
    feature_block = feats[columns].set_axis(out.index).add_prefix(FEATURE_PREFIX)
    out = pd.concat([out, feature_block], axis=1)
    return out


def score_transactions(
    model: Any,
    new: pd.DataFrame,
    history: pd.DataFrame | None,
    params: Params,
    progress: bool = False,
    top_k: bool = False,
) -> pd.DataFrame:
    """Score new payments with features built from their history; flag, rank and explain.

    Parameters
    ----------
    model:
        A loaded okml model: ``okml.pyfunc.FraudModel`` (``scorer``, ``feature_params``,
        ``columns``, ``meta``; any kind) or the pyfunc model wrapping it.
    new:
        Canonical transactions to score. Not modified.
    history:
        Earlier canonical transactions (with labels if available) for the look-back
        features, or ``None``. Only the look-back before the first new payment is used.
    params:
        All parameters (``evaluate.k``, ``explain.language``, ``explain.top_reasons``).
        Features use the model's own feature configuration, not ``params.features``.
    progress:
        Show a progress bar over the steps.
    top_k:
        Flag the top ``evaluate.k`` customers per day even if the model has a threshold.

    Returns
    -------
    pandas.DataFrame
        New frame, one row per new payment in input order; columns in the module docstring.
        ``attrs["operating_point"]`` says how rows were flagged and
        ``attrs["approximate_features"]`` lists features that are not exact for want of
        history.

    Raises
    ------
    DataError
        A transaction id appears in both inputs, the inputs break the canonical schema, or
        they lack a column the model's features need.
    """
    from okml.evaluate.scoring import group_sizes, ring_feature_params

    fm = _model(model)
    fparams: FeatureParams = fm.feature_params
    columns = list(fm.columns)
    steps = tqdm(total=5, desc="score", unit="step", disable=not progress)
    steps.set_postfix_str("validate")
    new = _validated(new, "new transactions", params)
    if history is not None:
        history = _validated(history, "history", params)
        _check_overlap(new, history)
    steps.update()
    if len(new) == 0:
        steps.close()
        raise DataError("no transactions to score", file="new transactions")

    specs = registry(fparams)
    needs_labels = any(c in specs and "is_fraud" in specs[c].needs for c in columns)
    _check_inputs(columns, specs, new)
    point = operating_point(fm, params, top_k)
    # rings first: the group sizes need the graph's look-back, whether the model has it or not
    reach = ring_feature_params(fparams) if point.rings_first else fparams
    frame, n_history, trimmed = _combined(new, history, reach, needs_labels)
    steps.set_postfix_str("features")
    every = build_features(frame, fparams)
    feats = every.iloc[n_history:]
    queue = group_sizes(frame, fparams, every).iloc[n_history:] if point.rings_first else None
    steps.update()

    no_history = history is None or len(history) == 0
    approx = approximate_features(columns, fparams, trimmed, no_history)
    out = score_features(fm, new, feats, params, top_k=top_k, steps=steps, approximate=approx, queue=queue)
    steps.update()
    steps.close()

    if approx:
        why = (
            "no history was given"
            if no_history
            else f"the history was trimmed to the look-back ({lookback(fparams)})"
        )
        log.info(
            "%d feature(s) are approximate because %s: %s",
            len(approx),
            why,
            ", ".join(approx[:6]) + (" ..." if len(approx) > 6 else ""),
        )
    out.attrs["operating_point"] = point.describe()
    out.attrs["approximate_features"] = approx
    return out


# ---------------------------------------------------------------------- summaries
def flag_summary(scored: pd.DataFrame, k: int) -> dict[str, Any]:
    """How many payments and customers were flagged, per UTC day, against the daily budget
    of ``k`` customers (``evaluate.k``)."""
    day = scored["timestamp"].dt.strftime("%Y-%m-%d")
    flagged = scored["flag"].to_numpy(dtype=bool)
    per_day = (
        scored.loc[flagged]
        .groupby(day[flagged])["customer_id"]
        .nunique()
        .reindex(sorted(day.unique()), fill_value=0)
    )
    return {
        "payments": int(flagged.sum()),
        "customers": int(scored.loc[flagged, "customer_id"].nunique()),
        "days": int(len(per_day)),
        "budget_per_day": int(k),
        "customers_per_day": {d: int(n) for d, n in per_day.items()},
    }


def describe_flags(summary: dict[str, Any], point: str) -> list[str]:
    """Lines for ``okml score``: flags against the budget, and a warning per day with none."""
    per_day = summary["customers_per_day"]
    days, k = summary["days"], summary["budget_per_day"]
    counts = list(per_day.values())
    lines = [
        f"flagged {summary['payments']:,} payments ({summary['customers']:,} customers) at {point}",
        f"  alert budget: {k} customers a day (evaluate.k), {k * days:,} over {days} day(s); "
        f"flagged per day: min {min(counts)}, median {float(np.median(counts)):g}, "
        f"max {max(counts)}",
    ]
    empty = [d for d, n in per_day.items() if n == 0]
    if empty:
        shown = ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else "")
        lines.append(
            f"warning: {len(empty)} day(s) had no flagged payment ({shown}); the "
            f"threshold may be too strict for this data: `--top-k` flags the top {k} "
            "customers of each day"
        )
    return lines
