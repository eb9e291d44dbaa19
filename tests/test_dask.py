"""The dask engine on a real cluster: a LocalCluster of two worker processes for most tests,
and ``dask scheduler`` / ``dask worker`` processes for the end-to-end run. Small data; the
numbers must be those of the local engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import yaml

from okml import cluster
from okml.cli import main
from okml.config import DaskParams, FeatureParams, ModelParams, Params, SimulateParams, load_params
from okml.data import load
from okml.data.partitioned import load_dask
from okml.errors import ClusterError, DataError
from okml.features import build_features
from okml.features.distributed import enrich, feature_table
from okml.simulate import simulate

SIM = {"n_customers": 400, "n_merchants": 120, "n_days": 50, "seed": 11}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    spill = tmp_path_factory.mktemp("spill")
    with cluster.cluster(
        DaskParams(n_workers=2, threads_per_worker=1, spill_dir=str(spill)), quiet=True
    ) as c:
        yield c


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return simulate(SimulateParams(**SIM))


def _assert_same_features(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.set_index("transaction_id").loc[want.index, list(want.columns)]
    assert (got.isna().to_numpy() == want.isna().to_numpy()).all(), "NaN patterns differ"
    diff = np.nanmax(np.abs(got.to_numpy() - want.to_numpy()) / np.maximum(1.0, np.abs(want.to_numpy())))
    assert diff <= 1e-9, diff


@pytest.mark.parametrize(
    ("windows", "shuffle"),
    [
        ("default", "tasks"),
        ("tiny", "tasks"),
        ("default", "p2p"),
        ("graph", "tasks"),
        ("graph_tiny", "tasks"),
    ],
)
def test_features_equal_local_engine_with_split_and_hot_entities(client, tx, windows, shuffle) -> None:
    # one merchant takes 30% of the payments (a hot entity, one large partition); rows are
    # shuffled over 7 input partitions, so every customer and merchant starts split up
    rng = np.random.default_rng(0)
    hot = rng.random(len(tx)) < 0.3
    tx = tx.assign(merchant_id=tx["merchant_id"].where(~hot, "M_HOT"))
    params = FeatureParams()
    if windows == "tiny":
        params = FeatureParams(
            customer_windows=["1h", "2d"], merchant_windows=["2d"], history_window="5d",
            merchant_fraud_windows=["3d"], label_delay="2d", delayed_risk_windows=["2d"],
            merchant_fraud_profile_window="4d", median_payments=3,
        )  # fmt: skip
    if windows.startswith("graph"):
        # the entity graph and the point of compromise (pass 4, by time buckets); the hot
        # merchant is a hub; a half-day epoch and short windows move the bucket boundaries
        on = params.families.model_copy(update={"graph": True, "compromise": True})
        tiny = {"graph_window": "2d", "graph_epoch": "12h", "compromise_windows": ["3d"], "hub_customers": 8}
        params = FeatureParams(families=on, **(tiny if windows == "graph_tiny" else {}))
    want = build_features(tx, params)
    ddf = dd.from_pandas(tx.sample(frac=1.0, random_state=1), npartitions=7)
    with dask.config.set({"dataframe.shuffle.method": shuffle}):
        got = feature_table(enrich(ddf, params, npartitions=5), params).compute()
    assert len(got) == len(tx) and got["transaction_id"].is_unique
    _assert_same_features(got.drop(columns="timestamp"), want)


def _hive(tx: pd.DataFrame, root: Path) -> Path:
    days = tx["timestamp"].dt.strftime("%Y-%m-%d")
    for day in sorted(days.unique())[:6]:
        folder = root / f"day={day}"
        folder.mkdir(parents=True)
        tx[days == day].to_parquet(folder / "part-0.parquet", index=False)
    (root / "_SUCCESS").write_text("")
    return root


def test_hive_dataset_reads_lazily_per_file_like_the_local_loader(client, tx, tmp_path) -> None:
    root = _hive(tx, tmp_path / "hive")
    local = load(root)
    ddf = load_dask(root, columns=["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"])
    assert ddf.npartitions == 6
    assert list(ddf.columns) == ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]
    got = ddf.compute().sort_values(["timestamp", "transaction_id"], ignore_index=True)
    pd.testing.assert_frame_equal(got, local[list(ddf.columns)], check_dtype=False)


def test_validate_on_the_cluster_checks_every_partition(client, tx, tmp_path, capsys) -> None:
    root = _hive(tx, tmp_path / "hive")
    join = ["--engine", "dask", "--set", f"compute.dask.address={client.scheduler.address}", "-q"]
    assert main(["validate", str(root), *join]) == 0
    out = capsys.readouterr().out
    assert f"{len(load(root)):,} valid transactions in 6 file(s)" in out
    bad = sorted(root.glob("day=*/*.parquet"))[1]
    pd.read_parquet(bad).assign(customer_id=" ").to_parquet(bad, index=False)
    assert main(["validate", str(root), *join]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "column 'customer_id'" in err and "\n" not in err


def test_bad_value_in_one_partition_names_the_file_and_row(client, tx, tmp_path) -> None:
    root = _hive(tx, tmp_path / "hive")
    bad = sorted(root.glob("day=*/*.parquet"))[3]
    frame = pd.read_parquet(bad)
    frame.loc[2, "amount"] = -5.0
    frame.to_parquet(bad, index=False)
    ddf = load_dask(root)
    with pytest.raises(DataError) as e:
        ddf.compute()
    assert str(bad) in str(e.value) and "column 'amount'" in str(e.value) and "rows 2" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_partition_with_another_schema_is_named_before_anything_runs(tx, tmp_path) -> None:
    root = _hive(tx, tmp_path / "hive")
    odd = sorted(root.glob("day=*/*.parquet"))[2]
    pd.read_parquet(odd).assign(amount=lambda d: d["amount"].astype(str)).to_parquet(odd, index=False)
    with pytest.raises(DataError, match=r"column 'amount': is large_string here but double in day=") as e:
        load_dask(root)
    assert str(odd) in str(e.value)
    pd.read_parquet(odd).drop(columns=["channel"]).to_parquet(odd, index=False)
    with pytest.raises(DataError, match="lacks column"):
        load_dask(root)


@pytest.fixture(scope="module")
def project(tmp_path_factory, client):
    """params joining the module's cluster by its address (the compute.dask.address path)."""
    root = tmp_path_factory.mktemp("okml-dask")
    raw = {
        "simulate": {**SIM, "n_days": 45, "output": str(root / "tx.parquet")},
        "data": {"path": str(root / "tx.parquet")},
        "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
        "model": {"n_estimators": 40, "max_depth": 4},
        # the queue's group sizes are built beside the features on both engines
        "evaluate": {"rings_first": True},
        "explain": {"n_cases": 3, "report_dir": str(root / "reports"), "scored_dir": str(root / "scored")},
        "mlflow": {
            "tracking_uri": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "artifact_root": str(root / "mlruns" / "artifacts"),
        },
        "compute": {"dask": {"address": client.scheduler.address, "spill_dir": str(root / "spill"),
                             "partition_rows": 5000}},
    }  # fmt: skip
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    simulate(params.simulate).to_parquet(params.data.path, index=False)
    return path


