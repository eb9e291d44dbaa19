"""Label events from outside the transactions: chargebacks, user reports, reviewers' decisions.

A **label event** says that a payment is fraud (``is_fraud = 1``) or legitimate (0), who said
so (``source``: ``chargeback``, ``user_report`` or ``review``) and when (``time``). A file of
them names each payment by ``transaction_id``, or a customer and a time range
(``customer_id``, ``from``, ``to``: every payment of that customer with ``from <= timestamp <
to``), e.g. a user reporting "everything on my card since Tuesday".

``okml labels import FILE`` checks a file (:func:`read_label_events`, one-line errors naming
file, column and rows) against the transactions and stores it under ``data.labels_dir``
(:func:`store_label_events`); :func:`okml.data.load` then merges every stored file into the
transactions it loads (:func:`merge_labels`):

* a payment's verdict is its **strongest source's** latest word: chargeback (and the
  transactions' own labels, source ``data``) over review over user report, so a reviewer's
  *legitimate* on a payment that a chargeback later marks as fraud gives fraud, and the
  conflict is listed (:attr:`Merged.conflicts`);
* a fraud becomes known (``label_time``) at the **earliest** event that says fraud, whoever
  said it; ``label_source`` keeps who that was. A payment that ends legitimate has no
  ``label_time`` (features never count it as a known fraud);
* features read ``label_time`` as always (a label is known strictly after it), so a user
  report changes the features of the customer's *later* payments only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from okml.errors import DataError
from okml.schema import normalize_ids, parse_utc

log = logging.getLogger(__name__)

#: Where label events may come from, strongest first (``data``: the transactions' own labels).
SOURCES = ("chargeback", "review", "user_report")
_STRENGTH = {"data": 3, "chargeback": 3, "review": 2, "user_report": 1}
#: Columns of a normalized label-event table.
EVENT_COLUMNS = ["transaction_id", "is_fraud", "source", "time"]


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError("no such file", file=path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as e:
        raise DataError(f"cannot be read: {str(e).splitlines()[0]}", file=path) from None
    raise DataError(f"unsupported file type {suffix or '(none)'}: use .parquet or .csv", file=path)


def read_label_events(path: str | os.PathLike[str], transactions: pd.DataFrame) -> pd.DataFrame:
    """The label events of a file, one row per payment they name, checked against
    ``transactions`` (canonical, with ``transaction_id``, ``customer_id``, ``timestamp``).

    Returns a frame of :data:`EVENT_COLUMNS` (``time`` UTC, ``is_fraud`` int8).

    Raises
    ------
    DataError
        A missing column, a bad ``is_fraud`` / ``source`` / time, an unknown transaction id,
        a customer range that holds no payment, or an event before the payment it labels;
        one line naming the file, column and rows (rows counted from 0 after the header).
    """
    file = Path(path)
    raw = _read(file).reset_index(drop=True)
    by_id = "transaction_id" in raw.columns
    need = ["is_fraud", "source", "time"] + (["transaction_id"] if by_id else ["customer_id", "from", "to"])
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(
            f"missing column {missing[0]} (a label file needs transaction_id, or customer_id "
            "with from and to; and is_fraud, source, time)",
            file=file,
            column=missing[0],
        )
    if raw.empty:
        raise DataError("no label events", file=file)
    for col in need:
        blank = raw[col].isna() | (raw[col].astype(str).str.strip() == "")
        if blank.any():
            raise DataError("empty values", file=file, column=col, rows=raw.index[blank])
    verdict = pd.to_numeric(raw["is_fraud"].astype(str).str.strip(), errors="coerce")
    bad = ~verdict.isin([0, 1])
    if bad.any():
        raise DataError("is_fraud must be 0 or 1", file=file, column="is_fraud", rows=raw.index[bad])
    source = raw["source"].astype(str).str.strip()
    bad = ~source.isin(SOURCES)
    if bad.any():
        raise DataError(
            f"source must be one of {', '.join(SOURCES)} (got {source[bad].iloc[0]!r})",
            file=file,
            column="source",
            rows=raw.index[bad],
        )
    time = parse_utc(raw["time"], "time", file)
    events = pd.DataFrame(
        {"row": raw.index, "is_fraud": verdict.astype("int8"), "source": source, "time": time}
    )
    tx = transactions[["transaction_id", "customer_id", "timestamp"]]
    if by_id:
        ids = normalize_ids(raw["transaction_id"], "transaction_id", file)
        # matched as text: integers in the data, text in a CSV (or the other way) still meet
        by_text = dict(zip(tx["transaction_id"].astype(str), tx["transaction_id"], strict=True))
        text = ids.astype(str).str.strip()
        bad = ~text.isin(by_text.keys())
        if bad.any():
            raise DataError(
                f"unknown transaction ids (e.g. {ids[bad].iloc[0]!r}): not in the transactions",
                file=file,
                column="transaction_id",
                rows=raw.index[bad],
            )
        events["transaction_id"] = text.map(by_text).to_numpy()
        merged = events.merge(tx, on="transaction_id", how="left")
    else:
        start = parse_utc(raw["from"], "from", file)
        end = parse_utc(raw["to"], "to", file)
        bad = ~(start < end)
        if bad.any():
            raise DataError("from must be before to", file=file, column="from", rows=raw.index[bad])
        customers = normalize_ids(raw["customer_id"], "customer_id", file).astype(str)
        ranges = events.assign(customer=customers.to_numpy(), start=start.to_numpy(), end=end.to_numpy())
        pays = tx.assign(customer=tx["customer_id"].astype(str))
        merged = ranges.merge(pays, on="customer", how="left")
        inside = (merged["timestamp"] >= merged["start"]) & (merged["timestamp"] < merged["end"])
        hit = merged.loc[inside.fillna(False), "row"].unique()
        empty = ~raw.index.isin(hit)
        if empty.any():
            raise DataError(
                "no payment of this customer in [from, to)",
                file=file,
                column="customer_id",
                rows=raw.index[empty],
            )
        merged = merged[inside.fillna(False).to_numpy()]
    early = merged["time"] < merged["timestamp"]
    if early.any():
        raise DataError(
            "time is before the payment it labels (a label cannot precede the payment)",
            file=file,
            column="time",
            rows=merged.loc[early, "row"].unique(),
        )
    return merged[EVENT_COLUMNS].reset_index(drop=True)


def store_label_events(events: pd.DataFrame, folder: str | os.PathLike[str], name: str) -> Path:
    """Write checked events into ``folder`` as ``NAME-SHA12.parquet`` (atomically; the same
    events stored twice are one file). Returns the path."""
    from okml.io import write_parquet

    digest = hashlib.sha256(pd.util.hash_pandas_object(events, index=False).to_numpy().tobytes()).hexdigest()
    path = Path(folder) / f"{Path(name).stem}-{digest[:12]}.parquet"
    if not path.exists():
        write_parquet(events, path)
    return path


def stored_label_events(folder: str | os.PathLike[str]) -> pd.DataFrame | None:
    """Every stored label file of ``folder`` as one frame (None when there is none)."""
    root = Path(folder)
    files = sorted(p for p in root.glob("*.parquet") if not p.name.startswith(".")) if root.is_dir() else []
    if not files:
        return None
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def review_label_events(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The reviewers' decisions (:mod:`okml.review`'s database at ``path``) as label events:
    each case's latest decision on its flagged payments, ``fraud`` -> 1, ``legitimate`` -> 0
    (``more_info`` says nothing), source ``review``, at the decision's time. None when there
    is no database or no decision."""
    file = Path(path)
    if not file.exists():
        return None
    con = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        found = con.execute("SELECT name FROM sqlite_master WHERE name = 'decisions'").fetchone()
        rows = (
            con.execute("SELECT case_id, decision, time, transactions FROM decisions ORDER BY id")
            if found
            else []
        )
        latest = {case_id: (decision, time, txs) for case_id, decision, time, txs in rows}
    finally:
        con.close()
    events = [
        (t, 1 if decision == "fraud" else 0, "review", time)
        for decision, time, txs in latest.values()
        if decision != "more_info"
        for t in json.loads(txs)
    ]
    if not events:
        return None
    out = pd.DataFrame(events, columns=EVENT_COLUMNS)
    out["is_fraud"] = out["is_fraud"].astype("int8")
    out["time"] = pd.to_datetime(out["time"], utc=True, format="ISO8601")
    return out


