"""Evaluation plots as matplotlib Figures, saved as PNG.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global backend switch), so
importing this module changes nothing and figures render headless. Notebooks can display the
returned figures directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from okml.io import atomic_path


def _figure(title: str, size: tuple[float, float] = (5.5, 4.5)) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically (temp file, then rename) and return the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def roc_figure(y_true: Any, scores: Any, title: str = "ROC curve") -> Figure:
    """ROC curve with the chance diagonal; AUC in the legend."""
    from okml.evaluate.metrics import roc_auc

    fpr, tpr, _ = roc_curve(y_true, scores)
    fig, ax = _figure(title)
    ax.plot(fpr, tpr, label=f"AUC {roc_auc(y_true, scores):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)", xlim=(0, 1),
           ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return fig


def precision_recall_figure(y_true: Any, scores: Any, title: str = "Precision-recall") -> Figure:
    """Step precision-recall curve; AP and the fraud rate (a random model) marked."""
    from okml.evaluate.metrics import average_precision

    precision, recall, _ = precision_recall_curve(y_true, scores)
    rate = float(np.mean(np.asarray(y_true) == 1))
    fig, ax = _figure(title)
    ax.step(recall, precision, where="post", label=f"AP {average_precision(y_true, scores):.3f}")
    ax.axhline(rate, color="grey", linestyle=":", linewidth=1, label=f"fraud rate {rate:.4f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper right")
    return fig


def score_distribution_figure(y_true: Any, scores: Any, bins: int = 50,
                              title: str = "Scores by class") -> Figure:
    """Histograms of scores for legit and fraud transactions (log counts)."""
    y = np.asarray(y_true) == 1
    s = np.asarray(scores, dtype=float)
    edges = np.linspace(min(0.0, s.min(initial=0.0)), max(1.0, s.max(initial=1.0)), bins + 1)
    fig, ax = _figure(title)
    ax.hist(s[~y], bins=edges, alpha=0.6, label=f"legit ({(~y).sum():,})")
    ax.hist(s[y], bins=edges, alpha=0.6, label=f"fraud ({y.sum():,})")
    ax.set_yscale("log")
    ax.set(xlabel="score", ylabel="transactions (log scale)")
    ax.legend()
    return fig


def cp_at_k_figure(per_day: pd.DataFrame, k: int, title: str | None = None) -> Figure:
    """Card Precision@k per test day (one line per fold if a ``fold`` column is present)."""
    fig, ax = _figure(title or f"Card Precision@{k} by day", size=(7, 4))
    groups = per_day.groupby("fold") if "fold" in per_day else [(None, per_day)]
    for fold, g in groups:
        label = f"fold {fold}" if fold is not None else None
        ax.plot(g["day"], g["precision"], marker="o", markersize=3, label=label)
    if len(per_day):
        ax.axhline(per_day["precision"].mean(), color="grey", linestyle=":", linewidth=1,
                   label=f"mean {per_day['precision'].mean():.3f}")
    ax.set(xlabel="day", ylabel=f"CP@{k}", ylim=(0, 1.01))
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize="small")
    return fig


def cost_figure(curve: pd.DataFrame, chosen: float | None = None,
                title: str = "Expected cost against threshold") -> Figure:
    """Expected cost for each score threshold (from :func:`metrics.cost_curve`)."""
    finite = curve[np.isfinite(curve["threshold"])].sort_values("threshold")
    fig, ax = _figure(title)
    ax.plot(finite["threshold"], finite["expected_cost"], marker=".", markersize=3)
    nothing = curve.loc[~np.isfinite(curve["threshold"]), "expected_cost"]
    if len(nothing):
        ax.axhline(float(nothing.iloc[0]), color="grey", linestyle=":", linewidth=1,
                   label="flag nothing")
    if chosen is not None and np.isfinite(chosen):
        ax.axvline(chosen, color="red", linestyle="--", linewidth=1, label=f"chosen {chosen:.3g}")
    ax.set(xlabel="score threshold (flag score >= t)", ylabel="expected cost")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return fig


def calibration_figure(y_true: Any, scores: Any, n_bins: int = 10,
                       title: str = "Calibration") -> Figure:
    """Observed fraud rate against mean score in score-quantile bins (log-log)."""
    s = np.clip(np.asarray(scores, dtype=float), 0, 1)
    observed, predicted = calibration_curve(y_true, s, n_bins=n_bins, strategy="quantile")
    fig, ax = _figure(title)
    ax.plot(predicted, observed, marker="o", label="model")
    lo = max(min(predicted.min(initial=1.0), 1e-4), 1e-6)
    ax.plot([lo, 1], [lo, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set(xlabel="mean score in bin", ylabel="observed fraud rate", ylim=(0, 1.05))
    ax.legend()
    return fig
