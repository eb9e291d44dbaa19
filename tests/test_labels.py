"""Label events (chargebacks, user reports, reviews): checked, stored, merged into is_fraud and
label_time, and seen by the features of later payments only."""

from __future__ import annotations

import pandas as pd
import pytest

from okml.config import DataParams, FeatureParams
from okml.data import load
from okml.data.labels import merge_labels, read_label_events
from okml.errors import DataError

T0 = pd.Timestamp("2026-03-01 10:00", tz="UTC")
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)


def _tx() -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": [1, 2, 3, 4, 5, 6],
        "timestamp": [T0, T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 10 * D, T0 + 11 * D],
        "customer_id": ["C1", "C2", "C3", "C4", "C4", "C4"],
        "merchant_id": ["M1", "M1", "M2", "M2", "M2", "M3"],
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        "is_fraud": pd.array([0, 1, 0, 0, 0, 0], dtype="int8"),
        "label_time": [pd.NaT, T0 + H + 2 * D, pd.NaT, pd.NaT, pd.NaT, pd.NaT],
    })  # fmt: skip


def _events(rows: list[tuple]) -> pd.DataFrame:
    e = pd.DataFrame(rows, columns=["transaction_id", "is_fraud", "source", "time"])
    e["is_fraud"] = e["is_fraud"].astype("int8")
    return e


def test_the_strongest_source_decides_and_the_earliest_fraud_is_when_it_was_known() -> None:
    tx = _tx()
    tx["label_time"] = pd.to_datetime(tx["label_time"], utc=True)
    events = _events([
        (1, 1, "user_report", T0 + 1 * H),   # a report, then the reviewer says legitimate
        (1, 0, "review", T0 + 2 * H),
        (2, 1, "user_report", T0 + 2 * H),   # the victim reported it before the chargeback
        (3, 0, "review", T0 + 3 * H),        # legitimate, then a chargeback: the chargeback wins
        (3, 1, "chargeback", T0 + 5 * D),
        (4, 1, "user_report", T0 + 4 * H),
        (99, 1, "chargeback", T0),           # another data set's payment: does not apply
    ])  # fmt: skip
    merged = merge_labels(tx, events)
    out = merged.transactions.set_index("transaction_id")
    assert out["is_fraud"].tolist() == [0, 1, 1, 1, 0, 0]
    assert out.loc[1, "label_time"] is pd.NaT
    assert out.loc[2, "label_time"] == T0 + 2 * H and out.loc[2, "label_source"] == "user_report"
    assert out.loc[3, "label_time"] == T0 + 5 * D and out.loc[3, "label_source"] == "chargeback"
    assert out.loc[4, "label_time"] == T0 + 4 * H and out.loc[4, "label_source"] == "user_report"
    assert merged.applied == 6
    conflicts = merged.conflicts.set_index("transaction_id")
    assert sorted(conflicts.index) == [1, 3]
    assert conflicts.loc[3, "verdict"] == "fraud"
    assert conflicts.loc[3, "by"] == "review: legitimate, chargeback: fraud"
    assert conflicts.loc[1, "verdict"] == "legitimate"


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("transaction_id,is_fraud,source,time\n7,1,chargeback,2026-03-02T00:00:00Z\n",
         "unknown transaction ids"),
        ("transaction_id,is_fraud,source,time\nabc,1,review,2026-03-02T00:00:00Z\n",
         "unknown transaction ids"),
        ("transaction_id,is_fraud,source,time\n1,1,rumour,2026-03-02T00:00:00Z\n", "source must be one of"),
        ("transaction_id,is_fraud,source,time\n1,2,review,2026-03-02T00:00:00Z\n", "is_fraud must be 0 or 1"),
        ("transaction_id,is_fraud,source,time\n1,1,review,2026-02-01T00:00:00Z\n",
         "time is before the payment"),
        ("transaction_id,is_fraud,source,time\n1,1,review,2026-03-02 00:00\n", "timezone-naive"),
        ("transaction_id,is_fraud,time\n1,1,2026-03-02T00:00:00Z\n", "missing column source"),
        ("customer_id,from,to,is_fraud,source,time\nC1,2026-04-01T00:00:00Z,2026-04-02T00:00:00Z,1,"
         "user_report,2026-04-03T00:00:00Z\n", "no payment of this customer"),
    ],
)  # fmt: skip
def test_bad_label_files_get_one_line(tmp_path, text, message) -> None:
    with pytest.raises(DataError, match=message) as e:
        read_label_events(_write(tmp_path, text), _tx())
    assert "\n" not in str(e.value) and "labels.csv" in str(e.value)


