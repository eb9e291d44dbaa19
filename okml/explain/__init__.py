"""Explanations of scores: SHAP contributions, reason codes a reviewer can read, and the
words they are made of.

============================  ===============================================================
module                        what it holds
============================  ===============================================================
``contributions``             SHAP values (xgboost ``pred_contribs``, checked for additivity),
                              grouped contributions and :func:`explain`
``reasons``                   the rule per feature group that picks a sentence and its numbers
``phrases``                   every sentence, title and unit word in English and Chinese
``humanize``                  numbers, money, shares, durations and windows for people
``vocab``                     Chinese names of categories, channels, regions, fraud types
``fonts``                     the shipped Chinese font: per-page ``@font-face``, chart font
============================  ===============================================================

The feature registry says what a feature *is* (family, unit, window, group, description);
this package says how to *word* it.
"""

from okml.explain.contributions import (
    ExplainedCases,
    ExplanationError,
    Reason,
    RowExplainer,
    explain,
    feature_groups,
    group_contributions,
    shap_values,
)
from okml.explain.phrases import LANGUAGES, check_language, group_title
from okml.explain.reasons import feature_spec, reason_text

__all__ = [
    "LANGUAGES",
    "ExplainedCases",
    "ExplanationError",
    "Reason",
    "RowExplainer",
    "check_language",
    "explain",
    "feature_groups",
    "feature_spec",
    "group_contributions",
    "group_title",
    "reason_text",
    "shap_values",
]
