"""okml.tracking against a SQLite MLflow store in tmp_path: experiment kind, metrics, version
descriptions and the retrain lock (a file beside a local store, a registry tag on a server).

Fast: no notebook, no kernel, no training.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml

from okml import tracking
from okml.cli import main
from okml.config import MlflowParams
from okml.errors import LockedError
from okml.paths import PROJECT_ROOT


@pytest.fixture
def store(tmp_path: Path) -> MlflowParams:
    """A fresh SQLite store in tmp_path, configured."""
    params = MlflowParams(
        tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
        artifact_root=str(tmp_path / "mlruns" / "artifacts"),
    )
    tracking.configure(params)
    return params


def _client(params: MlflowParams) -> mlflow.MlflowClient:
    tracking.configure(params)
    return mlflow.MlflowClient()


# ------------------------------------------------------------------------ the MLflow UI
def test_experiment_opens_on_runs(store: MlflowParams, tmp_path: Path) -> None:
    # untagged, the MLflow 3 UI opens an experiment on its GenAI overview (Traces 0)
    client = _client(store)
    exp = client.get_experiment_by_name(store.experiment)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    # an experiment made before (or by hand) gets the tag the next time okml opens it
    older = store.model_copy(update={"experiment": "older"})
    exp_id = client.create_experiment("older", artifact_location=(tmp_path / "a").as_uri())
    assert "mlflow.experimentKind" not in client.get_experiment(exp_id).tags
    assert tracking.configure(older) == exp_id
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == "custom_model_development"
    # a kind someone chose is left alone
    client.set_experiment_tag(exp_id, "mlflow.experimentKind", "genai_development")
    tracking.configure(older)
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == "genai_development"


def test_undefined_metrics_are_not_logged(store: MlflowParams) -> None:
    client = _client(store)
    exp_id = tracking.configure(store)
    run_id = client.create_run(exp_id).info.run_id
    # the threshold is NaN at the top-k operating point; AUC is NaN without both classes
    tracking.log_metrics(
        {"cp_at_k": 0.25, "threshold": math.nan, "auc": float("nan"), "x": math.inf, "recall@fpr": 0.5},
        run_id,
    )
    data = client.get_run(run_id).data
    assert data.metrics == {"cp_at_k": 0.25, "recall_at_fpr": 0.5}
    assert not [k for k in data.tags if k.startswith("metric.")]


def test_registered_version_has_a_description(store: MlflowParams, tmp_path: Path) -> None:
    client = _client(store)
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    run_id = client.create_run(tracking.configure(store)).info.run_id
    client.log_artifacts(run_id, str(model), "model")
    tags = {
        "fold": "fold 0 (train 2026-01-01..2026-01-10, test 2026-01-18..2026-01-24)",
        "data.rows": "12345",
        "data.start": "2026-01-01T00:03:00+00:00",
        "data.end": "2026-01-24T23:59:00+00:00",
        "data.sha256": "ab" * 32,
    }
    text = tracking.version_description("okml train, test window to 2026-01-24", run_id, tags, "AUC 0.900")
    assert text.splitlines() == [
        f"okml train, test window to 2026-01-24; MLflow run {run_id}.",
        "Windows: fold 0 (train 2026-01-01..2026-01-10, test 2026-01-18..2026-01-24).",
        "Data: 12,345 transactions from 2026-01-01 to 2026-01-24, sha256 abababababab.",
        "Test window: AUC 0.900.",
    ]
    assert tracking.version_description("x", "r", {}, "h") == "x; MLflow run r.\nTest window: h."
    version = tracking.register(f"runs:/{run_id}/model", store, tags={"run_id": run_id}, description=text)
    mv = client.get_model_version(store.model_name, version)
    assert mv.description == text and mv.tags == {"run_id": run_id}
    tracking.rename_run(run_id, "train 2026-01-24")
    assert client.get_run(run_id).info.run_name == "train 2026-01-24"


# ---------------------------------------------------------------------- the retrain lock
def test_lock_follows_the_tracking_store(store: MlflowParams, tmp_path: Path, monkeypatch) -> None:
    assert tracking.retrain_lock_path(store) == tmp_path / "mlruns" / "mlflow.db.retrain.lock"
    # the default store: beside mlruns/mlflow.db (computed here, not created); mlflow's
    # set_tracking_uri exports MLFLOW_TRACKING_URI, which would name the tmp store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.retrain_lock_path(MlflowParams()) == PROJECT_ROOT / "mlruns" / "mlflow.db.retrain.lock"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    assert tracking.retrain_lock_path(MlflowParams()) == tmp_path / "other.db.retrain.lock"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.retrain_lock_path(MlflowParams(tracking_uri=(tmp_path / "fs").as_uri())) == (
        tmp_path / "fs" / ".retrain.lock"
    )
    # a server, wherever it is, has no file both machines see: the lock is a registry tag
    for uri in ("http://mlflow.internal:5000", "https://u:p@mlflow.example.com", "databricks"):
        assert tracking.retrain_lock_path(MlflowParams(tracking_uri=uri)) is None


def test_file_lock_beside_the_database(store: MlflowParams, tmp_path: Path) -> None:
    path = tmp_path / "mlruns" / "mlflow.db.retrain.lock"
    with tracking.retrain_lock(store) as where:
        assert where == str(path) and path.exists()
        with pytest.raises(LockedError, match=re.escape(f"another retrain is running (lock {path})")) as e:
            with tracking.retrain_lock(store):
                pass
        assert e.value.exit_code == 3
    with tracking.retrain_lock(store):  # released on the way out
        pass
    # another store has a lock of its own
    other = store.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"})
    with tracking.retrain_lock(store), tracking.retrain_lock(other):
        pass


HOLD = """
import sys, time
from okml import tracking
from okml.config import load_params
with tracking.retrain_lock(load_params(sys.argv[1]).mlflow):
    print("held", flush=True)
    time.sleep(120)
