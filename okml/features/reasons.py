"""Reason codes: the plain-language sentences reviewers read, one per feature group.

The feature registry (:mod:`okml.features.registry`) says what each column means; this
module holds the templates that turn a group of related features into one sentence with
the actual value and, where the feature row allows it, the customer's own baseline::

    9 payments in the last hour (usual for this customer: 0.2)
    amount 3,200.00 is 12x this customer's 30-day average (266.67)
    first payment from this device
    merchant had 18% confirmed fraud in the last 7 days

Every group of the registry has a title and sentence templates in English and Chinese
(:data:`GROUP_TEXT`); a rule per group (:data:`_RULES`) picks the sentence for the group's
most telling member and fills in numbers read from the same feature row. Anything a rule
does not cover (a missing value, an unknown column) falls back to the registry description
and the value with its unit, so a reason is never empty.

Baselines come only from the explained row, so the text is exactly as point-in-time as the
features: the usual count in a window ``w`` is the customer's rate outside ``w`` within the
longest configured window ``L``, ``(count_L - count_w) * w / (L - w)``, so a burst does not
inflate its own baseline.

Text here is plain text; the report escapes it (and anything else) before it reaches HTML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from okml.config import FeatureParams
from okml.features.registry import FeatureSpec, _window_en, _window_zh, registry, spec

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Phrase:
    """One sentence in English and Chinese, with ``{field}`` placeholders."""

    en: str
    zh: str

    def format(self, language: str, **fields: str) -> str:
        """The sentence in ``language`` (``en`` or ``zh``) with ``fields`` filled in."""
        return getattr(self, _check_language(language)).format(**fields)


@dataclass(frozen=True)
class GroupText:
    """A group's title (tables, charts) and its sentences, keyed by case."""

    title: Phrase
    phrases: Mapping[str, Phrase]


