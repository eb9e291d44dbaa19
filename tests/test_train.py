"""Training under MLflow for real: papermill on the okml kernel, SQLite store in tmp_path.

These are end-to-end tests on small simulated data; they never touch the project's mlruns/.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from okml import tracking
from okml.cli import main
from okml.config import Params, dump_params, load_params
from okml.errors import LockedError
from okml.jobs.train import decide, retrain, train_model
from okml.paths import PROJECT_ROOT
from okml.simulate import simulate

pytestmark = pytest.mark.slow

# small world where the late pattern matters: fewer fixed-size rings and forged accounts
SIM = {
    "n_customers": 600,
    "n_merchants": 150,
    "n_days": 60,
    "seed": 7,
    "fake_orders": {"rings": 2},
    "forged_identity": {"accounts": 20},
    "new_pattern": {"start_fraction": 0.4, "victims_per_1000_customers": 80.0},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A params file pointing data and MLflow into a temporary folder."""
    root = tmp_path_factory.mktemp("okml")
    raw = {
        "simulate": {**SIM, "output": str(root / "tx.parquet")},
        "data": {"path": str(root / "tx.parquet")},
        "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
        "model": {"n_estimators": 40, "max_depth": 4},
        "evaluate": {"k": 10},
        "explain": {"n_cases": 3, "report_dir": str(root / "reports"), "scored_dir": str(root / "scored")},
        "mlflow": {
            "tracking_uri": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "artifact_root": str(root / "mlruns" / "artifacts"),
        },
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    simulate(params.simulate).to_parquet(params.data.path, index=False)
    return path


def _client(params):
    tracking.configure(params.mlflow)
    return mlflow.MlflowClient()


@pytest.fixture(scope="module")
def trained(project):
    """One `okml train` run (the first model: promoted)."""
    assert main(["train", "--params", str(project), "-q"]) == 0
    params = load_params(project)
    client = _client(params)
    mv = client.get_model_version_by_alias(params.mlflow.model_name, "champion")
    return params, client, mv


def test_train_run_logs_everything(trained):
    params, client, mv = trained
    run = client.get_run(mv.run_id)
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    for name in ("auc", "ap", "cp_at_k", "recall_at_fpr", "caught_amount", "missed_amount"):
        assert name in m and math.isfinite(m[name])
    assert m["auc"] > 0.7
    p = run.data.params
    assert p["model.max_depth"] == "4" and p["split.train_days"] == "10"
    tags = run.data.tags
    assert len(tags["data.sha256"]) == 64 and int(tags["data.rows"]) > 1000
    assert tags["git.commit"] and tags["pkg.xgboost-cpu"] == "3.2.0"
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"notebook", "plots", "params.yaml", "test_scores.parquet"} <= arts
    nb = {a.path for a in client.list_artifacts(run.info.run_id, "notebook")}
    assert nb == {"notebook/02_train.ipynb", "notebook/02_train.html"}
    plots = {a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"roc.png", "precision_recall.png", "cp_at_k_by_day.png"} <= plots
    assert str(mv.version) == "1"
    # named by the last day of its test window (the data's last day), not just "train"
    last_day = pd.read_parquet(params.data.path, columns=["timestamp"])["timestamp"].max()
    assert run.info.run_name == f"train {last_day:%Y-%m-%d}"
    assert tags["fold"].endswith(f"..{last_day:%Y-%m-%d})")
    # the version says what made it, on which data, and how it scored
    assert mv.description.startswith(
        f"okml train, test window to {last_day:%Y-%m-%d}; MLflow run {mv.run_id}."
    )
    assert f"Windows: {tags['fold']}." in mv.description and "Test window: AUC 0." in mv.description
    assert f"Data: {int(tags['data.rows']):,} transactions from" in mv.description
    # metrics undefined at the top-k operating point are not logged at all (were NaN tags)
    assert "threshold" not in m and not [k for k in tags if k.startswith("metric.")]
    assert m["missed_amount"] == round(m["missed_amount"], 2)
    # the reviewers' report of the run names the model as the registry knows it
    reports = list(Path(params.explain.report_dir).glob("store-*/report-*.html"))
    assert len(reports) == 1
    # named by its local day and model version, kept in its tracking store's folder
    assert reports[0].name.endswith(f"-{params.mlflow.model_name}-v1.html")
    assert f"models:/{params.mlflow.model_name}/1" in reports[0].read_text(encoding="utf-8")
    assert {a.path for a in client.list_artifacts(run.info.run_id, "reports")} == {
        f"reports/{reports[0].name}"
    }


