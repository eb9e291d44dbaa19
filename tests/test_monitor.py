"""Monitoring: the statistics on tiny exact inputs (fast), the signals and alarms of a small
world (fast), and ``okml monitor`` end to end on a registered model: the page in headless
Chromium, one MLflow point per day, the exit code (slow)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from okml.monitor import stats

# the small world: 300 customers over 60 days from 2026-01-01 (its new pattern from 02-10)
SIM = {"n_customers": 300, "n_merchants": 100, "n_days": 60, "seed": 11}
TRAIN = ("2026-01-12", "2026-02-01")  # the model's training window, days included
TEST = ("2026-02-02", "2026-02-08")  # its training run's test week: the reference
MONITOR = ("2026-02-09", "2026-02-24")


# ------------------------------------------------------------------- statistics
def test_psi_and_js_on_tiny_exact_inputs() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    want = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert stats.psi_counts([50, 50], [25, 75]) == pytest.approx(want, abs=1e-12)
    assert stats.psi_counts([2, 2], [1, 3]) == pytest.approx(want, abs=1e-12)  # counts or shares
    assert stats.psi_counts([1, 1], [1, 1]) == 0.0
    # an empty bin counts as EPS: finite, large
    assert stats.psi_counts([1, 0], [1, 1]) == pytest.approx(
        (0.5 - 1) * math.log(0.5) + (0.5 - stats.EPS) * math.log(0.5 / stats.EPS)
    )
    assert math.isnan(stats.psi_counts([0, 0], [1, 1]))
    # numeric values in the reference's quantile bins: the median of [0, 0, 1, 1] splits them
    assert stats.bin_edges([0, 0, 1, 1], bins=2).tolist() == [0.5]
    assert stats.psi([0, 0, 1, 1], [0, 1, 1, 1], bins=2) == pytest.approx(want, abs=1e-12)
    # a missing value has a bin of its own
    assert stats.bin_counts([0.1, np.nan, 0.7, np.inf], np.array([0.5])).tolist() == [1, 1, 2]
    assert stats.category_counts(["a", "b", "z", None, "a"], ["a", "b"]).tolist() == [2, 1, 1, 1]
    # Jensen-Shannon distance, base 2: 0 for the same shares, 1 for disjoint ones
    from scipy.spatial.distance import jensenshannon

    assert stats.js_counts([3, 1], [6, 2]) == 0.0
    assert stats.js_counts([1, 0], [0, 1]) == 1.0
    assert stats.js_counts([50, 50], [25, 75]) == pytest.approx(
        jensenshannon([0.5, 0.5], [0.25, 0.75], base=2)
    )
    assert stats.js_distance([0, 0, 1, 1], [0, 1, 1, 1], bins=2) == pytest.approx(
        jensenshannon([0.5, 0.5], [0.25, 0.75], base=2)
    )
    assert stats.total_variation([0.5, 0.5, 0], [0, 0.5, 0.5]) == 0.5


def test_poisson_binomial_and_the_interval() -> None:
    from scipy.stats import binom

    pmf = stats.poisson_binomial_pmf([0.3] * 12)
    assert pmf == pytest.approx(binom.pmf(np.arange(13), 12, 0.3), abs=1e-12)
    pmf = stats.poisson_binomial_pmf([0.1, 0.9, 0.5])
    assert pmf.sum() == pytest.approx(1.0) and pmf[3] == pytest.approx(0.1 * 0.9 * 0.5)
    est, low, high = stats.estimate_precision([0.9] * 20, level=0.9)
    assert est == pytest.approx(0.9)
    assert low == pytest.approx(binom.ppf(0.05, 20, 0.9) / 20) and high == 1.0
    assert all(math.isnan(v) for v in stats.estimate_precision([]))
    assert stats.binomial_low_p(0, 7, 0.5) == pytest.approx(0.5**7)
    assert stats.poisson_two_sided_p(10, 10.0) == 1.0 and stats.poisson_two_sided_p(40, 10.0) < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cbpe_equals_the_realised_precision_in_expectation(seed: int) -> None:
    """Scores with a true, monotone probability of fraud: a calibrator fitted on a
    reference sample estimates each day's precision at the operating point without its
    labels; averaged over days the estimate equals the realised precision, the interval
    covers about its level, and it still does when the days' scores drift (a covariate
    shift: what CBPE is for)."""
    rng = np.random.default_rng(seed)

    def truth(score: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(8 * score - 6)))  # the model is surer as its score rises

    ref_scores = rng.beta(2, 3, 100_000)
    calibrator = stats.fit_calibrator(ref_scores, rng.random(len(ref_scores)) < truth(ref_scores))
    threshold = 0.6
    for a, b in ((2, 3), (3, 2)):  # the reference's distribution, then one with more high scores
        est, real, inside = [], [], []
        for _ in range(400):
            s = rng.beta(a, b, 300)
            flagged = s[s >= threshold]
            y = rng.random(len(flagged)) < truth(flagged)
            e, low, high = stats.estimate_precision(calibrator.predict(flagged), level=0.9)
            est.append(e)
            real.append(y.mean())
            inside.append(low <= y.mean() <= high)
        assert np.mean(est) == pytest.approx(np.mean(real), abs=0.01)
        assert 0.85 <= np.mean(inside) <= 0.97


def test_label_completeness_corrects_the_calibration_of_young_labels() -> None:
    """Half the reference's frauds are not labelled yet: divided by the expected completeness
    the calibrated probabilities are the true ones again."""
    rng = np.random.default_rng(3)
    scores = rng.random(200_000)
    fraud = rng.random(len(scores)) < scores
    delays = rng.exponential(10.0, len(scores))
    age = 10 * math.log(2)  # half of the delays are shorter
    known = fraud & (delays <= age)
    c = float(stats.label_completeness(delays[fraud][:5000], [age])[0])
    assert c == pytest.approx(0.5, abs=0.03)
    calibrated = stats.fit_calibrator(scores, known).predict(np.array([0.2, 0.8])) / c
    assert calibrated == pytest.approx([0.2, 0.8], abs=0.04)


def test_calibration_with_labels_still_to_come_on_tiny_exact_inputs() -> None:
    # a known fraud of a day half labelled stands for two
    cal = stats.fit_calibrator([0.1, 0.1, 0.9, 0.9, 0.9, 0.9], [0, 0, 1, 0, 0, 0], [1, 1, 0.5, 0.5, 0.5, 0.5])
    assert cal.predict([0.1, 0.9]).tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match="completeness"):
        stats.fit_calibrator([0.1, 0.9], [0, 1], [1.0, 0.0])
    with pytest.raises(ValueError, match="completeness"):
        stats.fit_calibrator([0.1, 0.9], [0, 1], [1.0])
    # without truncation Lynden-Bell's estimator is the share of delays at most the age
    delays, ages = [1, 2, 3, 10], [0, 2, 5, 30]
    assert stats.truncated_completeness(delays, [np.inf] * 4, ages).tolist() == pytest.approx(
        stats.label_completeness(delays, ages).tolist()
    )
    # a fraud paid 1.5 days ago can only have shown a short delay: it counts for delays up to 1.5
    # (by hand: R = 2, 2, 3 at u = 1, 2, 4 -> P(<= 1) = (1 - 1/2)(1 - 1/3), P(<= 2) = 2/3)
    got = stats.truncated_completeness([1, 1, 2, 4], [10, 1.5, 10, 10], [0.5, 1, 2, 3.9, 4])
    assert got.tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 2 / 3, 1.0])
    assert stats.truncated_completeness([], [], [3.0]).tolist() == [1.0]


def test_the_noise_bound_on_tiny_exact_inputs() -> None:
    from scipy.stats import binom

    # two coin flips: the realised precision is 0, 1/2 or 1, no window of 0.1 holds two of them
    assert stats.best_window([0.5, 0.5]) == (0.5, 0.5)
    # ten flags at 0.9: 9/10 and 10/10 are 0.1 apart, so one window holds both
    centre, mass = stats.best_window([0.9] * 10)
    assert centre == pytest.approx(0.95) and mass == pytest.approx(binom.pmf([9, 10], 10, 0.9).sum())
    # one flag: the mean 0.86 is never within 0.05 of 0 or 1; the best guess is 1, right 86% of days
    assert stats.within_probability([0.86], 0.86) == 0.0
    assert stats.best_window([0.86]) == (1.0, pytest.approx(0.86))
    assert stats.within_probability([0.5, 0.5], 0.5) == 0.5 and stats.within_probability(
        [0.9] * 10, 0.95
    ) == (pytest.approx(mass))
    assert all(math.isnan(v) for v in stats.best_window([])) and math.isnan(stats.within_probability([], 0.5))


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), min_size=1, max_size=30),
    estimate=st.floats(0, 1),
    tol=st.sampled_from([0.0, 0.05, 0.1]),
)
def test_no_estimate_beats_the_noise_bound(probs: list[float], estimate: float, tol: float) -> None:
    centre, best = stats.best_window(probs, tol)
    assert stats.within_probability(probs, estimate, tol) <= best + 1e-9
    assert stats.within_probability(probs, centre, tol) == pytest.approx(best, abs=1e-9)


# --------------------------------------------------------------- rolling calibration
def _tiny_inputs() -> Any:
    """A hand-made world for the rolling calibration: a training window of 20 flagged frauds
    on 01-01 (labelled 12 hours later), then February, ten payments a day: eight at score 0.1
    (legitimate) and two flagged at 0.9, one of them a fraud up to 02-14 and both from 02-15,
    every label 12 hours after its payment."""
    from okml.monitor import MonitorInputs, Windows

    def day_rows(day: pd.Timestamp, frauds: int, n_low: int = 8) -> pd.DataFrame:
        ts = day + pd.to_timedelta(np.arange(n_low + 2), unit="h")
        fraud = np.r_[np.zeros(n_low, int), np.ones(frauds, int), np.zeros(2 - frauds, int)]
        return pd.DataFrame(
            {
                "timestamp": ts,
                "customer_id": np.arange(n_low + 2),
                "day": day,
                "score": np.r_[np.full(n_low, 0.1), 0.9, 0.9],
                "flag": np.r_[np.zeros(n_low, bool), True, True],
                "is_fraud": fraud,
                "label_time": pd.Series(ts + pd.Timedelta(hours=12)).where(fraud == 1).to_numpy(),
            }
        )

    jan1 = pd.Timestamp("2026-01-01", tz="UTC")
    train = pd.concat([day_rows(jan1, 2, n_low=0)] * 10, ignore_index=True)
    feb = pd.date_range("2026-02-01", "2026-02-28", freq="D", tz="UTC")
    current = pd.concat([day_rows(d, 1 if d.day < 15 else 2) for d in feb], ignore_index=True)
    windows = Windows(jan1, jan1 + pd.Timedelta(days=10), feb[0], feb[0] + pd.Timedelta(days=7))
    return MonitorInputs(
        columns=[],
        windows=windows,
        start=feb[0],
        end=feb[-1] + pd.Timedelta(days=1),
        train=train,
        reference=current[current["day"] < windows.reference_end].reset_index(drop=True),
        current=current,
        reference_shap=pd.DataFrame(),
        current_shap=pd.DataFrame(),
    )


def _estimates(inputs: Any, calibration: str, as_of: pd.Timestamp | None = None) -> pd.Series:
    from okml.config import MonitorParams
    from okml.monitor.signals import calibration_delays, estimated_precision

    as_of = as_of if as_of is not None else inputs.end
    mp = MonitorParams(calibration=calibration)
    return estimated_precision(inputs, as_of, calibration_delays(inputs.train, as_of), mp)[0]["precision_est"]


def test_rolling_calibration_on_a_tiny_exact_world() -> None:
    est = _estimates(_tiny_inputs(), "rolling")
    day = lambda d: pd.Timestamp(f"2026-02-{d:02d}", tz="UTC")  # noqa: E731
    # 02-17 learns from 02-01..02-10 (the days at least 7 days old), 10 frauds of 20 flags
    assert est[day(17)] == pytest.approx(0.5)
    # 02-28 from the 14 days 02-08..02-21: 7 + 14 frauds of 28 flags
    assert est[day(28)] == pytest.approx(0.75)
    # before, fewer than 10 frauds are labelled on the days old enough: no estimate
    assert est[: day(16)].isna().all()
    # the reference week (02-01..02-07: 1 of 2) is all the reference calibration knows
    assert _estimates(_tiny_inputs(), "reference")[day(28)] == pytest.approx(0.5)


@settings(max_examples=25, deadline=None)
@given(day=st.integers(10, 28), seed=st.integers(0, 2**16))
def test_a_rolling_estimate_uses_nothing_known_after_its_day(day: int, seed: int) -> None:
    """Change every label that arrives after the day starts (flip frauds, move their label
    times, add frauds labelled later), in the training window too, and the scores of later
    days: the day's rolling estimate stays what it was."""
    d = pd.Timestamp(f"2026-02-{day:02d}", tz="UTC")
    inputs = _tiny_inputs()
    rng = np.random.default_rng(seed)

    def alter(frame: pd.DataFrame) -> pd.DataFrame:
        late = (
            ~(frame["label_time"] < d).to_numpy() & (frame["timestamp"] < d + pd.Timedelta(days=1)).to_numpy()
        )
        late |= (frame["day"] > d).to_numpy() if "day" in frame else False
        fraud = np.where(late, rng.integers(0, 2, len(frame)), frame["is_fraud"])
        when = d + pd.to_timedelta(rng.uniform(0, 40, len(frame)), unit="D")
        out = frame.assign(
            is_fraud=fraud, label_time=frame["label_time"].where(~late, when).where(fraud == 1)
        )
        if "day" in frame:
            later = (frame["day"] > d).to_numpy()
            out["score"] = np.where(later, rng.uniform(0, 1, len(frame)), frame["score"])
        return out

    import dataclasses

    changed = dataclasses.replace(
        inputs, train=alter(inputs.train), current=alter(inputs.current), reference=alter(inputs.reference)
    )
    assert _estimates(changed, "rolling")[d] == pytest.approx(_estimates(inputs, "rolling")[d], nan_ok=True)


