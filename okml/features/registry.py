"""The feature registry: one entry per output column, with units and plain-language text.

Window lengths come from :class:`~okml.config.FeatureParams`, so the registry is built for a
configuration (:func:`registry`); :data:`REGISTRY` is the one for the default parameters.
Explanations group SHAP contributions by :attr:`FeatureSpec.group` and take reason-code
text from :func:`describe`, so wording lives here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

import pandas as pd

from okml.config import FeatureParams, format_duration, parse_duration

#: Families in output order; the names match :class:`~okml.config.FeatureFamilies`.
FAMILIES = (
    "calendar",
    "customer_velocity",
    "customer_history",
    "merchant",
    "merchant_risk",
    "customer_fraud_history",
    "merchant_fraud_history",
    "ring",
    "graph",
    "compromise",
    "amount",
)

#: Label columns that label-aware features need (known fraud = is_fraud 1, label_time < t).
LABEL_COLUMNS = ("is_fraud", "label_time")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature (one output column).

    Attributes
    ----------
    name, family:
        Column name and the family that computes it (a key of ``features.families``).
    unit:
        "payments", "CNY", "ratio", "std devs", "share", "flag", "seconds", "days",
        "hour", "customers" (other customers), "accounts" (a group's customers, this one
        included).
    group:
        Related features (all customer count windows share ``customer_count``); SHAP
        contributions are summed per group for reason codes.
    description_en, description_zh:
        Plain-language meaning for reviewers.
    window_seconds:
        The trailing window of a windowed feature; ``None`` otherwise.
    lookback_seconds:
        History the feature needs before a payment: its window, or more for a window that
        ends in the past (the delayed merchant risk looks back ``label_delay`` + window);
        ``None`` for features without a window.
    needs:
        Optional input columns the feature needs; it is left out when one is absent.
    all_history:
        True when the feature looks at *all* earlier data (first payment to a merchant,
        mean over all history, known fraud count, ...). Such features are exact only given
        the customer's full history; on a look-back slice they describe the slice.
        Every other feature comes out the same whenever :func:`lookback` of history is
        present (counts and flags exactly, sums and ratios up to float rounding).
    """

    name: str
    family: str
    unit: str
    group: str
    description_en: str
    description_zh: str
    window_seconds: int | None = None
    needs: tuple[str, ...] = ()
    all_history: bool = False
    lookback_seconds: int | None = None

    def describe(self, language: str = "en") -> str:
        """The plain-language description in ``"en"`` or ``"zh"``."""
        if language == "en":
            return self.description_en
        if language == "zh":
            return self.description_zh
        raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")


@dataclass(frozen=True)
class _Template:
    """A feature, or a family of windowed features when ``window`` names a params field."""

    stem: str  # column name; "{w}" is replaced by the window, e.g. "cust_count_{w}"
    family: str
    unit: str
    group: str
    en: str  # "{window}" -> "hour" / "7 days"; "{tz}" -> the time zone; "{delay}" -> the
    # label delay ("7 days"); "{history}" -> features.history_window; "{n}" ->
    # features.median_payments
    zh: str  # "{window}" -> "1小时" / "7天"
    window: str | None = None  # FeatureParams field: a list of windows or one window
    needs: tuple[str, ...] = ()
    all_history: bool = False
    delayed: bool = False  # the window ends features.label_delay before the payment
    vs_history: bool = False  # also compares with the customer's history_window
    after_history: bool = False  # each payment in the window needs its own history_window
    epoch: bool = False  # the window starts at the payment's graph_epoch, not at the payment

    def spec(self, seconds: int | None, params: FeatureParams) -> FeatureSpec:
        w = format_duration(seconds) if seconds is not None else ""
        delay = parse_duration(params.label_delay)
        history = parse_duration(params.history_window)
        fields = {"tz": params.timezone, "n": params.median_payments}
        back = None if seconds is None else seconds + (delay if self.delayed else 0)
        if self.vs_history and back is not None:
            back = max(back, history)
        if self.after_history and back is not None:
            back += history
        if self.epoch and back is not None:
            back += parse_duration(params.graph_epoch)
        return FeatureSpec(
            name=self.stem.format(w=w),
            family=self.family,
            unit=self.unit,
            group=self.group,
            description_en=self.en.format(
                window=window_en(seconds),
                delay=window_en(delay, plural_one=True),
                history=window_en(history),
                **fields,
            ),
            description_zh=self.zh.format(
                window=window_zh(seconds), delay=window_zh(delay), history=window_zh(history), **fields
            ),
            window_seconds=seconds,
            needs=self.needs,
            all_history=self.all_history,
            lookback_seconds=back,
        )


