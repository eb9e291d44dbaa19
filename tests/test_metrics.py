"""Fraud metrics on tiny hand-made scored frames; expected values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from okml.config import CostParams
from okml.evaluate import metrics as m

COST = CostParams(review_cost=5, false_alert_cost=2, reimbursed_share=1)


def _ts(day: int, hour: int = 12) -> pd.Timestamp:
    return pd.Timestamp("2026-03-01", tz="UTC") + pd.Timedelta(days=day - 1, hours=hour)


# Three days, k=2 in most tests. Per-day customer max scores:
#   day 1: c1 0.9 (fraud), c2 0.8, c3 0.3 (fraud), c4 0.2
#   day 2: c1 0.95 (fraud), c3 0.7 (fraud), c4 0.6, c5 0.6 (fraud)   <- c4/c5 tie
#   day 3: c6 0.1 (fraud)                                             <- fewer than k customers
ROWS = [
    # day, hour, customer, score, fraud, amount, type
    (1, 9, "c1", 0.9, 1, 100.0, "ato"),
    (1, 10, "c1", 0.1, 0, 10.0, None),
    (1, 11, "c2", 0.8, 0, 20.0, None),
    (1, 12, "c3", 0.3, 1, 50.0, "card"),
    (1, 13, "c4", 0.2, 0, 5.0, None),
    (2, 9, "c1", 0.95, 1, 200.0, "ato"),
    (2, 10, "c3", 0.7, 1, 70.0, "card"),
    (2, 11, "c4", 0.6, 0, 30.0, None),
    (2, 12, "c5", 0.6, 1, 40.0, "card"),
    (3, 9, "c6", 0.1, 1, 60.0, "ato"),
]


@pytest.fixture
def scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": [_ts(d, h) for d, h, *_ in ROWS],
            "customer_id": [r[2] for r in ROWS],
            "score": [r[3] for r in ROWS],
            "is_fraud": [r[4] for r in ROWS],
            "amount": [r[5] for r in ROWS],
            "fraud_type": pd.array([r[6] for r in ROWS], dtype="string"),
        }
    )


# --------------------------------------------------------------------------- CP@k
def test_card_precision_removes_caught_customers_and_breaks_ties_by_customer(scored) -> None:
    per_day, alerts = m.daily_top_k(scored, k=2)
    # day 1: c1, c2 alerted -> 1/2, c1 caught. day 2: c1 removed; c3 0.7 then the c4/c5 tie
    # at 0.6 goes to c4 (lower id) -> 1/2. day 3: one customer, a fraud -> 1/1.
    assert per_day["precision"].tolist() == [0.5, 0.5, 1.0]
    assert per_day["customers"].tolist() == [4, 3, 1]
    assert per_day["fraud_customers"].tolist() == [2, 2, 1]
    assert per_day["alerts"].tolist() == [2, 2, 1]
    assert per_day["detected"].tolist() == [1, 1, 1]
    assert alerts["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c6"]
    assert m.card_precision_at_k(scored, k=2) == pytest.approx(2 / 3)


def test_card_precision_without_removal(scored) -> None:
    # day 2 keeps c1 (0.95, fraud) and c3 (0.7, fraud) -> 1.0; mean (0.5 + 1 + 1) / 3
    assert m.card_precision_at_k(scored, k=2, remove_detected=False) == pytest.approx(2.5 / 3)


def test_card_precision_k_larger_than_customers_uses_all_customers(scored) -> None:
    # k=10: day 1 alerts all 4 customers, 2 frauds (c1, c3, both caught) -> 0.5; day 2: c1
    # and c3 removed, c4 and c5 -> 1/2; day 3 -> 1 (the Handbook would give 2/10, 2/10, 1/10)
    per_day, _ = m.daily_top_k(scored, k=10)
    assert per_day["precision"].tolist() == [0.5, 0.5, 1.0]
    assert per_day["alerts"].tolist() == [4, 2, 1]


def test_card_precision_k1(scored) -> None:
    # k=1: day 1 c1 (fraud, caught); day 2 c3 0.7 (fraud); day 3 c6 (fraud)
    assert m.card_precision_at_k(scored, k=1) == 1.0


def test_card_precision_ignores_row_order(scored) -> None:
    shuffled = scored.sample(frac=1, random_state=3)
    assert m.card_precision_at_k(shuffled, k=2) == pytest.approx(2 / 3)


def test_card_precision_rejects_bad_input(scored) -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        m.card_precision_at_k(scored, k=0)
    with pytest.raises(ValueError, match="NaN"):
        m.card_precision_at_k(scored.assign(score=np.nan), k=2)


def test_card_precision_does_not_mutate_input(scored) -> None:
    before = scored.copy()
    m.card_precision_at_k(scored, k=2)
    m.money(scored, m.flags_top_k(scored, 2), COST)
    pd.testing.assert_frame_equal(scored, before)


# ------------------------------------------------------------------- operating points
def test_top_k_flags(scored) -> None:
    # day 1 cut-off 0.8: c1's 0.9 and c2's 0.8 flagged, c1's 0.1 not. day 2 cut-off 0.6:
    # c3 and c4 (alerted) flagged, c5 (0.6, not alerted) and c1 (caught) not. day 3: c6.
    expected = [True, False, True, False, False, False, True, True, False, True]
    assert m.flags_top_k(scored, k=2).tolist() == expected


def test_money_at_top_k(scored) -> None:
    res = m.money(scored, m.flags_top_k(scored, k=2), COST)
    # caught: c1 100 (flagged), c1 200 (blocked after day 1's true alert), c3 70, c6 60
    assert res["fraud_amount"] == 520
    assert res["caught_amount"] == 430
    assert res["missed_amount"] == 90
    assert res["compensation"] == 90
    # alerts: day 1 c1 c2, day 2 c3 c4, day 3 c6 = 5 over 3 days, 2 of them false
    assert res["alerts_per_day"] == pytest.approx(5 / 3)
    assert res["false_alerts_per_day"] == pytest.approx(2 / 3)
    assert res["alert_precision"] == pytest.approx(3 / 5)
    assert res["recall"] == pytest.approx(4 / 6)
    assert res["expected_cost"] == 5 * 5 + 2 * 2 + 90


def test_money_at_threshold_blocks_after_true_alert(scored) -> None:
    flags = m.flags_threshold(scored, 0.65)
    out = m.outcome(scored, flags)
    # c1's day-2 payment scores 0.95 but c1 was blocked after day 1: no second alert
    assert out["blocked"].tolist() == [False] * 5 + [True] + [False] * 4
    assert out["flagged"].tolist() == [True, False, True] + [False] * 3 + [True] + [False] * 3
    res = m.money(scored, flags, COST)
    assert res["caught_amount"] == 370
    assert res["missed_amount"] == 150
    assert res["alerts_per_day"] == pytest.approx(3 / 3)
    assert res["expected_cost"] == 3 * 5 + 1 * 2 + 150


def test_money_scales_compensation(scored) -> None:
    cost = CostParams(review_cost=0, false_alert_cost=0, reimbursed_share=0.5)
    res = m.money(scored, m.flags_threshold(scored, 0.65), cost)
    assert res["compensation"] == 75
    assert res["expected_cost"] == 75


def test_money_is_rounded_to_cents() -> None:
    # float sums carry noise: 0.1 + 0.2 is 0.30000000000000004, and a run's missed_amount
    # read 31315.780000000003; amounts are money, so every amount is rounded to cents
    frame = pd.DataFrame(
        {
            "timestamp": [_ts(1, h) for h in (9, 10, 11, 12)],
            "customer_id": ["a", "b", "c", "d"],
            "score": [0.9, 0.8, 0.7, 0.1],
            "is_fraud": [1, 1, 1, 0],
            "amount": [0.1, 0.2, 31315.58, 7.0],
        }
    )
    assert 0.1 + 0.2 != 0.3 and 31315.58 + 0.2 != 31315.78
    nothing = m.money(frame, np.zeros(4, bool), CostParams(review_cost=1, reimbursed_share=1 / 3))
    assert nothing["fraud_amount"] == 31315.88 and nothing["caught_amount"] == 0
    assert nothing["missed_amount"] == 31315.88
    assert nothing["compensation"] == 10438.63  # a third of it, to the cent
    assert nothing["expected_cost"] == 10438.63
    first = m.money(frame, np.array([True, False, False, False]), COST)
    assert first["caught_amount"] == 0.1 and first["missed_amount"] == 31315.78
    both = m.money(frame, np.array([True, True, False, False]), COST)
    assert both["caught_amount"] == 0.3 and both["missed_amount"] == 31315.58
    for v in m.cost_curve(frame, COST)[["missed_amount", "expected_cost"]].to_numpy().ravel():
        assert v == round(v, 2)


def test_recall_by_type(scored) -> None:
    res = m.recall_by_type(scored, m.flags_top_k(scored, k=2))
    # ato: c1 d1 flagged, c1 d2 blocked, c6 flagged; card: c3 d1 missed, c3 d2 caught, c5 missed
    assert res == {"ato": 1.0, "card": pytest.approx(1 / 3)}
    assert m.recall_by_type(scored.drop(columns="fraud_type"), np.zeros(10, bool)) == {}


def test_money_rejects_wrong_flag_count(scored) -> None:
    with pytest.raises(ValueError, match="3 flags for 10 transactions"):
        m.money(scored, [True, False, True], COST)


# ------------------------------------------------------------------------ cost search
def _cost_frame(fraud_c_amount: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": [_ts(1)] * 4,
            "customer_id": ["a", "b", "c", "d"],
            "score": [0.9, 0.7, 0.5, 0.2],
            "is_fraud": [1, 0, 1, 0],
            "amount": [100.0, 10.0, fraud_c_amount, 10.0],
        }
    )


def test_cost_curve_by_hand() -> None:
    curve = m.cost_curve(_cost_frame(8.0), COST)
    # flag nothing: 108 missed; >=0.9: 1 alert, 8 missed; >=0.7: 2 alerts (1 false) + 8;
    # >=0.5: 3 alerts (1 false); >=0.2: 4 alerts (2 false)
    assert curve["threshold"].tolist() == [math.inf, 0.9, 0.7, 0.5, 0.2]
    assert curve["expected_cost"].tolist() == [108, 13, 20, 17, 24]


@pytest.mark.parametrize(("amount", "expected"), [(8.0, 0.9), (20.0, 0.5), (12.0, 0.9)])
def test_cost_threshold_by_hand(amount: float, expected: float) -> None:
    # amount 20: >=0.9 costs 5 + 20 = 25 > 17 at 0.5; amount 12: tie at 17, the higher wins
    assert m.cost_threshold(_cost_frame(amount), COST) == expected


def test_cost_threshold_flags_nothing_when_reviews_cost_too_much() -> None:
    cost = CostParams(review_cost=1000, false_alert_cost=0, reimbursed_share=1)
    assert m.cost_threshold(_cost_frame(8.0), cost) == math.inf


def test_candidate_thresholds_are_log_spaced_when_many() -> None:
    scores = np.linspace(0, 1, 10_001)
    ts = m.candidate_thresholds(scores, max_candidates=20)
    assert ts[0] == math.inf and len(ts) <= 21
    assert np.all(np.diff(ts[1:]) < 0)
    assert ts[1] == 1.0  # flags exactly one transaction
    assert (ts[1:] > 0.9).sum() >= 10  # dense where few transactions are flagged


# --------------------------------------------------------------- threshold-free metrics
LEGIT = [0.9, 0.5, 0.3, 0.1]
FRAUD = [0.95, 0.8, 0.4, 0.2]


@pytest.mark.parametrize(("fpr", "expected"), [(0.2, 0.25), (0.25, 0.5), (0.5, 0.75), (1.0, 1.0)])
def test_recall_at_fpr_by_hand(fpr: float, expected: float) -> None:
    # fpr 0.25 allows one false positive (0.9): threshold 0.8 catches 0.95 and 0.8
    y = [0] * 4 + [1] * 4
    assert m.recall_at_fpr(y, LEGIT + FRAUD, fpr) == expected


def test_recall_at_fpr_with_ties() -> None:
    # two legit tied with a fraud at 0.9: flagging 0.9 costs FPR 0.5 at once
    y = [0, 0, 0, 0, 1, 1]
    s = [0.9, 0.9, 0.1, 0.1, 0.9, 0.5]
    assert m.recall_at_fpr(y, s, 0.25) == 0.0
    assert m.recall_at_fpr(y, s, 0.5) == 1.0


def test_single_class_gives_nan() -> None:
    for fn in (m.roc_auc, m.average_precision, m.recall_at_fpr):
        assert math.isnan(fn([0, 0, 0], [0.1, 0.2, 0.3]))
        assert math.isnan(fn([1, 1], [0.1, 0.2]))


def test_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError, match="3 labels but 2 scores"):
        m.roc_auc([0, 1, 0], [0.1, 0.2])


def test_auc_and_ap_by_hand() -> None:
    y = [0] * 4 + [1] * 4
    # AUC: pairs (fraud > legit): 0.95 beats 4, 0.8 beats 3, 0.4 beats 2, 0.2 beats 1 -> 10/16
    assert m.roc_auc(y, LEGIT + FRAUD) == pytest.approx(10 / 16)
    # ranking: 0.95 F, 0.9 L, 0.8 F, 0.5 L, 0.4 F, 0.3 L, 0.2 F
    # AP = 1/4 * (1/1 + 2/3 + 3/5 + 4/7)
    assert m.average_precision(y, LEGIT + FRAUD) == pytest.approx((1 + 2 / 3 + 3 / 5 + 4 / 7) / 4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 10)), min_size=2, max_size=60).filter(
        lambda rows: 0 < sum(r[0] for r in rows) < len(rows)
    )
)
def test_auc_and_ap_match_scikit_learn(rows) -> None:
    # small integer scores make ties common, where implementations usually differ
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] / 10 for r in rows])
    assert m.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert m.average_precision(y, s) == pytest.approx(average_precision_score(y, s))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 1), st.integers(0, 9)),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 4),
)
def test_card_precision_properties(rows, k) -> None:
    df = pd.DataFrame(rows, columns=["day", "customer_id", "is_fraud", "s"])
    df = df.assign(timestamp=[_ts(d + 1) for d in df["day"]], score=df["s"] / 10)
    per_day, alerts = m.daily_top_k(df.drop(columns="day"), k)
    assert per_day["alerts"].le(k).all()
    assert per_day["precision"].between(0, 1).eq(per_day["alerts"] > 0).all()
    # a customer is alerted at most once a day, and never again after being caught
    assert not alerts.duplicated(["day", "customer_id"]).any()
    caught = alerts[alerts["fraud"] == 1].groupby("customer_id")["day"].min()
    later = alerts.merge(caught.rename("caught_day"), on="customer_id")
    assert (later["day"] <= later["caught_day"]).all()
    # flags never exceed k customers a day
    flags = m.flags_top_k(df.drop(columns="day"), k)
    flagged_customers = df[flags].groupby("day")["customer_id"].nunique()
    assert flagged_customers.le(k).all()


def test_day_with_every_customer_caught_is_left_out() -> None:
    # c1 is caught on day 1; on day 2 nobody else pays: no precision that day, mean of day 1
    df = pd.DataFrame(
        {"timestamp": [_ts(1), _ts(2)], "customer_id": ["c1", "c1"], "score": [0.5, 0.5], "is_fraud": [1, 1]}
    )
    per_day, _ = m.daily_top_k(df, k=1)
    assert per_day["alerts"].tolist() == [1, 0]
    assert math.isnan(per_day["precision"].iloc[1])
    assert m.card_precision_at_k(df, k=1) == 1.0
