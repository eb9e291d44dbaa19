"""Training runs: fit on a time window, evaluate on a later one, track, register, promote.

Two entry points share one core (:func:`train_model`):

* ``okml train`` (:func:`train`): the most recent fold of :mod:`okml.evaluate.splits`
  (train / delay / test ending at the end of the data, or ``split.test_end``); training labels
  are those known when the model goes live (``label_time < test_start``), test metrics use the
  labels in the data. The first registered model becomes ``@champion``.
* ``okml retrain --as-of D`` (:func:`retrain`): what cron runs. Everything uses only what
  was known at ``D``: the evaluation window is the latest whose labels have had
  ``split.delay_days`` to arrive, ``[D - delay - test_days, D - delay)``; training is the
  ``train_days`` before it, less another ``delay_days`` gap; labels of both are those with
  ``label_time < D``. The new model (``@challenger``) and the current ``@champion`` are scored
  on that same window and the challenger is promoted only if it beats the champion by
  ``mlflow.promote_margin`` on ``mlflow.promote_metric``.

With ``split.feedback`` both also score the test window day by day with alert feedback
(:func:`okml.evaluate.feedback.with_feedback`; in a retrain the labels an alert reveals are
those known at ``D``) and log ``cp_at_k_feedback`` and the other feedback metrics (the
champion's as ``champion.cp_at_k_feedback``, ...). Promotion stays on
``mlflow.promote_metric`` (``cp_at_k`` by default: without feedback).

Both run ``notebooks/02_train.ipynb`` through papermill inside an MLflow run that this module
opens, so the run exists even when the notebook fails (marked FAILED) or the job is stopped
(KILLED; see :mod:`okml.cli`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams, Params, dump_params
from okml.errors import ConfigError, NotebookError, OkmlError
from okml.evaluate.scoring import group_sizes, operating_threshold, ring_payments, ring_rows
from okml.evaluate.splits import Fold, as_of_day, split_fold, training_fold, training_labels
from okml.features.graph import MIN_SIZE, group_size_name
from okml.jobs.data import ensure_data
from okml.paths import DATA_DIR, NOTEBOOKS_DIR, PROJECT_ROOT, resolve

log = logging.getLogger(__name__)
TRAIN_NOTEBOOK = NOTEBOOKS_DIR / "02_train.ipynb"
# where a failed run's executed notebook is kept when it could not be logged to the run
RUNS_DIR = DATA_DIR / "runs"
# a registered version's tag until the promotion decision is made and applied
NOT_EVALUATED = {"promotion.status": "registered, not evaluated"}


@dataclass
class TrainResult:
    """What a training run produced (the notebook logs it with :func:`log_result`)."""

    fold: Fold
    estimator: Any
    feature_columns: list[str]
    metrics: dict[str, float]
    scored: pd.DataFrame  # test rows: transaction_id, timestamp, customer_id, ..., score, flag
    threshold: float
    as_of: pd.Timestamp | None = None
    timings: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- core
def train_model(
    tx: pd.DataFrame,
    params: Params,
    as_of: str | None = None,
    features: pd.DataFrame | None = None,
    progress: bool = False,
) -> TrainResult:
    """Fit ``params.model`` on the training window and evaluate it on the test window.

    Parameters
    ----------
    tx:
        Canonical, validated transactions (with labels).
    params:
        All parameters.
    as_of:
        Retrain mode: use only what was known at this date (see the module docstring).
    features:
        The feature table of ``tx`` if already built (one row per transaction, same order).
    """
    from okml.evaluate.scoring import evaluate_test
    from okml.features import feature_matrix
    from okml.models import build_estimator

    _refuse_dask_feedback(params)
    timings: dict[str, float] = {}
    fold = training_fold(tx["timestamp"], params.split, as_of)
    t0 = time.perf_counter()
    X = feature_matrix(tx, params.features, progress) if features is None else features
    X = X.reset_index(drop=True).astype("float64")
    timings["features_s"] = time.perf_counter() - t0

    data = split_fold(tx, fold, params.split.remove_known_compromised)
    test_tx = tx.iloc[data.test]
    if as_of is not None:
        known_at = as_of_day(as_of)
        y_train = training_labels(tx.iloc[data.train], known_at)
        test_tx = test_tx.assign(is_fraud=training_labels(test_tx, known_at))
        if y_train.sum() == 0 or test_tx["is_fraud"].sum() == 0:
            raise OkmlError(
                f"{fold.name}: no fraud label known by {known_at:%Y-%m-%d} in the "
                "training or evaluation window; retrain later or widen split windows"
            )
    else:
        y_train = data.y_train
    t0 = time.perf_counter()
    est = build_estimator(params.model).fit(X.iloc[data.train], y_train)
    timings["fit_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = est.predict_proba(X.iloc[data.test])[:, 1]
    # evaluate.rings_first: the queue reads the group sizes, given to the model or not
    sizes = group_sizes(tx, params.features, X) if params.evaluate.rings_first else None
    queue = None if sizes is None else sizes.iloc[data.test]
    metrics, scored, threshold = evaluate_test(test_tx, scores, params, queue)
    timings["evaluate_s"] = time.perf_counter() - t0
    if params.split.feedback:
        t0 = time.perf_counter()
        known = as_of_day(as_of) if as_of is not None else None
        metrics.update(
            feedback_evaluation(tx, X, params.features, fold, data.test, est, params, known, sizes)
        )
        timings["feedback_s"] = time.perf_counter() - t0
    return TrainResult(
        fold,
        est,
        list(X.columns),
        metrics,
        scored.reset_index(drop=True),
        threshold,
        as_of_day(as_of) if as_of else None,
        timings,
    )


def _refuse_dask_feedback(params: Params) -> None:
    if params.split.feedback and params.compute.engine == "dask":
        raise ConfigError(
            "split.feedback is not supported with compute.engine dask (the day-by-day walk "
            "recomputes features in this process); use --engine local"
        )


def feedback_evaluation(
    tx: pd.DataFrame,
    X: pd.DataFrame,
    feature_params: FeatureParams,
    fold: Fold,
    test_rows: np.ndarray,
    model: Any,
    params: Params,
    known_at: pd.Timestamp | None = None,
    sizes: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The feedback metrics (``cp_at_k_feedback``, ...) of ``model`` on the test rows
    ``test_rows`` of ``tx`` (features ``X`` built with ``feature_params``), in the rows'
    order. ``known_at`` (a retrain's as-of day): alerts reveal only labels known by then.
    ``sizes``: the group sizes of ``tx`` (:func:`okml.evaluate.scoring.group_sizes`) when
    the caller has them; computed here with ``evaluate.rings_first`` otherwise."""
    from okml.evaluate import evaluate_scores
    from okml.evaluate.feedback import FeedbackFeatures, feedback_metrics, with_feedback

    labelled = tx if known_at is None else tx.assign(is_fraud=training_labels(tx, known_at))
    # evaluate.rings_first: the walk's alerts and the metrics in the queue order
    if params.evaluate.rings_first and sizes is None:
        sizes = group_sizes(tx, params.features, X if feature_params == params.features else None)
    elif not params.evaluate.rings_first:
        sizes = None
    features = FeedbackFeatures(labelled, X, feature_params, None if sizes is None else ring_rows(sizes))
    run = with_feedback(
        features, fold, test_rows, model, params.evaluate.k, params.split.remove_known_compromised
    )
    queue = None if sizes is None else sizes.iloc[test_rows]
    return feedback_metrics(evaluate_scores(labelled.iloc[test_rows], run.scores, params, features=queue))


