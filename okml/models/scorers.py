"""What a fitted okml model offers, whatever its kind: fraud probabilities and exact, additive
SHAP contributions, saved and loaded the same way.

=================  ==========================  =======================================
kind               contributions               add up (with the base value) to
=================  ==========================  =======================================
``xgboost``        TreeSHAP (``pred_contribs``) the margin, log-odds
``random_forest``  ``shap.TreeExplainer``       the fraud probability
``logistic``       exact linear: ``coef * z``   the margin, log-odds
=================  ==========================  =======================================

``z`` are the model's own inputs (imputed, then standardized by the pipeline's scaler, fitted
on the training rows, so the training mean of ``z`` is 0 and the base value is the intercept).
Every call of :meth:`FraudScorer.contributions` checks additivity on every row.

:func:`fraud_scorer` turns a fitted pipeline of :func:`okml.models.build_estimator` into a
scorer; :meth:`FraudScorer.save` writes it to a folder (xgboost: the booster's own JSON;
the scikit-learn kinds: the fitted pipeline with joblib, which unpickles: load only models
from your own registry) and :func:`load_scorer` reads it back. One registry, :data:`KINDS`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from okml.errors import DataError, OkmlError

#: Largest allowed ``|base + sum(contributions) - output|``.
TOLERANCE = 1e-3

BOOSTER_FILE = "booster.json"
PIPELINE_FILE = "pipeline.joblib"
SCORER_FILE = "scorer.json"


class AdditivityError(OkmlError):
    """Contributions do not add up to the model's output (a defect, never bad input)."""


@runtime_checkable
class FraudScorer(Protocol):
    """What every okml model offers.

    Attributes
    ----------
    kind:
        ``xgboost``, ``random_forest`` or ``logistic``.
    columns:
        The feature columns it was trained on, in order.
    output:
        The space its contributions add up in: ``log-odds`` or ``probability``.
    """

    columns: list[str]

    @property
    def kind(self) -> str: ...

    @property
    def output(self) -> str: ...

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Fraud probability per row of a feature frame (NaN allowed in features)."""
        ...

    def contributions(self, features: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        """``(contributions[n, p], base, output[n])`` with ``base + contributions.sum(1) ==
        output`` on every row (checked); ``output`` is in :attr:`output` units."""
        ...

    def save(self, folder: Path) -> dict[str, str]:
        """Write the model to ``folder``; return the files (MLflow pyfunc artifacts)."""
        ...


def _matrix(features: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise DataError(
            f"the model needs features {', '.join(missing[:5])} that these transactions cannot "
            "provide (an optional input column is missing)",
            column=missing[0],
        )
    return features[list(columns)].astype("float64")


def _check_additive(contrib: np.ndarray, base: float, output: np.ndarray, index: pd.Index) -> None:
    gap = np.abs(base + contrib.sum(axis=1) - output)
    if len(gap) and (not np.all(np.isfinite(gap)) or gap.max() > TOLERANCE):
        worst = int(np.nanargmax(np.where(np.isfinite(gap), gap, np.inf)))
        raise AdditivityError(
            f"SHAP contributions do not add up to the model output for row {index[worst]!r}: "
            f"off by {gap[worst]:.2e} (tolerance {TOLERANCE:.0e})"
        )


class XGBoostScorer:
    """An xgboost booster; missing values go to the trees' learnt default branches, or are
    replaced by ``impute`` (column -> value) where the pipeline imputed (SMOTE needs it)."""

    kind = "xgboost"
    output = "log-odds"

    def __init__(self, booster: Any, columns: Sequence[str], impute: dict[str, float] | None = None):
        self.booster = booster
        self.columns = list(columns)
        self.impute = dict(impute or {})

    def _imputed(self, x: np.ndarray) -> np.ndarray:
        """``x`` (float64, :attr:`columns` order) with ``impute`` filled in (a copy if so)."""
        x = np.asarray(x, dtype=np.float64)
        if self.impute:
            x = x.copy()
            for j, c in enumerate(self.columns):
                if c in self.impute:
                    col = x[:, j]
                    col[np.isnan(col)] = self.impute[c]
        return x

    def _dmatrix(self, x: np.ndarray) -> Any:
        import xgboost

        # float32, as xgboost stores its split values: margins and scores agree to the bit
        return xgboost.DMatrix(
            self._imputed(x).astype(np.float32), feature_names=self.columns, missing=np.nan
        )

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        x = _matrix(features, self.columns).to_numpy(dtype=np.float64)
        return np.asarray(self.booster.predict(self._dmatrix(x)), dtype=np.float64)

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of a float array in :attr:`columns` order, without pandas
        or a DMatrix (the real-time path: about 0.1 ms a row); the same float32 inputs, the
        same scores."""
        x = self._imputed(x).astype(np.float32)
        out = self.booster.inplace_predict(x, missing=np.nan, validate_features=False)
        return np.asarray(out, dtype=np.float64)

    def contributions(self, features: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        x = _matrix(features, self.columns).to_numpy(dtype=np.float64)
        return self.contributions_array(x, features.index)

    def contributions_array(
        self, x: np.ndarray, index: pd.Index | None = None
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """:meth:`contributions` of a float array in :attr:`columns` order (no pandas: the
        real-time path); ``index`` names the rows in errors (default: their positions)."""
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:  # xgboost returns a 1-d array for an empty matrix
            return np.zeros((0, len(self.columns))), float("nan"), np.zeros(0)
        dm = self._dmatrix(x)  # named and in the booster's order: no validation per call
        raw = self.booster.predict(dm, pred_contribs=True, validate_features=False)  # last: bias
        margin = self.booster.predict(dm, output_margin=True, validate_features=False)
        margin = np.asarray(margin, dtype=np.float64)
        contrib = raw[:, :-1].astype(np.float64)
        bias = raw[:, -1].astype(np.float64)
        if np.ptp(bias) > TOLERANCE:
            raise AdditivityError("the SHAP base value differs between rows")
        _check_additive(
            contrib, float(bias[0]), margin, index if index is not None else pd.RangeIndex(len(x))
        )
        return contrib, float(bias[0]), margin

    def save(self, folder: Path) -> dict[str, str]:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / BOOSTER_FILE))
        _write_spec(folder, self, {"impute": self.impute})
        return {"booster": str(folder / BOOSTER_FILE), "scorer": str(folder / SCORER_FILE)}

    @classmethod
    def load(cls, folder: Path, spec: dict[str, Any]) -> XGBoostScorer:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(folder / BOOSTER_FILE))
        return cls(booster, spec["columns"], spec.get("impute"))


