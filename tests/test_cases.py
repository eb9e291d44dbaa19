"""Cases: one customer's flagged payments of a local day, ranked, with context and reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from okml.cases import HEADER, build_cases, cases_frame
from okml.errors import DataError


def _reasons(*pairs: tuple[str, float, str]) -> str:
    return json.dumps(
        [{"group": g, "feature": g, "value": 1.0, "contribution": c, "text": t} for g, c, t in pairs]
    )


def _scored() -> pd.DataFrame:
    t = pd.to_datetime
    rows = [
        # id, time (UTC), customer, merchant, device, amount, score, flag, reasons
        (1, "2026-01-25 08:00", "C1", "M9", "D1", 5.0, 0.10, False, None),  # 35 days before: not context
        (2, "2026-02-28 08:00", "C1", "M1", "D1", 7.0, 0.20, False, None),  # context
        (3, "2026-03-01 02:00", "C1", "M1", "D1", 10.0, 0.80, True,
         _reasons(("customer_count", 1.0, "3 payments in the last hour"),
                  ("new_device", 0.2, "first payment from this device"))),
        (4, "2026-03-01 03:00", "C1", "M2", "D2", 20.0, 0.60, True,
         _reasons(("customer_count", 1.5, "4 payments in the last hour"))),
        (5, "2026-03-01 04:00", "C1", "M2", "D2", 1.0, 0.05, False, None),  # after the last flag: not context
        (6, "2026-03-01 05:00", "C2", "M3", None, 50.0, 0.90, True,
         _reasons(("amount", 2.0, "amount 50.00"))),
        # 17:30 UTC is 01:30 the next day in Shanghai: a case of 03-02
        (7, "2026-03-01 17:30", "C3", "M3", "D3", 8.0, 0.70, True, _reasons(("amount", 0.5, "amount 8.00"))),
        (8, "2026-03-01 06:00", "C4", "M4", "D4", 9.0, 0.30, False, None),
    ]  # fmt: skip
    cols = ["transaction_id", "timestamp", "customer_id", "merchant_id", "device_id", "amount", "score",
            "flag", "reasons"]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols).sample(frac=1.0, random_state=3)  # order does not matter
    df["timestamp"] = t(df["timestamp"], utc=True)
    return df


def test_cases_group_a_customers_flagged_payments_of_the_local_day() -> None:
    cases = build_cases(_scored(), "Asia/Shanghai", lookback="30D")
    assert [(c.day, c.rank, c.customer_id) for c in cases] == [
        ("2026-03-01", 1, "C2"),  # 0.90
        ("2026-03-01", 2, "C1"),  # 0.80
        ("2026-03-02", 1, "C3"),
    ]
    c1 = cases[1]
    assert c1.case_id == "2026-03-01/C1"
    assert (c1.score, c1.n_flagged, c1.flagged_amount) == (0.80, 2, 30.0)
    assert c1.payments["transaction_id"].tolist() == [3, 4]
    assert c1.merchants == ["M1", "M2"] and c1.devices == ["D1", "D2"]
    # context: the customer's other payments within 30 days before the last flagged one
    assert c1.context["transaction_id"].tolist() == [2]
    # reasons summed over the case, worded by the payment where each weighed most
    assert [(r.group, r.contribution, r.text, r.payments) for r in c1.reasons] == [
        ("customer_count", 2.5, "4 payments in the last hour", 2),
        ("new_device", 0.2, "first payment from this device", 1),
    ]
    assert cases[0].devices == []  # C2's payment has no device


def test_cases_follow_the_queue_order_of_a_file_scored_rings_first() -> None:
    """C1's payment 4 is in a ring (priority = score + 1): its case comes before C2's, whose
    score is higher; the case's score stays the model's."""
    scored = _scored()
    scored["priority"] = scored["score"] + (scored["transaction_id"] == 4)
    cases = build_cases(scored, "Asia/Shanghai", lookback="30D")
    assert [(c.day, c.rank, c.customer_id) for c in cases] == [
        ("2026-03-01", 1, "C1"),
        ("2026-03-01", 2, "C2"),
        ("2026-03-02", 1, "C3"),
    ]
    assert cases[0].score == 0.80


def test_a_longer_lookback_reaches_further_and_the_time_zone_decides_the_day() -> None:
    later = build_cases(_scored(), "UTC", lookback="40D")
    c1 = next(c for c in later if c.customer_id == "C1")
    assert c1.context["transaction_id"].tolist() == [1, 2]  # 40 days reach payment 1
    # in UTC, C3's payment is on 03-01: the same day as the others
    assert {c.day for c in later} == {"2026-03-01"}


def test_every_flagged_payment_is_in_exactly_one_case() -> None:
    rng = np.random.default_rng(0)
    n = 400
    start = pd.Timestamp("2026-03-01", tz="UTC")
    scored = pd.DataFrame({
        "transaction_id": np.arange(n),
        "timestamp": start + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s"),
        "customer_id": rng.choice([f"C{i}" for i in range(30)], n),
        "merchant_id": rng.choice(["M1", "M2", "M3"], n),
        "amount": rng.uniform(1, 100, n).round(2),
        "score": rng.uniform(0, 1, n),
    })  # fmt: skip
    scored["flag"] = scored["score"] > 0.8
    cases = build_cases(scored, "Asia/Shanghai")
    ids = [t for c in cases for t in c.payments["transaction_id"]]
    assert sorted(ids) == sorted(scored.loc[scored["flag"], "transaction_id"])
    frame = cases_frame(cases)
    assert list(frame.columns) == list(HEADER) and len(frame) == len(cases)
    for _, day in frame.groupby("day"):
        assert day["rank"].tolist() == list(range(1, len(day) + 1))
        assert day["score"].is_monotonic_decreasing
    assert list(cases_frame([]).columns) == list(HEADER)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns="score"), "scored rows lack score"),
        (lambda d: d.assign(timestamp=d["timestamp"].dt.tz_localize(None)), "time-zone-aware"),
        (lambda d: d.assign(flag=None), "flag: missing"),
    ],
)
def test_bad_scored_rows_get_one_line(change, message) -> None:
    with pytest.raises(DataError, match=message) as e:
        build_cases(change(_scored()), "UTC")
    assert "\n" not in str(e.value)


def test_okml_cases_prints_the_day_and_writes_csv(tmp_path, capsys) -> None:
    from okml.cli import main

    scored = tmp_path / "scored.parquet"
    _scored().to_parquet(scored, index=False)
    out = tmp_path / "cases.csv"
    args = ["cases", "--scored", str(scored), "--date", "2026-03-01", "--output", str(out),
            "--set", "features.timezone=Asia/Shanghai"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2 cases on 2026-03-01 (Asia/Shanghai)" in text and "C2" in text
    table = pd.read_csv(out)
    assert table["customer_id"].tolist() == ["C2", "C1"]
    assert table.loc[1, "reasons"] == "4 payments in the last hour | first payment from this device"
    assert main([*args[:3], "--date", "2026-02-01"]) == 2  # a day without cases: one line, exit 2
    assert "no case that day" in capsys.readouterr().err