_LABELS = LABEL_COLUMNS

# Output order: families in FAMILIES order, templates in this order, windows as configured.
# The table reads better compact, one feature per few lines.
# fmt: off
_TEMPLATES: tuple[_Template, ...] = (
    # ---- calendar (hour, night and weekend in features.timezone)
    _Template("hour", "calendar", "hour", "time_of_day",
              "hour of day of the payment ({tz})", "支付发生的小时（{tz}）"),
    _Template("is_night", "calendar", "flag", "time_of_day",
              "payment made at night (0:00-6:00, {tz})", "夜间支付（0点至6点，{tz}）"),
    _Template("is_weekend", "calendar", "flag", "time_of_day",
              "payment made on a Saturday or Sunday ({tz})", "周末支付（{tz}）"),
    _Template("cust_secs_since_prev", "calendar", "seconds", "customer_recency",
              "seconds since this customer's previous payment",
              "距该客户上一笔支付的秒数", all_history=True),
    # ---- customer velocity
    _Template("cust_count_{w}", "customer_velocity", "payments", "customer_count",
              "payments by this customer in the previous {window}",
              "该客户过去{window}内的支付笔数", window="customer_windows"),
    _Template("cust_sum_{w}", "customer_velocity", "CNY", "customer_sum",
              "amount paid by this customer in the previous {window}",
              "该客户过去{window}内的支付总额", window="customer_windows"),
    _Template("cust_mean_{w}", "customer_velocity", "CNY", "customer_mean",
              "average payment of this customer in the previous {window}",
              "该客户过去{window}内的平均支付金额", window="customer_windows"),
    # ---- breaks from the customer's own history
    _Template("cust_amount_ratio_{w}", "customer_history", "ratio", "amount_vs_history",
              "this amount divided by the customer's average payment in the previous {window}",
              "本笔金额与该客户过去{window}内平均支付金额之比", window="history_window"),
    _Template("cust_amount_z_{w}", "customer_history", "std devs", "amount_vs_history",
              "how many standard deviations this amount lies above the customer's average "
              "in the previous {window}",
              "本笔金额高于该客户过去{window}内平均金额的标准差倍数", window="history_window"),
    _Template("cust_amount_ratio_all", "customer_history", "ratio", "amount_vs_history",
              "this amount divided by the customer's average over all earlier payments",
              "本笔金额与该客户全部历史支付平均金额之比", all_history=True),
    _Template("cust_amount_z_all", "customer_history", "std devs", "amount_vs_history",
              "how many standard deviations this amount lies above the customer's average "
              "over all earlier payments",
              "本笔金额高于该客户全部历史平均金额的标准差倍数", all_history=True),
    _Template("cust_first_merchant", "customer_history", "flag", "new_merchant",
              "first payment by this customer to this merchant",
              "该客户首次向该商户付款", all_history=True),
    _Template("cust_first_device", "customer_history", "flag", "new_device",
              "first payment by this customer from this device",
              "该客户首次使用该设备支付", needs=("device_id",), all_history=True),
    _Template("cust_new_region", "customer_history", "flag", "new_region",
              "first payment by this customer from this region",
              "该客户首次在该地区支付", needs=("region",), all_history=True),
    _Template("cust_amount_median_ratio_{w}", "customer_history", "ratio", "amount_vs_median",
              "this amount divided by the median amount of the customer's latest payments (up "
              "to {n}) in the previous {window}",
              "本笔金额与该客户过去{window}内最近（至多{n}笔）支付金额中位数之比",
              window="history_window"),
    _Template("cust_max_median_ratio_{w}", "customer_history", "ratio", "recent_outsized_payment",
              "the customer's largest payment in the previous {window} divided by the median "
              "amount of their latest payments (up to {n}) in the previous {history}",
              "该客户过去{window}内最大一笔支付与其过去{history}内最近（至多{n}笔）支付金额中位数之比",
              window="burst_window", vs_history=True),
    _Template("cust_hour_share_{w}", "customer_history", "share", "unusual_hour",
              "share of this customer's payments in the previous {window} made within an hour "
              "of this time of day",
              "该客户过去{window}内在当前时段（前后1小时）的支付占比", window="history_window"),
    _Template("account_age_days", "customer_history", "days", "account_age",
              "age of the customer's account in days", "客户账户开立天数",
              needs=("account_created_at",)),
    # ---- merchant
    _Template("merch_count_{w}", "merchant", "payments", "merchant_count",
              "payments received by this merchant in the previous {window}",
              "该商户过去{window}内收到的支付笔数", window="merchant_windows"),
    _Template("merch_sum_{w}", "merchant", "CNY", "merchant_sum",
              "amount received by this merchant in the previous {window}",
              "该商户过去{window}内收到的支付总额", window="merchant_windows"),
    _Template("merch_risk_{w}", "merchant_risk", "share", "merchant_risk",
              "share of this merchant's payments in the previous {window} already known to be "
              "fraud (smoothed toward the overall rate)",
              "该商户过去{window}内已知欺诈支付的占比（向整体欺诈率平滑）",
              window="merchant_windows", needs=_LABELS),
    # ---- the customer's own known fraud
    _Template("cust_known_frauds", "customer_fraud_history", "payments", "customer_known_fraud",
              "earlier payments of this customer already known to be fraud",
              "该客户此前已确认为欺诈的支付笔数", needs=_LABELS, all_history=True),
    _Template("cust_days_since_known_fraud", "customer_fraud_history", "days",
              "customer_known_fraud",
              "days since this customer's last payment known to be fraud",
              "距该客户上一笔已知欺诈支付的天数", needs=_LABELS, all_history=True),
    # ---- the merchant's known fraud, by payment time (labels arrive late: see label_delay)
    _Template("merch_known_frauds_{w}", "merchant_fraud_history", "payments",
              "merchant_known_fraud",
              "payments received by this merchant in the previous {window} already known to be "
              "fraud",
              "该商户过去{window}内收到的已确认为欺诈的支付笔数",
              window="merchant_fraud_windows", needs=_LABELS),
    _Template("merch_days_since_known_fraud", "merchant_fraud_history", "days",
              "merchant_known_fraud",
              "days since the latest payment to this merchant known to be fraud",
              "距该商户上一笔已知欺诈支付的天数", needs=_LABELS, all_history=True),
    _Template("merch_days_since_first_known_fraud", "merchant_fraud_history", "days",
              "merchant_known_fraud",
              "days since the earliest payment to this merchant known to be fraud",
              "距该商户最早一笔已知欺诈支付的天数", needs=_LABELS, all_history=True),
    _Template("merch_delayed_risk_{w}", "merchant_fraud_history", "share",
              "merchant_delayed_risk",
              "share of this merchant's payments in the {window} before the last {delay} known "
              "to be fraud (the last {delay} are left out: their labels are mostly not in yet)",
              "该商户在最近{delay}之前的{window}内支付中已知欺诈的占比（最近{delay}的标签大多尚未到达）",
              window="delayed_risk_windows", needs=_LABELS, delayed=True),
    _Template("merch_fraud_streak", "merchant_fraud_history", "payments",
              "merchant_fraud_streak",
              "the merchant's latest payments made at least {delay} ago (old enough for their "
              "labels) that are known fraud, counted back to the latest one that is not",
              "该商户{delay}以前（标签应已到达）的最近支付中连续已确认为欺诈的笔数",
              needs=_LABELS, all_history=True),
    _Template("merch_fraud_streak_days", "merchant_fraud_history", "days",
              "merchant_fraud_streak",
              "days since the first payment of that run of known frauds at this merchant",
              "距该商户这一连串已知欺诈中第一笔支付的天数", needs=_LABELS, all_history=True),
    _Template("merch_days_since_clean_payment", "merchant_fraud_history", "days",
              "merchant_fraud_streak",
              "days since the latest payment to this merchant made at least {delay} ago that is "
              "not known to be fraud",
              "距该商户{delay}以前最近一笔未被确认为欺诈的支付的天数",
              needs=_LABELS, all_history=True),
    _Template("merch_known_fraud_amount_ratio_{w}", "merchant_fraud_history", "ratio",
              "merchant_fraud_amounts",
              "average, over the merchant's payments in the previous {window} known to be fraud, "
              "of each one's amount divided by its customer's median amount at the time (near "
              "1: the frauds looked like the cards' ordinary payments, pointing at the merchant)",
              "该商户过去{window}内已确认欺诈的支付，其金额与各自客户当时支付金额中位数之比的平均值"
              "（接近1：欺诈看起来像持卡人的日常支付，问题多在商户）",
              window="merchant_fraud_profile_window", needs=_LABELS, after_history=True),
    # ---- rings and brushing
    _Template("device_customers_{w}", "ring", "customers", "device_sharing",
              "other customers who paid from this device in the previous {window}",
              "过去{window}内使用该设备支付的其他客户数", window="device_window",
              needs=("device_id",)),
    _Template("pair_count_{w}", "ring", "payments", "pair_count",
              "payments between this customer and this merchant in the previous {window}",
              "该客户与该商户过去{window}内的支付笔数", window="pair_window"),
    _Template("is_round_amount", "ring", "flag", "round_amount",
              "amount is a whole multiple of 10", "金额为10的整数倍"),
    # ---- the entity graph (okml.features.graph): hard links are shared devices; soft ones
    # the same merchant paid at close times on different days; hubs link nobody
    _Template("graph_group_size_{w}", "graph", "accounts", "linked_accounts",
              "customers in this payment's group of accounts linked through shared devices "
              "over about the last {window} (this one included)",
              "约过去{window}内通过共用设备与本笔支付相连的账户群中的客户数（含本客户）",
              window="graph_window", needs=("device_id",), epoch=True),
    _Template("graph_group_payments_{w}", "graph", "payments", "linked_accounts",
              "payments of that group of accounts linked through shared devices over about "
              "the last {window}",
              "约过去{window}内该共用设备账户群的支付笔数",
              window="graph_window", needs=("device_id",), epoch=True),
    _Template("graph_group_known_frauds_{w}", "graph", "payments", "linked_known_fraud",
              "payments of that group of accounts linked through shared devices over about "
              "the last {window} already known to be fraud",
              "约过去{window}内该共用设备账户群中已确认为欺诈的支付笔数",
              window="graph_window", needs=("device_id", *_LABELS), epoch=True),
    _Template("graph_soft_group_size_{w}", "graph", "accounts", "linked_accounts_soft",
              "customers in this payment's group of accounts linked through shared devices or "
              "by paying the same merchant at close times on different days, over about the "
              "last {window} (this one included)",
              "约过去{window}内通过共用设备或多日在同一商户相近时间付款与本笔支付相连的账户群中的客户数（含本客户）",
              window="graph_window", epoch=True),
    _Template("graph_soft_group_payments_{w}", "graph", "payments", "linked_accounts_soft",
              "payments of that wider group of linked accounts over about the last {window}",
              "约过去{window}内该更大相连账户群的支付笔数",
              window="graph_window", epoch=True),
    _Template("graph_soft_group_known_frauds_{w}", "graph", "payments", "linked_known_fraud",
              "payments of that wider group of linked accounts over about the last {window} "
              "already known to be fraud",
              "约过去{window}内该更大相连账户群中已确认为欺诈的支付笔数",
              window="graph_window", needs=_LABELS, epoch=True),
    _Template("graph_group_merchant_share_{w}", "graph", "share", "linked_accounts",
              "share of the payments of that group of accounts linked through shared devices, "
              "over about the last {window}, made at this merchant",
              "约过去{window}内该共用设备账户群的支付中在该商户的占比",
              window="graph_window", needs=("device_id",), epoch=True),
    _Template("graph_soft_group_merchant_share_{w}", "graph", "share", "linked_accounts_soft",
              "share of the payments of that wider group of linked accounts, over about the last "
              "{window}, made at this merchant",
              "约过去{window}内该更大相连账户群的支付中在该商户的占比",
              window="graph_window", epoch=True),
    _Template("device_known_frauds_{w}", "graph", "payments", "device_known_fraud",
              "payments over about the last {window} already known to be fraud, made by the "
              "other customers who paid from this device then",
              "约过去{window}内使用该设备的其他客户已确认为欺诈的支付笔数",
              window="graph_window", needs=("device_id", *_LABELS), epoch=True),
    # ---- the common point of compromise
    _Template("merch_victim_customers_{w}", "compromise", "customers", "point_of_compromise",
              "other customers who paid this merchant in the previous {window} and were later "
              "confirmed as fraud victims (anywhere)",
              "过去{window}内在该商户付款、之后（在任意商户）被确认为欺诈受害者的其他客户数",
              window="compromise_windows", needs=_LABELS),
    _Template("merch_victim_share_{w}", "compromise", "share", "point_of_compromise",
              "share of the other customers who paid this merchant in the previous {window} "
              "who were later confirmed as fraud victims (anywhere): a common point of "
              "compromise",
              "过去{window}内在该商户付款的其他客户中之后被确认为欺诈受害者的占比（共同泄露点）",
              window="compromise_windows", needs=_LABELS),
    # ---- the payment itself
    _Template("amount", "amount", "CNY", "amount", "amount of this payment", "本笔支付金额"),
)
# fmt: on


