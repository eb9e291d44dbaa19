"""``okml review``: the review queue, a web page where reviewers work a day's cases.

Bound to 127.0.0.1 (``review.host``, ``review.port``). Reviewers sign in with the token
``okml review add-reviewer NAME`` printed once; the session cookie is random, HttpOnly and
SameSite=Strict, and only its hash is stored. Every form carries the session's CSRF token
(compared in constant time); every text from data or from reviewers is HTML-escaped. The
same token works as ``Authorization: Bearer TOKEN`` on ``POST /api/decisions`` for scripts.

Pages: ``/`` the day's cases, open ones first, each with its latest decision; ``/case/ID``
the case (payments, reasons, context, the decision history) and the decision form.
Decisions go to :class:`okml.review.ReviewStore` (never overwritten) and come back as labels
through :func:`okml.data.load`.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import pandas as pd
from starlette.requests import Request  # at module level: FastAPI reads the handlers' annotations

from okml.config import Params
from okml.errors import OkmlError
from okml.paths import resolve
from okml.review import DECISIONS, ReviewStore

log = logging.getLogger(__name__)

COOKIE = "okml_review"
LOGIN_CSRF = "okml_login_csrf"
_WORDS = {
    "en": {"queue": "Review queue", "cases": "cases", "open": "open", "sign_in": "Sign in",
           "token": "Reviewer token", "decide": "Record decision", "note": "Note", "history": "Decisions",
           "payments": "Flagged payments", "context": "Other payments of the look-back",
           "reasons": "Why it was flagged", "none": "none yet", "back": "back to the queue",
           "score": "score", "customer": "customer", "amount": "flagged", "signed": "signed in as",
           "pay_back": "To pay back", "waterfall": "Why this score", "timeline": "This customer's payments",
           "rings": "Rings of linked accounts", "ring": "Ring", "members": "members",
           "flagged": "with a case",
           "confirmed": "confirmed", "devices": "devices", "merchants": "merchants",
           "ring_decide": "Record the decision on the cases of all {n} flagged members",
           "ring_source": "Groups found in {source}.", "payments_day": "payments that day",
           "ring_data": "the payments of {path}",
           "ring_scored": "the scored file's payments only (data.path does not hold them)"},
    "zh": {"queue": "审核队列", "cases": "个案件", "open": "待处理", "sign_in": "登录",
           "token": "审核员令牌", "decide": "记录决定", "note": "备注", "history": "决定记录",
           "payments": "被标记的支付", "context": "回溯期内的其他支付",
           "reasons": "标记原因", "none": "暂无", "back": "返回队列",
           "score": "分数", "customer": "客户", "amount": "标记金额", "signed": "已登录：",
           "pay_back": "应赔付", "waterfall": "分数由来", "timeline": "该客户的支付",
           "rings": "关联账户团伙", "ring": "团伙", "members": "位成员", "flagged": "有案件",
           "confirmed": "已确认", "devices": "设备", "merchants": "商户",
           "ring_decide": "为全部{n}位被标记成员的案件记录决定",
           "ring_source": "团伙来自{source}。", "payments_day": "当日支付",
           "ring_data": "{path}中的支付", "ring_scored": "仅评分文件中的支付（data.path 不包含这些支付）"},
}  # fmt: skip
_STYLE = """<style>
body { font-family: -apple-system, "Segoe UI", "Noto Sans", okml-cjk, "Noto Sans CJK SC", sans-serif;
  max-width: 1100px; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.decided { color: #666; }
</style>"""


class _Queue:
    """The cases of the scored file and the decisions database behind the pages."""

    def __init__(self, params: Params, scored: Path) -> None:
        from okml.cases import build_cases
        from okml.features import lookback

        self.params = params
        self.scored = scored
        rows = pd.read_parquet(scored)
        self.rows = rows
        self.model_version = rows.attrs.get("model_version")  # recorded by okml score
        fp = params.features
        self.cases = build_cases(rows, fp.timezone, lookback(fp), params.explain.top_reasons)
        self.by_id = {c.case_id: c for c in self.cases}
        self.store = ReviewStore(_db(params))
        self.words = _WORDS[params.explain.language]
        self.model = self._model(rows)
        self._tx: tuple[pd.DataFrame | None, str] | None = None  # loaded on the first ring asked for
        self._rings: dict[str, list[Any]] = {}

    def rings(self, day: str) -> list[Any]:
        """The day's ring cases (:func:`okml.cases.day_ring_cases`), computed once."""
        from okml.cases import day_ring_cases
        from okml.jobs.report import transactions_for

        if day not in self._rings:
            if self._tx is None:
                self._tx = transactions_for(self.params, self.rows)
            tx = self._tx[0] if self._tx[0] is not None else self.rows
            self._rings[day] = day_ring_cases(tx, self.params.features, self.cases, day)
        return self._rings[day]

    def ring(self, ring_id: str) -> Any:
        """The ring case ``DAY/Gn`` (None if the day has no such ring with a case)."""
        day = ring_id.split("/")[0]
        if day not in self.days():
            return None
        return next((r for r in self.rings(day) if r.ring_id == ring_id), None)

    @property
    def ring_source(self) -> str:
        """Where the rings were found, in the page's words."""
        where = self._tx[1] if self._tx is not None else ""
        return self.words["ring_data"].format(path=where) if where else self.words["ring_scored"]

    def _model(self, rows: pd.DataFrame) -> Any:
        """The version that scored the file, for the cases' waterfalls (None: no chart)."""
        from okml import tracking
        from okml.score import FEATURE_PREFIX

        if not self.model_version or not any(c.startswith(FEATURE_PREFIX) for c in rows.columns):
            return None
        try:
            return tracking.load_model(f"models:/{self.model_version}", self.params.mlflow)
        except OkmlError as e:
            log.warning("cases are shown without their SHAP waterfall: %s", e)
            return None

    def charts(self, case: Any) -> str:
        """The report's charts of a case: the waterfall of its riskiest payment (when the
        model that scored the file is at hand) and the customer's timeline."""
        from okml import report
        from okml.explain import explain
        from okml.score import FEATURE_PREFIX

        lang = self.params.explain.language
        chart = lang  # okml ships the font Chinese charts need
        top = case.payments.sort_values("score", ascending=False, kind="stable").iloc[0]
        out = ""
        if self.model is not None:
            cols = list(self.model.columns)
            feats = case.payments.loc[[top.name], [FEATURE_PREFIX + c for c in cols]].set_axis(cols, axis=1)
            explained = explain(self.model, feats, cols, self.model.feature_params, lang, 0)
            fig = report.waterfall_figure(
                explained, 0, self.model.feature_params, chart, self.params.explain.waterfall_features
            )
            out += report.figure_html(fig, self.words["waterfall"])
        timeline = report.timeline_figure(self.rows, top, self.params.features.timezone, chart)
        return out + report.figure_html(timeline, self.words["timeline"])

    def days(self) -> list[str]:
        return sorted({c.day for c in self.cases})


def _page(title: str, body: str, lang: str) -> str:
    """A whole page; in Chinese with okml's font cut to the page's characters, so it reads
    as Chinese on a reviewer's machine without a CJK font."""
    from okml.explain.fonts import font_face_css

    font = font_face_css(title + body) if lang == "zh" else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{_STYLE}"
        + (f"<style>{font}</style>" if font else "")
        + f"</head><body>{body}</body></html>"
    )


def _money(x: float) -> str:
    return f"{x:,.2f}"


def create_review_app(queue: _Queue) -> Any:
    """The FastAPI application of the review queue."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

    w, lang, store = queue.words, queue.params.explain.language, queue.store
    app = FastAPI(title="okml review queue", docs_url=None, redoc_url=None, openapi_url=None)

    def signed_in(request: Request) -> tuple[str, str] | None:
        return store.session(request.cookies.get(COOKIE))

    async def form(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > 64 * 1024:
            raise OkmlError("form over 64 KiB")
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}

    async def signed_form(request: Request) -> tuple[tuple[str, str], dict[str, str]] | HTMLResponse:
        """The reviewer and the posted form, or the 401 / 403 page to answer instead."""
        who = signed_in(request)
        if who is None:
            return html(_page("401", "<p>sign in first</p>", lang), 401)
        fields = await form(request)
        if not hmac.compare_digest(fields.get("csrf", ""), who[1]):
            return html(_page("403", "<p>missing or wrong CSRF token</p>", lang), 403)
        return who, fields

    def html(text: str, status: int = 200) -> HTMLResponse:
        resp = HTMLResponse(text, status_code=status)
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
        )
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    @app.get("/login")
    def login_page() -> Any:
        csrf = secrets.token_urlsafe(32)
        body = (
            f"<h1>{escape(w['sign_in'])}</h1><form method='post' action='/login'>"
            f"<input type='hidden' name='csrf' value='{csrf}'>"
            f"<label>{escape(w['token'])} <input type='password' name='token' id='token'></label> "
            f"<button type='submit' id='sign-in'>{escape(w['sign_in'])}</button></form>"
        )
        resp = html(_page(w["sign_in"], body, lang))
        resp.set_cookie(LOGIN_CSRF, csrf, httponly=True, samesite="strict")
        return resp

    @app.post("/login")
    async def login(request: Request) -> Any:
        fields = await form(request)
        expected = request.cookies.get(LOGIN_CSRF, "")
        if not expected or not hmac.compare_digest(fields.get("csrf", ""), expected):
            return html(_page("403", "<p>missing or wrong CSRF token</p>", lang), 403)
        reviewer = store.reviewer(fields.get("token", ""))
        if reviewer is None:
            log.warning("review: a sign-in with a wrong token")
            return html(
                _page("401", f"<p>wrong token</p><a href='/login'>{escape(w['sign_in'])}</a>", lang), 401
            )
        sid, _ = store.new_session(reviewer)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict")
        resp.delete_cookie(LOGIN_CSRF)
        log.info("review: %s signed in", reviewer)
        return resp

    @app.get("/")
    def queue_page(request: Request, day: str | None = None) -> Any:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        days = queue.days()
        day = day if day in days else (days[-1] if days else "")
        cases = [c for c in queue.cases if c.day == day]
        decided = store.latest([c.case_id for c in cases])
        cases.sort(key=lambda c: (c.case_id in decided, c.rank))  # open first
        rows = "".join(
            f"<tr class='{'decided' if c.case_id in decided else 'open'}'><td class='num'>{c.rank}</td>"
            f"<td><a class='case' href='/case/{quote(c.case_id, safe='')}'>"
            f"{escape(str(c.customer_id))}</a></td>"
            f"<td class='num'>{c.score:.3f}</td><td class='num'>{c.n_flagged}</td>"
            f"<td class='num'>{_money(c.flagged_amount)}</td>"
            f"<td>{escape(', '.join(map(str, c.merchants)))}</td>"
            f"<td>{escape(c.reasons[0].text) if c.reasons else ''}</td>"
            f"<td>{escape(_decision_words(decided.get(c.case_id), lang) or w['open'])}</td></tr>"
            for c in cases
        )
        others = " ".join(f"<a href='/?day={escape(d)}'>{escape(d)}</a>" for d in days[-7:])
        rings = queue.rings(day) if day else []
        body = (
            f"<p>{escape(w['signed'])} {escape(who[0])}</p><h1>{escape(w['queue'])}: {escape(day)}</h1>"
            f"<p>{len(cases)} {escape(w['cases'])}, {len(cases) - len(decided)} {escape(w['open'])}. "
            f"{others}</p>"
            + _rings_table(rings, decided, w, queue.ring_source)
            + f"<table id='queue'><tr><th>#</th><th>{escape(w['customer'])}</th><th>{escape(w['score'])}</th>"
            f"<th>n</th><th>{escape(w['amount'])}</th><th>merchants</th><th>{escape(w['reasons'])}</th>"
            f"<th>status</th></tr>{rows}</table>"
        )
        return html(_page(f"{w['queue']} {day}", body, lang))

    @app.get("/case/{case_id:path}")
    def case_page(request: Request, case_id: str) -> Any:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        case = queue.by_id.get(case_id)
        if case is None:
            return html(_page("404", "<p>no such case</p>", lang), 404)
        history = store.history(case_id)
        pay = _pay_back(queue, case) if history and history[-1]["decision"] == "fraud" else None
        return html(_case_html(case, history, who[1], w, lang, pay, queue.charts(case)))

    @app.get("/ring/{ring_id:path}")
    def ring_page(request: Request, ring_id: str) -> Any:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        ring = queue.ring(ring_id)
        if ring is None:
            return html(_page("404", "<p>no such ring with a case</p>", lang), 404)
        decided = store.latest([c.case_id for c in ring.cases])
        return html(_ring_html(ring, decided, who[1], w, lang, queue.ring_source))

    @app.post("/ring/{ring_id:path}/decide")
    async def ring_decide(request: Request, ring_id: str) -> Any:
        posted = await signed_form(request)
        if isinstance(posted, HTMLResponse):
            return posted
        who, fields = posted
        ring = queue.ring(ring_id)
        decision = fields.get("decision", "")
        if ring is None or decision not in DECISIONS:
            return html(_page("422", "<p>no such ring or decision</p>", lang), 422)
        note = f"ring {ring.ring_id}: {fields.get('note', '')}".rstrip(": ")
        for case in ring.cases:  # one decision per member's case: each comes back as its labels
            store.decide(case, decision, note, who[0], queue.model_version)
        log.info("review: %s decided %s on ring %s (%d cases)", who[0], decision, ring_id, len(ring.cases))
        return RedirectResponse(f"/ring/{quote(ring_id, safe='')}", status_code=303)

    @app.post("/case/{case_id:path}/decide")
    async def decide(request: Request, case_id: str) -> Any:
        posted = await signed_form(request)
        if isinstance(posted, HTMLResponse):
            return posted
        who, fields = posted
        case = queue.by_id.get(case_id)
        decision = fields.get("decision", "")
        if case is None or decision not in DECISIONS:
            return html(_page("422", "<p>no such case or decision</p>", lang), 422)
        store.decide(case, decision, fields.get("note", ""), who[0], queue.model_version)
        log.info("review: %s decided %s on %s", who[0], decision, case_id)
        return RedirectResponse(f"/case/{quote(case_id, safe='')}", status_code=303)

    @app.post("/api/decisions")
    async def api_decide(request: Request) -> Any:
        given = request.headers.get("authorization", "")
        reviewer = store.reviewer(given[7:]) if given.startswith("Bearer ") else None
        if reviewer is None:
            return JSONResponse({"error": "missing or wrong bearer token"}, 401)
        try:
            raw = json.loads(await request.body())
        except ValueError as e:
            return JSONResponse({"error": f"body is not JSON: {e}"}, 422)
        if not isinstance(raw, dict):
            return JSONResponse({"error": "expected an object: case_id, decision, note"}, 422)
        case = queue.by_id.get(str(raw.get("case_id")))
        if case is None:
            return JSONResponse({"error": f"case_id: no case {raw.get('case_id')!r}"}, 422)
        if not isinstance(raw.get("decision"), str) or raw["decision"] not in DECISIONS:
            return JSONResponse({"error": f"decision: one of {', '.join(DECISIONS)}"}, 422)
        n = store.decide(case, raw["decision"], str(raw.get("note", "")), reviewer, queue.model_version)
        return JSONResponse({"id": n, "case_id": case.case_id}, 201)

    return app


def _rings_table(rings: list[Any], decided: dict[str, str], w: dict[str, str], source: str) -> str:
    """The queue's rings: one row per ring case, its flagged members linked to their cases."""
    if not rings:
        return ""
    rows = "".join(
        f"<tr><td><a class='ring' href='/ring/{quote(r.ring_id, safe='')}'>{escape(r.ring_id)}</a></td>"
        f"<td class='num'>{len(r.members)}</td><td class='num'>{len(r.cases)}</td>"
        f"<td class='num'>{r.score:.3f}</td><td class='num'>{r.n_flagged}</td>"
        f"<td class='num'>{_money(r.flagged_amount)}</td><td class='num'>{r.confirmed_share:.0%}</td>"
        f"<td>{escape(', '.join(map(str, r.devices)))}</td>"
        f"<td>{escape(', '.join(map(str, r.merchants[:3])))}</td>"
        f"<td class='num'>{sum(c.case_id in decided for c in r.cases)}/{len(r.cases)}</td></tr>"
        for r in rings
    )
    return (
        f"<h2>{escape(w['rings'])}</h2><p>{escape(w['ring_source'].format(source=source))}</p>"
        f"<table id='rings'><tr><th>{escape(w['ring'])}</th><th>{escape(w['members'])}</th>"
        f"<th>{escape(w['flagged'])}</th><th>{escape(w['score'])}</th><th>n</th><th>{escape(w['amount'])}</th>"
        f"<th>{escape(w['confirmed'])}</th><th>{escape(w['devices'])}</th><th>{escape(w['merchants'])}</th>"
        f"<th>status</th></tr>{rows}</table>"
    )


def _ring_html(
    ring: Any, decided: dict[str, str], csrf: str, w: dict[str, str], lang: str, source: str
) -> str:
    """A ring case: its members (those with a case linked, with their status) and one form
    that records the decision on every member's case."""
    with_case = {str(c.customer_id): c for c in ring.cases}
    members = "".join(
        (
            f"<tr><td><a class='case' href='/case/{quote(c.case_id, safe='')}'>{escape(m)}</a></td>"
            f"<td class='num'>{c.score:.3f}</td><td class='num'>{c.n_flagged}</td>"
            f"<td class='num'>{_money(c.flagged_amount)}</td>"
            f"<td>{escape(c.reasons[0].text) if c.reasons else ''}</td>"
            f"<td>{escape(_decision_words(decided.get(c.case_id), lang) or w['open'])}</td></tr>"
            if (c := with_case.get(m)) is not None
            else f"<tr class='decided'><td>{escape(m)}</td><td></td><td></td><td></td><td></td><td></td></tr>"
        )
        for m in map(str, ring.members)
    )
    action = f"/ring/{quote(ring.ring_id, safe='')}/decide"
    return _page(
        ring.ring_id,
        f"<p><a href='/?day={escape(ring.day)}'>{escape(w['back'])}</a></p>"
        f"<h1>{escape(w['ring'])} {escape(ring.ring_id)}</h1>"
        f"<p>{len(ring.members)} {escape(w['members'])} · {len(ring.cases)} {escape(w['flagged'])} · "
        f"{escape(w['score'])} {ring.score:.3f} · {ring.n_flagged} · {_money(ring.flagged_amount)} · "
        f"{escape(w['confirmed'])} {ring.confirmed_share:.0%} · {ring.payments_day} "
        f"{escape(w['payments_day'])} ({_money(ring.amount_day)})</p>"
        f"<p>{escape(w['devices'])}: {escape(', '.join(map(str, ring.devices)))} · {escape(w['merchants'])}: "
        f"{escape(', '.join(map(str, ring.merchants)))}</p>"
        f"<p>{escape(w['ring_source'].format(source=source))} "
        f"<code>okml evidence --ring {escape(ring.ring_id)}</code></p>"
        f"<table id='members'><tr><th>{escape(w['customer'])}</th><th>{escape(w['score'])}</th><th>n</th>"
        f"<th>{escape(w['amount'])}</th><th>{escape(w['reasons'])}</th><th>status</th></tr>{members}</table>"
        + _decision_form(action, csrf, w, lang, w["ring_decide"].format(n=len(ring.cases))),
        lang,
    )


def _decision_form(action: str, csrf: str, w: dict[str, str], lang: str, button: str) -> str:
    """The decision form of a case or a ring page: the choices, a note, the CSRF token."""
    choices = "".join(
        f"<label><input type='radio' name='decision' value='{k}' id='decision-{k}'> "
        f"{escape(zh if lang == 'zh' else en)}</label> "
        for k, (en, zh) in DECISIONS.items()
    )
    return (
        f"<form method='post' action='{action}' id='decide'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>{choices}<br>"
        f"<label>{escape(w['note'])}<br>"
        "<textarea name='note' id='note' rows='3' cols='60'></textarea></label><br>"
        f"<button type='submit' id='record'>{escape(button)}</button></form>"
    )


def _decision_words(decision: str | None, lang: str) -> str:
    if decision is None:
        return ""
    en, zh = DECISIONS[decision]
    return zh if lang == "zh" else en


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(r[c]) for c in cols) + "</tr>" for _, r in frame[cols].iterrows())
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"<td class='num'>{v:,.3f}</td>" if abs(v) < 1 else f"<td class='num'>{v:,.2f}</td>"
    if isinstance(v, pd.Timestamp):
        return f"<td>{escape(v.isoformat())}</td>"
    return f"<td>{escape('' if v is None or v is pd.NA else str(v))}</td>"


