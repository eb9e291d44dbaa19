"""The canonical transaction schema, enforced with pandera.

Every input enters through :func:`validate` (via :func:`okml.data.load`) and leaves as a
frame with these columns and dtypes; no later step knows about file formats.

========================  ===========================================================
column                    meaning
========================  ===========================================================
transaction_id            unique key (string or integer)
timestamp                 when the payment happened, timezone-aware UTC
customer_id, merchant_id  opaque keys (string or integer); merchant = Handbook terminal
amount                    > 0 and finite
merchant_name, merchant_category, currency, channel (app/web/pos), device_id, region,
account_created_at        optional; features that need them are skipped when absent
is_fraud                  0/1 ground truth (optional: unlabelled data can be scored)
fraud_type                kind of fraud (empty for legitimate payments)
label_time                when the label became known (>= timestamp; empty = never)
reported_by_user, report_time   a victim's own report and when it came
========================  ===========================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from okml.errors import DataError

REQUIRED = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]
OPTIONAL = [
    "merchant_name",
    "merchant_category",
    "currency",
    "channel",
    "device_id",
    "region",
    "account_created_at",
]
LABELS = ["is_fraud", "fraud_type", "label_time", "reported_by_user", "report_time"]
CANONICAL = REQUIRED + OPTIONAL + LABELS
TIME_COLUMNS = ["timestamp", "account_created_at", "label_time", "report_time"]
STRING_COLUMNS = ["merchant_name", "merchant_category", "currency", "channel", "fraud_type"]
KEY_COLUMNS = ["transaction_id", "customer_id", "merchant_id", "device_id", "region"]

_SCHEMA = pa.DataFrameSchema(
    {
        "transaction_id": pa.Column(nullable=False, unique=True),
        "customer_id": pa.Column(nullable=False),
        "merchant_id": pa.Column(nullable=False),
        "amount": pa.Column(
            float,
            checks=[
                pa.Check(lambda s: np.isfinite(s), element_wise=False, error="amount must be finite"),
                pa.Check.gt(0, error="amount must be > 0"),
            ],
            nullable=False,
        ),
        "timestamp": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=False),
        "is_fraud": pa.Column(
            "int8", checks=pa.Check.isin([0, 1], error="is_fraud must be 0 or 1"), required=False
        ),
        "label_time": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=True, required=False),
        "report_time": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=True, required=False),
        "account_created_at": pa.Column(
            pd.DatetimeTZDtype("ns", "UTC"), nullable=True, required=False
        ),
        "reported_by_user": pa.Column(bool, required=False),
    },
    strict=False,
    coerce=False,
)


def _rows(mask: pd.Series | np.ndarray, frame: pd.DataFrame) -> list[Any]:
    idx = np.flatnonzero(np.asarray(mask))[:3]
    return [int(i) for i in idx]


def _to_utc(s: pd.Series, column: str, source: Any, timezone: str | None = None) -> pd.Series:
    """Parse a column into ``datetime64[ns, UTC]``; naive or unparseable values are errors."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.as_unit("ns")
    if pd.api.types.is_datetime64_dtype(s.dtype):
        if timezone is None:
            raise DataError(
                "timestamps are timezone-naive; store them with an offset (e.g. "
                "'2026-01-01T10:00:00Z') or set data.custom.timezone",
                file=source,
                column=column,
                rows=range(min(3, len(s))),
            )
        return s.dt.tz_localize(timezone).dt.tz_convert("UTC").dt.as_unit("ns")
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        raise DataError(
            "numeric timestamps need a unit: set data.custom.timestamp_unit (s, ms, us, ns)",
            file=source,
            column=column,
        )
    text = s.astype("string")
    present = text.notna() & (text.str.strip() != "")
    parsed = pd.to_datetime(text.where(present), errors="coerce", utc=True, format="ISO8601")
    bad = present & parsed.isna()
    if bad.any():
        # fall back to pandas' general parser before calling values unparseable
        parsed2 = pd.to_datetime(text.where(present), errors="coerce", utc=True, format="mixed")
        parsed = parsed.fillna(parsed2) if parsed2 is not None else parsed
        bad = present & parsed.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in text[bad].head(3))
        raise DataError(
            f"unparseable timestamps ({int(bad.sum())} values, e.g. {examples}); "
            "use ISO 8601 with an offset, e.g. 2026-01-01T10:00:00Z",
            file=source,
            column=column,
            rows=_rows(bad, s.to_frame()),
        )
    has_offset = text[present].str.contains(r"(?:Z|[+-]\d\d:?\d\d)\s*$", regex=True)
    if present.any() and not has_offset.all():
        naive = present.copy()
        naive[present] = ~has_offset
        if timezone is None:
            raise DataError(
                "timestamps are timezone-naive; add an offset (e.g. '2026-01-01T10:00:00Z') "
                "or set data.custom.timezone",
                file=source,
                column=column,
                rows=_rows(naive, s.to_frame()),
            )
        local = pd.to_datetime(text.where(naive), errors="coerce", format="mixed")
        local = local.dt.tz_localize(timezone).dt.tz_convert("UTC")
        parsed = parsed.where(~naive, local)
    return parsed.dt.as_unit("ns")


