"""The logged MLflow model: scores canonical transactions end to end, for every model kind.

``mlflow.pyfunc.load_model("models:/okpay-fraud@champion").predict(transactions)`` validates
the transactions, builds the point-in-time features from the history it is given and returns
one fraud probability per row (a DataFrame with ``transaction_id`` and ``score``, in input
order). The model itself is an :class:`okml.models.FraudScorer` saved by its own kind (xgboost:
the booster's JSON; random forest and logistic regression: the fitted pipeline), and the okml
code travels with it (``code_paths``), so loading needs only the pinned requirements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from okml.config import FeatureParams
from okml.models import FraudScorer, as_scorer, load_scorer

META_FILE = "okml_model.json"


def score_transactions(
    scorer: FraudScorer,
    feature_params: FeatureParams,
    tx: pd.DataFrame,
    source: str = "transactions",
    amounts: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Validate raw transactions, build features from them and score every row; ``amounts``
    are the training run's ``data.amount_min`` / ``amount_max`` (default: the defaults)."""
    from okml.features import build_features
    from okml.schema import validate

    bounds = amounts or {}
    canonical = validate(
        tx, source=source, amount_min=bounds.get("amount_min"), amount_max=bounds.get("amount_max")
    )
    feats = build_features(canonical, feature_params)
    scores = scorer.predict_proba(feats)
    return pd.DataFrame({"transaction_id": feats.index.to_numpy(), "score": scores})


class FraudModel(PythonModel):
    """MLflow pyfunc wrapper around a trained scorer and its feature configuration.

    After loading: ``scorer`` (:class:`~okml.models.FraudScorer`), ``columns``,
    ``feature_params`` and ``meta`` (threshold, k, fold, metrics of its training run).
    """

    def load_context(self, context: Any) -> None:
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.feature_params = FeatureParams.model_validate(meta["features"])
        self.columns = list(meta["feature_columns"])
        self.meta = meta
        if "scorer" in context.artifacts:
            self.scorer = load_scorer(Path(context.artifacts["scorer"]).parent)
        else:  # models logged before scorers existed: an xgboost booster and its imputation
            import xgboost as xgb

            self.booster = xgb.Booster()
            self.booster.load_model(context.artifacts["booster"])
            self.scorer = as_scorer(self)

    @property
    def kind(self) -> str:
        return self.scorer.kind

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return score_transactions(
            self.scorer,
            self.feature_params,
            model_input,
            source="model input",
            amounts=self.meta.get("amounts"),
        )


def write_model_files(
    scorer: FraudScorer,
    feature_params: FeatureParams,
    folder: Path,
    extra: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write the scorer and the metadata into ``folder``; return the pyfunc artifacts map."""
    artifacts = scorer.save(folder)
    meta = {
        "features": feature_params.model_dump(mode="json"),
        "feature_columns": list(scorer.columns),
        "kind": scorer.kind,
        **(extra or {}),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return {**artifacts, "meta": str(folder / META_FILE)}


def log_model(
    run_id: str, artifacts: dict[str, str], code_paths: list[str], pip_requirements: list[str]
) -> str:
    """Log a :class:`FraudModel` with ``artifacts`` (:func:`write_model_files`) to the run
    ``run_id`` of the configured store; return the logged model's URI."""
    import mlflow

    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=FraudModel(),
            artifacts=artifacts,
            code_paths=code_paths,
            pip_requirements=pip_requirements,
        )
    return str(info.model_uri)