@dataclass
class Training:
    """A fitted and evaluated model with the data behind it, from either engine."""

    result: TrainResult
    tx: pd.DataFrame  # local engine: every transaction; dask: the test window's
    features: pd.DataFrame  # the feature matrix of ``tx`` (same rows and order)
    provenance: dict[str, Any] | None = None  # dask: data fingerprint, engine, dashboard
    summary: str = ""

    @property
    def full_history(self) -> bool:
        """Whether ``tx`` holds all the data (features can be rebuilt from it)."""
        return self.provenance is None


def fit_and_evaluate(params: Params, as_of: str | None = None, progress: bool = False) -> Training:
    """Load, featurize, fit and evaluate with ``compute.engine`` (what the notebook runs)."""
    from okml.features import feature_matrix
    from okml.jobs.data import load_transactions

    _refuse_dask_feedback(params)
    if params.compute.engine == "dask":
        from okml.jobs.distributed import train_model_dask

        run = train_model_dask(params, as_of, quiet=not progress)
        result = TrainResult(
            run.fold, run.estimator, run.feature_columns, run.metrics, run.scored, run.threshold,
            as_of_day(as_of) if as_of else None, run.timings,
        )  # fmt: skip
        fp = run.fingerprint
        provenance = {**fp, "compute.engine": "dask", "dask.dashboard": run.dashboard}
        summary = (
            f"{fp['data.rows']:,} transactions from {fp['data.start'][:10]} to {fp['data.end'][:10]} "
            f"on dask (dashboard {run.dashboard})"
        )
        return Training(result, run.test_tx, run.test_features, provenance, summary)
    t0 = time.perf_counter()
    tx = load_transactions(params, progress=progress)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = feature_matrix(tx, params.features, progress=progress)
    features_s = time.perf_counter() - t0
    result = train_model(tx, params, as_of=as_of, features=X)
    result.timings.update(load_s=load_s, features_s=features_s)
    return Training(result, tx, X, None, f"{describe_data(tx)} (loaded in {load_s:.1f} s)")