def test_training_on_the_cluster_matches_local_training(project) -> None:
    from okml.jobs.train import fit_and_evaluate

    local = fit_and_evaluate(load_params(project))
    # one worker of its own: the rows reach XGBoost in the local order, so the trees are the same
    one = ["compute.dask.address=null", "compute.dask.n_workers=1", "compute.dask.threads_per_worker=1"]
    dist = fit_and_evaluate(load_params(project, ["compute.engine=dask", *one]))
    # same fold, same test rows after the known-compromised removal, same labels
    assert dist.result.fold == local.result.fold
    a, b = local.result.scored, dist.result.scored
    assert a["transaction_id"].tolist() == b["transaction_id"].tolist()
    assert a["is_fraud"].tolist() == b["is_fraud"].tolist()
    # the test week's features equal the local engine's over all history
    lx = local.features.iloc[np.flatnonzero(local.tx["transaction_id"].isin(b["transaction_id"]))]
    np.testing.assert_allclose(dist.features.to_numpy(), lx.to_numpy(), rtol=1e-9, atol=1e-9)
    # the same model: the same scores, hence the same metrics
    np.testing.assert_allclose(b["score"].to_numpy(), a["score"].to_numpy(), rtol=0, atol=1e-6)
    assert dist.result.metrics["ap"] == pytest.approx(local.result.metrics["ap"], abs=1e-9)
    assert dist.provenance["compute.engine"] == "dask" and dist.provenance["data.rows"] == len(local.tx)
    # the same queue (evaluate.rings_first: group sizes built beside the features, not given
    # to the model), hence the same flags
    np.testing.assert_allclose(b["priority"].to_numpy(), a["priority"].to_numpy(), rtol=0, atol=1e-6)
    assert (a["priority"] > 1).any() and a["flag"].tolist() == b["flag"].tolist()
    assert not any(n.startswith("graph_") for n in dist.result.feature_columns)
    # metrics of the dask scores are the local functions' metrics of the same scores
    from okml.evaluate import evaluate_scores
    from okml.evaluate.scoring import group_sizes

    params = load_params(project)
    queue = group_sizes(local.tx, params.features).loc[dist.tx["transaction_id"].to_numpy()]
    again = evaluate_scores(dist.tx, b["score"].to_numpy(), params, features=queue)
    assert again == pytest.approx(dist.result.metrics, nan_ok=True)


