"""``okml evidence``: gather what an evidence pack holds (:mod:`okml.evidence`) and write it,
or verify one.

The transactions come from ``data.path`` with every label source merged (``okml.data.load``);
the alerts from the scored files in ``explain.scored_dir`` (each records the model version
that scored it); the decisions from ``data.review_db``. Every pack made is recorded in
``<evidence dir>/register.jsonl`` (one JSON line: pack, subject, manifest sha256, time), so
``okml evidence verify`` also catches a manifest rewritten to match altered files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from okml.config import Params, dump_params
from okml.errors import OkmlError
from okml.paths import resolve

REGISTER = "register.jsonl"


def _register_path(params: Params) -> Path:
    db = resolve(params.data.review_db or "data/review/review.db")
    return db.parent.parent / "evidence" / REGISTER


def _decisions(params: Params) -> pd.DataFrame:
    import sqlite3

    cols = ["id", "case_id", "customer_id", "day", "transactions", "decision", "note", "reviewer", "time",
            "model_version", "score"]  # fmt: skip
    db = resolve(params.data.review_db) if params.data.review_db else None
    if db is None or not db.exists():
        return pd.DataFrame(columns=cols)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return pd.read_sql_query("SELECT * FROM decisions ORDER BY id", con)
    finally:
        con.close()


def _alerts(params: Params, ids: pd.Series) -> pd.DataFrame:
    """The scored rows of ``ids`` in every scored file: the alert as it was raised."""
    import pyarrow.parquet as pq

    folder = resolve(params.explain.scored_dir)
    want = set(ids.tolist())
    found = []
    for file in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        schema = pq.read_schema(file)
        names = set(schema.names)
        if not {"transaction_id", "score"} <= names:
            continue
        cols = [c for c in ("transaction_id", "timestamp", "score", "flag", "rank_in_day", "reason_1",
                            "reason_2", "reason_3") if c in names]  # fmt: skip
        rows = pd.read_parquet(file, columns=cols)
        rows = rows.loc[rows["transaction_id"].isin(want)]
        if rows.empty:
            continue
        attrs = json.loads((schema.metadata or {}).get(b"PANDAS_ATTRS", b"{}"))
        reasons = [c for c in ("reason_1", "reason_2", "reason_3") if c in rows.columns]
        found.append(
            rows.drop(columns=reasons).assign(
                reasons=rows[reasons].apply(lambda r: " | ".join(x for x in r if isinstance(x, str)), axis=1)
                if reasons
                else "",
                model_version=attrs.get("model_version") or attrs.get("model_uri"),
                scored_file=file.name,
            )
        )
    cols = [
        "transaction_id",
        "timestamp",
        "scored_file",
        "model_version",
        "score",
        "flag",
        "rank_in_day",
        "reasons",
    ]
    if not found:
        return pd.DataFrame(columns=cols)
    out = pd.concat(found, ignore_index=True)
    return out[[c for c in cols if c in out.columns]].sort_values(
        ["transaction_id", "scored_file"], kind="stable"
    )


def _provenance(params: Params, tx: pd.DataFrame, what: str) -> dict[str, Any]:
    from okml import tracking

    return {
        **tracking.data_fingerprint(tx),
        **tracking.code_version(),
        "made_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "made_by": what,
        "params": dump_params(params),
    }


def _ring(params: Params, tx: pd.DataFrame, ring: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payments and the members table of ring ``DAY/Gn`` (:func:`okml.rings.active_rings`)."""
    from okml.rings import active_rings, parse_ring_id, ring_payments

    day, n = parse_ring_id(ring)
    listed = active_rings(tx, params.features, day)
    if n > len(listed):
        have = f"{listed['ring_id'].iloc[0]} .. {listed['ring_id'].iloc[-1]}" if len(listed) else "none"
        raise OkmlError(f"--ring {ring}: okml rings lists {len(listed)} ring(s) on {day} ({have}) in "
                        f"{params.data.path}")  # fmt: skip
    row = listed.iloc[n - 1]
    payments = ring_payments(tx, params.features, row)
    fraud = (payments["is_fraud"] == 1).fillna(False).astype(bool)  # what the labels say now
    by = payments.assign(_known=fraud).groupby("customer_id", sort=False, observed=True)
    stats = by.agg(
        payments=("transaction_id", "size"),
        amount=("amount", "sum"),
        confirmed_frauds=("_known", "sum"),
        first_payment=("timestamp", "min"),
        last_payment=("timestamp", "max"),
    )
    devices = by["device_id"].agg(lambda d: ";".join(sorted(map(str, d.dropna().unique())))) if (
        "device_id" in payments.columns) else None  # fmt: skip
    members = pd.DataFrame({"customer_id": list(row["members"])}).join(stats, on="customer_id")
    if devices is not None:
        members = members.assign(devices=members["customer_id"].map(devices))
    members = members.assign(ring=ring, amount=members["amount"].round(2))
    return payments, members