def label_sources(labels_dir: Path | None, review_db: Path | None) -> pd.DataFrame | None:
    """Every label event okml knows besides the transactions' own labels: the files stored
    under ``labels_dir`` and the decisions in ``review_db`` (None: none at all)."""
    found = [
        e
        for e in (
            stored_label_events(labels_dir) if labels_dir else None,
            review_label_events(review_db) if review_db else None,
        )
        if e is not None
    ]
    return pd.concat(found, ignore_index=True) if found else None


@dataclass(frozen=True)
class Merged:
    """Transactions with label events merged in, and the payments whose sources disagree."""

    transactions: pd.DataFrame
    conflicts: pd.DataFrame  # transaction_id, verdict, by (source: verdict, ...)
    applied: int  # events that named a payment of these transactions


def merge_labels(tx: pd.DataFrame, events: pd.DataFrame) -> Merged:
    """``tx`` with ``is_fraud``, ``label_time`` and ``label_source`` set from its own labels
    and ``events`` (rules in the module docstring). Events of payments not in ``tx`` do not
    apply (they label another data set); ``applied`` counts those that do."""
    out = tx.copy()
    ev = events[events["transaction_id"].isin(out["transaction_id"])]
    own = out.loc[out.get("is_fraud", pd.Series(0, index=out.index)).eq(1), ["transaction_id"]]
    if "label_time" in out:
        own = own.assign(time=out.loc[own.index, "label_time"])
    else:
        own = own.assign(time=pd.NaT)
    own = own.assign(is_fraud=np.int8(1), source="data")
    allev = pd.concat([own[EVENT_COLUMNS], ev[EVENT_COLUMNS]], ignore_index=True)
    if "label_source" not in out:
        out["label_source"] = pd.Series(pd.NA, index=out.index, dtype="string")
    if ev.empty:
        out.loc[own.index, "label_source"] = "data"
        return Merged(out, pd.DataFrame(columns=["transaction_id", "verdict", "by"]), 0)
    allev = allev.assign(strength=allev["source"].map(_STRENGTH))
    # a known time sorts before an unknown one (a fraud of the data never discovered: NaT)
    latest = allev.sort_values(["strength", "time"], na_position="first", kind="stable")
    verdict = latest.groupby("transaction_id", sort=False)["is_fraud"].last()
    fraud = allev[allev["is_fraud"].eq(1)].sort_values("time", na_position="last", kind="stable")
    first = fraud.groupby("transaction_id", sort=False).first()
    ids = out["transaction_id"]
    v = ids.map(verdict)
    labelled = v.notna().to_numpy()
    if "is_fraud" not in out:
        out["is_fraud"] = np.int8(0)
    if "label_time" not in out:
        out["label_time"] = pd.Series(pd.NaT, index=out.index, dtype=pd.DatetimeTZDtype("ns", "UTC"))
    out.loc[labelled, "is_fraud"] = v[labelled].astype("int8").to_numpy()
    is_f = out["is_fraud"].eq(1).to_numpy() & labelled
    out.loc[labelled & ~is_f, "label_time"] = pd.NaT
    out.loc[is_f, "label_time"] = ids[is_f].map(first["time"]).to_numpy()
    out.loc[is_f, "label_source"] = ids[is_f].map(first["source"]).to_numpy()
    both = allev.groupby("transaction_id")["is_fraud"].nunique()
    disputed = allev[allev["transaction_id"].isin(both[both > 1].index)]
    rows = []
    for tid, said in disputed.sort_values("time", na_position="first", kind="stable").groupby(
        "transaction_id", sort=False
    ):
        by = ", ".join(
            f"{s}: {'fraud' if f else 'legitimate'}"
            for s, f in zip(said["source"], said["is_fraud"], strict=True)
        )
        rows.append(
            {"transaction_id": tid, "verdict": "fraud" if verdict[tid] == 1 else "legitimate", "by": by}
        )
    conflicts = pd.DataFrame(rows, columns=["transaction_id", "verdict", "by"])
    if len(conflicts):
        log.warning("labels: %d payments with disagreeing sources (the strongest wins)", len(conflicts))
    return Merged(out, conflicts, len(ev))
