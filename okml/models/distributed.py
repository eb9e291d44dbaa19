"""XGBoost trained on a Dask cluster (``xgboost.dask``), returned as the same fitted pipeline
that :func:`okml.models.build_estimator` gives, so scoring, explaining and logging it are
unchanged (:func:`okml.models.fraud_scorer` turns it into the usual scorer)."""

from __future__ import annotations

from typing import Any

import numpy as np
from imblearn.pipeline import Pipeline

from okml.config import ModelParams
from okml.errors import ConfigError
from okml.models.estimators import _classifier


def dask_trainable(params: ModelParams) -> bool:
    """Whether ``xgboost.dask`` can fit this model: XGBoost without resampling (class
    weights are fine)."""
    return params.kind == "xgboost" and params.imbalance in ("none", "class_weight")


def check_dask_model(params: ModelParams) -> None:
    """Refuse, in one line, a model that the dask engine cannot train."""
    if not dask_trainable(params):
        raise ConfigError(
            f"compute.engine=dask trains model.kind=xgboost with model.imbalance none or "
            f"class_weight; got kind={params.kind}, imbalance={params.imbalance} (use "
            "--engine local for the others)"
        )


def booster_params(params: ModelParams, pos_weight: float, threads: int) -> dict[str, Any]:
    """The training parameters of :class:`XGBFraudClassifier` as ``xgboost.train`` takes them."""
    return {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": params.max_depth,
        "eta": params.learning_rate,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "min_child_weight": params.min_child_weight,
        "max_bin": params.max_bin,
        "scale_pos_weight": pos_weight,
        "seed": params.random_state,
        "nthread": threads,
    }


def persist_training(client: Any, X: Any, y: Any) -> tuple[Any, Any, int, int]:
    """``X`` and ``y`` computed once into the workers' memory (``xgboost.dask`` holds them
    there while it trains anyway), with the number of positive labels and of rows."""
    import dask

    X, y = client.persist([X, y])
    positives, rows = dask.compute(y.sum(), y.shape[0])
    return X, y, int(positives), int(rows)


def fit_xgboost_dask(
    client: Any,
    X: Any,
    y: Any,
    params: ModelParams,
    threads: int = 1,
    counts: tuple[int, int] | None = None,
) -> Pipeline:
    """Fit on dask ``X`` (float features, NaN allowed) and 0/1 ``y`` held by the workers.

    The data go into a ``DaskQuantileDMatrix`` (each worker quantizes its own partitions) and
    ``xgboost.dask.train`` builds the trees across workers; with one worker and the rows in
    the local engine's order, the trees are the local engine's. ``counts``: (positives,
    rows) when :func:`persist_training` already counted them. Returns a fitted
    ``Pipeline([("model", XGBFraudClassifier)])`` holding the booster.
    """
    import xgboost
    import xgboost.dask as xgb_dask

    check_dask_model(params)
    if counts is None:
        X, y, positives, rows = persist_training(client, X, y)
    else:
        positives, rows = counts
    if positives == 0 or positives == rows:
        raise ValueError(f"training labels must contain both 0 and 1; found {positives} of {rows}")
    weight = (rows - positives) / positives if params.imbalance == "class_weight" else 1.0
    dtrain = xgb_dask.DaskQuantileDMatrix(client, X, y, max_bin=params.max_bin)
    out = xgb_dask.train(
        client, booster_params(params, weight, threads), dtrain, num_boost_round=params.n_estimators
    )
    model = _classifier(params)  # the local engine's classifier, holding this booster
    inner = xgboost.XGBClassifier()
    inner.load_model(bytearray(out["booster"].save_raw("ubj")))
    model.model_ = inner
    model.scale_pos_weight_ = weight
    model.classes_ = np.array([0, 1])
    model.n_features_in_ = len(X.columns)
    model.feature_names_in_ = np.asarray(X.columns, dtype=object)
    return Pipeline([("model", model)])


def predict_dask(client: Any, estimator: Pipeline, X: Any) -> Any:
    """Fraud probabilities of dask ``X`` computed on the workers (a dask array)."""
    import xgboost.dask as xgb_dask

    booster = estimator.steps[-1][1].get_booster()
    return xgb_dask.inplace_predict(client, booster, X)
