"""The reviewers' report: a day's flagged payments, why each was flagged, in English or Chinese.

This module prepares and renders; running is a job. ``notebooks/03_explain_flagged.ipynb``
is thin: it calls :func:`okml.jobs.report.prepare` (which loads the model and calls
:func:`prepare`) and displays the HTML pieces built here. :func:`okml.jobs.report.write_report`
executes it with papermill and exports self-contained HTML without code (``okml report``, and
``okml train`` at the end).

Safety: everything that comes from data (ids, merchant names, categories, regions, the
model URI) is untrusted and goes through :func:`html.escape` before it reaches HTML; the
charts carry no data text at all (only our own labels and numbers) and are embedded as PNG
``data:`` URIs, so the report works offline. The exported page keeps no ``<script>``
element (nbconvert's template adds MathJax and mermaid loaders; :func:`strip_scripts`
removes them): the report runs no script, online or not.

Layout: text from data may be arbitrarily long. In table cells (:func:`cell_text`) text
longer than :data:`MAX_CELL_CHARS` is cut with an ellipsis, the whole of it in the hover
``title``, and a word longer than :data:`LONG_WORD_CHARS` may break anywhere, so one
unbroken string cannot widen a column and push the others off-screen.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.cases import Case, CaseReason, RingCase
from okml.config import FeatureParams, Params
from okml.errors import DataError, OkmlError
from okml.explain import ExplainedCases, explain
from okml.explain.humanize import fmt_money
from okml.explain.phrases import group_title
from okml.paths import NOTEBOOKS_DIR, resolve
from okml.score import FEATURE_PREFIX

log = logging.getLogger(__name__)

NOTEBOOK = NOTEBOOKS_DIR / "03_explain_flagged.ipynb"
# data text in a table cell longer than this is cut (the whole in the hover title); reasons
# are our own sentences with values in them, some over 100 characters: they get more room
MAX_CELL_CHARS = 80
MAX_REASON_CHARS = 200
# a word (run without spaces) longer than this may break anywhere in a table cell; shorter
# ones (ids, amounts, ordinary words) stay whole
LONG_WORD_CHARS = 24
_RED, _BLUE, _GREY, _ORANGE = "#d62728", "#1f77b4", "#7f7f7f", "#ff7f0e"

# ------------------------------------------------------------------------------ words
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Flagged payments for review: {date}",
        "summary": "{n} payments scored on {date} (local day in {tz}); {flagged} flagged, "
        "{customers} cases (one per customer).",
        "partial": "The scored file covers this day only from {start} to {end}.",
        "shown": "Shown below: the {shown} riskiest cases, highest score first; each lists all "
        "of its customer's flagged payments of the day.",
        "model": "Model",
        "scored_file": "Scored file",
        "times": "Times are local time in {tz}.",
        "how_to_read": "Each case lists the factors that raised its score the most, compared "
        "with the customer's own usual behaviour. The chart <i>Why this score</i> "
        "shows how each factor moved the model's output from that of an average "
        "payment (grey line) to this payment's: red bars raise it, blue bars "
        "lower it. The timeline shows the customer's payments in the scored "
        "period: the case's riskiest payment is the red star, its other flagged "
        "payments are orange.",
        "cases": "Flagged cases",
        "rings": "Rings of linked accounts",
        "rings_note": "Accounts linked by the devices they share (or by paying one merchant minutes apart on "
        "several days) that paid on this day, with at least one member's case: the reviewer works each "
        "ring as one case. Found in {source}. The evidence pack: okml evidence --ring ID.",
        "ring_data": "the payments of {path}",
        "ring_scored": "the scored file's payments only (data.path does not hold them)",
        "ring": "ring",
        "members": "members (with a case)",
        "confirmed": "confirmed",
        "no_cases": "No payments were flagged on {date}.",
        "rank": "rank",
        "time": "time",
        "customer": "customer",
        "merchant": "merchant",
        "category": "category",
        "channel": "channel",
        "amount": "amount",
        "score": "score",
        "device": "device",
        "region": "region",
        "main_reason": "main reason",
        "rank_in_day": "rank in the day",
        "case_payments": "customer's flagged payments that day",
        "case": "Case {i}: customer {customer}, score {score}",
        "case_short": "case {i}",
        "flagged_payments": "flagged payments",
        "merchants": "merchants",
        "devices": "devices",
        "span": "first to last flag",
        "riskiest": "riskiest payment",
        "payments_of_case": "The flagged payments of this case",
        "why": "Why it was flagged",
        "no_reasons": "No single factor raised the score much; it is high overall.",
        "waterfall": "Why this score",
        "waterfall_x": "contribution to the model output ({space})",
        "average": "average payment",
        "this": "this payment",
        "other": "other factors ({n} groups)",
        "timeline": "This customer's payments",
        "timeline_y": "amount",
        "payment": "payment",
        "flagged": "flagged",
        "this_case": "this case",
        "ds": "For data scientists",
        "ds_intro": "SHAP values (exact) of {n} payments of the day ({sampled}). "
        "Contributions are in {space}; with the base value they add up to each "
        "payment's model output, which okml.explain checks for every explained "
        "payment.",
        "all": "all of them",
        "sample": "a random sample",
        "importance": "Mean |SHAP| by feature group",
        "importance_x": "mean |contribution| ({space})",
        "beeswarm": "SHAP value of each payment, by feature",
        "beeswarm_x": "contribution ({space})",
        "beeswarm_c": "feature value (low to high)",
        "chart_alt": "chart",
    },
    "zh": {
        "title": "待审核的可疑支付：{date}",
        "summary": "{date}（{tz}当地日）共评分{n}笔支付，其中{flagged}笔被标记，"
        "共{customers}个案例（每位客户一个）。",
        "partial": "评分文件只覆盖该日{start}至{end}。",
        "shown": "下面按分数从高到低列出风险最高的{shown}个案例，每个案例列出该客户当日所有被标记的支付。",
        "model": "模型",
        "scored_file": "评分文件",
        "times": "时间为{tz}当地时间。",
        "how_to_read": "每个案例列出使分数升高最多的因素，并与该客户自己的惯常行为比较。"
        "图表<i>分数由来</i>显示每个因素如何把模型输出从普通支付的水平（灰线）"
        "推到本笔支付的水平：红色条使分数升高，蓝色条使分数降低。"
        "时间线显示该客户在评分期内的支付：本案例风险最高的一笔为红色星号，其余被标记的支付为橙色。",
        "cases": "被标记的案例",
        "rings": "关联账户团伙",
        "rings_note": "通过共用设备（或多日在同一商户前后几分钟内支付）关联、当日有支付且"
        "至少一位成员有案例的账户：审核员把每个团伙作为一个案例处理。"
        "来源：{source}。证据包：okml evidence --ring ID。",
        "ring_data": "{path}中的支付",
        "ring_scored": "仅评分文件中的支付（data.path 不包含这些支付）",
        "ring": "团伙",
        "members": "成员（有案例）",
        "confirmed": "已确认",
        "no_cases": "{date}没有被标记的支付。",
        "rank": "排名",
        "time": "时间",
        "customer": "客户",
        "merchant": "商户",
        "category": "类别",
        "channel": "渠道",
        "amount": "金额",
        "score": "分数",
        "device": "设备",
        "region": "地区",
        "main_reason": "主要原因",
        "rank_in_day": "当日排名",
        "case_payments": "该客户当日被标记的支付",
        "case": "案例{i}：客户{customer}，分数{score}",
        "case_short": "案例{i}",
        "flagged_payments": "被标记的支付",
        "merchants": "商户",
        "devices": "设备",
        "span": "首次至末次标记",
        "riskiest": "风险最高的支付",
        "payments_of_case": "本案例被标记的支付",
        "why": "标记原因",
        "no_reasons": "没有单个因素明显推高分数；整体风险较高。",
        "waterfall": "分数由来",
        "waterfall_x": "对模型输出的贡献（{space}）",
        "average": "普通支付",
        "this": "本笔支付",
        "other": "其他因素（{n}组）",
        "timeline": "该客户的支付",
        "timeline_y": "金额",
        "payment": "支付",
        "flagged": "已标记",
        "this_case": "本案例",
        "ds": "供数据科学家参考",
        "ds_intro": "当日{n}笔支付（{sampled}）的SHAP值（精确计算）。贡献以{space}表示，"
        "加上基准值等于每笔支付的模型输出；okml.explain对每笔解释的支付都做此校验。",
        "all": "全部",
        "sample": "随机抽样",
        "importance": "各特征组的平均|SHAP|",
        "importance_x": "平均|贡献|（{space}）",
        "beeswarm": "各特征的逐笔SHAP值",
        "beeswarm_x": "贡献（{space}）",
        "beeswarm_c": "特征值（低到高）",
        "chart_alt": "图表",
    },
}


_SPACE = {
    "en": {"log-odds": "log-odds", "probability": "probability"},
    "zh": {"log-odds": "对数几率", "probability": "概率"},
}


def _t(language: str, key: str, **fields: Any) -> str:
    if language not in TEXT:
        raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")
    return TEXT[language][key].format(**fields)


def _space(language: str, explained: ExplainedCases) -> str:
    """The unit of the contributions, in words: log-odds, or the probability itself."""
    return _SPACE[language][explained.output]


def _text(value: Any) -> str:
    """A value as plain text ("" for missing)."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _e(value: Any) -> str:
    """Untrusted value -> HTML-safe text ("" for missing)."""
    return html.escape(_text(value), quote=True)


