"""Why a payment was flagged: SHAP contributions of the tree model and reason codes.

:func:`shap_values` computes exact TreeSHAP contributions with xgboost's
``pred_contribs=True`` (identical to ``shap.TreeExplainer``, without its start-up cost) and
CHECKS them: for every explained row the base value plus the contributions must equal the
model's margin (log-odds, ``output_margin=True``), or :class:`ExplanationError` is raised.

:func:`explain` adds what reviewers read: contributions summed per feature group (all
customer-count windows are one group, so reviewers do not read five collinear reasons) and
the top groups that RAISE the score, each turned into one sentence by
:mod:`okml.explain.reasons` using the group's most telling member, e.g. "9 payments in the
last hour (usual for this customer: 0.2)".

Contributions add up in the model's own output space (:attr:`ExplainedCases.output`):
log-odds for xgboost and logistic regression, the probability for a random forest
(:mod:`okml.models.scorers`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from okml.config import FeatureParams
from okml.errors import OkmlError
from okml.explain.phrases import APPROXIMATE, check_language
from okml.explain.reasons import feature_spec, reason_text
from okml.features.registry import registry

#: Additivity tolerance (log-odds): xgboost sums contributions in float32.
TOLERANCE = 1e-3
#: A group must raise the margin by more than this to become a reason (float noise is not).
MIN_CONTRIBUTION = 1e-6


class ExplanationError(RuntimeError):
    """SHAP contributions do not add up to the model's output (a bug, never bad input)."""


