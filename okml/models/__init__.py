"""Models: estimators that learn fraud, and scorers that score and explain what they learnt.

- :mod:`okml.models.estimators`: XGBoost / logistic regression / random forest pipelines with
  the imbalance strategies (:func:`build_estimator`).
- :mod:`okml.models.scorers`: :class:`FraudScorer`, what every fitted model offers whatever
  its kind (probabilities, exact additive SHAP contributions, saving and loading), and
  :func:`fraud_scorer`, the one function that turns a fitted estimator into one.
"""

from okml.models.estimators import (
    XGBFraudClassifier,
    build_estimator,
    candidate_params,
    final_booster,
    final_estimator,
    model_input,
)
from okml.models.scorers import (
    KINDS,
    FraudScorer,
    as_scorer,
    fraud_scorer,
    load_scorer,
    score_frame,
)

__all__ = [
    "KINDS",
    "FraudScorer",
    "XGBFraudClassifier",
    "as_scorer",
    "build_estimator",
    "candidate_params",
    "final_booster",
    "final_estimator",
    "fraud_scorer",
    "load_scorer",
    "model_input",
    "score_frame",
]