# where a browser may break a line of text (not at a no-break space, unlike str.split)
_HTML_SPACE = re.compile(r"[ \t\n\f\r]+")


def cell_text(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    """Untrusted value -> HTML-safe text for a table cell ("" for missing).

    Text longer than ``limit`` characters is cut to ``limit`` with an ellipsis inside a
    ``<span class="okml-cut">`` whose ``title`` holds the whole text (escaped too), so the
    reviewer sees it on hover while the column stays narrow.
    """
    text = _text(value)
    cut = len(text) > limit
    shown = text[: limit - 1] + "…" if cut else text
    # only a word too long for a column may break anywhere: letting every cell do so would
    # let the table squeeze short ids into broken pieces to make room for a long name
    long = max(map(len, _HTML_SPACE.split(shown))) > LONG_WORD_CHARS
    if not (cut or long):
        return html.escape(shown, quote=True)
    title = f' title="{html.escape(text, quote=True)}"' if cut else ""
    classes = " ".join(c for c, on in (("okml-cut", cut), ("okml-long", long)) if on)
    return f'<span class="{classes}"{title}>{html.escape(shown, quote=True)}</span>'


# a whole script element (its content ends at the first "</script", as for a browser), then
# any lone opening or closing tag left over
_SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_TAG = re.compile(r"</?script\b[^>]*>?", re.IGNORECASE)


def embed_font(page: str) -> str:
    """``page`` with okml's Chinese font (:func:`okml.explain.fonts.font_face_css`), cut to
    the page's own characters, in a ``<style>`` at the end of its ``<head>``: the report reads
    as Chinese wherever it is opened. A page with nothing for the font to draw is unchanged."""
    from okml.explain.fonts import font_face_css

    css = font_face_css(page)
    if not css:
        return page
    style = f"<style>{css}</style>"
    head = re.search(r"</head\s*>", page, re.IGNORECASE)
    return page[: head.start()] + style + page[head.start() :] if head else style + page


def strip_scripts(page: str) -> str:
    """``page`` without any ``<script>`` element, inline or external.

    The report needs none: its pieces are plain HTML and CSS with images as ``data:`` URIs;
    the scripts are nbconvert's template (MathJax, require.js, a mermaid loader that would
    fetch mermaid from a CDN). Data text cannot hold a tag here: it is escaped.
    """
    page = _SCRIPT_ELEMENT.sub("", page)
    page = _SCRIPT_TAG.sub("", page)
    # what is left can only be a "<script" that the tag pattern could not take apart
    # (e.g. "<script<script>"): neutralise it rather than trust the pattern
    return re.sub(r"<(/?script)", r"&lt;\1", page, flags=re.IGNORECASE)


# ------------------------------------------------------------------------- the data
@dataclass
class ReportData:
    """Everything the report shows, prepared once (see :func:`prepare`).

    ``case_list`` holds the shown cases (:class:`okml.cases.Case`, best first); ``cases``
    has one row per shown case, its riskiest payment (with ``case_payments`` and
    ``case_amount``), which ``explained`` explains row for row; ``payments`` explains all
    the flagged payments of the shown cases (``payments_explained``, the same order).
    """

    params: Params
    language: str
    date: pd.Timestamp
    scored_path: Path
    model_uri: str
    feature_params: FeatureParams
    columns: list[str]
    day: pd.DataFrame
    cases: pd.DataFrame
    explained: ExplainedCases
    overview: ExplainedCases | None
    scored: pd.DataFrame
    case_list: list[Case] = field(default_factory=list)
    case_reasons: list[list[CaseReason]] = field(default_factory=list)
    payments: pd.DataFrame | None = None
    payments_explained: ExplainedCases | None = None
    approximate: tuple[str, ...] = ()
    rings: list[RingCase] = field(default_factory=list)
    ring_source: str = ""

    @property
    def timezone(self) -> str:
        return self.feature_params.timezone

    @property
    def chart_language(self) -> str:
        """Language of chart labels: the report's (okml ships the font Chinese needs)."""
        return self.language


def read_scored(path: str | Path) -> pd.DataFrame:
    """A scored Parquet file written by ``okml score`` (checked for the columns we need)."""
    file = resolve(path)
    if not file.exists():
        raise DataError("scored file not found; run `okml score` first", file=file)
    try:
        scored = pd.read_parquet(file)
    except Exception as e:  # pyarrow raises several types for a broken file
        raise DataError(f"cannot read Parquet ({type(e).__name__})", file=file) from None
    need = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "score", "flag"]
    missing = [c for c in need if c not in scored]
    if missing:
        raise DataError(
            f"not a scored file (no column {missing[0]}); write one with `okml score`",
            file=file,
            column=missing[0],
        )
    if not any(c.startswith(FEATURE_PREFIX) for c in scored.columns):
        raise DataError(
            "the scored file holds no feature columns (feat_*); rescore it with `okml score`", file=file
        )
    return scored


