"""The canonical transaction schema, enforced with pandera.

Every input enters through :func:`validate` (via :func:`okml.data.load`) and leaves as a
frame with these columns and dtypes; no later step knows about file formats.

========================  ===========================================================
column                    meaning
========================  ===========================================================
transaction_id            unique key (string or integer)
timestamp                 when the payment happened, timezone-aware UTC
customer_id, merchant_id  opaque keys (string or integer); merchant = Handbook terminal
amount                    finite, within data.amount_min (0.01) .. data.amount_max (1e9)
merchant_name, merchant_category, currency, channel (app/web/pos), device_id, region,
account_created_at        optional; features that need them are skipped when absent
is_fraud                  0/1 ground truth (optional: unlabelled data can be scored)
fraud_type                kind of fraud (empty for legitimate payments)
label_time                when the label became known (>= timestamp; empty = never)
reported_by_user, report_time   a victim's own report and when it came
actor_id                  optional ground truth: who is behind a fraud (``ring-3``,
                          ``merchant-M00218``, ``ato-C048213-1``; empty for legitimate
                          payments), so that detection of groups can be measured; no
                          feature reads it
========================  ===========================================================
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from okml.errors import ConfigError, DataError

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
LABELS = ["is_fraud", "fraud_type", "label_time", "reported_by_user", "report_time", "actor_id"]
CANONICAL = REQUIRED + OPTIONAL + LABELS
TIME_COLUMNS = ["timestamp", "account_created_at", "label_time", "report_time"]
STRING_COLUMNS = ["merchant_name", "merchant_category", "currency", "channel", "fraud_type", "actor_id"]
KEY_COLUMNS = ["transaction_id", "customer_id", "merchant_id", "device_id", "region"]


@functools.cache
def _pandera_schema() -> Any:
    """The pandera schema, the last net of :func:`validate` (built on first use: pandera
    takes most of a second to import)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
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
            "account_created_at": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=True, required=False),
            "reported_by_user": pa.Column(bool, required=False),
        },
        strict=False,
        coerce=False,
    )


def _rows(mask: pd.Series | np.ndarray, frame: pd.DataFrame | None = None) -> list[int]:
    """First three 0-based positions where ``mask`` is true."""
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))[:3]
    return [int(i) for i in idx]