def test_windows_from_the_fold_of_a_training_run() -> None:
    from okml.monitor import Windows

    w = Windows.from_fold("fold 1 (train 2026-05-25..2026-06-21, test 2026-06-29..2026-07-05)")
    assert w is not None
    assert (w.train_start, w.train_end) == (
        pd.Timestamp("2026-05-25", tz="UTC"),
        pd.Timestamp("2026-06-22", tz="UTC"),
    )
    assert (w.reference_start, w.reference_end) == (
        pd.Timestamp("2026-06-29", tz="UTC"),
        pd.Timestamp("2026-07-06", tz="UTC"),
    )
    assert Windows.from_fold("no fold") is None and Windows.from_fold(None) is None


def test_alarms_name_the_threshold_and_its_first_day() -> None:
    from okml.config import MonitorParams
    from okml.monitor.signals import alarms

    days = pd.date_range("2026-05-01", periods=5, freq="D", tz="UTC")
    daily = pd.DataFrame({"score_psi": [0.1, 0.31, 0.4, 0.2, 0.3]}, index=days)
    empty = pd.DataFrame(columns=["day", "column", "psi", "js", "band"])
    found = alarms(daily, empty, empty, pd.DataFrame(), {}, [], MonitorParams())
    assert [a.line() for a in found] == ["score drift PSI 0.31 > 0.25 from 2026-05-02 (first of 3 days)"]
    drift = pd.DataFrame(
        {
            "day": days[:3],
            "column": ["amount", "amount", "amount"],
            "psi": [0.2, 0.28, 0.9],
            "js": [0.1, 0.1, 0.3],
            "band": [0.3, 0.3, 0.3],  # its own day-to-day band is above the 0.25 threshold
        }
    )
    found = alarms(daily.iloc[:0], drift, empty, pd.DataFrame(), {}, ["amount"], MonitorParams())
    assert [a.line() for a in found] == ["feature drift: PSI of amount 0.90 > 0.30 from 2026-05-03 (1 day)"]
    off = MonitorParams().model_copy(
        update={"thresholds": MonitorParams().thresholds.model_copy(update={"score_psi": None})}
    )
    assert alarms(daily, empty, empty, pd.DataFrame(), {}, [], off) == []


