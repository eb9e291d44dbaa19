"""The monitoring page: its words (English and Chinese), charts and HTML pieces.

The notebook ``notebooks/05_monitor.ipynb`` displays these pieces; the job exports it to one
self-contained HTML file without code and without any script (charts are PNG ``data:``
URIs drawn by :func:`okml.report.figure_html`, with okml's Chinese font for ``zh``). Every
text from data or from the model (feature and group names, fraud types, the model URI, the
alarm lines) is escaped.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from okml.explain.phrases import group_title
from okml.explain.vocab import display_value
from okml.monitor.signals import DAY, MonitorInputs, MonitorResult
from okml.report import _new_figure, figure_html

_RED, _BLUE, _GREY, _ORANGE, _GREEN = "#d62728", "#1f77b4", "#7f7f7f", "#ff7f0e", "#2ca02c"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Model monitoring: {start} to {end}",
        "intro": "Days are UTC days. Model <code>{model}</code>. Inputs are compared with its "
        "{windows}; scores, alerts and explanations with the reference week (the week its "
        "training run tested it on: on the rows it was fitted on a model is surer than on "
        "any other day). Labels are those known by {as_of}.",
        "alarms": "Alarms",
        "no_alarms": "No threshold of monitor.thresholds was crossed.",
        "signal": "signal",
        "from": "from",
        "days": "days",
        "detail": "what",
        "data": "Data drift",
        "data_intro": "Population stability index (PSI) of each of the model's {n} most important "
        "features (mean |SHAP| on the reference week) against the training window, day by "
        "day. Below 0.1 is stable, 0.1-0.25 a moderate shift, above 0.25 a major one; a "
        "feature counts as drifted above the larger of {limit} and its own day-to-day band "
        "(the PSI of the training window's own days, mean + {sd} sd), since one day is "
        "never the mixture of a month.",
        "heat_title": "PSI against the training window",
        "inputs": "Input columns: PSI against the training window",
        "feature": "feature",
        "max_psi": "largest PSI",
        "max_js": "largest JS distance",
        "band": "drifted above",
        "scores": "Score drift and alert volume",
        "scores_intro": "The distribution of the day's scores against the reference week "
        "(PSI in its {bins} quantile bins; alarm above {limit}) and the payments flagged at "
        "the model's operating point, against the reference week's {ref:.1f} a day.",
        "quantiles": "Score quantiles by day",
        "score_psi": "Score PSI against the reference week",
        "alerts": "Flagged payments by day",
        "reference": "reference week",
        "explanations": "Explanation drift",
        "expl_intro": "Why payments are flagged: the share of flagged payments whose top reason "
        "is each group, day by day against the reference week, and the mean |SHAP| of the "
        "top features on a sample of {rows} payments a day, as a ratio of the reference's. "
        "Reference top-3 factors: {top3}.",
        "reason_shares": "Top reason of flagged payments",
        "shap_ratio": "Mean |SHAP| against the reference week (ratio)",
        "flipped": "Days on which the reference's top-3 factors were not the day's top 3: {days}.",
        "none": "none",
        "performance": "Performance as labels mature",
        "perf_intro": "With the labels known by {as_of}: CP@{k} (the share of the day's top {k} "
        "customers with a fraud), average precision and recall at the operating point. The "
        "bars are the share of each day's labels expected to be in already (from the label "
        "delays of the training window's frauds): a young day's figures are low because its "
        "labels have not arrived, not because the model got worse.",
        "perf_chart": "Metrics with the labels known so far",
        "completeness": "labels in (expected)",
        "by_type": "Recall by fraud type (labelled so far)",
        "fraud_type": "fraud type",
        "labelled": "labelled frauds",
        "caught": "caught",
        "recall": "recall",
        "new_type": "new to the model",
        "estimate": "Estimated precision before the labels",
        "est_intro": "Precision of the flagged payments estimated from the model's calibrated "
        "probabilities (confidence-based performance estimation, as NannyML's CBPE): an "
        "isotonic regression fitted on the reference week's scores and labels (corrected "
        "for the labels still to come there, {complete:.0%} in) gives each flagged payment a "
        "probability of fraud; their mean is the expected precision and the band the "
        "{level:.0%} interval of the realised one. The dots are the realised precision with "
        "the labels known so far (filled where at least 90% of them are in).",
        "est_intro_rolling": "Precision of the flagged payments estimated from the model's calibrated "
        "probabilities (confidence-based performance estimation, as NannyML's CBPE), calibrated "
        "afresh for each day: an isotonic regression fitted on the {days} days ending {lag} days "
        "before it (the training window's days left out), with only the labels known before the "
        "day began, each corrected for the share of its day's labels still to come. Their mean is "
        "the expected precision and the band the {level:.0%} interval of the realised one; a day "
        "without enough labelled days before it has no estimate. The dots are the realised "
        "precision with the labels known so far (filled where at least 90% of them are in).",
        "est_chart": "Estimated and realised precision at the operating point",
        "estimated": "estimated",
        "realised": "realised",
        "interval": "interval",
        "day": "day",
    },
    "zh": {
        "title": "模型监控：{start}至{end}",
        "intro": "日期为UTC日。模型<code>{model}</code>。输入数据与其{windows}比较；"
        "分数、预警和解释与参考周（训练时测试该模型的一周：模型在拟合过的数据上比在其他日子更有把握）比较。"
        "标签为截至{as_of}已知的标签。",
        "alarms": "警报",
        "no_alarms": "没有超过monitor.thresholds中的任何阈值。",
        "signal": "信号",
        "from": "起始日",
        "days": "天数",
        "detail": "内容",
        "data": "数据漂移",
        "data_intro": "模型最重要的{n}个特征（参考周的平均|SHAP|）每天相对训练窗口的群体稳定性指数（PSI）。"
        "低于0.1为稳定，0.1至0.25为中度变化，高于0.25为重大变化；特征超过{limit}与其自身日间波动"
        "（训练窗口各日的PSI，均值加{sd}倍标准差）中较大者时视为漂移。",
        "heat_title": "相对训练窗口的PSI",
        "inputs": "输入列：相对训练窗口的PSI",
        "feature": "特征",
        "max_psi": "最大PSI",
        "max_js": "最大JS距离",
        "band": "漂移阈值",
        "scores": "分数漂移与预警量",
        "scores_intro": "当日分数分布相对参考周的变化（按其{bins}个分位区间计算PSI；超过{limit}报警），"
        "以及在模型工作点被标记的支付数，参考周为每天{ref:.1f}笔。",
        "quantiles": "每日分数分位数",
        "score_psi": "相对参考周的分数PSI",
        "alerts": "每日被标记的支付",
        "reference": "参考周",
        "explanations": "解释漂移",
        "expl_intro": "支付被标记的原因：每天被标记支付中首要原因属于各组的比例（与参考周比较），"
        "以及每天抽样{rows}笔支付的主要特征平均|SHAP|相对参考周的比值。参考周前三因素：{top3}。",
        "reason_shares": "被标记支付的首要原因",
        "shap_ratio": "平均|SHAP|相对参考周（比值）",
        "flipped": "参考周前三因素不再是当日前三的日子：{days}。",
        "none": "无",
        "performance": "随标签到达的表现",
        "perf_intro": "使用截至{as_of}已知的标签：CP@{k}（当日前{k}位客户中有欺诈的比例）、"
        "平均精度和工作点召回率。"
        "柱形为每天预计已到达的标签比例（根据训练窗口欺诈的标签延迟）：较新的日子数值偏低是因为标签未到，"
        "而不是模型变差。",
        "perf_chart": "按目前已知标签计算的指标",
        "completeness": "已到标签（预计）",
        "by_type": "各欺诈类型的召回率（目前已标记）",
        "fraud_type": "欺诈类型",
        "labelled": "已标记欺诈",
        "caught": "已拦截",
        "recall": "召回率",
        "new_type": "模型未见过",
        "estimate": "标签到达前的估计精度",
        "est_intro": "根据模型校准后的概率估计被标记支付的精度（基于置信度的性能估计，如NannyML的CBPE）："
        "在参考周的分数与标签上拟合的保序回归（已按参考周尚未到达的标签校正，已到{complete:.0%}）"
        "给每笔被标记支付一个欺诈概率；其均值为期望精度，色带为实际精度的{level:.0%}区间。"
        "圆点为按目前已知标签计算的实际精度（至少90%标签已到时为实心）。",
        "est_intro_rolling": "根据模型校准后的概率估计被标记支付的精度"
        "（基于置信度的性能估计，如NannyML的CBPE），每天重新校准："
        "在该日之前{lag}天结束的{days}天（不含训练窗口）上拟合保序回归，"
        "只使用该日开始前已知的标签，并按各日尚未到达的标签比例校正。"
        "其均值为期望精度，色带为实际精度的{level:.0%}区间；之前没有足够已标记日子的日期没有估计。"
        "圆点为按目前已知标签计算的实际精度（至少90%标签已到时为实心）。",
        "est_chart": "工作点的估计精度与实际精度",
        "estimated": "估计",
        "realised": "实际",
        "interval": "区间",
        "day": "日期",
    },
}

SIGNALS = {
    "en": {
        "feature_psi": "feature drift",
        "input_psi": "input drift",
        "score_psi": "score drift",
        "alert_ratio": "alert volume",
        "top_reason_shift": "top reasons",
        "top_factors_changed": "top-3 factors",
        "precision_drop": "estimated precision",
        "type_recall_p": "recall by fraud type",
        "new_type_frauds": "new fraud type",
    },
    "zh": {
        "feature_psi": "特征漂移",
        "input_psi": "输入漂移",
        "score_psi": "分数漂移",
        "alert_ratio": "预警量",
        "top_reason_shift": "首要原因",
        "top_factors_changed": "前三因素",
        "precision_drop": "估计精度",
        "type_recall_p": "各类型召回率",
        "new_type_frauds": "新欺诈类型",
    },
}

STYLE = """<style>
.okml-monitor { font-family: -apple-system, "Segoe UI", "Noto Sans", okml-cjk, "PingFang SC",
  "Microsoft YaHei", sans-serif; max-width: 1100px; overflow-wrap: break-word; }
