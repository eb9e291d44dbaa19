"""The evidence pack: what OKPay's lawyers hand over, in a form nobody can quietly alter.

A pack is one ZIP file about one subject (a reviewed case, a merchant, a ring):

============================  ==============================================================
file                          what it holds
============================  ==============================================================
``summary.html``              who, what, when, how much, in English and Chinese; a picture of
                              the linked accounts, devices and merchants; a timeline. Opens
                              offline, runs no script (CSP), every text from data escaped
``payments.csv``              every payment of the subject, with its label and its source
``alerts.csv``                each alert as it was raised: scored file, model version, score,
                              flag and reasons at the time
``decisions.csv``             the reviewers' decisions, oldest first, with their times
``victims.csv``               the payments paid back or owed to victims (:mod:`okml.compensation`)
``links.png``, ``timeline.png``  the two pictures of the summary
``provenance.json``           data fingerprint (sha256 of the transactions), code version,
                              the parameters, when and for what the pack was made
``manifest.json``             the sha256 of every file above
============================  ==============================================================

:func:`build_pack` writes it (to a temporary file, then renamed); :func:`verify_pack` checks
every file against the manifest and names what changed. The manifest's own sha256 is what
to record elsewhere (``okml evidence`` appends it to a register beside the packs), so a
changed manifest is caught too. ZIP entries carry a fixed time: the same inputs give the same
files.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from okml.errors import DataError

#: The files of a pack besides the manifest, in order.
FILES = (
    "summary.html", "payments.csv", "alerts.csv", "decisions.csv", "victims.csv", "links.png",
    "timeline.png", "provenance.json",
)  # fmt: skip
MANIFEST = "manifest.json"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # entries carry no build time: same inputs, same bytes
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"


@dataclass
class Evidence:
    """What a pack is built from (:func:`okml.jobs.evidence` gathers it).

    Attributes
    ----------
    kind, subject:
        ``case`` / ``merchant`` / ``ring`` and its id.
    payments:
        The subject's payments: ``transaction_id, timestamp, customer_id, merchant_id,
        amount, is_fraud`` (``device_id``, ``label_time``, ``label_source``, ``fraud_type``
        when known).
    alerts:
        The alerts raised on them: ``transaction_id, scored_file, model_version, score,
        flag, reasons``.
    decisions:
        The reviewers' decisions: ``case_id, decision, time, reviewer, note, model_version,
        score``.
    victims:
        The compensation ledger rows (:data:`okml.compensation.LEDGER`).
    provenance:
        Data fingerprint, code version, parameters, made when and by which command.
    timezone:
        Local times in the summary.
    members:
        A ring's accounts (``customer_id, payments, amount, confirmed_frauds,
        first_payment, last_payment, devices``); ``members.csv`` and a table of the summary.
    """

    kind: str
    subject: str
    payments: pd.DataFrame
    alerts: pd.DataFrame
    decisions: pd.DataFrame
    victims: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    members: pd.DataFrame | None = None


# ------------------------------------------------------------------------------ words
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Evidence pack: {kind} {subject}",
        "kinds": "case|merchant|ring",
        "who": "Who", "what": "What", "when": "When", "how_much": "How much",
        "customers": "customers", "devices": "devices", "merchants": "merchants",
        "payments": "payments", "confirmed": "confirmed as fraud",
        "paid_back": "paid back or owed to victims",
        "alerts": "alerts raised", "models": "by model versions", "span": "from {first} to {last} ({tz})",
        "total": "in all", "decisions": "Reviewers' decisions", "victims": "Victims and amounts",
        "links": "Linked accounts, devices and merchants", "timeline": "Timeline of the payments",
        "list": "Payments (the first {n}; all {total} in payments.csv)", "none": "none",
        "files": "Every file of this pack is listed with its sha256 in manifest.json; "
                 "`okml evidence verify PACK.zip` checks them.",
        "fingerprint": "Transactions fingerprint (sha256)", "made": "Made",
        "members": "Members of the ring (accounts linked by shared devices and co-timed payments)",
    },
    "zh": {
        "title": "证据包：{kind} {subject}",
        "kinds": "案例|商户|团伙",
        "who": "涉及对象", "what": "事实", "when": "时间", "how_much": "金额",
        "customers": "位客户", "devices": "台设备", "merchants": "家商户",
        "payments": "笔支付", "confirmed": "已确认为欺诈", "paid_back": "已赔付或应赔付受害人",
        "alerts": "次预警", "models": "模型版本", "span": "自{first}至{last}（{tz}）",
        "total": "合计", "decisions": "审核决定", "victims": "受害人及金额",
        "links": "关联的账户、设备与商户", "timeline": "支付时间线",
        "list": "支付明细（前{n}笔；全部{total}笔见payments.csv）", "none": "无",
        "files": "本证据包的每个文件及其sha256列于manifest.json；`okml evidence verify PACK.zip` 可校验。",
        "fingerprint": "交易数据指纹（sha256）", "made": "生成时间",
        "members": "团伙成员（通过共用设备和同时段支付关联的账户）",
    },
}  # fmt: skip
_KINDS = ("case", "merchant", "ring")
_DECISION = {"fraud": ("fraud confirmed", "确认欺诈"), "legitimate": ("legitimate", "正常交易"),
             "more_info": ("needs more information", "需要更多信息")}  # fmt: skip
SHOWN_PAYMENTS = 200
_DECISION_COLUMNS = ["time", "case_id", "reviewer", "decision", "note", "model_version", "score"]
_VICTIM_COLUMNS = ["payee", "transaction_id", "timestamp", "merchant_id", "amount", "basis"]
_MEMBER_COLUMNS = ["customer_id", "devices", "payments", "amount", "confirmed_frauds", "first_payment",
                   "last_payment"]  # fmt: skip
_PAYMENT_COLUMNS = ["timestamp", "transaction_id", "customer_id", "device_id", "merchant_id", "amount",
                    "is_fraud", "label_source"]  # fmt: skip


def _none(t: Mapping[str, str]) -> str:
    return f"<p>{_e(t['none'])}</p>"


def _e(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def _money(x: float) -> str:
    return f"{float(x):,.2f}"


def _local(ts: Any, tz: str) -> str:
    return pd.Timestamp(ts).tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- pictures
def links_figure(payments: pd.DataFrame) -> Any:
    """Customers (left), devices (middle) and merchants (right), a line for each pair that
    paid together; red: a confirmed fraud went over it."""
    from matplotlib.figure import Figure

    cols = [("customer_id", "#1f77b4"), ("device_id", "#7f7f7f"), ("merchant_id", "#ff7f0e")]
    present = [(c, colour) for c, colour in cols if c in payments.columns]
    nodes = {c: list(dict.fromkeys(payments[c].dropna().astype(str))) for c, _ in present}
    tall = max([len(v) for v in nodes.values()] + [1])
    fig = Figure(figsize=(9.5, min(0.32 * tall + 1.2, 14)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    pos = {
        (c, n): (x, 1 - (i + 0.5) / len(nodes[c]))
        for x, (c, _) in enumerate(present)
        for i, n in enumerate(nodes[c])
    }
    fraud = (
        payments["is_fraud"].to_numpy() == 1
        if "is_fraud" in payments.columns
        else np.zeros(len(payments), bool)
    )
    for a, b in zip(present, present[1:], strict=False):
        pairs = payments.assign(_f=fraud).dropna(subset=[a[0], b[0]])
        for (u, v), part in pairs.groupby([pairs[a[0]].astype(str), pairs[b[0]].astype(str)], sort=True):
            (x0, y0), (x1, y1) = pos[(a[0], u)], pos[(b[0], v)]
            ax.plot([x0, x1], [y0, y1], color="#d62728" if part["_f"].any() else "#cccccc",
                    linewidth=min(0.6 + 0.4 * len(part), 4), zorder=1)  # fmt: skip
    for c, colour in present:
        xs, ys = zip(*(pos[(c, n)] for n in nodes[c]), strict=True) if nodes[c] else ((), ())
        ax.scatter(xs, ys, s=60, color=colour, zorder=2)
        for n in nodes[c]:
            x, y = pos[(c, n)]
            ax.text(x + (0.04 if x < 2 else -0.04), y, n.replace("$", r"\$"), fontsize=7, va="center",
                    ha="left" if x < 2 else "right")  # fmt: skip
    ax.set_xticks(range(len(present)), [c.replace("_id", "") for c, _ in present])
    ax.set_yticks([])
    ax.set_xlim(-0.3, len(present) - 0.7)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return fig


def timeline_figure(payments: pd.DataFrame, tz: str) -> Any:
    """Amount over local time, confirmed frauds red."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 2.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    local = payments["timestamp"].dt.tz_convert(tz).dt.tz_localize(None)
    fraud = (
        (payments["is_fraud"] == 1).to_numpy()
        if "is_fraud" in payments.columns
        else np.zeros(len(payments), bool)
    )
    amount = payments["amount"].to_numpy(dtype=float)
    ax.vlines(local, 0, amount, color="#dddddd", linewidth=0.8)
    ax.scatter(local[~fraud], amount[~fraud], s=14, color="#7f7f7f", label="payment / 支付")
    ax.scatter(local[fraud], amount[fraud], s=22, color="#d62728", label="confirmed fraud / 确认欺诈")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    ax.tick_params(labelsize=7)
    fig.autofmt_xdate()
    return fig