def gather(
    params: Params, case: str | None = None, merchant: str | None = None, ring: str | None = None
) -> Any:
    """The :class:`okml.evidence.Evidence` of a reviewed case, a ring or a merchant."""
    from okml.compensation import ledger
    from okml.data import load
    from okml.evidence import Evidence
    from okml.features import lookback

    tx = load(params.data.path, params=params.data)
    decisions = _decisions(params)
    tz = params.features.timezone
    if case is not None:
        mine = decisions.loc[decisions["case_id"] == case]
        if mine.empty:
            raise OkmlError(f"--case {case}: no decision on this case in {params.data.review_db}; "
                            "evidence is built for reviewed cases")  # fmt: skip
        day, customer = mine["day"].iloc[-1], mine["customer_id"].iloc[-1]
        end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(tz)
        span = (tx["timestamp"] < end) & (tx["timestamp"] >= end - lookback(params.features))
        payments = tx.loc[span & (tx["customer_id"].astype(str) == str(customer))]
        confirmed = mine.iloc[[-1]] if mine["decision"].iloc[-1] == "fraud" else mine.iloc[:0]
        kind, subject, shown = "case", case, mine
        members = None
    elif ring is not None:
        payments, members = _ring(params, tx, ring)
        shown, confirmed = _touching(decisions, payments)
        kind, subject = "ring", ring
    else:
        assert merchant is not None
        payments = tx.loc[tx["merchant_id"].astype(str) == str(merchant)]
        if payments.empty:
            raise OkmlError(f"--merchant {merchant}: no payment to this merchant in {params.data.path}")
        shown, confirmed = _touching(decisions, payments)
        kind, subject, members = "merchant", merchant, None
    victims = ledger(tx, confirmed, tz, lookback(params.features))
    if kind == "merchant":
        victims = victims.loc[victims["merchant_id"].astype(str) == str(merchant)]
    elif kind == "ring":
        victims = victims.loc[victims["transaction_id"].isin(payments["transaction_id"])]
    keep = [c for c in ("transaction_id", "timestamp", "customer_id", "device_id", "merchant_id", "amount",
                        "channel", "region", "is_fraud", "label_time", "label_source", "fraud_type")
            if c in payments.columns]  # fmt: skip
    return Evidence(
        kind=kind,
        subject=subject,
        payments=payments[keep].reset_index(drop=True),
        alerts=_alerts(params, payments["transaction_id"]),
        decisions=shown.drop(columns=["transactions"]).reset_index(drop=True),
        victims=victims.reset_index(drop=True),
        provenance=_provenance(params, tx, f"okml evidence --{kind} {subject}"),
        timezone=tz,
        members=members,
    )


def _touching(decisions: pd.DataFrame, payments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The decisions on cases that hold one of ``payments``, and the latest of each case
    that confirmed fraud."""
    ids = set(payments["transaction_id"].tolist())
    touches = decisions["transactions"].map(lambda raw: bool(ids & set(json.loads(raw))))
    shown = decisions.loc[touches.astype(bool)] if len(decisions) else decisions
    latest = shown.groupby("case_id", sort=False).tail(1)
    return shown, latest.loc[latest["decision"] == "fraud"]


def evidence_cli(
    params: Params, case: str | None, merchant: str | None, ring: str | None, output: str | None
) -> int:
    """``okml evidence --case ID | --ring ID | --merchant ID --output PACK.zip``."""
    from okml.evidence import build_pack

    chosen = [x for x in (case, merchant, ring) if x]
    if len(chosen) != 1:
        raise OkmlError("give exactly one of --case ID, --merchant ID, --ring ID")
    ev = gather(params, case=case, merchant=merchant, ring=ring)
    out = resolve(output) if output else _register_path(params).parent / f"{ev.kind}-{_slug(ev.subject)}.zip"
    path, sha = build_pack(ev, out)
    register = _register_path(params)
    register.parent.mkdir(parents=True, exist_ok=True)
    line = {"pack": str(path), "kind": ev.kind, "subject": ev.subject, "manifest_sha256": sha,
            "made_at": ev.provenance["made_at"]}  # fmt: skip
    with register.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    owed = ev.victims["amount"].sum() if len(ev.victims) else 0.0
    print(f"evidence pack of {ev.kind} {ev.subject}: {len(ev.payments)} payments, {len(ev.alerts)} alerts, "
          f"{len(ev.decisions)} decisions, {len(ev.victims)} victim payments ({owed:,.2f})")  # fmt: skip
    print(f"wrote {path}; manifest sha256 {sha} (recorded in {register})")
    return 0


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def verify_cli(params: Params, pack: str) -> int:
    """``okml evidence verify PACK.zip``: 0 when every file matches its manifest (and the
    manifest the register's record), else 1 with one line per changed file."""
    from okml.evidence import verify_pack

    register = _register_path(params)
    recorded = None
    if register.exists():
        recorded = {json.loads(line)["manifest_sha256"] for line in register.read_text().splitlines() if line}
    result = verify_pack(resolve(pack), {s: True for s in recorded} if recorded is not None else None)
    if result.ok:
        seal = " and the manifest is the one recorded when it was made" if recorded is not None else ""
        print(f"{result.path}: all {result.files} files match the manifest{seal} "
              f"(sha256 {result.manifest_sha256})")  # fmt: skip
        return 0
    for problem in result.problems:
        print(f"{result.path}: {problem}")
    return 1