def _normalize(df: pd.DataFrame, source: Any, timezone: str | None) -> pd.DataFrame:
    out = df.copy()
    for col in TIME_COLUMNS:
        if col in out:
            out[col] = _to_utc(out[col], col, source, timezone)
    if "amount" in out:
        if not pd.api.types.is_numeric_dtype(out["amount"].dtype) or pd.api.types.is_bool_dtype(
            out["amount"].dtype
        ):
            num = pd.to_numeric(out["amount"], errors="coerce")
            bad = num.isna() & out["amount"].notna()
            if bad.any():
                raise DataError(
                    f"amount is not numeric (e.g. {out['amount'][bad].iloc[0]!r})",
                    file=source,
                    column="amount",
                    rows=_rows(bad, out),
                )
            out["amount"] = num
        out["amount"] = out["amount"].astype("float64")
    if "is_fraud" in out:
        s = out["is_fraud"]
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("int8")
        num = pd.to_numeric(s, errors="coerce")
        bad = ~num.isin([0, 1])
        if bad.any():
            raise DataError(
                f"labels must be 0 or 1 (found {s[bad].iloc[0]})",
                file=source,
                column="is_fraud",
                rows=_rows(bad, out),
            )
        out["is_fraud"] = num.astype("int8")
    if "reported_by_user" in out:
        s = out["reported_by_user"]
        if not pd.api.types.is_bool_dtype(s.dtype):
            mapped = s.map({True: True, False: False, 1: True, 0: False, "1": True, "0": False,
                            "true": True, "false": False, "True": True, "False": False})
            bad = mapped.isna()
            if bad.any():
                raise DataError("reported_by_user must be true/false", file=source,
                                column="reported_by_user", rows=_rows(bad, out))
            s = mapped
        out["reported_by_user"] = s.astype(bool)
    for col in STRING_COLUMNS:
        if col in out and not isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype("string")
    for col in KEY_COLUMNS:
        if col in out and out[col].dtype == object:
            out[col] = out[col].astype("string")
    return out


def validate(df: pd.DataFrame, source: Any = "<frame>", timezone: str | None = None) -> pd.DataFrame:
    """Check ``df`` against the canonical schema and return a normalized copy.

    Timestamps become ``datetime64[ns, UTC]``, ``amount`` float64, ``is_fraud`` int8,
    string-like ids pandas ``string``; rows keep their order. Columns outside the schema are
    kept (they are ignored downstream).

    Raises
    ------
    DataError
        One line naming ``source``, the column, up to three example rows (0-based positions)
        and why.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, df.columns[:12]))}",
            file=source,
            column=missing[0],
        )
    out = _normalize(df, source, timezone)
    for col in ("transaction_id", "customer_id", "merchant_id"):
        bad = out[col].isna()
        if bad.any():
            raise DataError("empty values in a key column", file=source, column=col,
                            rows=_rows(bad, out))
    dup = out["transaction_id"].duplicated(keep=False)
    if dup.any():
        first = out["transaction_id"][dup].iloc[0]
        raise DataError(
            f"duplicate transaction_id (e.g. {first!r}, {int(dup.sum())} rows involved)",
            file=source,
            column="transaction_id",
            rows=_rows(dup, out),
        )
    amt = out["amount"].to_numpy()
    bad = ~np.isfinite(amt)
    if bad.any():
        raise DataError("amount is NaN or infinite", file=source, column="amount",
                        rows=_rows(bad, out))
    bad = amt <= 0
    if bad.any():
        raise DataError(f"amount must be > 0 (found {amt[bad][0]:g})", file=source,
                        column="amount", rows=_rows(bad, out))
    if "label_time" in out:
        bad = (out["label_time"] < out["timestamp"]).fillna(False).to_numpy()
        if bad.any():
            raise DataError("label_time is before timestamp (labels cannot precede the payment)",
                            file=source, column="label_time", rows=_rows(bad, out))
    if "report_time" in out:
        bad = (out["report_time"] < out["timestamp"]).fillna(False).to_numpy()
        if bad.any():
            raise DataError("report_time is before timestamp", file=source,
                            column="report_time", rows=_rows(bad, out))
    try:
        _SCHEMA.validate(out, lazy=True)
    except SchemaErrors as e:  # a last net: any rule above that pandera sees first
        fc = e.failure_cases
        row = fc.iloc[0]
        rows = [int(i) for i in fc["index"].dropna().head(3)] if "index" in fc else []
        raise DataError(f"{row['check']} (value {row['failure_case']!r})", file=source,
                        column=str(row.get("column")), rows=rows) from None
    return out


def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """Facts for a one-screen summary of canonical transactions."""
    s: dict[str, Any] = {
        "rows": len(df),
        "start": df["timestamp"].min(),
        "end": df["timestamp"].max(),
        "customers": int(df["customer_id"].nunique()),
        "merchants": int(df["merchant_id"].nunique()),
    }
    if "is_fraud" in df and len(df):
        s["fraud_rate"] = float(df["is_fraud"].mean())
        s["frauds"] = int(df["is_fraud"].sum())
        if "fraud_type" in df:
            f = df[df["is_fraud"] == 1]
            s["by_type"] = f["fraud_type"].fillna("unknown").value_counts().to_dict()
        if "label_time" in df:
            f = df[df["is_fraud"] == 1]
            delay = (f["label_time"] - f["timestamp"]).dt.total_seconds() / 86400
            s["label_delay_days"] = delay.quantile([0.1, 0.5, 0.9]).round(2).to_dict()
            s["never_labelled"] = int(delay.isna().sum())
    return s