def local_day(date: str | pd.Timestamp | None, scored: pd.DataFrame, timezone: str) -> pd.Timestamp:
    """The reviewers' day to report, as its local midnight in ``timezone``: ``date``
    (``YYYY-MM-DD``, a local day), else the last local day that the file's UTC days
    wholly cover (``okml score`` files hold whole UTC days), else the local day of its last
    payment."""
    if date is None or date == "":
        ts = scored["timestamp"]
        whole = whole_days(ts.min().floor("D"), ts.max().floor("D") + pd.Timedelta(days=1), timezone)
        return whole[-1] if whole else ts.max().tz_convert(timezone).normalize()
    try:
        ts = pd.Timestamp(date)
    except ValueError:
        raise OkmlError(f"cannot read date {date!r}; use YYYY-MM-DD") from None
    if ts.tzinfo is not None:  # an instant: the local day it falls on
        return ts.tz_convert(timezone).normalize()
    return ts.normalize().tz_localize(timezone)


def whole_days(start: pd.Timestamp, end: pd.Timestamp, timezone: str) -> list[pd.Timestamp]:
    """The local days (their midnights in ``timezone``) that lie wholly in ``[start, end)``."""
    day = start.tz_convert(timezone).normalize()
    if day < start:
        day = day_end(day)
    days = []
    while day_end(day) <= end:
        days.append(day)
        day = day_end(day)
    return days


