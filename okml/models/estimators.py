"""Estimators for fraud scoring: XGBoost, logistic regression, random forest.

:func:`build_estimator` turns :class:`~okml.config.ModelParams` into an unfitted
``imblearn.pipeline.Pipeline`` whose steps are, in order and only where needed::

    impute (median)  ->  scale  ->  resample  ->  model

Everything that learns from data (imputer medians, scaler moments, the sampler) sits inside
the pipeline, so it is fitted on training rows only, and samplers act only during ``fit``:
``predict_proba`` always returns one row per input row.

Imbalance strategies (``ModelParams.imbalance``):

``none``
    Plain fit.
``class_weight``
    XGBoost: ``scale_pos_weight = legit / fraud``, counted on the training labels at fit time.
    scikit-learn models: ``class_weight="balanced"``.
``undersample``
    ``RandomUnderSampler`` keeps all frauds and drops legit rows until fraud : legit equals
    ``undersample_ratio`` (never fewer legit rows than frauds' ratio already gives).
``smote``
    ``SMOTE`` adds synthetic frauds until fraud : legit equals ``smote_ratio``. SMOTE needs
    complete rows, so an imputer comes first even for XGBoost.

XGBoost handles missing values natively, so it gets no imputer unless SMOTE needs one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xgboost
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from okml.config import Candidate, ModelParams


class XGBFraudClassifier(ClassifierMixin, BaseEstimator):
    """``xgboost.XGBClassifier`` (``tree_method="hist"``) that can weight frauds at fit time.

    Parameters
    ----------
    scale_pos_weight:
        ``"balanced"`` computes ``legit / fraud`` from the labels passed to :meth:`fit`
        (after any resampling in the pipeline); a number is used as is; ``None`` means 1.
    Other parameters are passed to ``xgboost.XGBClassifier`` unchanged.

    Attributes
    ----------
    model_:
        The fitted ``xgboost.XGBClassifier``.
    scale_pos_weight_:
        The weight actually used.
    classes_, n_features_in_, feature_names_in_:
        As in scikit-learn (``feature_names_in_`` only when fitted on a DataFrame).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 0.9,
        colsample_bytree: float = 0.9,
        min_child_weight: float = 1.0,
        max_bin: int = 256,
        scale_pos_weight: float | str | None = None,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.max_bin = max_bin
        self.scale_pos_weight = scale_pos_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> XGBFraudClassifier:
        """Fit on features ``X`` (NaN allowed) and 0/1 labels ``y``."""
        labels = np.asarray(y)
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"training labels must contain both 0 and 1; found {classes.tolist()}")
        self.scale_pos_weight_ = self._pos_weight(labels)
        self.model_ = xgboost.XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            max_bin=self.max_bin,
            scale_pos_weight=self.scale_pos_weight_,
            tree_method="hist",
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        self.model_.fit(X, labels, sample_weight=sample_weight, verbose=False)
        self.classes_ = classes
        self.n_features_in_ = int(np.shape(X)[1])
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _pos_weight(self, labels: np.ndarray) -> float:
        if self.scale_pos_weight is None:
            return 1.0
        if self.scale_pos_weight == "balanced":
            positives = int((labels == 1).sum())
            return float((labels == 0).sum()) / positives
        if isinstance(self.scale_pos_weight, str):
            raise ValueError(
                f"scale_pos_weight must be a number, 'balanced' or None; got {self.scale_pos_weight!r}"
            )
        return float(self.scale_pos_weight)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of (legit, fraud), one row per row of ``X``."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """0/1 at probability 0.5 (evaluation uses scores and operating points instead)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def get_booster(self) -> xgboost.Booster:
        """The fitted booster, e.g. for SHAP."""
        check_is_fitted(self, "model_")
        return self.model_.get_booster()


class _RatioStrategy:
    """Picklable ``sampling_strategy`` callable: reach ``ratio`` fraud : legit, never overshoot.

    imblearn rejects a float ratio that the data already exceed; this asks for no change then.
    """

    def __init__(self, ratio: float, mode: str) -> None:
        self.ratio = ratio
        self.mode = mode

    def __call__(self, y: Any) -> dict[int, int]:
        labels = np.asarray(y)
        n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
        if self.mode == "under":
            return {0: min(n_neg, max(n_pos, math.ceil(n_pos / self.ratio)))}
        return {1: max(n_pos, math.floor(self.ratio * n_neg))}

    def __repr__(self) -> str:
        return f"_RatioStrategy(ratio={self.ratio}, mode={self.mode!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _RatioStrategy) and (self.ratio, self.mode) == (
            other.ratio,
            other.mode,
        )

    def __hash__(self) -> int:
        return hash((self.ratio, self.mode))


