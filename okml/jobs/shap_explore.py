"""What ``notebooks/04_shap_explore.ipynb`` looks at: the champion (and the challenger, when
there is one) explained on the same recent payments, as ``shap.Explanation`` objects.

The rows are a sample of the last ``days`` days of ``data.path``: every fraud there (up to a
quarter of the sample) and legitimate payments at random, with their features computed point
in time on the whole history, as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from okml.config import Params, load_params
from okml.errors import OkmlError


@dataclass
class ShapExplore:
    """Explanations of the same rows by one or more registered models.

    Attributes
    ----------
    rows:
        The sampled transactions (``transaction_id``, ``timestamp``, ``amount``, labels, ...).
    explanations:
        Model label (``champion (v3)``) -> ``shap.Explanation`` of ``rows``.
    scores:
        Model label -> fraud probability of each row.
    uris:
        Model label -> the registry URI it was loaded from.
    """

    params: Params
    rows: pd.DataFrame
    explanations: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, pd.Series] = field(default_factory=dict)
    uris: dict[str, str] = field(default_factory=dict)

    @property
    def champion(self) -> Any:
        """The first model's explanation."""
        return next(iter(self.explanations.values()))

    @property
    def fraud_type(self) -> pd.Series:
        """Each row's fraud type, ``legitimate`` for the rest (for cohorts)."""
        if "fraud_type" not in self.rows:
            return pd.Series("legitimate", index=self.rows.index)
        return self.rows["fraud_type"].astype(object).fillna("legitimate")


def _sample(window: pd.DataFrame, n_rows: int, seed: int) -> np.ndarray:
    """Positions in ``window``: its frauds (up to a quarter of ``n_rows``), then legit ones."""
    rng = np.random.default_rng(seed)
    fraud = np.flatnonzero(window["is_fraud"].to_numpy() == 1) if "is_fraud" in window else np.array([], int)
    legit = np.setdiff1d(np.arange(len(window)), fraud)
    fraud = rng.permutation(fraud)[: n_rows // 4]
    legit = rng.permutation(legit)[: max(n_rows - len(fraud), 0)]
    return np.sort(np.concatenate([fraud, legit]).astype(np.int64))


def prepare(
    params_file: str | None = None,
    overrides: Sequence[str] = (),
    model_uri: str | None = None,
    compare_uri: str | None = "auto",
    days: int = 7,
    n_rows: int = 2000,
    seed: int = 0,
) -> ShapExplore:
    """Load the data and the models, and explain the same sampled rows with each.

    Parameters
    ----------
    params_file, overrides:
        As for :func:`okml.config.load_params`.
    model_uri:
        The model to explain; default ``models:/<mlflow.model_name>@champion``.
    compare_uri:
        A second model on the same rows; ``"auto"`` takes ``@challenger`` when the registry
        has one that is not the champion; ``None`` for none.
    days, n_rows, seed:
        The window (last days of the data) and the sample drawn from it.
    """
    from okml import tracking
    from okml.explain.shap_library import explanation
    from okml.features import feature_matrix
    from okml.jobs.data import load_transactions
    from okml.models import as_scorer

    params = load_params(params_file, list(overrides or []))
    tracking.configure(params.mlflow)
    uris: dict[str, str] = {}
    champion_v = tracking.alias_version(params.mlflow, tracking.CHAMPION)
    if model_uri is None:
        if champion_v is None:
            raise OkmlError("no @champion in the registry: run `okml train` first or pass model_uri")
        uris[f"champion (v{champion_v})"] = f"models:/{params.mlflow.model_name}/{champion_v}"
    else:
        uris["model"] = model_uri
    if compare_uri == "auto":
        challenger_v = tracking.alias_version(params.mlflow, tracking.CHALLENGER)
        if challenger_v is not None and challenger_v != champion_v:
            uris[f"challenger (v{challenger_v})"] = f"models:/{params.mlflow.model_name}/{challenger_v}"
    elif compare_uri:
        uris["compared"] = compare_uri

    tx = load_transactions(params, progress=False)
    start = tx["timestamp"].max().floor("D") - pd.Timedelta(days=days - 1)
    window = np.flatnonzero((tx["timestamp"] >= start).to_numpy())
    picked = window[_sample(tx.iloc[window], n_rows, seed)]
    rows = tx.iloc[picked].reset_index(drop=True)
    out = ShapExplore(params=params, rows=rows, uris=uris)
    features: dict[Any, pd.DataFrame] = {}
    for label, uri in uris.items():
        model = tracking.load_model(uri, params.mlflow)
        key = model.feature_params.model_dump_json()
        if key not in features:  # one feature table per feature configuration
            features[key] = feature_matrix(tx, model.feature_params).iloc[picked].reset_index(drop=True)
        scorer = as_scorer(model)
        out.explanations[label] = explanation(scorer, features[key], rows["transaction_id"])
        out.scores[label] = pd.Series(scorer.predict_proba(features[key]), index=rows.index)
    return out