# -------------------------------------------------------------------------- logging
def label_tags(tx: pd.DataFrame, result: TrainResult) -> dict[str, int]:
    """How many fraud labels of the training window each source gave, as known at the
    run's cut-off (``--as-of``, else the test window's start): ``labels.train.review: 12``
    says what the reviewers' decisions taught the model. Only when labels were merged
    (``okml.data.load`` adds ``label_source``)."""
    if "label_source" not in tx.columns:
        return {}
    fold = result.fold
    known_at = result.as_of if result.as_of is not None else fold.test_start
    rows = tx.loc[(tx["timestamp"] >= fold.train_start) & (tx["timestamp"] < fold.train_end)]
    fraud = training_labels(rows, known_at).astype(bool)
    counts = rows.loc[fraud, "label_source"].astype("string").fillna("data").value_counts()
    return {f"labels.train.{source}": int(n) for source, n in sorted(counts.items())}


def with_tracking_uri(params: Params, uri: str | None) -> Params:
    """``params`` with ``mlflow.tracking_uri`` set (the runner passes its store to the kernel)."""
    if not uri:
        return params
    return params.model_copy(update={"mlflow": params.mlflow.model_copy(update={"tracking_uri": uri})})


def kernel_tracking(params: Params) -> tuple[str | None, dict[str, str]]:
    """How the training notebook reaches the store: the URI as given for its parameters (no
    absolute path of this machine, no password: parameters are written into the executed
    notebook) and the environment variables that carry any credentials to the kernel."""
    from okml import tracking

    creds = tracking.uri_credentials(tracking.tracking_uri(params.mlflow))
    # credentials already in the environment are what MLflow uses here too: keep them
    return tracking.given_uri(params.mlflow), {k: v for k, v in creds.items() if k not in os.environ}


def recorded_params(params: Params) -> Params:
    """``params`` as a run records them: the tracking URI as given (a relative SQLite path
    stays relative), without credentials; None for the default store."""
    from okml import tracking

    uri = tracking.given_uri(params.mlflow)
    return params.model_copy(update={"mlflow": params.mlflow.model_copy(update={"tracking_uri": uri})})


def describe_data(tx: pd.DataFrame) -> str:
    """One line: how many transactions over which days."""
    return (
        f"{len(tx):,} transactions from {tx['timestamp'].min():%Y-%m-%d} to {tx['timestamp'].max():%Y-%m-%d}"
    )


