"""Every model kind scores and explains the same way: exact additive contributions, saved and
loaded to the same numbers, through the logged pyfunc model too."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from okml.config import ModelParams
from okml.models import FraudScorer, build_estimator, fraud_scorer, load_scorer
from okml.models.scorers import TOLERANCE

KINDS = [
    ("xgboost", "none"),
    ("random_forest", "undersample"),
    ("logistic", "class_weight"),
    ("xgboost", "smote"),
    ("logistic", "none"),
]


def _data(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n), "c": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.1, "b"] = np.nan  # missing values: each kind handles them its way
    logit = 2 * X["a"] - X["c"] + np.nan_to_num(X["b"].to_numpy()) - 4
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@functools.cache
def _fit(kind: str, imbalance: str):
    X, y = _data()
    est = build_estimator(
        ModelParams(
            kind=kind, imbalance=imbalance, n_estimators=20, max_depth=4, n_jobs=1, smote_k_neighbors=3
        )
    )
    est.fit(X, y)
    return kind, est, X


@pytest.fixture(scope="module", params=KINDS, ids=lambda k: f"{k[0]}:{k[1]}")
def fitted(request):
    return _fit(*request.param)


def test_scorer_is_a_fraud_scorer_with_the_pipelines_probabilities(fitted) -> None:
    kind, est, X = fitted
    scorer = fraud_scorer(est, list(X.columns))
    assert isinstance(scorer, FraudScorer) and scorer.kind == kind
    np.testing.assert_allclose(scorer.predict_proba(X), est.predict_proba(X)[:, 1], rtol=1e-5, atol=1e-6)


def test_contributions_are_exact_and_additive(fitted) -> None:
    kind, est, X = fitted
    scorer = fraud_scorer(est, list(X.columns))
    contrib, base, output = scorer.contributions(X.iloc[:300])
    assert contrib.shape == (300, 3)
    np.testing.assert_allclose(base + contrib.sum(axis=1), output, atol=TOLERANCE)
    prob = scorer.predict_proba(X.iloc[:300])
    expected = prob if scorer.output == "probability" else np.log(prob / (1 - prob))
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
    assert scorer.output == ("probability" if kind == "random_forest" else "log-odds")


@pytest.mark.parametrize("imbalance", ["none", "class_weight"])
def test_logistic_contributions_are_coef_times_standardized_input(imbalance) -> None:
    _, est, X = _fit("logistic", imbalance)
    scorer = fraud_scorer(est, list(X.columns))
    contrib, base, _ = scorer.contributions(X.iloc[:5])
    from okml.models import model_input

    z = model_input(est, X.iloc[:5])
    np.testing.assert_allclose(contrib, z.to_numpy() * est[-1].coef_[0], rtol=1e-12)
    assert base == pytest.approx(est[-1].intercept_[0])


def test_forest_contributions_match_shap_treeexplainer() -> None:
    _, est, X = _fit("random_forest", "undersample")
    import shap

    scorer = fraud_scorer(est, list(X.columns))
    contrib, _, _ = scorer.contributions(X.iloc[:50])
    from okml.models import model_input

    xt = model_input(est, X.iloc[:50])
    ref = shap.TreeExplainer(est[-1]).shap_values(np.asarray(xt, dtype=float))
    ref = ref[:, :, 1] if np.ndim(ref) == 3 else ref[1]
    np.testing.assert_allclose(contrib, ref, atol=1e-9)


def test_saved_and_loaded_scorer_gives_the_same_numbers(fitted, tmp_path) -> None:
    _, est, X = fitted
    scorer = fraud_scorer(est, list(X.columns))
    files = scorer.save(tmp_path / "m")
    assert set(files) >= {"scorer"}
    again = load_scorer(tmp_path / "m")
    assert again.kind == scorer.kind and again.columns == scorer.columns
    np.testing.assert_array_equal(again.predict_proba(X), scorer.predict_proba(X))
    np.testing.assert_array_equal(again.contributions(X.iloc[:20])[0], scorer.contributions(X.iloc[:20])[0])


def test_missing_feature_is_a_clear_error(fitted) -> None:
    from okml.errors import DataError

    _, est, X = fitted
    with pytest.raises(DataError, match="the model needs features c"):
        fraud_scorer(est, list(X.columns)).predict_proba(X[["a", "b"]])
