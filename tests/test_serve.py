"""Real-time scoring: the live scorer against the batch model over all history, and the
service end to end over real HTTP (start, score, labels, bad input, kill -9 and restart)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from okml.config import FeatureParams, ModelParams, Params, SimulateParams
from okml.features import build_features

DAY = pd.Timestamp("2026-02-05", tz="UTC")  # scored day; data from 2026-01-01 to 02-09
FIELDS = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "device_id", "region",
          "account_created_at"]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    """A simulated month, a tiny model trained on its first two weeks, saved as an MLflow
    model folder; the day to score and the history before it."""
    import mlflow.pyfunc

    from okml.models import build_estimator, final_booster
    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import FraudModel, write_model_files
    from okml.simulate import simulate

    root = tmp_path_factory.mktemp("serve")
    tx = simulate(SimulateParams(n_customers=150, n_merchants=60, n_days=40, seed=5))
    fp = FeatureParams()
    feats = build_features(tx, fp)
    train = (tx["timestamp"] < pd.Timestamp("2026-01-15", tz="UTC")).to_numpy()
    est = build_estimator(ModelParams(n_estimators=15, max_depth=3, n_jobs=1))
    est.fit(feats[train], tx["is_fraud"].to_numpy()[train])
    booster = final_booster(est)
    columns = list(feats.columns)
    scorer = XGBoostScorer(booster, columns)
    in_day = ((tx["timestamp"] >= DAY) & (tx["timestamp"] < DAY + pd.Timedelta(days=1))).to_numpy()
    threshold = float(np.quantile(scorer.predict_proba(feats[in_day]), 0.9))
    arts = write_model_files(scorer, fp, root / "files", extra={"threshold": threshold, "k": 10})
    mlflow.pyfunc.save_model(
        str(root / "model"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
    )
    history = tx[tx["timestamp"] < DAY]
    history.to_parquet(root / "history.parquet", index=False)
    return {"tx": tx, "feats": feats, "scorer": scorer, "columns": columns, "root": root,
            "model": root / "model", "day": tx[in_day], "history": history,
            "threshold": threshold}  # fmt: skip


def _payment(row: pd.Series) -> dict[str, Any]:
    out = {}
    for c in FIELDS:
        v = row[c]
        out[c] = None if pd.isna(v) else (v.isoformat() if isinstance(v, pd.Timestamp) else v)
    out["amount"] = float(out["amount"])
    out["transaction_id"] = int(out["transaction_id"])
    return out


def _live(world: dict[str, Any], params: Params) -> Any:
    import mlflow.pyfunc

    from okml.live import LiveScorer

    return LiveScorer(mlflow.pyfunc.load_model(str(world["model"])), params)


def test_a_rings_first_model_is_served_at_its_score_threshold(world, caplog) -> None:
    """okml serve has no entity graph: a model whose threshold is of the queue order (rings
    first) is served at the score threshold of the same budget, and says so."""
    from types import SimpleNamespace

    from okml.live import LiveScorer

    meta = {"threshold": 1.2, "rings_first": True, "score_threshold": world["threshold"], "k": 10}
    model = SimpleNamespace(
        booster=world["scorer"].booster, feature_params=FeatureParams(), columns=world["columns"], meta=meta
    )
    with caplog.at_level("WARNING", logger="okml.live"):
        live = LiveScorer(model, Params())
    assert live.threshold == world["threshold"]
    assert "flags by score alone" in caplog.text and "okml score ranks rings first" in caplog.text


def test_live_scores_equal_the_batch_model_over_all_history(world) -> None:
    """Warm from the history, then the day payment by payment (labels queued at their
    times): every feature and every score as the batch engine and the model give them over
    the whole month."""
    live = _live(world, Params())
    live.warm(world["history"])
    day = world["day"]
    frauds = world["tx"][(world["tx"]["is_fraud"] == 1) & (world["tx"]["timestamp"] >= DAY)]
    for tx_id, at in zip(frauds["transaction_id"], frauds["label_time"], strict=True):
        if pd.notna(at):
            live.label(tx_id, 1, at)
    got = live.score(_payment(r) for _, r in day.iterrows())
    want = world["feats"].loc[day["transaction_id"]]
    feats = pd.DataFrame([g.features for g in got], index=want.index)[world["columns"]]
    np.testing.assert_allclose(feats.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9)
    scores = np.array([g.score for g in got])
    np.testing.assert_allclose(scores, world["scorer"].predict_proba(want), rtol=0, atol=1e-7)
    flagged = [g for g in got if g.flag]
    assert flagged and all(g.reasons for g in flagged)
    assert all(g.flag == (g.score >= world["threshold"]) for g in got)


# ------------------------------------------------------------------------ the service
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, path: str, body: Any = None, raw: bytes | None = None, token: str | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET"
    )
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return r.status, (
                json.loads(text) if r.headers.get_content_type() == "application/json" else text
            )
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def _nan(features: dict[str, Any]) -> dict[str, float]:
    return {k: float("nan") if v is None else v for k, v in features.items()}


class Server:
    def __init__(
        self, world: dict[str, Any], state: Path, warm: bool, extra: list[str] = (), serve: dict | None = None
    ) -> None:
        self.port = _free_port()
        params = state.parent / f"params-{state.name}.yaml"
        settings = {"state_dir": str(state), "snapshot_every": 7, **(serve or {})}
        params.write_text(yaml.safe_dump({"serve": settings}))
        okml = str(Path(sys.executable).parent / "okml")
        cmd = [okml, "serve", "--params", str(params), "--model", str(world["model"]),
               "--port", str(self.port), *extra]  # fmt: skip
        if warm:
            cmd += ["--warm-from", str(world["root"] / "history.parquet")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"okml serve exited: {self.proc.stdout.read()}")
            try:
                if _call(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("okml serve did not answer in 120 s")

    def stop(self, sig: int = signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=30)
        return out


def test_service_scores_takes_labels_refuses_bad_input_and_survives_kill_9(world, tmp_path) -> None:
    day = world["day"].reset_index(drop=True)
    pays = [_payment(r) for _, r in day.iterrows()]
    live = _live(world, Params())  # the uninterrupted run, in process
    live.warm(world["history"])
    server = Server(world, tmp_path / "state", warm=True)
    try:
        port = server.port
        status, body = _call(port, "/v1/score", pays[0])
        assert status == 200, body
        want = live.score([pays[0]])[0]
        assert body["score"] == pytest.approx(want.score, abs=1e-9)
        assert (
            body["transaction_id"] == pays[0]["transaction_id"]
            and "model" in body
            and body["state_version"] > 0
        )
        status, body = _call(port, "/v1/score", {"payments": pays[1:6]})
        assert status == 200 and len(body["results"]) == 5
        for got, w in zip(body["results"], live.score(pays[1:6]), strict=True):
            assert got["score"] == pytest.approx(w.score, abs=1e-9)
            assert got["flag"] == w.flag and got["reasons"] == w.reasons
        # a label on a payment of a merchant, then that merchant's next payment sees it
        merchant = pays[6]["merchant_id"]
        later = next(i for i in range(7, len(pays)) if pays[i]["merchant_id"] == merchant)
        label = {"transaction_id": pays[3]["transaction_id"], "is_fraud": 1, "source": "review",
                 "time": pays[6]["timestamp"]}  # fmt: skip
        status, body = _call(port, "/v1/score", pays[6])
        live.score([pays[6]])
        assert _call(port, "/v1/labels", label)[0] == 200
        live.label(label["transaction_id"], 1, label["time"])
        status, body = _call(port, "/v1/score?features=true", {"payments": pays[7 : later + 1]})
        assert status == 200, body
        mine = live.score(pays[7 : later + 1])
        assert [r["score"] for r in body["results"]] == pytest.approx([m.score for m in mine], abs=1e-9)
        assert _nan(body["results"][-1]["features"]) == pytest.approx(mine[-1].features, nan_ok=True)
        # bad input: one line naming the field, nothing taken into the state
        before = _call(port, "/healthz")[1]["state_version"]
        status, body = _call(port, "/v1/score", {**pays[later + 1], "amount": "lots"})
        assert status == 422 and "amount" in body["error"] and "\n" not in body["error"]
        status, body = _call(
            port, "/v1/score", {k: v for k, v in pays[later + 1].items() if k != "customer_id"}
        )
        assert status == 422 and "customer_id" in body["error"]
        status, body = _call(port, "/v1/score", pays[0])
        assert status == 409 and "not after the latest" in body["error"]
        status, body = _call(port, "/v1/labels", {**label, "source": "rumour"})
        assert status == 422 and "source" in body["error"]
        status, body = _call(port, "/v1/score", raw=b"x" * 2_000_000)
        assert status == 413
        status, body = _call(port, "/v1/score", raw=b"{not json")
        assert status == 422
        assert _call(port, "/healthz")[1]["state_version"] == before
        status, text = _call(port, "/metrics")
        assert status == 200 and "okml_payments_scored_total" in text and "okml_score_seconds_bucket" in text
        # kill -9 between requests; the restart (no warm start) continues from snapshot + log
        server.stop(signal.SIGKILL)
        server = Server(world, tmp_path / "state", warm=False)
        port = server.port
        assert _call(port, "/healthz")[1]["state_version"] == before
        rest = pays[later + 1 : later + 20]
        status, body = _call(port, "/v1/score?features=true", {"payments": rest})
        assert status == 200
        mine = live.score(rest)
        for got, m in zip(body["results"], mine, strict=True):
            assert got["score"] == pytest.approx(m.score, abs=1e-9)
            assert _nan(got["features"]) == pytest.approx(m.features, nan_ok=True)
        # 6 clients at once, payments stamped on arrival: every one answered once, in one
        # order (the stamps), logged in groups
        import threading

        before = _call(port, "/healthz")[1]["state_version"]
        stamped = [{k: v for k, v in p.items() if k != "timestamp"} for p in pays[later + 20 : later + 50]]
        answers: list[Any] = []

        def client(mine: list[dict[str, Any]]) -> None:
            answers.extend(_call(port, "/v1/score", p) for p in mine)

        threads = [threading.Thread(target=client, args=(stamped[i::6],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [a[0] for a in answers] == [200] * len(stamped)
        assert len({a[1]["timestamp"] for a in answers}) == len(stamped)
        assert _call(port, "/healthz")[1]["state_version"] == before + len(stamped)
        text = _call(port, "/metrics")[1]
        commits = int(
            next(x for x in text.splitlines() if x.startswith("okml_score_commits_total ")).split()[1]
        )
        assert 0 < commits <= 2 + len(stamped)  # the two requests since the restart, then these
    finally:
        server.stop()


def test_service_swaps_model_when_the_champion_alias_moves_and_checks_the_token(world, tmp_path) -> None:
    """Two registered versions; the service serves @champion, the alias moves while a client
    keeps scoring: no request fails, later answers name the new version. With a token,
    requests without it get 401."""
    from okml import tracking
    from okml.config import MlflowParams
    from okml.models import build_estimator, final_booster
    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import log_model, write_model_files

    ml = MlflowParams(
        tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", artifact_root=str(tmp_path / "art")
    )
    train = (world["tx"]["timestamp"] < pd.Timestamp("2026-01-15", tz="UTC")).to_numpy()
    versions = []
    for depth in (3, 2):
        est = build_estimator(ModelParams(n_estimators=10, max_depth=depth, n_jobs=1))
        est.fit(world["feats"][train], world["tx"]["is_fraud"].to_numpy()[train])
        scorer = XGBoostScorer(final_booster(est), world["columns"])
        arts = write_model_files(scorer, FeatureParams(), tmp_path / f"files{depth}", {"threshold": 0.5})
        with tracking.run(ml, f"depth {depth}") as run:
            run_id = run.info.run_id
        if depth == 3:  # this run records its data, as okml train does: --warm-from-run
            history = world["root"] / "history.parquet"
            (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"path": str(history)}}))
            tracking.log_artifact(tmp_path / "params.yaml", None, run_id)
            tracking.set_tags(tracking.data_fingerprint(world["history"].reset_index(drop=True)), run_id)
            first_run = run_id
        uri = log_model(run_id, arts, [], ["xgboost"])
        versions.append(tracking.register(uri, ml))
    tracking.set_alias(ml, "champion", versions[0])

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "mlflow": {"tracking_uri": ml.tracking_uri, "artifact_root": ml.artifact_root},
        "serve": {"state_dir": str(tmp_path / "state"), "poll_seconds": 0.3, "token": "s3cret"},
    }))  # fmt: skip
    port = _free_port()
    okml = str(Path(sys.executable).parent / "okml")
    proc = subprocess.Popen(
        [okml, "serve", "--params", str(params), "--port", str(port), "--warm-from-run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if _call(port, "/healthz")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "okml serve did not start"
                time.sleep(0.2)
        pays = [_payment(r) for _, r in world["day"].iterrows()]
        status, body = _call(port, "/v1/score", pays[0])
        assert status == 401 and "token" in body["error"]
        status, body = _call(port, "/v1/score", pays[0], token="wrong")
        assert status == 401
        seen = []
        for i, pay in enumerate(pays[:400]):
            status, body = _call(port, "/v1/score", pay, token="s3cret")
            assert status == 200, body
            seen.append(body["model"])
            if i == 20:
                tracking.configure(ml)
                tracking.set_alias(ml, "champion", versions[1])
            if i > 20 and body["model"].endswith(f"/{versions[1]}"):
                break
            time.sleep(0.01)
        assert seen[0] == f"okpay-fraud/{versions[0]}" and seen[-1] == f"okpay-fraud/{versions[1]}"
        assert _call(port, "/healthz")[1]["model"] == f"okpay-fraud/{versions[1]}"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "model swapped" in out and "s3cret" not in out
    assert f"warm start from the data okpay-fraud/{versions[0]} was trained on" in out
    # no data recorded; data changed since the run
    from okml.errors import OkmlError
    from okml.jobs.serve import run_history

    p = Params(mlflow=ml)
    tracking.configure(ml)
    with pytest.raises(OkmlError, match="recorded no params.yaml"):
        run_history(p, f"models:/okpay-fraud/{versions[1]}", f"okpay-fraud/{versions[1]}")
    tracking.set_tags({"data.sha256": "0" * 64}, first_run)
    with pytest.raises(OkmlError, match="changed since run"):
        run_history(p, f"models:/okpay-fraud/{versions[0]}", f"okpay-fraud/{versions[0]}")


def _redis_server(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A real redis-server on 127.0.0.1 (installed from Debian if missing and possible),
    every write fsynced; skips the test where none can be had."""
    import shutil

    exe = shutil.which("redis-server")
    if exe is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "install", "-y", "redis-server"], env=env, timeout=600,
                           capture_output=True, check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            pass
        exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not available (apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
         "--appendfsync", "always", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.skip("redis-server did not start")


def _alternate(servers: tuple[Server, ...], pays: list[dict[str, Any]], live: Any) -> None:
    """Send ``pays`` to the servers in turn: each answer is the single in-process state's."""
    for i, pay in enumerate(pays):
        status, body = _call(servers[i % len(servers)].port, "/v1/score?features=true", pay)
        assert status == 200, body
        want = live.score([pay])[0]
        assert body["score"] == pytest.approx(want.score, abs=1e-9)
        assert _nan(body["features"]) == pytest.approx(want.features, nan_ok=True)


def test_two_services_share_one_redis_state_and_survive_kill_9(world, tmp_path) -> None:
    """serve.store: redis: two processes, payments sent to either in turn, each answer the
    uninterrupted single-state run's; a label sent to one is seen by the other; one is
    killed with SIGKILL and restarted from its replica and the stream."""
    redis_proc, rport = _redis_server(tmp_path)
    shared = {"store": "redis", "redis_url": f"redis://127.0.0.1:{rport}/0"}
    pays = [_payment(r) for _, r in world["day"].reset_index(drop=True).iterrows()]
    live = _live(world, Params())
    live.warm(world["history"])
    a = Server(world, tmp_path / "a", warm=True, serve=shared)
    b = Server(world, tmp_path / "b", warm=False, serve=shared)
    try:
        _alternate((a, b), pays[:30], live)
        # the order holds across processes: an earlier payment sent to the other one is refused
        assert _call(a.port, "/v1/score", pays[5])[0] == 409
        label = {"transaction_id": pays[2]["transaction_id"], "is_fraud": 1, "source": "chargeback",
                 "time": pays[29]["timestamp"]}  # fmt: skip
        assert _call(b.port, "/v1/labels", label)[0] == 200
        live.label(label["transaction_id"], 1, label["time"])
        b.stop(signal.SIGKILL)
        b = Server(world, tmp_path / "b", warm=False, serve=shared)
        _alternate((a, b), pays[30:60], live)
    finally:
        for server in (a, b):
            if server.proc.poll() is None:
                server.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)


