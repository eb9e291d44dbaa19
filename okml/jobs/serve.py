"""``okml serve``: the real-time scoring service (FastAPI on uvicorn, 127.0.0.1 by default).

Endpoints: ``POST /v1/score`` (one payment or ``{"payments": [...]}``), ``POST /v1/labels``
(one label event or ``{"labels": [...]}``), ``GET /healthz``, ``GET /metrics`` (Prometheus
text) and the OpenAPI docs at ``/docs``.

Durability (the embedded store, ``serve.store: local``): every accepted event (payment or
label) is appended to a write-ahead log under ``serve.state_dir`` and the log is fsynced
before the response is sent, so an acknowledged event survives kill -9 and power loss.
Every ``serve.snapshot_every`` events the whole state is written to a snapshot (temporary
file, fsync, rename, fsync of the folder) and a new log segment starts; older segments are
removed. A restart loads the latest snapshot and replays the log after it: the state equals
an uninterrupted run's (``tests/test_serve.py`` kills the process with SIGKILL).

Events are applied in the order they are logged, under one lock: scoring is sequential per
process (the feature state is one stream), and a model swap happens between requests.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hmac
import json
import logging
import math
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request  # at module level: FastAPI reads the handlers' annotations

from okml.config import Params
from okml.errors import DataError, OkmlError
from okml.paths import resolve

log = logging.getLogger(__name__)

SNAPSHOT_PREFIX, LOG_PREFIX = "state-", "events-"
LABEL_SOURCES = ("chargeback", "user_report", "review")
# latency histogram buckets (seconds), Prometheus style
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


# ------------------------------------------------------------------------- event store
class EventStore:
    """The embedded store: snapshots and a write-ahead log of events in ``folder``.

    Files: ``state-<n>.pkl`` (the state after the first ``n`` events; written by this
    service only) and ``events-<n>.log`` (JSON lines, the events from number ``n`` on).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0  # events in the state (snapshot + log)
        self._log: Any = None
        self._segment = 0

    # -- start
    def load(self) -> tuple[Any | None, list[dict[str, Any]]]:
        """The latest snapshot's state (or None) and the logged events after it."""
        snaps = sorted(self._numbered(SNAPSHOT_PREFIX, ".pkl"))
        state, start = None, 0
        if snaps:
            start, path = snaps[-1]
            with path.open("rb") as f:
                state = pickle.load(f)  # noqa: S301 - written by this service into its own folder
        events: list[dict[str, Any]] = []
        for first, path in sorted(self._numbered(LOG_PREFIX, ".log")):
            if first < start:
                continue
            with path.open("rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):  # a torn last write: never acknowledged
                        break
                    events.append(json.loads(line))
        self.count = start + len(events)
        self._open_segment(start if not events else self._last_segment(start))
        return state, events

    def _last_segment(self, start: int) -> int:
        segs = [n for n, _ in self._numbered(LOG_PREFIX, ".log") if n >= start]
        return max(segs) if segs else start

    def _numbered(self, prefix: str, suffix: str) -> Iterator[tuple[int, Path]]:
        for p in self.folder.glob(f"{prefix}*{suffix}"):
            number = p.name[len(prefix) : -len(suffix)]
            if number.isdigit():
                yield int(number), p

    def _open_segment(self, first: int) -> None:
        if self._log is not None:
            self._log.close()
        self._segment = first
        self._log = (self.folder / f"{LOG_PREFIX}{first:012d}.log").open("ab")

    # -- write
    def append(self, events: list[dict[str, Any]]) -> None:
        """Log ``events`` and fsync: after this returns they survive a crash."""
        if not events:
            return
        data = b"".join(json.dumps(e, separators=(",", ":"), default=str).encode() + b"\n" for e in events)
        self._log.write(data)
        self._log.flush()
        os.fsync(self._log.fileno())
        self.count += len(events)

    def snapshot(self, state: Any) -> Path:
        """Write the state after :attr:`count` events, start a new log segment, remove older
        files."""
        path = _write_pickle(state, self.folder / f"{SNAPSHOT_PREFIX}{self.count:012d}.pkl")
        self._open_segment(self.count)
        for n, old in list(self._numbered(SNAPSHOT_PREFIX, ".pkl")):
            if n < self.count:
                old.unlink(missing_ok=True)
        for n, old in list(self._numbered(LOG_PREFIX, ".log")):
            if n < self.count:
                old.unlink(missing_ok=True)
        return path

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# Appends payments to the shared stream only when each is after the latest one appended by
# any process (keys: the order key's text, fixed-width: string order is (time, id) order).
_APPEND_LUA = """
local last = redis.call('GET', KEYS[2])
local n = tonumber(ARGV[1])
for i = 1, n do
  local key = ARGV[2 * i]
  if last and key <= last then return {-i, last} end
  last = key
end
local ids = {}
for i = 1, n do
  ids[i] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2 * i + 1])
end
redis.call('SET', KEYS[2], last)
return ids
"""


def order_key(t_ns: int, transaction_id: Any) -> str:
    """(time, id) as text whose string order is the batch engine's order: integer ids as
    fixed-width numbers, text ids as themselves."""
    if isinstance(transaction_id, int):
        ident = f"i{transaction_id + 2**63:020d}"
    else:
        ident = f"s{transaction_id}"
    return f"{t_ns + 2**63:020d}|{ident}"


class RedisStore:
    """Redis as the event store of several service processes (``serve.store: redis``).

    The events are one Redis stream (``<prefix>:events``), the single order every process
    applies: each process holds a replica of the feature state and, before it scores, applies
    every event up to its own payments. Payments are appended by a Lua script that refuses
    one not after the latest payment of any process (atomic in Redis), so all replicas see
    one time order and compute the same features. Each process snapshots its replica to its
    own ``serve.state_dir`` with the stream position; a new process replays the stream.
    Durability is Redis's: run it with ``appendonly yes`` and ``appendfsync always`` for the
    embedded store's guarantee (an acknowledged event is on disk).
    """

    def __init__(self, url: str, folder: Path, prefix: str = "okml") -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=10)  # sync client
        self.stream, self.last_key = f"{prefix}:events", f"{prefix}:last_payment"
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0  # stream entries applied to this replica
        self.applied = "0-0"  # the last applied entry's id
        self._append = self.client.register_script(_APPEND_LUA)
        try:
            self.client.ping()
        except redis.RedisError as e:
            raise OkmlError(f"serve.redis_url: cannot reach Redis at {_redact(url)}: {e}") from None

    def load(self) -> tuple[Any | None, list[dict[str, Any]]]:
        path = self.folder / "replica.pkl"
        if not path.exists():
            return None, []
        with path.open("rb") as f:
            saved = pickle.load(f)  # noqa: S301 - written by this service into its own folder
        self.applied, self.count = saved["applied"], saved["count"]
        return saved["state"], []

    def empty(self) -> bool:
        return int(self.client.xlen(self.stream)) == 0

    def append_payments(self, events: list[dict[str, Any]], keys: list[str]) -> list[str]:
        """Append payment events in order; :class:`LateEvent` when one is not after the
        latest payment appended by any process (nothing is appended then)."""
        from okml.features.online import LateEvent

        args: list[Any] = [len(events)]
        for key, e in zip(keys, events, strict=True):
            args += [key, _json(e)]
        out = self._append(keys=[self.stream, self.last_key], args=args)
        if out and isinstance(out[0], int) and out[0] < 0:
            i = -out[0] - 1
            raise LateEvent(
                f"payments[{i}] ({events[i]['payment']['transaction_id']}) is not after the latest "
                "payment: payments must come in time order"
            )
        return [x.decode() if isinstance(x, bytes) else str(x) for x in out]

    def append(self, events: list[dict[str, Any]]) -> list[str]:
        """Append label events (no order needed: a label waits for its time)."""
        pipe = self.client.pipeline(transaction=True)
        for e in events:
            pipe.xadd(self.stream, {"e": _json(e)})
        return [x.decode() if isinstance(x, bytes) else str(x) for x in pipe.execute()]

    def since(self, batch: int = 10_000) -> Iterator[tuple[str, dict[str, Any]]]:
        """The entries after the last applied one, in stream order."""
        start = self.applied
        while True:
            entries = self.client.xrange(self.stream, min=f"({start}", max="+", count=batch)
            if not entries:
                return
            for raw_id, fields in entries:
                entry = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                yield entry, json.loads(fields[b"e"])
                start = entry

    def snapshot(self, state: Any) -> Path:
        saved = {"state": state, "applied": self.applied, "count": self.count}
        return _write_pickle(saved, self.folder / "replica.pkl")

    def close(self) -> None:
        self.client.close()


