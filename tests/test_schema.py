"""The canonical schema: every rule rejects bad input with a one-line message naming the
file, the column and example rows; good input is normalized without touching the caller's
frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okml.errors import ConfigError, DataError
from okml.schema import CANONICAL, LABELS, OPTIONAL, REQUIRED, summarize, validate

SRC = "bank.csv"
UTC = pd.DatetimeTZDtype("ns", "UTC")


def frame(**columns: object) -> pd.DataFrame:
    """Three valid transactions; keyword arguments replace or add columns."""
    data: dict[str, object] = {
        "transaction_id": [1, 2, 3],
        "timestamp": ["2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"],
        "customer_id": ["c1", "c2", "c1"],
        "merchant_id": ["m1", "m1", "m2"],
        "amount": [10.0, 20.0, 30.0],
    }
    data.update(columns)
    return pd.DataFrame(data)


def utc(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype(UTC)


def rejects(df: pd.DataFrame, column: str, rows: list[int], *words: str, **kw: object) -> str:
    """Assert that validate fails naming the file, column and rows; return the message."""
    with pytest.raises(DataError) as info:
        validate(df, source=SRC, **kw)
    e = info.value
    msg = str(e)
    assert (e.file, e.column, e.rows) == (SRC, column, rows)
    prefix = f"{SRC}, column '{column}'" + (f", rows {', '.join(map(str, rows))}" if rows else "")
    assert msg.startswith(prefix + ": "), msg
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    return msg


# ------------------------------------------------------------------ column lists
def test_column_lists_partition_the_schema() -> None:
    assert CANONICAL == REQUIRED + OPTIONAL + LABELS
    assert len(set(CANONICAL)) == len(CANONICAL)
    assert REQUIRED == ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]


# --------------------------------------------------------------- missing columns
@pytest.mark.parametrize("column", REQUIRED)
def test_missing_required_column(column: str) -> None:
    msg = rejects(frame().drop(columns=[column]), column, [], "missing required column")
    assert "found transaction_id" in msg or "found timestamp" in msg


# ------------------------------------------------------------------- wrong dtypes
def test_amount_not_numeric() -> None:
    rejects(frame(amount=["10", "ten", "30"]), "amount", [1], "not numeric", "'ten'")


def test_amount_boolean() -> None:
    rejects(frame(amount=[True, True, False]), "amount", [0, 1, 2], "not true/false")


def test_timestamp_numeric_without_unit() -> None:
    rejects(
        frame(timestamp=[1767261600, 1767265200, 1767268800]),
        "timestamp",
        [0, 1, 2],
        "numeric timestamps",
        "timestamp_unit",
    )


@pytest.mark.parametrize("column", ["transaction_id", "customer_id", "merchant_id"])
def test_fractional_float_ids(column: str) -> None:
    rejects(frame(**{column: [1.0, 2.5, 3.0]}), column, [1], "strings or integers", "2.5")


def test_boolean_ids() -> None:
    rejects(frame(merchant_id=[True, False, True]), "merchant_id", [0, 1, 2], "not bool")


def test_reported_by_user_not_boolean() -> None:
    rejects(frame(reported_by_user=[True, "maybe", False]), "reported_by_user", [1], "true/false")


# --------------------------------------------------------------------- keys
def test_duplicate_transaction_id() -> None:
    rejects(
        frame(transaction_id=[7, 8, 7]),
        "transaction_id",
        [0, 2],
        "duplicate transaction_id",
        "e.g. 7",
        "2 rows",
    )


@pytest.mark.parametrize("column", ["transaction_id", "customer_id", "merchant_id"])
def test_empty_key(column: str) -> None:
    values = {
        "transaction_id": ["a", None, "c"],
        "customer_id": ["c1", None, "c2"],
        "merchant_id": ["m1", None, "m2"],
    }[column]
    rejects(frame(**{column: values}), column, [1], "empty values")


# --------------------------------------------------------------------- amount
@pytest.mark.parametrize(
    ("amounts", "rows", "word"),
    [
        ([10.0, 0.0, -5.0], [1, 2], "> 0 (found 0)"),
        ([-1.0, 2.0, 3.0], [0], "> 0 (found -1)"),
        ([10.0, np.nan, 30.0], [1], "NaN"),
        ([10.0, 20.0, np.inf], [2], "infinite"),
        (pd.array([10, None, 30], dtype="Int64"), [1], "NaN"),
    ],
)
def test_amount_must_be_positive_and_finite(amounts: object, rows: list[int], word: str) -> None:
    rejects(frame(amount=amounts), "amount", rows, word)


# ----------------------------------------------------------------- timestamps
def test_unparseable_timestamps() -> None:
    rejects(
        frame(timestamp=["2026-01-01T10:00:00Z", "yesterday", "2026-13-45T00:00:00Z"]),
        "timestamp",
        [1, 2],
        "unparseable",
        "'yesterday'",
        "ISO 8601",
    )


def test_naive_timestamp_strings() -> None:
    rejects(
        frame(timestamp=["2026-01-01T10:00:00Z", "2026-01-01 11:00", "2026-01-01T12:00Z"]),
        "timestamp",
        [1],
        "timezone-naive",
        "'2026-01-01 11:00'",
        "offset",
        "data.custom.timezone",
    )


def test_naive_datetime64() -> None:
    naive = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-01 12:00"])
    rejects(frame(timestamp=naive), "timestamp", [0, 1, 2], "timezone-naive", "offset")


def test_naive_optional_time_column() -> None:
    rejects(
        frame(account_created_at=[None, "2025-05-01 00:00", None]),
        "account_created_at",
        [1],
        "timezone-naive",
    )


def test_empty_timestamps() -> None:
    rejects(frame(timestamp=["2026-01-01T10:00:00Z", "", None]), "timestamp", [1, 2], "empty")


def test_timestamps_out_of_range() -> None:
    rejects(
        frame(timestamp=["2026-01-01T10:00:00Z", "2500-01-01T00:00:00Z", "2026-01-01T12:00:00Z"]),
        "timestamp",
        [1],
        "1678-2261",
    )


def test_nonexistent_local_time_in_timezone() -> None:
    # 02:30 on 8 March 2026 does not exist in New York (clocks jump from 02:00 to 03:00)
    rejects(
        frame(timestamp=["2026-03-08 01:30", "2026-03-08 02:30", "2026-03-08 03:30"]),
        "timestamp",
        [1],
        "daylight-saving",
        "America/New_York",
        timezone="America/New_York",
    )


def test_ambiguous_local_time_in_timezone() -> None:
    # 01:30 on 1 November 2026 happens twice in New York
    rejects(
        frame(timestamp=["2026-11-01 00:30", "2026-11-01 01:30", "2026-11-01 02:30"]),
        "timestamp",
        [1],
        "ambiguous",
        timezone="America/New_York",
    )


def test_unknown_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        validate(frame(), source=SRC, timezone="Mars/Olympus")


# --------------------------------------------------------------------- labels
@pytest.mark.parametrize(
    ("labels", "rows", "word"),
    [
        ([0, 2, 1], [1], "'2'"),
        ([0, -1, 1], [1], "'-1'"),
        (["0", "1", "yes"], [2], "'yes'"),
        ([0.0, 0.5, 1.0], [1], "'0.5'"),
        ([0, np.nan, 1], [1], "unlabelled"),
    ],
)
def test_labels_outside_0_1(labels: list[object], rows: list[int], word: str) -> None:
    rejects(frame(is_fraud=labels), "is_fraud", rows, "0 or 1", word)


def test_label_time_before_timestamp() -> None:
    rejects(
        frame(label_time=[None, "2026-01-01T10:59:59Z", "2026-01-01T12:00:00Z"]),
        "label_time",
        [1],
        "before timestamp",
    )


def test_report_time_before_timestamp() -> None:
    rejects(frame(report_time=["2026-01-01T09:00:00Z", None, None]), "report_time", [0], "before timestamp")


def test_only_three_example_rows() -> None:
    rejects(
        frame(amount=[-1.0, -2.0, -3.0], transaction_id=[1, 2, 3]).pipe(
            lambda d: pd.concat([d, d.assign(transaction_id=[4, 5, 6])], ignore_index=True)
        ),
        "amount",
        [0, 1, 2],
        "> 0",
    )


# ---------------------------------------------------------------- normalization
def test_normalizes_dtypes_and_converts_offsets_to_utc() -> None:
    df = frame(
        transaction_id=["t1", "t2", "t3"],
        timestamp=["2026-01-01T18:00:00+08:00", "2026-01-01T06:00:00-05:00", "2026-01-01T12:00:00Z"],
        amount=[10, 20, 30],
        is_fraud=[False, True, False],
        fraud_type=[None, "account_takeover", None],
        label_time=[None, "2026-01-03T00:00:00+01:00", None],
        reported_by_user=["false", "true", "0"],
        channel=["app", "web", "pos"],
    )
    out = validate(df, source=SRC)
    expected = pd.DataFrame(
        {
            "transaction_id": pd.array(["t1", "t2", "t3"], dtype="string"),
            "timestamp": utc("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"),
            "customer_id": pd.array(["c1", "c2", "c1"], dtype="string"),
            "merchant_id": pd.array(["m1", "m1", "m2"], dtype="string"),
            "amount": [10.0, 20.0, 30.0],
            "is_fraud": pd.array([0, 1, 0], dtype="int8"),
            "fraud_type": pd.array([None, "account_takeover", None], dtype="string"),
            "label_time": utc(None, "2026-01-02T23:00:00Z", None),
            "reported_by_user": [False, True, False],
            "channel": pd.array(["app", "web", "pos"], dtype="string"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_keeps_row_order_index_and_extra_columns() -> None:
    df = frame(
        timestamp=["2026-01-03T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
        score_from_old_system=[0.1, 0.9, 0.5],
    ).set_axis([30, 10, 20])
    out = validate(df, source=SRC)
    assert list(out.index) == [30, 10, 20]
    assert list(out["transaction_id"]) == [1, 2, 3]
    assert list(out["score_from_old_system"]) == [0.1, 0.9, 0.5]
    assert list(out.columns) == list(df.columns)


def test_does_not_mutate_input() -> None:
    df = frame(
        is_fraud=["0", "1", "0"],
        label_time=[None, "2026-01-02T00:00:00Z", None],
        customer_id=pd.Series(["c1", "c2", "c1"], dtype=object),
    )
    before = df.copy(deep=True)
    dtypes = df.dtypes.copy()
    out = validate(df, source=SRC)
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_series_equal(df.dtypes, dtypes)
    assert out is not df


def test_naive_timestamps_read_in_given_timezone() -> None:
    df = frame(timestamp=["2026-01-01 18:00", "2026-07-01 18:00", "2026-01-01T00:00:00Z"])
    out = validate(df, source=SRC, timezone="Asia/Shanghai")
    pd.testing.assert_series_equal(
        out["timestamp"],
        utc("2026-01-01T10:00:00Z", "2026-07-01T10:00:00Z", "2026-01-01T00:00:00Z"),
        check_names=False,
    )
    naive = frame(timestamp=pd.to_datetime(["2026-01-01 01:00", "2026-07-01 01:00", "2026-12-31 23:00"]))
    out = validate(naive, source=SRC, timezone="Europe/Berlin")
    assert list(out["timestamp"]) == list(
        utc("2026-01-01T00:00:00Z", "2026-06-30T23:00:00Z", "2026-12-31T22:00:00Z")
    )


def test_aware_datetimes_of_any_zone_and_unit_become_utc_ns() -> None:
    ts = (
        pd.Series(pd.to_datetime(["2026-01-01 08:00", "2026-01-01 09:00", "2026-01-01 10:00"]))
        .dt.tz_localize("Asia/Shanghai")
        .dt.as_unit("s")
    )
    out = validate(frame(timestamp=ts), source=SRC)
    assert out["timestamp"].dtype == UTC
    assert list(out["timestamp"]) == list(
        utc("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z")
    )


def test_all_empty_optional_time_column_is_allowed() -> None:
    for empty in ([None, None, None], [np.nan, np.nan, np.nan], [pd.NaT, pd.NaT, pd.NaT]):
        out = validate(frame(label_time=empty), source=SRC)
        assert out["label_time"].dtype == UTC
        assert out["label_time"].isna().all()


def test_ids_normalized() -> None:
    out = validate(
        frame(
            transaction_id=[1.0, 2.0, 3.0],
            customer_id=pd.Series([1, "c2", 3], dtype=object),
            merchant_id=pd.Series(["m1", "m1", "m2"], dtype="str"),
            device_id=[5.0, np.nan, 6.0],
        ),
        source=SRC,
    )
    assert out["transaction_id"].dtype == "int64"
    assert list(out["customer_id"]) == ["1", "c2", "3"]
    assert out["customer_id"].dtype == "string"
    assert out["merchant_id"].dtype == "string"
    assert out["device_id"].dtype == "Int64"
    assert out["device_id"].isna().tolist() == [False, True, False]


def test_empty_frame_is_valid() -> None:
    out = validate(frame().iloc[:0], source=SRC)
    assert len(out) == 0
    assert out["timestamp"].dtype == UTC


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**9),  # seconds after 2020-01-01
            st.floats(0.01, 1e7, allow_nan=False),
            st.sampled_from(["+00:00", "+08:00", "-05:30", "Z"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_validate_is_idempotent_and_keeps_instants(rows: list[tuple[int, float, str]]) -> None:
    base = pd.Timestamp("2020-01-01", tz="UTC")
    instants = [base + pd.Timedelta(seconds=s) for s, _, _ in rows]
    text = [
        (t.tz_convert(pd.Timestamp(f"2020-01-01T00:00:00{z}").tz).strftime("%Y-%m-%dT%H:%M:%S") + z)
        for t, (_, _, z) in zip(instants, rows, strict=True)
    ]
    df = pd.DataFrame(
        {
            "transaction_id": range(len(rows)),
            "timestamp": text,
            "customer_id": "c",
            "merchant_id": "m",
            "amount": [a for _, a, _ in rows],
        }
    )
    once = validate(df, source=SRC)
    assert list(once["timestamp"]) == instants
    assert list(once["amount"]) == [a for _, a, _ in rows]
    pd.testing.assert_frame_equal(validate(once, source=SRC), once)


# ------------------------------------------------------------------- summarize
def test_summarize_counts_by_hand() -> None:
    df = validate(
        frame(
            transaction_id=[1, 2, 3],
            is_fraud=[0, 1, 1],
            fraud_type=[None, "ato", None],
            label_time=[None, "2026-01-03T11:00:00Z", None],
            reported_by_user=[False, True, False],
        ),
        source=SRC,
    )
    s = summarize(df)
    assert s["rows"] == 3
    assert s["start"] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert s["end"] == pd.Timestamp("2026-01-01T12:00:00Z")
    assert (s["customers"], s["merchants"]) == (2, 2)
    assert s["fraud_rate"] == pytest.approx(2 / 3)
    assert s["frauds"] == 2
    assert s["by_type"] == {"ato": 1, "unknown": 1}
    assert s["label_delay_days"] == {0.1: 2.0, 0.5: 2.0, 0.9: 2.0}
    assert s["never_labelled"] == 1
    assert s["reported_share"] == 0.5


# ------------------------------------------------------- hardening (issue 10, items 1, 3, 7)
@pytest.mark.parametrize(
    ("amounts", "rows", "word"),
    [
        ([10.0, 1e308, 1e308], [1, 2], "above data.amount_max (1e+09)"),
        ([1e-320, 20.0, 30.0], [0], "below data.amount_min (0.01"),
        ([10.0, 0.001, 30.0], [1], "below data.amount_min"),
        ([10.0, 20.0, 1e9 + 1], [2], "above data.amount_max"),
    ],
)
def test_amount_outside_the_valid_range(amounts: list[float], rows: list[int], word: str) -> None:
    rejects(frame(amount=amounts), "amount", rows, word)


def test_amount_range_edges_are_valid_and_configurable() -> None:
    assert validate(frame(amount=[0.01, 1e9, 5.0]), source=SRC)["amount"].tolist() == [0.01, 1e9, 5.0]
    rejects(frame(amount=[0.5, 2.0, 3.0]), "amount", [0], "below data.amount_min (1)", amount_min=1.0)
    assert len(validate(frame(amount=[1e12, 2.0, 3.0]), source=SRC, amount_max=1e12)) == 3


@pytest.mark.parametrize("column", ["transaction_id", "customer_id", "merchant_id"])
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_ids_are_rejected_in_every_key_column(column: str, blank: str) -> None:
    values = {
        "transaction_id": ["a", blank, "c"],
        "customer_id": ["c1", blank, "c2"],
        "merchant_id": ["m1", blank, "m2"],
    }[column]
    rejects(frame(**{column: values}), column, [1], "empty or blank ids")
    # a categorical column (what Parquet dictionaries can become) follows the same rule
    rejects(frame(**{column: pd.Categorical(values)}), column, [1], "empty or blank ids")


@pytest.mark.parametrize("column", ["device_id", "region"])
def test_blank_optional_ids_are_rejected_but_missing_ones_allowed(column: str) -> None:
    rejects(
        frame(**{column: ["d1", " ", "d2"]}), column, [1], "empty or blank ids", "leave the value missing"
    )
    assert validate(frame(**{column: ["d1", None, "d2"]}), source=SRC)[column].isna().sum() == 1


def test_duplicate_column_names_in_a_frame() -> None:
    df = pd.concat([frame(), frame()[["amount"]]], axis=1)
    with pytest.raises(DataError, match="column 'amount': the column is given twice"):
        validate(df, source=SRC)
