"""A compact text summary of simulated (or any canonical) transactions: of one frame, or added
up file by file over a dataset (:class:`Summary`) without holding all its rows at once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

# what the summary reads of a file
_COLUMNS = (
    *("timestamp", "customer_id", "merchant_id", "amount"),
    *("is_fraud", "fraud_type", "label_time", "reported_by_user"),
)


def _add(a: pd.Series | None, b: pd.Series) -> pd.Series:
    return b if a is None else pd.concat([a, b]).groupby(level=0, sort=False).sum()


@dataclass
class Summary:
    """The counts that :func:`summary_text` prints, added up part by part with :meth:`add`.

    ``len()`` is the number of rows added.
    """

    rows: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    customers: list[pd.Series] = field(default_factory=list)  # distinct values of each part
    merchants: list[pd.Series] = field(default_factory=list)
    per_day: pd.Series | None = None  # payments per day
    labelled_fraud: bool = False  # whether the parts have is_fraud
    fraud_day: pd.Series | None = None  # fraud per day
    kinds: pd.DataFrame | None = None  # per fraud type: count, amount, labelled, reported
    columns: frozenset[str] = frozenset()

    @classmethod
    def of(cls, df: pd.DataFrame) -> Summary:
        """The summary of one frame."""
        s = cls()
        s.add(df)
        return s

    def __len__(self) -> int:
        return self.rows

    def add(self, df: pd.DataFrame) -> None:
        """Add the rows of ``df`` (canonical transactions; the parts share their columns)."""
        if len(df) == 0:
            return
        self.columns = frozenset(df.columns) if self.rows == 0 else self.columns & frozenset(df.columns)
        self.rows += len(df)
        lo, hi = df["timestamp"].min(), df["timestamp"].max()
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)
        self.customers.append(pd.Series(df["customer_id"].unique()))
        self.merchants.append(pd.Series(df["merchant_id"].unique()))
        day = df["timestamp"].dt.floor("D")
        self.per_day = _add(self.per_day, day.value_counts())
        if "is_fraud" not in df:
            return
        self.labelled_fraud = True
        fraud = df["is_fraud"] == 1
        self.fraud_day = _add(self.fraud_day, fraud.groupby(day).sum())
        if not fraud.any():
            return
        f = df[fraud]
        kind = f["fraud_type"].fillna("unknown") if "fraud_type" in f else pd.Series("fraud", f.index)
        kinds = pd.DataFrame({"count": kind.value_counts(), "amount": f["amount"].groupby(kind).sum()})
        if "label_time" in f:
            kinds["labelled"] = f["label_time"].notna().groupby(kind).sum()
        if "reported_by_user" in f:
            kinds["reported"] = f["reported_by_user"].astype(bool).groupby(kind).sum()
        self.kinds = kinds if self.kinds is None else self.kinds.add(kinds, fill_value=0)

    def text(self) -> str:
        """The text of :func:`print_summary`."""
        n = self.rows
        lines = [f"rows        {n:,}"]
        if n == 0 or self.per_day is None:
            return lines[0]
        lines.append(f"time        {self.first} .. {self.last}")
        lines.append(f"customers   {pd.concat(self.customers).nunique():,}")
        lines.append(f"merchants   {pd.concat(self.merchants).nunique():,}")
        per_day = self.per_day
        lo, mid, hi = per_day.min(), int(per_day.median()), per_day.max()
        lines.append(f"per day     {lo:,} / {mid:,} / {hi:,}  (min / median / max)")
        if not self.labelled_fraud or self.fraud_day is None:
            return "\n".join(lines)
        f_day = self.fraud_day.reindex(per_day.index, fill_value=0)
        n_fraud = int(f_day.sum())
        lo, hi = f_day.min(), f_day.max()
        lines.append(f"fraud/day   {lo:,} / {f_day.median():g} / {hi:,}  (fraud rate {n_fraud / n:.3%})")
        if n_fraud == 0 or self.kinds is None:
            return "\n".join(lines)
        k = self.kinds.sort_index()
        table = pd.DataFrame({"count": k["count"], "share_tx": k["count"] / n, "amount": k["amount"]})
        for col in ("labelled", "reported"):
            if col in k:
                table[col] = k[col] / k["count"]
        table.loc["total"] = [
            k["count"].sum(),
            k["count"].sum() / n,
            k["amount"].sum(),
            *(k[col].sum() / k["count"].sum() for col in ("labelled", "reported") if col in k),
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


def summarise(path: str | os.PathLike[str]) -> Summary:
    """The summary of a Parquet file, or of a folder of them (``part-00000.parquet`` ...),
    read one file at a time and only the columns it needs."""
    path = Path(path)
    files = [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
    s = Summary()
    for file in files:
        have = set(pq.read_schema(file).names)
        s.add(pd.read_parquet(file, columns=[c for c in _COLUMNS if c in have]))
    return s


def print_summary(data: pd.DataFrame | Summary | str | os.PathLike[str]) -> None:
    """Print a compact summary of simulated (or any canonical) transactions: a frame, a
    :class:`Summary`, or a Parquet file or folder of them."""
    print(summary_text(data))


def summary_text(data: pd.DataFrame | Summary | str | os.PathLike[str]) -> str:
    """The text of :func:`print_summary`."""
    if isinstance(data, Summary):
        return data.text()
    if isinstance(data, pd.DataFrame):
        return Summary.of(data).text()
    return summarise(data).text()
