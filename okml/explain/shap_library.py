"""okml's exact contributions as ``shap.Explanation`` objects, for the shap library's own plots.

``notebooks/04_shap_explore.ipynb`` draws them: ``shap.plots.beeswarm(ex)``, a bar chart by
fraud type as a cohort (:func:`cohorts`), ``shap.plots.scatter(ex[:, name], color=ex)``
(shap picks the feature with the strongest interaction to colour by) and
``shap.plots.waterfall(ex[i])``. The values are those of
:meth:`okml.models.FraudScorer.contributions` (checked for additivity), so every plot agrees
with the reviewers' report and with the logged model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from okml.models import FraudScorer


def explanation(scorer: FraudScorer, features: pd.DataFrame, names: pd.Index | None = None) -> Any:
    """A ``shap.Explanation`` of ``features`` rows: values, base values, the feature values
    the model saw, feature names; ``names`` label the rows (e.g. transaction ids)."""
    import shap

    contrib, base, _ = scorer.contributions(features)
    data = features[list(scorer.columns)].to_numpy(dtype=np.float64)
    return shap.Explanation(
        values=contrib,
        base_values=np.full(len(contrib), base),
        data=data,
        feature_names=list(scorer.columns),
        instance_names=list(map(str, names if names is not None else features.index)),
        output_names=scorer.output,
    )


def cohorts(ex: Any, labels: pd.Series | np.ndarray) -> Any:
    """``ex`` split into cohorts by ``labels`` (e.g. fraud type, "legitimate" for the rest):
    ``shap.plots.bar(cohorts(ex, kind).abs.mean(0))`` shows what drives each kind of fraud."""
    values = pd.Series(np.asarray(labels, dtype=object)).fillna("legitimate").astype(str).to_numpy()
    return ex.cohorts(values)


def top_features(ex: Any, n: int = 3) -> list[str]:
    """The ``n`` features with the largest mean |contribution|."""
    mean = np.abs(np.asarray(ex.values)).mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:n]
    return [ex.feature_names[i] for i in order]


def compare_importance(explanations: dict[str, Any], top: int = 15) -> pd.DataFrame:
    """Mean |contribution| per feature of several models on the same rows (e.g. champion and
    challenger), largest first by the first model, with each model's rank: did the top
    factors flip?"""
    frames = []
    for name, ex in explanations.items():
        mean = pd.Series(np.abs(np.asarray(ex.values)).mean(axis=0), index=ex.feature_names)
        frames.append(pd.DataFrame({f"{name} mean |SHAP|": mean, f"{name} rank": mean.rank(ascending=False)}))
    table = pd.concat(frames, axis=1)
    first = next(iter(explanations))
    return table.sort_values(f"{first} mean |SHAP|", ascending=False).head(top).round(4)


def chosen_cases(scores: pd.Series, is_fraud: pd.Series | None = None, n: int = 2) -> list[int]:
    """Positions of cases worth a waterfall: the ``n`` highest scores, and the highest-scored
    fraud that is not among them (a caught one reads differently from a missed one)."""
    order = np.argsort(-scores.to_numpy(), kind="stable")
    picked = [int(i) for i in order[:n]]
    if is_fraud is not None:
        frauds = [int(i) for i in order if is_fraud.iloc[int(i)] == 1 and int(i) not in picked]
        picked += frauds[:1]
    return picked
