"""Reason codes: the plain-language sentences reviewers read, one per feature group.

The feature registry (:mod:`okml.features.registry`) says what each column means; this
module holds the rules that turn a group of related features into one sentence with the
actual value and, where the feature row allows it, the customer's own baseline::

    9 payments in the last hour (usual for this customer: 0.2)
    amount 3,200.00 is 12x this customer's 30-day average (266.67)
    first payment from this device
    merchant had 18% confirmed fraud in the last 7 days

Every group of the registry has a title and sentence templates in English and Chinese
(:data:`okml.explain.phrases.GROUP_TEXT`); a rule per group (:data:`_RULES`) picks the
sentence for the group's most telling member and fills in numbers read from the same feature
row. Anything a rule does not cover (a missing value, an unknown column) falls back to the
registry description and the value with its unit, so a reason is never empty.

Baselines come only from the explained row, so the text is exactly as point-in-time as the
features: the usual count in a window ``w`` is the customer's rate outside ``w`` within the
longest configured window ``L``, ``(count_L - count_w) * w / (L - w)``, so a burst does not
inflate its own baseline.

Text here is plain text; the report escapes it (and anything else) before it reaches HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from okml.config import FeatureParams
from okml.explain.humanize import (
    fmt_count,
    fmt_duration,
    fmt_hour,
    fmt_money,
    fmt_ratio,
    fmt_share,
    fmt_usual_count,
    fmt_usual_money,
    format_value,
    is_missing,
    window_adjective,
    window_text,
)
from okml.explain.phrases import GENERIC, GROUP_TEXT, OTHER_FACTORS, WORDS, check_language
from okml.features.registry import FeatureSpec, registry, spec


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
        return None if is_missing(v) else float(v)

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


#: How far from its baseline a value must be to be told as above or below it (a quarter
#: more, a fifth less); closer, it is "as usual" and explains nothing.
ABOVE, BELOW = 1.25, 0.8


def _direction(value: float, usual: float) -> str:
    """``baseline`` (the sentence of a value above its baseline) when the value is well
    above it; ``below`` when well under it: a positive contribution then means that *less*
    than usual raised the score, and the sentence must say so ("fewer payments than usual:
    ..."), not read as a burst; ``flat`` when it is about as usual: no true reading."""
    if value > usual * ABOVE and value > usual:
        return "baseline"
    if value < usual * BELOW:
        return "below"
    return "flat"


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
        usual = fmt_usual_count(base, member.window_seconds, "payment", ctx.language)
        return _direction(v, base), fields | {"baseline": usual}

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
        usual = fmt_usual_money(base, member.window_seconds, member.unit, ctx.language)
        return _direction(v, base), fields | {"baseline": usual}

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
    return _direction(v, base), fields | {"baseline": fmt_money(base, member.unit)}


def _time_of_day(member: FeatureSpec, ctx: _Ctx) -> Case:
    fields = {"tz": ctx.timezone}
    if member.name == "is_weekend" and ctx.get("is_weekend") == 1:
        return "weekend", fields
    hour = ctx.get("hour")
    if hour is None:
        return None
    fields["hour"] = fmt_hour(hour)
    return ("night" if ctx.get("is_night") == 1 else "hour"), fields


def _recency(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None:
        return "none", {}
    return "gap", {"gap": fmt_duration(v, ctx.language)}


def _amount_vs_history(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    w = member.window_seconds
    words = WORDS[ctx.language]
    span = words["all"] if w is None else words["average"].format(window=window_adjective(w, ctx.language))
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
        return "streak", {
            "count": fmt_count(streak, "payment", ctx.language),
            "days": fmt_duration(start * 86400, ctx.language),
        }
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


def _linked(member: FeatureSpec, ctx: _Ctx) -> Case:
    w = member.window_seconds
    size = ctx.get(ctx.sibling(member.group, w, "accounts"))
    if size is None or w is None:
        return None
    fields = {"window": window_text(w, ctx.language)}
    if size < 2:
        return "alone", fields
    fields["others"] = fmt_count(size - 1, "customer", ctx.language)
    payments = ctx.get(ctx.sibling(member.group, w, "payments"))
    if payments is None:
        return "group_size", fields
    fields["payments"] = fmt_count(payments, "payment", ctx.language)
    share = ctx.get(ctx.sibling(member.group, w, "share"))
    if share is None:
        return "group", fields
    return "group_merchant", fields | {"share": fmt_share(share)}


def _linked_known_fraud(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    if v is None or member.window_seconds is None:
        return None
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    if v >= 1:
        return "count", fields | {"count": fmt_count(v, "payment", ctx.language)}
    return "none", fields


def _device_known_fraud(member: FeatureSpec, ctx: _Ctx) -> Case:
    v = ctx.get(member.name)
    fields = {"window": window_text(member.window_seconds, ctx.language)}
    if v is None:
        return "none", fields
    if v >= 1:
        return "count", fields | {"count": fmt_count(v, "payment", ctx.language)}
    return "zero", fields


def _victim_share(member: FeatureSpec, ctx: _Ctx) -> float | None:
    return ctx.get(ctx.sibling(member.group, member.window_seconds, "share"))


def _point_of_compromise(member: FeatureSpec, ctx: _Ctx) -> Case:
    w = member.window_seconds
    if w is None:
        return None
    fields = {"window": window_text(w, ctx.language)}
    share = _victim_share(member, ctx)
    victims = ctx.get(ctx.sibling(member.group, w, "customers"))
    if share is None:
        if victims is None or victims == 0:
            return "none", fields
        return None
    if share == 0:
        return "zero", fields
    fields["share"] = fmt_share(share)
    if victims is None:
        return "share_only", fields
    return "share", fields | {"victims": fmt_count(victims, "customer", ctx.language)}


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
    "linked_accounts": _linked,
    "linked_accounts_soft": _linked,
    "linked_known_fraud": _linked_known_fraud,
    "device_known_fraud": _device_known_fraud,
    "point_of_compromise": _point_of_compromise,
}


# ---------------------------------------------------------------- true as it is read
# A reason is shown because its group *raised* the score. Its sentence is true in that
# direction only if the value, read as worded, points to risk: "merchant had <0.1% confirmed
# fraud" does not explain a higher score, though the model may have learnt that such
# merchants are riskier in combination with other features. Every sentence of every group is
# classified here (a test checks that none is missing): True when it always reads as a
# reason, False when it never does, or a check of the row. Where the check fails the reason
# is "other factors (<group title>)".
Check = Callable[[FeatureSpec, _Ctx], bool]


def _value(test: Callable[[float], bool], name: str | None = None) -> Check:
    """True when the member's value (or column ``name``'s) passes ``test``."""

    def check(member: FeatureSpec, ctx: _Ctx) -> bool:
        v = ctx.get(name or member.name)
        return v is not None and test(v)

    return check


_AWAY_FROM_ONE = _value(lambda r: r > ABOVE or r < BELOW)  # a ratio well away from 1x
_MOVES = {"baseline": True, "below": True, "flat": False, "plain": False}
_FLAG = {"yes": True, "no": False}
#: a merchant fraud share under this is not told as a risk
RISKY_SHARE = 0.01
#: a merchant whose recent customers were later confirmed victims less often than this is not
#: told as a point of compromise (about one in a hundred customers is a victim somewhere)
VICTIM_SHARE = 0.05


def _compromised(member: FeatureSpec, ctx: _Ctx) -> bool:
    share = _victim_share(member, ctx)
    return share is not None and share >= VICTIM_SHARE


READS_TRUE: dict[str, Mapping[str, bool | Check]] = {
    "time_of_day": {"weekend": True, "night": True, "hour": False},
    "customer_recency": {"gap": True, "none": True},
    "customer_count": _MOVES,
    "customer_sum": _MOVES,
    "customer_mean": _MOVES,
    "amount_vs_history": {
        "ratio": _AWAY_FROM_ONE, "ratio_no_amount": _AWAY_FROM_ONE,
        "z": _value(lambda z: abs(z) >= 1), "z_no_amount": _value(lambda z: abs(z) >= 1), "none": True,
    },
    "amount_vs_median": {"ratio": _AWAY_FROM_ONE, "ratio_no_amount": _AWAY_FROM_ONE, "none": True},
    "recent_outsized_payment": {"ratio": _value(lambda r: r > ABOVE), "none": True},
    "new_merchant": _FLAG,
    "new_device": _FLAG,
    "new_region": _FLAG,
    "unusual_hour": {"share": _value(lambda x: x < 0.1), "none": True},
    "account_age": {"age": _value(lambda days: days < 90)},
    "merchant_count": _MOVES,
    "merchant_sum": _MOVES,
    "merchant_risk": {"share": _value(lambda x: x >= RISKY_SHARE)},
    "customer_known_fraud": {"count": True, "days": True, "none": False},
    "merchant_known_fraud": {
        "count": True, "days": _value(lambda d: d <= 14, "merch_days_since_known_fraud"),
        "first_days": _value(lambda d: d <= 30, "merch_days_since_first_known_fraud"), "none": False,
    },
    "merchant_delayed_risk": {"share": _value(lambda x: x >= RISKY_SHARE), "none": True},
    "merchant_fraud_streak": {"streak": True, "clean": False, "none": True},
    "merchant_fraud_amounts": {"ratio": True, "none": False},
    "device_sharing": {"count": _value(lambda n: n >= 1), "none": True},
    "pair_count": {"count": _value(lambda n: n >= 2)},
    "round_amount": _FLAG,
    "amount": {"amount": True},
    "linked_accounts": {"group": True, "group_merchant": True, "group_size": True, "alone": False},
    "linked_accounts_soft": {"group": True, "group_merchant": True, "group_size": True, "alone": False},
    "linked_known_fraud": {"count": True, "none": False},
    "device_known_fraud": {"count": True, "zero": False, "none": False},
    "point_of_compromise": {"share": _compromised, "share_only": _compromised, "zero": False, "none": False},
}  # fmt: skip


def reads_true(group: str, key: str, member: FeatureSpec, ctx: _Ctx) -> bool:
    """Whether sentence ``key`` of ``group`` is a true reason for a higher score here."""
    verdict = READS_TRUE.get(group, {}).get(key, True)
    return verdict if isinstance(verdict, bool) else verdict(member, ctx)


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
    check_language(language)
    params = params if params is not None else FeatureParams()
    specs = specs if specs is not None else registry(params)
    member = specs[feature] if feature in specs else feature_spec(feature, params)
    ctx = _Ctx(
        row=row,
        specs=specs,
        amount=None if is_missing(amount) else amount,
        language=language,
        timezone=params.timezone,
    )
    rule = _RULES.get(member.group)
    case = rule(member, ctx) if rule is not None else None
    if case is not None:
        key, fields = case
        if not reads_true(member.group, key, member, ctx):
            return OTHER_FACTORS.format(language, title=GROUP_TEXT[member.group].title.format(language))
        return GROUP_TEXT[member.group].phrases[key].format(language, **fields)
    return GENERIC.format(
        language,
        description=member.describe(language),
        value=format_value(member, row.get(feature), language),
    )