def _write_pickle(obj: Any, path: Path) -> Path:
    """``obj`` pickled to ``path``: a temporary file (owner-only, as a pickle should be),
    fsync, rename, fsync of the folder. (``okml.io.atomic_path`` neither fsyncs nor keeps
    the file private.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _json(e: dict[str, Any]) -> str:
    return json.dumps(e, separators=(",", ":"), default=str)


def _redact(url: str) -> str:
    from okml.tracking import redact_uri

    return redact_uri(url)


# ---------------------------------------------------------------------------- metrics
@dataclass
class Metrics:
    """Counters for ``/metrics`` (Prometheus text format)."""

    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    latency: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0
    scored: int = 0
    flagged: int = 0
    labels: int = 0
    swaps: int = 0
    commits: int = 0

    def request(self, path: str, status: int) -> None:
        self.requests[path, status] = self.requests.get((path, status), 0) + 1

    def observe(self, seconds: float) -> None:
        for i, edge in enumerate(BUCKETS):
            if seconds <= edge:
                self.latency[i] += 1
                break
        else:
            self.latency[-1] += 1
        self.latency_sum += seconds
        self.latency_count += 1

    def text(self, model_version: str, state_events: int) -> str:
        lines = [
            "# HELP okml_requests_total HTTP requests by path and status.",
            "# TYPE okml_requests_total counter",
        ]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'okml_requests_total{{path="{path}",status="{status}"}} {n}')
        lines += [
            "# HELP okml_score_seconds Time to score a payment with its group (state, features, model).",
            "# TYPE okml_score_seconds histogram",
        ]
        cum = 0
        for edge, n in zip(BUCKETS, self.latency, strict=False):
            cum += n
            lines.append(f'okml_score_seconds_bucket{{le="{edge}"}} {cum}')
        lines.append(f'okml_score_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        lines.append(f"okml_score_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"okml_score_seconds_count {self.latency_count}")
        for name, value, help_ in (
            ("okml_payments_scored_total", self.scored, "Payments scored."),
            ("okml_payments_flagged_total", self.flagged, "Payments flagged for review."),
            ("okml_labels_total", self.labels, "Label events taken."),
            ("okml_model_swaps_total", self.swaps, "Times the service changed model."),
            ("okml_score_commits_total", self.commits, "Groups of score requests logged with one fsync."),
            ("okml_state_events", state_events, "Events in the feature state."),
        ):
            kind = "gauge" if name == "okml_state_events" else "counter"
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {value}"]
        lines += [
            "# HELP okml_model_info The model being served.",
            "# TYPE okml_model_info gauge",
            f'okml_model_info{{version="{_label(model_version)}"}} 1',
        ]
        return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---------------------------------------------------------------------------- service
class Service:
    """The scoring service's state: the live scorer, the event store, the metrics."""

    def __init__(self, params: Params, model_uri: str, loaded: tuple[str | None, Any]) -> None:
        from okml.live import LiveScorer

        self.params = params
        self.uri = model_uri
        self.version, model = loaded
        self.lock = threading.Lock()
        self.metrics = Metrics()
        folder = resolve(params.serve.state_dir)
        self.shared = params.serve.store == "redis"
        self.store: Any = RedisStore(params.serve.redis_url, folder) if self.shared else EventStore(folder)
        state, events = self.store.load()
        self.live = LiveScorer(model, params, state)
        self._since_snapshot = 0
        if events:
            self._replay(events)
            log.info("state: %d events replayed from the log after the snapshot", len(events))
        if self.shared:
            replayed = self._catch_up()
            log.info("state: %d events of the Redis stream applied", len(replayed))
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def version_text(self) -> str:
        return self.version or self.uri

    # -- events
    def _replay(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self._apply(e)

    def _apply(self, e: dict[str, Any]) -> None:
        """One logged event into the state (a payment's features are computed and dropped)."""
        if e["kind"] == "payment":
            self.live.state.payment(e["payment"])
        else:
            self.live.state.label(e["transaction_id"], e["is_fraud"], e["time"])

    def score(self, payments: list[dict[str, Any]], with_features: bool = False) -> list[dict[str, Any]]:
        """Score ``payments`` (checked by :func:`check_payment`) in order, after logging them;
        each result has the score, flag, reasons, model version, the state's event count
        and, ``with_features``, the feature values (NaN as null). A payment not after the
        latest one raises :class:`~okml.features.online.LateEvent` (nothing is logged)."""
        (out,), finish = self.score_group([(payments, with_features)])
        finish()
        if isinstance(out, Exception):
            raise out
        return out

    def score_group(
        self, requests: list[tuple[list[dict[str, Any]], bool]]
    ) -> tuple[list[list[dict[str, Any]] | Exception], Callable[[], None]]:
        """Several requests (``(payments, with_features)``) as one group commit: each is
        checked for order after the ones before it, the accepted ones' events are logged
        with one fsync, then scored together (:meth:`LiveScorer.score`). Returns, per
        request, its results or the :class:`~okml.features.online.LateEvent` that refused
        it (a refused request changes nothing), and ``finish``: the call that writes the
        reasons of the flagged payments into those results. It needs neither the state
        nor the lock, so the next group can be scored meanwhile."""
        from okml.features.online import LateEvent

        with self.lock:
            if self.shared:  # each request in turn: the stream decides the order, atomically
                outcomes: list[list[dict[str, Any]] | Exception] = []
                for payments, with_features in requests:
                    try:
                        outcomes.append(self._score_shared(payments, with_features))
                    except LateEvent as e:
                        outcomes.append(e)
                return outcomes, _nothing
            last = self.live.state.last_key
            accepted: list[tuple[list[dict[str, Any]], bool]] = []
            refused: dict[int, Exception] = {}
            for i, (payments, with_features) in enumerate(requests):
                try:
                    last = self._order(payments, last)
                    accepted.append((payments, with_features))
                except LateEvent as e:
                    refused[i] = e
            stored = [_stored(p) for ps, _ in accepted for p in ps]
            self.store.append([{"kind": "payment", "payment": p} for p in stored])
            self.metrics.commits += bool(stored)
            live = self.live
            results = live.score(stored, explain=False)  # logged first: replay gives the same
            self._maybe_snapshot(len(stored))
            self._count(results)
            state_version, version = self.store.count, self.version_text
        done = iter(results)
        answers = [
            self._answers(ps, [next(done) for _ in ps], wf, version, state_version) for ps, wf in accepted
        ]
        flagged = [(a, r) for rows in answers for a, r in rows if r.flag]

        def finish() -> None:
            live.explain([r for _, r in flagged])
            for a, r in flagged:
                a["reasons"] = r.reasons

        out = iter([[a for a, _ in rows] for rows in answers])
        outcomes = [refused[i] if i in refused else next(out) for i in range(len(requests))]
        return outcomes, (finish if flagged else _nothing)

    def _score_shared(self, payments: list[dict[str, Any]], with_features: bool) -> list[dict[str, Any]]:
        """One request with the Redis store (under the lock): this process catches up with
        the stream, the payments go in (the stream's script refuses them if another
        process logged a later one), and are scored as the stream orders them."""
        self._order(payments, self.live.state.last_key)
        events = [{"kind": "payment", "payment": _stored(p)} for p in payments]
        self._catch_up()
        keys = [order_key(p["timestamp_ns"], p["transaction_id"]) for p in payments]
        ids = self.store.append_payments(events, keys)
        results = self._catch_up(own=set(ids))
        self._count(results)
        rows = self._answers(payments, results, with_features, self.version_text, self.store.count)
        return [a for a, _ in rows]

    def _count(self, results: list[Any]) -> None:
        for r in results:
            self.metrics.observe(r.seconds)
            self.metrics.scored += 1
            self.metrics.flagged += bool(r.flag)

    def _order(self, payments: list[dict[str, Any]], last: tuple[int, Any] | None) -> tuple[int, Any] | None:
        """Stamp the payments without a time (this service's clock, after ``last``) and check
        that they come after ``last`` and each other; returns the new latest key."""
        from okml.features.online import LateEvent

        latest = last[0] if last else 0
        stamped = []
        for p in payments:  # no timestamp: it happens now, by this service's clock
            t = max(time.time_ns(), latest + 1) if p.get("stamp") else p["timestamp_ns"]
            stamped.append(t)
            latest = max(latest, t)
        keys = [(t, p["transaction_id"]) for t, p in zip(stamped, payments, strict=True)]
        for i, key in enumerate(keys):
            prev = last if i == 0 else keys[i - 1]
            if prev is not None and key <= prev:
                where = f"payments[{i}]" if len(keys) > 1 else "payment"
                raise LateEvent(
                    f"{where} {key[1]} is not after the latest payment ({prev[1]}): "
                    "payments must come in (timestamp, transaction_id) order"
                )
        for t, p in zip(stamped, payments, strict=True):
            p["timestamp_ns"] = t
        return keys[-1] if keys else last

    @staticmethod
    def _answers(
        payments: list[dict[str, Any]],
        results: list[Any],
        with_features: bool,
        version: str,
        state_version: int,
    ) -> list[tuple[dict[str, Any], Any]]:
        """The answers of one request, each with its result (:class:`okml.live.Scored`)."""
        out = [
            {
                **r.as_dict(),
                "timestamp": _iso(p["timestamp_ns"]),
                "model": version,
                "state_version": state_version,
            }
            for r, p in zip(results, payments, strict=True)
        ]
        if with_features:
            for o, r in zip(out, results, strict=True):
                o["features"] = {k: (None if math.isnan(v) else v) for k, v in r.features.items()}
        return list(zip(out, results, strict=True))

    def labels(self, labels: list[dict[str, Any]]) -> int:
        with self.lock:
            events = [
                {"kind": "label", "transaction_id": lab["transaction_id"], "is_fraud": lab["is_fraud"],
                 "source": lab["source"], "time": lab["time_ns"]}
                for lab in labels
            ]  # fmt: skip
            self.store.append(events)
            if self.shared:
                self._catch_up()
            else:
                for e in events:
                    self.live.label(e["transaction_id"], e["is_fraud"], e["time"])
                self._maybe_snapshot(len(events))
            self.metrics.labels += len(events)
            return self.store.count

    def _catch_up(self, own: set[str] | None = None) -> list[Any]:
        """Redis store: apply the stream's entries after the last applied one; this
        process's own payments (``own``) are scored on the way. Returns their results."""
        results, applied = [], 0
        for entry, e in self.store.since():
            if own is not None and entry in own:  # this process's payment: scored
                results.extend(self.live.score([e["payment"]]))
            else:
                self._apply(e)
            self.store.applied = entry
            self.store.count += 1
            applied += 1
        self._maybe_snapshot(applied)  # once: a snapshot per entry would be a full pickle each
        return results

    def _maybe_snapshot(self, n: int) -> None:
        self._since_snapshot += n
        if self._since_snapshot >= self.params.serve.snapshot_every:
            self.store.snapshot(self.live.state)
            self._since_snapshot = 0

    def snapshot(self) -> Path:
        with self.lock:
            self._since_snapshot = 0
            return self.store.snapshot(self.live.state)

    # -- models
    def swap(self, version: str | None, model: Any) -> None:
        """Serve ``model`` from the next request on (the feature state carries over when
        its feature parameters are the same; otherwise the swap is refused)."""
        from okml.live import LiveScorer
        from okml.score import _model

        new_params = _model(model).feature_params
        if new_params != self.live.feature_params:
            log.error(
                "model %s uses other feature parameters than the served one: not swapped "
                "(restart okml serve with --warm-from to build its state)",
                version,
            )
            return
        with self.lock:
            self.live = LiveScorer(model, self.params, self.live.state)
            old, self.version = self.version, version
            self.metrics.swaps += 1
        log.info("model swapped: %s -> %s", old, version)

    def watch(self) -> None:
        """Poll the registry alias every ``serve.poll_seconds`` in a thread; swap on a move."""
        from okml import tracking

        if not tracking.is_registry_uri(self.uri) or "@" not in self.uri:
            return

        def loop() -> None:
            while not self._stop.wait(self.params.serve.poll_seconds):
                try:
                    version = tracking.registry_version(self.uri)
                    if version and version != self.version:
                        self.swap(version, tracking.load_model(f"models:/{version}", self.params.mlflow))
                except Exception as e:  # the service keeps serving the model it has
                    log.warning("registry check failed: %s", e)

        self._watcher = threading.Thread(target=loop, name="okml-registry-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        self.store.close()


def _nothing() -> None:
    return None


def _iso(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
        .replace(microsecond=(ns % 1_000_000_000) // 1000)
        .isoformat()
    )


def _stored(p: dict[str, Any]) -> dict[str, Any]:
    """A payment as the log and the state keep it (times as int ns)."""
    out = {k: v for k, v in p.items() if k not in ("timestamp_ns", "created_ns", "stamp")}
    out["timestamp"] = p["timestamp_ns"]
    if "created_ns" in p:
        out["account_created_at"] = p["created_ns"]
    return out


# ----------------------------------------------------------------------------- checks
def check_payment(raw: Any, params: Params, where: str = "payment") -> dict[str, Any]:
    """One payment as JSON gives it, checked by the canonical schema; :class:`DataError`
    naming the field otherwise."""
    from okml.features.online import to_ns
    from okml.live import check_payment_fields

    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object with the payment's fields")
    stamp = raw.get("timestamp") is None  # the service stamps it with its clock
    try:
        rec = check_payment_fields({**raw, "timestamp": time.time_ns()} if stamp else raw, params)
    except DataError as e:
        raise DataError(f"{where}: {e}") from None
    rec["timestamp_ns"] = None if stamp else to_ns(rec["timestamp"])
    rec["stamp"] = stamp
    if "account_created_at" in rec:
        rec["created_ns"] = to_ns(rec["account_created_at"])
    rec.pop("timestamp", None)
    rec.pop("account_created_at", None)
    return rec


def check_label(raw: Any, where: str = "label") -> dict[str, Any]:
    from okml.features.online import to_ns

    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object with transaction_id, is_fraud, source, time")
    for key in ("transaction_id", "is_fraud", "source", "time"):
        if key not in raw or raw[key] is None:
            raise DataError(f"{where}: missing field {key!r}", column=key)
    extra = sorted(set(raw) - {"transaction_id", "is_fraud", "source", "time"})
    if extra:
        raise DataError(f"{where}: unknown field {extra[0]!r}", column=extra[0])
    if isinstance(raw["is_fraud"], bool) or raw["is_fraud"] not in (0, 1):
        raise DataError(f"{where}: is_fraud must be 0 or 1, got {raw['is_fraud']!r}", column="is_fraud")
    if raw["source"] not in LABEL_SOURCES:
        raise DataError(
            f"{where}: source must be one of {', '.join(LABEL_SOURCES)}, got {raw['source']!r}",
            column="source",
        )
    try:
        at = to_ns(raw["time"])
    except (ValueError, TypeError):
        at = None
    if at is None:
        raise DataError(f"{where}: time {raw['time']!r} is not a timestamp", column="time")
    return {"transaction_id": raw["transaction_id"], "is_fraud": int(raw["is_fraud"]),
            "source": raw["source"], "time_ns": at}  # fmt: skip


# -------------------------------------------------------------------------------- app
def create_app(service: Service) -> Any:
    """The FastAPI application of ``service``."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse

    from okml.features.online import LateEvent

    params = service.params
    token = params.serve.token or os.environ.get("OKML_SERVE_TOKEN") or None
    commit = _GroupCommit(service)
    app = FastAPI(
        title="okml scoring service",
        description="Scores OKPay payments as they arrive with the features the model was trained on.",
        version="1",
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body(request: Request) -> Any:
        data = b""
        limit = params.serve.max_body_bytes
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise _HTTPError(413, f"request body over {limit:,} bytes")
        try:
            return json.loads(data)
        except ValueError as e:
            raise _HTTPError(422, f"body is not JSON: {e}") from None

    def many(raw: Any, key: str) -> list[Any]:
        items = raw[key] if isinstance(raw, dict) and key in raw else [raw]
        if not isinstance(items, list) or not items:
            raise _HTTPError(422, f"{key}: expected a non-empty list")
        if len(items) > params.serve.max_batch:
            raise _HTTPError(413, f"{key}: at most {params.serve.max_batch} per request, got {len(items)}")
        return items

    @app.post("/v1/score", summary="Score one payment or a batch ({'payments': [...]}) in time order")
    async def score(request: Request) -> Any:
        try:
            raw = await body(request)
            items = many(raw, "payments")
            payments = [
                check_payment(p, params, f"payments[{i}]" if len(items) > 1 else "payment")
                for i, p in enumerate(items)
            ]
        except _HTTPError as e:
            return error(e.status, e.message)
        except DataError as e:
            return error(422, str(e))
        try:
            results = await commit.score(payments, request.query_params.get("features") in _YES)
        except LateEvent as e:
            return error(409, str(e))
        # a JSONResponse as is: FastAPI's encoder would walk the result again (slow per request)
        one = not (isinstance(raw, dict) and "payments" in raw)
        return JSONResponse(results[0] if one else {"results": results})

    @app.post("/v1/labels", summary="Label events: transaction_id, is_fraud, source, time")
    async def labels(request: Request) -> Any:
        try:
            raw = await body(request)
            items = many(raw, "labels")
            checked = [
                check_label(x, f"labels[{i}]" if len(items) > 1 else "label") for i, x in enumerate(items)
            ]
        except _HTTPError as e:
            return error(e.status, e.message)
        except DataError as e:
            return error(422, str(e))
        version = await commit.run(service.labels, checked)
        return JSONResponse({"accepted": len(checked), "state_version": version})

    @app.get("/healthz", summary="Liveness: the model and the state")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "model": service.version_text, "state_version": service.store.count}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def metrics() -> str:
        return service.metrics.text(service.version_text, service.store.count)

    # the two hot paths skip FastAPI's routing and middleware stack (about a third of a
    # request's time in the event loop); /docs still describes them from the routes above
    direct = {"/v1/score": score, "/v1/labels": labels}
    return _Guard(app, service, token, params.serve.max_body_bytes, direct)


class _GroupCommit:
    """Group commit of score requests: the requests that arrive while a group is being
    logged and scored wait, then go together as the next group (:meth:`Service.score_group`:
    one fsync, one booster call). The work runs on one thread of its own, so that the event
    loop reads and answers other requests meanwhile (xgboost and fsync release the GIL);
    label requests take the same thread, so every change of the state is in one queue.

    A request is answered only after its group's fsync, as one by one; one client alone
    sees groups of one."""

    def __init__(self, service: Service) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.service = service
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="okml-score")
        self.explainer = ThreadPoolExecutor(1, thread_name_prefix="okml-explain")
        self.pending: list[tuple[list[dict[str, Any]], bool, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps weak refs

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the scoring thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def score(self, payments: list[dict[str, Any]], with_features: bool) -> list[dict[str, Any]]:
        """The results of one request (:meth:`Service.score`), scored in the next group."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self.pending.append((payments, with_features, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        out = await done
        if isinstance(out, Exception):
            raise out
        return out

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            group, self.pending = self.pending, []
            try:
                outcomes, finish = await self.run(self.service.score_group, [(p, f) for p, f, _ in group])
            except Exception as e:  # noqa: BLE001 - every request of the group gets it
                outcomes, finish = [e] * len(group), _nothing
            waiting = [done for _, _, done in group]
            if finish is _nothing:
                _resolve(waiting, outcomes)
            else:  # the reasons beside the next group, on a thread of their own
                explained = loop.run_in_executor(self.explainer, finish)
                explained.add_done_callback(functools.partial(_resolve, waiting, outcomes))


def _resolve(waiting: list[asyncio.Future[Any]], outcomes: list[Any], explained: Any = None) -> None:
    failed = explained.exception() if explained is not None else None
    for done, out in zip(waiting, outcomes, strict=True):
        if not done.done():
            done.set_result(failed if failed is not None and not isinstance(out, Exception) else out)


class _Guard:
    """Plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs about a millisecond a
    request): the bearer token of ``/v1/`` paths (constant-time comparison), the body size
    limit from ``Content-Length`` (the handlers also count what arrives), request metrics."""

    def __init__(
        self, app: Any, service: Service, token: str | None, limit: int, direct: dict[str, Any] | None = None
    ) -> None:
        self.app, self.service, self.limit = app, service, limit
        self.token = token.encode() if token else None
        self.direct = direct or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        path = scope["path"]
        status = [500]

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        headers = dict(scope.get("headers") or [])
        try:
            if self.token is not None and path.startswith("/v1/"):
                given = headers.get(b"authorization", b"")
                if not (given.startswith(b"Bearer ") and hmac.compare_digest(given[7:], self.token)):
                    await JSONResponse({"error": "missing or wrong bearer token"}, 401)(scope, receive, sent)
                    return
            size = headers.get(b"content-length", b"")
            if size.isdigit() and int(size) > self.limit:
                message = f"request body over {self.limit:,} bytes"
                if int(size) <= _DRAIN_BYTES:  # read and drop it: a client still sending would
                    await _drain_body(receive)  # see a broken pipe instead of this answer
                await JSONResponse({"error": message}, 413)(scope, receive, sent)
                return
            handler = self.direct.get(path) if scope["method"] == "POST" else None
            if handler is not None:
                response = await handler(Request(scope, receive))
                await response(scope, receive, sent)
            else:
                await self.app(scope, receive, sent)
        finally:
            self.service.metrics.request(path if path in _PATHS else "other", status[0])


#: An oversized body up to this size is read and dropped before the 413 answer.
_DRAIN_BYTES = 64 * 2**20


async def _drain_body(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


_YES = ("1", "true", "yes")
_PATHS = {"/v1/score", "/v1/labels", "/healthz", "/metrics", "/docs", "/openapi.json"}


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# -------------------------------------------------------------------------------- cli
def run_history(params: Params, uri: str, version: str | None) -> tuple[str, Any]:
    """The data the model at ``uri`` (registry ``version``) was trained on, as its run
    recorded it: ``(path, transactions)``, checked against the run's data fingerprint.

    Raises :class:`~okml.errors.OkmlError` when the model has no run, the run recorded no
    data, or the data changed since (another world at the same path)."""
    from okml import tracking
    from okml.config import load_params
    from okml.data import load

    name, _, number = (version or "").rpartition("/")
    run_id = tracking.version_run_id(params.mlflow, number) if number else tracking.model_run_id(uri)
    if not run_id:
        raise OkmlError(f"{uri} was not logged by an MLflow run: give the history with --warm-from PATH")
    with tempfile.TemporaryDirectory(prefix="okml-run-") as tmp:
        got = tracking.download_run_artifact(run_id, "params.yaml", tmp)
        if got is None:
            raise OkmlError(
                f"run {run_id} of {uri} recorded no params.yaml: give the history with --warm-from PATH"
            )
        run_params = load_params(got)
    path = str(resolve(run_params.data.path))
    if not Path(path).exists():
        raise OkmlError(f"run {run_id} trained on {path}, which is gone: give --warm-from PATH")
    tx = load(path, preset=run_params.data.preset, params=run_params.data)
    want = tracking.run_tag(run_id, "data.sha256")
    have = tracking.data_fingerprint(tx)["data.sha256"]
    if want and want != have:
        raise OkmlError(
            f"{path} changed since run {run_id} trained on it (sha256 {have[:12]}, the run's "
            f"{want[:12]}): give the history with --warm-from PATH"
        )
    return path, tx


def warm_start(service: Service, path: str, params: Params, history: Any = None) -> int:
    """Take the history at ``path`` (or ``history``, already loaded from it) into an empty
    state (in time order)."""
    from okml.data import load

    if service.store.count or (service.shared and not service.store.empty()):
        where = f"the Redis stream {service.store.stream}" if service.shared else str(service.store.folder)
        raise OkmlError(
            f"the state in {where} already holds events; --warm-from starts a new state: remove it first"
        )
    if history is None:
        history = load(path, preset=params.data.preset, params=params.data)
    started = time.perf_counter()
    if service.shared:
        # the history goes into the stream, the one order every process replays
        with service.lock:
            _push_history(service, history)
            service._catch_up()
        log.info("warm start: %d payments in %.1f s", len(history), time.perf_counter() - started)
        return len(history)
    n = service.live.warm(history)
    # the warm state is the snapshot every restart starts from
    service.store.count = 0
    service.snapshot()
    log.info("warm start: %d payments in %.1f s", n, time.perf_counter() - started)
    return n


def _push_history(service: Service, history: Any, batch: int = 10_000) -> None:
    """Labels (they wait for their time), then the payments in time order, into the stream."""
    from okml.features.online import to_ns

    if "is_fraud" in history and "label_time" in history:
        frauds = history[(history["is_fraud"] == 1) & history["label_time"].notna()]
        labels = [
            {"kind": "label", "transaction_id": _plain(tx), "is_fraud": 1, "source": "history",
             "time": to_ns(at)}
            for tx, at in zip(frauds["transaction_id"], frauds["label_time"], strict=True)
        ]  # fmt: skip
        for i in range(0, len(labels), batch):
            service.store.append(labels[i : i + batch])
    ordered = history.sort_values(["timestamp", "transaction_id"], kind="stable")
    cols = [c for c in ("transaction_id", "timestamp", "customer_id", "merchant_id", "amount",
                        "device_id", "region", "account_created_at") if c in ordered]  # fmt: skip
    rows = ordered[cols].to_dict("records")
    for i in range(0, len(rows), batch):
        part = [{k: _plain(v) for k, v in r.items()} for r in rows[i : i + batch]]
        for r in part:
            r["timestamp"] = to_ns(r["timestamp"])
            if "account_created_at" in r:
                r["account_created_at"] = to_ns(r["account_created_at"])
        events = [{"kind": "payment", "payment": r} for r in part]
        service.store.append_payments(events, [order_key(r["timestamp"], r["transaction_id"]) for r in part])


def _plain(v: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python ones, missing as None, times kept."""
    import numpy as np
    import pandas as pd

    if v is None or (not isinstance(v, (str, pd.Timestamp)) and pd.isna(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def serve_cli(
    params: Params,
    model: str | None,
    warm_from: str | None,
    port: int | None,
    host: str | None,
    warm_from_run: bool = False,
) -> int:
    import uvicorn

    from okml.jobs.score import load_scoring_model

    uri, version, loaded = load_scoring_model(params, model or params.serve.model)
    if warm_from and warm_from_run:
        raise OkmlError("--warm-from and --warm-from-run: give one")
    history = None
    if warm_from_run:
        warm_from, history = run_history(params, uri, version)
        print(f"warm start from the data {version or uri} was trained on: {warm_from}")
    service = Service(params, uri, (version, loaded))
    if warm_from:
        started = time.perf_counter()
        n = warm_start(service, warm_from, params, history)
        print(f"warm start: {n:,} payments from {warm_from} in {time.perf_counter() - started:.1f} s")
    # the state is millions of long-lived objects: keep the garbage collector from walking
    # them on every full collection (pauses of a second in the middle of requests)
    gc.collect()
    gc.freeze()
    service.watch()
    bind = host or params.serve.host
    where = port if port is not None else params.serve.port
    print(f"serving {service.version_text} on http://{bind}:{where} (docs: /docs); Ctrl-C stops")
    try:
        uvicorn.run(create_app(service), host=bind, port=where, log_level="warning", access_log=False)
    finally:
        service.close()
    return 0