class _PipelineScorer:
    """A fitted scikit-learn / imbalanced-learn pipeline (its own imputer and scaler inside)."""

    kind = "pipeline"
    output = "log-odds"

    def __init__(self, pipeline: Any, columns: Sequence[str]):
        self.pipeline = pipeline
        self.columns = list(columns)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(
            self.pipeline.predict_proba(_matrix(features, self.columns))[:, 1], dtype=np.float64
        )

    def model_input(self, features: pd.DataFrame) -> pd.DataFrame:
        """The features as the final estimator sees them (imputed, scaled; no sampler)."""
        from okml.models.estimators import model_input

        return model_input(self.pipeline, _matrix(features, self.columns))

    @property
    def estimator(self) -> Any:
        return self.pipeline.steps[-1][1] if hasattr(self.pipeline, "steps") else self.pipeline

    def save(self, folder: Path) -> dict[str, str]:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.pipeline, folder / PIPELINE_FILE)
        _write_spec(folder, self, {})
        return {"pipeline": str(folder / PIPELINE_FILE), "scorer": str(folder / SCORER_FILE)}

    @classmethod
    def load(cls, folder: Path, spec: dict[str, Any]) -> _PipelineScorer:
        import joblib

        return cls(joblib.load(folder / PIPELINE_FILE), spec["columns"])