def window_en(seconds: int | None, plural_one: bool = False) -> str:
    """``hour``, ``7 days`` (``1 hour`` with ``plural_one``, where a number reads better)."""
    if seconds is None:
        return ""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            k = seconds // size
            if k == 1:
                return f"1 {unit}" if plural_one else unit
            return f"{k} {unit}s"
    return f"{seconds} seconds"


def window_zh(seconds: int | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("天", 86400), ("小时", 3600), ("分钟", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}秒"


def _windows(template: _Template, params: FeatureParams) -> list[int | None]:
    if template.window is None:
        return [None]
    value = getattr(params, template.window)
    values = value if isinstance(value, list) else [value]
    return [parse_duration(v) for v in values]


def registry(params: FeatureParams | None = None) -> dict[str, FeatureSpec]:
    """Every feature a configuration can produce, in output order, keyed by name.

    Includes features of disabled families and those needing absent columns; use
    :func:`feature_names` for what a given input actually gets.
    """
    params = params if params is not None else FeatureParams()
    # built once per configuration (explaining one payment asks for it per feature: 36 ms
    # a payment without the cache, 4 ms with it); a copy, so callers may change theirs
    return dict(_registry(params.model_dump_json()))


@lru_cache(maxsize=64)
def _registry(key: str) -> dict[str, FeatureSpec]:
    params = FeatureParams.model_validate_json(key)
    out: dict[str, FeatureSpec] = {}
    for family in FAMILIES:
        for t in _TEMPLATES:
            if t.family != family:
                continue
            for seconds in _windows(t, params):
                spec = t.spec(seconds, params)
                out[spec.name] = spec
    return out


#: The registry for the default parameters.
REGISTRY: dict[str, FeatureSpec] = registry()


def feature_names(params: FeatureParams, columns: Iterable[str]) -> list[str]:
    """Output columns of :func:`~okml.features.build_features` for input ``columns``.

    Disabled families drop out, and so do features whose optional input (``device_id``,
    ``region``, ``account_created_at``, labels) is missing.
    """
    have = set(columns)
    enabled = params.families.model_dump()
    return [
        s.name for s in registry(params).values() if enabled[s.family] and all(c in have for c in s.needs)
    ]


def spec(name: str, params: FeatureParams | None = None) -> FeatureSpec:
    """The :class:`FeatureSpec` of ``name``.

    Windowed names are understood for any window (``cust_count_2h``) even when ``params``
    is not given.

    Raises
    ------
    KeyError
        ``name`` is no feature okml computes.
    """
    if params is not None and name in (reg := registry(params)):
        return reg[name]
    if name in REGISTRY:
        return REGISTRY[name]
    base = params if params is not None else FeatureParams()
    for t in _TEMPLATES:
        if t.window is None:
            continue
        m = re.fullmatch(re.escape(t.stem).replace(r"\{w\}", "(.+)"), name)
        if m:
            try:
                seconds = parse_duration(m.group(1))
            except ValueError:
                continue
            return t.spec(seconds, base)
    raise KeyError(f"unknown feature {name!r}")


def describe(name: str, language: str = "en", params: FeatureParams | None = None) -> str:
    """Plain-language meaning of feature ``name`` in ``"en"`` or ``"zh"``.

    >>> describe("cust_count_1h")
    'payments by this customer in the previous hour'
    >>> describe("cust_count_1h", "zh")
    '该客户过去1小时内的支付笔数'
    """
    return spec(name, params).describe(language)


def registry_frame(params: FeatureParams | None = None) -> pd.DataFrame:
    """The registry as a table, one row per feature (index ``name``)."""
    rows = [asdict(s) for s in registry(params).values()]
    frame = pd.DataFrame(rows).set_index("name")
    frame["needs"] = frame["needs"].map(", ".join)
    return frame


def lookback(params: FeatureParams) -> pd.Timedelta:
    """History a configuration needs before the first transaction to be scored.

    The largest :attr:`FeatureSpec.lookback_seconds` among enabled families: the largest
    trailing window, or a delayed merchant risk window plus ``label_delay``. With this much
    history before a slice, every feature of the slice whose
    :attr:`FeatureSpec.all_history` is False comes out as over all data (counts and flags
    exactly, sums and ratios up to float rounding, about 1e-12 relative);
    ``tests/test_features_props.py`` checks it.

    The all-history features (seconds since the previous payment, amount vs. the
    all-history mean and z-score, first payment to a merchant, first device, new region,
    the customer's known fraud count and days since their last known fraud, days since
    the merchant's last known fraud) are then computed over the look-back period only:
    they are exact only given the full history.
    """
    enabled = params.families.model_dump()
    seconds = [
        s.lookback_seconds
        for s in registry(params).values()
        if enabled[s.family] and s.lookback_seconds is not None
    ]
    return pd.Timedelta(seconds=max(seconds, default=0))