def log_result(
    result: TrainResult,
    params: Params,
    tx: pd.DataFrame,
    run_id: str,
    extra_metrics: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Log metrics, plots, provenance and the pyfunc model of ``result`` to ``run_id``.

    ``provenance`` (the dask engine's data fingerprint, engine and dashboard link) replaces
    the fingerprint of ``tx``, which then holds only the test window.

    Returns the logged model's URI (also stored as the run tag ``okml.model_uri``).
    """
    from okml import pyfunc, tracking
    from okml.evaluate.plots import write_plots
    from okml.io import temp_prefix
    from okml.models import final_estimator, fraud_scorer
    from okml.pyfunc import write_model_files

    started = time.perf_counter()
    scorer = fraud_scorer(result.estimator, result.feature_columns)
    tracking.configure(params.mlflow)
    tracking.log_metrics({**result.metrics, **(extra_metrics or {})}, run_id)
    tracking.log_metrics({f"time.{k}": v for k, v in result.timings.items()}, run_id)
    tracking.set_tags(
        {
            **(provenance if provenance is not None else tracking.data_fingerprint(tx)),
            **tracking.code_version(),
            "fold": result.fold.name,
            "as_of": result.as_of.strftime("%Y-%m-%d") if result.as_of else "",
            "operating_threshold": result.threshold,
            **(label_tags(tx, result) if provenance is None else {}),
        },
        run_id,
    )
    with tempfile.TemporaryDirectory(prefix=temp_prefix("log")) as tmp:
        out = Path(tmp)
        for path in write_plots(
            result.scored.assign(fold=0), params, out / "plots", threshold=result.threshold
        ):
            tracking.log_artifact(path, "plots", run_id)
        (out / "params.yaml").write_text(dump_params(recorded_params(params)))
        tracking.log_artifact(out / "params.yaml", None, run_id)
        result.scored.to_parquet(out / "test_scores.parquet", index=False)
        tracking.log_artifact(out / "test_scores.parquet", None, run_id)
        artifacts = write_model_files(
            scorer,
            params.features,
            out / "model",
            extra={
                "threshold": result.threshold,
                "k": params.evaluate.k,
                # okml score ranks and flags in the queue order the threshold was measured in
                "rings_first": params.evaluate.rings_first,
                # the threshold of the same budget in score order: okml serve's, which has no graph
                "score_threshold": operating_threshold(
                    result.scored.drop(columns=["priority"], errors="ignore"), params.evaluate.k
                ),
                "amounts": {"amount_min": params.data.amount_min, "amount_max": params.data.amount_max},
                "fold": result.fold.name,
                "model": type(final_estimator(result.estimator)).__name__,
                "metrics": {
                    k: v for k, v in result.metrics.items() if isinstance(v, float) and math.isfinite(v)
                },
            },
        )
        model_uri = pyfunc.log_model(
            run_id, artifacts, code_paths=[str(resolve("okml"))], pip_requirements=tracking.pip_requirements()
        )
    tracking.set_tags({"okml.model_uri": model_uri}, run_id)
    tracking.log_metrics({"time.logging_s": time.perf_counter() - started}, run_id)
    return model_uri


# ---------------------------------------------------------------------- orchestration
def _run_training_notebook(
    params: Params, run_name: str, notebook_params: dict[str, Any], tags: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """Open an MLflow run, execute the training notebook inside it, log the executed copy and
    its HTML (also on failure or when stopped). Returns the run id and the run's data (metrics,
    tags). A failed notebook's error names where its executed copy can be opened."""
    from okml import tracking
    from okml.io import remove_stale_temp, temp_prefix
    from okml.jobs.notebooks import notebook_duration, run_notebook

    tracking.configure(params.mlflow)
    remove_stale_temp()  # scratch folders and kernel files of okml jobs that were killed
    kernel_uri, kernel_env = kernel_tracking(params)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("train")) as tmp:
        executed = Path(tmp) / TRAIN_NOTEBOOK.name
        with tracking.run(params.mlflow, run_name, tags=tags) as active:
            run_id = active.info.run_id
            tracking.log_params(recorded_params(params).flat())
            print(
                f"MLflow run {run_id} ({run_name}); executing {TRAIN_NOTEBOOK.name} on kernel "
                f"'{params.mlflow.kernel}'"
            )
            started = time.perf_counter()
            failure: NotebookError | None = None
            try:
                run_notebook(
                    TRAIN_NOTEBOOK,
                    executed,
                    {**notebook_params, "run_id": run_id, "tracking_uri": kernel_uri},
                    kernel=params.mlflow.kernel,
                    start_timeout=params.mlflow.start_timeout,
                    execution_timeout=params.mlflow.execution_timeout,
                    env=kernel_env,
                )
            except NotebookError as e:
                failure = e
            finally:
                wall = time.perf_counter() - started
                timing = {"time.notebook_s": wall}
                kept = None
                try:  # a stopped kernel may leave the executed copy half-written: never mask why
                    cells = notebook_duration(executed) if executed.exists() else None
                    if cells is not None:
                        timing["time.kernel_start_s"] = max(wall - cells, 0.0)
                    tracking.log_metrics(timing, run_id)
                    kept = _keep_executed(executed, run_id) if executed.exists() else None
                except Exception as e:
                    log.warning("could not keep the executed notebook of run %s: %s", run_id, e)
            if failure is not None:
                # the temporary copy is gone when the command exits: name the one that stays
                message = str(failure)
                if kept:
                    message = message.replace(f"executed copy: {executed}", f"executed notebook: {kept}")
                raise NotebookError(message) from None
    return run_id, tracking.run_data(run_id)