def test_pyfunc_equals_direct_prediction(trained):
    params, _, _ = trained
    tx = pd.read_parquet(params.data.path)
    model = mlflow.pyfunc.load_model(f"models:/{params.mlflow.model_name}@champion")
    scored = model.predict(tx)
    assert list(scored.columns) == ["transaction_id", "score"]
    assert np.array_equal(scored["transaction_id"].to_numpy(), tx["transaction_id"].to_numpy())
    # the same training in-process (deterministic: seed, one thread) gives the same model
    from okml.data import load

    direct = train_model(load(params.data.path, params=params.data), params)
    got = scored.set_index("transaction_id").loc[direct.scored["transaction_id"], "score"]
    np.testing.assert_allclose(got.to_numpy(), direct.scored["score"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("queue", ["score order", "rings first"])
def test_champion_is_compared_with_feedback_like_the_challenger(trained, project, queue):
    """With split.feedback a retrain walks the champion's test window as the challenger's: the
    champion compared with its own retraining gives the same numbers, feedback ones included;
    with evaluate.rings_first both are ranked in the challenger's queue order."""
    from okml.data import load
    from okml.features import feature_matrix
    from okml.jobs.train import compare_champion

    rings = ["evaluate.rings_first=true"] if queue == "rings first" else []
    params = load_params(project, ["split.feedback=true", *rings])
    tx = load(params.data.path, params=params.data)
    X = feature_matrix(tx, params.features)
    result = train_model(tx, params, features=X)
    champion = compare_champion(result, tx, X, f"models:/{params.mlflow.model_name}@champion", params)
    assert 0 <= result.metrics["cp_at_k_feedback"] <= 1
    for name in ("cp_at_k", "cp_at_k_feedback", "recall_feedback", "ap_feedback"):
        assert champion[f"champion.{name}"] == pytest.approx(result.metrics[name], rel=1e-6)


def _executed_named_in(err: str) -> Path:
    m = re.search(r"; executed (?:copy|notebook): (.+)$", err.strip())
    assert m, err
    return Path(m.group(1))


def test_failing_notebook_marks_run_failed_and_keeps_notebook(project, capsys):
    rc = main(["train", "--params", str(project), "-q", "--set", "split.train_days=400"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "02_train.ipynb: cell" in err and "ConfigError" in err and err.count("\n") == 1
    # the message names a copy that is still there once the command has exited
    named = _executed_named_in(err)
    assert named.is_file() and named.name == "02_train.ipynb"
    assert "ConfigError" in named.read_text(encoding="utf-8")
    params = load_params(project)
    client = _client(params)
    exp = client.get_experiment_by_name(params.mlflow.experiment)
    run = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert run.info.status == "FAILED"
    # it never knew its test window: named by what it did and when it started
    assert re.fullmatch(r"train, started \d{4}-\d\d-\d\d \d\d:\d\d UTC", run.info.run_name)
    nb = {a.path for a in client.list_artifacts(run.info.run_id, "notebook")}
    assert "notebook/02_train.ipynb" in nb and "notebook/02_train.html" in nb
    # the champion is untouched by a failed run
    assert tracking.alias_version(params.mlflow, "champion") == "1"


def test_failing_notebook_kept_locally_when_the_store_refuses_it(project, tmp_path, monkeypatch, capsys):
    from okml.jobs import train as train_module

    monkeypatch.setattr(train_module, "RUNS_DIR", tmp_path / "runs")
    log_artifact = tracking.log_artifact

    def refuse_notebooks(path, artifact_path=None, run_id=None):
        if artifact_path == "notebook":
            raise OSError("artifact store unreachable")
        return log_artifact(path, artifact_path, run_id)

    monkeypatch.setattr(tracking, "log_artifact", refuse_notebooks)
    rc = main(["train", "--params", str(project), "-q", "--set", "split.train_days=400"])
    err = capsys.readouterr().err
    assert rc == 2 and [line for line in err.splitlines() if line.startswith("okml")] == [
        err.strip().splitlines()[-1]
    ]
    named = _executed_named_in(err)
    assert named.is_file() and named.parent.parent == tmp_path / "runs"
    assert tracking.run_tag(named.parent.name, "okml.job") == "train"


def test_tracking_uri_is_recorded_as_given_without_credentials(monkeypatch):
    from okml.jobs.train import _notebook_params, kernel_tracking, recorded_params

    assert (
        tracking.redact_uri("http://user:s3cret@mlflow.internal:5000/x?y=1")
        == "http://mlflow.internal:5000/x?y=1"
    )
    assert tracking.redact_uri("https://token@host") == "https://host"
    assert tracking.redact_uri("sqlite:///mlruns/mlflow.db") == "sqlite:///mlruns/mlflow.db"
    # a server with credentials in MLFLOW_TRACKING_URI: the kernel gets them in its environment,
    # the notebook parameters and every record get the URI without them
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:s%40cret@127.0.0.1:5999")
    params = Params()
    assert kernel_tracking(params) == (
        "http://127.0.0.1:5999",
        {"MLFLOW_TRACKING_USERNAME": "user", "MLFLOW_TRACKING_PASSWORD": "s@cret"},
    )
    record = dump_params(recorded_params(params))
    assert "cret" not in record and "tracking_uri: http://127.0.0.1:5999" in record
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone")  # set by the user: kept
    assert kernel_tracking(params)[1] == {"MLFLOW_TRACKING_PASSWORD": "s@cret"}
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    # credentials in params
    params = load_params(overrides=["mlflow.tracking_uri=https://u:pw@mlflow.internal"])
    assert recorded_params(params).flat()["mlflow.tracking_uri"] == "https://mlflow.internal"
    # a relative SQLite store is used resolved but recorded as given
    params = load_params(overrides=["mlflow.tracking_uri=sqlite:///mlruns/mlflow.db"])
    assert tracking.tracking_uri(params.mlflow) == f"sqlite:///{PROJECT_ROOT}/mlruns/mlflow.db"
    assert kernel_tracking(params) == ("sqlite:///mlruns/mlflow.db", {})
    assert str(PROJECT_ROOT) not in dump_params(recorded_params(params))
    # the default store stays "default" in the record; a params file of the project is named
    # relative to it
    assert kernel_tracking(load_params(overrides=["mlflow.tracking_uri=null"]))[0] is None
    assert _notebook_params(str(PROJECT_ROOT / "params" / "x.yaml"), ["a=1"]) == {
        "params_file": "params/x.yaml",
        "overrides": ["a=1"],
    }
    assert _notebook_params("/elsewhere/p.yaml", None)["params_file"] == "/elsewhere/p.yaml"


def test_decide_rules():
    params = load_params(overrides=["mlflow.promote_margin=0.01"])
    assert decide({"cp_at_k": 0.2}, None, params)["promoted"]
    yes = decide({"cp_at_k": 0.32, "champion.cp_at_k": 0.30}, "3", params)
    assert yes["promoted"] and "0.3200 vs champion (v3) 0.3000" in yes["reason"]
    assert not decide({"cp_at_k": 0.305, "champion.cp_at_k": 0.30}, "3", params)["promoted"]
    assert not decide({"cp_at_k": 0.2, "champion.cp_at_k": 0.30}, "3", params)["promoted"]


def test_retrain_lock(project, capsys):
    # the lock of the project's store, beside its database in the tmp folder (it was a fixed
    # mlruns/.retrain.lock of the repository, whatever store was configured)
    params = load_params(project)
    lock = project.parent / "mlruns" / "mlflow.db.retrain.lock"
    with tracking.retrain_lock(params.mlflow) as where:
        assert where == str(lock)
        with pytest.raises(LockedError, match=re.escape(f"another retrain is running (lock {lock})")):
            retrain(params, as_of="2026-02-01", params_path=str(project))
        assert main(["retrain", "--params", str(project), "--as-of", "2026-02-01"]) == 3
    assert str(lock) in capsys.readouterr().err


def test_retrain_adapts_to_new_pattern(tmp_path, project):
    """A champion trained before the new fraud pattern misses it; a retrain after its labels
    arrived catches it and is promoted."""
    raw = yaml.safe_load(project.read_text())
    raw["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw["mlflow"]["artifact_root"] = str(tmp_path / "artifacts")
    fresh = tmp_path / "params.yaml"
    fresh.write_text(yaml.safe_dump(raw))
    params = load_params(fresh)
    # pattern starts on day 24 (2026-01-25); as of 2026-02-01 training ends 2026-01-11
    assert main(["retrain", "--params", str(fresh), "--as-of", "2026-02-01", "-q"]) == 0
    client = _client(params)
    first = client.get_model_version_by_alias(params.mlflow.model_name, "champion")
    assert first.tags["promotion.reason"] == "promoted: no champion yet"
    assert client.get_run(first.run_id).info.run_name == "retrain as of 2026-02-01"
    assert first.description.startswith("okml retrain --as-of 2026-02-01 (labels known by then);")
    assert main(["retrain", "--params", str(fresh), "--as-of", "2026-03-01", "-q"]) == 0
    second = client.get_model_version_by_alias(params.mlflow.model_name, "challenger")
    run = client.get_run(second.run_id)
    m = run.data.metrics
    assert m["recall.new_pattern"] > m["champion.recall.new_pattern"]
    assert run.data.tags["promotion.promoted"] == "True"
    assert str(client.get_model_version_by_alias(params.mlflow.model_name, "champion").version) == str(
        second.version
    )
    # the same retrain again, demanding an impossible margin: not promoted, exit code 0,
    # the challenger alias moves, the champion stays
    assert (
        main(
            [
                "retrain",
                "--params",
                str(fresh),
                "--as-of",
                "2026-03-01",
                "-q",
                "--set",
                "mlflow.promote_margin=1.0",
            ]
        )
        == 0
    )
    third = client.get_model_version_by_alias(params.mlflow.model_name, "challenger")
    assert str(third.version) == "3" and third.tags["promotion.promoted"] == "False"
    assert "not promoted" in third.tags["promotion.reason"]
    assert str(client.get_model_version_by_alias(params.mlflow.model_name, "champion").version) == str(
        second.version
    )