"""


def test_second_of_two_concurrent_retrains_exits_3(tmp_path: Path, capsys) -> None:
    raw = {
        "mlflow": {
            "tracking_uri": f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
            "artifact_root": str(tmp_path / "mlruns" / "artifacts"),
        },
        "data": {"path": str(tmp_path / "absent.parquet")},
    }
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    # the first retrain: another process holding the lock of this store
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(params_file)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        rc = main(["retrain", "--params", str(params_file), "--as-of", "2026-02-01", "-q"])
        err = capsys.readouterr().err
        assert rc == 3
        assert err.count("\n") == 1 and "another retrain is running" in err
        assert str(tmp_path / "mlruns" / "mlflow.db.retrain.lock") in err
    finally:
        first.kill()
        first.wait()
    # its process gone, the lock is free: this retrain goes on (and stops at the missing data)
    rc = main(["retrain", "--params", str(params_file), "--as-of", "2026-02-01", "-q"])
    assert rc == 2 and "absent.parquet does not exist" in capsys.readouterr().err


def test_retrain_refuses_a_date_it_cannot_read(tmp_path: Path, capsys) -> None:
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"mlflow": {"tracking_uri": f"sqlite:///{tmp_path}/m.db"}}))
    assert main(["retrain", "--params", str(params_file), "--as-of", "yesterday-ish"]) == 2
    err = capsys.readouterr().err
    assert "--as-of 'yesterday-ish': not a date" in err and err.count("\n") == 1
    assert not (tmp_path / "m.db.retrain.lock").exists()  # refused before taking the lock


def _tag(params: MlflowParams) -> dict | None:
    tags = _client(params).get_registered_model(params.model_name).tags
    return json.loads(tags[tracking.LOCK_TAG]) if tracking.LOCK_TAG in tags else None


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_registry_lock(store: MlflowParams) -> None:
    """The tag lock of a tracking server, through the same registry calls on a SQLite store."""
    with tracking.registry_lock(store, settle_s=0) as where:
        assert where == f"tag okml.retrain_lock of registered model {store.model_name}"
        held = _tag(store)
        assert held is not None and held["owner"] == f"{socket.gethostname()}:{os.getpid()}"
        assert held["expires"].endswith("Z")
        # a second retrain (another token, same host and process here) is refused
        with pytest.raises(
            LockedError, match=r"another retrain is running \(lock: tag okml.retrain_lock"
        ) as e:
            with tracking.registry_lock(store, settle_s=0):
                pass
        assert f"held by {held['owner']} until {held['expires']}" in str(e.value)
        assert e.value.exit_code == 3
        assert _tag(store) == held  # the refused one left the holder's tag alone
    assert _tag(store) is None  # released

    client = _client(store)

    def planted(owner: str, expires: str, start: str | None = None) -> None:
        value = {"owner": owner, "expires": expires, "token": "theirs", "start": start}
        client.set_registered_model_tag(store.model_name, tracking.LOCK_TAG, json.dumps(value))

    # a live holder elsewhere keeps it until it expires
    planted("elsewhere:4242", "2999-01-01T00:00:00Z")
    with pytest.raises(LockedError, match="held by elsewhere:4242 until 2999-01-01T00:00:00Z"):
        with tracking.registry_lock(store, settle_s=0):
            pass
    # expired: the next retrain takes it over, and releases it
    planted("elsewhere:4242", "2020-01-01T00:00:00Z")
    with tracking.registry_lock(store, settle_s=0):
        assert _tag(store)["token"] != "theirs"
    assert _tag(store) is None
    # held by a process of this host that was killed: no need to wait for the expiry
    planted(f"{socket.gethostname()}:{_dead_pid()}", "2999-01-01T00:00:00Z")
    with tracking.registry_lock(store, settle_s=0):
        pass
    # an unreadable tag is no lock
    client.set_registered_model_tag(store.model_name, tracking.LOCK_TAG, "{not json")
    with tracking.registry_lock(store, settle_s=0):
        pass
    assert _tag(store) is None


def test_registry_lock_creates_the_model_and_renews(store: MlflowParams) -> None:
    fresh = store.model_copy(update={"model_name": "not-yet-registered"})
    with tracking.registry_lock(fresh, ttl_s=60, settle_s=0, renew_s=0.2):
        first = _tag(fresh)["expires"]
        deadline = time.monotonic() + 10
        while _tag(fresh)["expires"] == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _tag(fresh)["expires"] > first  # renewed while held
    assert _tag(fresh) is None


def test_registry_lock_lost_race(store: MlflowParams, monkeypatch) -> None:
    """Two retrains read "no lock" at once and both write theirs: the one whose tag was
    overwritten while it waited finds the other's there and stands down."""
    client = _client(store)
    sleep = time.sleep

    def other_writes_meanwhile(seconds: float) -> None:
        value = {"owner": "elsewhere:7", "expires": "2999-01-01T00:00:00Z", "token": "theirs"}
        client.set_registered_model_tag(store.model_name, tracking.LOCK_TAG, json.dumps(value))
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", other_writes_meanwhile)
    with pytest.raises(LockedError, match="held by elsewhere:7"):
        with tracking.registry_lock(store, settle_s=0):
            pass
    monkeypatch.undo()
    assert _tag(store)["token"] == "theirs"  # the winner's tag stays


def test_configure_leaves_the_users_tracking_environment_alone(tmp_path, monkeypatch) -> None:
    """mlflow.set_tracking_uri writes MLFLOW_TRACKING_URI; runs must still record what the
    user gave (nothing, for the default store), not this machine's absolute path."""
    import os

    from okml import tracking
    from okml.config import MlflowParams

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = MlflowParams(tracking_uri=f"sqlite:///{tmp_path}/m.db", artifact_root=str(tmp_path / "a"))
    tracking.configure(params)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert tracking.given_uri(MlflowParams()) is None


def test_notebook_parameters_carry_no_password_from_a_set_override() -> None:
    from okml.jobs.train import _notebook_params

    got = _notebook_params(
        None, ["mlflow.tracking_uri=https://u:secret@mlflow.example:5000", "model.max_depth=4"]
    )
    assert "secret" not in str(got) and got["overrides"][1] == "model.max_depth=4"