# ------------------------------------------------------------------- a small world
def _model(tx: pd.DataFrame, root: Path) -> dict[str, Any]:
    """A small xgboost model trained on TRAIN, with its threshold and fold as a training
    run records them, written as pyfunc artifacts."""
    from okml.config import FeatureParams, ModelParams
    from okml.evaluate.scoring import operating_threshold
    from okml.evaluate.splits import Fold
    from okml.features import feature_matrix
    from okml.models import build_estimator, fraud_scorer
    from okml.pyfunc import write_model_files

    fp = FeatureParams()
    X = feature_matrix(tx, fp)
    ts = tx["timestamp"]
    day = pd.Timedelta(days=1)
    fold = Fold(
        0,
        pd.Timestamp(TRAIN[0], tz="UTC"),
        pd.Timestamp(TRAIN[1], tz="UTC") + day,
        pd.Timestamp(TEST[0], tz="UTC"),
        pd.Timestamp(TEST[1], tz="UTC") + day,
    )
    train = ((ts >= fold.train_start) & (ts < fold.train_end)).to_numpy()
    test = ((ts >= fold.test_start) & (ts < fold.test_end)).to_numpy()
    est = build_estimator(ModelParams(n_estimators=30, max_depth=4, n_jobs=1)).fit(
        X[train], tx["is_fraud"].to_numpy()[train]
    )
    scores = est.predict_proba(X[test])[:, 1]
    threshold = operating_threshold(tx[test].assign(score=scores), 10)
    scorer = fraud_scorer(est, list(X.columns))
    arts = write_model_files(
        scorer, fp, root / "model-files", extra={"threshold": threshold, "k": 10, "fold": fold.name}
    )
    return {"arts": arts, "scorer": scorer, "columns": list(X.columns), "threshold": threshold, "fold": fold}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from okml.config import SimulateParams
    from okml.simulate import simulate

    root = tmp_path_factory.mktemp("monitor")
    tx = simulate(SimulateParams(**SIM))
    data = root / "tx.parquet"
    tx.to_parquet(data, index=False)
    return {"root": root, "tx": tx, "data": data, **_model(tx, root)}


