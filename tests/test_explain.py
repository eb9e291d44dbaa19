"""SHAP contributions, grouped reason codes and their templates.

Exact expectations use a stub booster whose contributions are chosen by hand; faithfulness
to the real model uses a tiny XGBoost model trained on simulated data (and shap itself).
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from okml.config import FeatureParams, ModelParams, SimulateParams
from okml.explain import ExplanationError, explain, feature_groups, shap_values
from okml.explain.humanize import (
    fmt_duration,
    fmt_money,
    fmt_number,
    fmt_ratio,
    fmt_share,
    format_value,
)
from okml.explain.phrases import GENERIC, GROUP_TEXT, group_title
from okml.explain.reasons import reason_text
from okml.features import build_features, registry

CJK = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------------- stub booster
class StubBooster:
    """Returns fixed contributions (bias last) and margins, whatever the matrix."""

    def __init__(self, contribs: np.ndarray, bias: float, margin_offset: float = 0.0) -> None:
        self.contribs = np.asarray(contribs, dtype=np.float32)
        self.bias = bias
        self.offset = margin_offset

    def predict(self, dm: Any, pred_contribs: bool = False, output_margin: bool = False) -> np.ndarray:
        assert dm.num_row() == len(self.contribs)
        full = np.column_stack([self.contribs, np.full(len(self.contribs), self.bias)])
        if pred_contribs:
            return full.astype(np.float32)
        margin = full.sum(axis=1) + self.offset
        return margin if output_margin else 1 / (1 + np.exp(-margin))


# windows 1h and 1d so the usual hourly count is (count_1d - count_1h) / 23
PARAMS = FeatureParams(customer_windows=["1h", "1d"])
COLUMNS = ["cust_count_1h", "cust_count_1d", "cust_first_device", "merch_risk_7d"]


def _frame(rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=COLUMNS, index=pd.Index(["t1", "t2"][: len(rows)], name="transaction_id")
    )


def test_hand_made_case_groups_ranks_and_words_reasons() -> None:
    # customer_count 0.5 + 0.2 = 0.7 (told by the 1h window, the larger part), new device
    # 0.4, merchant risk -0.3 lowers the score: no reason. margin = -2 + 0.8 = -1.2
    feats = _frame([[9, 55, 1, 0.02]])
    booster = StubBooster([[0.5, 0.2, 0.4, -0.3]], bias=-2.0)
    out = explain(booster, feats, COLUMNS, PARAMS, "en", top=3)
    assert out.base_value.iloc[0] == pytest.approx(-2.0)
    assert out.margin.iloc[0] == pytest.approx(-1.2)
    assert out.by_group.iloc[0].to_dict() == pytest.approx(
        {"customer_count": 0.7, "new_device": 0.4, "merchant_risk": -0.3}
    )
    reasons = out.reasons.iloc[0]
    assert [r.group for r in reasons] == ["customer_count", "new_device"]
    assert [r.feature for r in reasons] == ["cust_count_1h", "cust_first_device"]
    assert [r.contribution for r in reasons] == pytest.approx([0.7, 0.4])
    assert [r.text for r in reasons] == [
        "9 payments in the last hour (usual for this customer: about 2 payments)",
        "first payment from this device",
    ]
    cols = out.reason_columns(3)
    assert cols.loc["t1", "reason_1"] == reasons[0].text
    assert pd.isna(cols.loc["t1", "reason_3"])
    assert '"group": "customer_count"' in cols.loc["t1", "reasons"]


def test_top_limits_reasons_and_zero_skips_text() -> None:
    feats = _frame([[9, 55, 1, 0.2]])
    booster = StubBooster([[0.5, 0.2, 0.4, 0.3]], bias=-2.0)
    assert [r.group for r in explain(booster, feats, COLUMNS, PARAMS, top=1).reasons.iloc[0]] == [
        "customer_count"
    ]
    assert explain(booster, feats, COLUMNS, PARAMS, top=0).reasons.iloc[0] == []


def test_chinese_reasons() -> None:
    feats = _frame([[9, 55, 1, 0.18]])
    booster = StubBooster([[0.5, 0.2, 0.4, 0.1]], bias=-2.0)
    texts = [r.text for r in explain(booster, feats, COLUMNS, PARAMS, "zh").reasons.iloc[0]]
    assert texts == [
        "过去1小时内有9笔支付（该客户通常约2笔支付）",
        "该客户首次使用该设备支付",
        "该商户过去7天内已确认欺诈占18%",
    ]


def test_contributions_that_miss_the_margin_raise() -> None:
    feats = _frame([[9, 55, 1, 0.2]])
    booster = StubBooster([[0.5, 0.2, 0.4, 0.3]], bias=-2.0, margin_offset=0.01)
    with pytest.raises(ExplanationError, match="do not add up"):
        explain(booster, feats, COLUMNS, PARAMS)


def test_bad_arguments_are_rejected() -> None:
    feats = _frame([[9, 55, 1, 0.2]])
    booster = StubBooster([[0.5, 0.2, 0.4, 0.3]], bias=-2.0)
    with pytest.raises(ValueError, match="unknown language"):
        explain(booster, feats, COLUMNS, PARAMS, language="fr")
    with pytest.raises(ValueError, match="top"):
        explain(booster, feats, COLUMNS, PARAMS, top=-1)
    with pytest.raises(KeyError, match="merch_risk_7d"):
        explain(booster, feats.drop(columns="merch_risk_7d"), COLUMNS, PARAMS)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (5, 4), elements=st.floats(-3, 3, width=32)), st.floats(-5, 5), st.integers(1, 4))
def test_reasons_are_the_largest_positive_groups(contribs: np.ndarray, bias: float, top: int) -> None:
    feats = pd.DataFrame(np.ones((5, 4)), columns=COLUMNS)
    out = explain(StubBooster(contribs, bias), feats, COLUMNS, PARAMS, top=top)
    total = out.base_value + out.by_group.sum(axis=1)
    np.testing.assert_allclose(total, out.margin, atol=1e-4)
    for i, reasons in enumerate(out.reasons):
        groups = out.by_group.iloc[i]
        positive = groups[groups > 1e-6].sort_values(ascending=False, kind="stable")
        assert [r.group for r in reasons] == list(positive.index[:top])
        assert all(r.contribution > 0 and r.text for r in reasons)
        for r in reasons:  # the text is told through the group's largest member
            members = out.groups[r.group]
            assert r.feature == out.contributions.iloc[i][members].idxmax()


# ------------------------------------------------------------------ the real model
@pytest.fixture(scope="module")
def model() -> tuple[Any, pd.DataFrame, list[str], pd.DataFrame]:
    from okml.models import build_estimator, final_booster
    from okml.simulate import simulate

    tx = simulate(SimulateParams(n_customers=150, n_merchants=60, n_days=20, seed=3))
    feats = build_features(tx, FeatureParams())
    est = build_estimator(ModelParams(n_estimators=15, max_depth=3, n_jobs=1))
    est.fit(feats, tx["is_fraud"].to_numpy())
    return final_booster(est), feats, list(feats.columns), tx


def test_contributions_add_up_to_the_margin_and_match_shap(model) -> None:
    import shap
    import xgboost as xgb

    booster, feats, columns, _ = model
    rows = feats.iloc[:300]
    contrib, base, margin = shap_values(booster, rows, columns)
    dm = xgb.DMatrix(rows.to_numpy(np.float32), feature_names=columns, missing=np.nan)
    expected = booster.predict(dm, output_margin=True)
    np.testing.assert_allclose(base + contrib.sum(axis=1), expected, atol=1e-4)
    np.testing.assert_allclose(margin, expected, atol=1e-6)
    explanation = shap.TreeExplainer(booster)(rows[columns])
    np.testing.assert_allclose(contrib.to_numpy(), explanation.values, atol=1e-4)
    np.testing.assert_allclose(explanation.base_values, base, atol=1e-4)


def test_real_model_reasons_are_stable_and_faithful(model) -> None:
    booster, feats, columns, tx = model
    rows = feats.iloc[-200:]
    amounts = tx["amount"].iloc[-200:]
    first = explain(booster, rows, columns, FeatureParams(), "en", 3, transactions=amounts)
    again = explain(booster, rows, columns, FeatureParams(), "en", 3, transactions=amounts)
    # compared as text: a reason may carry a NaN value (a feature with no history), and
    # NaN != NaN would fail the comparison of equal reasons
    assert repr(first.reasons.tolist()) == repr(again.reasons.tolist())
    # one row alone gets the same reasons as in a batch
    alone = explain(
        booster, rows.iloc[[7]], columns, FeatureParams(), "en", 3, transactions=amounts.iloc[[7]]
    )
    assert alone.reasons.iloc[0] == first.reasons.iloc[7]
    np.testing.assert_allclose(first.base_value + first.by_group.sum(axis=1), first.margin, atol=1e-3)
    for i, reasons in enumerate(first.reasons):
        for r in reasons:
            assert r.contribution > 0
            assert r.contribution == pytest.approx(first.by_group.iloc[i][r.group])
    zh = explain(booster, rows, columns, FeatureParams(), "zh", 3, transactions=amounts)
    texts = [r.text for rs in zh.reasons for r in rs]
    assert texts and all(CJK.search(t) for t in texts)
    assert [r.group for r in zh.reasons.iloc[0]] == [r.group for r in first.reasons.iloc[0]]


def test_feature_groups_follow_the_registry() -> None:
    groups = feature_groups(["cust_count_1h", "hour", "cust_count_1d", "is_night", "mystery"])
    assert groups == {
        "customer_count": ["cust_count_1h", "cust_count_1d"],
        "time_of_day": ["hour", "is_night"],
        "mystery": ["mystery"],
    }


# ----------------------------------------------------------------------- templates
def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_registry_group_has_english_and_chinese_text() -> None:
    groups = {s.group for s in registry(FeatureParams()).values()}
    assert groups <= set(GROUP_TEXT)
    for group, text in GROUP_TEXT.items():
        assert text.title.en and CJK.search(text.title.zh), group
        assert text.phrases, group
        for case, phrase in text.phrases.items():
            assert phrase.en and not CJK.search(phrase.en), (group, case)
            assert CJK.search(phrase.zh), (group, case)
            assert _fields(phrase.en) == _fields(phrase.zh), (group, case)
    assert _fields(GENERIC.en) == _fields(GENERIC.zh)
    assert group_title("customer_count", "zh") == "客户支付笔数"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("value", [0.0, 1.0, 37.5, float("nan")])
def test_every_feature_has_a_sentence(language: str, value: float) -> None:
    specs = registry(FeatureParams())
    row = dict.fromkeys(specs, value)
    for name in specs:
        text = reason_text(name, row, language=language, amount=120.0)
        assert text and "{" not in text, name
        assert bool(CJK.search(text)) == (language == "zh"), (name, text)


@pytest.mark.parametrize(
    ("feature", "row", "amount", "expected"),
    [
        (
            "cust_amount_ratio_30d",
            {"cust_amount_ratio_30d": 12.0},
            3200.0,
            "amount 3,200.00 is 12x this customer's 30-day average (266.67)",
        ),
        (
            "cust_amount_ratio_30d",
            {"cust_amount_ratio_30d": 2.5},
            None,
            "amount is 2.5x this customer's 30-day average",
        ),
        (
            "cust_amount_z_all",
            {"cust_amount_z_all": -1.26},
            5.0,
            "amount 5.00 is 1.3 standard deviations below this customer's average of all earlier payments",
        ),
        (
            "cust_amount_ratio_all",
            {"cust_amount_ratio_all": float("nan")},
            5.0,
            "no earlier payments to compare the amount with",
        ),
        ("cust_first_device", {"cust_first_device": 1.0}, None, "first payment from this device"),
        (
            "cust_first_merchant",
            {"cust_first_merchant": 0.0},
            None,
            "other factors (new merchant for the customer)",
        ),
        (
            "merch_risk_7d",
            {"merch_risk_7d": 0.18},
            None,
            "merchant had 18% confirmed fraud in the last 7 days",
        ),
        (
            "merch_count_1d",
            {"merch_count_1d": 1240.0, "merch_count_30d": 9360.0},
            None,
            "merchant received 1,240 payments in the last day (usual: about 280 payments)",
        ),
        (
            "cust_sum_1d",
            {"cust_sum_1d": 5400.0, "cust_sum_30d": 7140.0},
            None,
            "paid 5,400.00 CNY in the last day (usual for this customer: about 60.00 CNY)",
        ),
        (
            "cust_mean_1d",
            {
                "cust_mean_1d": 800.0,
                "cust_sum_1d": 1600.0,
                "cust_count_1d": 2.0,
                "cust_sum_30d": 2600.0,
                "cust_count_30d": 12.0,
            },
            None,
            "average payment 800.00 CNY in the last day (usual for this customer: 100.00 CNY)",
        ),
        (
            "cust_count_30d",
            {"cust_count_30d": 1.0, "cust_count_1h": 0.0},
            None,
            "other factors (customer's number of payments)",  # no baseline: no direction
        ),
        (
            "is_night",
            {"hour": 3.0, "is_night": 1.0, "is_weekend": 0.0},
            None,
            "payment at night, 03:00-03:59 (Asia/Shanghai)",
        ),
        (
            "is_weekend",
            {"hour": 14.0, "is_night": 0.0, "is_weekend": 1.0},
            None,
            "payment on a weekend (Asia/Shanghai)",
        ),
        (
            "cust_secs_since_prev",
            {"cust_secs_since_prev": float("nan")},
            None,
            "no earlier payment from this customer on record",
        ),
        (
            "cust_secs_since_prev",
            {"cust_secs_since_prev": 45.0},
            None,
            "45 seconds since this customer's previous payment",
        ),
        ("account_age_days", {"account_age_days": 0.5}, None, "account opened 12 hours ago"),
        (
            "cust_known_frauds",
            {"cust_known_frauds": 2.0, "cust_days_since_known_fraud": 3.0},
            None,
            "2 payments of this customer already confirmed as fraud",
        ),
        (
            "device_customers_7d",
            {"device_customers_7d": 4.0},
            None,
            "4 other customers paid from this device in the last 7 days",
        ),
        (
            "cust_hour_share_30d",
            {"cust_hour_share_30d": 0.03},
            None,
            "unusual time of day for this customer: only 3.0% of their payments in the last 30 days were "
            "at this time (within an hour)",
        ),
        (
            "pair_count_1d",
            {"pair_count_1d": 7.0},
            None,
            "7 payments between this customer and this merchant in the last day",
        ),
        ("is_round_amount", {"is_round_amount": 1.0}, None, "round amount (a multiple of 10)"),
        (
            "account_age_days",
            {"account_age_days": float("nan")},
            None,
            "age of the customer's account in days: not available",
        ),
        ("mystery_score", {"mystery_score": 0.5}, None, "mystery_score: 0.5"),
        (
            "cust_amount_median_ratio_30d",
            {"cust_amount_median_ratio_30d": 5.0},
            250.0,
            "amount 250.00 is 5.0x the median of this customer's latest payments in the last 30 days (50.00)",
        ),
        (
            "cust_amount_median_ratio_30d",
            {"cust_amount_median_ratio_30d": float("nan")},
            250.0,
            "no payments in the last 30 days to compare the amount with",
        ),
        (
            "merch_known_frauds_14d",
            {"merch_known_frauds_14d": 3.0, "merch_days_since_known_fraud": 7.5},
            None,
            "merchant received 3 payments in the last 14 days already confirmed as fraud",
        ),
        (
            "merch_known_frauds_14d",
            {"merch_known_frauds_14d": 0.0, "merch_days_since_known_fraud": 40.0},
            None,
            "other factors (merchant's known fraud)",  # long ago: not why the score is high
        ),
        (
            "merch_days_since_known_fraud",
            {"merch_days_since_known_fraud": float("nan")},
            None,
            "other factors (merchant's known fraud)",
        ),
        (
            "merch_delayed_risk_7d",
            {"merch_delayed_risk_7d": 0.5},
            None,
            "50% of this merchant's payments in the 7 days before the last 7 days are confirmed fraud",
        ),
        (
            "merch_delayed_risk_1d",
            {"merch_delayed_risk_1d": float("nan")},
            None,
            "no payments to this merchant in the day before the last 7 days",
        ),
        ("amount", {"amount": 230.0}, None, "amount 230.00 CNY"),
        (
            "cust_max_median_ratio_7d",
            {"cust_max_median_ratio_7d": 5.2},
            None,
            "largest payment in the last 7 days was 5.2x this customer's median amount",
        ),
        (
            "merch_days_since_first_known_fraud",
            {"merch_days_since_first_known_fraud": 30.0, "merch_days_since_known_fraud": 7.0},
            None,
            "earliest confirmed fraud at this merchant was paid 30 days ago",
        ),
        (
            "merch_fraud_streak",
            {
                "merch_fraud_streak": 6.0,
                "merch_fraud_streak_days": 12.0,
                "merch_days_since_clean_payment": 13.0,
            },
            None,
            "the merchant's last 6 payments old enough to be confirmed were all fraud, the run "
            "starting 12 days ago",
        ),
        (
            "merch_days_since_clean_payment",
            {
                "merch_fraud_streak": 0.0,
                "merch_fraud_streak_days": float("nan"),
                "merch_days_since_clean_payment": 8.0,
            },
            None,
            "other factors (merchant's run of confirmed fraud)",
        ),
        (
            "merch_fraud_streak",
            {
                "merch_fraud_streak": 0.0,
                "merch_fraud_streak_days": float("nan"),
                "merch_days_since_clean_payment": float("nan"),
            },
            None,
            "no payment to this merchant is old enough to be confirmed yet",
        ),
        (
            "merch_known_fraud_amount_ratio_30d",
            {"merch_known_fraud_amount_ratio_30d": 1.1},
            None,
            "frauds confirmed at this merchant in the last 30 days were on average 1.1x their "
            "customers' usual amounts",
        ),
        (
            "merch_known_fraud_amount_ratio_30d",
            {"merch_known_fraud_amount_ratio_30d": float("nan")},
            None,
            "other factors (how ordinary the merchant's confirmed frauds looked)",
        ),
    ],
)
def test_reason_sentences(feature: str, row: dict, amount: float | None, expected: str) -> None:
    assert reason_text(feature, row, FeatureParams(), "en", amount) == expected


def test_chinese_sentences() -> None:
    p = FeatureParams()
    assert (
        reason_text("cust_amount_ratio_30d", {"cust_amount_ratio_30d": 12.0}, p, "zh", 3200.0)
        == "金额3,200.00是该客户过去30天平均金额（266.67）的12倍"
    )
    assert reason_text("account_age_days", {"account_age_days": 2.0}, p, "zh") == "账户开立于2.0天前"
    assert (
        reason_text("merch_delayed_risk_7d", {"merch_delayed_risk_7d": 0.5}, p, "zh")
        == "该商户在最近7天之前的7天内的支付中50%已确认为欺诈"
    )
    assert (
        reason_text(
            "merch_fraud_streak", {"merch_fraud_streak": 6.0, "merch_fraud_streak_days": 12.0}, p, "zh"
        )
        == "该商户最近6笔支付（已过标签延迟）全部确认为欺诈，始于12天前"
    )
    assert (
        reason_text(
            "merch_known_fraud_amount_ratio_30d", {"merch_known_fraud_amount_ratio_30d": 1.1}, p, "zh"
        )
        == "该商户过去30天内已确认的欺诈金额平均为对应客户日常金额的1.1倍"
    )
    assert (
        reason_text("cust_first_device", {"cust_first_device": float("nan")}, p, "zh")
        == "该客户首次使用该设备支付：无"
    )
    with pytest.raises(ValueError, match="unknown language"):
        reason_text("cust_first_device", {"cust_first_device": 1.0}, p, "de")


def test_number_formats() -> None:
    assert [fmt_number(x) for x in (0, 9, 1240, 2.5, 0.2, 0.04, 1234.6)] == [
        "0",
        "9",
        "1,240",
        "2.5",
        "0.2",
        "0.04",
        "1,235",
    ]
    assert fmt_money(3200) == "3,200.00" and fmt_money(12.5, "CNY") == "12.50 CNY"
    assert [fmt_share(x) for x in (0.18, 0.045, 0.0004, 0)] == ["18%", "4.5%", "<0.1%", "0%"]
    assert [fmt_ratio(x) for x in (12.04, 2.5, 0.25)] == ["12x", "2.5x", "0.25x"]
    assert fmt_ratio(3, "zh") == "3.0倍"
    assert [fmt_duration(s) for s in (1, 45, 720, 5400, 86400, 86400 * 400)] == [
        "1 second",
        "45 seconds",
        "12 minutes",
        "1.5 hours",
        "1.0 day",
        "1.1 years",
    ]
    assert fmt_duration(5400, "zh") == "1.5小时"
    specs = registry(FeatureParams())
    assert format_value(specs["cust_count_1h"], 1, "en") == "1 payment"
    assert format_value(specs["cust_count_1h"], 9, "zh") == "9笔支付"
    assert format_value(specs["is_night"], 1, "en") == "yes"
    assert format_value(specs["hour"], 23, "en") == "23:00-23:59"


@pytest.mark.parametrize(
    ("feature", "longest", "low", "high", "below", "usual"),
    [
        ("cust_count_7d", "cust_count_30d", (1, 61), (8, 9), "fewer payments than usual: 1 payment",
         "8 payments in the last 7 days (usual for this customer: about 1.3 payments a month)"),
        ("cust_sum_7d", "cust_sum_30d", (10.0, 1010.0), (500.0, 600.0), "paid less than usual: 10.00",
         "paid 500.00 CNY in the last 7 days"),
        ("merch_count_1d", "merch_count_30d", (20, 1020), (90, 100),
         "merchant received fewer payments than usual",
         "merchant received 90 payments in the last day"),
        ("merch_sum_1d", "merch_sum_30d", (5.0, 2905.0), (400.0, 500.0),
         "merchant received less than usual",
         "merchant received 400.00 CNY in the last day"),
    ],
)  # fmt: skip
def test_a_reason_says_which_way_its_value_is_from_usual(feature, longest, low, high, below, usual) -> None:
    """A positive contribution of a count or sum *below* its baseline is worded as fewer or
    less than usual, never as a burst (issue 14); above it, as before."""
    for lang in ("en", "zh"):
        text = reason_text(feature, {feature: low[0], longest: low[1]}, language=lang)
        assert ("少于平时" in text or "低于平时" in text) if lang == "zh" else text.startswith(below)
    assert reason_text(feature, {feature: high[0], longest: high[1]}).startswith(usual)


def test_a_value_about_as_usual_explains_nothing() -> None:
    """'merchant received 32 payments in the last day (usual: 34.3)' was a reason (issue 14):
    within a quarter above or a fifth below its baseline a value is as usual, and a group
    that still raised the score is 'other factors'."""
    assert reason_text("merch_count_1d", {"merch_count_1d": 32, "merch_count_30d": 1032}) == (
        "other factors (merchant's number of payments)"
    )
    assert reason_text("merch_count_1d", {"merch_count_1d": 32, "merch_count_30d": 1032}, language="zh") == (
        "其他因素（商户收款笔数）"
    )


def test_a_mean_below_usual_is_worded_as_smaller_payments() -> None:
    row = {"cust_mean_1d": 10.0, "cust_sum_1d": 20.0, "cust_count_1d": 2.0,
           "cust_sum_30d": 3020.0, "cust_count_30d": 32.0}  # fmt: skip
    assert reason_text("cust_mean_1d", row).startswith("smaller payments than usual: average 10.00 CNY")
    big = {**row, "cust_mean_1d": 500.0, "cust_sum_1d": 1000.0}
    assert reason_text("cust_mean_1d", big).startswith("average payment 500.00 CNY")


def test_every_sentence_of_every_group_is_classified_as_true_or_not() -> None:
    """The wording rule covers every reason group: each of its sentences is declared always a
    reason, never one, or checked against the row (okml.explain.reasons.READS_TRUE)."""
    from okml.explain.reasons import READS_TRUE

    groups = {s.group for s in registry(FeatureParams()).values()}
    assert groups <= set(GROUP_TEXT) and groups <= set(READS_TRUE)
    for group, text in GROUP_TEXT.items():
        assert set(text.phrases) <= set(READS_TRUE[group]), group


@pytest.mark.parametrize(
    ("feature", "row", "group"),
    [  # the examples of reasons untrue in the direction they were read
        ("merch_risk_30d", {"merch_risk_30d": 0.0005}, "merchant's confirmed fraud"),
        ("cust_hour_share_30d", {"cust_hour_share_30d": 0.4}, "usual time of day of the customer"),
        ("merch_count_1d", {"merch_count_1d": 32, "merch_count_30d": 1032}, "merchant's number of payments"),
        ("cust_count_30d", {"cust_count_30d": 16, "cust_count_1h": 0}, "customer's number of payments"),
        ("cust_count_30d", {"cust_count_30d": 0, "cust_count_1h": 0}, "customer's number of payments"),
        ("hour", {"hour": 16.0, "is_night": 0.0, "is_weekend": 0.0}, "time of day and weekday"),
        ("merch_known_frauds_14d", {"merch_known_frauds_14d": 0.0, "merch_days_since_known_fraud": 31.0},
         "merchant's known fraud"),
        ("cust_first_device", {"cust_first_device": 0.0}, "new device for the customer"),
        ("device_customers_7d", {"device_customers_7d": 0.0}, "device shared with other customers"),
        ("pair_count_1d", {"pair_count_1d": 1.0}, "payments between customer and merchant"),
        ("account_age_days", {"account_age_days": 800.0}, "account age"),
        ("cust_amount_ratio_30d", {"cust_amount_ratio_30d": 1.05},
         "amount compared with the customer's usual"),
        ("cust_known_frauds", {"cust_known_frauds": 0.0}, "customer's confirmed fraud"),
    ],
)  # fmt: skip
def test_a_value_that_does_not_explain_a_higher_score_reads_other_factors(feature, row, group) -> None:
    assert reason_text(feature, row) == f"other factors ({group})"
    assert reason_text(feature, row, language="zh").startswith("其他因素（")


def test_baselines_are_in_units_people_think_in() -> None:
    """'usual for this customer: 0.0019' per 10 minutes becomes a rate per week or month."""
    from okml.explain.humanize import fmt_usual_count, fmt_usual_money

    text = reason_text("cust_count_10min", {"cust_count_10min": 3, "cust_count_30d": 10}, FeatureParams())
    assert text == "3 payments in the last 10 minutes (usual for this customer: about 1.6 payments a week)"
    assert fmt_usual_count(0.0019, 600) == "about 1.9 payments a week"
    assert fmt_usual_count(0.001, 86400) == "fewer than 1 payment a month"
    assert fmt_usual_count(60, 30 * 86400) == "about 60 payments"
    assert fmt_usual_count(0.02, 86400, language="zh") == "约每月0.6笔支付"
    assert fmt_usual_count(0, 3600) == "none"
    assert fmt_usual_money(0.37, 600) == "about 53.28 a day"
    assert fmt_usual_money(1200, 30 * 86400, "CNY") == "about 1,200.00 CNY"


def test_a_reason_told_through_an_approximate_feature_says_so() -> None:
    feats = _frame([[9, 55, 1, 0.18]])
    booster = StubBooster([[0.5, 0.2, 0.4, 0.1]], bias=-2.0)
    out = explain(booster, feats, COLUMNS, PARAMS, "en", approximate={"cust_first_device"})
    texts = [r.text for r in out.reasons.iloc[0]]
    assert (
        texts[1]
        == "first payment from this device (approximate: the history it was scored with is incomplete)"
    )
    assert not texts[0].endswith(")") or "approximate" not in texts[0]
    zh = explain(booster, feats, COLUMNS, PARAMS, "zh", approximate={"cust_first_device"})
    assert zh.reasons.iloc[0][1].text.endswith("（近似值：评分时的历史数据不完整）")
