"""Compensation: who is paid back for a confirmed case, the ledger finance gets, and the money
metrics of evaluation that follow the same rule."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from okml.compensation import LEDGER, ledger, reimbursable
from okml.config import CostParams

TZ = "Asia/Shanghai"
T0 = pd.Timestamp("2026-03-01 02:00", tz="UTC")  # 10:00 in Shanghai, local day 2026-03-01
D = pd.Timedelta(days=1)
LATER = pd.Timestamp("2030-01-01", tz="UTC")


def _tx() -> pd.DataFrame:
    rows = [  # id, time, customer, merchant, amount, fraud, type, label time
        (1, T0, "C1", "M1", 100.0, 1, "account_takeover", T0 + D),
        (2, T0 - 400 * D, "C1", "M1", 7.0, 1, "account_takeover", T0 - 399 * D),  # before the look-back
        (3, T0 + pd.Timedelta(hours=2), "C1", "M2", 5.0, 0, None, pd.NaT),
        (4, T0, "C2", "M3", 50.0, 1, "fake_orders", T0 + D),  # first-party: no victim
        (5, T0, "C3", "M9", 30.0, 1, "compromised_merchant", T0 + D),
        (6, T0 - 4 * D, "C4", "M9", 40.0, 1, "compromised_merchant", T0),  # skimmed there too
        (7, T0 + 4 * D, "C4", "M9", 45.0, 1, "compromised_merchant", T0 + 5 * D),  # after the case
        (8, T0, "C5", "M9", 20.0, 0, None, pd.NaT),
        (9, T0 - D, "C4", "M2", 60.0, 1, "account_takeover", LATER),  # not known yet
    ]
    tx = pd.DataFrame(rows, columns=["transaction_id", "timestamp", "customer_id", "merchant_id", "amount",
                                     "is_fraud", "fraud_type", "label_time"])  # fmt: skip
    tx["timestamp"] = pd.to_datetime(tx["timestamp"], utc=True)
    tx["label_time"] = pd.to_datetime(tx["label_time"], utc=True)
    tx["is_fraud"] = tx["is_fraud"].astype("int8")
    tx["fraud_type"] = tx["fraud_type"].astype("category")
    return tx


def _confirmed(*cases: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"{day}/{c}", c, day, time, "ana") for c, day, time in cases],
        columns=["case_id", "customer_id", "day", "time", "reviewer"],
    )


def test_a_confirmed_case_pays_back_its_victims_once() -> None:
    confirmed = _confirmed(
        ("C1", "2026-03-01", "2026-03-02T01:00:00Z"),
        ("C2", "2026-03-01", "2026-03-02T02:00:00Z"),
        ("C3", "2026-03-01", "2026-03-02T03:00:00Z"),  # reveals merchant M9
        ("C4", "2026-03-01", "2026-03-02T04:00:00Z"),  # C4's own M9 fraud is already listed
    )
    out = ledger(_tx(), confirmed, TZ, "30D", as_of=pd.Timestamp("2026-12-01", tz="UTC"))
    assert list(out.columns) == list(LEDGER)
    assert out[["payee", "transaction_id", "amount", "basis"]].values.tolist() == [
        ["C1", 1, 100.0, "own confirmed fraud"],  # not payment 2: before the look-back
        ["C3", 5, 30.0, "own confirmed fraud"],
        ["C4", 6, 40.0, "customer of compromised merchant M9"],  # once; not 7 (after), not 9 (unknown)
    ]
    assert out.loc[out["transaction_id"] == 6, "case_id"].item() == "2026-03-01/C3"
    assert out["amount"].sum() == 170.0
    # no confirmed case, nothing to pay; a type-less dataset pays every confirmed fraud back
    assert ledger(_tx(), _confirmed(), TZ).empty
    untyped = ledger(_tx().drop(columns="fraud_type"), confirmed.iloc[[1]], TZ, as_of=LATER - D)
    assert untyped["transaction_id"].tolist() == [4] and untyped["fraud_type"].isna().all()


def test_the_money_metrics_use_the_ledgers_rule() -> None:
    from okml.evaluate.metrics import money

    assert reimbursable(pd.Series(["fake_orders", "forged_identity", "account_takeover", None])).tolist() == [
        False, False, True, True,
    ]  # fmt: skip
    tx = _tx().assign(score=0.0)
    cost = CostParams(review_cost=0.0, reimbursed_share=1.0, false_alert_cost=0.0)
    res = money(tx, [False] * len(tx), cost)  # nothing flagged: every fraud missed
    frauds = tx[tx["is_fraud"] == 1]
    assert res["missed_amount"] == frauds["amount"].sum()
    # the fake order (50) has no victim: it is lost, but nobody is paid back for it
    assert res["compensation"] == frauds["amount"].sum() - 50.0


def _decide(store, customer: str, day: str, ids: list[int], decision: str) -> None:
    case = SimpleNamespace(
        case_id=f"{day}/{customer}", customer_id=customer, day=day,
        payments=pd.DataFrame({"transaction_id": ids}), score=0.9,
    )  # fmt: skip
    store.decide(case, decision, "checked", "ana", "okpay-fraud/1")


def test_okml_cases_compensation_writes_the_ledger(tmp_path, capsys) -> None:
    from okml.cli import main
    from okml.review import ReviewStore

    data = tmp_path / "tx.parquet"
    _tx().to_parquet(data, index=False)
    db = tmp_path / "review" / "review.db"
    store = ReviewStore(db)
    store.add_reviewer("ana")
    _decide(store, "C1", "2026-03-01", [1], "fraud")
    _decide(store, "C3", "2026-03-01", [5], "fraud")
    _decide(store, "C5", "2026-03-01", [8], "fraud")  # then changed: legitimate counts
    _decide(store, "C5", "2026-03-01", [8], "legitimate")
    _decide(store, "C2", "2026-03-03", [4], "fraud")  # another day
    store.close()
    sets = ["--set", f"data.path={data}", "--set", f"data.review_db={db}",
            "--set", f"data.labels_dir={tmp_path / 'labels'}"]  # fmt: skip
    assert main(["cases", "--compensation", "--from", "2026-03-01", "--to", "2026-03-02", *sets]) == 0
    out = capsys.readouterr().out
    assert "2 case(s) confirmed as fraud on 2026-03-01 .. 2026-03-02: 3 payment(s) to pay back" in out
    assert "170.00 in all" in out
    book = pd.read_csv(db.parent / "compensation-2026-03-01_2026-03-02.csv")
    assert book["transaction_id"].tolist() == [1, 5, 6] and book["amount"].sum() == 170.0
    assert list(book.columns) == list(LEDGER)
    # one-line errors
    for argv, message in [
        (["--from", "2026-03-01"], "--compensation needs --from D1 and --to D2"),
        (["--from", "2026-03-05", "--to", "2026-03-01"], "is after --to"),
        (["--from", "soon", "--to", "2026-03-01"], "not a date"),
    ]:
        assert main(["cases", "--compensation", *argv, *sets]) != 0
        assert message in capsys.readouterr().err
    gone = ["--set", f"data.review_db={tmp_path / 'none.db'}"]
    assert main(["cases", "--compensation", "--from", "2026-03-01", "--to", "2026-03-02", *sets, *gone]) != 0
    assert "no review database yet" in capsys.readouterr().err


@pytest.mark.parametrize("column", ["is_fraud", "amount"])
def test_the_ledger_names_what_it_lacks(column) -> None:
    from okml.errors import DataError

    with pytest.raises(DataError, match=f"lack {column}"):
        ledger(_tx().drop(columns=column), _confirmed(), TZ)
