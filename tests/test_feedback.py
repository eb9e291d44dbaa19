"""Alert feedback: a hand-made frame with exact values, time-correctness as a property, the
F + D ensemble against its two models, and ``okml evaluate`` / ``train_model`` with
``split.feedback`` on small simulated data (real xgboost, real feature engine)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# the small simulated world of tests/test_evaluate.py
from test_evaluate import tiny_params  # noqa: E402

from okml.cli import main
from okml.config import FeatureParams, params_from_dict
from okml.errors import ConfigError, DataError
from okml.evaluate.feedback import (
    EnsembleScorer,
    FeedbackEnsemble,
    FeedbackFeatures,
    Samples,
    feedback_metrics,
    feedback_name,
    walk,
    walk_gap,
    with_feedback,
)
from okml.evaluate.metrics import daily_top_k
from okml.evaluate.splits import make_folds
from okml.features import build_features, feature_matrix
from okml.jobs.data import load_transactions
from okml.jobs.evaluate import LocalFolds, run_evaluation
from okml.jobs.train import fit_and_evaluate, train_model
from okml.models import build_estimator, candidate_params
from okml.schema import validate

UTC = "UTC"


def _at(day: int, hour: float) -> pd.Timestamp:
    return pd.Timestamp("2026-03-01", tz=UTC) + pd.Timedelta(days=day - 1) + pd.Timedelta(hours=hour)


# ------------------------------------------------------------------- a hand-made frame
# k = 1, scores = amount / 1000. Day 2: c1's fraud at m1 (label due on day 20) is the day's
# top alert, so its label comes at the end of day 2. Day 3: c3 at m1 and c1 at m3 see it;
# c4 (day 2, 23:00, after the alert's payment) and c5 (day 3 at exactly midnight: a label is
# known only strictly after label_time) do not.
HAND = [
    # id, day, hour, customer, merchant, amount, fraud, label (day, hour) or None
    ("t1", 2, 10, "c1", "m1", 500.0, 1, (20, 0)),
    ("t2", 2, 11, "c2", "m2", 20.0, 0, None),
    ("t3", 2, 23, "c4", "m1", 30.0, 0, None),
    ("t4", 3, 0, "c5", "m1", 10.0, 0, None),
    ("t5", 3, 9, "c3", "m1", 40.0, 0, None),
    ("t6", 3, 12, "c1", "m3", 60.0, 0, None),
]


def _hand() -> pd.DataFrame:
    return validate(
        pd.DataFrame(
            {
                "transaction_id": [r[0] for r in HAND],
                "timestamp": [_at(r[1], r[2]) for r in HAND],
                "customer_id": [r[3] for r in HAND],
                "merchant_id": [r[4] for r in HAND],
                "amount": [r[5] for r in HAND],
                "is_fraud": [r[6] for r in HAND],
                "label_time": [_at(*r[7]) if r[7] else None for r in HAND],
            }
        )
    )


def _by_amount(day: pd.Timestamp, X: pd.DataFrame, samples: Samples) -> np.ndarray:
    return X["amount"].to_numpy() / 1000


def test_feedback_on_day_two_reaches_day_three_features_only() -> None:
    tx = _hand()
    params = FeatureParams(timezone=UTC)
    X = feature_matrix(tx, params)
    features = FeedbackFeatures(tx, X, params)
    done = walk(features, np.arange(len(tx)), 1, _by_amount)
    got = done.features.set_axis(tx["transaction_id"])
    # without feedback nobody knows t1 is fraud before day 20
    assert (X["merch_known_frauds_7d"] == 0).all() and (X["cust_known_frauds"] == 0).all()
    # with it: t5 (c3 at m1, 23 h after t1) and t6 (c1 itself, 26 h after t1)
    assert got.loc["t5", "merch_known_frauds_7d"] == 1
    assert got.loc["t5", "merch_days_since_known_fraud"] == pytest.approx(23 / 24)
    assert got.loc["t6", "cust_known_frauds"] == 1
    assert got.loc["t6", "cust_days_since_known_fraud"] == pytest.approx(26 / 24)
    # nothing of day 2, nor the payment at exactly midnight, sees it
    unchanged = ["t1", "t2", "t3", "t4"]
    pd.testing.assert_frame_equal(got.loc[unchanged], X.set_axis(tx["transaction_id"]).loc[unchanged])
    # the alerted payments' labels now come at the end of their day (t5's too: legitimate,
    # which no feature counts); nothing else moved
    lowered = pd.Series(done.label_times(), index=tx["transaction_id"])
    assert lowered["t1"] == _at(3, 0) and lowered["t5"] == _at(4, 0)
    assert lowered.drop(["t1", "t5"]).isna().all()
    # the alerts: c1 on day 2 (fraud, caught), c3 on day 3 (c1 is out; c3 40 > c5 10)
    assert done.alerts["customer_id"].tolist() == ["c1", "c3"]
    assert tx["transaction_id"].iloc[done.samples.rows].tolist() == ["t1", "t5"]
    assert done.samples.y.tolist() == [1, 0]
    assert features.recomputed == 1  # day 3 only


def test_rings_first_the_walk_alerts_a_ring_before_a_higher_score() -> None:
    """With ``ring`` (evaluate.rings_first) the day's alert goes to a ring's customer: day 2
    alerts c2, a ring member, instead of c1 (500 > 20), whose fraud then gives no feedback;
    day 3 alerts c3 (ring, 40) above c1 (60)."""
    tx = _hand()
    params = FeatureParams(timezone=UTC)
    X = feature_matrix(tx, params)
    ring = tx["customer_id"].isin(["c2", "c3"]).to_numpy()
    features = FeedbackFeatures(tx, X, params, ring)
    done = walk(features, np.arange(len(tx)), 1, _by_amount)
    assert done.alerts["customer_id"].tolist() == ["c2", "c3"]
    np.testing.assert_allclose(done.scores, X["amount"].to_numpy() / 1000)  # still the model's
    assert features.recomputed == 0  # c1's fraud was not alerted: no label came sooner
    with pytest.raises(ValueError, match="ring flags"):
        FeedbackFeatures(tx, X, params, ring[:-1])


def test_a_label_already_known_gives_no_feedback_and_no_recomputation() -> None:
    tx = _hand().assign(label_time=lambda d: d["label_time"].where(d["transaction_id"] != "t1", _at(2, 12)))
    params = FeatureParams(timezone=UTC)
    X = feature_matrix(tx, params)
    features = FeedbackFeatures(tx, X, params)
    done = walk(features, np.arange(len(tx)), 1, _by_amount)
    pd.testing.assert_frame_equal(done.features, X)
    assert features.recomputed == 0


def test_feedback_needs_label_times() -> None:
    tx = _hand().drop(columns="label_time")
    params = FeatureParams(timezone=UTC)
    with pytest.raises(DataError, match="no label_time"):
        FeedbackFeatures(tx, feature_matrix(tx, params), params)


def test_metric_names() -> None:
    assert feedback_name("cp_at_k") == "cp_at_k_feedback"
    assert feedback_name("recall.fake_orders") == "recall_feedback.fake_orders"
    got = feedback_metrics({"cp_at_k": 0.5, "auc": 0.9, "recall.ato": 1.0, "n_transactions": 3.0})
    assert got == {"cp_at_k_feedback": 0.5, "recall_feedback.ato": 1.0, "n_transactions_feedback": 3.0}


# ------------------------------------------------------------------ time, as a property
row = st.fixed_dictionaries(
    {
        "hour": st.integers(0, 4 * 24 - 1),  # four UTC days
        "minute": st.integers(0, 59),
        "customer_id": st.sampled_from(["c1", "c2", "c3", "c4"]),
        "merchant_id": st.sampled_from(["m1", "m2"]),
        "amount": st.sampled_from([5.0, 12.5, 40.0, 300.0]),
        "is_fraud": st.integers(0, 1),
        "label_hours": st.sampled_from([0, 3, 30, 80, None]),  # None: never labelled
        "score": st.floats(0, 1),
    }
)
SMALL = FeatureParams(
    customer_windows=["1h", "1d"],
    merchant_windows=["1d", "2d"],
    merchant_fraud_windows=["1d", "3d"],
    merchant_fraud_profile_window="2d",
    delayed_risk_windows=["1d"],
    label_delay="1d",
    timezone=UTC,
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray]:
    rows = draw(st.lists(row, min_size=2, max_size=30))
    t0 = pd.Timestamp("2026-03-01", tz=UTC)
    frame = []
    for i, r in enumerate(rows):
        t = t0 + pd.Timedelta(hours=r["hour"], minutes=r["minute"])
        label = None if r["label_hours"] is None else t + pd.Timedelta(hours=r["label_hours"])
        frame.append(
            {
                "transaction_id": i,
                "timestamp": t,
                "customer_id": r["customer_id"],
                "merchant_id": r["merchant_id"],
                "amount": r["amount"],
                "is_fraud": r["is_fraud"],
                "label_time": label,
            }
        )
    return validate(pd.DataFrame(frame)), np.array([r["score"] for r in rows])


@given(worlds(), st.integers(1, 2))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_payment_sees_a_feedback_label_of_its_own_day_or_later(world, k: int) -> None:
    tx, score = world
    X = feature_matrix(tx, SMALL)
    features = FeedbackFeatures(tx, X, SMALL)

    def scorer(day: pd.Timestamp, X_day: pd.DataFrame, samples: Samples) -> np.ndarray:
        return score[X_day.index.to_numpy()]

    rows = np.arange(len(tx))
    done = walk(features, rows, k, scorer)
    # every feedback label lands at the end of its day: with *all* of them applied at once
    # (those of each payment's own day and later days included), every payment's features
    # are the ones it was scored with
    final = tx.assign(label_time=done.label_times())
    expected = build_features(final, SMALL).reset_index(drop=True)
    pd.testing.assert_frame_equal(done.features.reset_index(drop=True), expected, rtol=1e-9, atol=1e-12)
    # and the walk's alerts are the metric's own
    scored = tx[["timestamp", "customer_id", "is_fraud"]].assign(score=done.scores)
    _, alerts = daily_top_k(scored, k)
    pd.testing.assert_frame_equal(done.alerts.reset_index(drop=True), alerts.reset_index(drop=True))
    # later days change nothing before them
    first_days = tx["timestamp"] < tx["timestamp"].min().floor("D") + pd.Timedelta(days=2)
    early = walk(features, np.flatnonzero(first_days.to_numpy()), k, scorer)
    np.testing.assert_array_equal(early.scores, done.scores[first_days.to_numpy()])


# --------------------------------------------------------------------- simulated data
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny simulated world, its features and the first fold's fit of xgboost:class_weight."""
    tmp = tmp_path_factory.mktemp("feedback")
    params = tiny_params(
        tmp,
        split={"feedback": True},
        evaluate={
            "candidates": [
                {"kind": "xgboost", "imbalance": "class_weight"},
                {"kind": "xgboost", "imbalance": "class_weight", "strategy": "feedback_ensemble"},
            ]
        },
    )
    tx = load_transactions(params, progress=False)
    X = feature_matrix(tx, params.features)
    source = LocalFolds(tx, X, params)
    fold = make_folds(tx["timestamp"], params.split)[0]
    model_params = candidate_params(params.model, params.evaluate.candidates[0])
    return params, tx, X, source, fold, model_params, source.fit(model_params, fold)


