"""The reviewers' decisions: an embedded SQLite database that is only ever appended to.

``data/review/review.db`` (``review.db``) holds:

* **reviewers**: a name and the SHA-256 of the token ``okml review add-reviewer NAME``
  printed once (the token itself is stored nowhere);
* **sessions** of the web queue: the SHA-256 of the session cookie and the CSRF token its
  forms carry;
* **decisions**: case, customer, day, the case's flagged payments, the decision
  (``fraud``: fraud confirmed, ``legitimate``, ``more_info``: needs more information), the
  note, the reviewer, the time, and the model version and score that raised the alert.
  Triggers refuse UPDATE and DELETE: a changed decision is a new row, and a case's history
  is all of its rows.

The schema is versioned (``PRAGMA user_version``) and migrated on open (:data:`MIGRATIONS`).
:meth:`ReviewStore.label_events` turns each case's latest decision into label events
(source ``review``, at the decision's time) that :func:`okml.data.load` merges like
imported ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from okml.errors import OkmlError

#: Decision -> its words on the page.
DECISIONS = {
    "fraud": ("fraud confirmed", "确认欺诈"),
    "legitimate": ("legitimate", "正常交易"),
    "more_info": ("needs more information", "需要更多信息"),
}

#: Schema versions, applied in order on open (the index + 1 is the version).
MIGRATIONS = [
    """
    CREATE TABLE reviewers (
        name TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        reviewer TEXT NOT NULL REFERENCES reviewers(name),
        csrf TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        day TEXT NOT NULL,
        transactions TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('fraud', 'legitimate', 'more_info')),
        note TEXT NOT NULL,
        reviewer TEXT NOT NULL REFERENCES reviewers(name),
        time TEXT NOT NULL,
        model_version TEXT,
        score REAL
    );
    CREATE INDEX decisions_case ON decisions(case_id, id);
    CREATE TRIGGER decisions_never_updated BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are never overwritten: add a new one'); END;
    CREATE TRIGGER decisions_never_deleted BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are never deleted'); END;
    """,
]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ReviewStore:
    """The decisions database at ``path`` (created and migrated when needed)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")  # a decision answered is a decision kept
        os.chmod(self.path, 0o600)  # token hashes and notes: the owner's
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise OkmlError(
                f"{self.path} has schema version {version}, newer than this okml knows "
                f"({len(MIGRATIONS)}): upgrade okml"
            )
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {i}; COMMIT;")

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    # ----------------------------------------------------------------- reviewers
    def add_reviewer(self, name: str) -> str:
        """A new reviewer; returns their token (shown once: only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise OkmlError("reviewer name: 1 to 100 printable characters")
        token = secrets.token_urlsafe(32)
        try:
            self.db.execute("INSERT INTO reviewers VALUES (?, ?, ?)", (name, _sha(token), _now()))
        except sqlite3.IntegrityError:
            raise OkmlError(f"reviewer {name!r} exists already") from None
        return token

    def reviewer(self, token: str) -> str | None:
        """The reviewer whose token this is (None for any other text)."""
        if not token:
            return None
        # looked up by the token's hash: what is compared is never the secret itself
        row = self.db.execute("SELECT name FROM reviewers WHERE token_sha256 = ?", (_sha(token),)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ sessions
    def new_session(self, reviewer: str) -> tuple[str, str]:
        """``(session_id, csrf)``: the cookie's value and the token its forms carry."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_sha(sid), reviewer, csrf, _now()))
        return sid, csrf

    def session(self, sid: str | None) -> tuple[str, str] | None:
        """``(reviewer, csrf)`` of a session cookie, None when it is not one."""
        if not sid:
            return None
        row = self.db.execute(
            "SELECT reviewer, csrf FROM sessions WHERE id_sha256 = ?", (_sha(sid),)
        ).fetchone()
        return (row[0], row[1]) if row else None

    # ----------------------------------------------------------------- decisions
    def decide(
        self,
        case: Any,
        decision: str,
        note: str,
        reviewer: str,
        model_version: str | None = None,
    ) -> int:
        """Record a decision on ``case`` (an :class:`okml.cases.Case`); returns its id."""
        if decision not in DECISIONS:
            raise OkmlError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
        ids = [v.item() if hasattr(v, "item") else v for v in case.payments["transaction_id"]]
        cur = self.db.execute(
            "INSERT INTO decisions (case_id, customer_id, day, transactions, decision, note, reviewer,"
            " time, model_version, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (case.case_id, str(case.customer_id), case.day, json.dumps(ids), decision, note, reviewer,
             _now(), model_version, case.score),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        """Every decision on ``case_id``, oldest first."""
        cur = self.db.execute("SELECT * FROM decisions WHERE case_id = ? ORDER BY id", (case_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def latest(self, case_ids: Sequence[str]) -> dict[str, str]:
        """Case -> its latest decision, for the cases that have one."""
        out: dict[str, str] = {}
        for case_id, decision in self.db.execute("SELECT case_id, decision FROM decisions ORDER BY id"):
            out[case_id] = decision
        return {c: out[c] for c in case_ids if c in out}

    def confirmed(self, start: str | None = None, end: str | None = None) -> pd.DataFrame:
        """The cases whose latest decision is *fraud confirmed*, one row each (``case_id,
        customer_id, day, time, reviewer, note``), for local days ``start`` .. ``end``
        (``YYYY-MM-DD``, both included; None: open)."""
        cur = self.db.execute(
            "SELECT case_id, customer_id, day, decision, time, reviewer, note FROM decisions ORDER BY id"
        )
        latest = {row[0]: row for row in cur.fetchall()}
        rows = [
            (case_id, customer, day, time, reviewer, note)
            for case_id, customer, day, decision, time, reviewer, note in latest.values()
            if decision == "fraud" and (start is None or day >= start) and (end is None or day <= end)
        ]
        return pd.DataFrame(rows, columns=["case_id", "customer_id", "day", "time", "reviewer", "note"])

    def label_events(self) -> pd.DataFrame:
        """Each case's latest decision as label events (:func:`okml.data.labels.review_label_events`)."""
        from okml.data.labels import EVENT_COLUMNS, review_label_events

        events = review_label_events(self.path)
        return events if events is not None else pd.DataFrame(columns=EVENT_COLUMNS)