def _params(world: dict[str, Any], *overrides: str) -> Any:
    from okml.config import load_params

    root = world["root"]
    return load_params(
        overrides=[
            f"data.path={world['data']}",
            f"mlflow.tracking_uri=sqlite:///{root / 'mlflow.db'}",
            f"mlflow.artifact_root={root / 'artifacts'}",
            f"explain.report_dir={root / 'reports'}",
            "data.labels_dir=null",
            "data.review_db=null",
            *overrides,
        ]
    )


@pytest.fixture(scope="module")
def inputs(world: dict[str, Any]) -> Any:
    from types import SimpleNamespace

    from okml.config import FeatureParams
    from okml.jobs.monitor import build_inputs

    model = SimpleNamespace(
        scorer=world["scorer"],
        columns=world["columns"],
        feature_params=FeatureParams(),
        meta={"threshold": world["threshold"], "fold": world["fold"].name},
    )
    start = pd.Timestamp(MONITOR[0], tz="UTC")
    end = pd.Timestamp(MONITOR[1], tz="UTC") + pd.Timedelta(days=1)
    return build_inputs(_params(world), model, start, end, tx=world["tx"])


def test_signals_of_every_monitored_day(inputs: Any, world: dict[str, Any]) -> None:
    from okml.config import MonitorParams
    from okml.monitor import analyse

    result = analyse(inputs, MonitorParams())
    days = pd.date_range(MONITOR[0], MONITOR[1], freq="D", tz="UTC")
    assert list(result.daily.index) == list(days)
    for col in (
        "score_psi",
        "score_js",
        "alerts",
        "feature_psi_max",
        "top_reason_tv",
        "precision_est",
        "cp_at_k",
    ):
        assert col in result.daily, col
    # the inputs are the model's windows, scored out of sample for the reference
    tx = world["tx"]
    ref = tx[
        (tx["timestamp"] >= pd.Timestamp(TEST[0], tz="UTC"))
        & (tx["timestamp"] < pd.Timestamp(TEST[1], tz="UTC") + pd.Timedelta(days=1))
    ]
    assert len(inputs.reference) == len(ref)
    assert (inputs.reference["flag"] == (inputs.reference["score"] >= world["threshold"])).all()
    assert len(result.top_features) == 10 and set(result.top_features) <= set(world["columns"])
    assert set(result.feature_drift["column"]) == set(result.top_features)
    assert set(result.input_drift["column"]) == {"amount", "channel", "merchant_category", "new_device"}
    assert (result.feature_drift["psi"] >= 0).all() and result.feature_drift["js"].between(0, 1).all()
    # each day's PSI is stats.psi of the day's values against the training window's
    f, day = result.top_features[0], days[3]
    row = result.feature_drift[(result.feature_drift["column"] == f) & (result.feature_drift["day"] == day)]
    today = inputs.current.loc[inputs.current["day"] == day, f]
    assert row["psi"].iloc[0] == pytest.approx(stats.psi(inputs.train[f], today, bins=10))
    assert row["js"].iloc[0] == pytest.approx(stats.js_distance(inputs.train[f], today, bins=10))
    # estimated precision is a probability with its interval around it
    est = result.daily[["precision_low", "precision_est", "precision_high"]].dropna()
    assert len(est) and (est["precision_low"] <= est["precision_est"]).all()
    assert (est["precision_est"] <= est["precision_high"]).all() and est.stack().between(0, 1).all()
    # labels known at the end of the last day: the younger the day, the fewer are in
    completeness = result.daily["label_completeness"]
    assert completeness.iloc[0] >= completeness.iloc[-1] and completeness.between(0, 1).all()