def test_simulated_walk_is_time_correct_and_changes_later_features(world) -> None:
    params, tx, X, source, fold, _, est = world
    rows = source.split(fold).test
    run = with_feedback(source.feedback, fold, rows, est, params.evaluate.k)
    names = source.feedback.names
    final = tx.assign(label_time=run.test.label_times())
    expected = feature_matrix(final, params.features).iloc[rows]
    pd.testing.assert_frame_equal(run.test.features[names], expected[names], rtol=1e-9, atol=1e-12)
    changed = (run.test.features[names] != X.iloc[rows][names]) & ~(
        run.test.features[names].isna() & X.iloc[rows][names].isna()
    )
    days = tx["timestamp"].iloc[rows].dt.floor("D").to_numpy()
    assert not changed[days == days.min()].any().any()  # the first test day has no feedback yet
    assert changed.any().any()  # later days do
    assert run.test.samples.y.sum() > 0


def test_ensemble_is_the_mean_of_its_two_models(world) -> None:
    params, tx, X, source, fold, model_params, est = world
    k = params.evaluate.k
    gap = walk_gap(source.feedback, fold, est, k, feedback=False).samples
    assert len(gap) and (gap.day < fold.test_start).all() and (gap.day >= fold.train_end).all()
    F = build_estimator(model_params).fit(gap.X, gap.y)
    X_test = X.iloc[source.split(fold).test]
    mean = (est.predict_proba(X_test)[:, 1] + F.predict_proba(X_test)[:, 1]) / 2
    proba = FeedbackEnsemble(est, F).predict_proba(X_test)
    np.testing.assert_allclose(proba[:, 1], mean, rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        FeedbackEnsemble(est, None).predict_proba(X_test), est.predict_proba(X_test)
    )