def _keep_executed(executed: Path, run_id: str) -> str:
    """Log the executed notebook and its HTML to the run; return where the notebook can be
    opened: the file in a local artifact store, the artifact's URI on a server, or, when it
    could not be logged, a copy under :data:`RUNS_DIR`."""
    from okml import tracking
    from okml.jobs.notebooks import export_html

    try:
        tracking.log_artifact(executed, "notebook", run_id)
        where = tracking.artifact_location(run_id, f"notebook/{executed.name}")
    except Exception as e:  # the store may be the problem; keep the notebook on this machine
        kept = RUNS_DIR / run_id / executed.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(executed, kept)
        log.warning(
            "could not log the executed notebook to run %s (%s); kept it at %s",
            run_id,
            str(e).splitlines()[0] if str(e) else type(e).__name__,
            kept,
        )
        return str(kept)
    try:
        html = export_html(executed, executed.with_suffix(".html"))
        tracking.log_artifact(html, "notebook", run_id)
    except Exception as e:  # the HTML is a convenience; never hide the real error
        log.warning("could not export the executed notebook to HTML: %s", e)
    return where


def _headline(metrics: dict[str, float], k: int) -> str:
    def f(name: str, fmt: str = "{:.3f}") -> str:
        v = metrics.get(name)
        return fmt.format(v) if v is not None else "n/a"

    feedback = f"  CP@{k} with feedback {f('cp_at_k_feedback')}" if "cp_at_k_feedback" in metrics else ""
    return (
        f"AUC {f('auc')}  AP {f('ap')}  CP@{k} {f('cp_at_k')}{feedback}  recall@FPR {f('recall_at_fpr')}  "
        f"caught {f('caught_amount', '{:,.0f}')}  missed {f('missed_amount', '{:,.0f}')}  "
        f"alerts/day {f('alerts_per_day', '{:.1f}')}"
    )


def _timing_line(metrics: dict[str, float]) -> str:
    parts = [
        ("kernel start", "time.kernel_start_s"),
        ("data", "time.load_s"),
        ("features", "time.features_s"),
        ("fit", "time.fit_s"),
        ("evaluation", "time.evaluate_s"),
        ("logging", "time.logging_s"),
        ("report", "time.report_s"),
    ]
    shown = [f"{name} {metrics[key]:.1f}s" for name, key in parts if key in metrics]
    return "time: " + ", ".join(shown)


def _notebook_params(params_path: str | None, overrides: list[str] | None) -> dict[str, Any]:
    """The notebook's parameters: a params file inside the project is named relative to it
    (the kernel resolves it against the same root), so no absolute path lands in the notebook."""
    file = None
    if params_path:
        path = resolve(params_path)
        file = str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
    from okml import tracking

    # the parameters are written into the executed notebook: no password from a --set
    kept = []
    for item in overrides or []:
        key, sep, value = item.partition("=")
        kept.append(
            f"{key}={tracking.redact_uri(value)}" if sep and key.strip() == "mlflow.tracking_uri" else item
        )
    return {"params_file": file, "overrides": kept}