_PAY_COLUMNS = ["payee", "transaction_id", "timestamp", "merchant_id", "amount", "basis"]
_COLUMNS = ["transaction_id", "timestamp", "merchant_id", "merchant_name", "amount", "score", "device_id",
            "channel", "reason_1"]  # fmt: skip


def _pay_back(queue: _Queue, case: Any) -> pd.DataFrame:
    """What a confirmed case pays back (:func:`okml.compensation.ledger`), from the scored
    rows with the reviewers' confirmations as the labels (the ledger of ``okml cases
    --compensation`` also counts chargebacks and reports)."""
    from okml.compensation import ledger
    from okml.features import lookback

    events = queue.store.label_events()
    fraud = events.loc[events["is_fraud"] == 1].groupby("transaction_id")["time"].min()
    rows = queue.rows.drop(columns=["is_fraud", "label_time"], errors="ignore")
    rows = rows.assign(
        is_fraud=rows["transaction_id"].isin(fraud.index).astype("int8"),
        label_time=rows["transaction_id"].map(fraud),
        label_source="review",
    )
    confirmed = pd.DataFrame(
        [(case.case_id, str(case.customer_id), case.day, "", "")],
        columns=["case_id", "customer_id", "day", "time", "reviewer"],
    )
    fp = queue.params.features
    return ledger(rows, confirmed, fp.timezone, lookback(fp))