def _show(value: Any) -> str:
    """A value for a message: ``1.5`` rather than ``np.float64(1.5)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


# An explicit offset or zone name at the end of a timestamp string; anything else is naive.
_OFFSET = r"(?i)(?:Z|UTC|GMT|[+-]\d\d:?\d\d)\s*$"
_NAIVE_HINT = (
    "add an offset to every value (e.g. '2026-01-01T10:00:00Z' or '+08:00'), or load with "
    "--preset custom and set data.custom.timezone"
)


def _check_timezone(timezone: str | None) -> None:
    if timezone is None:
        return
    try:
        pd.Timestamp("2026-01-01").tz_localize(timezone)
    except Exception:  # zoneinfo, pytz and dateutil each raise their own error
        raise ConfigError(
            f"data.custom.timezone: unknown timezone {timezone!r}; use an IANA name such as "
            "'Asia/Shanghai' or 'UTC'"
        ) from None


def _localize(naive: pd.Series, column: str, source: Any, timezone: str) -> pd.Series:
    """Naive local datetimes -> UTC; times skipped or repeated by a DST change are errors."""
    # Guessing the side of a daylight-saving change would silently move payments by an hour.
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    bad = naive.notna() & local.isna()
    if bad.any():
        raise DataError(
            f"local times that do not exist or are ambiguous in {timezone} because of a "
            f"daylight-saving change (e.g. '{naive[bad].iloc[0]}'); store these values with an "
            "offset",
            file=source,
            column=column,
            rows=_rows(bad),
        )
    return local.dt.tz_convert("UTC")


def _as_ns(s: pd.Series, column: str, source: Any) -> pd.Series:
    """Nanosecond resolution, which pandas and the features use, or an error for far dates."""
    try:
        return s.dt.as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        bad = ((s < lo) | (s > hi)).fillna(False)
        raise DataError(
            "timestamps outside the years 1678-2261 that pandas can hold "
            f"(e.g. '{s[bad].iloc[0] if bad.any() else s.max()}')",
            file=source,
            column=column,
            rows=_rows(bad),
        ) from None


def _to_utc(s: pd.Series, column: str, source: Any, timezone: str | None = None) -> pd.Series:
    """Parse a column into ``datetime64[ns, UTC]``; naive or unparseable values are errors."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return _as_ns(s.dt.tz_convert("UTC"), column, source)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        if timezone is None and s.notna().any():
            raise DataError(
                f"timestamps are timezone-naive (e.g. '{s.dropna().iloc[0]}'); {_NAIVE_HINT}",
                file=source,
                column=column,
                rows=_rows(s.notna()),
            )
        return _as_ns(_localize(s, column, source, timezone or "UTC"), column, source)
    if s.isna().all():
        # an all-empty optional column (e.g. label_time of unlabelled data): nothing to parse
        return pd.Series(pd.NaT, index=s.index, dtype=pd.DatetimeTZDtype("ns", "UTC"), name=s.name)
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise DataError(
            f"numeric timestamps (e.g. {_show(s.dropna().iloc[0])}) need a unit: load with "
            "--preset custom and set data.custom.timestamp_unit (s, ms, us or ns)",
            file=source,
            column=column,
            rows=_rows(s.notna()),
        )
    text = s.astype("string")
    present = (text.notna() & (text.str.strip() != "")).fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(present), errors="coerce", utc=True, format="ISO8601")
    bad = present & parsed.isna()
    if bad.any():
        # fall back to pandas' general parser before calling values unparseable
        parsed2 = pd.to_datetime(text.where(present), errors="coerce", utc=True, format="mixed")
        parsed = parsed.fillna(parsed2)
        bad = present & parsed.isna()
    if bad.any():
        examples = ", ".join(repr(str(v)) for v in text[bad].head(3))
        raise DataError(
            f"unparseable timestamps ({int(bad.sum())} values, e.g. {examples}); "
            "use ISO 8601 with an offset, e.g. 2026-01-01T10:00:00Z",
            file=source,
            column=column,
            rows=_rows(bad),
        )
    has_offset = text.str.contains(_OFFSET, regex=True).fillna(False).astype(bool)
    naive = present & ~has_offset
    if naive.any():
        if timezone is None:
            raise DataError(
                f"timestamps are timezone-naive (e.g. '{text[naive].iloc[0]}'); {_NAIVE_HINT}",
                file=source,
                column=column,
                rows=_rows(naive),
            )
        wall = pd.to_datetime(text.where(naive), errors="coerce", format="mixed")
        local = _localize(wall, column, source, timezone)
        parsed = parsed.where(~naive, local)
    return _as_ns(parsed, column, source)


def parse_utc(s: pd.Series, column: str, source: Any, timezone: str | None = None) -> pd.Series:
    """A column of times parsed as the canonical schema parses them (``datetime64[ns, UTC]``;
    naive times need ``timezone``); :class:`DataError` naming ``source``, column and rows."""
    return _to_utc(s, column, source, timezone)


def normalize_ids(s: pd.Series, column: str, source: Any) -> pd.Series:
    """Ids as the canonical schema keeps them (pandas ``string`` or integers)."""
    return _normalize_key(s, column, source)