def train(
    params: Params, params_path: str | None = None, overrides: list[str] | None = None, report: bool = True
) -> int:
    """``okml train``: run the training notebook under MLflow, register, promote the first
    model, write the reviewers' report for the last test day. Returns the exit code."""
    from okml import tracking

    ensure_data(params)
    # named by its start until the notebook has read the data, then by its test window's last day
    started_at = pd.Timestamp.now(tz="UTC")
    run_id, run = _run_training_notebook(
        params,
        f"train, started {started_at:%Y-%m-%d %H:%M} UTC",
        _notebook_params(params_path, overrides),
        {"okml.job": "train"},
    )
    uri = run["tags"].get("okml.model_uri")
    if not uri:
        raise NotebookError(f"run {run_id}: the notebook logged no model (tag okml.model_uri)")
    test_end = params.split.test_end or run["tags"].get("data.end")
    if test_end:
        last_day = as_of_day(test_end) - pd.Timedelta(days=1 if params.split.test_end else 0)
        tracking.rename_run(run_id, f"train {last_day:%Y-%m-%d}")
    what = "okml train" + (f", test window to {last_day:%Y-%m-%d}" if test_end else "")
    headline = _headline(run["metrics"], params.evaluate.k)
    version = tracking.register(
        uri,
        params.mlflow,
        tags={"run_id": run_id, **NOT_EVALUATED},
        description=tracking.version_description(what, run_id, run["tags"], headline),
    )
    promoted = tracking.alias_version(params.mlflow, tracking.CHAMPION) is None
    if promoted:
        # the alias moves before any tag says so: a kill in between leaves "not evaluated"
        tracking.set_alias(params.mlflow, tracking.CHAMPION, version)
    decision = "promoted to @champion (first model)" if promoted else "kept the current champion"
    tracking.tag_version(params.mlflow, version, _decision_tags(promoted, decision))
    print(f"\nrun {run_id}: {_headline(run['metrics'], params.evaluate.k)}")
    print(f"registered {params.mlflow.model_name} version {version}: {decision}")
    if report:
        started = time.perf_counter()
        _write_report(params, run_id, version)
        tracking.log_metrics({"time.report_s": time.perf_counter() - started}, run_id)
    print(_timing_line(tracking.run_metrics(run_id)))
    store = tracking.redact_uri(tracking.tracking_uri(params.mlflow))
    print(f"tracking store: {store}; open it with `make ui` (http://127.0.0.1:5000)")
    return 0


def _write_report(params: Params, run_id: str, version: str | None = None) -> None:
    """The reviewers' report for the last test day of the run."""
    from okml.jobs.report import report_for_run

    path = report_for_run(params, run_id, version)
    print(f"reviewers' report: {path}")


def retrain(
    params: Params,
    as_of: str | None = None,
    params_path: str | None = None,
    overrides: list[str] | None = None,
) -> int:
    """``okml retrain --as-of D``: train a challenger with what was known at D, compare with
    the champion on the same window, promote only if better. A lock keeps it single."""
    from okml import tracking

    as_of = as_of or pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    try:
        day = f"{as_of_day(as_of):%Y-%m-%d}"
    except (ValueError, TypeError):
        raise OkmlError(f"--as-of {as_of!r}: not a date; give one like 2026-06-01") from None
    # the lock follows the store: a file beside a SQLite database, a registry tag on a server
    with tracking.retrain_lock(params.mlflow):
        ensure_data(params)
        tracking.configure(params.mlflow)
        champion = tracking.alias_version(params.mlflow, tracking.CHAMPION)
        compare = tracking.model_uri(params.mlflow, tracking.CHAMPION) if champion else None
        run_id, run = _run_training_notebook(
            params,
            f"retrain as of {day}",
            {**_notebook_params(params_path, overrides), "as_of": as_of, "compare_with": compare},
            {"okml.job": "retrain", "as_of": as_of},
        )
        uri = run["tags"].get("okml.model_uri")
        if not uri:
            raise NotebookError(f"run {run_id}: the notebook logged no model")
        headline = _headline(run["metrics"], params.evaluate.k)
        what = f"okml retrain --as-of {day} (labels known by then)"
        version = tracking.register(
            uri,
            params.mlflow,
            tags={"run_id": run_id, "as_of": as_of, **NOT_EVALUATED},
            description=tracking.version_description(what, run_id, run["tags"], headline),
        )
        tracking.set_alias(params.mlflow, tracking.CHALLENGER, version)
        decision = decide(run["metrics"], champion, params)
        if decision["promoted"]:
            # the alias moves before any tag says so: a kill in between leaves "not evaluated"
            tracking.set_alias(params.mlflow, tracking.CHAMPION, version)
        tags = {
            **{f"promotion.{k}": v for k, v in decision.items()},
            **_decision_tags(decision["promoted"], decision["reason"]),
        }
        tracking.tag_version(params.mlflow, version, tags)
        tracking.set_tags(tags, run_id)
        print(f"\nrun {run_id}: {headline}")
        print(f"challenger = version {version}; {decision['reason']}")
        return 0


