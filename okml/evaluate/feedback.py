"""Alert feedback: the labels of each day's investigated alerts are known that same day.

In production the top ``k`` customers of each day are investigated, so the true labels of
their payments are known at the end of that day, while every other label arrives late
(``label_time``): the alert-feedback setting of Dal Pozzolo et al., *Credit Card Fraud
Detection: A Realistic Modeling and a Novel Learning Strategy* (IEEE TNNLS 2017).

What gets feedback (:func:`walk`)
    Walking days one by one (UTC days, as :func:`okml.evaluate.metrics.daily_top_k`), each
    day's rows are scored, the day's top ``k`` customers are taken by the Card Precision@k
    rule (highest score of the day, customers caught on earlier days of the walk left out,
    ties by ``customer_id``) and their payments of that day get
    ``label_time = min(label_time, end of the day)``; a missing ``label_time`` (a fraud
    never reported) becomes the end of the day too: the investigation finds it. The label
    revealed is the frame's ``is_fraud`` (the ground truth in ``okml evaluate``; the labels
    known at ``--as-of`` in ``okml retrain``). Legitimate payments carry no label event in
    the features, so in effect the alerted *frauds* become known the next day.

A fold with feedback (:func:`with_feedback`)
    The fold's test rows (the same as without feedback) are walked from the labels known at
    go-live; the difference between the two columns is the test window's own feedback.

Time
    Only features that need labels (the registry's ``needs`` holds ``label_time``: the
    merchant's risk and known frauds, the customer's known frauds) are recomputed, with the
    batch engine over every payment up to the day's last one, so a feedback label at the end
    of day ``d`` reaches payments after ``d`` and no payment of ``d`` or before. A day is
    recomputed only when some feedback fraud's own label would have come later than the
    day's start; otherwise its rows keep the features of the given table, bit for bit.

The paper's learning strategy (:class:`FeedbackEnsemble`, :class:`EnsembleScorer`)
    The mean of two fraud probabilities: D, the pooled model, and F, a model trained on the
    feedback samples of the ``window`` (the gap's length) before the day scored: the
    alerted customers' payments with their true labels and the features they were scored
    with. Before the test window the samples come from the delay gap, where the running
    model's alerts were investigated: :func:`walk_gap` walks the gap's days with D as that
    model. Without feedback F is trained once on the gap's alerts (features with delayed
    labels only) and kept; with feedback the gap is walked with feedback too and F is
    refitted each day as its window slides into the test window. F needs
    :data:`MIN_CLASS_SAMPLES` frauds and as many legitimate payments among its samples; a
    day without them is scored by D alone (logged).

Nothing here fits a model or imports xgboost: models and the function that fits F come from
the caller (:mod:`okml.jobs.evaluate`, :mod:`okml.jobs.train`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams
from okml.errors import DataError
from okml.evaluate.metrics import daily_top_k
from okml.evaluate.splits import DAY, Fold, known_compromised
from okml.features.engine import build_features, intermediates
from okml.features.registry import registry

log = logging.getLogger(__name__)

#: metrics reported again with feedback, as ``<metric>_feedback``; recall by fraud type is
#: ``recall_feedback.<fraud_type>``
FEEDBACK_METRICS = ("cp_at_k", "ap", "recall", "caught_amount", "missed_amount", "n_transactions")
#: fewest frauds, and fewest legitimate payments, that ``F`` is trained on
MIN_CLASS_SAMPLES = 2
_NEVER = np.iinfo(np.int64).max


def feedback_name(metric: str) -> str:
    """``cp_at_k`` -> ``cp_at_k_feedback``; ``recall.fake_orders`` -> ``recall_feedback.fake_orders``."""
    if metric.startswith("recall."):
        return "recall_feedback." + metric.removeprefix("recall.")
    return f"{metric}_feedback"


def feedback_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics of a scoring with feedback, renamed with :func:`feedback_name`."""
    keep = {m: v for m, v in metrics.items() if m in FEEDBACK_METRICS or m.startswith("recall.")}
    return {feedback_name(m): v for m, v in keep.items()}


def _ns(values: pd.Series) -> np.ndarray:
    """int64 nanoseconds (UTC) with missing times as :data:`_NEVER`."""
    raw = values.to_numpy(dtype="datetime64[ns]")
    out = raw.view(np.int64).copy()
    out[np.isnat(raw)] = _NEVER
    return out