def test_a_customer_and_a_time_range_label_all_their_payments_in_it(tmp_path) -> None:
    text = "customer_id,from,to,is_fraud,source,time\nC4,2026-03-01T00:00:00Z,2026-03-11T12:00:00Z,1,user_report,2026-03-11T13:00:00Z\n"  # noqa: E501
    events = read_label_events(_write(tmp_path, text), _tx())
    assert events["transaction_id"].tolist() == [4, 5]  # 6 is after the range
    assert (events["source"] == "user_report").all()


def test_an_imported_user_report_changes_a_later_payments_features_only(tmp_path, capsys) -> None:
    from okml.cli import main
    from okml.features import build_features

    data = tmp_path / "tx.parquet"
    _tx().assign(label_time=lambda d: pd.to_datetime(d["label_time"], utc=True)).to_parquet(data, index=False)
    labels = tmp_path / "labels"
    dp = DataParams(path=str(data), labels_dir=str(labels))
    before = build_features(load(data, params=dp), FeatureParams())
    report = _write(tmp_path, "transaction_id,is_fraud,source,time\n4,1,user_report,2026-03-05T00:00:00Z\n")
    sets = ["--set", f"data.path={data}", "--set", f"data.labels_dir={labels}"]
    assert main(["labels", "import", report, *sets]) == 0
    assert "imported 1 label events" in capsys.readouterr().out
    tx = load(data, params=dp)
    assert tx.loc[tx["transaction_id"] == 4, "label_source"].tolist() == ["user_report"]
    after = build_features(tx, FeatureParams())
    col = "cust_known_frauds"
    # payment 5 (03-11) and 6 come after the report (03-05): C4 now has one known fraud
    assert before[col].tolist()[3:] == [0, 0, 0] and after[col].tolist()[3:] == [0, 1, 1]
    others = [c for c in before.columns if not c.startswith(("cust_known", "cust_days_since_known", "merch"))]
    pd.testing.assert_frame_equal(before.iloc[:4][others], after.iloc[:4][others])
    # the same file twice is one stored file; a bad file changes nothing
    assert main(["labels", "import", report, *sets]) == 0
    assert len(list(labels.glob("*.parquet"))) == 1
    bad = _write(tmp_path, "transaction_id,is_fraud,source,time\n77,1,review,2026-03-05T00:00:00Z\n")
    assert main(["labels", "import", bad, *sets]) == 2
    assert "unknown transaction ids" in capsys.readouterr().err
    assert len(list(labels.glob("*.parquet"))) == 1


def test_the_dask_engine_refuses_data_with_imported_labels_instead_of_ignoring_them(tmp_path) -> None:
    from okml.data.labels import store_label_events
    from okml.data.partitioned import load_dask
    from okml.errors import ConfigError

    data = tmp_path / "tx.parquet"
    _tx().drop(columns="label_time").to_parquet(data, index=False)
    store_label_events(_events([(4, 1, "user_report", T0 + 4 * H)]), tmp_path / "labels", "reports.csv")
    with pytest.raises(ConfigError, match="only the local engine merges"):
        load_dask(data, params=DataParams(labels_dir=str(tmp_path / "labels")))


def test_a_second_import_lists_conflicts_as_load_merges_them(tmp_path, capsys) -> None:
    """A review of *legitimate* after an imported user report: the review wins, as in
    okml.data.load, and the listing says so (the transactions are merged once)."""
    from okml.cli import main

    data = tmp_path / "tx.parquet"
    _tx().assign(label_time=lambda d: pd.to_datetime(d["label_time"], utc=True)).to_parquet(data, index=False)
    sets = ["--set", f"data.path={data}", "--set", f"data.labels_dir={tmp_path / 'labels'}",
            "--set", "data.review_db=null"]  # fmt: skip
    report = _write(tmp_path, "transaction_id,is_fraud,source,time\n4,1,user_report,2026-03-05T00:00:00Z\n")
    assert main(["labels", "import", report, *sets]) == 0
    review = tmp_path / "review.csv"
    review.write_text("transaction_id,is_fraud,source,time\n4,0,review,2026-03-06T00:00:00Z\n")
    capsys.readouterr()
    assert main(["labels", "import", str(review), *sets]) == 0
    out = capsys.readouterr().out
    assert "4: legitimate (user_report: fraud, review: legitimate)" in out
    merged = load(data, params=DataParams(labels_dir=str(tmp_path / "labels"), review_db=None))
    assert merged.loc[merged["transaction_id"] == 4, "is_fraud"].item() == 0
