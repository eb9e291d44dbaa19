"""A compact text summary of simulated (or any canonical) transactions."""

from __future__ import annotations

import pandas as pd


def print_summary(df: pd.DataFrame) -> None:
    """Print a compact summary of simulated (or any canonical) transactions."""
    print(summary_text(df))


def summary_text(df: pd.DataFrame) -> str:
    """The text of :func:`print_summary`."""
    n = len(df)
    lines = [f"rows        {n:,}"]
    if n == 0:
        return lines[0]
    lines.append(f"time        {df['timestamp'].min()} .. {df['timestamp'].max()}")
    lines.append(f"customers   {df['customer_id'].nunique():,}")
    lines.append(f"merchants   {df['merchant_id'].nunique():,}")
    day = df["timestamp"].dt.floor("D")
    per_day = day.value_counts()
    lines.append(
        f"per day     {per_day.min():,} / {int(per_day.median()):,} / {per_day.max():,}  (min / median / max)"
    )
    if "is_fraud" not in df:
        return "\n".join(lines)
    fraud = df["is_fraud"] == 1
    f_day = fraud.groupby(day).sum().reindex(per_day.index, fill_value=0)
    lines.append(
        f"fraud/day   {f_day.min():,} / {f_day.median():g} / {f_day.max():,}  (fraud rate {fraud.mean():.3%})"
    )
    if not fraud.any():
        return "\n".join(lines)
    f = df[fraud]
    kind = f["fraud_type"].fillna("unknown") if "fraud_type" in f else pd.Series("fraud", f.index)
    table = pd.DataFrame(
        {
            "count": kind.value_counts(),
            "share_tx": kind.value_counts() / n,
            "amount": f["amount"].groupby(kind).sum(),
        }
    )
    if "label_time" in f:
        table["labelled"] = f["label_time"].notna().groupby(kind).mean()
    if "reported_by_user" in f:
        table["reported"] = f["reported_by_user"].astype(bool).groupby(kind).mean()
    table.loc["total"] = [
        table["count"].sum(),
        table["share_tx"].sum(),
        table["amount"].sum(),
        *([f["label_time"].notna().mean()] if "labelled" in table else []),
        *([f["reported_by_user"].mean()] if "reported" in table else []),
    ]
    fmt = {
        "count": "{:,.0f}".format,
        "share_tx": "{:.3%}".format,
        "amount": "{:,.0f}".format,
        "labelled": "{:.0%}".format,
        "reported": "{:.0%}".format,
    }
    lines.append("")
    lines.append(table.to_string(formatters=fmt))
    return "\n".join(lines)
