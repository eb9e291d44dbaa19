"""Estimators: every kind x imbalance strategy fits, predicts and follows the sklearn contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.base import clone

from okml.config import Candidate, ModelParams, params_from_dict
from okml.errors import ConfigError
from okml.models import (
    XGBFraudClassifier,
    build_estimator,
    candidate_params,
    final_booster,
    model_input,
)

KINDS = ["xgboost", "logistic", "random_forest"]
STRATEGIES = ["none", "class_weight", "undersample", "smote"]


def make_data(n: int = 400, n_pos: int = 20, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features with NaN; frauds have a shifted f0 and f1."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, n_pos, replace=False)] = 1
    X = pd.DataFrame(
        {
            "f0": rng.normal(size=n) + 3 * y,
            "f1": rng.normal(size=n) + 2 * y,
            "f2": rng.normal(size=n),
            "all_nan": np.full(n, np.nan),
        }
    )
    X.loc[rng.random(n) < 0.1, "f2"] = np.nan
    X.loc[rng.random(n) < 0.05, "f1"] = np.nan
    return X, y


def small(kind: str, imbalance: str, **kw) -> ModelParams:
    return ModelParams(kind=kind, imbalance=imbalance, n_estimators=10, max_depth=3, n_jobs=1, **kw)


@pytest.mark.parametrize("imbalance", STRATEGIES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_and_strategy_fits_and_ranks(kind: str, imbalance: str) -> None:
    X, y = make_data()
    X_test, y_test = make_data(n=137, n_pos=10, seed=1)
    before = X.copy()
    est = build_estimator(small(kind, imbalance)).fit(X, y)
    proba = est.predict_proba(X_test)
    # samplers act only during fit: one probability row per input row
    assert proba.shape == (137, 2)
    assert np.allclose(proba.sum(axis=1), 1)
    # the signal is strong: frauds rank above legit on average
    assert proba[y_test == 1, 1].mean() > proba[y_test == 0, 1].mean()
    pd.testing.assert_frame_equal(X, before)  # fit does not touch the caller's frame


def test_pipeline_steps() -> None:
    names = lambda p: [n for n, _ in build_estimator(p).steps]  # noqa: E731
    assert names(small("xgboost", "none")) == ["model"]  # xgboost handles NaN itself
    assert names(small("xgboost", "class_weight")) == ["model"]
    assert names(small("xgboost", "smote")) == ["impute", "resample", "model"]
    assert names(small("logistic", "undersample")) == ["impute", "scale", "resample", "model"]
    assert names(small("random_forest", "none")) == ["impute", "model"]


def test_scale_pos_weight_from_training_labels() -> None:
    X, y = make_data(n=400, n_pos=20)
    est = build_estimator(small("xgboost", "class_weight")).fit(X, y)
    model = est.named_steps["model"]
    assert model.scale_pos_weight_ == 380 / 20
    assert model.model_.get_params()["scale_pos_weight"] == 19.0
    plain = build_estimator(small("xgboost", "none")).fit(X, y).named_steps["model"]
    assert plain.scale_pos_weight_ == 1.0


def test_class_weight_for_sklearn_models() -> None:
    for kind in ("logistic", "random_forest"):
        est = build_estimator(small(kind, "class_weight"))
        assert est.named_steps["model"].class_weight == "balanced"
        assert build_estimator(small(kind, "none")).named_steps["model"].class_weight is None


def test_undersampling_reaches_the_ratio() -> None:
    X, y = make_data(n=400, n_pos=20)
    sampler = build_estimator(small("random_forest", "undersample", undersample_ratio=0.25))
    sampler = sampler.named_steps["resample"]
    _, y_res = sampler.fit_resample(X.fillna(0), y)
    assert (y_res == 1).sum() == 20 and (y_res == 0).sum() == 80


def test_resampling_never_overshoots() -> None:
    # data already more balanced than the ratio: keep everything instead of failing
    X, y = make_data(n=100, n_pos=50)
    for strategy in ("undersample", "smote"):
        step = build_estimator(small("logistic", strategy)).named_steps["resample"]
        _, y_res = step.fit_resample(X.fillna(0), y)
        assert len(y_res) == 100


def test_smote_reaches_the_ratio_and_copes_with_few_frauds() -> None:
    X, y = make_data(n=400, n_pos=20)
    step = build_estimator(small("logistic", "smote", smote_ratio=0.5)).named_steps["resample"]
    _, y_res = step.fit_resample(X.fillna(0), y)
    assert (y_res == 1).sum() == 190 and (y_res == 0).sum() == 380
    X3, y3 = make_data(n=200, n_pos=3)
    est = build_estimator(small("xgboost", "smote")).fit(X3, y3)  # k_neighbors 5 > 2 others
    assert est.predict_proba(X3).shape == (200, 2)
    assert est.named_steps["resample"].k_neighbors == 5  # the parameter is left as set


def test_clone_and_params_round_trip() -> None:
    for kind in KINDS:
        for imbalance in STRATEGIES:
            est = build_estimator(small(kind, imbalance))
            copy = clone(est)
            assert copy is not est
            assert repr(copy.get_params()) == repr(est.get_params())
    wrapper = XGBFraudClassifier(n_estimators=5, scale_pos_weight="balanced")
    assert clone(wrapper).get_params() == wrapper.get_params()


@pytest.mark.parametrize("kind", KINDS)
def test_fitted_pipelines_pickle(kind: str) -> None:
    X, y = make_data()
    est = build_estimator(small(kind, "undersample")).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_xgb_wrapper_contract() -> None:
    X, y = make_data()
    clf = XGBFraudClassifier(n_estimators=5, max_depth=2)
    assert not hasattr(clf, "model_")  # __init__ only stores parameters
    clf.fit(X, y)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_features_in_ == 4
    assert clf.feature_names_in_.tolist() == ["f0", "f1", "f2", "all_nan"]
    assert set(clf.predict(X)) <= {0, 1}
    with pytest.raises(ValueError, match="both 0 and 1"):
        XGBFraudClassifier(n_estimators=2).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="scale_pos_weight must be"):
        XGBFraudClassifier(n_estimators=2, scale_pos_weight="auto").fit(X, y)


def test_xgb_is_deterministic_with_random_state() -> None:
    X, y = make_data()
    a = build_estimator(small("xgboost", "none")).fit(X, y).predict_proba(X)
    b = build_estimator(small("xgboost", "none")).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_final_booster_for_shap() -> None:
    X, y = make_data()
    xgb = build_estimator(small("xgboost", "smote")).fit(X, y)
    booster = final_booster(xgb)
    assert isinstance(booster, xgboost.Booster)
    assert booster.feature_names == ["f0", "f1", "f2", "all_nan"]
    assert final_booster(build_estimator(small("logistic", "none")).fit(X, y)) is None
    raw = xgboost.XGBClassifier(n_estimators=2, n_jobs=1).fit(X, y)
    assert isinstance(final_booster(raw), xgboost.Booster)


def test_model_input_is_what_the_final_model_sees() -> None:
    X, y = make_data()
    est = build_estimator(small("logistic", "smote")).fit(X, y)
    seen = model_input(est, X)
    assert seen.shape == X.shape and not seen.isna().any().any()
    assert list(seen.columns) == list(X.columns)
    plain = build_estimator(small("xgboost", "none")).fit(X, y)
    assert model_input(plain, X) is X


def test_candidate_params_apply_overrides() -> None:
    base = ModelParams(max_depth=6, n_estimators=300)
    cand = Candidate(kind="random_forest", imbalance="undersample", overrides={"max_depth": 12})
    p = candidate_params(base, cand)
    assert (p.kind, p.imbalance, p.max_depth, p.n_estimators) == ("random_forest", "undersample", 12, 300)
    assert cand.label == "random_forest:undersample"
    assert Candidate(kind="xgboost", name="deep").label == "deep"


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ({"kind": "xgboost", "overrides": {"max_dept": 3}}, "did you mean max_depth"),
        ({"kind": "xgboost", "overrides": {"max_depth": 0}}, "max_depth: Input should be"),
        ({"kind": "xgboost", "overrides": {"kind": "logistic"}}, "set kind on the candidate"),
        ({"kind": "svm"}, "kind"),
    ],
)
def test_bad_candidates_rejected(candidate: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        params_from_dict({"evaluate": {"candidates": [candidate]}})


def test_duplicate_candidate_names_rejected() -> None:
    with pytest.raises(ConfigError, match="share the name 'xgboost:none'"):
        params_from_dict({"evaluate": {"candidates": [{"kind": "xgboost"}, {"kind": "xgboost"}]}})