def test_evaluation_on_the_cluster_matches_local_evaluation(project, tmp_path) -> None:
    """okml evaluate --engine dask: XGBoost fitted with xgboost.dask on one worker, logistic
    regression (no distributed trainer) fitted here; the cost threshold picked the same way."""
    from okml.jobs.evaluate import run_evaluation

    sets = [
        "split.n_folds=1",
        "evaluate.operating_point=cost",
        "evaluate.cost_validation_days=3",
        'evaluate.candidates=[{"kind": "xgboost"}, {"kind": "logistic", "imbalance": "class_weight"}]',
    ]
    one = ["compute.dask.address=null", "compute.dask.n_workers=1", "compute.dask.threads_per_worker=1"]
    local = run_evaluation(load_params(project, sets), str(tmp_path / "local"), progress=False)
    dist = run_evaluation(
        load_params(project, [*sets, "compute.engine=dask", *one]), str(tmp_path / "dask"), progress=False
    )
    want, got = (r.fold_metrics.drop(columns="fit_seconds") for r in (local, dist))
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-6, atol=1e-6)
    a, b = local.scores, dist.scores
    assert a[["transaction_id", "fold", "model"]].equals(b[["transaction_id", "fold", "model"]])
    np.testing.assert_allclose(b["score"], a["score"], rtol=0, atol=1e-6)
    md = "comparison.md"
    assert (tmp_path / "dask" / md).read_text() == (tmp_path / "local" / md).read_text()


def test_scoring_on_the_cluster_writes_days_with_the_local_columns(project, tmp_path) -> None:
    from okml.jobs.distributed import score_job
    from okml.models import build_estimator
    from okml.score import score_features

    params = load_params(project, ["compute.engine=dask"])
    tx = load(params.data.path)
    fp = params.features
    feats = build_features(tx, fp)
    train = (tx["timestamp"] < pd.Timestamp("2026-01-20", tz="UTC")).to_numpy()
    est = build_estimator(ModelParams(n_estimators=15, max_depth=3)).fit(feats[train], tx["is_fraud"][train])
    booster = est.steps[-1][1].get_booster()
    columns = list(feats.columns)
    model = SimpleNamespace(booster=booster, feature_params=fp, columns=columns, meta={"threshold": 0.2})
    start = pd.Timestamp("2026-02-08", tz="UTC")
    is_new = (tx["timestamp"] >= start).to_numpy()
    new = tx[is_new]
    history = tx[tx["timestamp"] < start]
    new.to_parquet(tmp_path / "new.parquet", index=False)
    history.to_parquet(tmp_path / "history.parquet", index=False)
    out = tmp_path / "scored"
    rows, flagged = score_job(
        params, model, str(tmp_path / "new.parquet"), str(tmp_path / "history.parquet"), out, quiet=True
    )
    assert rows == len(new) and sorted(p.name for p in out.iterdir()) == sorted(
        f"day={d}" for d in new["timestamp"].dt.strftime("%Y-%m-%d").unique()
    )
    got = pd.concat([pd.read_parquet(f) for f in sorted(out.glob("day=*/*.parquet"))])
    got = got.set_index("transaction_id").loc[new["transaction_id"]].reset_index()
    want = score_features(model, new.reset_index(drop=True), feats[is_new].reset_index(drop=True), params)
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12)
    assert got["flag"].tolist() == want["flag"].tolist() and flagged == int(want["flag"].sum())
    assert got["rank_in_day"].tolist() == want["rank_in_day"].tolist()
    assert got["reason_1"].fillna("").tolist() == want["reason_1"].fillna("").tolist()


def test_unreachable_scheduler_is_one_line_and_exit_2(project, capsys) -> None:
    started = time.perf_counter()
    code = main(
        ["features", "--params", str(project), "--engine", "dask", "--set", "compute.dask.address=tcp://127.0.0.1:9",
         "--set", "compute.dask.connect_timeout=3"]
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err.strip()
    assert code == 2 and elapsed < 10, elapsed
    assert err.startswith(
        "okml features: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 3 s"
    )
    assert "\n" not in err


def _die(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) and int(df["a"].iloc[0]) == 50:
        os._exit(1)  # the worker process dies mid-step
    return df


def test_a_worker_killed_mid_step_fails_the_step_in_one_line_and_writes_nothing(tmp_path) -> None:
    from okml.jobs.distributed import write_dataset

    params = DaskParams(n_workers=2, threads_per_worker=1, spill_dir=str(tmp_path / "spill"))
    target = tmp_path / "out"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), cluster.cluster(params, quiet=True):
        frame = dd.from_pandas(pd.DataFrame({"a": np.arange(100)}), npartitions=4).map_partitions(_die)
        with pytest.raises(ClusterError, match=r"^features: a Dask worker died while computing it"):
            write_dataset(frame, target, "features", quiet=True)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