def test_ensemble_without_both_classes_scores_with_the_delayed_model(world, caplog) -> None:
    params, tx, X, source, fold, model_params, est = world
    rows = source.split(fold).test[:50]
    legit_only = walk_gap(source.feedback, fold, est, params.evaluate.k, feedback=False).samples
    keep = legit_only.y == 0
    legit_only = Samples(legit_only.rows[keep], legit_only.day[keep], legit_only.X[keep], legit_only.y[keep])
    scorer = EnsembleScorer(
        est, lambda X, y: build_estimator(model_params).fit(X, y), pd.Timedelta(days=7), legit_only
    )
    day = tx["timestamp"].iloc[rows[0]].floor("D")
    with caplog.at_level(logging.INFO, logger="okml.evaluate.feedback"):
        got = scorer(day, X.iloc[rows], Samples.empty(X.columns))
    np.testing.assert_array_equal(got, est.predict_proba(X.iloc[rows])[:, 1])
    assert scorer.models[day] is None
    assert "scored by the delayed model alone" in caplog.text


def test_evaluate_with_feedback_keeps_the_numbers_without_it(world, tmp_path: Path) -> None:
    params, tx, X, *_ = world
    on = run_evaluation(params, str(tmp_path / "on"), progress=False, transactions=tx, features=X)
    off_params = params.model_copy(update={"split": params.split.model_copy(update={"feedback": False})})
    off = run_evaluation(off_params, str(tmp_path / "off"), progress=False, transactions=tx, features=X)
    shared = [c for c in off.fold_metrics.columns if c != "fit_seconds"]
    pd.testing.assert_frame_equal(on.fold_metrics[shared], off.fold_metrics[shared])
    assert not any("feedback" in c for c in off.fold_metrics.columns)
    assert list(off.scores.columns) == ["transaction_id", "fold", "model", "score"]
    assert {"cp_at_k_feedback", "ap_feedback", "recall_feedback", "feedback_seconds"} <= set(on.fold_metrics)
    assert on.scores["score_feedback"].notna().all()
    assert (on.fold_metrics["n_transactions_feedback"] == on.fold_metrics["n_transactions"]).all()
    # the ensemble's scores without feedback: D and F (trained on the gap's alerts) averaged
    _, _, _, source, fold, model_params, est = world
    gap = walk_gap(source.feedback, fold, est, params.evaluate.k, feedback=False).samples
    F = build_estimator(model_params).fit(gap.X, gap.y)
    X_test = X.iloc[source.split(fold).test]
    ens = on.scores[
        (on.scores["model"] == "xgboost:class_weight:feedback_ensemble") & (on.scores["fold"] == 0)
    ]
    np.testing.assert_allclose(ens["score"], FeedbackEnsemble(est, F).predict_proba(X_test)[:, 1], rtol=1e-12)
    # the pooled model's with feedback: the walk's
    pooled = on.scores[(on.scores["model"] == "xgboost:class_weight") & (on.scores["fold"] == 0)]
    run = with_feedback(source.feedback, fold, source.split(fold).test, est, params.evaluate.k)
    np.testing.assert_allclose(pooled["score_feedback"], run.scores, rtol=1e-12)