def day_end(day: pd.Timestamp) -> pd.Timestamp:
    """The local midnight after ``day`` (a day of 23 or 25 hours where clocks change)."""
    return (day.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(day.tz)


def day_rows(scored: pd.DataFrame, day: pd.Timestamp, source: Any = None) -> pd.DataFrame:
    """The scored payments of one local day; :class:`DataError` if there are none."""
    in_day = (scored["timestamp"] >= day) & (scored["timestamp"] < day_end(day))
    rows = scored.loc[in_day]
    if rows.empty:
        tz = day.tz
        first, last = (scored["timestamp"].agg(f).tz_convert(tz) for f in ("min", "max"))
        raise DataError(
            f"no scored payments on {day:%Y-%m-%d} ({tz} day; the file covers {first:%Y-%m-%d %H:%M} "
            f"to {last:%Y-%m-%d %H:%M})",
            file=source,
        )
    return rows


def scored_model(scored: pd.DataFrame) -> str | None:
    """``NAME/N``: the registered version that scored the file (``okml score`` records it)."""
    version = scored.attrs.get("model_version")
    return str(version) if version else None


def prepare(
    scored_path: str | Path,
    model: Any,
    params: Params,
    model_uri: str,
    date: str | None = None,
    n_cases: int | None = None,
    language: str | None = None,
    model_version: str | None = None,
    transactions: pd.DataFrame | None = None,
    ring_source: str | None = None,
) -> ReportData:
    """Build the day's cases of a scored file (:func:`okml.cases.build_cases`) and explain
    them with the model that scored it.

    Parameters
    ----------
    scored_path:
        Parquet from ``okml score`` (with ``feat_*`` columns).
    model:
        The loaded okml model that scored it (``FraudModel``: ``booster``, ``columns``,
        ``feature_params``; :func:`okml.tracking.load_model`).
    params:
        All parameters (``explain`` section).
    model_uri:
        How the report names the model (``models:/okpay-fraud/3``).
    date:
        The reviewers' local day ``YYYY-MM-DD`` (the model's ``features.timezone``);
        default the day of the file's last payment.
    n_cases:
        Cases shown (customers, the riskiest first); default ``explain.n_cases``.
    language:
        ``en`` or ``zh``; default ``explain.language``.
    model_version:
        ``NAME/N`` that ``model`` is, when known: a file scored by another version is
        refused (its flags and threshold are not this model's).
    transactions, ring_source:
        Where the day's rings (:func:`okml.cases.day_ring_cases`) are found, and the path
        the page names; default the scored file's payments before the day's end.

    Raises
    ------
    DataError
        The file is not a scored file, has no payment on the day, lacks the model's
        features, or was scored by another model version.
    """
    from okml.cases import build_cases, case_reasons, day_ring_cases

    language = language or params.explain.language
    _t(language, "title", date="")  # checks the language
    n_cases = params.explain.n_cases if n_cases is None else int(n_cases)
    scored = read_scored(scored_path)
    check_same_model(scored, model_version, scored_path)
    timezone = model.feature_params.timezone
    day = local_day(date, scored, timezone)
    rows = day_rows(scored, day, scored_path)
    columns = list(model.columns)
    missing = [c for c in columns if FEATURE_PREFIX + c not in scored]
    if missing:
        raise DataError(
            f"the scored file lacks features the model needs ({', '.join(missing[:3])}"
            "); was it scored with another model?",
            file=scored_path,
        )
    # a case is a customer's flagged payments of the local day (okml.cases, the one
    # definition the queue and `okml cases` use too); context reaches back into the file
    context = scored.loc[scored["timestamp"] < day_end(day)]
    of_day = [c for c in build_cases(context, timezone) if c.day == f"{day:%Y-%m-%d}"]
    shown = of_day[: max(n_cases, 0)]
    if transactions is None:
        transactions, ring_source = context, ""
    rings = day_ring_cases(transactions, model.feature_params, of_day, f"{day:%Y-%m-%d}")
    riskiest = [c.payments.sort_values("score", ascending=False, kind="stable").iloc[0] for c in shown]
    cases = pd.DataFrame(riskiest, columns=scored.columns).reset_index(drop=True)
    cases = cases.assign(
        case_payments=[c.n_flagged for c in shown], case_amount=[c.flagged_amount for c in shown]
    )
    cases = cases.astype({c: scored[c].dtype for c in scored.columns if c in cases})
    top = params.explain.top_reasons
    approx = tuple(scored.attrs.get("approximate_features") or ())
    payments = (
        pd.concat([c.payments.assign(_case=i) for i, c in enumerate(shown)], ignore_index=True)
        if shown
        else cases.assign(_case=0).iloc[:0]
    )
    payments = payments.astype({c: scored[c].dtype for c in scored.columns if c in payments})
    every = explain(
        model, _features(payments, columns), columns, model.feature_params, language, top,
        transactions=payments["amount"], approximate=approx,
    )  # fmt: skip
    # the riskiest payment of each case is among the case's payments: its explanation too
    first = [
        int(np.flatnonzero(payments["transaction_id"].to_numpy() == tx)[0]) for tx in cases["transaction_id"]
    ]
    explained = every.take(first)
    reasons_json = every.reasons_json()
    per_case = [
        case_reasons(
            payments.loc[payments["_case"] == i].assign(reasons=reasons_json[payments["_case"] == i]), top
        )
        for i in range(len(shown))
    ]
    n_overview = params.explain.overview_rows
    sample = rows if len(rows) <= n_overview else rows.sample(n_overview, random_state=0)
    overview = explain(
        model,
        _features(sample, columns),
        columns,
        model.feature_params,
        language,
        top=0,
    )
    return ReportData(
        params=params,
        language=language,
        date=day,
        scored_path=resolve(scored_path),
        model_uri=model_uri,
        feature_params=model.feature_params,
        columns=columns,
        day=rows,
        cases=cases,
        explained=explained,
        overview=overview,
        scored=scored,
        case_list=shown,
        case_reasons=per_case,
        payments=payments,
        payments_explained=every,
        rings=rings,
        ring_source=ring_source or "",  # "": the scored file's payments
        approximate=approx,
    )


def check_same_model(scored: pd.DataFrame, model_version: str | None, source: Any = None) -> None:
    """Refuse to explain a file scored by another registered version than ``model_version``
    (either unknown: nothing to compare)."""
    by = scored_model(scored)
    if by and model_version and by != model_version:
        raise DataError(
            f"the file was scored by models:/{by}, not by models:/{model_version}: its flags and "
            f"threshold are that model's; report it with --model models:/{by}, or rescore it",
            file=source,
        )


def _features(scored: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return scored[[FEATURE_PREFIX + c for c in columns]].set_axis(columns, axis=1)


# ------------------------------------------------------------------------- figures
def _cjk_font() -> str:
    """The font that draws Chinese in charts: okml's own (:mod:`okml.explain.fonts`), so
    Chinese charts are Chinese on any machine."""
    from okml.explain.fonts import chart_font

    return chart_font()


def _new_figure(width: float, height: float, language: str) -> Any:
    """A figure outside pyplot (nothing global to leak or auto-display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    font = _cjk_font() if language == "zh" else None
    if font:
        fig._okml_font = font  # type: ignore[attr-defined]  # applied when rendering (figure_png)
    return fig


def _plain(text: str) -> str:
    """Text for matplotlib: no mathtext (a ``$`` would start a formula)."""
    return text.replace("$", r"\$")


def figure_png(fig: Any) -> bytes:
    """PNG bytes of a figure."""
    import matplotlib

    font = getattr(fig, "_okml_font", None)
    rc: dict[str, Any] = (
        {"font.sans-serif": [font, "DejaVu Sans"], "font.family": "sans-serif"} if font else {}
    )
    buf = io.BytesIO()
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]  # (its keys are typed as literals)
        if font:
            for text in fig.findobj(matplotlib.text.Text):
                text.set_fontfamily([font, "DejaVu Sans"])
        fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def figure_html(fig: Any, alt: str, css_class: str = "chart") -> str:
    """A figure as an ``<img>`` with an embedded PNG (self-contained, no script)."""
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return (
        f'<img class="{css_class}" alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'
    )


def waterfall_groups(contributions: pd.Series, at_least: int = 8, at_most: int = 16) -> list[str]:
    """The groups a waterfall shows, largest ``|contribution|`` first: at least
    ``at_least``, then more (up to ``at_most``) while the rest together would still outweigh
    the smallest shown bar, so "other factors" does not become the largest bar."""
    order = list(contributions.abs().sort_values(ascending=False, kind="stable").index)
    n = min(at_least, len(order))
    while n < min(at_most, len(order)):
        rest = abs(float(contributions[order[n:]].sum()))
        if rest <= abs(float(contributions[order[n - 1]])):
            break
        n += 1
    return order[:n]


def waterfall_figure(
    explained: ExplainedCases, row: int, params: FeatureParams, language: str = "en", max_features: int = 8
) -> Any:
    """Horizontal SHAP waterfall of one explained row by feature group (the groups the
    reasons are told by), each bar labelled with the group's name.

    From the base value (an average payment) at the bottom to the row's margin at the top;
    at least ``max_features`` groups get their own bar (more while the rest would outweigh
    the smallest of them, see :func:`waterfall_groups`), the rest one "other factors" bar.
    """
    contrib = explained.by_group.iloc[row]
    base = float(explained.base_value.iloc[row])
    margin = float(explained.margin.iloc[row])
    shown = waterfall_groups(contrib, max_features)
    rest = float(contrib.drop(shown).sum()) if len(contrib) > len(shown) else None
    items = [
        (textwrap.fill(group_title(g, language), 44 if language == "en" else 22), float(contrib[g]))
        for g in shown
    ]
    if rest is not None:
        items.append((_t(language, "other", n=len(contrib) - len(shown)), rest))
    items = items[::-1]  # smallest at the bottom, next to the base value
    lines = sum(lb.count("\n") + 1 for lb, _ in items)
    fig = _new_figure(9.5, 0.26 * lines + 0.18 * len(items) + 1.6, language)
    ax = fig.add_subplot()
    cum = base
    for y, (_, c) in enumerate(items):
        ax.barh(y, c, left=cum, color=_RED if c > 0 else _BLUE, height=0.6)
        label = f" {c:+.3f} " if explained.output == "probability" else f" {c:+.2f} "
        ax.text(cum + c, y, label, va="center", ha="left" if c > 0 else "right", fontsize=8)
        cum += c
    ax.set_yticks(range(len(items)), [_plain(lb) for lb, _ in items], fontsize=8)
    ax.axvline(base, color=_GREY, linestyle="--", linewidth=1)
    ax.axvline(margin, color="black", linewidth=1)
    if explained.output == "probability":  # a random forest explains the probability itself
        prob, base_prob = margin, base
    else:
        prob, base_prob = 1 / (1 + math.exp(-margin)), 1 / (1 + math.exp(-base))
    ax.set_title(
        _plain(
            f"{_t(language, 'waterfall')}: {_t(language, 'average')} "
            f"{base_prob:.3f} -> {_t(language, 'this')} {prob:.3f}"
        ),
        fontsize=10,
    )
    ax.set_xlabel(_t(language, "waterfall_x", space=_space(language, explained)), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    path = np.cumsum([base] + [c for _, c in items])
    low, high = min(path.min(), margin), max(path.max(), margin)
    pad = 0.18 * (high - low) + 0.05  # room for the +0.00 labels at both ends
    ax.set_xlim(low - pad, high + pad)
    return fig


def timeline_figure(
    scored: pd.DataFrame, case: pd.Series, timezone: str, language: str = "en", days: int = 7
) -> Any:
    """The customer's payments in the scored file (up to ``days`` before the case and the
    rest of its day): amount over local time, flagged ones orange, this one a red star."""
    t = case["timestamp"]
    start, end = t - pd.Timedelta(days=days), t.floor("D") + pd.Timedelta(days=1)
    mine = scored.loc[
        (scored["customer_id"] == case["customer_id"])
        & (scored["timestamp"] >= start)
        & (scored["timestamp"] < end)
    ]
    local = mine["timestamp"].dt.tz_convert(timezone).dt.tz_localize(None)
    flagged = mine["flag"].astype(bool).to_numpy()
    this = (mine["transaction_id"] == case["transaction_id"]).to_numpy()
    fig = _new_figure(9.5, 2.4, language)
    ax = fig.add_subplot()
    amount = mine["amount"].to_numpy(dtype=float)
    ax.vlines(local, 0, amount, color="#cccccc", linewidth=0.8)
    plain = ~flagged & ~this
    ax.scatter(local[plain], amount[plain], s=18, color=_GREY, label=_t(language, "payment"))
    other_flags = flagged & ~this
    if other_flags.any():
        ax.scatter(
            local[other_flags], amount[other_flags], s=26, color=_ORANGE, label=_t(language, "flagged")
        )
    ax.scatter(
        local[this], amount[this], s=160, marker="*", color=_RED, zorder=3, label=_t(language, "this_case")
    )
    if len(amount) and amount.min() > 0 and amount.max() / amount.min() > 50:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(_t(language, "timeline"), fontsize=10)
    ax.set_ylabel(_t(language, "timeline_y"), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.autofmt_xdate()
    return fig


def importance_figure(overview: ExplainedCases, language: str = "en", top: int = 15) -> Any:
    """Mean |SHAP| by feature group (global importance on the explained rows)."""
    imp = overview.by_group.abs().mean().sort_values(ascending=True).tail(top)
    fig = _new_figure(8, 0.32 * len(imp) + 1.2, language)
    ax = fig.add_subplot()
    ax.barh(range(len(imp)), imp.to_numpy(), color=_BLUE)
    ax.set_yticks(range(len(imp)), [_plain(group_title(g, language)) for g in imp.index], fontsize=8)
    ax.set_title(_t(language, "importance"), fontsize=10)
    ax.set_xlabel(_t(language, "importance_x", space=_space(language, overview)), fontsize=8)
    return fig


def beeswarm_figure(overview: ExplainedCases, top: int = 12, seed: int = 0, language: str = "en") -> Any:
    """SHAP beeswarm: each dot a payment, x its contribution, colour its feature value."""
    contrib, values = overview.contributions, overview.values
    order = contrib.abs().mean().sort_values(ascending=False).index[:top][::-1]
    fig = _new_figure(8, 0.38 * len(order) + 1.4, language)
    ax = fig.add_subplot()
    rng = np.random.default_rng(seed)
    points = None
    for y, name in enumerate(order):
        c = contrib[name].to_numpy()
        v = values[name].to_numpy(dtype=float)
        colour = pd.Series(v).rank(pct=True).to_numpy()  # NaN stays NaN: drawn grey
        jitter = rng.uniform(-0.3, 0.3, len(c))
        nan = np.isnan(colour)
        ax.scatter(c[nan], y + jitter[nan], s=5, color="#bbbbbb", alpha=0.6, linewidths=0)
        points = ax.scatter(
            c[~nan],
            y + jitter[~nan],
            s=5,
            c=colour[~nan],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            alpha=0.8,
            linewidths=0,
        )
    ax.axvline(0, color=_GREY, linewidth=0.8)
    ax.set_yticks(range(len(order)), [_plain(n) for n in order], fontsize=8)
    ax.set_title(_t(language, "beeswarm"), fontsize=10)
    ax.set_xlabel(_t(language, "beeswarm_x", space=_space(language, overview)), fontsize=8)
    if points is not None:
        bar = fig.colorbar(points, ax=ax, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"] if language == "en" else ["低", "高"], fontsize=7)
        bar.set_label(_t(language, "beeswarm_c"), fontsize=8)
    return fig


# ----------------------------------------------------------------------------- HTML
STYLE = """<style>
.okml-report { font-family: -apple-system, "Segoe UI", "Noto Sans", okml-cjk, "PingFang SC",
  "Microsoft YaHei", sans-serif; max-width: 1000px; overflow-wrap: break-word; }
.okml-report table.okml-table { border-collapse: collapse; margin: 0.5em 0 1em 0;
  font-size: 0.9em; max-width: 100%; }
/* "table.okml-table" outweighs JupyterLab's right-aligned ":not(...).jp-RenderedHTMLCommon td" */
.okml-report table.okml-table th, .okml-report table.okml-table td { border: 1px solid #ddd;
  padding: 3px 8px; text-align: left; vertical-align: top; }
.okml-report table.okml-table th { background: #f4f4f4; }
.okml-report table.okml-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.okml-report td.num, .okml-report td.nowrap { white-space: nowrap; }
/* a word too long for its column breaks anywhere, so it no longer sets the column's minimum
   width (see cell_text) */
.okml-report .okml-long { overflow-wrap: anywhere; word-break: break-word; }
.okml-report .okml-cut { cursor: help; }
.okml-case { border-top: 2px solid #d62728; margin-top: 1.5em; padding-top: 0.3em; }
.okml-case ol { margin-top: 0.2em; }
.okml-report img.chart { max-width: 100%; display: block; margin: 0.4em 0; }
.okml-note { color: #555; font-size: 0.9em; }
</style>"""


def _wrap(body: str) -> str:
    return f'<div class="okml-report">{body}</div>'


def _local(ts: pd.Timestamp, timezone: str) -> str:
    return ts.tz_convert(timezone).strftime("%Y-%m-%d %H:%M:%S")


def header_html(rep: ReportData) -> str:
    """Title, day summary, model and how to read the report."""
    lang = rep.language
    flagged = rep.day.loc[rep.day["flag"].astype(bool)]
    summary = _t(
        lang,
        "summary",
        n=f"{len(rep.day):,}",
        date=f"{rep.date:%Y-%m-%d}",
        tz=rep.timezone,
        flagged=f"{len(flagged):,}",
        customers=f"{flagged['customer_id'].nunique():,}",
    )
    start, end = rep.scored["timestamp"].min(), rep.scored["timestamp"].max()
    if start > rep.date or end < day_end(rep.date) - pd.Timedelta(hours=1):
        # the scored window is in UTC days: say which part of the local day it covers
        summary += " " + _t(
            lang,
            "partial",
            start=_local(rep.day["timestamp"].min(), rep.timezone)[11:16],
            end=_local(rep.day["timestamp"].max(), rep.timezone)[11:16],
        )
    if len(rep.cases):
        summary += " " + _t(lang, "shown", shown=len(rep.cases))
    note = ""
    return _wrap(
        STYLE
        + f"<h1>{_e(_t(lang, 'title', date=f'{rep.date:%Y-%m-%d}'))}</h1>"
        + f"<p>{_e(summary)}</p>"
        + f'<p class="okml-note">{_e(_t(lang, "model"))}: <code>{_e(rep.model_uri)}</code>; '
        + f"{_e(_t(lang, 'scored_file'))}: <code>{_e(rep.scored_path.name)}</code>. "
        + f"{_e(_t(lang, 'times', tz=rep.timezone))}</p>"
        + f"<p>{_t(lang, 'how_to_read')}</p>"  # our own text, with <i> markup
        + (f'<p class="okml-note">{_e(note)}</p>' if note else "")
    )


def _list(values: list[Any], limit: int = 5) -> str:
    """Up to ``limit`` values for a cell (each escaped and cut), then ``+N``."""
    shown = ", ".join(cell_text(v) for v in values[:limit])
    return shown + (f", +{len(values) - limit}" if len(values) > limit else "")


def _case_money(case: Case) -> str:
    return f"{case.n_flagged} ({fmt_money(case.flagged_amount)})"


def cases_table_html(rep: ReportData) -> str:
    """One line per shown case: rank, customer, time of the first flag, merchants, flagged
    payments and money, score, the case's main reason."""
    lang = rep.language
    if rep.cases.empty:
        return _wrap(
            f"<h2>{_e(_t(lang, 'cases'))}</h2><p>{_e(_t(lang, 'no_cases', date=f'{rep.date:%Y-%m-%d}'))}</p>"
        )
    heads = ["rank", "customer", "time", "merchants", "flagged_payments", "score", "main_reason"]
    rows = []
    for i, case in enumerate(rep.case_list):
        reasons = rep.case_reasons[i]
        cells = [
            (f'<a href="#case-{i + 1}">{i + 1}</a>', "num"),
            (cell_text(case.customer_id), ""),
            (_e(_local(case.first, rep.timezone)), "nowrap"),
            (_merchants(rep, case), ""),
            (_e(_case_money(case)), "num"),
            (f"{case.score:.3f}", "num"),
            (cell_text(reasons[0].text, MAX_REASON_CHARS) if reasons else "", ""),
        ]
        rows.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' for v, c in cells) + "</tr>")
    head = "".join(f"<th>{_e(_t(lang, h))}</th>" for h in heads)
    return _wrap(
        f"<h2>{_e(_t(lang, 'cases'))}</h2>"
        f'<table class="okml-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def rings_html(rep: ReportData) -> str:
    """The day's rings (:class:`okml.cases.RingCase`): one line each, its members with a
    case linked to their case below when it is shown; nothing when there is none."""
    lang = rep.language
    if not rep.rings:
        return ""
    shown = {str(c.customer_id): i for i, c in enumerate(rep.case_list)}
    where = rep.ring_source
    source = _t(lang, "ring_data", path=where) if where else _t(lang, "ring_scored")
    heads = ["ring", "members", "devices", "merchants", "flagged_payments", "score", "confirmed"]
    rows = []
    for ring in rep.rings:
        with_case = {str(c.customer_id) for c in ring.cases}
        members = ", ".join(
            (f'<a href="#case-{shown[m] + 1}">{cell_text(m)}</a>' if m in shown else f"<b>{cell_text(m)}</b>")
            if m in with_case
            else cell_text(m)
            for m in map(str, ring.members)
        )
        cells = [
            (cell_text(ring.ring_id), "nowrap"),
            (f"{len(ring.members)} ({len(ring.cases)}): {members}", ""),
            (_list(list(ring.devices)), ""),
            (_list(list(ring.merchants), 3), ""),
            (_e(f"{ring.n_flagged} ({fmt_money(ring.flagged_amount)})"), "num"),
            (f"{ring.score:.3f}", "num"),
            (f"{ring.confirmed_share:.0%}", "num"),
        ]
        rows.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' for v, c in cells) + "</tr>")
    head = "".join(f"<th>{_e(_t(lang, h))}</th>" for h in heads)
    return _wrap(
        f"<h2>{_e(_t(lang, 'rings'))}</h2><p>{_e(_t(lang, 'rings_note', source=source))}</p>"
        f'<table class="okml-table okml-rings"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _merchant(row: pd.Series) -> str:
    """``name (id)`` for a table cell, each part cut on its own when long."""
    name = cell_text(row.get("merchant_name"))
    ident = cell_text(row["merchant_id"])
    return f"{name} ({ident})" if name else ident


def _merchants(rep: ReportData, case: Case, limit: int = 5) -> str:
    """The case's merchants as ``name (id)``, in order of first flag."""
    pays = case.payments.drop_duplicates("merchant_id")
    cells = [_merchant(r) for _, r in pays.head(limit).iterrows()]
    more = len(pays) - limit
    return ", ".join(cells) + (f", +{more}" if more > 0 else "")


def _payments_table(rep: ReportData, i: int) -> str:
    """The case's flagged payments: time, merchant, category, channel, amount, score, reason."""
    lang = rep.language
    assert rep.payments is not None and rep.payments_explained is not None
    mine = np.flatnonzero(rep.payments["_case"].to_numpy() == i)
    heads = ["time", "merchant", "category", "channel", "amount", "score", "main_reason"]
    rows = []
    for j in mine:
        pay = rep.payments.iloc[j]
        reasons = rep.payments_explained.reasons.iloc[j]
        cells = [
            (_e(_local(pay["timestamp"], rep.timezone)), "nowrap"),
            (_merchant(pay), ""),
            (cell_text(_display(pay, "merchant_category", lang)), ""),
            (cell_text(_display(pay, "channel", lang)), ""),
            (_e(fmt_money(pay["amount"])), "num"),
            (f"{float(pay['score']):.3f}", "num"),
            (cell_text(reasons[0].text, MAX_REASON_CHARS) if reasons else "", ""),
        ]
        rows.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' for v, c in cells) + "</tr>")
    head = "".join(f"<th>{_e(_t(lang, h))}</th>" for h in heads)
    return (
        f"<h4>{_e(_t(lang, 'payments_of_case'))}</h4>"
        f'<table class="okml-table okml-payments"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _display(row: pd.Series, column: str, language: str) -> Any:
    """A category, channel or region as reviewers of ``language`` read it (Chinese names
    of known values in ``zh``, :mod:`okml.explain.vocab`)."""
    from okml.explain.vocab import display_value

    return display_value(column, row.get(column), language)


def case_html(rep: ReportData, i: int) -> str:
    """Case ``i`` (0-based): the case header (customer, score, flagged payments and money,
    merchants, devices, time span), the reasons over the case, its payments, then the SHAP
    waterfall of its riskiest payment and the customer's timeline."""
    lang, chart = rep.language, rep.chart_language
    case = rep.case_list[i]
    top = rep.cases.iloc[i]
    span = _local(case.first, rep.timezone)
    if case.last != case.first:
        span += " - " + _local(case.last, rep.timezone)[11:]
    facts: list[tuple[str, str]] = [
        ("customer", cell_text(case.customer_id)),
        ("score", f"{case.score:.3f}"),
        ("flagged_payments", _e(_case_money(case))),
        ("merchants", _merchants(rep, case)),
        ("devices", _list(case.devices)),
        ("span", _e(span)),
        ("region", cell_text(_display(top, "region", lang))),
        ("riskiest", _e(f"{top['transaction_id']} ({fmt_money(top['amount'])})")),
    ]
    cells = []
    for key, shown in facts:
        if shown:
            style = ' class="nowrap"' if key in ("span", "score") else ""
            cells.append(f"<tr><th>{_e(_t(lang, key))}</th><td{style}>{shown}</td></tr>")
    reasons = rep.case_reasons[i]
    items = "".join(f"<li>{_e(r.text)}</li>" for r in reasons)
    why = f"<ol>{items}</ol>" if items else f"<p>{_e(_t(lang, 'no_reasons'))}</p>"
    title = _t(lang, "case", i=i + 1, customer=case.customer_id, score=f"{case.score:.3f}")
    water = waterfall_figure(
        rep.explained, i, rep.feature_params, chart, rep.params.explain.waterfall_features
    )
    timeline = timeline_figure(rep.scored, top, rep.timezone, chart)
    return _wrap(
        f'<section class="okml-case" id="case-{i + 1}">'
        f"<h3>{_e(title)}</h3>"
        f'<table class="okml-table">{"".join(cells)}</table>'
        f"<h4>{_e(_t(lang, 'why'))}</h4>{why}"
        + _payments_table(rep, i)
        + figure_html(water, f"{_t(lang, 'waterfall')} ({_t(lang, 'case_short', i=i + 1)})")
        + figure_html(timeline, _t(lang, "timeline"))
        + "</section>"
    )


def data_science_html(rep: ReportData) -> str:
    """Global importance (mean |SHAP| by group) and a beeswarm over the day's payments."""
    lang, chart = rep.language, rep.chart_language
    ov = rep.overview
    if ov is None or len(ov) == 0:
        return ""
    sampled = _t(lang, "all") if len(ov) == len(rep.day) else _t(lang, "sample")
    return _wrap(
        f"<h2>{_e(_t(lang, 'ds'))}</h2>"
        f"<p>{_e(_t(lang, 'ds_intro', n=f'{len(ov):,}', sampled=sampled, space=_space(lang, ov)))}</p>"
        + figure_html(importance_figure(ov, chart), _t(lang, "importance"))
        + figure_html(beeswarm_figure(ov, language=chart), _t(lang, "beeswarm"))
    )