# ---------------------------------------------------------------------- a real cluster
@pytest.mark.slow
def test_simulate_features_train_against_dask_scheduler_and_workers(tmp_path) -> None:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; okml joins by address."""
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                          "--dashboard-address", "127.0.0.1:0"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ]  # fmt: skip
    try:
        for i in range(2):
            procs.append(
                subprocess.Popen([bin_dir / "dask", "worker", address, "--nthreads", "1", "--nworkers", "1",
                                  "--host", "127.0.0.1", "--local-directory", str(tmp_path / f"w{i}"),
                                  "--preload", "dask.dataframe"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        raw = {
            "simulate": {**SIM, "n_days": 40, "output": str(tmp_path / "tx.parquet")},
            "data": {"path": str(tmp_path / "tx.parquet")},
            "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
            "model": {"n_estimators": 30, "max_depth": 4},
            "explain": {"n_cases": 2, "report_dir": str(tmp_path / "r"), "scored_dir": str(tmp_path / "s")},
            "mlflow": {"tracking_uri": f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
                       "artifact_root": str(tmp_path / "mlruns" / "artifacts")},
            "compute": {"engine": "dask", "dask": {"address": address, "spill_dir": str(tmp_path / "spill")}},
        }  # fmt: skip
        params_file = tmp_path / "params.yaml"
        params_file.write_text(yaml.safe_dump(raw))
        assert main(["simulate", "--params", str(params_file), "-q"]) == 0
        out = tmp_path / "features"
        assert main(["features", "--params", str(params_file), "--output", str(out), "-q"]) == 0
        got = pd.concat([pd.read_parquet(f) for f in sorted(out.glob("*.parquet"))])
        params = load_params(params_file)
        want = build_features(load(params.data.path), params.features)
        _assert_same_features(got.drop(columns="timestamp"), want)
        assert main(["train", "--params", str(params_file), "-q"]) == 0
        _check_registered(params)
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_queue_reads_group_sizes_where_they_are_and_none_without_devices(caplog) -> None:
    """queue_frame: from the transactions (built beside the features), else the features (the
    graph family given to the model), else NaN with a warning (data without device_id)."""
    from okml.jobs.distributed import queue_frame

    name = "graph_group_size_7d"
    tx = pd.DataFrame({"transaction_id": [1, 2], name: [4.0, 1.0]}, index=[7, 8])
    X = pd.DataFrame({name: [5.0, 2.0]})
    assert queue_frame(name, tx, X)[name].tolist() == [4.0, 1.0]
    assert queue_frame(name, tx.drop(columns=name), X)[name].tolist() == [5.0, 2.0]
    with caplog.at_level("WARNING", logger="okml.evaluate.scoring"):
        none = queue_frame(name, tx.drop(columns=name), X.drop(columns=name))
    assert none[name].isna().all() and len(none) == 2 and "no device_id column" in caplog.text


def test_local_cluster_is_sized_from_the_machine() -> None:
    sizes = cluster.local_sizes(DaskParams())
    cores, memory = cluster.machine()
    assert sizes["n_workers"] == max(1, cores // 2)
    assert sizes["n_workers"] * sizes["threads_per_worker"] <= max(cores, sizes["n_workers"])
    assert 0 < sizes["memory_limit"] * sizes["n_workers"] <= memory
    assert Params().compute.engine == "local"


def _check_registered(params: Params) -> None:
    """The champion is the usual pyfunc; its run records the engine, the dashboard and the
    data fingerprint; the reviewers' report was written."""
    import mlflow

    from okml import tracking

    model = tracking.load_model(tracking.model_uri(params.mlflow, tracking.CHAMPION), params.mlflow)
    assert model.kind == "xgboost" and model.meta["threshold"] > 0
    tracking.configure(params.mlflow)
    mv = mlflow.MlflowClient().get_model_version_by_alias(params.mlflow.model_name, tracking.CHAMPION)
    tags = tracking.run_data(mv.run_id)["tags"]
    assert tags["compute.engine"] == "dask" and tags["dask.dashboard"].startswith("http")
    assert tags["data.rows"] == str(len(load(params.data.path)))
    assert list(Path(params.explain.report_dir).glob("store-*/report-*.html"))
