"""Numbers, money, shares, durations and windows for people (``1,240``, ``3,200.00 CNY``,
``18%``, ``3.5 hours``, ``7 days``), in English or Chinese."""

from __future__ import annotations

import math

from okml.explain.phrases import WORDS, check_language
from okml.features.registry import FeatureSpec, window_en, window_zh


def is_missing(x: object) -> bool:
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
    return body + ("倍" if check_language(language) == "zh" else "x")


def fmt_duration(seconds: float, language: str = "en") -> str:
    """``45 seconds``, ``12 minutes``, ``3.5 hours``, ``2.0 days``, ``1.3 years`` (or Chinese)."""
    s = float(seconds)
    en = check_language(language) == "en"
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
    words = WORDS[check_language(language)][noun]
    text = fmt_number(x)
    if language == "zh":
        return f"{text}{words[0]}"
    return f"{text} {words[float(x) != 1]}"


# the units a usual rate is told in when it is under one per window: "about 1 payment a week"
_RATE_UNITS = ((3600, "an hour", "每小时"), (86400, "a day", "每天"), (7 * 86400, "a week", "每周"),
               (30 * 86400, "a month", "每月"))  # fmt: skip


def fmt_usual_count(count: float, window_seconds: int, noun: str = "payment", language: str = "en") -> str:
    """A usual count in a window, in units people think in.

    At least one per window: ``about 60 payments`` (``约60笔支付``), the window being the
    sentence's. Under one: per the shortest unit at least as long as the window in which it
    is about one or more (``about 1 payment a week``, ``约每周1笔支付``), or ``fewer than 1
    payment a month``; none: ``none`` (``无``).

    >>> fmt_usual_count(0.0019, 600)
    'about 1.9 payments a week'
    >>> fmt_usual_count(60, 30 * 86400)
    'about 60 payments'
    >>> fmt_usual_count(0.02, 86400, language="zh")
    '约每月0.6笔支付'
    """
    en = check_language(language) == "en"
    count = float(count)
    if count <= 0:
        return "none" if en else "无"
    if count >= 0.95:
        about = fmt_count(_about(count), noun, language)
        return f"about {about}" if en else f"约{about}"
    rate = count / window_seconds
    units = [u for u in _RATE_UNITS if u[0] >= window_seconds] or [_RATE_UNITS[-1]]
    seconds, unit_en, unit_zh = next((u for u in units if rate * u[0] >= 0.95), units[-1])
    n = rate * seconds
    if n < 0.5:
        one = WORDS[language][noun][0]
        return f"fewer than 1 {one} {unit_en}" if en else f"{unit_zh}不到1{one}"
    about = fmt_count(_about(n), noun, language)
    return f"about {about} {unit_en}" if en else f"约{unit_zh}{about}"


def fmt_usual_money(value: float, window_seconds: int, unit: str = "", language: str = "en") -> str:
    """A usual amount in a window: in the window itself (``about 1,200.00``) when it is a
    day or longer, else per day (``about 53.00 a day``), since nobody thinks of their
    spending per 10 minutes."""
    en = check_language(language) == "en"
    if window_seconds >= 86400:
        return f"about {fmt_money(value, unit)}" if en else f"约{fmt_money(value, unit)}"
    daily = float(value) * 86400 / window_seconds
    return f"about {fmt_money(daily, unit)} a day" if en else f"约每天{fmt_money(daily, unit)}"


def _about(x: float) -> float:
    """Two significant digits at most: a baseline is an estimate, not a count."""
    if x >= 10:
        return float(round(x))
    return round(x, 1)


def fmt_hour(h: float) -> str:
    h = int(h)
    return f"{h:02d}:00-{h:02d}:59"


def format_value(feature: FeatureSpec, value: float | None, language: str = "en") -> str:
    """A feature value with its unit for people, e.g. ``9 payments``, ``3,200.00 CNY``, ``18%``."""
    words = WORDS[check_language(language)]
    if value is None or is_missing(value):
        return str(words["missing"])
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
        return fmt_hour(v)
    if unit == "std devs":
        return f"{v:.1f} " + ("standard deviations" if language == "en" else "个标准差")
    if unit.isupper() and len(unit) == 3:  # a currency
        return fmt_money(v, unit)
    return f"{fmt_number(v)} {unit}".strip()


def window_text(seconds: int | None, language: str = "en") -> str:
    """``hour``, ``7 days`` (``1小时``, ``7天``): the registry's own wording of a window."""
    return window_en(seconds) if check_language(language) == "en" else window_zh(seconds)


def window_adjective(seconds: int, language: str) -> str:
    """``30-day`` / ``1-hour`` (``30天``)."""
    if language == "zh":
        return window_zh(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            return f"{seconds // size}-{unit}"
    return f"{seconds}-second"
