"""The logged MLflow model: scores canonical transactions end to end.

``mlflow.pyfunc.load_model("models:/okpay-fraud@champion").predict(transactions)`` validates
the transactions, builds the point-in-time features from the history it is given and returns
one fraud probability per row (a DataFrame with ``transaction_id`` and ``score``, in input
order). The booster is stored in xgboost's own JSON format inside the model, and the okml
code travels with it (``code_paths``), so loading needs only the pinned requirements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from okml.config import FeatureParams
from okml.models import score_frame

BOOSTER_FILE = "booster.json"
META_FILE = "okml_model.json"


def score_transactions(
    booster: Any,
    feature_params: FeatureParams,
    columns: list[str],
    tx: pd.DataFrame,
    source: str = "transactions",
    impute: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Validate raw transactions, build features from them and score every row."""
    from okml.features import build_features
    from okml.schema import validate

    canonical = validate(tx, source=source)
    feats = build_features(canonical, feature_params)
    if impute:
        feats = feats.fillna(impute)
    scores = score_frame(booster, feats, columns)
    return pd.DataFrame({"transaction_id": feats.index.to_numpy(), "score": scores})


class FraudModel(PythonModel):
    """MLflow pyfunc wrapper around a trained booster and its feature configuration."""

    def load_context(self, context: Any) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts["booster"])
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.feature_params = FeatureParams.model_validate(meta["features"])
        self.columns = list(meta["feature_columns"])
        self.meta = meta

    def prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        """Features as the booster saw them in training (imputed where the pipeline imputed)."""
        impute = self.meta.get("impute") or {}
        return features.fillna(impute) if impute else features

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return score_transactions(
            self.booster,
            self.feature_params,
            self.columns,
            model_input,
            source="model input",
            impute=self.meta.get("impute"),
        )


def write_model_files(
    booster: Any,
    feature_params: FeatureParams,
    columns: list[str],
    folder: Path,
    extra: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write the booster (JSON) and metadata into ``folder``; return the pyfunc artifacts map."""
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / BOOSTER_FILE))
    meta = {
        "features": feature_params.model_dump(mode="json"),
        "feature_columns": list(columns),
        **(extra or {}),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return {"booster": str(folder / BOOSTER_FILE), "meta": str(folder / META_FILE)}


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