# Sentences per registry group. The rule of a group (below) chooses the case and the fields.
# fmt: off
GROUP_TEXT: dict[str, GroupText] = {
    "time_of_day": GroupText(
        Phrase("time of day and weekday", "支付时间与星期"),
        {
            "weekend": Phrase("payment on a weekend ({tz})", "周末支付（{tz}）"),
            "night": Phrase("payment at night, {hour} ({tz})", "夜间支付，{hour}（{tz}）"),
            "hour": Phrase("payment at {hour} ({tz})", "支付时间{hour}（{tz}）"),
        }),
    "customer_recency": GroupText(
        Phrase("time since the previous payment", "距上一笔支付的时间"),
        {
            "gap": Phrase("{gap} since this customer's previous payment",
                          "距该客户上一笔支付{gap}"),
            "none": Phrase("no earlier payment from this customer on record",
                           "该客户此前无支付记录"),
        }),
    "customer_count": GroupText(
        Phrase("customer's number of payments", "客户支付笔数"),
        {
            "baseline": Phrase("{count} in the last {window} (usual for this customer: {baseline})",
                               "过去{window}内有{count}（该客户通常为{baseline}笔）"),
            "plain": Phrase("{count} in the last {window}", "过去{window}内有{count}"),
        }),
    "customer_sum": GroupText(
        Phrase("customer's amount paid", "客户支付总额"),
        {
            "baseline": Phrase("paid {value} in the last {window} (usual for this customer: "
                               "{baseline})",
                               "过去{window}内共支付{value}（该客户通常为{baseline}）"),
            "plain": Phrase("paid {value} in the last {window}", "过去{window}内共支付{value}"),
        }),
    "customer_mean": GroupText(
        Phrase("customer's average payment", "客户平均支付金额"),
        {
            "baseline": Phrase("average payment {value} in the last {window} (usual for this "
                               "customer: {baseline})",
                               "过去{window}内平均每笔{value}（该客户通常为{baseline}）"),
            "plain": Phrase("average payment {value} in the last {window}",
                            "过去{window}内平均每笔{value}"),
        }),
    "amount_vs_history": GroupText(
        Phrase("amount compared with the customer's usual", "金额与客户以往相比"),
        {
            "ratio": Phrase("amount {amount} is {ratio} this customer's {span} ({mean})",
                            "金额{amount}是该客户{span}（{mean}）的{ratio}"),
            "ratio_no_amount": Phrase("amount is {ratio} this customer's {span}",
                                      "金额是该客户{span}的{ratio}"),
            "z": Phrase("amount {amount} is {z} standard deviations {direction} this customer's "
                        "{span}",
                        "金额{amount}{direction}该客户{span}{z}个标准差"),
            "z_no_amount": Phrase("amount is {z} standard deviations {direction} this "
                                  "customer's {span}",
                                  "金额{direction}该客户{span}{z}个标准差"),
            "none": Phrase("no earlier payments to compare the amount with",
                           "该客户此前无可比较的支付金额"),
        }),
    "amount_vs_median": GroupText(
        Phrase("amount compared with the customer's median", "金额与客户支付中位数相比"),
        {
            "ratio": Phrase("amount {amount} is {ratio} the median of this customer's latest "
                            "payments in the last {window} ({median})",
                            "金额{amount}是该客户过去{window}内最近支付金额中位数（{median}）的{ratio}"),
            "ratio_no_amount": Phrase("amount is {ratio} the median of this customer's latest "
                                      "payments in the last {window}",
                                      "金额是该客户过去{window}内最近支付金额中位数的{ratio}"),
            "none": Phrase("no payments in the last {window} to compare the amount with",
                           "该客户过去{window}内无可比较的支付金额"),
        }),
    "recent_outsized_payment": GroupText(
        Phrase("largest recent payment compared with the customer's median",
               "客户近期最大一笔支付与其中位数相比"),
        {
            "ratio": Phrase("largest payment in the last {window} was {ratio} this customer's "
                            "median amount",
                            "过去{window}内最大一笔支付是该客户支付金额中位数的{ratio}"),
            "none": Phrase("no payments in the last {window} to compare with the median",
                           "过去{window}内无可与中位数比较的支付"),
        }),
    "new_merchant": GroupText(
        Phrase("new merchant for the customer", "客户首次光顾的商户"),
        {
            "yes": Phrase("first payment to this merchant", "该客户首次向该商户付款"),
            "no": Phrase("has paid this merchant before", "该客户曾向该商户付款"),
        }),
    "new_device": GroupText(
        Phrase("new device for the customer", "客户首次使用的设备"),
        {
            "yes": Phrase("first payment from this device", "该客户首次使用该设备支付"),
            "no": Phrase("has paid from this device before", "该客户曾使用该设备支付"),
        }),
    "new_region": GroupText(
        Phrase("new region for the customer", "客户首次出现的地区"),
        {
            "yes": Phrase("first payment from this region", "该客户首次在该地区支付"),
            "no": Phrase("has paid from this region before", "该客户曾在该地区支付"),
        }),
    "unusual_hour": GroupText(
        Phrase("usual time of day of the customer", "客户惯常的支付时段"),
        {
            "share": Phrase("{share} of this customer's payments in the last {window} were at "
                            "this time of day (within an hour)",
                            "该客户过去{window}内在此时段（前后1小时）的支付占{share}"),
            "none": Phrase("no payments in the last {window} to compare the time of day with",
                           "该客户过去{window}内无支付，无法比较支付时段"),
        }),
    "account_age": GroupText(
        Phrase("account age", "账户开立时长"),
        {"age": Phrase("account opened {age} ago", "账户开立于{age}前")}),
    "merchant_count": GroupText(
        Phrase("merchant's number of payments", "商户收款笔数"),
        {
            "baseline": Phrase("merchant received {count} in the last {window} (usual: "
                               "{baseline})",
                               "该商户过去{window}内收到{count}（通常为{baseline}笔）"),
            "plain": Phrase("merchant received {count} in the last {window}",
                            "该商户过去{window}内收到{count}"),
        }),
    "merchant_sum": GroupText(
        Phrase("merchant's amount received", "商户收款总额"),
        {
            "baseline": Phrase("merchant received {value} in the last {window} (usual: "
                               "{baseline})",
                               "该商户过去{window}内收款{value}（通常为{baseline}）"),
            "plain": Phrase("merchant received {value} in the last {window}",
                            "该商户过去{window}内收款{value}"),
        }),
    "merchant_risk": GroupText(
        Phrase("merchant's confirmed fraud", "商户已确认欺诈"),
        {"share": Phrase("merchant had {share} confirmed fraud in the last {window}",
                         "该商户过去{window}内已确认欺诈占{share}")}),
    "customer_known_fraud": GroupText(
        Phrase("customer's confirmed fraud", "客户已确认欺诈"),
        {
            "count": Phrase("{count} of this customer already confirmed as fraud",
                            "该客户此前已有{count}确认为欺诈"),
            "days": Phrase("last confirmed fraud on this customer {days} ago",
                           "该客户上一笔确认欺诈发生在{days}前"),
            "none": Phrase("no confirmed fraud on this customer so far", "该客户此前无确认欺诈"),
        }),
    "merchant_known_fraud": GroupText(
        Phrase("merchant's known fraud", "商户已知欺诈"),
        {
            "count": Phrase("merchant received {count} in the last {window} already confirmed "
                            "as fraud",
                            "该商户过去{window}内收到的支付中有{count}已确认为欺诈"),
            "days": Phrase("latest confirmed fraud at this merchant was paid {days} ago",
                           "该商户上一笔确认欺诈的支付发生在{days}前"),
            "first_days": Phrase("earliest confirmed fraud at this merchant was paid {days} ago",
                                 "该商户最早一笔确认欺诈的支付发生在{days}前"),
            "none": Phrase("no confirmed fraud at this merchant so far", "该商户此前无确认欺诈"),
        }),
    "merchant_delayed_risk": GroupText(
        Phrase("merchant's confirmed fraud before the label delay", "商户较早支付中的已确认欺诈"),
        {
            "share": Phrase("{share} of this merchant's payments in the {window} before the last "
                            "{delay} are confirmed fraud",
                            "该商户在最近{delay}之前的{window}内的支付中{share}已确认为欺诈"),
            "none": Phrase("no payments to this merchant in the {window} before the last {delay}",
                           "该商户在最近{delay}之前的{window}内无支付"),
        }),
    "merchant_fraud_streak": GroupText(
        Phrase("merchant's run of confirmed fraud", "商户连续确认欺诈"),
        {
            "streak": Phrase("the merchant's last {count} old enough to be confirmed were all "
                             "fraud, the run starting {days} ago",
                             "该商户最近{count}（已过标签延迟）全部确认为欺诈，始于{days}前"),
            "clean": Phrase("the merchant's latest payment old enough to be confirmed ({days} "
                            "ago) was not fraud",
                            "该商户最近一笔已过标签延迟的支付（{days}前）未被确认为欺诈"),
            "none": Phrase("no payment to this merchant is old enough to be confirmed yet",
                           "该商户尚无已过标签延迟的支付"),
        }),
    "merchant_fraud_amounts": GroupText(
        Phrase("how ordinary the merchant's confirmed frauds looked", "商户已确认欺诈的金额特征"),
        {
            "ratio": Phrase("frauds confirmed at this merchant in the last {window} were on "
                            "average {ratio} their customers' usual amounts",
                            "该商户过去{window}内已确认的欺诈金额平均为对应客户日常金额的{ratio}"),
            "none": Phrase("no confirmed fraud at this merchant in the last {window}",
                           "该商户过去{window}内无确认欺诈"),
        }),
    "device_sharing": GroupText(
        Phrase("device shared with other customers", "设备被其他客户共用"),
        {
            "count": Phrase("{customers} paid from this device in the last {window}",
                            "过去{window}内有{customers}使用该设备支付"),
            "none": Phrase("no device recorded for this payment", "该笔支付无设备信息"),
        }),
    "pair_count": GroupText(
        Phrase("payments between customer and merchant", "客户与商户之间的支付"),
        {"count": Phrase("{count} between this customer and this merchant in the last {window}",
                         "该客户与该商户过去{window}内有{count}")}),
    "round_amount": GroupText(
        Phrase("round amount", "整数金额"),
        {
            "yes": Phrase("round amount (a multiple of 10)", "金额为10的整数倍"),
            "no": Phrase("amount is not a multiple of 10", "金额不是10的整数倍"),
        }),
    "amount": GroupText(
        Phrase("payment amount", "支付金额"),
        {"amount": Phrase("amount {amount}", "金额{amount}")}),
}
# fmt: on

