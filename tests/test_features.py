"""Point-in-time features: exact values on tiny hand-made frames, one test per family.

Times are UTC on Monday 2026-01-05 unless written in full. The windows are small
(``PARAMS``) so that the arithmetic fits in a comment.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from okml.config import FeatureParams, load_params
from okml.errors import ConfigError, DataError
from okml.features import (
    REGISTRY,
    build_features,
    describe,
    feature_names,
    lookback,
    registry,
    registry_frame,
    spec,
)
from okml.schema import validate

NAN = math.nan
PARAMS = FeatureParams(
    customer_windows=["10min", "1h"],
    merchant_windows=["1h", "1d"],
    history_window="1h",
    median_payments=3,
    burst_window="30min",
    device_window="1h",
    pair_window="1h",
    risk_smoothing=2.0,
    merchant_fraud_windows=["1h"],
    merchant_fraud_profile_window="1h",
    label_delay="30min",
    delayed_risk_windows=["1h"],
    timezone="UTC",
)


def at(hhmm: str, day: str = "2026-01-05") -> str:
    return f"{day}T{hhmm}:00Z"


def frame(rows: list[dict], **defaults: object) -> pd.DataFrame:
    """Canonical transactions from row dicts; missing required fields get defaults."""
    base = {"customer_id": "c1", "merchant_id": "m1", "amount": 10.0} | defaults
    return validate(pd.DataFrame([base | r for r in rows]))


def values(features: pd.DataFrame, column: str) -> dict:
    return dict(zip(features.index, features[column].tolist(), strict=True))


def assert_values(features: pd.DataFrame, column: str, expected: dict) -> None:
    got = values(features, column)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got[key]), (column, key, got[key])
        else:
            assert got[key] == pytest.approx(want, rel=1e-12, abs=1e-12), (column, key, got[key])


# ------------------------------------------------------------------------------ calendar
def test_calendar_hour_night_weekend_and_gap() -> None:
    tx = frame(
        [
            {"transaction_id": "t1", "timestamp": at("05:59", "2026-01-03")},  # Saturday
            {"transaction_id": "t2", "timestamp": at("06:00")},  # Monday
            {"transaction_id": "t3", "timestamp": at("06:00")},  # same instant, later id
            {"transaction_id": "t4", "timestamp": at("23:59", "2026-01-04"), "customer_id": "c2"},
        ]
    )
    f = build_features(tx, PARAMS)
    assert_values(f, "hour", {"t1": 5, "t2": 6, "t3": 6, "t4": 23})
    assert_values(f, "is_night", {"t1": 1, "t2": 0, "t3": 0, "t4": 0})  # night is 0:00-5:59
    assert_values(f, "is_weekend", {"t1": 1, "t2": 0, "t3": 0, "t4": 1})
    # t2: 2 days and 1 minute after t1 = 2 * 86400 + 60; t3 ties with t2 (its earlier id)
    assert_values(f, "cust_secs_since_prev", {"t1": NAN, "t2": 172860.0, "t3": 0.0, "t4": NAN})


def test_calendar_uses_the_configured_time_zone() -> None:
    tx = frame(
        [
            {"transaction_id": "t1", "timestamp": at("23:59", "2026-01-04")},  # Sun 23:59 UTC
            {"transaction_id": "t2", "timestamp": at("20:00", "2026-01-02")},  # Fri 20:00 UTC
        ]
    )
    f = build_features(tx, PARAMS.model_copy(update={"timezone": "Asia/Shanghai"}))
    # UTC+8: t1 is Monday 07:59, t2 is Saturday 04:00
    assert_values(f, "hour", {"t1": 7, "t2": 4})
    assert_values(f, "is_night", {"t1": 0, "t2": 1})
    assert_values(f, "is_weekend", {"t1": 0, "t2": 1})


# ------------------------------------------------------------------- customer velocity
def test_customer_windows_boundaries_and_ties() -> None:
    tx = frame(
        [  # deliberately out of order
            {"transaction_id": "f", "timestamp": at("01:10"), "amount": 5.0},
            {"transaction_id": "d", "timestamp": at("00:15"), "amount": 40.0},
            {"transaction_id": "a", "timestamp": at("00:00"), "amount": 10.0},
            {"transaction_id": "c", "timestamp": at("00:15"), "amount": 30.0},
            {"transaction_id": "e", "timestamp": at("00:15"), "amount": 1000.0, "customer_id": "c2"},
            {"transaction_id": "b", "timestamp": at("00:10"), "amount": 20.0},
        ]
    )
    f = build_features(tx, PARAMS)
    # 10min window of b is (00:00, 00:10]: a, exactly 10 minutes before, is outside.
    # c at 00:15 sees b; d at the same instant also sees c (smaller id, so earlier).
    # f at 01:10: 10min window (01:00, 01:10] is empty; 1h window (00:10, 01:10] holds c, d
    # but not b (exactly one hour before).
    assert_values(f, "cust_count_10min", {"f": 0, "d": 2, "a": 0, "c": 1, "e": 0, "b": 0})
    assert_values(f, "cust_sum_10min", {"f": 0, "d": 50, "a": 0, "c": 20, "e": 0, "b": 0})
    assert_values(f, "cust_mean_10min", {"f": NAN, "d": 25.0, "a": NAN, "c": 20.0, "e": NAN, "b": NAN})
    assert_values(f, "cust_count_1h", {"f": 2, "d": 3, "a": 0, "c": 2, "e": 0, "b": 1})
    # f: 30 + 40; d: 10 + 20 + 30; c: 10 + 20
    assert_values(f, "cust_sum_1h", {"f": 70, "d": 60, "a": 0, "c": 30, "e": 0, "b": 10})
    assert_values(f, "cust_mean_1h", {"f": 35.0, "d": 20.0, "a": NAN, "c": 15.0, "e": NAN, "b": 10.0})


@pytest.mark.parametrize(
    ("ids", "first"),
    [((9, 10), 9), (("9", "10"), "10")],  # integers order by value, strings as text
)
def test_ties_are_broken_by_transaction_id(ids: tuple, first: object) -> None:
    tx = frame([{"transaction_id": i, "timestamp": at("12:00")} for i in ids])
    f = build_features(tx, PARAMS)
    later = ids[0] if first == ids[1] else ids[1]
    assert values(f, "cust_count_10min") == {first: 0.0, later: 1.0}


# -------------------------------------------------------------------- customer history
def test_amount_ratio_and_z_over_window_and_all_history() -> None:
    tx = frame(
        [
            {"transaction_id": "a", "timestamp": at("00:00"), "amount": 100.0},
            {"transaction_id": "b", "timestamp": at("02:00"), "amount": 10.0},
            {"transaction_id": "c", "timestamp": at("02:20"), "amount": 30.0},
            {"transaction_id": "d", "timestamp": at("02:40"), "amount": 20.0},
            # a customer who always paid 50: std 0 is floored at 1% of the mean (0.5)
            {"transaction_id": "x1", "timestamp": at("03:00"), "customer_id": "c3", "amount": 50.0},
            {"transaction_id": "x2", "timestamp": at("03:10"), "customer_id": "c3", "amount": 50.0},
            {"transaction_id": "x3", "timestamp": at("03:20"), "customer_id": "c3", "amount": 80.0},
        ]
    )
    f = build_features(tx, PARAMS)
    # 1h window: b sees nothing; c sees b (mean 10); d sees b, c (mean 20, std 10)
    # x3 sees x1, x2: mean 50 -> ratio 80 / 50; z = (80 - 50) / max(0, 0.01 * 50) = 60
    assert_values(
        f,
        "cust_amount_ratio_1h",
        {"a": NAN, "b": NAN, "c": 3.0, "d": 1.0, "x1": NAN, "x2": 1.0, "x3": 1.6},
    )
    # z needs two earlier payments: only d (z = (20 - 20) / 10 = 0) and x3
    assert_values(
        f,
        "cust_amount_z_1h",
        {"a": NAN, "b": NAN, "c": NAN, "d": 0.0, "x1": NAN, "x2": NAN, "x3": 60.0},
    )
    # all history: b sees a (mean 100); c sees a, b (mean 55, population std 45);
    # d sees a, b, c (mean 140/3, variance (100^2 + 10^2 + 30^2)/3 - (140/3)^2)
    mean_d = 140 / 3
    std_d = math.sqrt((100**2 + 10**2 + 30**2) / 3 - mean_d**2)
    assert_values(
        f,
        "cust_amount_ratio_all",
        {"a": NAN, "b": 0.1, "c": 30 / 55, "d": 20 / mean_d, "x1": NAN, "x2": 1.0, "x3": 1.6},
    )
    assert_values(
        f,
        "cust_amount_z_all",
        {
            "a": NAN,
            "b": NAN,
            "c": (30 - 55) / 45,
            "d": (20 - mean_d) / std_d,
            "x1": NAN,
            "x2": NAN,
            "x3": 60.0,
        },
    )


def test_amount_vs_the_median_of_the_latest_payments_in_the_window() -> None:
    tx = frame(
        [
            {"transaction_id": "a", "timestamp": at("00:00"), "amount": 10.0},
            {"transaction_id": "b", "timestamp": at("00:10"), "amount": 30.0},
            {"transaction_id": "c", "timestamp": at("00:20"), "amount": 20.0},
            {"transaction_id": "d", "timestamp": at("00:30"), "amount": 100.0},
            {"transaction_id": "e", "timestamp": at("00:40"), "amount": 40.0},
            {"transaction_id": "f", "timestamp": at("01:15"), "amount": 60.0},
            {"transaction_id": "g", "timestamp": at("01:35"), "amount": 25.0},
            {"transaction_id": "h", "timestamp": at("01:35"), "amount": 80.0},
            {"transaction_id": "x", "timestamp": at("00:05"), "amount": 1000.0, "customer_id": "c2"},
        ]
    )
    f = build_features(tx, PARAMS)  # 1h window, at most the latest 3 payments
    # b: [10] -> 30 / 10; c: [10, 30] -> median 20; d: [10, 30, 20] -> 20;
    # e: the latest 3 are b, c, d -> [30, 20, 100], median 30 (a no longer counts);
    # f (01:15): window (00:15, 01:15] holds c, d, e -> [20, 100, 40], median 40;
    # g (01:35): window (00:35, 01:35] holds e, f -> [40, 60], median 50;
    # h: same instant, later id: e, f, g -> [40, 60, 25], median 40.  x: another customer.
    assert_values(
        f,
        "cust_amount_median_ratio_1h",
        {"a": NAN, "b": 3.0, "c": 1.0, "d": 5.0, "e": 40 / 30, "f": 1.5, "g": 0.5, "h": 2.0, "x": NAN},
    )


def test_largest_recent_payment_vs_the_median() -> None:
    tx = frame(
        [
            {"transaction_id": "a", "timestamp": at("00:00"), "amount": 10.0},
            {"transaction_id": "b", "timestamp": at("00:20"), "amount": 50.0},
            {"transaction_id": "c", "timestamp": at("00:40"), "amount": 20.0},
            {"transaction_id": "d", "timestamp": at("00:50"), "amount": 30.0},
            {"transaction_id": "e", "timestamp": at("01:10"), "amount": 40.0},
        ]
    )
    f = build_features(tx, PARAMS)  # largest in 30min / median of the latest 3 in 1h
    # b: largest in (23:50, 00:20] is a (10); median [10] -> 1
    # c: (00:10, 00:40] holds b (50); median of [10, 50] is 30 -> 50 / 30
    # d: (00:20, 00:50] holds b (at 00:20, exactly 30 min before: out) and c -> c (20);
    #   median of [10, 50, 20] is 20 -> 1
    # e: (00:40, 01:10] holds d (30) (c at 00:40 is out); 1h window (00:10, 01:10] holds
    #   b, c, d -> median 30 -> 1
    assert_values(
        f,
        "cust_max_median_ratio_30min",
        {"a": NAN, "b": 1.0, "c": 50 / 30, "d": 1.0, "e": 1.0},
    )


def test_amount_is_the_payment_amount() -> None:
    tx = frame([{"transaction_id": "a", "timestamp": at("00:00"), "amount": 12.34}])
    assert_values(build_features(tx, PARAMS), "amount", {"a": 12.34})


def test_first_merchant_device_and_region() -> None:
    tx = frame(
        [
            {
                "transaction_id": "a",
                "timestamp": at("00:00"),
                "merchant_id": "m1",
                "device_id": "d1",
                "region": "r1",
            },
            {
                "transaction_id": "b",
                "timestamp": at("01:00"),
                "merchant_id": "m1",
                "device_id": "d1",
                "region": "r2",
            },
            {
                "transaction_id": "c",
                "timestamp": at("02:00"),
                "merchant_id": "m2",
                "device_id": None,
                "region": "r1",
            },
            {
                "transaction_id": "d",
                "timestamp": at("03:00"),
                "merchant_id": "m2",
                "device_id": "d2",
                "region": None,
            },
            # another customer on the same merchant, device and region: new for *them*
            {
                "transaction_id": "e",
                "timestamp": at("04:00"),
                "customer_id": "c2",
                "merchant_id": "m1",
                "device_id": "d1",
                "region": "r1",
            },
        ]
    )
    f = build_features(tx, PARAMS)
    assert_values(f, "cust_first_merchant", {"a": 1, "b": 0, "c": 1, "d": 0, "e": 1})
    # a missing device or region gives NaN, not "new"
    assert_values(f, "cust_first_device", {"a": 1, "b": 0, "c": NAN, "d": 1, "e": 1})
    assert_values(f, "cust_new_region", {"a": 1, "b": 1, "c": 0, "d": NAN, "e": 1})


def test_hour_share_counts_neighbouring_hours_around_midnight() -> None:
    tx = frame(
        [
            {"transaction_id": "p1", "timestamp": at("23:30", "2026-01-05")},  # hour 23
            {"transaction_id": "p2", "timestamp": at("00:10", "2026-01-06")},  # hour 0
            {"transaction_id": "p3", "timestamp": at("05:00", "2026-01-06")},  # hour 5
            {"transaction_id": "p4", "timestamp": at("22:05", "2026-01-06")},  # hour 22
            {"transaction_id": "p5", "timestamp": at("23:40", "2026-01-06")},  # hour 23
        ]
    )
    f = build_features(tx, PARAMS.model_copy(update={"history_window": "1d"}))
    # p2 (hour 0): p1 at hour 23 is one hour away across midnight -> 1/1
    # p3 (hour 5): p1, p2 are not within an hour -> 0/2
    # p4 (hour 22): p1 (23) of p1, p2, p3 -> 1/3
    # p5 (hour 23): the 1d window starts after 23:40 the day before, so p1 drops out;
    #   p2 (0) and p4 (22) of p2, p3, p4 -> 2/3
    assert_values(f, "cust_hour_share_1d", {"p1": NAN, "p2": 1.0, "p3": 0.0, "p4": 1 / 3, "p5": 2 / 3})


def test_account_age_in_days() -> None:
    tx = frame(
        [
            {"transaction_id": "a", "timestamp": at("12:00"), "account_created_at": "2026-01-01T00:00:00Z"},
            {"transaction_id": "b", "timestamp": at("12:00"), "account_created_at": None},
        ]
    )
    f = build_features(tx, PARAMS)
    assert_values(f, "account_age_days", {"a": 4.5, "b": NAN})  # Jan 1 00:00 -> Jan 5 12:00


# ------------------------------------------------------------------------------ merchant
def test_merchant_counts_and_sums() -> None:
    tx = frame(
        [
            {"transaction_id": "x1", "timestamp": at("00:00"), "amount": 50.0},
            {"transaction_id": "x2", "timestamp": at("00:30"), "amount": 25.0},
            {"transaction_id": "x3", "timestamp": at("01:00"), "amount": 10.0},
            {"transaction_id": "x4", "timestamp": at("00:00", "2026-01-06"), "amount": 1.0},
            {
                "transaction_id": "y1",
                "timestamp": at("00:45"),
                "amount": 99.0,
                "merchant_id": "m2",
                "customer_id": "c2",
            },
        ]
    )
    f = build_features(tx, PARAMS)
    # x3: 1h window (00:00, 01:00] holds x2 only; 1d holds x1, x2
    # x4: exactly one day after x1, so its 1d window holds x2, x3
    assert_values(f, "merch_count_1h", {"x1": 0, "x2": 1, "x3": 1, "x4": 0, "y1": 0})
    assert_values(f, "merch_sum_1h", {"x1": 0, "x2": 50, "x3": 25, "x4": 0, "y1": 0})
    assert_values(f, "merch_count_1d", {"x1": 0, "x2": 1, "x3": 2, "x4": 2, "y1": 0})
    assert_values(f, "merch_sum_1d", {"x1": 0, "x2": 50, "x3": 75, "x4": 35, "y1": 0})


def _risk_frame() -> pd.DataFrame:
    rows = [  # (id, time, merchant, is_fraud, label_time)
        ("r1", "00:00", "m1", 1, at("00:20")),
        ("r2", "00:10", "m2", 1, None),  # fraud never labelled: never known
        ("r3", "00:20", "m1", 0, None),
        ("r4", "00:30", "m1", 0, None),
        ("r5", "00:40", "m3", 0, None),
        ("r6", "01:05", "m1", 0, None),
    ]
    return frame(
        [
            {
                "transaction_id": i,
                "timestamp": at(t),
                "merchant_id": m,
                "is_fraud": y,
                "label_time": lt,
                "customer_id": i,
            }
            for i, t, m, y, lt in rows
        ]
    )


def test_merchant_risk_uses_only_labels_known_before_and_smooths() -> None:
    f = build_features(_risk_frame(), PARAMS)  # smoothing a = 2
    # r3 (00:20): r1's label arrives at 00:20, not strictly before -> unknown;
    #   m1 has n = 1 (r1), global rate 0/2 -> (0 + 2*0) / (1 + 2) = 0
    # r4 (00:30): r1 known. m1: n = 2 (r1, r3), frauds 1; global: 1 known of 3 earlier
    #   -> (1 + 2 * 1/3) / (2 + 2) = 5/12
    # r5 (00:40) at new merchant m3: n = 0; global 1/4 -> (0 + 2 * 1/4) / 2 = 1/4
    # r6 (01:05), 1h window (00:05, 01:05]: r1 drops out -> m1 n = 2, frauds 0; global: r2..r5
    #   with no known fraud -> 0.  1d window: m1 n = 3, frauds 1; global 1/5
    #   -> (1 + 2 * 0.2) / (3 + 2) = 0.28
    assert_values(f, "merch_risk_1h", {"r1": 0, "r2": 0, "r3": 0, "r4": 5 / 12, "r5": 0.25, "r6": 0})
    assert_values(f, "merch_risk_1d", {"r1": 0, "r2": 0, "r3": 0, "r4": 5 / 12, "r5": 0.25, "r6": 0.28})


def test_merchant_risk_without_smoothing_is_the_plain_share() -> None:
    f = build_features(_risk_frame(), PARAMS.model_copy(update={"risk_smoothing": 0.0}))
    # a = 0: frauds / n, NaN when the merchant has no earlier payment
    assert_values(
        f,
        "merch_risk_1d",
        {"r1": NAN, "r2": NAN, "r3": 0.0, "r4": 0.5, "r5": NAN, "r6": 1 / 3},
    )


# --------------------------------------------------------------- customer fraud history
def test_customer_known_frauds_and_days_since() -> None:
    rows = [  # (id, time, is_fraud, label_time)
        ("f01", "00:00", 1, at("01:00")),
        ("f02", "00:30", 0, None),
        ("f03", "01:00", 0, None),  # f01's label arrives at 01:00: not before
        ("f04", "01:01", 0, None),
        ("f05", "02:00", 1, at("02:00")),  # labelled at once
        ("f06", "02:00", 0, None),  # same instant as the label: not known yet
        ("f07", "03:00", 0, None),
        ("f08", "03:10", 1, at("05:00")),  # known late
        ("f09", "03:20", 1, at("03:30")),
        ("f10", "04:00", 0, None),
        ("f11", "06:00", 0, None),
    ]
    tx = frame(
        [{"transaction_id": i, "timestamp": at(t), "is_fraud": y, "label_time": lt} for i, t, y, lt in rows]
    )
    f = build_features(tx, PARAMS)
    assert_values(
        f,
        "cust_known_frauds",
        {
            "f01": 0,
            "f02": 0,
            "f03": 0,
            "f04": 1,
            "f05": 1,
            "f06": 1,
            "f07": 2,
            "f08": 2,
            "f09": 2,
            "f10": 3,
            "f11": 4,
        },
    )
    # days since the latest known fraud payment (by payment time, not label time):
    # f04: f01, 61 min; f07: f05, 60 min; f10: f09 (03:20), 40 min; f11: f09 again
    # (f08 is known by then but older), 2 h 40 min
    day = 24 * 60
    assert_values(
        f,
        "cust_days_since_known_fraud",
        {
            "f01": NAN,
            "f02": NAN,
            "f03": NAN,
            "f04": 61 / day,
            "f05": 120 / day,
            "f06": 120 / day,
            "f07": 60 / day,
            "f08": 70 / day,
            "f09": 80 / day,
            "f10": 40 / day,
            "f11": 160 / day,
        },
    )


# --------------------------------------------------------------- merchant fraud history
def _merchant_fraud_frame() -> pd.DataFrame:
    rows = [  # (id, time, merchant, is_fraud, label_time)
        ("k1", "00:00", "m1", 1, at("00:30")),
        ("k2", "00:10", "m1", 0, None),
        ("k3", "00:20", "m1", 1, at("00:25")),
        ("k4", "00:30", "m1", 0, None),  # k1's label arrives at 00:30: not before
        ("k5", "00:31", "m1", 0, None),
        ("k6", "01:05", "m1", 0, None),
        ("k7", "01:25", "m1", 1, None),  # never labelled: never known
        ("k8", "01:40", "m1", 0, None),
        ("z", "00:40", "m2", 1, at("00:41")),  # another merchant
    ]
    return frame(
        [
            {
                "transaction_id": i,
                "timestamp": at(t),
                "merchant_id": m,
                "is_fraud": y,
                "label_time": lt,
                "customer_id": i,
            }
            for i, t, m, y, lt in rows
        ]
    )


def test_merchant_known_frauds_by_payment_time() -> None:
    f = build_features(_merchant_fraud_frame(), PARAMS)
    # 1h window by payment time, counting only labels known before the payment:
    # k4 (00:30): k3 known, k1 not yet -> 1; k5 (00:31): k1 and k3 -> 2;
    # k6 (01:05): window (00:05, 01:05] drops k1 -> 1; k7 (01:25): k3 at 00:20 drops out -> 0
    assert_values(
        f,
        "merch_known_frauds_1h",
        {"k1": 0, "k2": 0, "k3": 0, "k4": 1, "k5": 2, "k6": 1, "k7": 0, "k8": 0, "z": 0},
    )
    # days since the payment time of the latest known fraud, all history: k3 (00:20) from
    # k4 on (k1 is known later but paid earlier); k7 is never known
    day = 24 * 60
    assert_values(
        f,
        "merch_days_since_known_fraud",
        {
            "k1": NAN,
            "k2": NAN,
            "k3": NAN,
            "k4": 10 / day,
            "k5": 11 / day,
            "k6": 45 / day,
            "k7": 65 / day,
            "k8": 80 / day,
            "z": NAN,
        },
    )
    # and of the earliest: k3 at k4, then k1 (00:00) once its label is in, from k5 on
    assert_values(
        f,
        "merch_days_since_first_known_fraud",
        {
            "k1": NAN,
            "k2": NAN,
            "k3": NAN,
            "k4": 10 / day,
            "k5": 31 / day,
            "k6": 65 / day,
            "k7": 85 / day,
            "k8": 100 / day,
            "z": NAN,
        },
    )


def test_merchant_delayed_risk_looks_at_payments_older_than_the_label_delay() -> None:
    f = build_features(_merchant_fraud_frame(), PARAMS)
    # label_delay 30min, window 1h: payments in (t - 1h30, t - 30min], share known at t
    # k4 (00:30): (23:00, 00:00] holds k1, whose label comes at 00:30 -> 0 / 1
    # k5 (00:31): (23:01, 00:01] holds k1, now known -> 1 / 1
    # k6 (01:05): (23:35, 00:35] holds k1..k5, k1 and k3 known -> 2 / 5
    # k7 (01:25): (23:55, 00:55] the same five -> 2 / 5
    # k8 (01:40): (00:10, 01:10] holds k3, k4, k5, k6 (k2 exactly at the edge is out) -> 1 / 4
    # k1..k3 and z: no payment in their shifted window -> NaN
    assert_values(
        f,
        "merch_delayed_risk_1h",
        {"k1": NAN, "k2": NAN, "k3": NAN, "k4": 0.0, "k5": 1.0, "k6": 0.4, "k7": 0.4, "k8": 0.25, "z": NAN},
    )


def test_merchant_fraud_streak_counts_known_frauds_among_settled_payments() -> None:
    # label_delay 30 min: a payment is "settled" (its label should be in) 30 min after it
    rows = [  # (id, time, merchant, is_fraud, label_time)
        ("s1", "00:00", "m1", 1, None),  # a fraud never labelled: never known, breaks runs
        ("s2", "00:10", "m1", 1, at("00:50")),
        ("s3", "00:20", "m1", 1, at("00:45")),
        ("s4", "00:25", "m1", 1, at("01:10")),  # labelled late, inside the run
        ("s5", "00:40", "m1", 1, at("00:42")),
        ("q1", "00:55", "m1", 0, None),
        ("q2", "01:05", "m1", 0, None),
        ("q3", "01:15", "m1", 0, None),
        ("q4", "01:30", "m1", 0, None),
        ("z1", "00:05", "m2", 1, at("00:06")),
        ("z2", "01:15", "m2", 0, None),
    ]
    f = build_features(
        frame(
            [
                {
                    "transaction_id": i,
                    "timestamp": at(t),
                    "merchant_id": m,
                    "is_fraud": y,
                    "label_time": lt,
                    "customer_id": i,
                }
                for i, t, m, y, lt in rows
            ]
        ),
        PARAMS,
    )
    # q1 (00:55) and q2 (01:05): settled s1..s4; s4's label is not in yet -> no run,
    #   latest payment not known as fraud: s4 (00:25) -> 30 and 40 min
    # q3 (01:15): settled s1..s5, all but s1 known by now -> run of 4 from s2 (00:10),
    #   65 min; s1 (00:00) is the latest not known -> 75 min
    # q4 (01:30): q1 (00:55) is settled and clean -> no run, 35 min
    # z2 (01:15) at m2: z1 known -> run of 1 from 00:05, 70 min, nothing clean
    # s1..s4, z1: nothing settled yet; s5 (00:40): s1 and s2 (at 00:10, exactly 30 min
    #   before: settled) are, s2's label is not in -> 30 min
    day = 24 * 60
    assert_values(
        f,
        "merch_fraud_streak",
        {"s1": 0, "s2": 0, "s3": 0, "s4": 0, "s5": 0, "q1": 0, "q2": 0, "q3": 4, "q4": 0, "z1": 0, "z2": 1},
    )
    assert_values(
        f,
        "merch_fraud_streak_days",
        {
            "s1": NAN,
            "s2": NAN,
            "s3": NAN,
            "s4": NAN,
            "s5": NAN,
            "q1": NAN,
            "q2": NAN,
            "q3": 65 / day,
            "q4": NAN,
            "z1": NAN,
            "z2": 70 / day,
        },
    )
    assert_values(
        f,
        "merch_days_since_clean_payment",
        {
            "s1": NAN,
            "s2": NAN,
            "s3": NAN,
            "s4": NAN,
            "s5": 30 / day,
            "q1": 30 / day,
            "q2": 40 / day,
            "q3": 75 / day,
            "q4": 35 / day,
            "z1": NAN,
            "z2": NAN,
        },
    )


def test_merchant_known_fraud_amount_ratio_averages_each_frauds_own_ratio() -> None:
    rows = [  # (id, time, customer, merchant, amount, is_fraud, label_time)
        ("h1", "00:00", "c1", "m9", 10.0, 0, None),
        ("h2", "00:05", "c1", "m9", 10.0, 0, None),
        ("h3", "00:10", "c2", "m9", 20.0, 0, None),
        ("f1", "00:30", "c1", "m1", 50.0, 1, at("00:40")),  # 5x c1's median of 10
        ("f2", "00:31", "c2", "m1", 20.0, 1, at("00:40")),  # 1x c2's median of 20
        ("f3", "00:32", "c3", "m1", 99.0, 1, at("00:40")),  # c3's first payment: no median
        ("q1", "00:35", "c4", "m1", 10.0, 0, None),
        ("q2", "00:50", "c4", "m1", 10.0, 0, None),
        ("q3", "01:30", "c4", "m1", 10.0, 0, None),
        ("q4", "01:31", "c4", "m1", 10.0, 0, None),
    ]
    f = build_features(
        frame(
            [
                {
                    "transaction_id": i,
                    "timestamp": at(t),
                    "customer_id": c,
                    "merchant_id": m,
                    "amount": a,
                    "is_fraud": y,
                    "label_time": lt,
                }
                for i, t, c, m, a, y, lt in rows
            ]
        ),
        PARAMS,
    )
    # q1: no label in yet -> NaN; q2: (5 + 1) / 2 (f3 has no ratio); q3 (01:30): the 1 h
    # window (00:30, 01:30] has lost f1 -> 1; q4 (01:31): f2 gone too, f3 has no ratio -> NaN
    assert_values(
        f,
        "merch_known_fraud_amount_ratio_1h",
        {
            "h1": NAN,
            "h2": NAN,
            "h3": NAN,
            "f1": NAN,
            "f2": NAN,
            "f3": NAN,
            "q1": NAN,
            "q2": 3.0,
            "q3": 1.0,
            "q4": NAN,
        },
    )


def test_merchant_fraud_windows_may_be_empty() -> None:
    p = PARAMS.model_copy(update={"merchant_fraud_windows": [], "delayed_risk_windows": []})
    f = build_features(_merchant_fraud_frame(), p)
    assert [c for c in f.columns if c.startswith("merch_") and "fraud" in c] == [
        "merch_days_since_known_fraud",
        "merch_days_since_first_known_fraud",
        "merch_fraud_streak",
        "merch_fraud_streak_days",
        "merch_known_fraud_amount_ratio_1h",
    ]
    assert not [c for c in f.columns if c.startswith("merch_delayed_risk")]


# ---------------------------------------------------------------------------------- ring
def test_device_customers_pair_count_and_round_amounts() -> None:
    rows = [  # (id, time, customer, merchant, device, amount)
        ("g1", "00:00", "c1", "m1", "d1", 20.0),
        ("g2", "00:10", "c2", "m1", "d1", 20.004),  # float noise: still round
        ("g3", "00:20", "c1", "m1", "d1", 25.0),
        ("g4", "00:30", "c3", "m2", "d1", 19.99),
        ("g5", "01:10", "c3", "m2", "d1", 100.0),
        ("g6", "01:21", "c4", "m1", "d1", 7.0),
        ("g7", "01:21", "c1", "m1", None, 7.0),
    ]
    tx = frame(
        [
            {
                "transaction_id": i,
                "timestamp": at(t),
                "customer_id": c,
                "merchant_id": m,
                "device_id": d,
                "amount": a,
            }
            for i, t, c, m, d, a in rows
        ]
    )
    f = build_features(tx, PARAMS)
    # other customers on the device in the previous hour:
    # g2: c1; g3: c2 (c1 is the payer); g4: c1, c2;
    # g5 (01:10): window (00:10, 01:10] drops g2, so c1 (g3) only, c3 is the payer;
    # g6 (01:21): window (00:21, 01:21] drops g3 as well: c3 only
    assert_values(
        f,
        "device_customers_1h",
        {"g1": 0, "g2": 1, "g3": 1, "g4": 2, "g5": 1, "g6": 1, "g7": NAN},
    )
    # (c1, m1) in the previous hour: g3 sees g1; g7 (01:21) sees none (g3 at 00:20 is out)
    # (c3, m2): g5 at 01:10 is 40 min after g4
    assert_values(f, "pair_count_1h", {"g1": 0, "g2": 0, "g3": 1, "g4": 0, "g5": 1, "g6": 0, "g7": 0})
    assert_values(f, "is_round_amount", {"g1": 1, "g2": 1, "g3": 0, "g4": 0, "g5": 1, "g6": 0, "g7": 0})


# ---------------------------------------------------------------------- frame contract
def _full_frame() -> pd.DataFrame:
    rows = []
    for k in range(12):
        rows.append(
            {
                "transaction_id": f"t{k:02d}",
                "timestamp": at(f"{k:02d}:{(7 * k) % 60:02d}"),
                "customer_id": f"c{k % 3}",
                "merchant_id": f"m{k % 2}",
                "amount": 5.0 + k,
                "device_id": f"d{k % 4}",
                "region": f"r{k % 2}",
                "account_created_at": "2025-12-01T00:00:00Z",
                "is_fraud": int(k % 5 == 0),
                "label_time": at(f"{k:02d}:59") if k % 5 == 0 else None,
            }
        )
    return frame(rows)


def test_output_rows_follow_input_and_the_input_is_untouched() -> None:
    tx = _full_frame().sample(frac=1.0, random_state=3)
    before = tx.copy()
    f = build_features(tx, PARAMS)
    pd.testing.assert_frame_equal(tx, before)
    assert list(f.index) == list(tx["transaction_id"])
    assert f.index.name == "transaction_id"
    assert list(f.columns) == feature_names(PARAMS, tx.columns)
    assert set(f.dtypes) == {np.dtype("float64")}
    ordered = build_features(tx.sort_values("timestamp"), PARAMS)
    pd.testing.assert_frame_equal(f, ordered.loc[f.index])


def test_optional_columns_and_disabled_families_drop_out() -> None:
    tx = _full_frame()
    required = tx[["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]]
    names = feature_names(PARAMS, required.columns)
    for dropped in (
        "cust_first_device",
        "cust_new_region",
        "account_age_days",
        "merch_risk_1h",
        "cust_known_frauds",
        "device_customers_1h",
        "merch_known_frauds_1h",
        "merch_days_since_known_fraud",
        "merch_delayed_risk_1h",
    ):
        assert dropped not in names
    assert "pair_count_1h" in names and "cust_first_merchant" in names
    f = build_features(required, PARAMS)
    assert list(f.columns) == names
    # the same rows with optional columns give the same values for the shared features
    pd.testing.assert_frame_equal(f, build_features(tx, PARAMS)[names])

    off = PARAMS.model_copy(
        update={"families": PARAMS.families.model_copy(update={"ring": False, "calendar": False})}
    )
    names_off = feature_names(off, tx.columns)
    assert not {"hour", "cust_secs_since_prev", "pair_count_1h", "is_round_amount"} & set(names_off)
    assert list(build_features(tx, off).columns) == names_off


def test_labels_need_label_time() -> None:
    tx = _full_frame().drop(columns=["label_time"])
    assert "merch_risk_1h" not in build_features(tx, PARAMS).columns


def test_empty_frame_gives_empty_features_with_the_columns() -> None:
    tx = _full_frame().iloc[:0]
    f = build_features(tx, PARAMS)
    assert f.shape == (0, len(feature_names(PARAMS, tx.columns)))
    assert list(f.columns) == feature_names(PARAMS, tx.columns)
    assert f.index.name == "transaction_id"


def test_progress_bar_does_not_change_values(capsys: pytest.CaptureFixture[str]) -> None:
    tx = _full_frame()
    pd.testing.assert_frame_equal(build_features(tx, PARAMS, progress=True), build_features(tx, PARAMS))
    assert "features" in capsys.readouterr().err


def test_unvalidated_frames_are_data_errors() -> None:
    tx = _full_frame()
    with pytest.raises(DataError, match="column 'merchant_id': missing required column"):
        build_features(tx.drop(columns=["merchant_id"]), PARAMS)
    raw = tx.assign(timestamp=tx["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with pytest.raises(DataError, match="column 'timestamp': expected timezone-aware datetimes"):
        build_features(raw, PARAMS)
    naive = tx.assign(label_time=tx["label_time"].dt.tz_localize(None))
    with pytest.raises(DataError, match="column 'label_time'"):
        build_features(naive, PARAMS)
    with pytest.raises(DataError, match="amount must be numeric"):
        build_features(tx.assign(amount=tx["amount"].astype(str)), PARAMS)


# ----------------------------------------------------------------------------- registry
def test_registry_describes_every_feature_in_both_languages() -> None:
    # the graph families are off by default (local engine only): switch every family on
    every = FeatureParams(families={name: True for name in FeatureParams().families.model_dump()})
    names = feature_names(every, _full_frame().columns)
    assert names == list(REGISTRY)  # with every optional column, every feature is built
    frame_ = registry_frame()
    assert list(frame_.index) == names
    assert {
        "family",
        "unit",
        "group",
        "description_en",
        "description_zh",
        "window_seconds",
        "needs",
        "all_history",
    } <= set(frame_.columns)
    for name in names:
        s = REGISTRY[name]
        assert s.description_en and s.description_zh and s.unit and s.group
    # windowed features share a group across windows
    assert {REGISTRY[n].group for n in names if n.startswith("cust_count_")} == {"customer_count"}
    assert REGISTRY["cust_count_7d"].window_seconds == 7 * 86400


def test_describe_plain_language() -> None:
    assert describe("cust_count_1h") == "payments by this customer in the previous hour"
    assert describe("cust_count_1h", "zh") == "该客户过去1小时内的支付笔数"
    assert describe("cust_sum_7d") == "amount paid by this customer in the previous 7 days"
    assert describe("merch_count_10min", "zh") == "该商户过去10分钟内收到的支付笔数"
    # any window is understood, configured or not
    assert describe("cust_count_2h") == "payments by this customer in the previous 2 hours"
    assert spec("cust_count_2h").window_seconds == 7200
    assert "Asia/Shanghai" in describe("hour")
    assert "UTC" in describe("hour", params=PARAMS)
    assert describe("merch_delayed_risk_7d") == (
        "share of this merchant's payments in the 7 days before the last 7 days known to be "
        "fraud (the last 7 days are left out: their labels are mostly not in yet)"
    )
    assert describe("merch_delayed_risk_1h", params=PARAMS).startswith(
        "share of this merchant's payments in the hour before the last 30 minutes"
    )
    assert describe("cust_amount_median_ratio_1h", params=PARAMS) == (
        "this amount divided by the median amount of the customer's latest payments (up to 3) "
        "in the previous hour"
    )
    with pytest.raises(KeyError, match="unknown feature 'cust_count_5q'"):
        describe("cust_count_5q")
    with pytest.raises(KeyError):
        describe("nonsense")
    with pytest.raises(ValueError, match="unknown language"):
        describe("hour", "fr")


def test_registry_follows_configured_windows() -> None:
    p = FeatureParams(customer_windows=["2h"], merchant_windows=["3d"])
    reg = registry(p)
    assert "cust_count_2h" in reg and "cust_count_1h" not in reg
    assert "merch_risk_3d" in reg


def test_lookback_is_the_largest_enabled_window() -> None:
    # default: the merchant's known frauds of the last 30d, each compared with its
    # customer's 30d history before it
    assert lookback(FeatureParams()) == pd.Timedelta(days=60)
    assert spec("merch_known_fraud_amount_ratio_30d").lookback_seconds == 60 * 86400
    short = FeatureParams(merchant_fraud_profile_window="1d")
    # then 30d windows; the delayed risk needs label_delay + its window = 7d + 21d
    assert lookback(short) == pd.Timedelta(days=31)
    assert lookback(short.model_copy(update={"delayed_risk_windows": ["30d"]})) == pd.Timedelta(days=37)
    # the largest recent payment is compared with the median over history_window
    assert spec("cust_max_median_ratio_7d").lookback_seconds == 30 * 86400
    assert lookback(PARAMS) == pd.Timedelta(days=1)  # merchant_windows 1d
    no_merchant = PARAMS.model_copy(
        update={"families": PARAMS.families.model_copy(update={"merchant": False, "merchant_risk": False})}
    )
    # the fraud amount profile: 1h window + 1h history (the delayed risk: 30min + 1h)
    assert lookback(no_merchant) == pd.Timedelta(hours=2)
    assert spec("merch_delayed_risk_1h", PARAMS).lookback_seconds == 5400
    no_fraud = no_merchant.model_copy(
        update={"families": no_merchant.families.model_copy(update={"merchant_fraud_history": False})}
    )
    assert lookback(no_fraud) == pd.Timedelta(hours=1)


# ------------------------------------------------------------------------ bad parameters
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("features.customer_windows=[10 minutes]", "cannot parse duration '10 minutes'"),
        ("features.merchant_windows=[1d, 24h]", "are the same length"),
        ("features.pair_window=0s", "must be a positive whole number"),
        ("features.timezone=Mars/Olympus", "unknown time zone"),
        ("features.label_delay=soon", "cannot parse duration 'soon'"),
        ("features.delayed_risk_windows=[7d, 1w]", "are the same length"),
        ("features.median_payments=0", "greater than or equal to 1"),
    ],
)
def test_bad_feature_params_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_params(overrides=[override])


def test_fraud_amount_ratio_forgets_a_huge_old_fraud() -> None:
    # a fraud 1e6 times its customer's median passes out of the window; the sums behind the
    # average are started-minus-ended over the merchant's history, kept in extended
    # precision so that it leaves no visible error (float64 sums: about 3e-11 here)
    p = PARAMS.model_copy(update={"merchant_fraud_profile_window": "30min"})
    rows = [  # (id, time, customer, merchant, amount, is_fraud, label_time)
        ("a", "00:00", "c1", "mx", 0.01, 0, None),
        ("b", "00:01", "c1", "m", 1e4, 1, at("00:02")),
        ("c", "01:40", "c2", "mx", 10.0, 0, None),
        ("d", "01:41", "c2", "m", 10.3, 1, at("01:42")),
        ("q", "01:50", "c3", "m", 1.0, 0, None),
    ]
    f = build_features(
        frame(
            [
                {
                    "transaction_id": i,
                    "timestamp": at(t),
                    "customer_id": c,
                    "merchant_id": m,
                    "amount": a,
                    "is_fraud": y,
                    "label_time": lt,
                }
                for i, t, c, m, a, y, lt in rows
            ]
        ),
        p,
    )
    assert abs(f.loc["q", "merch_known_fraud_amount_ratio_30min"] - 1.03) < 1e-12


# ------------------------------------------------------- hardening (issue 10, item 1)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_feature_is_ever_infinite_at_the_amount_bounds(seed: int) -> None:
    """The smallest and largest valid amounts, bursts at one instant, labels known at once and
    never: every family, with default and tiny windows, gives finite numbers or NaN."""
    from okml.config import DataParams

    rng = np.random.default_rng(seed)
    lo, hi = DataParams().amount_min, DataParams().amount_max
    n = 400
    t0 = pd.Timestamp("2026-01-05T00:00:00Z")
    # many payments at the very same instant, then spread over days
    offsets = np.concatenate([np.zeros(n // 4), rng.integers(0, 40 * 86400, n - n // 4)])
    amount = rng.choice([lo, hi, lo * 3, hi / 7, 1.0], size=n)
    ts = t0 + pd.to_timedelta(np.sort(offsets), unit="s")
    fraud = rng.random(n) < 0.4
    label = pd.Series(ts + pd.to_timedelta(rng.choice([0, 1, 3600, 86400 * 9], n), unit="s"))
    tx = validate(
        pd.DataFrame(
            {
                "transaction_id": [f"t{i}" for i in range(n)],
                "timestamp": ts,
                "customer_id": rng.choice(["c1", "c2", "c3"], n),
                "merchant_id": rng.choice(["m1", "m2"], n),
                "amount": amount,
                "device_id": rng.choice(["d1", "d2", None], n),
                "channel": rng.choice(["app", "web"], n),
                "account_created_at": t0 - pd.Timedelta(days=3),
                "is_fraud": fraud.astype(int),
                "label_time": label.where(fraud | (rng.random(n) < 0.5)),
            }
        )
    )
    for base in (FeatureParams(), PARAMS):
        # every family, the graph ones (off by default) included
        params = base.model_copy(
            update={"families": base.families.model_copy(update={"graph": True, "compromise": True})}
        )
        feats = build_features(tx, params)
        assert set(specs.family for specs in registry(params).values()) <= {
            spec(c, params).family for c in feats.columns
        }
        values = feats.to_numpy()
        assert not np.isinf(values).any(), feats.columns[np.isinf(values).any(axis=0)].tolist()


def test_an_infinite_feature_is_an_error_not_a_value() -> None:
    from okml.errors import FeatureError
    from okml.features.engine import _check_finite

    block = np.array([[1.0, np.nan], [np.inf, 2.0]])
    with pytest.raises(FeatureError, match=r"feature b is infinite for 1 transaction\(s\) \(e.g. 't1'\)"):
        _check_finite(block, ["a", "b"], pd.Index(["t1", "t2"]))


# ------------------------------------------------- the engine returns only what it computed
def test_every_registered_family_has_one_function() -> None:
    from okml.features.engine import _FAMILY
    from okml.features.registry import FAMILIES

    assert tuple(_FAMILY) == FAMILIES


def _tiny() -> pd.DataFrame:
    return frame(
        [
            {"transaction_id": "t1", "timestamp": at("10:00")},
            {"transaction_id": "t2", "timestamp": at("10:05")},
        ]
    )


def test_a_registered_feature_no_family_computes_is_an_error(monkeypatch) -> None:
    from okml.errors import FeatureError
    from okml.features import engine

    real = engine._FAMILY["calendar"]
    monkeypatch.setitem(
        engine._FAMILY,
        "calendar",
        lambda ctx, want: {k: v for k, v in real(ctx, want).items() if k != "hour"},
    )
    with pytest.raises(FeatureError, match="registered feature.*hour were computed by no family"):
        build_features(_tiny(), PARAMS)


@pytest.mark.parametrize(
    ("extra", "why"), [("huor", "not registered"), ("amount", "registered to family 'amount'")]
)
def test_a_family_emitting_a_foreign_name_is_an_error(monkeypatch, extra, why) -> None:
    from okml.errors import FeatureError
    from okml.features import engine

    real = engine._FAMILY["calendar"]
    monkeypatch.setitem(engine._FAMILY, "calendar", lambda ctx, want: real(ctx, want) | {extra: np.zeros(2)})
    with pytest.raises(FeatureError, match=f"family 'calendar' computed feature '{extra}', which is {why}"):
        build_features(_tiny(), PARAMS)