def _case_html(
    case: Any,
    history: list[dict[str, Any]],
    csrf: str,
    w: dict[str, str],
    lang: str,
    pay: pd.DataFrame | None = None,
    charts: str = "",
) -> str:
    reasons = "".join(f"<li>{escape(r.text)}</li>" for r in case.reasons) or f"<li>{escape(w['none'])}</li>"
    past = "".join(
        f"<tr><td>{escape(h['time'])}</td><td>{escape(h['reviewer'])}</td>"
        f"<td>{escape(_decision_words(h['decision'], lang))}</td>"
        f"<td class='note'>{escape(h['note'])}</td></tr>"
        for h in history
    )
    action = f"/case/{quote(case.case_id, safe='')}/decide"
    empty = f"<tr><td>{escape(w['none'])}</td></tr>"
    return _page(
        case.case_id,
        f"<p><a href='/'>{escape(w['back'])}</a></p>"
        f"<h1>{escape(str(case.customer_id))} · {escape(case.day)}</h1>"
        f"<p>{escape(w['score'])} {case.score:.3f} · {case.n_flagged} · {_money(case.flagged_amount)} · "
        f"{escape(', '.join(map(str, case.merchants)))} · {escape(', '.join(map(str, case.devices)))}</p>"
        f"<h2>{escape(w['reasons'])}</h2><ol id='reasons'>{reasons}</ol>"
        f"<div id='charts'>{charts}</div>"  # our own PNGs (data: URIs), no data text in them
        f"<h2>{escape(w['payments'])}</h2>{_table(case.payments, _COLUMNS)}"
        f"<h2>{escape(w['context'])}</h2>{_table(case.context, _COLUMNS)}"
        + (
            f"<h2>{escape(w['pay_back'])}: {len(pay)} · {_money(pay['amount'].sum())}</h2>"
            f"<div id='pay-back'>{_table(pay, _PAY_COLUMNS)}</div>"
            if pay is not None
            else ""
        )
        + f"<h2>{escape(w['history'])}</h2><table id='history'>{past or empty}"
        "</table>" + _decision_form(action, csrf, w, lang, w["decide"]),
        lang,
    )


def _db(params: Params) -> Path:
    if not params.data.review_db:
        raise OkmlError("data.review_db is null: set it to the decisions database (data/review/review.db)")
    return resolve(params.data.review_db)


def review_cli(
    params: Params, action: str, name: str | None, scored: str | None, port: int | None, host: str | None
) -> int:
    """``okml review [serve]`` and ``okml review add-reviewer NAME``."""
    if action == "add-reviewer":
        if not name:
            raise OkmlError("okml review add-reviewer NAME: give the reviewer's name")
        store = ReviewStore(_db(params))
        token = store.add_reviewer(name)
        store.close()
        print(f"reviewer {name} added. Their token (shown once, only its hash is kept):\n{token}")
        return 0
    import uvicorn

    from okml.jobs.report import default_scored

    path = resolve(scored) if scored else default_scored(params)
    queue = _Queue(params, path)
    bind, where = host or params.review.host, port if port is not None else params.review.port
    print(f"review queue of {path.name} ({len(queue.cases)} cases) on http://{bind}:{where}; Ctrl-C stops")
    uvicorn.run(create_review_app(queue), host=bind, port=where, log_level="warning", access_log=False)
    return 0