#: Used when no rule applies: the registry description and the value with its unit.
GENERIC = Phrase("{description}: {value}", "{description}：{value}")

_WORDS = {
    "en": {
        "yes": "yes",
        "no": "no",
        "missing": "not available",
        "payment": ("payment", "payments"),
        "customer": ("other customer", "other customers"),
        "above": "above",
        "below": "below",
        "all": "average of all earlier payments",
        "average": "{window} average",
    },
    "zh": {
        "yes": "是",
        "no": "否",
        "missing": "无",
        "payment": ("笔支付", "笔支付"),
        "customer": ("位其他客户", "位其他客户"),
        "above": "高于",
        "below": "低于",
        "all": "全部历史平均金额",
        "average": "过去{window}平均金额",
    },
}


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")
    return language


def group_title(group: str, language: str = "en") -> str:
    """Short name of a feature group for tables and charts (the group name if unknown)."""
    _check_language(language)
    text = GROUP_TEXT.get(group)
    return text.title.format(language) if text is not None else group


# ---------------------------------------------------------------------- number formats
def _missing(x: object) -> bool:
    """None, NaN (any float type) or pandas NA."""
    if x is None:
        return True
    try:
        return math.isnan(float(x))  # type: ignore[arg-type]
    except TypeError:  # pd.NA
        return True
    except ValueError:
        return False