def _png(fig: Any) -> bytes:
    import matplotlib

    from okml.explain.fonts import chart_rc

    buf = io.BytesIO()
    with matplotlib.rc_context(chart_rc()):  # type: ignore[arg-type]
        fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    return buf.getvalue()


# ------------------------------------------------------------------------------ HTML
def _table(frame: pd.DataFrame, columns: list[str], tz: str, limit: int | None = None) -> str:
    cols = [c for c in columns if c in frame.columns]
    rows = frame[cols].head(limit) if limit else frame[cols]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = []
    for _, r in rows.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, pd.Timestamp):
                cells.append(f"<td class='t'>{_e(_local(v, tz))}</td>")
            elif isinstance(v, float | np.floating) and c in ("amount", "score"):
                cells.append(f"<td class='n'>{_money(float(v)) if c == 'amount' else f'{v:.3f}'}</td>")
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _facts(ev: Evidence, lang: str) -> str:
    t = _TEXT[lang]
    p = ev.payments
    fraud = p["is_fraud"] == 1 if "is_fraud" in p.columns else pd.Series(False, index=p.index)
    n = {c: p[c].nunique() for c in ("customer_id", "device_id", "merchant_id") if c in p.columns}
    sep = " " if lang == "en" else ""

    def noun(key: str, count: int) -> str:  # "1 merchant", "3 merchants" (Chinese has no plural)
        return t[key][:-1] if lang == "en" and count == 1 else t[key]

    who = ", ".join(f"{v}{sep}{noun(k, v)}" for k, v in zip(("customers", "devices", "merchants"),
                                                             n.values(), strict=False))  # fmt: skip
    span = (
        t["span"].format(first=_local(p["timestamp"].min(), ev.timezone),
                         last=_local(p["timestamp"].max(), ev.timezone), tz=ev.timezone)
        if len(p) else t["none"]
    )  # fmt: skip
    models = sorted({str(m) for m in ev.alerts.get("model_version", pd.Series(dtype=object)).dropna()})
    flagged = int(ev.alerts["flag"].astype(bool).sum()) if "flag" in ev.alerts.columns else len(ev.alerts)
    by = f" ({t['models']} {', '.join(models)})" if models else ""
    rows = [
        (t["who"], who),
        (t["what"], f"{len(p)}{sep}{t['payments']}; {int(fraud.sum())} {t['confirmed']}; "
                    f"{flagged}{sep}{t['alerts']}" + by),
        (t["when"], span),
        (t["how_much"], f"{_money(p['amount'].sum())} {t['total']}; {_money(p.loc[fraud, 'amount'].sum())} "
                        f"{t['confirmed']}; {_money(ev.victims['amount'].sum() if len(ev.victims) else 0)} "
                        f"{t['paid_back']}"),
        (t["fingerprint"], str(ev.provenance.get("data.sha256", ""))),
        (t["made"], str(ev.provenance.get("made_at", ""))),
    ]  # fmt: skip
    return (
        "<table class='facts'>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def summary_html(ev: Evidence, links_png: bytes, timeline_png: bytes) -> str:
    """The bilingual summary page (English, then Chinese), self-contained and script-free."""
    import base64

    from okml.report import embed_font

    pics = {
        k: base64.b64encode(v).decode("ascii") for k, v in (("links", links_png), ("timeline", timeline_png))
    }
    decisions = ev.decisions.assign(
        decision=ev.decisions["decision"].map(lambda d: " / ".join(_DECISION.get(d, (d, d))))
    ) if len(ev.decisions) else ev.decisions  # fmt: skip
    sections = []
    for lang in ("en", "zh"):
        t = _TEXT[lang]
        kind = dict(zip(_KINDS, t["kinds"].split("|"), strict=True)).get(ev.kind, ev.kind)
        parts = [f"<h1>{_e(t['title'].format(kind=kind, subject=ev.subject))}</h1>", _facts(ev, lang)]
        if ev.members is not None:
            parts.append(f"<h2>{_e(t['members'])}</h2>")
            parts.append(_table(ev.members, _MEMBER_COLUMNS, ev.timezone))
        if lang == "en":  # the pictures and the payments once, under the English part
            for key in ("links", "timeline"):
                parts.append(f"<h2>{_e(t[key])}</h2>")
                parts.append(f"<img alt='{_e(t[key])}' src='data:image/png;base64,{pics[key]}'>")
        parts.append(f"<h2>{_e(t['decisions'])}</h2>")
        parts.append(_table(decisions, _DECISION_COLUMNS, ev.timezone) if len(decisions) else _none(t))
        parts.append(f"<h2>{_e(t['victims'])}</h2>")
        parts.append(_table(ev.victims, _VICTIM_COLUMNS, ev.timezone) if len(ev.victims) else _none(t))
        if lang == "en":
            n = min(SHOWN_PAYMENTS, len(ev.payments))
            parts.append(f"<h2>{_e(t['list'].format(n=n, total=len(ev.payments)))}</h2>")
            parts.append(_table(ev.payments, _PAYMENT_COLUMNS, ev.timezone, SHOWN_PAYMENTS))
        parts.append(f"<p class='note'>{_e(t['files'])}</p>")
        sections.append(f"<section lang='{'zh-Hans' if lang == 'zh' else 'en'}'>{''.join(parts)}</section>")
    style = (
        "<style>body{font-family:-apple-system,'Segoe UI','Noto Sans',okml-cjk,sans-serif;max-width:1100px;"
        "margin:1em auto;padding:0 1em;overflow-wrap:anywhere}"
        "table{border-collapse:collapse;margin:.4em 0 1em}"
        "th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}td.t{white-space:nowrap}"
        "img{max-width:100%}section+section{border-top:2px solid #d62728;margin-top:2em}"
        ".note{color:#555}</style>"
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
        f"<title>{_e(_TEXT['en']['title'].format(kind=ev.kind, subject=ev.subject))}</title>{style}</head>"
        f"<body>{''.join(sections)}</body></html>"
    )
    return embed_font(page)


# ------------------------------------------------------------------------ the pack
def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z", lineterminator="\n").encode("utf-8")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_files(ev: Evidence) -> dict[str, bytes]:
    """Every file of the pack (manifest last), by name."""
    if ev.kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {ev.kind!r}")
    if ev.payments.empty:
        raise DataError(f"{ev.kind} {ev.subject}: no payments to put in an evidence pack")
    payments = ev.payments.sort_values(["timestamp", "transaction_id"], kind="stable").reset_index(drop=True)
    ev = Evidence(
        ev.kind, ev.subject, payments, ev.alerts, ev.decisions, ev.victims, ev.provenance, ev.timezone,
        ev.members,
    )  # fmt: skip
    links, timeline = _png(links_figure(payments)), _png(timeline_figure(payments, ev.timezone))
    files = {
        "summary.html": summary_html(ev, links, timeline).encode("utf-8"),
        "payments.csv": _csv(payments),
        "alerts.csv": _csv(ev.alerts),
        "decisions.csv": _csv(ev.decisions),
        "victims.csv": _csv(ev.victims),
        **({"members.csv": _csv(ev.members)} if ev.members is not None else {}),
        "links.png": links,
        "timeline.png": timeline,
        "provenance.json": json.dumps(ev.provenance, indent=2, sort_keys=True, default=str).encode("utf-8"),
    }
    manifest = {
        "kind": ev.kind,
        "subject": ev.subject,
        "files": {name: _sha(data) for name, data in files.items()},
    }
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    return files


def build_pack(ev: Evidence, output: str | Path) -> tuple[Path, str]:
    """Write the pack of ``ev`` to ``output`` (a temporary file, then renamed); returns the
    path and the manifest's sha256 (record it: it seals every file)."""
    from okml.io import atomic_path

    files = pack_files(ev)
    out = Path(output)
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out, _sha(files[MANIFEST])


@dataclass(frozen=True)
class Verified:
    """What :func:`verify_pack` found: ``problems`` empty when every file matches."""

    path: Path
    manifest_sha256: str
    files: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_pack(path: str | Path, recorded: Mapping[str, Any] | None = None) -> Verified:
    """Check every file of a pack against its manifest; with ``recorded`` (manifest sha256s
    recorded when packs were made: :func:`okml.jobs.evidence` keeps a register), the manifest
    itself too. Each problem is one line naming the file."""
    file = Path(path)
    try:
        z = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"not an evidence pack: {type(e).__name__}: {e}", file=file) from None
    problems: list[str] = []
    with z:
        names = z.namelist()
        if MANIFEST not in names:
            raise DataError(f"not an evidence pack: no {MANIFEST}", file=file)
        raw = z.read(MANIFEST)
        try:
            listed = json.loads(raw)["files"]
        except (ValueError, KeyError, TypeError):
            return Verified(file, _sha(raw), 0, [f"{MANIFEST}: not readable"])
        for name, want in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name}: missing from the pack")
                continue
            got = _sha(z.read(name))
            if got != want:
                problems.append(f"{name}: changed (sha256 {got[:16]}..., the manifest says {want[:16]}...)")
        problems += [f"{n}: not in the manifest" for n in names if n != MANIFEST and n not in listed]
    sha = _sha(raw)
    if recorded is not None and sha not in recorded:
        problems.append(
            f"{MANIFEST}: its sha256 {sha[:16]}... is not the one recorded when the pack was made"
        )
    return Verified(file, sha, len(listed), problems)