.okml-monitor table.okml-table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.9em; }
.okml-monitor table.okml-table th, .okml-monitor table.okml-table td { border: 1px solid #ddd;
  padding: 3px 8px; text-align: left; vertical-align: top; }
.okml-monitor table.okml-table th { background: #f4f4f4; }
.okml-monitor table.okml-table td.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.okml-monitor img.chart { max-width: 100%; display: block; margin: 0.4em 0; }
.okml-monitor .okml-alarm { border-left: 4px solid #d62728; padding-left: 0.6em; }
.okml-monitor .okml-ok { border-left: 4px solid #2ca02c; padding-left: 0.6em; }
</style>"""


def _t(language: str, key: str, **fields: Any) -> str:
    if language not in TEXT:
        raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")
    return TEXT[language][key].format(**fields)


def title(language: str, start: str, end: str) -> str:
    """The page's title."""
    return _t(language, "title", start=start, end=end)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _wrap(body: str) -> str:
    return f'<div class="okml-monitor">{body}</div>'


def _day_labels(days: pd.Index) -> list[str]:
    return [f"{pd.Timestamp(d):%m-%d}" for d in days]


def _x_axis(ax: Any, days: pd.Index) -> None:
    labels = _day_labels(days)
    step = max(1, len(labels) // 15)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=60, fontsize=7)


def _table(heads: list[str], rows: list[list[tuple[str, str]]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f'<td class="{c}">{v}</td>' for v, c in r) + "</tr>" for r in rows)
    return f'<table class="okml-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(value: float, spec: str = "{:.3f}") -> str:
    return spec.format(value) if value is not None and math.isfinite(float(value)) else ""


# ----------------------------------------------------------------------------- header
def header_html(
    inputs: MonitorInputs, result: MonitorResult, model_uri: str, language: str, params: Any
) -> str:
    """Title, what is compared with what, and the alarms."""
    lang = language
    start, end = f"{inputs.start:%Y-%m-%d}", f"{inputs.end - DAY:%Y-%m-%d}"
    as_of = f"{result.as_of:%Y-%m-%d %H:%M} UTC" if result.as_of is not None else ""
    intro = _t(lang, "intro", model=_e(model_uri), windows=_e(inputs.windows.describe()), as_of=_e(as_of))
    if result.alarms:
        rows = [
            [
                (_e(SIGNALS[lang].get(a.signal, a.signal)), ""),
                (_e(f"{a.first_day:%Y-%m-%d}"), "num"),
                (str(a.days), "num"),
                (_e(a.message), ""),
            ]
            for a in sorted(result.alarms, key=lambda a: (a.first_day, a.signal))
        ]
        heads = [_t(lang, k) for k in ("signal", "from", "days", "detail")]
        alarms = f'<div class="okml-alarm"><h2>{_e(_t(lang, "alarms"))}</h2>{_table(heads, rows)}</div>'
    else:
        alarms = (
            f'<div class="okml-ok"><h2>{_e(_t(lang, "alarms"))}</h2><p>{_e(_t(lang, "no_alarms"))}</p></div>'
        )
    return _wrap(STYLE + f"<h1>{_e(title(lang, start, end))}</h1><p>{intro}</p>" + alarms)


# ------------------------------------------------------------------------- data drift
def _heatmap(frame: pd.DataFrame, rows: list[str], title_text: str, language: str, vmax: float) -> Any:
    """Rows x days, colour from 0 to ``vmax``."""
    days = sorted(frame.columns)
    fig = _new_figure(10, 0.32 * len(rows) + 1.6, language)
    ax = fig.add_subplot()
    data = frame.reindex(index=rows, columns=days).to_numpy(dtype=float)
    im = ax.imshow(data, aspect="auto", cmap="Reds", vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_yticks(range(len(rows)), [r.replace("$", r"\$") for r in rows], fontsize=7)
    _x_axis(ax, pd.Index(days))
    ax.set_title(title_text, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    return fig


def data_drift_html(result: MonitorResult, language: str, params: Any) -> str:
    """PSI of the top features (heat map and table) and of the input columns (lines)."""
    lang = language
    fd = result.feature_drift
    th = params.monitor.thresholds
    limit = th.feature_psi if th.feature_psi is not None else math.inf
    body = f"<h2>{_e(_t(lang, 'data'))}</h2>"
    intro = _t(
        lang, "data_intro", n=len(result.top_features), limit=f"{limit:g}", sd=f"{params.monitor.band_sd:g}"
    )
    body += f"<p>{_e(intro)}</p>"
    if not fd.empty:
        wide = fd.pivot(index="column", columns="day", values="psi")
        body += figure_html(
            _heatmap(
                wide, result.top_features, _t(lang, "heat_title"), lang, vmax=max(0.5, 2 * min(limit, 1.0))
            ),
            _t(lang, "heat_title"),
        )
        per = fd.groupby("column").agg(psi=("psi", "max"), js=("js", "max"), band=("band", "first"))
        rows = [
            [
                (f"<code>{_e(f)}</code>", ""),
                (_fmt(per.loc[f, "psi"]), "num"),
                (_fmt(per.loc[f, "js"]), "num"),
                (_fmt(max(per.loc[f, "band"], limit if math.isfinite(limit) else 0.0)), "num"),
            ]
            for f in result.top_features
            if f in per.index
        ]
        body += _table([_t(lang, k) for k in ("feature", "max_psi", "max_js", "band")], rows)
    idr = result.input_drift
    if not idr.empty:
        fig = _new_figure(10, 3.0, lang)
        ax = fig.add_subplot()
        days = sorted(idr["day"].unique())
        for col, g in idr.groupby("column", sort=True):
            s = g.set_index("day")["psi"].reindex(days)
            ax.plot(range(len(days)), s.to_numpy(), marker=".", label=str(col).replace("_", " "))
        if th.input_psi is not None:
            ax.axhline(th.input_psi, color=_RED, linestyle="--", linewidth=0.8)
        ax.set_yscale("symlog", linthresh=0.01)
        _x_axis(ax, pd.Index(days))
        ax.legend(fontsize=7)
        ax.set_title(_t(lang, "inputs"), fontsize=10)
        body += figure_html(fig, _t(lang, "inputs"))
    return _wrap(body)


# ------------------------------------------------------------------------ score drift
def score_drift_html(result: MonitorResult, language: str, params: Any) -> str:
    """Score quantiles and PSI by day, and flagged payments against the reference."""
    lang = language
    d = result.daily
    days = d.index
    x = np.arange(len(days))
    ref = result.reference.get("reference_alerts_per_day", math.nan)
    th = params.monitor.thresholds
    limit = th.score_psi if th.score_psi is not None else math.nan
    body = f"<h2>{_e(_t(lang, 'scores'))}</h2>"
    body += (
        f"<p>{_e(_t(lang, 'scores_intro', bins=params.monitor.score_bins, limit=f'{limit:g}', ref=ref))}</p>"
    )
    fig = _new_figure(10, 5.2, lang)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for col, colour in (
        ("score_p50", _GREY),
        ("score_p90", _BLUE),
        ("score_p99", _ORANGE),
        ("score_p999", _RED),
    ):
        ax1.plot(
            x,
            d[col].to_numpy(),
            marker=".",
            color=colour,
            label=col.replace("score_p", "p").replace("p999", "p99.9"),
        )
    ax1.set_yscale("log")
    ax1.legend(fontsize=7, ncol=4)
    ax1.set_title(_t(lang, "quantiles"), fontsize=10)
    ax2.plot(x, d["score_psi"].to_numpy(), marker=".", color=_BLUE)
    if math.isfinite(limit):
        ax2.axhline(limit, color=_RED, linestyle="--", linewidth=0.8)
    ax2.set_title(_t(lang, "score_psi"), fontsize=10)
    _x_axis(ax2, days)
    body += figure_html(fig, _t(lang, "quantiles"))
    fig = _new_figure(10, 2.8, lang)
    ax = fig.add_subplot()
    ax.bar(x, d["alerts"].to_numpy(), color=_BLUE)
    if math.isfinite(ref):
        ax.axhline(ref, color=_GREY, linestyle="--", linewidth=0.8, label=_t(lang, "reference"))
        ax.legend(fontsize=7)
    ax.set_title(_t(lang, "alerts"), fontsize=10)
    _x_axis(ax, days)
    body += figure_html(fig, _t(lang, "alerts"))
    return _wrap(body)


# ------------------------------------------------------------------ explanation drift
def explanation_html(result: MonitorResult, language: str, params: Any) -> str:
    """Top-reason shares of flagged payments (stacked bars, the reference first) and the
    mean |SHAP| ratio of the top features (heat map)."""
    lang = language
    ref = result.reference_reasons
    shap = result.shap
    top3 = (
        ", ".join(
            shap.drop_duplicates("feature").sort_values("reference", ascending=False)["feature"].head(3)
        )
        if not shap.empty
        else ""
    )
    body = f"<h2>{_e(_t(lang, 'explanations'))}</h2>"
    body += (
        f"<p>{_e(_t(lang, 'expl_intro', rows=params.monitor.shap_rows, top3=top3 or _t(lang, 'none')))}</p>"
    )
    reasons = result.reasons
    if not reasons.empty or len(ref):
        days = list(result.daily.index)
        wide = (
            reasons.pivot(index="day", columns="group", values="share").reindex(days)
            if not reasons.empty
            else None
        )
        groups = list(dict.fromkeys([*ref.index, *(wide.columns if wide is not None else [])]))
        fig = _new_figure(10, 4.2, lang)
        ax = fig.add_subplot()
        labels = [_t(lang, "reference"), *_day_labels(pd.Index(days))]
        bottom = np.zeros(len(labels))
        colours = [f"C{i % 10}" for i in range(len(groups))]
        for g, colour in zip(groups, colours, strict=True):
            vals = np.concatenate(
                [
                    [float(ref.get(g, 0.0))],
                    wide[g].fillna(0).to_numpy() if wide is not None and g in wide else np.zeros(len(days)),
                ]
            )
            ax.bar(
                range(len(labels)),
                vals,
                bottom=bottom,
                color=colour,
                label=group_title(g, lang) if g != "none" else "-",
            )
            bottom += vals
        step = max(1, len(labels) // 15)
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=60, fontsize=7)
        ax.legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.22))
        ax.set_title(_t(lang, "reason_shares"), fontsize=10)
        body += figure_html(fig, _t(lang, "reason_shares"))
    if not shap.empty:
        wide = shap.pivot(index="feature", columns="day", values="ratio")
        fig = _heatmap(
            np.log2(wide.clip(lower=1 / 8, upper=8)).abs(),
            result.top_features,
            _t(lang, "shap_ratio") + " |log2|",
            lang,
            vmax=2.0,
        )
        body += figure_html(fig, _t(lang, "shap_ratio"))
    if "top_factors_changed" in result.daily:
        flipped = result.daily.index[result.daily["top_factors_changed"].fillna(0) > 0]
        text = ", ".join(f"{d:%m-%d}" for d in flipped) or _t(lang, "none")
        body += f"<p>{_e(_t(lang, 'flipped', days=text))}</p>"
    return _wrap(body)


# ------------------------------------------------------------------------ performance
def performance_html(result: MonitorResult, language: str, k: int) -> str:
    """CP@k, AP and recall with the labels known so far, the expected label completeness,
    and recall by fraud type."""
    lang = language
    d = result.daily
    days = d.index
    x = np.arange(len(days))
    as_of = f"{result.as_of:%Y-%m-%d %H:%M} UTC" if result.as_of is not None else ""
    body = f"<h2>{_e(_t(lang, 'performance'))}</h2><p>{_e(_t(lang, 'perf_intro', as_of=as_of, k=k))}</p>"
    fig = _new_figure(10, 3.4, lang)
    ax = fig.add_subplot()
    ax.bar(x, d["label_completeness"].to_numpy(), color="#dddddd", label=_t(lang, "completeness"))
    for col, colour, label in (
        ("cp_at_k", _RED, f"CP@{k}"),
        ("ap", _BLUE, "AP"),
        ("recall", _GREEN, "recall"),
    ):
        if col in d:
            ax.plot(x, d[col].to_numpy(), marker=".", color=colour, label=label)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncol=4)
    ax.set_title(_t(lang, "perf_chart"), fontsize=10)
    _x_axis(ax, days)
    body += figure_html(fig, _t(lang, "perf_chart"))
    bt = result.by_type
    if not bt.empty:
        new_types = set()
        if not result.type_recall.empty:
            new_types = set(result.type_recall.loc[result.type_recall["new_frauds"] > 0, "fraud_type"])
        total = bt.groupby("fraud_type", sort=True)[["frauds", "caught"]].sum()
        rows = []
        for t, r in total.iterrows():
            name = _e(display_value("fraud_type", t, lang))
            if t in new_types:
                name += f" ({_e(_t(lang, 'new_type'))})"
            ref = result.reference.get(f"reference_payment_recall.{t}", math.nan)
            rows.append(
                [
                    (name, ""),
                    (_fmt(r["frauds"], "{:.0f}"), "num"),
                    (_fmt(r["caught"], "{:.0f}"), "num"),
                    (_fmt(r["caught"] / r["frauds"], "{:.2f}"), "num"),
                    (_fmt(ref, "{:.2f}"), "num"),
                ]
            )
        heads = [_t(lang, k) for k in ("fraud_type", "labelled", "caught", "recall", "reference")]
        body += f"<h3>{_e(_t(lang, 'by_type'))}</h3>" + _table(heads, rows)
    return _wrap(body)


# --------------------------------------------------------------- estimated precision
def estimate_html(result: MonitorResult, language: str, params: Any) -> str:
    """The estimated precision with its interval, the realised one as labels mature."""
    lang = language
    d = result.daily
    days = d.index
    x = np.arange(len(days))
    complete = result.reference.get("reference_completeness", 1.0)
    body = f"<h2>{_e(_t(lang, 'estimate'))}</h2>"
    mp = params.monitor
    if mp.calibration == "rolling":
        intro = _t(
            lang,
            "est_intro_rolling",
            days=mp.calibration_days,
            lag=mp.calibration_lag_days,
            level=mp.interval,
        )
    else:
        intro = _t(lang, "est_intro", complete=complete, level=mp.interval)
    body += f"<p>{_e(intro)}</p>"
    fig = _new_figure(10, 3.4, lang)
    ax = fig.add_subplot()
    if "precision_est" in d:
        ax.fill_between(
            x, d["precision_low"].to_numpy(dtype=float), d["precision_high"].to_numpy(dtype=float),
            color=_BLUE, alpha=0.15, label=_t(lang, "interval"),
        )  # fmt: skip
        ax.plot(
            x, d["precision_est"].to_numpy(dtype=float), color=_BLUE, marker=".", label=_t(lang, "estimated")
        )
    ref = result.reference.get("reference_precision", math.nan)
    if math.isfinite(ref):
        ax.axhline(ref, color=_GREY, linestyle="--", linewidth=0.8, label=_t(lang, "reference"))
    if "precision" in d:
        mature = (d["label_completeness"] >= 0.9).to_numpy()
        real = d["precision"].to_numpy(dtype=float)
        ax.scatter(x[mature], real[mature], color=_RED, zorder=3, s=14, label=_t(lang, "realised"))
        ax.scatter(x[~mature], real[~mature], facecolors="none", edgecolors=_RED, zorder=3, s=14)
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize=7, ncol=4)
    ax.set_title(_t(lang, "est_chart"), fontsize=10)
    _x_axis(ax, days)
    body += figure_html(fig, _t(lang, "est_chart"))
    return _wrap(body)
