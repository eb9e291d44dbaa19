"""The words of okml's explanations in English and Chinese: group titles, sentence templates,
unit words. All wording lives here (and in the feature registry's descriptions); the rules
that choose a sentence are in :mod:`okml.explain.reasons`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Phrase:
    """One sentence in English and Chinese, with ``{field}`` placeholders."""

    en: str
    zh: str

    def format(self, language: str, **fields: str) -> str:
        """The sentence in ``language`` (``en`` or ``zh``) with ``fields`` filled in."""
        return getattr(self, check_language(language)).format(**fields)


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
                               "过去{window}内有{count}（该客户通常{baseline}）"),
            "below": Phrase("fewer payments than usual: {count} in the last {window} (usual for "
                            "this customer: {baseline})",
                            "支付笔数少于平时：过去{window}内有{count}（该客户通常{baseline}）"),
            "plain": Phrase("{count} in the last {window}", "过去{window}内有{count}"),
        }),
    "customer_sum": GroupText(
        Phrase("customer's amount paid", "客户支付总额"),
        {
            "baseline": Phrase("paid {value} in the last {window} (usual for this customer: "
                               "{baseline})",
                               "过去{window}内共支付{value}（该客户通常{baseline}）"),
            "below": Phrase("paid less than usual: {value} in the last {window} (usual for this "
                            "customer: {baseline})",
                            "支付金额低于平时：过去{window}内共支付{value}（该客户通常{baseline}）"),
            "plain": Phrase("paid {value} in the last {window}", "过去{window}内共支付{value}"),
        }),
    "customer_mean": GroupText(
        Phrase("customer's average payment", "客户平均支付金额"),
        {
            "baseline": Phrase("average payment {value} in the last {window} (usual for this "
                               "customer: {baseline})",
                               "过去{window}内平均每笔{value}（该客户通常为{baseline}）"),
            "below": Phrase("smaller payments than usual: average {value} in the last {window} "
                            "(usual for this customer: {baseline})",
                            "单笔金额低于平时：过去{window}内平均每笔{value}（该客户通常为{baseline}）"),
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
            "share": Phrase("unusual time of day for this customer: only {share} of their "
                            "payments in the last {window} were at this time (within an hour)",
                            "该客户不常在此时段支付：过去{window}内仅{share}的支付在此时段（前后1小时）"),
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
                               "该商户过去{window}内收到{count}（通常{baseline}）"),
            "below": Phrase("merchant received fewer payments than usual: {count} in the last "
                            "{window} (usual: {baseline})",
                            "该商户收款笔数少于平时：过去{window}内收到{count}（通常{baseline}）"),
            "plain": Phrase("merchant received {count} in the last {window}",
                            "该商户过去{window}内收到{count}"),
        }),
    "merchant_sum": GroupText(
        Phrase("merchant's amount received", "商户收款总额"),
        {
            "baseline": Phrase("merchant received {value} in the last {window} (usual: "
                               "{baseline})",
                               "该商户过去{window}内收款{value}（通常{baseline}）"),
            "below": Phrase("merchant received less than usual: {value} in the last {window} "
                            "(usual: {baseline})",
                            "该商户收款金额低于平时：过去{window}内收款{value}（通常{baseline}）"),
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
    # ---- the entity graph (okml.features.graph) and the common point of compromise
    "linked_accounts": GroupText(
        Phrase("accounts linked through shared devices", "通过共用设备相连的账户"),
        {
            "group": Phrase("linked through shared devices to {others} ({payments} in about the "
                            "last {window})",
                            "通过共用设备与{others}相连（约过去{window}内共{payments}）"),
            "group_merchant": Phrase("linked through shared devices to {others} ({payments} in about "
                                     "the last {window}, {share} of them at this merchant)",
                                     "通过共用设备与{others}相连（约过去{window}内共{payments}，其中{share}在该商户）"),
            "group_size": Phrase("linked through shared devices to {others} in about the last {window}",
                                 "约过去{window}内通过共用设备与{others}相连"),
            "alone": Phrase("no other account shared a device with this one in about the last "
                            "{window}",
                            "约过去{window}内无其他账户与本账户共用设备"),
        }),
    "linked_accounts_soft": GroupText(
        Phrase("accounts linked through devices or paying together", "通过设备或同时付款相连的账户"),
        {
            "group": Phrase("linked through shared devices or by paying the same merchant at the same "
                            "time on different days to {others} ({payments} in about the last "
                            "{window})",
                            "通过共用设备或多日在同一商户同时付款与{others}相连（约过去{window}内共{payments}）"),
            "group_merchant": Phrase("linked through shared devices or by paying the same merchant at "
                                     "the same time on different days to {others} ({payments} in "
                                     "about the last {window}, {share} of them at this merchant)",
                                     "通过共用设备或多日在同一商户同时付款与{others}相连（约过去{window}内共"
                                     "{payments}，其中{share}在该商户）"),
            "group_size": Phrase("linked through shared devices or by paying the same merchant at the "
                                 "same time on different days to {others} in about the last {window}",
                                 "约过去{window}内通过共用设备或多日在同一商户同时付款与{others}相连"),
            "alone": Phrase("no other account linked to this one by a shared device or by paying "
                            "together in about the last {window}",
                            "约过去{window}内无其他账户通过共用设备或同时付款与本账户相连"),
        }),
    "linked_known_fraud": GroupText(
        Phrase("confirmed fraud of linked accounts", "相连账户的已确认欺诈"),
        {
            "count": Phrase("{count} of the linked accounts in about the last {window} already "
                            "confirmed as fraud",
                            "约过去{window}内相连账户已有{count}被确认为欺诈"),
            "none": Phrase("no confirmed fraud among the linked accounts' payments in about the last "
                           "{window}",
                           "约过去{window}内相连账户的支付中无已确认欺诈"),
        }),
    "device_known_fraud": GroupText(
        Phrase("confirmed fraud of others on this device", "该设备其他客户的已确认欺诈"),
        {
            "count": Phrase("{count} by other customers of this device in about the last {window} "
                            "already confirmed as fraud",
                            "约过去{window}内该设备的其他客户已有{count}被确认为欺诈"),
            "zero": Phrase("no confirmed fraud by other customers of this device in about the last "
                           "{window}",
                           "约过去{window}内该设备的其他客户无已确认欺诈"),
            "none": Phrase("no device recorded, or one shared by very many customers",
                           "无设备信息，或该设备被大量客户共用"),
        }),
    "point_of_compromise": GroupText(
        Phrase("merchant as a common point of compromise", "商户为共同泄露点"),
        {
            "share": Phrase("{share} of this merchant's other customers in the last {window} "
                            "({victims}) were later confirmed as fraud victims: a possible common "
                            "point of compromise",
                            "该商户过去{window}内的其他客户中有{share}（{victims}）之后被确认为欺诈受害者："
                            "可能的共同泄露点"),
            "share_only": Phrase("{share} of this merchant's other customers in the last {window} "
                                 "were later confirmed as fraud victims: a possible common point of "
                                 "compromise",
                                 "该商户过去{window}内的其他客户中有{share}之后被确认为欺诈受害者："
                                 "可能的共同泄露点"),
            "zero": Phrase("none of this merchant's other customers in the last {window} was later "
                           "confirmed as a fraud victim",
                           "该商户过去{window}内的其他客户中无人之后被确认为欺诈受害者"),
            "none": Phrase("no other customer paid this merchant in the last {window}",
                           "过去{window}内无其他客户在该商户付款"),
        }),
}
# fmt: on

#: Used when no rule applies: the registry description and the value with its unit.
GENERIC = Phrase("{description}: {value}", "{description}：{value}")

#: A reason told through a feature that is not exact for the row (the scored history was cut
#: short, see ``okml.score.approximate_features``): not stated as fact.
APPROXIMATE = Phrase(
    "{text} (approximate: the history it was scored with is incomplete)",
    "{text}（近似值：评分时的历史数据不完整）",
)

#: A group whose contribution raised the score but whose value, read as worded, would not
#: explain it (a merchant with almost no fraud, a device nobody else uses): no sentence that
#: would be true in the direction it is read, so the reviewer is told so.
OTHER_FACTORS = Phrase("other factors ({title})", "其他因素（{title}）")

WORDS: dict[str, dict[str, Any]] = {
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


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")
    return language


def group_title(group: str, language: str = "en") -> str:
    """Short name of a feature group for tables and charts (the group name if unknown)."""
    check_language(language)
    text = GROUP_TEXT.get(group)
    return text.title.format(language) if text is not None else group