def label_times(ns: np.ndarray) -> pd.DatetimeIndex:
    """Label times as int64 ns (:attr:`Walk.label_ns`) back as UTC times, NaT for none."""
    raw = ns.copy()
    raw[ns == _NEVER] = np.iinfo(np.int64).min  # NaT
    return pd.DatetimeIndex(raw.view("datetime64[ns]")).tz_localize("UTC")


# ------------------------------------------------------------------------------ features
class FeedbackFeatures:
    """The feature table of ``tx`` and the label-aware features recomputed under feedback.

    Parameters
    ----------
    tx:
        Canonical transactions with ``is_fraud`` (the labels an investigation reveals) and
        ``label_time``; all the history the features need.
    X:
        Their feature table (:func:`okml.features.feature_matrix`: same rows, same order).
    params:
        The feature settings ``X`` was built with.
    ring:
        Per row, whether the payment is in a ring (``evaluate.rings_first``:
        :func:`okml.evaluate.scoring.ring_rows`); the walk then picks each day's alerts in the
        queue order, rings first. Group sizes read no label, so feedback leaves them as they are.

    Raises
    ------
    DataError
        No ``label_time`` (every label would be known at once: feedback adds nothing) or no
        ``is_fraud``.
    """

    def __init__(
        self, tx: pd.DataFrame, X: pd.DataFrame, params: FeatureParams, ring: np.ndarray | None = None
    ) -> None:
        if "is_fraud" not in tx:
            raise DataError("alert feedback needs labelled transactions", column="is_fraud")
        if "label_time" not in tx:
            raise DataError(
                "alert feedback: the data have no label_time, so every label counts as known at "
                "once and alerts add nothing; give label times or set split.feedback: false",
                column="label_time",
            )
        if len(X) != len(tx):
            raise DataError(f"feature table has {len(X):,} rows for {len(tx):,} transactions")
        self.tx, self.params = tx, params
        self.X = X.reset_index(drop=True)
        specs = registry(params)
        self.names = [c for c in self.X.columns if c in specs and "label_time" in specs[c].needs]
        self.t = tx["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        self.label_ns = _ns(tx["label_time"])
        self.fraud = tx["is_fraud"].to_numpy() == 1
        if ring is not None and len(ring) != len(tx):
            raise ValueError(f"{len(ring)} ring flags for {len(tx)} transactions")
        self.ring = None if ring is None else np.asarray(ring, dtype=bool)
        self._given: dict[str, np.ndarray] | None = None
        self.seconds = 0.0
        self.recomputed = 0

    def _intermediates(self) -> dict[str, np.ndarray]:
        # the customers' amount medians need no labels: computed once, given to every day
        if self._given is None:
            frame = intermediates(self.tx, self.params, ["median_ratio"])
            self._given = {"median_ratio": frame["median_ratio"].to_numpy()}
        return self._given

    def rows(self, positions: np.ndarray, label_ns: np.ndarray | None = None) -> pd.DataFrame:
        """Features of ``tx`` rows ``positions`` (index: the positions) with label times
        ``label_ns`` (int64 ns, :data:`_NEVER` for none; default: the data's own)."""
        out = self.X.iloc[positions]
        if label_ns is None or not self.names or len(positions) == 0:
            return out
        started = time.perf_counter()
        # every payment up to the last one asked for: later ones never change them
        prefix = self.t <= self.t[positions].max()
        given = {k: v[prefix] for k, v in self._intermediates().items()}
        history = self.tx.loc[prefix].assign(label_time=label_times(label_ns[prefix]))
        labelled = build_features(history, self.params, names=self.names, given=given)
        at = np.cumsum(prefix)[positions] - 1
        out = out.copy()
        out[self.names] = labelled.to_numpy()[at]
        self.seconds += time.perf_counter() - started
        self.recomputed += 1
        return out


# ------------------------------------------------------------------------------- samples
@dataclass(frozen=True)
class Samples:
    """Feedback samples: investigated payments and what was known of them.

    Attributes
    ----------
    rows:
        Positions in the transactions.
    day:
        The UTC day of each one's alert.
    X:
        The features each was scored with.
    y:
        The label the investigation revealed (0/1).
    """

    rows: np.ndarray
    day: pd.DatetimeIndex
    X: pd.DataFrame
    y: np.ndarray

    @classmethod
    def empty(cls, columns: pd.Index) -> Samples:
        """No samples."""
        return cls(
            np.zeros(0, dtype=np.int64),
            pd.DatetimeIndex([], tz="UTC"),
            pd.DataFrame(columns=columns, dtype="float64"),
            np.zeros(0, dtype=np.int8),
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __add__(self, other: Samples) -> Samples:
        if not len(other):
            return self
        if not len(self):
            return other
        return Samples(
            np.concatenate([self.rows, other.rows]),
            self.day.append(other.day),
            pd.concat([self.X, other.X]),
            np.concatenate([self.y, other.y]),
        )

    def since(self, start: pd.Timestamp) -> Samples:
        """The samples of alerts on or after ``start``."""
        keep = np.asarray(self.day >= start)
        return Samples(self.rows[keep], self.day[keep], self.X[keep], self.y[keep])

    def trainable(self) -> bool:
        """Whether ``F`` can learn from them (:data:`MIN_CLASS_SAMPLES` of each class)."""
        frauds = int((self.y == 1).sum())
        return min(frauds, len(self.y) - frauds) >= MIN_CLASS_SAMPLES


#: ``score(day, features of the day's rows, feedback samples so far) -> fraud scores``
DayScorer = Callable[[pd.Timestamp, pd.DataFrame, Samples], np.ndarray]
#: ``fit(features, labels) -> fitted model``: how ``F`` is trained
Fit = Callable[[pd.DataFrame, np.ndarray], Any]


def model_scorer(model: Any) -> DayScorer:
    """A :data:`DayScorer` of a fitted model with ``predict_proba`` (two columns, or the fraud
    probability alone as okml's scorers give)."""

    def score(day: pd.Timestamp, X: pd.DataFrame, samples: Samples) -> np.ndarray:
        proba = np.asarray(model.predict_proba(X))
        return proba[:, 1] if proba.ndim == 2 else proba

    return score


# ---------------------------------------------------------------------------------- walk
@dataclass
class Walk:
    """What :func:`walk` did.

    Attributes
    ----------
    rows:
        The positions walked, in the order given.
    scores:
        One score per row walked, in that order.
    features:
        The features each row was scored with (index: its position in the transactions).
    samples:
        The feedback samples: the alerted customers' payments of each day.
    alerts:
        One row per alerted customer-day (:func:`okml.evaluate.metrics.daily_top_k`).
    label_ns:
        The label times after the walk (int64 ns, :data:`_NEVER` for none).
    """

    rows: np.ndarray
    scores: np.ndarray
    features: pd.DataFrame
    samples: Samples
    alerts: pd.DataFrame
    label_ns: np.ndarray = field(repr=False)

    def label_times(self) -> pd.DatetimeIndex:
        """:attr:`label_ns` as UTC times (NaT for none), one per transaction."""
        return label_times(self.label_ns)


def walk(
    features: FeedbackFeatures,
    rows: np.ndarray,
    k: int,
    score: DayScorer,
    *,
    feedback: bool = True,
    label_ns: np.ndarray | None = None,
) -> Walk:
    """Score ``rows`` of the transactions day by day, giving each day's top ``k`` customers
    their labels at the end of the day (see the module docstring).

    Parameters
    ----------
    features:
        Transactions, their feature table and the label-aware recomputation.
    rows:
        Positions of the rows to score (e.g. a fold's test rows), in any order.
    k:
        Customers investigated per day.
    score:
        Scores a day's rows: ``score(day, X_day, samples_so_far)``.
    feedback:
        Whether the alerts' labels reach later days' features (False: only collect the
        samples).
    label_ns:
        Label times to start from, e.g. the :attr:`Walk.label_ns` of a walk over earlier
        days (default: the data's own).

    Returns
    -------
    Walk
        Scores in the order of ``rows``; :func:`okml.evaluate.metrics.daily_top_k` of them
        (of their queue order, the score plus 1 for a ring's payment, with ``features.ring``)
        gives back exactly the walk's alerts.
    """
    rows = np.asarray(rows, dtype=np.int64)
    tx, own = features.tx, features.label_ns
    labels = (own if label_ns is None else label_ns).copy()
    frame = pd.DataFrame(
        {
            "day": tx["timestamp"].iloc[rows].dt.floor("D").reset_index(drop=True),
            "customer_id": tx["customer_id"].iloc[rows].reset_index(drop=True),
            "is_fraud": features.fraud[rows].astype(np.int8),
        }
    )
    row_day = frame["day"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    customers = frame["customer_id"].to_numpy()
    scores = np.full(len(rows), np.nan)
    bump = np.zeros(len(rows)) if features.ring is None else features.ring[rows].astype(float)
    parts: list[pd.DataFrame] = []
    samples = Samples.empty(features.X.columns)
    alert_parts: list[pd.DataFrame] = []
    # the latest label that feedback brought forward, as it would have come without: a day
    # that starts after it sees the data's own labels, so its rows keep their features
    earlier = features.fraud & (labels < own)
    latest_own = int(own[earlier].max()) if earlier.any() else np.iinfo(np.int64).min
    for day_ns in np.unique(row_day):
        day = pd.Timestamp(int(day_ns), tz="UTC")
        sel = np.flatnonzero(row_day == day_ns)
        pos = rows[sel]
        X_day = features.rows(pos, labels) if latest_own >= day_ns else features.X.iloc[pos]
        values = np.asarray(score(day, X_day, samples), dtype=float)
        if values.shape != (len(pos),):
            raise ValueError(f"the scorer gave {values.shape} scores for {len(pos)} rows of {day:%Y-%m-%d}")
        scores[sel] = values
        parts.append(X_day)
        done = row_day <= day_ns
        # the metric's own rule over the days so far: caught customers stay out, ties by id
        _, alerts = daily_top_k(frame[done].assign(score=scores[done] + bump[done]), k)
        today = alerts[alerts["day"] == day]
        alert_parts.append(today)
        hit = np.isin(customers[sel], today["customer_id"].to_numpy())
        got = pos[hit]
        samples = samples + Samples(
            got,
            pd.DatetimeIndex(np.full(len(got), day_ns).view("datetime64[ns]")).tz_localize("UTC"),
            X_day[hit],
            features.fraud[got].astype(np.int8),
        )
        if feedback and len(got):
            end = day_ns + DAY.value
            frauds = got[features.fraud[got]]
            lowered = frauds[labels[frauds] > end]
            if len(lowered):
                latest_own = max(latest_own, int(own[lowered].max()))
            labels[got] = np.minimum(labels[got], end)
    used = pd.concat(parts).reindex(rows) if parts else features.X.iloc[rows]
    alert_frame = pd.concat(alert_parts, ignore_index=True) if alert_parts else pd.DataFrame()
    return Walk(rows, scores, used, samples, alert_frame, labels)


def gap_rows(tx: pd.DataFrame, fold: Fold, remove_known_compromised: bool = True) -> np.ndarray:
    """Positions of the fold's delay gap ``[train_end, test_start)``, less the customers
    already known compromised on each day as for a test day."""
    ts = tx["timestamp"]
    mask = ((ts >= fold.train_end) & (ts < fold.test_start)).to_numpy(copy=True)
    if remove_known_compromised and mask.any():
        gap = Fold(fold.index, fold.train_start, fold.train_end, fold.train_end, fold.test_start)
        mask &= ~known_compromised(tx, gap)
    return np.flatnonzero(mask)


def walk_gap(
    features: FeedbackFeatures,
    fold: Fold,
    delayed: Any,
    k: int,
    remove_known_compromised: bool = True,
    *,
    feedback: bool = True,
) -> Walk:
    """The fold's delay gap walked with the pooled model ``delayed`` as the model running
    then: its alerts are the feedback before the test window (all known by then).

    With ``feedback`` the gap's alerts also reach the gap's later days' features and the
    walk's :attr:`Walk.label_ns` carries them into the test window; without it the samples
    keep the features of the data's own labels.
    """
    rows = gap_rows(features.tx, fold, remove_known_compromised)
    return walk(features, rows, k, model_scorer(delayed), feedback=feedback)


@dataclass
class FeedbackRun:
    """A fold's test window scored with feedback.

    Attributes
    ----------
    scores:
        The test rows' scores, in their order.
    test:
        The walk over the test window.
    gap:
        The ensemble's walk over the gap (None for the pooled model).
    """

    scores: np.ndarray
    test: Walk
    gap: Walk | None = None


def with_feedback(
    features: FeedbackFeatures,
    fold: Fold,
    test_rows: np.ndarray,
    delayed: Any,
    k: int,
    remove_known_compromised: bool = True,
    *,
    fit: Fit | None = None,
) -> FeedbackRun:
    """Score the fold's test rows day by day with the test window's feedback.

    Parameters
    ----------
    features:
        Transactions, their feature table and the label-aware recomputation.
    fold:
        The fold.
    test_rows:
        Its test rows (positions), scored as they are without feedback: the same rows, the
        same labels at go-live; only the test window's own alerts differ.
    delayed:
        The pooled model (D), fitted on the labels known at go-live.
    k:
        Customers investigated per day.
    remove_known_compromised:
        As ``split.remove_known_compromised``, for the ensemble's gap days.
    fit:
        Fits F on feedback samples: score with the paper's strategy instead of D alone
        (:class:`EnsembleScorer` over a window of the gap's length). F first learns from the
        gap walked with feedback (:func:`walk_gap`: alerts by D, later gap days' features
        seeing earlier gap days' alerts, as a system with feedback would have scored them);
        those labels only train F, so that both columns start the test window from the same
        labels.
    """
    if fit is None:
        test = walk(features, test_rows, k, model_scorer(delayed))
        return FeedbackRun(test.scores, test)
    gap = walk_gap(features, fold, delayed, k, remove_known_compromised)
    scorer = EnsembleScorer(delayed, fit, fold.test_start - fold.train_end, gap.samples)
    test = walk(features, test_rows, k, scorer)
    return FeedbackRun(test.scores, test, gap)


# ------------------------------------------------------------------------------ ensemble
class FeedbackEnsemble:
    """The mean of the fraud probabilities of ``delayed`` (D) and ``feedback`` (F); D alone
    when F is None.

    Parameters
    ----------
    delayed, feedback:
        Fitted models with ``predict_proba`` (two columns).
    """

    def __init__(self, delayed: Any, feedback: Any | None) -> None:
        self.delayed, self.feedback = delayed, feedback
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of (legit, fraud), one row per row of ``X``."""
        fraud = np.asarray(self.delayed.predict_proba(X))[:, 1]
        if self.feedback is not None:
            fraud = (fraud + np.asarray(self.feedback.predict_proba(X))[:, 1]) / 2
        return np.column_stack([1 - fraud, fraud])


def fit_feedback_model(samples: Samples, fit: Fit) -> Any | None:
    """``F`` fitted on ``samples``, or None when they lack :data:`MIN_CLASS_SAMPLES` of a class."""
    return fit(samples.X, samples.y) if samples.trainable() else None


class EnsembleScorer:
    """A :data:`DayScorer` of the paper's strategy: each day ``F`` is refitted on the feedback
    samples of the ``window`` before it (the gap's, then the walk's own) and averaged with D.

    Attributes
    ----------
    models:
        The ``F`` of each day scored (None: that day was scored by D alone).
    """

    def __init__(self, delayed: Any, fit: Fit, window: pd.Timedelta, before: Samples) -> None:
        self.delayed, self.fit, self.window, self.before = delayed, fit, window, before
        self.models: dict[pd.Timestamp, Any | None] = {}
        self._last: tuple[tuple[int, ...], Any | None] | None = None

    def __call__(self, day: pd.Timestamp, X: pd.DataFrame, samples: Samples) -> np.ndarray:
        pool = (self.before + samples).since(day - self.window)
        key = tuple(sorted(pool.rows.tolist()))
        if self._last is None or self._last[0] != key:  # the same samples: the same F
            self._last = (key, fit_feedback_model(pool, self.fit))
        model = self._last[1]
        self.models[day] = model
        if model is None:
            log.info(
                "feedback ensemble: %s scored by the delayed model alone (%d feedback samples, "
                "%d frauds: F needs %d of each class)",
                f"{day:%Y-%m-%d}",
                len(pool),
                int(pool.y.sum()),
                MIN_CLASS_SAMPLES,
            )
        return FeedbackEnsemble(self.delayed, model).predict_proba(X)[:, 1]