GOOD = {"transaction_id": 7, "timestamp": "2026-02-05T10:00:00Z", "customer_id": "C1",
        "merchant_id": "M1", "amount": 12.5, "device_id": "D1", "region": None,
        "account_created_at": "2025-06-01T00:00:00Z"}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [{}, {"transaction_id": "tx-7"}, {"customer_id": 42}, {"amount": 3}, {"timestamp": "2026-02-05 10:00"},
     {"timestamp": "2026-02-05 10:00+08:00"},
     {"amount": "lots"}, {"amount": -1.0}, {"amount": 0}, {"amount": float("nan")}, {"amount": 1e12},
     {"customer_id": None}, {"customer_id": "  "}, {"merchant_id": 1.5}, {"timestamp": "yesterday-ish"},
     {"transaction_id": True}, {"account_created_at": "not a date"}, {"surprise": 1}],
)  # fmt: skip
def test_the_fast_payment_check_accepts_and_refuses_what_validate_does(change) -> None:
    from okml.errors import DataError
    from okml.live import canonical_payment, check_payment_fields

    raw, params = {**GOOD, **change}, Params()
    try:
        want = canonical_payment(raw, params)
    except DataError:
        want = None
    if want is None:
        with pytest.raises(DataError):
            check_payment_fields(raw, params)
        return
    got = check_payment_fields(raw, params)
    for key, value in got.items():
        assert value == want.get(key) or (value is None and pd.isna(want.get(key))), key