def test_the_rolling_calibration_on_the_small_world_and_its_page_text(inputs: Any) -> None:
    from types import SimpleNamespace

    from okml.config import MonitorParams
    from okml.monitor import analyse, render

    mp = MonitorParams(calibration="rolling", calibration_days=7, calibration_lag_days=3)
    result = analyse(inputs, mp)
    est = result.daily[["precision_low", "precision_est", "precision_high"]].dropna()
    assert len(est) >= 3, result.daily["precision_est"]
    assert (est["precision_low"] <= est["precision_est"]).all() and est.stack().between(0, 1).all()
    params = SimpleNamespace(monitor=mp)
    assert "calibrated afresh for each day" in render.estimate_html(result, "en", params)
    assert "每天重新校准" in render.estimate_html(result, "zh", params)
    assert "reference week" in render.estimate_html(result, "en", SimpleNamespace(monitor=MonitorParams()))


def test_the_new_pattern_is_a_fraud_type_the_model_never_met(inputs: Any, world: dict[str, Any]) -> None:
    """The small world's card testing starts on 02-10, after the model's windows: once five
    of its frauds are labelled, missed, the new-type alarm names it; with labels known only
    up to the day before its first fraud, nothing."""
    from okml.config import MonitorParams
    from okml.monitor import analyse

    result = analyse(inputs, MonitorParams())
    new = [a for a in result.alarms if a.signal == "new_type_frauds"]
    first = world["tx"].loc[world["tx"]["fraud_type"] == "new_pattern", "timestamp"].min()
    assert len(new) == 1 and "new_pattern frauds" in new[0].message
    assert new[0].first_day >= first.floor("D")
    early = analyse(inputs, MonitorParams(), as_of=first.floor("D"))
    assert not [a for a in early.alarms if a.signal == "new_type_frauds"]