def fmt_number(x: float) -> str:
    """A count or rate for people: ``1,240``, ``9``, ``2.5``, ``0.2``, ``0.04``, ``0``."""
    x = float(x)
    if x == 0:
        return "0"
    if abs(x - round(x)) < 1e-9 and abs(x) >= 1:
        return f"{round(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 0.1:
        return f"{x:,.1f}"
    return f"{x:.2g}"


def fmt_money(x: float, unit: str = "") -> str:
    """``3,200.00`` (with `` CNY`` when ``unit`` is given)."""
    return f"{float(x):,.2f}" + (f" {unit}" if unit else "")


def fmt_share(x: float) -> str:
    """A share 0..1 as a percentage: ``18%``, ``4.5%``, ``<0.1%``, ``0%``."""
    pct = 100 * float(x)
    if pct == 0:
        return "0%"
    if abs(pct) < 0.1:
        return "<0.1%"
    if abs(pct) < 10:
        return f"{pct:.1f}%"
    return f"{pct:.0f}%"


def fmt_ratio(x: float, language: str = "en") -> str:
    """``12x`` / ``2.5x`` / ``0.25x`` (``12倍`` in Chinese)."""
    x = float(x)
    body = f"{x:,.0f}" if abs(x) >= 10 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"
    return body + ("倍" if _check_language(language) == "zh" else "x")


