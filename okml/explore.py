"""Figures for a first look at a dataset (used by ``notebooks/01_explore.ipynb``).

Each function takes canonical transactions (or a feature table) and returns a matplotlib
Figure; nothing is written or shown here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _subplots(nrows: int, ncols: int, figsize: tuple[float, float], **kw: Any) -> Any:
    """Figure and axes without pyplot (no global state; renders headless)."""
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kw)


def daily_volume(tx: pd.DataFrame) -> pd.DataFrame:
    """Transactions, frauds and fraud rate per UTC day."""
    day = tx["timestamp"].dt.floor("D")
    out = tx.groupby(day).agg(transactions=("transaction_id", "size"))
    if "is_fraud" in tx:
        out["frauds"] = tx.groupby(day)["is_fraud"].sum()
        out["fraud_rate"] = out["frauds"] / out["transactions"]
    out.index.name = "day"
    return out


def volume_figure(tx: pd.DataFrame) -> Figure:
    """Volume and fraud rate over time, with fraud counts stacked by type."""
    daily = daily_volume(tx)
    fig, axes = _subplots(2, 1, (10, 6), sharex=True)
    axes[0].plot(daily.index, daily["transactions"], lw=1)
    axes[0].set_ylabel("transactions / day")
    axes[0].set_title("Volume and fraud over time")
    if "is_fraud" in tx:
        fraud = tx[tx["is_fraud"] == 1]
        kind = fraud["fraud_type"].fillna("unknown") if "fraud_type" in fraud else "fraud"
        by_type = fraud.groupby([fraud["timestamp"].dt.floor("D"), kind]).size().unstack(fill_value=0)
        by_type = by_type.reindex(daily.index, fill_value=0)
        axes[1].stackplot(by_type.index, by_type.T.to_numpy(), labels=list(by_type.columns), alpha=0.8)
        axes[1].set_ylabel("frauds / day")
        ax2 = axes[1].twinx()
        (rate,) = ax2.plot(
            daily.index, 100 * daily["fraud_rate"], color="black", lw=0.8, label="fraud rate, % (right axis)"
        )
        ax2.set_ylabel("fraud rate, %")
        # the legend goes below the plot: inside it would hide peaks (the January rings)
        handles, labels = axes[1].get_legend_handles_labels()
        axes[1].legend(
            handles + [rate],
            labels + [rate.get_label()],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            fontsize=8,
            ncols=4,
            frameon=False,
        )
    return fig


def _money_ticks(ax: Axes, lo: float, hi: float) -> None:
    """Log-scale amount axis with ticks in the currency (1, 10, 100, ... CNY), not log10."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.set_ylim(max(lo * 0.8, 1e-2), hi * 1.25)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))


def amount_figure(tx: pd.DataFrame, currency: str | None = None) -> Figure:
    """Amount distributions (log axis, currency ticks) for legitimate payments and each
    fraud type; ``currency`` defaults to the data's ``currency`` column when it has one."""
    fig, ax = _subplots(1, 1, (9, 4))
    groups = {"legitimate": tx.loc[tx.get("is_fraud", pd.Series(0, index=tx.index)) == 0, "amount"]}
    if "is_fraud" in tx:
        fraud = tx[tx["is_fraud"] == 1]
        kind = (
            fraud["fraud_type"].fillna("unknown")
            if "fraud_type" in fraud
            else pd.Series("fraud", index=fraud.index)
        )
        for name, g in fraud.groupby(kind):
            groups[str(name)] = g["amount"]
    values = [g.to_numpy() for g in groups.values()]
    ax.boxplot(values, tick_labels=list(groups), showfliers=False)
    shown = np.concatenate([np.quantile(v, [0.0, 1.0]) for v in values if len(v)])
    _money_ticks(ax, float(shown.min()), float(shown.max()))
    if currency is None and "currency" in tx and tx["currency"].notna().any():
        currency = str(tx["currency"].mode().iloc[0])
    ax.set_ylabel(f"amount ({currency})" if currency else "amount")
    ax.set_title("Amounts by class and fraud type (boxes: quartiles, whiskers: 1.5 IQR)")
    ax.tick_params(axis="x", rotation=20)
    return fig


