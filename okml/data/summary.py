"""A one-screen summary of validated transactions (``okml validate``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from okml.schema import summarize


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def format_validation_summary(df: pd.DataFrame, source: Any) -> str:
    """The text :func:`print_validation_summary` prints (one screen)."""
    s = summarize(df)
    lines = [f"{source}: valid canonical transactions", f"  rows               {s['rows']:,}"]
    if s["rows"]:
        days = (s["end"] - s["start"]).total_seconds() / 86400
        fmt = "%Y-%m-%d %H:%M"
        lines.append(f"  time range (UTC)   {s['start']:{fmt}} to {s['end']:{fmt}} ({days:.1f} days)")
    lines.append(f"  customers          {s['customers']:,}")
    lines.append(f"  merchants          {s['merchants']:,}")
    if "fraud_rate" not in s:
        lines.append("  labels             none (no is_fraud column)")
        return "\n".join(lines)
    lines.append(f"  fraud              {s['frauds']:,} rows ({_pct(s['fraud_rate'])})")
    for kind, n in sorted(s.get("by_type", {}).items(), key=lambda kv: (-kv[1], str(kv[0]))):
        lines.append(f"    {str(kind):<28} {n:>8,} ({_pct(n / s['rows'])} of rows)")
    q = s.get("label_delay_days")
    if q is not None and s["frauds"]:
        if all(pd.isna(v) for v in q.values()):
            lines.append("  label delay        no fraud has a label_time")
        else:
            lines.append(f"  label delay (days) p10 {q[0.1]:g}, median {q[0.5]:g}, p90 {q[0.9]:g} (frauds)")
        lines.append(f"  never labelled     {s['never_labelled']:,} of {s['frauds']:,} frauds")
    if "reported_share" in s and s["frauds"]:
        lines.append(f"  reported by users  {_pct(s['reported_share'])} of frauds")
    return "\n".join(lines)


def print_validation_summary(df: pd.DataFrame, source: Any) -> None:
    """Print a one-screen summary of canonical transactions.

    Rows, time range, customers, merchants, fraud rate overall and by type, label-delay
    quantiles, frauds never labelled and the share reported by users; built on
    :func:`okml.schema.summarize`.
    """
    print(format_validation_summary(df, source))