def fmt_duration(seconds: float, language: str = "en") -> str:
    """``45 seconds``, ``12 minutes``, ``3.5 hours``, ``2.0 days``, ``1.3 years`` (or Chinese)."""
    s = float(seconds)
    en = _check_language(language) == "en"
    units = (
        (365.25 * 86400, ("year", "years"), "年"),
        (86400, ("day", "days"), "天"),
        (3600, ("hour", "hours"), "小时"),
        (60, ("minute", "minutes"), "分钟"),
    )
    for size, names, zh in units:
        if abs(s) >= size:
            k = s / size
            text = f"{k:.0f}" if abs(k) >= 10 else f"{k:.1f}"
            return f"{text} {names[text != '1.0']}" if en else f"{text}{zh}"
    text = f"{s:.0f}"
    return (f"{text} second" + ("" if text == "1" else "s")) if en else f"{text}秒"


def fmt_count(x: float, noun: str, language: str = "en") -> str:
    """``1 payment``, ``9 payments`` (``9笔支付``)."""
    words = _WORDS[_check_language(language)][noun]
    text = fmt_number(x)
    if language == "zh":
        return f"{text}{words[0]}"
    return f"{text} {words[float(x) != 1]}"


def _hour(h: float) -> str:
    h = int(h)
    return f"{h:02d}:00-{h:02d}:59"


def format_value(feature: FeatureSpec, value: float | None, language: str = "en") -> str:
    """A feature value with its unit for people, e.g. ``9 payments``, ``3,200.00 CNY``, ``18%``."""
    words = _WORDS[_check_language(language)]
    if _missing(value):
        return words["missing"]
    v = float(value)
    unit = feature.unit
    if unit == "flag":
        return words["yes"] if v >= 0.5 else words["no"]
    if unit == "payments":
        return fmt_count(v, "payment", language)
    if unit == "customers":
        return fmt_count(v, "customer", language)
    if unit == "share":
        return fmt_share(v)
    if unit == "ratio":
        return fmt_ratio(v, language)
    if unit == "seconds":
        return fmt_duration(v, language)
    if unit == "days":
        return fmt_duration(v * 86400, language)
    if unit == "hour":
        return _hour(v)
    if unit == "std devs":
        return f"{v:.1f} " + ("standard deviations" if language == "en" else "个标准差")
    if unit.isupper() and len(unit) == 3:  # a currency
        return fmt_money(v, unit)
    return f"{fmt_number(v)} {unit}".strip()


def window_text(seconds: int | None, language: str = "en") -> str:
    """``hour``, ``7 days`` (``1小时``, ``7天``): the registry's own wording of a window."""
    return _window_en(seconds) if _check_language(language) == "en" else _window_zh(seconds)


