"""Benchmark real-time scoring: the online path in process and ``okml serve`` over HTTP.

1. The default data (``okml simulate``, 180 days) and a model trained on all but its last 8
   days with the default model parameters (XGBoost, 300 trees), saved as an MLflow model
   folder with the threshold that flags the top 0.5% of the last day's payments (so that
   reasons, the costliest step, are part of the timings).
2. **Warm start**: the online feature state built from every payment before the last day
   (:meth:`okml.live.LiveScorer.warm`): seconds.
3. **In process**: each payment of the last day scored one at a time (state update,
   features, booster, reasons for the flagged ones): p50, p99 and max per payment.
4. **Over HTTP on 127.0.0.1** (``okml serve`` in its own process, started from a snapshot
   of that warm state, its events fsynced to a temporary folder): one client sending the
   next payments one at a time on one keep-alive connection, p50 and p99 per request; then
   8 concurrent clients (threads, one connection each) for throughput, against a second
   service whose state is warmed from the history shifted to end just before now: the
   clients send the last day's payments without a timestamp and the service stamps each on
   arrival, so arrival order is time order and the payments continue the history. A day
   replayed in seconds is one long burst, so about a quarter of it is flagged (and each flag
   costs its exact TreeSHAP); the same run is repeated with the threshold set to flag 0.5%
   of that traffic, the share the operating point flags on a real day.

Targets (issue 13): in-process p99 <= 2 ms, HTTP p99 <= 10 ms, >= 1,000 payments/s with 8
clients, warm start <= 30 s. Only 127.0.0.1 is contacted; every loop is bounded.

    .venv/bin/python bench/serve.py                 # about 3 minutes
    .venv/bin/python bench/serve.py --payments 2000 --http 1000 --concurrent 4000

Run it alone: it measures wall time.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

IN_PROCESS_P99_MS = 2.0
HTTP_P99_MS = 10.0
MIN_THROUGHPUT = 1000.0
MAX_WARM_S = 30.0
FIELDS = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "device_id", "region",
          "account_created_at"]  # fmt: skip


def _model(tx: pd.DataFrame, folder: Path) -> tuple[Path, float, pd.DataFrame, object]:
    """The default model trained on all but the last 8 days, saved as an MLflow folder."""
    import mlflow.pyfunc

    from okml.config import Params
    from okml.features import build_features
    from okml.models import build_estimator, final_booster
    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import FraudModel, write_model_files

    params = Params()
    feats = build_features(tx, params.features)
    end = tx["timestamp"].max().floor("D") - pd.Timedelta(days=8)
    train = (tx["timestamp"] < end).to_numpy()
    est = build_estimator(params.model).fit(feats[train], tx["is_fraud"].to_numpy()[train])
    scorer = XGBoostScorer(final_booster(est), list(feats.columns))
    # flags the top 0.5% of the last day's payments: reasons are part of the timings
    last = (tx["timestamp"] >= tx["timestamp"].max().floor("D")).to_numpy()
    threshold = float(np.quantile(scorer.predict_proba(feats[last]), 0.995))
    arts = write_model_files(
        scorer, params.features, folder / "files", extra={"threshold": threshold, "k": 10}
    )
    mlflow.pyfunc.save_model(
        str(folder / "model"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
    )
    return folder / "model", threshold, feats, scorer


def _payments(day: pd.DataFrame, stamp: bool = False) -> list[dict]:
    out = []
    for rec in day[[c for c in FIELDS if c in day]].to_dict("records"):
        pay = {}
        for k, v in rec.items():
            if pd.isna(v):
                pay[k] = None
            elif isinstance(v, pd.Timestamp):
                pay[k] = v.isoformat()
            elif isinstance(v, np.generic):
                pay[k] = v.item()
            else:
                pay[k] = v
        if stamp:
            pay.pop("timestamp")
        out.append(pay)
    return out


def _ms(seconds: list[float]) -> tuple[float, float, float]:
    a = np.asarray(seconds) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.max())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """``okml serve`` in its own process, starting from the state in ``state``."""

    def __init__(self, model: Path, state: Path) -> None:
        self.port = _free_port()
        okml = str(Path(sys.executable).parent / "okml")
        cmd = [okml, "serve", "--model", str(model), "--port", str(self.port),
               "--set", f"serve.state_dir={state}", "--set", "serve.max_batch=1000",
               "--set", "serve.snapshot_every=10000000"]  # fmt: skip
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"okml serve exited: {self.proc.stdout.read()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    self.started_s = time.perf_counter() - started
                    return
            except OSError:
                time.sleep(0.5)
        raise SystemExit("okml serve did not start in 600 s")

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=60)
        return out


def _post(conn: http.client.HTTPConnection, body: dict) -> dict:
    conn.request("POST", "/v1/score", json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read())
    if r.status != 200:
        raise SystemExit(f"HTTP {r.status}: {data}")
    return data


def _clients(port: int, payments: list[dict], n: int, what: str) -> tuple[float, list[float]]:
    """``n`` clients, one keep-alive connection each, sending ``payments`` until none are
    left: the rate and the scores. Each request is encoded before the clock starts, sent on
    a raw socket and its answer read by Content-Length: http.client would cost the clients
    0.2 ms a request, CPU the service needs on a 2-core machine."""
    requests = [_request(port, p) for p in payments]
    lock, it, errors, scores, flags = threading.Lock(), iter(requests), [], [], [0]

    def client() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        reader = sock.makefile("rb")
        while True:
            with lock:
                req = next(it, None)
            if req is None:
                sock.close()
                return
            try:
                sock.sendall(req)
                status, body = _answer(reader)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
            answer = json.loads(body)
            with lock:
                scores.append(answer["score"])
                flags[0] += bool(answer["flag"])

    threads = [threading.Thread(target=client) for _ in range(n)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    rate = len(scores) / elapsed
    print(f"HTTP, {n} clients, {what}: {len(scores):,} payments in {elapsed:.1f} s: {rate:,.0f}/s "
          f"({flags[0]:,} flagged)"
          + (f"; {len(errors)} client error(s), e.g. {errors[0]}" if errors else ""))  # fmt: skip
    return rate, scores


def _request(port: int, payment: dict) -> bytes:
    body = json.dumps(payment).encode()
    head = (f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


def _answer(reader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer from a keep-alive connection: status and body."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=5000, help="payments scored in process")
    ap.add_argument("--http", type=int, default=2000, help="payments sent by the single client")
    ap.add_argument("--concurrent", type=int, default=8000, help="payments sent by the 8 clients")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args(argv)

    import mlflow.pyfunc

    from okml.config import Params
    from okml.jobs.data import load_transactions
    from okml.live import LiveScorer

    params = Params()
    tx = load_transactions(params, progress=False)
    last_day = tx["timestamp"].max().floor("D")
    history, day = tx[tx["timestamp"] < last_day], tx[tx["timestamp"] >= last_day]
    with tempfile.TemporaryDirectory(prefix="okml-serve-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        model_path, threshold, batch, scorer = _model(tx, root)
        print(f"data: {len(tx):,} payments; model trained and saved in {time.perf_counter() - t0:.1f} s")

        live = LiveScorer(mlflow.pyfunc.load_model(str(model_path)), params)
        t0 = time.perf_counter()
        live.warm(history)
        warm_s = time.perf_counter() - t0
        print(f"warm start: {len(history):,} payments in {warm_s:.1f} s ({len(history) / warm_s:,.0f}/s)")

        pays = _payments(day)[: args.payments]
        scored = [live.score([p])[0] for p in pays]  # one at a time, as they would arrive
        p50, p99, worst = _ms([s.seconds for s in scored])
        flagged = sum(bool(s.flag) for s in scored)
        print(
            f"in process: {len(pays):,} payments, p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {worst:.1f} ms "
            f"({flagged} flagged, with reasons)"
        )
        # parity on the default data: the batch engine over all 180 days for the same rows
        ids = [p["transaction_id"] for p in pays]
        want = batch.loc[ids]
        got = pd.DataFrame([s.features for s in scored], index=want.index)[list(want.columns)]
        g, w = got.to_numpy(dtype=float), want.to_numpy(dtype=float)
        same_nan = bool((np.isnan(g) == np.isnan(w)).all())
        diff = float(np.nanmax(np.abs(g - w) / np.maximum(1.0, np.abs(w)))) if same_nan else float("inf")
        score_diff = float(np.max(np.abs(np.array([s.score for s in scored]) - scorer.predict_proba(want))))
        print(
            f"parity with the batch engine over all history: {len(ids):,} payments x {w.shape[1]} "
            f"features, NaN pattern {'equal' if same_nan else 'DIFFERENT'}, largest difference "
            f"{diff:.1e}, scores within {score_diff:.1e}"
        )

        # the service starts from this warm state (a snapshot in its folder), not a second warm-up
        from okml.jobs.serve import EventStore

        t0 = time.perf_counter()
        EventStore(root / "state").snapshot(live.state)
        print(f"snapshot of the warm state written in {time.perf_counter() - t0:.1f} s")
        # this process's own copy of the state would slow its clients (full GC walks it)
        del live, scored
        gc.collect()
        gc.freeze()
        service = Service(model_path, root / "state")
        print(f"okml serve answered {service.started_s:.1f} s after it started (loading the snapshot)")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
            http_pays = _payments(day)[args.payments : args.payments + args.http]
            times = []
            for pay in http_pays:
                t0 = time.perf_counter()
                _post(conn, pay)
                times.append(time.perf_counter() - t0)
            h50, h99, hmax = _ms(times)
            figures = f"p50 {h50:.2f} ms, p99 {h99:.2f} ms, max {hmax:.1f} ms"
            print(f"HTTP, 1 client: {len(http_pays):,} payments, {figures}")

        finally:
            service.stop()

        # 8 clients: a history shifted to end one second before now, so that payments stamped
        # on arrival (arrival order is time order) continue it as the day after would
        from okml.features.online import warm_state

        shift = pd.Timestamp.now(tz="UTC").floor("s") - tx["timestamp"].max() - pd.Timedelta(seconds=1)
        shifted = history.copy()
        for col in shifted.columns:
            if isinstance(shifted[col].dtype, pd.DatetimeTZDtype):
                shifted[col] = shifted[col] + shift
        state = warm_state(shifted, params.features, list(tx.columns), params.serve.horizon)
        EventStore(root / "state2").snapshot(state)
        del state, shifted
        gc.collect()
        shutil.copytree(root / "state2", root / "state3")  # the same start for the second run
        conc = _payments(day, stamp=True)
        conc = (conc * (args.concurrent // max(len(conc), 1) + 1))[: args.concurrent]
        for i, p in enumerate(conc):
            p["transaction_id"] = 10**9 + i  # fresh ids
        service = Service(model_path, root / "state2")
        try:
            rate, scores = _clients(service.port, conc, args.clients, "as the model flags them")
        finally:
            service.stop()
        # a replayed day in seconds is one long burst: most of it looks like fraud, and every
        # flagged payment costs its exact TreeSHAP (1.5 ms). The same run at the operating
        # point's share (0.5%): the model's threshold set to flag 0.5% of this very traffic
        import mlflow.pyfunc

        from okml.pyfunc import FraudModel, write_model_files

        burst = float(np.quantile(scores, 0.995))
        arts = write_model_files(scorer, params.features, root / "files-op", {"threshold": burst, "k": 10})
        mlflow.pyfunc.save_model(
            str(root / "model-op"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
        )
        service = Service(root / "model-op", root / "state3")
        try:
            op_rate, _ = _clients(service.port, conc, args.clients, "0.5% flagged")
        finally:
            service.stop()

    print("\ntargets:")
    for ok, text in (
        (same_nan and diff <= 1e-9, f"features equal to the batch engine (1e-9): {diff:.1e}"),
        (p99 <= IN_PROCESS_P99_MS, f"in-process p99 <= {IN_PROCESS_P99_MS} ms: {p99:.3f} ms"),
        (h99 <= HTTP_P99_MS, f"HTTP p99 <= {HTTP_P99_MS} ms: {h99:.2f} ms"),
        (
            rate >= MIN_THROUGHPUT,
            f">= {MIN_THROUGHPUT:,.0f} payments/s with {args.clients} clients: {rate:,.0f}/s",
        ),
        (
            op_rate >= MIN_THROUGHPUT,
            f"the same at the operating point's flag share (0.5%): {op_rate:,.0f}/s",
        ),
        (warm_s <= MAX_WARM_S, f"warm start <= {MAX_WARM_S:.0f} s: {warm_s:.1f} s"),
    ):
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