def _normalize_key(s: pd.Series, column: str, source: Any) -> pd.Series:
    """Ids as pandas ``string`` or integers; floats only when every value is a whole number."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return s
    if (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
    ):
        raise DataError(
            f"ids must be strings or integers, not {dtype}",
            file=source,
            column=column,
            rows=range(min(3, len(s))),
        )
    if pd.api.types.is_float_dtype(dtype):
        fractional = (s.notna() & (s % 1 != 0)).to_numpy(dtype=bool)
        if fractional.any():
            raise DataError(
                f"ids must be strings or integers (found {_show(s[fractional].iloc[0])})",
                file=source,
                column=column,
                rows=_rows(fractional),
            )
        # whole-number floats are what CSV readers make of integer ids with gaps
        return s.astype("Int64" if s.isna().any() else "int64")
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        # one string dtype (pyarrow-backed, <NA> for missing) whatever the reader produced
        return s.astype("string")
    return s


def _normalize(df: pd.DataFrame, source: Any, timezone: str | None) -> pd.DataFrame:
    out = df.copy()
    for col in TIME_COLUMNS:
        if col in out:
            out[col] = _to_utc(out[col], col, source, timezone)
    if "amount" in out:
        s = out["amount"]
        if pd.api.types.is_bool_dtype(s.dtype):
            raise DataError(
                "amount must be a number, not true/false",
                file=source,
                column="amount",
                rows=range(min(3, len(s))),
            )
        if not pd.api.types.is_numeric_dtype(s.dtype):
            num = pd.to_numeric(s, errors="coerce")
            bad = (num.isna() & s.notna()).to_numpy(dtype=bool)
            if bad.any():
                raise DataError(
                    f"amount is not numeric (e.g. {str(s[bad].iloc[0])!r})",
                    file=source,
                    column="amount",
                    rows=_rows(bad),
                )
            s = num
        out["amount"] = s.astype("float64")
    if "is_fraud" in out:
        s = out["is_fraud"]
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("int8")
        num = pd.to_numeric(s, errors="coerce")
        bad = (~num.isin([0, 1])).to_numpy(dtype=bool)
        if bad.any():
            found = s[bad].iloc[0]
            hint = "; leave the column out for unlabelled data" if pd.isna(found) else ""
            raise DataError(
                f"labels must be 0 or 1 (found {str(found)!r}){hint}",
                file=source,
                column="is_fraud",
                rows=_rows(bad, out),
            )
        out["is_fraud"] = num.astype("int8")
    if "reported_by_user" in out:
        s = out["reported_by_user"]
        if not pd.api.types.is_bool_dtype(s.dtype):
            # True/False keys also match 1/0 and 1.0/0.0 (equal hashes)
            mapped = s.map(
                {
                    True: True,
                    False: False,
                    "1": True,
                    "0": False,
                    "true": True,
                    "false": False,
                    "True": True,
                    "False": False,
                }
            )
            bad = mapped.isna()
            if bad.any():
                raise DataError(
                    "reported_by_user must be true/false",
                    file=source,
                    column="reported_by_user",
                    rows=_rows(bad, out),
                )
            s = mapped
        out["reported_by_user"] = s.astype(bool)
    for col in STRING_COLUMNS:
        if col in out and not isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype("string")
    for col in KEY_COLUMNS:
        if col in out:
            out[col] = _normalize_key(out[col], col, source)
    return out


def _check_blank_keys(out: pd.DataFrame, source: Any) -> None:
    """Ids that are empty or only spaces, whatever the format they came from (CSV readers turn
    an empty cell into a missing value; Parquet keeps ``''``)."""
    for col in KEY_COLUMNS:
        if col not in out:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("string")
        if not pd.api.types.is_string_dtype(s.dtype):
            continue
        bad = (s.str.strip() == "").fillna(False).to_numpy(dtype=bool)
        if bad.any():
            hint = "" if col in REQUIRED else "; leave the value missing (null) where it is unknown"
            raise DataError(
                f"empty or blank ids ({_show(str(s[bad].iloc[0]))}){hint}",
                file=source,
                column=col,
                rows=_rows(bad),
            )


def validate(
    df: pd.DataFrame,
    source: Any = "<frame>",
    timezone: str | None = None,
    *,
    amount_min: float | None = None,
    amount_max: float | None = None,
) -> pd.DataFrame:
    """Check ``df`` against the canonical schema and return a normalized copy.

    Amounts must lie in ``[amount_min, amount_max]`` (default: those of
    :class:`okml.config.DataParams`, ``data.amount_min`` and ``data.amount_max``); ids may not be
    empty or blank in any key column. A frame with no rows is valid here (files with no rows are
    refused by :func:`okml.data.load`).
    Timestamps become ``datetime64[ns, UTC]``, ``amount`` float64, ``is_fraud`` int8,
    string-like ids pandas ``string`` (whole-number float ids become integers), and naive
    timestamps are read in ``timezone`` (``None`` rejects them); rows keep their order.
    Columns outside the schema are kept (they are ignored downstream).

    Raises
    ------
    DataError
        One line naming ``source``, the column, up to three example rows (0-based positions)
        and why.
    ConfigError
        ``timezone`` is not a known IANA timezone.
    """
    _check_timezone(timezone)
    if amount_min is None or amount_max is None:
        from okml.config import DataParams

        defaults = DataParams()
        amount_min = defaults.amount_min if amount_min is None else amount_min
        amount_max = defaults.amount_max if amount_max is None else amount_max
    dup_cols = df.columns[df.columns.duplicated()]
    if len(dup_cols):
        raise DataError(
            "the column is given twice; rename or remove one", file=source, column=str(dup_cols[0])
        )
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns[:12]))}",
            file=source,
            column=missing[0],
        )
    out = _normalize(df, source, timezone)
    _check_blank_keys(out, source)
    for col in ("transaction_id", "customer_id", "merchant_id"):
        bad = out[col].isna()
        if bad.any():
            raise DataError("empty values in a key column", file=source, column=col, rows=_rows(bad, out))
    bad = out["timestamp"].isna()
    if bad.any():
        raise DataError(
            "empty timestamps; every payment needs its time", file=source, column="timestamp", rows=_rows(bad)
        )
    dup = out["transaction_id"].duplicated(keep=False)
    if dup.any():
        first = out["transaction_id"][dup].iloc[0]
        raise DataError(
            f"duplicate transaction_id (e.g. {_show(first)}, {int(dup.sum())} rows involved)",
            file=source,
            column="transaction_id",
            rows=_rows(dup, out),
        )
    amt = out["amount"].to_numpy()
    bad = ~np.isfinite(amt)
    if bad.any():
        raise DataError("amount is NaN or infinite", file=source, column="amount", rows=_rows(bad, out))
    bad = amt <= 0
    if bad.any():
        raise DataError(
            f"amount must be > 0 (found {amt[bad][0]:g})", file=source, column="amount", rows=_rows(bad, out)
        )
    bad = amt < amount_min
    if bad.any():
        raise DataError(
            f"amount {amt[bad][0]:g} is below data.amount_min ({amount_min:g}); "
            "lower data.amount_min if such payments are real",
            file=source,
            column="amount",
            rows=_rows(bad, out),
        )
    bad = amt > amount_max
    if bad.any():
        raise DataError(
            f"amount {amt[bad][0]:g} is above data.amount_max ({amount_max:g}); raise "
            "data.amount_max if such payments are real",
            file=source,
            column="amount",
            rows=_rows(bad, out),
        )
    if "label_time" in out:
        bad = (out["label_time"] < out["timestamp"]).fillna(False).to_numpy()
        if bad.any():
            raise DataError(
                "label_time is before timestamp (labels cannot precede the payment)",
                file=source,
                column="label_time",
                rows=_rows(bad, out),
            )
    if "report_time" in out:
        bad = (out["report_time"] < out["timestamp"]).fillna(False).to_numpy()
        if bad.any():
            raise DataError(
                "report_time is before timestamp", file=source, column="report_time", rows=_rows(bad, out)
            )
    from pandera.errors import SchemaErrors

    try:
        _pandera_schema().validate(out, lazy=True)
    except SchemaErrors as e:  # a last net: any rule above that pandera sees first
        fc = e.failure_cases
        row = fc.iloc[0]
        rows = [int(i) for i in fc["index"].dropna().head(3)] if "index" in fc else []
        raise DataError(
            f"{row['check']} (value {row['failure_case']!r})",
            file=source,
            column=str(row.get("column")),
            rows=rows,
        ) from None
    return out


def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """Facts for a one-screen summary of canonical (validated) transactions.

    Keys: ``rows``, ``start``, ``end``, ``customers``, ``merchants``; with labels also
    ``fraud_rate``, ``frauds``, ``by_type`` (fraud rows per type), ``label_delay_days``
    (10/50/90% quantiles of label delay among frauds), ``never_labelled`` (frauds without a
    ``label_time``) and ``reported_share`` (share of frauds reported by the victim).
    """
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
        if "reported_by_user" in df:
            f = df[df["is_fraud"] == 1]
            s["reported_share"] = float(f["reported_by_user"].mean()) if len(f) else float("nan")
    return s