def _window_adjective(seconds: int, language: str) -> str:
    """``30-day`` / ``1-hour`` (``30天``)."""
    if language == "zh":
        return _window_zh(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            return f"{seconds // size}-{unit}"
    return f"{seconds}-second"


# ------------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class _Ctx:
    """What a rule may read: the row, the registry, the payment amount and the language."""

    row: Mapping[str, float]
    specs: Mapping[str, FeatureSpec]
    amount: float | None
    language: str
    timezone: str

    def get(self, name: str | None) -> float | None:
        if name is None or name not in self.row:
            return None
        v = self.row[name]
        return None if _missing(v) else float(v)

    def sibling(self, group: str, window: int | None, unit: str | None = None) -> str | None:
        """The column of ``group`` with this window (and unit), if the row has it."""
        for name, s in self.specs.items():
            if (
                s.group == group
                and s.window_seconds == window
                and name in self.row
                and (unit is None or s.unit == unit)
            ):
                return name
        return None

    def longest(self, group: str) -> FeatureSpec | None:
        """The member of ``group`` in the row with the longest window."""
        members = [
            s
            for n, s in self.specs.items()
            if s.group == group and n in self.row and s.window_seconds is not None
        ]
        return max(members, key=lambda s: s.window_seconds or 0, default=None)


Case = tuple[str, dict[str, str]] | None
Rule = Callable[[FeatureSpec, _Ctx], Case]


def _outside_rate(
    ctx: _Ctx, member: FeatureSpec, count_group: str, value_group: str | None = None
) -> float | None:
    """The usual value in ``member``'s window from the rest of the longest window.

    For counts (``value_group`` None): ``(n_L - n_w) * w / (L - w)``. For sums, the same
    with sums. ``None`` when the member is the longest window or a value is missing.
    """
    group = value_group or count_group
    longest = ctx.longest(group)
    w = member.window_seconds
    if longest is None or w is None or longest.window_seconds is None or longest.window_seconds <= w:
        return None
    big, small = ctx.get(longest.name), ctx.get(member.name)
    if big is None or small is None:
        return None
    return max(big - small, 0.0) * w / (longest.window_seconds - w)


def _count_rule(noun_group: str) -> Rule:
    def rule(member: FeatureSpec, ctx: _Ctx) -> Case:
        v = ctx.get(member.name)
        if v is None or member.window_seconds is None:
            return None
        fields = {
            "count": fmt_count(v, "payment", ctx.language),
            "window": window_text(member.window_seconds, ctx.language),
        }
        base = _outside_rate(ctx, member, noun_group)
        if base is None:
            return "plain", fields
        return "baseline", fields | {"baseline": fmt_number(base)}

    return rule


def _sum_rule(group: str) -> Rule:
    def rule(member: FeatureSpec, ctx: _Ctx) -> Case:
        v = ctx.get(member.name)
        if v is None or member.window_seconds is None:
            return None
        fields = {
            "value": fmt_money(v, member.unit),
            "window": window_text(member.window_seconds, ctx.language),
        }
        base = _outside_rate(ctx, member, group)
        if base is None:
            return "plain", fields
        return "baseline", fields | {"baseline": fmt_money(base, member.unit)}

    return rule


def _mean_rule(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    w = member.window_seconds
    if v is None or w is None:
        return None
    fields = {"value": fmt_money(v, member.unit), "window": window_text(w, ctx.language)}
    longest = ctx.longest("customer_sum")
    if longest is None or longest.window_seconds is None or longest.window_seconds <= w:
        return "plain", fields
    sums = ctx.get(longest.name), ctx.get(ctx.sibling("customer_sum", w))
    counts = (
        ctx.get(ctx.sibling("customer_count", longest.window_seconds)),
        ctx.get(ctx.sibling("customer_count", w)),
    )
    if None in sums or None in counts or counts[0] - counts[1] <= 0:  # type: ignore[operator]
        return "plain", fields
    base = (sums[0] - sums[1]) / (counts[0] - counts[1])  # type: ignore[operator]
    return "baseline", fields | {"baseline": fmt_money(base, member.unit)}


def _time_of_day(member: FeatureSpec, ctx: _Ctx) -> Case:
    fields = {"tz": ctx.timezone}
    if member.name == "is_weekend" and ctx.get("is_weekend") == 1:
        return "weekend", fields
    hour = ctx.get("hour")
    if hour is None:
        return None
    fields["hour"] = _hour(hour)
    return ("night" if ctx.get("is_night") == 1 else "hour"), fields


def _recency(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return "none", {}
    return "gap", {"gap": fmt_duration(v, ctx.language)}


def _amount_vs_history(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    w = member.window_seconds
    words = _WORDS[ctx.language]
    span = words["all"] if w is None else words["average"].format(window=_window_adjective(w, ctx.language))
    if v is None:
        return "none", {}
    if member.unit == "ratio":
        if ctx.amount is None or v <= 0:
            return "ratio_no_amount", {"ratio": fmt_ratio(v, ctx.language), "span": span}
        return "ratio", {
            "amount": fmt_money(ctx.amount),
            "ratio": fmt_ratio(v, ctx.language),
            "span": span,
            "mean": fmt_money(ctx.amount / v),
        }
    fields = {"z": f"{abs(v):.1f}", "span": span, "direction": words["above" if v >= 0 else "below"]}
    if ctx.amount is None:
        return "z_no_amount", fields
    return "z", fields | {"amount": fmt_money(ctx.amount)}


def _amount_vs_median(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    if v is None:
        return "none", fields
    fields["ratio"] = fmt_ratio(v, ctx.language)
    if ctx.amount is None or v <= 0:
        return "ratio_no_amount", fields
    return "ratio", fields | {"amount": fmt_money(ctx.amount), "median": fmt_money(ctx.amount / v)}


def _recent_outsized(member: FeatureSpec, ctx: _Ctx) -> Case:
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    v = ctx.get(member.name)
    if v is None:
        return "none", fields
    return "ratio", fields | {"ratio": fmt_ratio(v, ctx.language)}


def _amount(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return None
    return "amount", {"amount": fmt_money(v, member.unit)}


def _flag(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return None
    return ("yes" if v >= 0.5 else "no"), {}


def _unusual_hour(member: FeatureSpec, ctx: _Ctx) -> Case:
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    v = ctx.get(member.name)
    if v is None:
        return "none", fields
    return "share", fields | {"share": fmt_share(v)}


def _account_age(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return None
    return "age", {"age": fmt_duration(max(v, 0.0) * 86400, ctx.language)}


def _merchant_risk(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None or member.window_seconds is None:
        return None
    return "share", {"share": fmt_share(v), "window": window_text(member.window_seconds, ctx.language)}


def _known_fraud(member: FeatureSpec, ctx: _Ctx) -> Case:
    count = ctx.get("cust_known_frauds")
    days = ctx.get("cust_days_since_known_fraud")
    if member.name == "cust_days_since_known_fraud" and days is not None:
        return "days", {"days": fmt_duration(days * 86400, ctx.language)}
    if count:
        return "count", {"count": fmt_count(count, "payment", ctx.language)}
    if days is not None:
        return "days", {"days": fmt_duration(days * 86400, ctx.language)}
    return "none", {}


def _merchant_known_fraud(member: FeatureSpec, ctx: _Ctx) -> Case:
    first = ctx.get("merch_days_since_first_known_fraud")
    if member.name == "merch_days_since_first_known_fraud" and first is not None:
        return "first_days", {"days": fmt_duration(first * 86400, ctx.language)}
    days = ctx.get("merch_days_since_known_fraud")
    count = ctx.get(member.name) if member.window_seconds is not None else None
    if count:
        return "count", {
            "count": fmt_count(count, "payment", ctx.language),
            "window": window_text(member.window_seconds, ctx.language),
        }
    if days is not None:
        return "days", {"days": fmt_duration(days * 86400, ctx.language)}
    return "none", {}


def _merchant_delayed_risk(member: FeatureSpec, ctx: _Ctx) -> Case:
    w = member.window_seconds
    if w is None or member.lookback_seconds is None:
        return None
    fields = {
        "window": window_text(w, ctx.language),
        # the look-back of a delayed window is the label delay plus the window
        "delay": window_text(member.lookback_seconds - w, ctx.language),
    }
    v = ctx.get(member.name)
    if v is None:
        return "none", fields
    return "share", fields | {"share": fmt_share(v)}


def _merchant_fraud_streak(member: FeatureSpec, ctx: _Ctx) -> Case:
    streak = ctx.get("merch_fraud_streak")
    start = ctx.get("merch_fraud_streak_days")
    clean = ctx.get("merch_days_since_clean_payment")
    if streak and start is not None:
        return "streak", {"count": fmt_count(streak, "payment", ctx.language),
                          "days": fmt_duration(start * 86400, ctx.language)}
    if clean is not None:
        return "clean", {"days": fmt_duration(clean * 86400, ctx.language)}
    if streak is None and member.name != "merch_days_since_clean_payment":
        return None
    return "none", {}


def _merchant_fraud_amounts(member: FeatureSpec, ctx: _Ctx) -> Case:
    if member.window_seconds is None:
        return None
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    v = ctx.get(member.name)
    if v is None:
        return "none", fields
    return "ratio", fields | {"ratio": fmt_ratio(v, ctx.language)}


def _device_sharing(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return "none", {}
    return "count", {
        "customers": fmt_count(v, "customer", ctx.language),
        "window": window_text(member.window_seconds, ctx.language),
    }


def _pair_count(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return None
    return "count", {
        "count": fmt_count(v, "payment", ctx.language),
        "window": window_text(member.window_seconds, ctx.language),
    }


_RULES: dict[str, Rule] = {
    "time_of_day": _time_of_day,
    "customer_recency": _recency,
    "customer_count": _count_rule("customer_count"),
    "customer_sum": _sum_rule("customer_sum"),
    "customer_mean": _mean_rule,
    "amount_vs_history": _amount_vs_history,
    "amount_vs_median": _amount_vs_median,
    "recent_outsized_payment": _recent_outsized,
    "new_merchant": _flag,
    "new_device": _flag,
    "new_region": _flag,
    "unusual_hour": _unusual_hour,
    "account_age": _account_age,
    "merchant_count": _count_rule("merchant_count"),
    "merchant_sum": _sum_rule("merchant_sum"),
    "merchant_risk": _merchant_risk,
    "customer_known_fraud": _known_fraud,
    "merchant_known_fraud": _merchant_known_fraud,
    "merchant_delayed_risk": _merchant_delayed_risk,
    "merchant_fraud_streak": _merchant_fraud_streak,
    "merchant_fraud_amounts": _merchant_fraud_amounts,
    "device_sharing": _device_sharing,
    "pair_count": _pair_count,
    "round_amount": _flag,
    "amount": _amount,
}


# ------------------------------------------------------------------------------- API
def feature_spec(name: str, params: FeatureParams | None = None) -> FeatureSpec:
    """The registry entry of ``name``; a column the registry does not know becomes its own
    group, described by its name (so a model with extra columns is still explained)."""
    try:
        return spec(name, params)
    except KeyError:
        return FeatureSpec(
            name=name, family="other", unit="", group=name, description_en=name, description_zh=name
        )


def reason_text(
    feature: str,
    row: Mapping[str, float],
    params: FeatureParams | None = None,
    language: str = "en",
    amount: float | None = None,
    specs: Mapping[str, FeatureSpec] | None = None,
) -> str:
    """The reason sentence for the group of ``feature``, told through ``feature``.

    Parameters
    ----------
    feature:
        The group's most telling column (the member with the largest contribution).
    row:
        The explained feature row, column -> value (NaN where undefined); baselines are
        read from the other columns of the same row.
    params:
        The feature configuration the model was trained with (windows, time zone).
    language:
        ``"en"`` or ``"zh"``.
    amount:
        The payment amount, when known (amount-versus-history sentences quote it).
    specs:
        Registry entries by column (default: :func:`~okml.features.registry` of
        ``params``); pass it when calling for many rows.

    Returns
    -------
    str
        Plain text (not HTML-escaped).

    Examples
    --------
    >>> reason_text("cust_first_device", {"cust_first_device": 1.0})
    'first payment from this device'
    >>> reason_text("cust_first_device", {"cust_first_device": 1.0}, language="zh")
    '该客户首次使用该设备支付'
    """
    _check_language(language)
    params = params if params is not None else FeatureParams()
    specs = specs if specs is not None else registry(params)
    member = specs[feature] if feature in specs else feature_spec(feature, params)
    ctx = _Ctx(
        row=row,
        specs=specs,
        amount=None if _missing(amount) else amount,
        language=language,
        timezone=params.timezone,
    )
    rule = _RULES.get(member.group)
    case = rule(member, ctx) if rule is not None else None
    if case is not None:
        key, fields = case
        return GROUP_TEXT[member.group].phrases[key].format(language, **fields)
    return GENERIC.format(
        language,
        description=member.describe(language),
        value=format_value(member, row.get(feature), language),
    )