def _decision_tags(promoted: bool, reason: str) -> dict[str, Any]:
    """The promotion tags of a version once the decision is applied (status last: a kill while
    tagging leaves it at "registered, not evaluated")."""
    return {
        "promotion.promoted": promoted,
        "promotion.reason": reason,
        "promotion.status": "promoted" if promoted else "not promoted",
    }


def decide(metrics: dict[str, float], champion: str | None, params: Params) -> dict[str, Any]:
    """Promotion decision from a retrain run's metrics (``<metric>`` for the challenger,
    ``champion.<metric>`` for the champion on the same window)."""
    name = params.mlflow.promote_metric.replace("@", "_at_")
    margin = params.mlflow.promote_margin
    new = metrics.get(name, math.nan)
    if champion is None:
        return {
            "promoted": True,
            "metric": name,
            "challenger": new,
            "champion": None,
            "margin": margin,
            "reason": "promoted: no champion yet",
        }
    old = metrics.get(f"champion.{name}", math.nan)
    if math.isnan(new):
        promoted, why = False, f"not promoted: challenger {name} is undefined"
    elif math.isnan(old):
        promoted, why = True, f"promoted: champion {name} is undefined on this window"
    else:
        promoted = new > old + margin
        why = (
            f"{'promoted' if promoted else 'not promoted'}: challenger {name} {new:.4f} vs "
            f"champion (v{champion}) {old:.4f}, margin {margin:g}"
        )
    return {
        "promoted": promoted,
        "metric": name,
        "challenger": new,
        "champion": old,
        "champion_version": champion,
        "margin": margin,
        "reason": why,
    }


def compare_champion(
    result: TrainResult,
    tx: pd.DataFrame,
    features: pd.DataFrame,
    champion_uri: str,
    params: Params,
    full_history: bool = True,
) -> dict[str, float]:
    """Score the champion on the challenger's evaluation window (same rows, same labels)."""
    from okml import tracking
    from okml.evaluate import evaluate_scores
    from okml.features import feature_matrix
    from okml.models import as_scorer

    champion = tracking.load_model(champion_uri, params.mlflow)
    if champion.feature_params != params.features and not full_history:
        raise OkmlError(
            "the champion was trained with other feature settings: comparing it needs its own "
            "features over the whole history; retrain with --engine local, or with the champion's "
            "features parameters"
        )
    rows = np.flatnonzero(tx["transaction_id"].isin(result.scored["transaction_id"]).to_numpy())
    feats = features
    if champion.feature_params != params.features:
        feats = feature_matrix(tx, champion.feature_params, progress=False)
    scores = as_scorer(champion).predict_proba(feats.iloc[rows])
    test = tx.iloc[rows].set_index("transaction_id").loc[result.scored["transaction_id"]]
    test = test.reset_index().assign(is_fraud=result.scored["is_fraud"].to_numpy())
    order = pd.Series(np.arange(len(rows)), index=tx["transaction_id"].iloc[rows].to_numpy())
    pick = order.loc[result.scored["transaction_id"]].to_numpy()
    # the same queue as the challenger's (evaluate.rings_first): its rings, from its scored
    # rows (either engine: the dask engine's tx holds only the test window's columns)
    queue = None
    if params.evaluate.rings_first:
        ring = ring_payments(result.scored)
        queue = pd.DataFrame({group_size_name(params.features): np.where(ring, float(MIN_SIZE), 1.0)})
    m = evaluate_scores(test, scores[pick], params, features=queue)
    if params.split.feedback:
        # the same walk as the challenger's: its own features, labels known at the as-of day
        m.update(
            feedback_evaluation(
                tx,
                feats,
                champion.feature_params,
                result.fold,
                rows,
                as_scorer(champion),
                params,
                result.as_of,
            )
        )
    return {f"champion.{k}": v for k, v in m.items()}
