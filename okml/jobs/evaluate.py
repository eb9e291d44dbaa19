"""``okml evaluate``: every candidate model on the same prequential folds, side by side.

Features are built once on all transactions (they are point in time, so a row's features
use only what was known before it). For each fold (see :mod:`okml.evaluate.splits`) and
each candidate, the model is fitted on the training window with the labels known at
go-live, scores the test window, and :func:`~okml.evaluate.scoring.evaluate_scores` measures
it. The ``cost`` operating point picks its threshold on the last
``evaluate.cost_validation_days`` of the training window, scored by a model fitted on the
days before, using only labels known at go-live: the test window never influences it.

With ``split.feedback`` each candidate also scores the test window day by day with alert
feedback (:mod:`okml.evaluate.feedback`: the day's top ``evaluate.k`` customers get their true
labels at the end of the day, later days' features see them), reported as ``cp_at_k_feedback``
and the other :data:`~okml.evaluate.feedback.FEEDBACK_METRICS` beside the metrics without it.
A ``strategy: feedback_ensemble`` candidate is the paper's learning strategy: the pooled model
averaged with one trained on the alerts of the ``split.delay_days`` before each test day.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from tqdm import tqdm

from okml.config import Params
from okml.errors import ConfigError, DataError
from okml.evaluate import metrics as m
from okml.evaluate import plots
from okml.evaluate.feedback import (
    FEEDBACK_METRICS,
    FeedbackEnsemble,
    FeedbackFeatures,
    FeedbackRun,
    feedback_metrics,
    feedback_name,
    fit_feedback_model,
    walk_gap,
    with_feedback,
)
from okml.evaluate.scoring import (
    LOWER_IS_BETTER,
    MAIN_METRICS,
    RANKING_METRICS,
    evaluate_scores,
    group_sizes,
    queue_priority,
    ring_rows,
    scored_frame,
)
from okml.evaluate.splits import Fold, FoldData, data_days, make_folds, no_fraud_before, split_fold
from okml.features.engine import check_feature_matrix, feature_matrix
from okml.io import write_parquet, write_text
from okml.jobs.data import load_transactions
from okml.models import build_estimator, candidate_params
from okml.paths import resolve

log = logging.getLogger(__name__)

_ID_COLUMNS = ["model", "fold", "train_start", "train_end", "test_start", "test_end"]
_KNOWN_METRICS = set(MAIN_METRICS) | {"false_alerts_per_day", "alert_precision", "fraud_amount"}


@dataclass
class EvaluationResult:
    """What :func:`run_evaluation` measured and wrote.

    Attributes
    ----------
    folds:
        The folds, oldest first.
    fold_metrics:
        One row per candidate and fold: ids, fold dates, every metric, ``fit_seconds``.
    summary:
        One row per candidate (index ``model``): ``<metric>_mean`` and ``<metric>_std``.
    scores:
        Test scores: ``transaction_id, fold, model, score`` (and ``priority``, the queue
        order, with ``evaluate.rings_first``; ``score_feedback`` with ``split.feedback``).
    best:
        The candidate with the best mean ``evaluate.select_metric``.
    output_dir:
        Folder the files were written to.
    files:
        Paths written.
    """

    folds: list[Fold]
    fold_metrics: pd.DataFrame
    summary: pd.DataFrame
    scores: pd.DataFrame
    best: str
    output_dir: Path
    files: list[Path] = field(default_factory=list)


_FEEDBACK_KNOWN = {feedback_name(m) for m in FEEDBACK_METRICS}


def _check_select_metric(name: str, feedback: bool = False) -> None:
    if name in _FEEDBACK_KNOWN or name.startswith("recall_feedback."):
        if not feedback:
            raise ConfigError(f"evaluate.select_metric: {name!r} is measured only with split.feedback: true")
        return
    if name not in _KNOWN_METRICS and not name.startswith("recall."):
        raise ConfigError(
            f"evaluate.select_metric: unknown metric {name!r}; choose one of "
            f"{', '.join(sorted(_KNOWN_METRICS))} or recall.<fraud_type>"
        )


def uses_feedback(params: Params) -> bool:
    """Whether the evaluation walks test days with feedback or has a feedback_ensemble candidate."""
    return params.split.feedback or any(c.strategy == "feedback_ensemble" for c in params.evaluate.candidates)


def check_feedback(params: Params) -> None:
    """Settings alert feedback cannot work with, each refused in one line."""
    if not uses_feedback(params):
        return
    what = "split.feedback" if params.split.feedback else "a feedback_ensemble candidate"
    if params.compute.engine == "dask":
        raise ConfigError(
            f"{what} is not supported with compute.engine dask (the day-by-day walk recomputes "
            "features in this process); use --engine local"
        )
    ensemble = [c.label for c in params.evaluate.candidates if c.strategy == "feedback_ensemble"]
    if ensemble and params.split.delay_days == 0:
        raise ConfigError(
            f"candidate {ensemble[0]!r}: feedback_ensemble learns from the alerts of the "
            "split.delay_days before each test day; with split.delay_days 0 there are none"
        )
    if ensemble and params.evaluate.operating_point != "top_k":
        raise ConfigError(
            f"candidate {ensemble[0]!r}: feedback_ensemble needs evaluate.operating_point top_k "
            "(its feedback is the daily top-k alerts)"
        )


def _warn_short_history(tx: pd.DataFrame, folds: list[Fold], params: Params) -> None:
    try:
        from okml.features import lookback
    except ImportError:  # pragma: no cover - features module always ships lookback
        return
    first, _ = data_days(tx["timestamp"])
    needed = lookback(params.features)
    if folds and folds[0].train_start < first + needed:
        log.warning(
            "%s starts %s days after the first data but features look back %s days: its "
            "earliest training rows see a shorter past than production would",
            folds[0].name,
            (folds[0].train_start - first).days,
            needed / pd.Timedelta(days=1),
        )


# -------------------------------------------------------------------------- fitting
class FoldSource(Protocol):
    """Where a fold's rows come from and where its models are fitted: this process
    (:class:`LocalFolds`) or a Dask cluster (:class:`okml.jobs.distributed.DaskFolds`)."""

    def test(self, fold: Fold) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """The fold's test transactions (known-compromised removed as configured), their
        features (same rows) and the number of training rows; the errors of :func:`split_fold`."""
        ...

    def fit(self, model_params: Any, fold: Fold, end: pd.Timestamp | None = None) -> Any:
        """A fitted estimator on the training rows before ``end`` (default: all of them),
        with the labels known at the fold's go-live; a :class:`DataError` naming the fold
        when none of them is a known fraud."""
        ...

    def rows(self, fold: Fold, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The training rows from ``start`` on, labelled as known at go-live, and their features."""
        ...

    def queue(self, rows: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame | None:
        """What the queue order reads for ``rows`` (their features ``X``): their group sizes
        with ``evaluate.rings_first`` (:func:`okml.evaluate.scoring.group_sizes`), else None."""
        ...


class LocalFolds:
    """Folds of transactions and features held in this process."""

    def __init__(self, tx: pd.DataFrame, X: pd.DataFrame, params: Params) -> None:
        self.tx, self.X, self.params = tx, X, params
        self._data: dict[int, FoldData] = {}
        self._sizes: pd.DataFrame | None = None
        self._feedback: FeedbackFeatures | None = None

    @property
    def feedback(self) -> FeedbackFeatures:
        """The transactions and features as alert feedback recomputes them (built once)."""
        if self._feedback is None:
            ring = ring_rows(self.sizes()) if self.params.evaluate.rings_first else None
            self._feedback = FeedbackFeatures(self.tx, self.X, self.params.features, ring)
        return self._feedback

    def split(self, fold: Fold) -> FoldData:
        if fold.index not in self._data:
            self._data[fold.index] = split_fold(self.tx, fold, self.params.split.remove_known_compromised)
        return self._data[fold.index]

    def test(self, fold: Fold) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        data = self.split(fold)
        return self.tx.iloc[data.test], self.X.iloc[data.test], len(data.train)

    def fit(self, model_params: Any, fold: Fold, end: pd.Timestamp | None = None) -> Any:
        data = self.split(fold)
        rows, y = data.train, data.y_train
        if end is not None:
            inner = (self.tx["timestamp"].iloc[rows] < end).to_numpy()
            rows, y = rows[inner], y[inner]
            if y.sum() == 0:
                raise no_fraud_before(fold, end)
        return build_estimator(model_params).fit(self.X.iloc[rows], y)

    def rows(self, fold: Fold, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        data = self.split(fold)
        hold = (self.tx["timestamp"].iloc[data.train] >= start).to_numpy()
        rows = data.train[hold]
        return self.tx.iloc[rows].assign(is_fraud=data.y_train[hold]), self.X.iloc[rows]

    def sizes(self) -> pd.DataFrame:
        """The group sizes of all the payments (computed once: point in time like the features)."""
        if self._sizes is None:
            self._sizes = group_sizes(self.tx, self.params.features, self.X)
        return self._sizes

    def queue(self, rows: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame | None:
        if not self.params.evaluate.rings_first:
            return None
        return self.sizes().loc[rows["transaction_id"].to_numpy()]


def _local(source: FoldSource) -> LocalFolds:
    if not isinstance(source, LocalFolds):  # check_feedback refuses the dask engine first
        raise ConfigError("alert feedback needs compute.engine local")
    return source


@dataclass
class _Scored:
    """A candidate's test scores in one fold, without and (``split.feedback``) with feedback."""

    scores: Any
    feedback: FeedbackRun | None
    fit_seconds: float
    feedback_seconds: float = math.nan


def _score_candidate(
    source: FoldSource,
    fold: Fold,
    model_params: Any,
    strategy: str,
    X_test: pd.DataFrame,
    params: Params,
    fitted: dict[str, tuple[Any, float]],
) -> _Scored:
    """Fit (or reuse this fold's fit of the same settings), score the test window, and score
    it with feedback when ``split.feedback``. ``feedback_ensemble``: D is the pooled fit; F
    is trained on the gap's alerts (with feedback: refitted daily on the alerts of the last
    ``split.delay_days``, the gap's and then the test window's)."""
    key = model_params.model_dump_json()
    if key not in fitted:  # a pooled candidate and its ensemble share D
        started = time.perf_counter()
        fitted[key] = (source.fit(model_params, fold), time.perf_counter() - started)
    est, fit_seconds = fitted[key]
    k, remove = params.evaluate.k, params.split.remove_known_compromised

    def fit(X: pd.DataFrame, y: Any) -> Any:
        return build_estimator(model_params).fit(X, y)

    ensemble = strategy == "feedback_ensemble"
    if ensemble:
        started = time.perf_counter()
        gap = walk_gap(_local(source).feedback, fold, est, k, remove, feedback=False).samples
        model = FeedbackEnsemble(est, fit_feedback_model(gap, fit))
        fit_seconds += time.perf_counter() - started
        if model.feedback is None:
            log.warning(
                "%s: the gap's %d alerted payments (%d frauds) are too few to train the feedback "
                "model: the ensemble scores the test window with the delayed model alone",
                fold.name,
                len(gap),
                int(gap.y.sum()),
            )
        scores = model.predict_proba(X_test)[:, 1]
    else:
        scores = est.predict_proba(X_test)[:, 1]
    if not params.split.feedback:
        return _Scored(scores, None, fit_seconds)
    local = _local(source)
    started = time.perf_counter()
    test_rows = local.split(fold).test
    run = with_feedback(local.feedback, fold, test_rows, est, k, remove, fit=fit if ensemble else None)
    return _Scored(scores, run, fit_seconds, time.perf_counter() - started)


def _cost_threshold(source: FoldSource, fold: Fold, model_params: Any, params: Params) -> float:
    days = params.evaluate.cost_validation_days
    start = fold.train_end - pd.Timedelta(days=days)
    if start <= fold.train_start:
        raise ConfigError(
            f"evaluate.cost_validation_days ({days}) must be shorter than split.train_days "
            f"({params.split.train_days})"
        )
    est = source.fit(model_params, fold, end=start)
    val, X_val = source.rows(fold, start)  # labels known at go-live
    scores = est.predict_proba(X_val)[:, 1]
    scored = scored_frame(val, scores, queue_priority(scores, source.queue(val, X_val), params))
    return m.cost_threshold(m.ranked(scored), params.evaluate.cost)


def _fold_ids(label: str, fold: Fold) -> dict[str, Any]:
    return {
        "model": label,
        "fold": fold.index,
        "train_start": fold.train_start,
        "train_end": fold.train_end,
        "test_start": fold.test_start,
        "test_end": fold.test_end,
    }


# ----------------------------------------------------------------------------- tables
def summarize(fold_metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1; NaN for one fold) over folds, per model."""
    cols = [c for c in fold_metrics.columns if c not in _ID_COLUMNS]
    grouped = fold_metrics.groupby("model", sort=False)[cols]
    mean = grouped.mean().add_suffix("_mean")
    std = grouped.std(ddof=1).add_suffix("_std")
    out = pd.concat([mean, std], axis=1)
    ordered = [f"{c}_{s}" for c in cols for s in ("mean", "std")]
    out = out[ordered]
    out.insert(0, "n_folds", grouped.size())
    return out


def pick_best(summary: pd.DataFrame, metric: str) -> str:
    """The model with the best mean ``metric`` (lowest for costs); first model if all NaN."""
    col = f"{metric}_mean"
    if col not in summary or summary[col].isna().all():
        return str(summary.index[0])
    values = summary[col]
    lower = metric.removesuffix("_feedback") in LOWER_IS_BETTER
    return str(values.idxmin() if lower else values.idxmax())


def _display_name(metric: str, params: Params) -> str:
    names = {
        "auc": "AUC",
        "ap": "AP",
        "cp_at_k": f"CP@{params.evaluate.k}",
        "cp_at_k_max": f"CP@{params.evaluate.k} max",
        "recall_at_fpr": f"recall@{params.evaluate.fpr:g}FPR",
        "recall": "recall",
        "caught_amount": "caught",
        "missed_amount": "missed",
        "compensation": "compensation",
        "alerts_per_day": "alerts/day",
        "expected_cost": "cost",
    }
    if metric.startswith("recall_feedback."):
        return f"recall {metric.removeprefix('recall_feedback.')} with feedback"
    if metric.endswith("_feedback"):
        return _display_name(metric.removesuffix("_feedback"), params) + " with feedback"
    return names.get(metric, metric.replace("recall.", "recall "))


def _fmt(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    metric = metric.removesuffix("_feedback")
    if metric.endswith("amount") or metric in {"compensation", "expected_cost"}:
        return f"{value:,.0f}"
    if metric == "alerts_per_day":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _metric_table(summary: pd.DataFrame, metrics: list[str], params: Params) -> str:
    header = ["model"] + [_display_name(c, params) for c in metrics]
    rows = []
    for model, row in summary.iterrows():
        cells = [str(model)]
        for c in metrics:
            mean, std = row[f"{c}_mean"], row[f"{c}_std"]
            text = _fmt(mean, c)
            if not (isinstance(std, float) and math.isnan(std)):
                text += f" ± {_fmt(std, c)}"
            cells.append(text)
        rows.append(cells)
    return _markdown(header, rows)


def comparison_table(summary: pd.DataFrame, params: Params) -> str:
    """Markdown tables, one row per model, ``mean ± std`` over folds (no ± for one value).

    Three tables: ranking quality (threshold-free), the operating point (recall, money,
    alerts, cost), and recall by fraud type at the operating point. With feedback
    (``split.feedback``) two more: CP@k, AP, recall and missed amount without and with
    feedback, and recall by fraud type with feedback.
    """
    present = [c for c in MAIN_METRICS if f"{c}_mean" in summary]
    ranking = [c for c in present if c in RANKING_METRICS]
    operating = [c for c in present if c not in RANKING_METRICS]
    by_type = _by_type(summary, "recall.")
    parts = [_metric_table(summary, ranking, params), _metric_table(summary, operating, params)]
    if by_type:
        parts.append(_metric_table(summary, by_type, params))
    if "cp_at_k_feedback_mean" in summary:
        pairs = [c for m in ("cp_at_k", "ap", "recall", "missed_amount") for c in (m, feedback_name(m))]
        parts.append(_metric_table(summary, [c for c in pairs if f"{c}_mean" in summary], params))
        fb_types = _by_type(summary, "recall_feedback.")
        if fb_types:
            parts.append(_metric_table(summary, fb_types, params))
    return "\n\n".join(parts)


def _by_type(summary: pd.DataFrame, prefix: str) -> list[str]:
    return sorted(c[: -len("_mean")] for c in summary if c.startswith(prefix) and c.endswith("_mean"))


def _fold_lines(folds: list[Fold], sizes: dict[int, tuple[int, int, int]]) -> list[str]:
    lines = []
    for f in folds:
        n_train, n_test, n_fraud = sizes.get(f.index, (0, 0, 0))
        lines.append(f"- {f.name}: {n_train:,} training rows, {n_test:,} test rows, {n_fraud:,} test frauds")
    return lines


def _report(
    result_table: str, folds: list[Fold], sizes: dict[int, tuple[int, int, int]], params: Params, best: str
) -> str:
    ev = params.evaluate
    op = (
        f"top {ev.k} customers a day"
        if ev.operating_point == "top_k"
        else f"cost-optimal threshold (chosen on the last {ev.cost_validation_days} training days)"
    )
    if ev.rings_first:
        op += ", rings first (evaluate.rings_first: groups of linked accounts above the day's other payments)"
    return "\n".join(
        [
            "# Model comparison",
            "",
            f"Data: `{params.data.path}` (preset {params.data.preset}). "
            f"Folds: {params.split.train_days} training days, {params.split.delay_days} delay days, "
            f"{params.split.test_days} test days; known-compromised customers "
            f"{'removed' if params.split.remove_known_compromised else 'kept'}.",
            "",
            *_fold_lines(folds, sizes),
            "",
            f"Mean ± standard deviation over folds. Operating point: {op}. Money in the data's "
            f"currency, totals per test window; cost = {ev.cost.review_cost:g} per alert + "
            f"{ev.cost.false_alert_cost:g} per false alert + {ev.cost.reimbursed_share:g} x missed.",
            *(
                [
                    "",
                    f"With feedback (split.feedback): each test day the top {ev.k} customers' payments "
                    "get their true label at the end of the day and later days' features see it; "
                    "the same test rows, the same metrics.",
                ]
                if params.split.feedback
                else []
            ),
            "",
            result_table,
            "",
            f"Best by {ev.select_metric}: **{best}** (plots are for this model).",
            "",
        ]
    )


# ------------------------------------------------------------------------------- main
@contextmanager
def fold_source(
    params: Params,
    progress: bool,
    transactions: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
) -> Iterator[tuple[list[Fold], FoldSource]]:
    """The folds of ``params.split`` and where their rows and fits come from: the Dask
    cluster of ``compute`` (features over the whole history there, XGBoost fitted there),
    or this process (``transactions`` and ``features`` given, or the local engine)."""
    check_feedback(params)
    if params.compute.engine == "dask" and transactions is None:
        from okml.jobs.distributed import dask_folds

        with dask_folds(params, quiet=not progress) as found:
            yield found
        return
    tx = transactions if transactions is not None else load_transactions(params, progress)
    if "is_fraud" not in tx:
        raise DataError("evaluation needs labelled transactions", file=params.data.path, column="is_fraud")
    folds = make_folds(tx["timestamp"], params.split)
    X = (
        check_feature_matrix(features, tx)
        if features is not None
        else feature_matrix(tx, params.features, progress)
    )
    if transactions is None or features is None:
        _warn_short_history(tx, folds, params)
    yield folds, LocalFolds(tx, X, params)


def run_evaluation(
    params: Params,
    output_dir: str | None = None,
    progress: bool = True,
    *,
    transactions: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
) -> EvaluationResult:
    """Compare ``params.evaluate.candidates`` on prequential folds and write the results.

    Parameters
    ----------
    params:
        All parameters; uses ``data``, ``features``, ``split``, ``model`` (shared settings
        under each candidate) and ``evaluate``.
    output_dir:
        Folder for the outputs (default ``params.evaluate.output``; relative to the project).
    progress:
        Show progress bars (folds x candidates).
    transactions, features:
        Already-loaded canonical transactions and their feature table (skips loading and
        feature building; the notebook and tests use these).

    Returns
    -------
    EvaluationResult
        Also written to ``output_dir``: ``comparison.csv`` (summary), ``folds.csv`` (per
        fold), ``comparison.md``, ``scores.parquet`` (``transaction_id, fold, model,
        score``, ``priority`` with ``evaluate.rings_first``) and PNG plots of the best candidate.

    Raises
    ------
    ConfigError
        Folds outside the data, an unknown ``select_metric``, alert feedback with settings it
        cannot work with (:func:`check_feedback`).
    DataError
        No labels, or a fold without fraud in training or test; feedback on data without
        ``label_time``.
    """
    ev = params.evaluate
    _check_select_metric(ev.select_metric, params.split.feedback)
    check_feedback(params)
    out = resolve(output_dir or ev.output)
    rows: list[dict[str, Any]] = []
    score_parts: list[pd.DataFrame] = []
    scored_by_model: dict[str, list[pd.DataFrame]] = {c.label: [] for c in ev.candidates}
    sizes: dict[int, tuple[int, int, int]] = {}
    with fold_source(params, progress, transactions, features) as (folds, source):
        bar = tqdm(total=len(folds) * len(ev.candidates), disable=not progress, desc="evaluate", unit="fit")
        try:
            for fold in folds:
                test_tx, X_test, n_train = source.test(fold)
                queue = source.queue(test_tx, X_test)  # group sizes with evaluate.rings_first
                sizes[fold.index] = (n_train, len(test_tx), int(test_tx["is_fraud"].sum()))
                fitted: dict[str, tuple[Any, float]] = {}  # this fold's fits, by settings
                for cand in ev.candidates:
                    bar.set_postfix_str(f"fold {fold.index} {cand.label}")
                    model_params = candidate_params(params.model, cand)
                    got = _score_candidate(source, fold, model_params, cand.strategy, X_test, params, fitted)
                    scores = got.scores
                    threshold = (
                        _cost_threshold(source, fold, model_params, params)
                        if ev.operating_point == "cost"
                        else None
                    )
                    result = evaluate_scores(test_tx, scores, params, threshold=threshold, features=queue)
                    row = {**_fold_ids(cand.label, fold), **result, "fit_seconds": got.fit_seconds}
                    priority = queue_priority(scores, queue, params)
                    part = {
                        "transaction_id": test_tx["transaction_id"].to_numpy(),
                        "fold": fold.index,
                        "model": cand.label,
                        "score": scores,
                    }
                    if priority is not None:
                        part["priority"] = priority
                    if got.feedback is not None:
                        fb_scores = got.feedback.scores
                        measured = evaluate_scores(
                            test_tx, fb_scores, params, threshold=threshold, features=queue
                        )
                        row |= {**feedback_metrics(measured), "feedback_seconds": got.feedback_seconds}
                        part["score_feedback"] = fb_scores
                    rows.append(row)
                    score_parts.append(pd.DataFrame(part))
                    scored = scored_frame(test_tx, scores, priority).assign(fold=fold.index)
                    scored_by_model[cand.label].append(scored)
                    bar.update(1)
        finally:
            bar.close()

    fold_metrics = pd.DataFrame(rows)
    all_scores = pd.concat(score_parts, ignore_index=True)
    summary = summarize(fold_metrics)
    best = pick_best(summary, ev.select_metric)
    table = comparison_table(summary, params)
    print(table)
    print(f"\nbest by {ev.select_metric}: {best}")

    files = [
        _write_csv(summary.reset_index(), out / "comparison.csv"),
        _write_csv(fold_metrics, out / "folds.csv"),
        write_text(_report(table, folds, sizes, params, best), out / "comparison.md"),
        write_parquet(all_scores, out / "scores.parquet"),
    ]
    files += plots.write_plots(pd.concat(scored_by_model[best], ignore_index=True), params, out)
    print(f"wrote {', '.join(p.name for p in files)} to {out}")
    return EvaluationResult(folds, fold_metrics, summary, all_scores, best, out, files)


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    return write_text(df.to_csv(index=False), path)