# -------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def store(world: dict[str, Any]) -> dict[str, Any]:
    """The model logged and registered as champion in a temporary MLflow store, and a
    params file that points everything there."""
    import mlflow

    from okml import tracking
    from okml.pyfunc import FraudModel

    params = _params(world)
    tracking.configure(params.mlflow)
    with tracking.run(params.mlflow, "test") as active:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=FraudModel(), artifacts=world["arts"], pip_requirements=["xgboost"]
        )
    version = tracking.register(info.model_uri, params.mlflow)
    tracking.set_alias(params.mlflow, tracking.CHAMPION, version)
    root = world["root"]
    raw = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    raw["data"] |= {"path": str(world["data"]), "labels_dir": None, "review_db": None}
    raw["mlflow"] |= {
        "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "artifact_root": str(root / "artifacts"),
    }
    raw["explain"] |= {"report_dir": str(root / "reports")}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return {"params_file": path, "run_id": active.info.run_id, "params": params}


@pytest.fixture(scope="module")
def monitored(store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``okml monitor`` once with every threshold off (the small world does drift: its
    card testing starts, a month-old merchant fraud history ages, its tiny model's scores
    move): exit 0."""
    from okml.cli import main
    from okml.config import MonitorThresholds

    out = tmp_path_factory.mktemp("page") / "monitor.html"
    off = "{" + ", ".join(f"{k}: null" for k in MonitorThresholds.model_fields) + "}"
    argv = ["monitor", "--params", str(store["params_file"]), "--from", MONITOR[0], "--to", MONITOR[1]]
    code = main([*argv, "--output", str(out), "--set", f"monitor.thresholds={off}", "-q"])
    return {"code": code, "html": out, **store}


@pytest.mark.slow
def test_monitor_exits_0_and_writes_a_page_without_code_or_script(monitored: dict[str, Any]) -> None:
    assert monitored["code"] == 0
    page = monitored["html"].read_text(encoding="utf-8")
    assert f"Model monitoring: {MONITOR[0]} to {MONITOR[1]}" in page
    for heading in ("Data drift", "Score drift and alert volume", "Explanation drift",
                    "Performance as labels mature", "Estimated precision before the labels"):  # fmt: skip
        assert heading in page
    assert "No threshold of monitor.thresholds was crossed." in page
    assert "prepare(" not in page  # code cells are hidden
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    assert not re.search(r"<script", page, re.I)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)


@pytest.mark.slow
def test_the_page_opens_in_headless_chromium(monitored: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from test_report import _browser, _no_alert

    with _browser() as driver:
        driver.get(monitored["html"].as_uri())
        _no_alert(driver)
        assert (
            f"Model monitoring: {MONITOR[0]} to {MONITOR[1]}" in driver.find_element(By.TAG_NAME, "h1").text
        )
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
        )
        assert len(images) >= 7 and all(done and width > 0 for done, width in images)
        scripts = driver.execute_script("return document.scripts.length")
        assert scripts == 0


@pytest.mark.slow
def test_metrics_are_logged_on_the_models_run_one_point_per_day(monitored: dict[str, Any]) -> None:
    import mlflow

    from okml import tracking

    tracking.configure(monitored["params"].mlflow)
    client = mlflow.MlflowClient()
    days = pd.date_range(MONITOR[0], MONITOR[1], freq="D", tz="UTC")
    history = client.get_metric_history(monitored["run_id"], "monitor.score_psi")
    assert len(history) == len(days)
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    assert sorted(m.step for m in history) == [(d - epoch).days for d in days]
    assert sorted(m.timestamp for m in history) == [int((d - epoch).total_seconds() * 1000) for d in days]
    names = set(client.get_run(monitored["run_id"]).data.metrics)
    for name in (
        "monitor.alerts",
        "monitor.feature_psi_max",
        "monitor.precision_est",
        "monitor.label_completeness",
    ):
        assert name in names, name
    assert any(n.startswith("monitor.feature_psi.") for n in names)
    assert any(n.startswith("monitor.input_psi.") for n in names)
    artifacts = client.list_artifacts(monitored["run_id"], "monitor")
    assert [Path(a.path).name for a in artifacts] == ["monitor.html"]


@pytest.mark.slow
def test_a_crossed_threshold_exits_1_with_one_line_in_chinese_too(
    store: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from okml.cli import main

    out = tmp_path / "zh.html"
    code = main(
        ["monitor", "--params", str(store["params_file"]), "--from", MONITOR[0], "--to", MONITOR[1],
         "--output", str(out), "--set", "monitor.thresholds.score_psi=0.0", "--set", "explain.language=zh",
         "-q"]
    )  # fmt: skip
    assert code == 1
    err = [line for line in capfd.readouterr().err.splitlines() if line.startswith("okml monitor:")]
    assert len(err) == 1
    # every day crosses 0: the first monitored day, the earliest alarm, comes first
    days = len(pd.date_range(MONITOR[0], MONITOR[1]))
    first = rf"okml monitor: score drift PSI \d\.\d\d > 0 from {MONITOR[0]} \(first of {days} days\)"
    assert re.match(first + "(; also .+ from \\d{4}-\\d\\d-\\d\\d \\(.+\\))*$", err[0]), err[0]
    page = out.read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in page and "模型监控" in page and "@font-face" in page
    assert "分数漂移" in page  # the alarm, by its Chinese name


def test_bad_days_are_one_line(store: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    from okml.cli import main

    base = ["monitor", "--params", str(store["params_file"])]
    assert main([*base, "--from", "2026-02-30", "--to", "2026-03-01"]) == 2
    assert "okml monitor: error: --from: cannot read date '2026-02-30'" in capfd.readouterr().err
    assert main([*base, "--from", "2026-02-10", "--to", "2026-02-01"]) == 2
    assert "okml monitor: error: --to 2026-02-01 is before --from 2026-02-10" in capfd.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([*base, "--to", "2026-02-01"])  # --from is required
    assert e.value.code == 2


def test_notebook_is_committed_clean_and_parameterized() -> None:
    import ast

    import nbformat

    from okml.jobs.monitor import NOTEBOOK

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert code[0].metadata.get("tags") == ["parameters"]
    assigned = {t.id for node in ast.parse(code[0].source).body for t in node.targets}
    assert assigned == {
        "model_uri", "start", "end", "as_of", "language", "params_file", "overrides", "model_version",
        "results_path",
    }  # fmt: skip
    assert nb.metadata.kernelspec.name == "okml"


def test_monitor_help_says_when_it_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    from okml.cli import main

    with pytest.raises(SystemExit) as e:
        main(["monitor", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exits 1 when a threshold of monitor.thresholds is crossed" in out
    assert "okml monitor: score drift PSI 0.31 > 0.25 from 2026-05-02 (first of 4 days)" in out
    assert "exit codes: 0 success" in out and "one point per day" in out


def test_a_model_without_a_training_fold_takes_the_days_before_as_its_baseline() -> None:
    from types import SimpleNamespace

    from okml.jobs.monitor import model_windows

    start = pd.Timestamp("2026-05-01", tz="UTC")
    w = model_windows(SimpleNamespace(meta={"threshold": 0.5}), start, 7)
    assert (w.train_start, w.train_end) == (start - pd.Timedelta(days=7), start)
    assert (w.reference_start, w.reference_end) == (w.train_start, w.train_end)
    fold = "fold 0 (train 2026-03-13..2026-04-09, test 2026-04-17..2026-04-23)"
    assert model_windows(SimpleNamespace(meta={"fold": fold}), start, 7).reference_start == pd.Timestamp(
        "2026-04-17", tz="UTC"
    )


def test_ranking_signals_read_the_queue_order_when_the_frame_has_one() -> None:
    """A model trained with evaluate.rings_first flags a ring's payments for the ring: CP@k, AP
    and the calibration of estimated precision read the priority the flags were chosen by."""
    from okml.monitor.signals import queue_order

    frame = pd.DataFrame({"score": [0.2, 0.9], "priority": [1.2, 0.9]})
    assert queue_order(frame).tolist() == [1.2, 0.9]
    assert queue_order(frame.drop(columns="priority")).tolist() == [0.2, 0.9]


def test_the_model_s_own_flags_leave_out_a_ring_s_payments() -> None:
    """Rings first flags a ring's members beside the model's alerts: the reason shift and the
    precision_drop baseline read the payments the model flagged."""
    from okml.monitor.signals import model_flags, reason_shares

    frame = pd.DataFrame(
        {
            "score": [0.02, 0.95, 0.97, 0.10],
            "priority": [1.02, 0.95, 1.97, 0.10],  # rows 0 and 2 are in a ring
            "flag": [True, True, True, False],
            "top_reason": ["device", "amount", "velocity", None],
        }
    )
    assert model_flags(frame).tolist() == [False, True, False, False]
    assert model_flags(frame.drop(columns="priority")).tolist() == [True, True, True, False]
    assert reason_shares(frame).to_dict() == {"amount": 1.0}