@dataclass(frozen=True)
class Reason:
    """One reason code: a feature group that raised the score.

    Attributes
    ----------
    group:
        Registry group (``customer_count``, ``new_device``, ...).
    feature:
        The group's most telling column (largest contribution); the text is told through it.
    value:
        That column's value in the explained row (NaN when undefined).
    contribution:
        The whole group's contribution to the margin (log-odds), > 0.
    text:
        The sentence for reviewers (plain text; escape it before it reaches HTML).
    """

    group: str
    feature: str
    value: float
    contribution: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers rounded to 6 decimals, a missing value as ``None``."""
        value = None if math.isnan(self.value) else round(self.value, 6)
        return {
            "group": self.group,
            "feature": self.feature,
            "value": value,
            "contribution": round(self.contribution, 6),
            "text": self.text,
        }


@dataclass(frozen=True)
class ExplainedCases:
    """Explanations of a set of rows (all frames share the input's index).

    Attributes
    ----------
    base_value:
        The model's expected margin, the same for every row.
    margin:
        The model's margin (log-odds) per row; ``base_value + contributions.sum(axis=1)``.
    contributions:
        SHAP contribution per row and feature column.
    by_group:
        Contributions summed per registry group (columns in first-appearance order).
    values:
        The explained feature values (what the model saw).
    reasons:
        Per row, the top groups that raised the score, largest first.
    groups:
        Group -> its columns among the model's columns.
    language:
        Language of the reason texts.
    """

    base_value: pd.Series
    margin: pd.Series
    contributions: pd.DataFrame
    by_group: pd.DataFrame
    values: pd.DataFrame
    reasons: pd.Series
    groups: dict[str, list[str]] = field(default_factory=dict)
    language: str = "en"
    output: str = "log-odds"

    def __len__(self) -> int:
        return len(self.margin)

    @property
    def score(self) -> pd.Series:
        """Fraud probability: ``sigmoid(margin)`` for log-odds models, the output itself for
        models explained in probability (a random forest)."""
        if self.output == "probability":
            return self.margin.clip(0.0, 1.0)
        return 1.0 / (1.0 + np.exp(-self.margin))

    def take(self, positions: Sequence[int]) -> ExplainedCases:
        """The explanations of the rows at ``positions`` (0-based), in that order."""
        pos = list(positions)
        return ExplainedCases(
            base_value=self.base_value.iloc[pos],
            margin=self.margin.iloc[pos],
            contributions=self.contributions.iloc[pos],
            by_group=self.by_group.iloc[pos],
            values=self.values.iloc[pos],
            reasons=self.reasons.iloc[pos],
            groups=self.groups,
            language=self.language,
            output=self.output,
        )

    def reasons_json(self) -> pd.Series:
        """Per row, its reasons as the JSON list a scored file's ``reasons`` column holds."""
        return self.reason_columns(0)["reasons"]

    def reason_columns(self, top: int) -> pd.DataFrame:
        """``reason_1 .. reason_{top}`` (text, missing where a row has fewer reasons) and
        ``reasons`` (JSON list of :meth:`Reason.as_dict`), indexed like the input."""
        data: dict[str, Any] = {}
        for i in range(top):
            data[f"reason_{i + 1}"] = pd.array(
                [r[i].text if len(r) > i else None for r in self.reasons], dtype="str"
            )
        data["reasons"] = pd.array(
            [json.dumps([x.as_dict() for x in r], ensure_ascii=False) for r in self.reasons], dtype="str"
        )
        return pd.DataFrame(data, index=self.margin.index)


def _matrix(features: pd.DataFrame, columns: Sequence[str]) -> Any:
    import xgboost as xgb

    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise KeyError(f"features lack the model's columns {', '.join(missing[:5])}")
    # the same float32 matrix okml.pyfunc.score_frame scores, so margins match the scores
    return xgb.DMatrix(
        features[list(columns)].to_numpy(dtype=np.float32), feature_names=list(columns), missing=np.nan
    )


def shap_values(
    booster: Any, features: pd.DataFrame, columns: Sequence[str], tolerance: float = TOLERANCE
) -> tuple[pd.DataFrame, float, pd.Series]:
    """Exact TreeSHAP contributions of an xgboost booster, checked against its margin.

    Parameters
    ----------
    booster:
        A fitted ``xgboost.Booster`` (``okml.models.final_booster`` or the logged model's).
    features:
        Feature rows (any index); only ``columns`` are used.
    columns:
        The model's feature columns in training order.
    tolerance:
        Largest allowed ``|base + sum(contributions) - margin|`` in log-odds.

    Returns
    -------
    contributions, base_value, margin
        A frame (features' index, ``columns``), the expected margin, and the margin per row.

    Raises
    ------
    ExplanationError
        Base value plus contributions differ from the margin for some row.
    KeyError
        ``features`` lacks some of ``columns``.
    """
    dm = _matrix(features, columns)
    if len(features) == 0:  # xgboost returns a 1-d array for an empty matrix
        return (
            pd.DataFrame(np.zeros((0, len(columns))), index=features.index, columns=list(columns)),
            math.nan,
            pd.Series(np.zeros(0), index=features.index, name="margin"),
        )
    raw = booster.predict(dm, pred_contribs=True)  # last column: the bias (expected margin)
    margin = booster.predict(dm, output_margin=True).astype(np.float64)
    contrib = raw[:, :-1].astype(np.float64)
    bias = raw[:, -1].astype(np.float64)
    base = float(bias[0])
    gap = np.abs(bias + contrib.sum(axis=1) - margin)
    if not np.all(np.isfinite(gap)) or gap.max() > tolerance:
        worst = int(np.nanargmax(np.where(np.isfinite(gap), gap, np.inf)))
        raise ExplanationError(
            f"SHAP contributions do not add up to the margin for row {features.index[worst]!r}: "
            f"off by {gap[worst]:.2e} (tolerance {tolerance:.0e})"
        )
    if np.ptp(bias) > tolerance:
        raise ExplanationError("the SHAP base value differs between rows")
    return (
        pd.DataFrame(contrib, index=features.index, columns=list(columns)),
        base,
        pd.Series(margin, index=features.index, name="margin"),
    )


def feature_groups(columns: Sequence[str], params: FeatureParams | None = None) -> dict[str, list[str]]:
    """Group -> columns, in first-appearance order (unknown columns are their own group)."""
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(feature_spec(c, params).group, []).append(c)
    return groups


def group_contributions(contributions: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Contributions summed per group (same index; columns in ``groups`` order)."""
    layout = _Layout.of(list(contributions.columns), groups)
    summed = contributions.to_numpy(dtype=np.float64) @ layout.indicator
    return pd.DataFrame(summed, index=contributions.index, columns=layout.names)


def _amounts(transactions: pd.DataFrame | pd.Series | None, index: pd.Index) -> np.ndarray:
    if transactions is None:
        return np.full(len(index), np.nan)
    amount = transactions["amount"] if isinstance(transactions, pd.DataFrame) else transactions
    if len(amount) != len(index):
        raise ValueError(f"{len(amount)} amounts for {len(index)} explained rows")
    return np.asarray(amount, dtype=np.float64)


def model_contributions(
    model: Any, features: pd.DataFrame, columns: Sequence[str]
) -> tuple[pd.DataFrame, float, pd.Series, str]:
    """``(contributions, base, output, space)`` of any okml model, checked for additivity.

    ``model`` is an :class:`okml.models.FraudScorer`, a loaded okml model (its ``scorer``), or
    a bare ``xgboost.Booster`` (:func:`shap_values`); ``space`` is ``log-odds`` or
    ``probability``.
    """
    from okml.models import FraudScorer, as_scorer

    if not (isinstance(model, FraudScorer) or hasattr(model, "scorer") or hasattr(model, "booster")):
        contrib, base, margin = shap_values(model, features, columns)
        return contrib, base, margin, "log-odds"
    scorer = as_scorer(model)
    if list(scorer.columns) != list(columns):
        raise ValueError("columns differ from the model's own")
    try:
        values, base, output = scorer.contributions(features)
    except OkmlError as e:
        raise ExplanationError(str(e)) from None
    return (
        pd.DataFrame(values, index=features.index, columns=list(columns)),
        base,
        pd.Series(output, index=features.index, name="margin"),
        scorer.output,
    )


def explain(
    model: Any,
    features_frame: pd.DataFrame,
    columns: Sequence[str],
    feature_params: FeatureParams | None = None,
    language: str = "en",
    top: int = 3,
    transactions: pd.DataFrame | pd.Series | None = None,
    approximate: Collection[str] = (),
) -> ExplainedCases:
    """SHAP contributions, group sums and the top reason codes of each row.

    Parameters
    ----------
    model:
        Any okml model (:func:`model_contributions`): an :class:`okml.models.FraudScorer`,
        a loaded okml model, or a fitted ``xgboost.Booster``.
    features_frame:
        Feature rows to explain (e.g. the flagged payments); index kept in the result.
    columns:
        The model's feature columns in training order.
    feature_params:
        The feature configuration the model was trained with (windows and time zone in
        the texts); default :class:`~okml.config.FeatureParams`.
    language:
        ``"en"`` or ``"zh"``.
    top:
        Reasons per row (at most; fewer when fewer groups raise the score). 0 skips the text.
    transactions:
        The same rows' transactions (or just their ``amount``), row for row, so reasons
        can quote the amount; optional.
    approximate:
        Columns that are not exact for these rows (a scored file's
        ``attrs["approximate_features"]``): a reason told through one of them says so
        instead of stating its value as fact.

    Returns
    -------
    ExplainedCases

    Raises
    ------
    ExplanationError
        Contributions (or group sums) do not add up to the margin.
    ValueError
        Unknown language or negative ``top``.

    Notes
    -----
    Only groups whose summed contribution is positive become reasons, ranked by that sum
    (ties: registry order), so the same row always gets the same reasons. A group's text is
    told through its member with the largest contribution.
    """
    check_language(language)
    if top < 0:
        raise ValueError(f"top must be >= 0; got {top}")
    params = feature_params if feature_params is not None else FeatureParams()
    contributions, base, margin, space = model_contributions(model, features_frame, columns)
    groups = feature_groups(columns, params)
    by_group = group_contributions(contributions, groups)
    gap = np.abs(base + by_group.to_numpy().sum(axis=1) - margin.to_numpy())
    if len(gap) and gap.max() > TOLERANCE:
        raise ExplanationError(f"group contributions miss the margin by {gap.max():.2e}")
    values = features_frame[list(columns)].copy()
    reasons = _reasons(
        contributions.to_numpy(),
        by_group.to_numpy(),
        values.to_numpy(dtype=np.float64),
        _Layout.of(list(columns), groups),
        params,
        language,
        top,
        _amounts(transactions, features_frame.index),
    )
    if approximate:
        reasons = [[_approximate(r, approximate, language) for r in row] for row in reasons]
    return ExplainedCases(
        base_value=pd.Series(base, index=features_frame.index, name="base_value"),
        margin=margin,
        contributions=contributions,
        by_group=by_group,
        values=values,
        reasons=pd.Series(reasons, index=features_frame.index, name="reasons", dtype=object),
        groups=groups,
        language=language,
        output=space,
    )


def _approximate(reason: Reason, approximate: Collection[str], language: str) -> Reason:
    """``reason``, marked as approximate when its feature is (not stated as fact)."""
    if reason.feature not in approximate:
        return reason
    return replace(reason, text=APPROXIMATE.format(language, text=reason.text))


@dataclass(frozen=True)
class _Layout:
    """Where each group's members sit among the model's columns."""

    columns: list[str]
    names: list[str]
    members: list[np.ndarray]
    indicator: np.ndarray  # columns x groups, 1 where the column belongs to the group

    @classmethod
    def of(cls, columns: list[str], groups: dict[str, list[str]]) -> _Layout:
        position = {c: i for i, c in enumerate(columns)}
        members = [np.array([position[c] for c in cs]) for cs in groups.values()]
        indicator = np.zeros((len(columns), len(groups)))
        for j, m in enumerate(members):
            indicator[m, j] = 1.0
        return cls(columns, list(groups), members, indicator)


class RowExplainer:
    """The reasons of :func:`explain` for feature rows given as float arrays in the model's
    column order, without pandas: the real-time path (``okml serve``), where a frame per
    payment costs more than the explanation. The groups, their layout and the registry are
    worked out once.

    Parameters
    ----------
    model, columns, feature_params, language, top:
        As for :func:`explain`.

    Examples
    --------
    ``RowExplainer(scorer, scorer.columns, params.features, "zh").reasons(x, amounts)``
    gives, for each row of ``x``, the same :class:`Reason` list as ``explain(scorer,
    frame_of_x, ...).reasons``.
    """

    def __init__(
        self,
        model: Any,
        columns: Sequence[str],
        feature_params: FeatureParams | None = None,
        language: str = "en",
        top: int = 3,
    ) -> None:
        check_language(language)
        if top < 0:
            raise ValueError(f"top must be >= 0; got {top}")
        self.model = model
        self.columns = list(columns)
        self.params = feature_params if feature_params is not None else FeatureParams()
        self.language = language
        self.top = top
        self.layout = _Layout.of(self.columns, feature_groups(self.columns, self.params))
        self.specs = registry(self.params)

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """``(contributions, base, output)`` of rows ``x``, checked for additivity."""
        fast = getattr(self.model, "contributions_array", None)
        if fast is None:  # a model without the array path: through a frame
            frame = pd.DataFrame(np.asarray(x, dtype=np.float64), columns=self.columns)
            contrib, base, margin, _ = model_contributions(self.model, frame, self.columns)
            return contrib.to_numpy(), base, margin.to_numpy()
        try:
            return fast(x)
        except OkmlError as e:
            raise ExplanationError(str(e)) from None

    def reasons(self, x: np.ndarray, amounts: Sequence[float] | None = None) -> list[list[Reason]]:
        """Per row of ``x`` (n x columns, NaN where undefined), its top reasons; ``amounts``
        (the payments' amounts, row for row) lets reasons quote them."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        contrib, base, margin = self.contributions(x)
        by_group = contrib @ self.layout.indicator
        gap = np.abs(base + by_group.sum(axis=1) - margin)
        if len(gap) and gap.max() > TOLERANCE:
            raise ExplanationError(f"group contributions miss the margin by {gap.max():.2e}")
        amount = np.full(len(x), np.nan) if amounts is None else np.asarray(amounts, dtype=np.float64)
        if len(amount) != len(x):
            raise ValueError(f"{len(amount)} amounts for {len(x)} explained rows")
        return _reasons(
            contrib, by_group, x, self.layout, self.params, self.language, self.top, amount, self.specs
        )


def _reasons(
    c: np.ndarray,
    g: np.ndarray,
    v: np.ndarray,
    layout: _Layout,
    params: FeatureParams,
    language: str,
    top: int,
    amounts: np.ndarray,
    specs: dict[str, Any] | None = None,
) -> list[list[Reason]]:
    """Top groups per row: ``c`` contributions (rows x columns), ``g`` their group sums
    (rows x groups), ``v`` the feature values (rows x columns)."""
    if top == 0 or len(g) == 0:
        return [[] for _ in range(len(g))]
    specs = specs if specs is not None else registry(params)
    names, columns = layout.names, layout.columns
    # stable sort on -contribution: ties keep registry order, so reruns agree
    order = np.argsort(-g, axis=1, kind="stable")[:, :top]
    out: list[list[Reason]] = []
    for i in range(len(g)):
        row_reasons: list[Reason] = []
        row: dict[str, float] | None = None
        for j in order[i]:
            if not g[i, j] > MIN_CONTRIBUTION:
                break
            members = layout.members[j]
            best = members[int(np.argmax(c[i, members]))]
            feature = columns[best]
            if row is None:
                row = dict(zip(columns, v[i].tolist(), strict=True))
            amount = None if math.isnan(amounts[i]) else float(amounts[i])
            text = reason_text(feature, row, params, language, amount, specs)
            row_reasons.append(
                Reason(
                    group=names[j],
                    feature=feature,
                    value=float(v[i, best]),
                    contribution=float(g[i, j]),
                    text=text,
                )
            )
        out.append(row_reasons)
    return out