def activity_figure(tx: pd.DataFrame) -> Figure:
    """How active customers and merchants are (payments per entity, log-log histograms)."""
    fig, axes = _subplots(1, 2, (10, 3.8))
    for ax, col, name in ((axes[0], "customer_id", "customer"), (axes[1], "merchant_id", "merchant")):
        counts = tx[col].value_counts().to_numpy()
        bins = np.logspace(0, np.log10(max(counts.max(), 2)), 40)
        ax.hist(counts, bins=bins)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"payments per {name}")
        ax.set_ylabel(f"{name}s (log scale)")
        ax.set_title(f"{len(counts):,} {name}s")
    return fig


def delay_figure(tx: pd.DataFrame) -> Figure | None:
    """Label delay and user-report delay of frauds, in days (None without label times).

    The longest delay is marked: simulated chargebacks, like real ones, have a deadline
    (``simulate.labels.delay_days_max``), so delays pile up there.
    """
    if "label_time" not in tx or "is_fraud" not in tx:
        return None
    fraud = tx[tx["is_fraud"] == 1]
    fig, ax = _subplots(1, 1, (9, 3.8))
    label = (fraud["label_time"] - fraud["timestamp"]).dt.total_seconds() / 86400
    ax.hist(label.dropna(), bins=60, alpha=0.7, label=f"label delay (never labelled: {label.isna().sum():,})")
    if "report_time" in fraud:
        report = (fraud["report_time"] - fraud["timestamp"]).dt.total_seconds() / 86400
        n = int(report.notna().sum())
        ax.hist(report.dropna(), bins=60, alpha=0.7, label=f"user report delay ({n:,} reports)")
    if label.notna().any():
        longest = float(label.max())
        at_max = int((label >= longest - 0.5).sum())
        ax.axvline(longest, color="grey", ls="--", lw=0.8)
        ax.annotate(
            f"{at_max:,} labels arrive in the last half day before the\n"
            f"{longest:.0f}-day deadline (chargeback window)",
            (longest, 0.95),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            fontsize=8,
        )
    ax.set_xlabel("days after the payment")
    ax.set_ylabel("frauds")
    ax.set_title("When fraud becomes known")
    ax.legend(loc="center right")
    return fig


def feature_figure(features: pd.DataFrame, is_fraud: pd.Series | np.ndarray, columns: list[str]) -> Figure:
    """Distributions of some features by class (log1p of non-negative values).

    Raises
    ------
    KeyError
        A column is not in ``features`` (no silent filtering: a renamed feature must fail).
    """
    unknown = [c for c in columns if c not in features.columns]
    if unknown:
        raise KeyError(
            f"no feature named {', '.join(unknown)}; the table has "
            f"{', '.join(map(str, features.columns[:8]))}, ..."
        )
    n = len(columns)
    ncols = 3
    nrows = int(np.ceil(n / ncols))
    fig, axes = _subplots(nrows, ncols, (11, 2.8 * nrows), squeeze=False)
    y = np.asarray(is_fraud)
    for ax, col in zip(axes.flat, columns, strict=False):
        values = features[col].to_numpy(dtype=float)
        if np.nanmin(values) >= 0:
            values = np.log1p(values)
            ax.set_xlabel(f"log1p({col})")
        else:
            ax.set_xlabel(col)
        for cls, name in ((0, "legitimate"), (1, "fraud")):
            v = values[(y == cls) & np.isfinite(values)]
            if len(v):
                ax.hist(v, bins=40, density=True, alpha=0.55, label=name)
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("Feature distributions by class")
    return fig


def feature_table(columns: list[str], language: str = "en") -> Any:
    """The meaning of each feature, in full (a Styler: no "..." cut at pandas' column width)."""
    from okml.features import describe

    frame = pd.DataFrame({"feature": columns, "meaning": [describe(c, language=language) for c in columns]})
    return (
        frame.style.hide(axis="index")
        .set_properties(**{"text-align": "left", "white-space": "normal"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    )