class _SafeSMOTE(SMOTE):
    """SMOTE that uses fewer neighbours when there are few frauds instead of failing."""

    def _fit_resample(self, X: Any, y: Any) -> Any:
        n_pos = int((np.asarray(y) == 1).sum())
        k: Any = self.k_neighbors  # type: ignore[has-type]
        if isinstance(k, int) and n_pos <= k:
            if n_pos < 2:
                raise ValueError(f"SMOTE needs at least 2 frauds in training; found {n_pos}")
            self.k_neighbors = n_pos - 1
            try:
                return super()._fit_resample(X, y)
            finally:
                self.k_neighbors = k
        return super()._fit_resample(X, y)


def _imputer() -> SimpleImputer:
    # keep_empty_features: an all-NaN column stays (as 0) so column positions match the input
    return SimpleImputer(strategy="median", keep_empty_features=True).set_output(transform="pandas")


def _sampler(params: ModelParams) -> Any:
    if params.imbalance == "undersample":
        return RandomUnderSampler(
            sampling_strategy=_RatioStrategy(params.undersample_ratio, "under"),
            random_state=params.random_state,
        )
    if params.imbalance == "smote":
        return _SafeSMOTE(
            sampling_strategy=_RatioStrategy(params.smote_ratio, "over"),
            k_neighbors=params.smote_k_neighbors,
            random_state=params.random_state,
        )
    return None


def _classifier(params: ModelParams) -> Any:
    weighted = params.imbalance == "class_weight"
    if params.kind == "xgboost":
        return XGBFraudClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            learning_rate=params.learning_rate,
            subsample=params.subsample,
            colsample_bytree=params.colsample_bytree,
            min_child_weight=params.min_child_weight,
            max_bin=params.max_bin,
            scale_pos_weight="balanced" if weighted else None,
            n_jobs=params.n_jobs,
            random_state=params.random_state,
        )
    if params.kind == "logistic":
        return LogisticRegression(
            C=params.C,
            class_weight="balanced" if weighted else None,
            max_iter=1000,
            random_state=params.random_state,
        )
    if params.kind == "random_forest":
        return RandomForestClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            class_weight="balanced" if weighted else None,
            n_jobs=params.n_jobs,
            random_state=params.random_state,
        )
    raise ValueError(f"unknown model kind {params.kind!r}")  # pydantic keeps this unreachable


def build_estimator(params: ModelParams) -> Pipeline:
    """An unfitted pipeline for ``params.kind`` with the ``params.imbalance`` strategy.

    Parameters
    ----------
    params:
        Model settings; see the module docstring for what each imbalance strategy does.

    Returns
    -------
    imblearn.pipeline.Pipeline
        Steps named ``impute``, ``scale``, ``resample``, ``model`` (those that apply). It has
        ``fit(X, y)`` and ``predict_proba(X)``; ``X`` is a numeric DataFrame, NaN allowed.

    Examples
    --------
    >>> from okml.config import ModelParams
    >>> est = build_estimator(ModelParams(kind="logistic", imbalance="smote"))
    >>> [name for name, _ in est.steps]
    ['impute', 'scale', 'resample', 'model']
    """
    sampler = _sampler(params)
    steps: list[tuple[str, Any]] = []
    if params.kind != "xgboost" or sampler is not None:
        steps.append(("impute", _imputer()))
    if params.kind == "logistic":
        steps.append(("scale", StandardScaler().set_output(transform="pandas")))
    if sampler is not None:
        steps.append(("resample", sampler))
    steps.append(("model", _classifier(params)))
    return Pipeline(steps)


def candidate_params(base: ModelParams, candidate: Candidate) -> ModelParams:
    """``base`` with the candidate's kind, imbalance strategy and overrides applied."""
    merged = {
        **base.model_dump(),
        **candidate.overrides,
        "kind": candidate.kind,
        "imbalance": candidate.imbalance,
    }
    return ModelParams.model_validate(merged)


def final_estimator(estimator: Any) -> Any:
    """The last step of a pipeline (the estimator itself if it is not a pipeline)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def final_booster(estimator: Any) -> xgboost.Booster | None:
    """The fitted XGBoost booster inside ``estimator``, or ``None`` for other model kinds.

    Works on a pipeline from :func:`build_estimator`, an :class:`XGBFraudClassifier` or a
    plain ``xgboost.XGBClassifier``. Raises ``NotFittedError`` if the XGBoost model is unfitted.
    """
    last = final_estimator(estimator)
    if isinstance(last, XGBFraudClassifier):
        return last.get_booster()
    if isinstance(last, xgboost.XGBModel):
        return last.get_booster()
    return None


def model_input(estimator: Any, X: pd.DataFrame) -> pd.DataFrame:
    """``X`` as the final model sees it at prediction time (imputed/scaled; samplers skipped).

    SHAP explanations of :func:`final_booster` need these values, not the raw features.
    """
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) == 1:
        return X
    out: Any = X
    for _, step in steps[:-1]:
        if hasattr(step, "fit_resample"):  # samplers only act during fit
            continue
        out = step.transform(out)
    if isinstance(out, pd.DataFrame):
        return out
    return pd.DataFrame(out, index=X.index, columns=X.columns)