def test_a_group_commit_refuses_only_its_late_request_and_replays_the_same(world, tmp_path) -> None:
    """Three requests as one group: the late one in the middle gets its LateEvent, the
    others are logged with one fsync and scored as one by one; reasons come with
    ``finish``; a service restarted on the same folder holds the same state."""
    import mlflow.pyfunc

    from okml.features.online import LateEvent
    from okml.jobs.serve import Service, check_payment, warm_start

    params = Params().model_copy(deep=True)
    params.serve.state_dir = str(tmp_path / "state")
    model = mlflow.pyfunc.load_model(str(world["model"]))
    service = Service(params, str(world["model"]), ("1", model))
    warm_start(service, str(world["root"] / "history.parquet"), params)  # and its snapshot
    live = _live(world, Params())
    live.warm(world["history"])
    day = world["day"].reset_index(drop=True)
    pays = [_payment(r) for _, r in day.iterrows()]
    scores = world["scorer"].predict_proba(world["feats"].loc[day["transaction_id"]])
    first = next(i for i in range(3, len(pays)) if scores[i] >= world["threshold"])
    a, late, b = pays[0:3], [pays[1]], pays[3 : first + 1]  # b ends with a flagged payment
    requests = [([check_payment(p, params) for p in ps], i == 2) for i, ps in enumerate((a, late, b))]
    commits = service.metrics.commits
    outcomes, finish = service.score_group(requests)
    finish()
    assert isinstance(outcomes[1], LateEvent) and service.metrics.commits == commits + 1
    want = live.score(a + b)
    got = outcomes[0] + outcomes[2]
    assert [g["score"] for g in got] == pytest.approx([w.score for w in want], abs=1e-9)
    assert [g["reasons"] for g in got] == [w.reasons for w in want]
    assert any(w.reasons for w in want)  # the threshold flags some of these
    assert "features" in outcomes[2][0] and "features" not in outcomes[0][0]
    service.close()
    again = Service(params, str(world["model"]), ("1", model))
    try:
        assert again.live.state.last_key == live.state.last_key
        nxt = again.score([check_payment(pays[first + 1], params)])
        assert nxt[0]["score"] == pytest.approx(live.score([pays[first + 1]])[0].score, abs=1e-9)
    finally:
        again.close()


def test_the_explainer_for_arrays_gives_the_reasons_of_explain(world) -> None:
    from okml.explain import RowExplainer, explain

    rows = world["feats"].loc[world["day"]["transaction_id"]].iloc[:40]
    amounts = world["day"]["amount"].iloc[:40].to_numpy()
    for language in ("en", "zh"):
        want = explain(world["scorer"], rows, world["columns"], FeatureParams(), language, 3,
                       transactions=pd.Series(amounts, index=rows.index, name="amount"))  # fmt: skip
        got = RowExplainer(world["scorer"], world["columns"], FeatureParams(), language, 3).reasons(
            rows.to_numpy(dtype=np.float64), amounts
        )
        assert [[r.as_dict() for r in row] for row in got] == [
            [r.as_dict() for r in row] for row in want.reasons
        ]  # as_dict: a NaN value is None, so equal rows compare equal