class LogisticScorer(_PipelineScorer):
    """Logistic regression: contributions ``coef_j * z_j`` on the standardized inputs, base the
    intercept, adding up to the margin exactly (LinearExplainer with the training mean)."""

    kind = "logistic"
    output = "log-odds"

    def contributions(self, features: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        z = self.model_input(features).to_numpy(dtype=np.float64)
        lr = self.estimator
        contrib = z * lr.coef_[0][None, :]
        base = float(lr.intercept_[0])
        margin = np.asarray(lr.decision_function(self.model_input(features)), dtype=np.float64)
        _check_additive(contrib, base, margin, features.index)
        return contrib, base, margin


class ForestScorer(_PipelineScorer):
    """Random forest: exact TreeSHAP (``shap.TreeExplainer``) of the fraud probability."""

    kind = "random_forest"
    output = "probability"

    def contributions(self, features: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        import shap

        x = self.model_input(features)
        prob = self.predict_proba(features)
        if len(x) == 0:
            return np.zeros((0, len(self.columns))), float("nan"), prob
        explanation = shap.TreeExplainer(self.estimator)(x.to_numpy(dtype=np.float64), check_additivity=False)
        # (n, p, classes): the fraud class; base_values per row (expected_value is unreliable
        # in shap 0.51 until values are computed: use the Explanation's own)
        contrib = np.asarray(explanation.values, dtype=np.float64)[:, :, 1]
        bases = np.asarray(explanation.base_values, dtype=np.float64)
        base = float(bases[0, 1] if bases.ndim == 2 else bases[0])
        _check_additive(contrib, base, prob, features.index)
        return contrib, base, prob


#: The model kinds, one scorer class each (``ModelParams.kind`` names one of these).
KINDS: dict[str, type] = {
    "xgboost": XGBoostScorer,
    "random_forest": ForestScorer,
    "logistic": LogisticScorer,
}


def _write_spec(folder: Path, scorer: Any, extra: dict[str, Any]) -> None:
    spec = {"kind": scorer.kind, "output": scorer.output, "columns": list(scorer.columns), **extra}
    (folder / SCORER_FILE).write_text(json.dumps(spec, indent=2))


def fraud_scorer(estimator: Any, columns: Sequence[str]) -> FraudScorer:
    """The scorer of a fitted pipeline from :func:`okml.models.build_estimator` (or a bare
    fitted estimator), for any kind; ``columns`` are the features it was fitted on."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression

    from okml.models.estimators import final_booster, final_estimator

    booster = final_booster(estimator)
    if booster is not None:
        steps = getattr(estimator, "steps", [])[:-1]
        imputers = [s for _, s in steps if isinstance(s, SimpleImputer)]
        impute = dict(zip(columns, map(float, imputers[0].statistics_), strict=True)) if imputers else {}
        return XGBoostScorer(booster, columns, impute)
    last = final_estimator(estimator)
    if isinstance(last, LogisticRegression):
        return LogisticScorer(estimator, columns)
    if isinstance(last, RandomForestClassifier):
        return ForestScorer(estimator, columns)
    raise OkmlError(f"no okml scorer for {type(last).__name__}; known kinds: {', '.join(KINDS)}")


def load_scorer(folder: str | Path) -> FraudScorer:
    """Read a scorer written by :meth:`FraudScorer.save`."""
    folder = Path(folder)
    spec = json.loads((folder / SCORER_FILE).read_text())
    cls = KINDS.get(spec["kind"])
    if cls is None:
        raise OkmlError(f"{folder}: unknown model kind {spec['kind']!r}; known: {', '.join(KINDS)}")
    return cls.load(folder, spec)  # type: ignore[attr-defined]


def as_scorer(model: Any) -> FraudScorer:
    """The scorer behind a loaded okml model (``FraudModel.scorer``), a scorer itself, or a
    bare xgboost booster-holder (``booster``, ``columns``, ``meta["impute"]``)."""
    if isinstance(model, FraudScorer):
        return model
    scorer = getattr(model, "scorer", None)
    if scorer is not None:
        return scorer
    meta = getattr(model, "meta", None) or {}
    return XGBoostScorer(model.booster, model.columns, meta.get("impute"))


def score_frame(booster: Any, features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Fraud probabilities of a feature frame with an xgboost Booster (columns in training order),
    for callers holding a bare booster."""
    return XGBoostScorer(booster, columns).predict_proba(features)
