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
from sklearn.metrics import precision_recall_curve, roc_curve

from okml.config import Params
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
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)", xlim=(0, 1), ylim=(0, 1.01))
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


def score_distribution_figure(
    y_true: Any, scores: Any, bins: int = 50, title: str = "Scores by class"
) -> Figure:
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
        ax.axhline(
            per_day["precision"].mean(),
            color="grey",
            linestyle=":",
            linewidth=1,
            label=f"mean {per_day['precision'].mean():.3f}",
        )
    ax.set(xlabel="day", ylabel=f"CP@{k}", ylim=(0, 1.01))
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize="small")
    return fig


def cost_figure(
    curve: pd.DataFrame, chosen: float | None = None, title: str = "Expected cost against threshold"
) -> Figure:
    """Expected cost for each score threshold (from :func:`metrics.cost_curve`).

    Thresholds are on a log axis (the action is among small probabilities) and the cost axis
    stops at three times the cost of flagging nothing, so flagging everyone at threshold 0
    does not flatten the rest; ``chosen`` (the run's operating threshold) is marked.
    """
    finite = curve[np.isfinite(curve["threshold"]) & (curve["threshold"] > 0)].sort_values("threshold")
    fig, ax = _figure(title)
    ax.plot(finite["threshold"], finite["expected_cost"], marker=".", markersize=3)
    ax.set_xscale("log")
    nothing = curve.loc[~np.isfinite(curve["threshold"]), "expected_cost"]
    if len(nothing):
        top = float(nothing.iloc[0])
        ax.axhline(top, color="grey", linestyle=":", linewidth=1, label="flag nothing")
        if len(finite) and top > 0:
            ax.set_ylim(max(0.0, 0.9 * float(finite["expected_cost"].min())), 3 * top)
    if chosen is not None and np.isfinite(chosen) and chosen > 0:
        ax.axvline(
            chosen, color="red", linestyle="--", linewidth=1, label=f"operating threshold {chosen:.3g}"
        )
    ax.set(xlabel="score threshold (flag score >= t), log scale", ylabel="expected cost")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return fig


def calibration_bins(y_true: Any, scores: Any, lowest: float = 1e-4, per_decade: int = 3) -> pd.DataFrame:
    """Observed fraud rate and mean score in bins equally wide in log10(score), from
    ``lowest`` to 1 (scores below ``lowest`` in the first bin): fraud scores spread over
    orders of magnitude, so equal-count bins put every high score into one bin."""
    y = np.asarray(y_true, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), 0, 1)
    decades = int(np.ceil(-np.log10(lowest)))
    edges = np.concatenate(
        [[0.0], np.logspace(np.log10(lowest), 0, decades * per_decade + 1)[:-1], [1.0 + 1e-12]]
    )
    which = np.digitize(s, edges[1:-1])
    frame = pd.DataFrame({"bin": which, "score": s, "fraud": y})
    out = frame.groupby("bin").agg(
        mean_score=("score", "mean"), observed=("fraud", "mean"), n=("score", "size"), frauds=("fraud", "sum")
    )
    return out.reset_index(drop=True)


def calibration_figure(y_true: Any, scores: Any, title: str = "Calibration") -> Figure:
    """Observed fraud rate against mean score in log-spaced score bins (log-log); marker
    area grows with the payments in the bin."""
    bins = calibration_bins(y_true, scores)
    fig, ax = _figure(title)
    size = 15 + 120 * np.sqrt(bins["n"] / max(bins["n"].max(), 1))
    ax.plot(bins["mean_score"], bins["observed"], color="C0", linewidth=1)
    ax.scatter(
        bins["mean_score"],
        bins["observed"],
        s=size,
        color="C0",
        alpha=0.7,
        zorder=3,
        label="model (area: payments in bin)",
    )
    lo = max(float(bins["mean_score"].min()) if len(bins) else 1e-4, 1e-6)
    ax.plot([lo, 1], [lo, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set(xlabel="mean score in bin (log)", ylabel="observed fraud rate", ylim=(0, 1.05))
    ax.legend(fontsize="small")
    return fig


PLOT_FILES = (
    "roc.png",
    "precision_recall.png",
    "score_distribution.png",
    "cp_at_k_by_day.png",
    "cost_threshold.png",
    "calibration.png",
)


def write_plots(
    scored: pd.DataFrame, params: Params, out: Path, threshold: float | None = None
) -> list[Path]:
    """Write the evaluation plots of one model's test scores to ``out`` (see ``PLOT_FILES``).

    ``scored`` is a scored frame (:func:`~okml.evaluate.scoring.scored_frame`); with a
    ``fold`` column, CP@k per day is computed within each fold (caught customers are
    forgotten between folds) and drawn as one line per fold. ``threshold`` is marked on the
    cost plot (a training run's operating threshold). With a ``priority`` column
    (``evaluate.rings_first``) the ranking plots (ROC, precision-recall, CP@k, cost) are of
    the queue order, as the metrics are; the score distribution and calibration of ``score``.
    """
    from okml.evaluate import metrics as m

    queue = m.ranked(scored)
    y = scored["is_fraud"].to_numpy()
    s, order = scored["score"].to_numpy(), queue["score"].to_numpy()
    folds = scored["fold"] if "fold" in scored else pd.Series(0, index=scored.index)
    per_day = pd.concat(
        [m.daily_top_k(g, params.evaluate.k)[0].assign(fold=f) for f, g in queue.groupby(folds, sort=True)],
        ignore_index=True,
    )
    figures = [
        roc_figure(y, order),
        precision_recall_figure(y, order),
        score_distribution_figure(y, s),
        cp_at_k_figure(per_day, params.evaluate.k),
        cost_figure(m.cost_curve(queue, params.evaluate.cost), chosen=threshold),
        calibration_figure(y, s),
    ]
    return [save_figure(fig, Path(out) / name) for name, fig in zip(PLOT_FILES, figures, strict=True)]