def test_okml_evaluate_with_feedback_writes_both_columns(world, tmp_path: Path) -> None:
    params, *_ = world
    out = tmp_path / "cli"
    args = ["evaluate", "-q", "--output", str(out), "--set", f"data.path={params.data.path}"]
    args += ["--set", "split.feedback=true", "--set", "split.train_days=14", "--set", "split.n_folds=1"]
    args += ["--set", "model.n_estimators=20", "--set", "model.max_depth=3", "--set", "evaluate.k=5"]
    args += ["--set", 'evaluate.candidates=[{"kind": "xgboost", "strategy": "feedback_ensemble"}]']
    assert main(args) == 0
    summary = pd.read_csv(out / "comparison.csv")
    assert summary["model"].tolist() == ["xgboost:none:feedback_ensemble"]
    assert {"cp_at_k_mean", "cp_at_k_feedback_mean", "recall_feedback_mean"} <= set(summary.columns)
    assert summary["cp_at_k_feedback_mean"].between(0, 1).all()
    folds = pd.read_csv(out / "folds.csv")
    assert {"cp_at_k", "cp_at_k_feedback"} <= set(folds.columns)
    md = (out / "comparison.md").read_text()
    assert "CP@5 with feedback" in md and "With feedback (split.feedback)" in md


# ------------------------------------------------------------------------ refused input
def test_bad_feedback_settings_are_refused_in_one_line(world, tmp_path: Path) -> None:
    params, tx, X, *_ = world
    dask = params.model_copy(update={"compute": params.compute.model_copy(update={"engine": "dask"})})
    with pytest.raises(ConfigError, match="split.feedback is not supported with compute.engine dask"):
        run_evaluation(dask, str(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="split.feedback is not supported with compute.engine dask"):
        fit_and_evaluate(dask)
    ensemble = [{"kind": "xgboost", "strategy": "feedback_ensemble"}]
    for settings_, message in [
        ({"split": {"delay_days": 0}}, "with split.delay_days 0 there are none"),
        ({"evaluate": {"operating_point": "cost"}}, "needs evaluate.operating_point top_k"),
    ]:
        raw = params.model_dump(mode="json")
        raw["evaluate"]["candidates"] = ensemble
        for section, values in settings_.items():
            raw[section].update(values)
        with pytest.raises(ConfigError, match=message):
            run_evaluation(params_from_dict(raw), str(tmp_path), progress=False, transactions=tx, features=X)
    off = params.model_copy(update={"split": params.split.model_copy(update={"feedback": False})})
    off = off.model_copy(
        update={"evaluate": off.evaluate.model_copy(update={"select_metric": "cp_at_k_feedback"})}
    )
    with pytest.raises(ConfigError, match="measured only with split.feedback: true"):
        run_evaluation(off, str(tmp_path), progress=False, transactions=tx, features=X)
    with pytest.raises(ConfigError, match="strategy"):
        params_from_dict({"evaluate": {"candidates": [{"kind": "xgboost", "strategy": "stacked"}]}})
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- training
def test_train_model_reports_cp_at_k_with_feedback(world) -> None:
    params, tx, X, *_ = world
    with_fb = train_model(tx, params, features=X)
    without = train_model(
        tx,
        params.model_copy(update={"split": params.split.model_copy(update={"feedback": False})}),
        features=X,
    )
    assert 0 <= with_fb.metrics["cp_at_k_feedback"] <= 1
    assert "cp_at_k_feedback" not in without.metrics
    assert {k: v for k, v in with_fb.metrics.items() if "feedback" not in k} == pytest.approx(
        without.metrics, nan_ok=True
    )
    # a retrain: labels, feedback included, only as known at the as-of day
    as_of = train_model(tx, params, as_of="2026-02-14", features=X)
    assert not math.isnan(as_of.metrics["cp_at_k_feedback"])
