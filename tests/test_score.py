"""Batch scoring: history look-back, operating point, ranks, reasons, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from okml.config import FeatureParams, ModelParams, Params, SimulateParams
from okml.errors import DataError, OkmlError
from okml.features import build_features, registry
from okml.jobs.score import score_cli
from okml.models import score_frame
from okml.score import (
    FEATURE_PREFIX,
    _rank_in_day,
    approximate_features,
    operating_point,
    score_transactions,
)

DAY = pd.Timestamp("2026-02-05", tz="UTC")  # scored day; data from 2026-01-01 to 02-09
LABELS = ["is_fraud", "fraud_type", "label_time", "reported_by_user", "report_time"]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """Simulated month, a tiny model trained on its first two weeks, one day to score."""
    from okml.models import build_estimator, final_booster
    from okml.simulate import simulate

    tx = simulate(SimulateParams(n_customers=150, n_merchants=60, n_days=40, seed=5))
    fp = FeatureParams(merchant_fraud_profile_window="3d")  # look-back 3d + 30d history
    feats = build_features(tx, fp)
    train = (tx["timestamp"] < pd.Timestamp("2026-01-15", tz="UTC")).to_numpy()
    est = build_estimator(ModelParams(n_estimators=15, max_depth=3, n_jobs=1))
    est.fit(feats[train], tx["is_fraud"].to_numpy()[train])
    booster = final_booster(est)
    columns = list(feats.columns)
    in_day = ((tx["timestamp"] >= DAY) & (tx["timestamp"] < DAY + pd.Timedelta(days=1))).to_numpy()
    scores = score_frame(booster, feats[in_day], columns)
    before = tx["timestamp"] < DAY
    return {
        "tx": tx,
        "feats": feats,
        "booster": booster,
        "columns": columns,
        "fp": fp,
        "new": tx[in_day].drop(columns=LABELS),
        "labelled_new": tx[in_day],
        "history": tx[before],
        "threshold": float(np.quantile(scores, 0.9)),
        "day_features": feats[in_day],
    }


def _model(world: dict[str, Any], threshold: float | None = None) -> SimpleNamespace:
    meta = {"threshold": threshold} if threshold is not None else {}
    return SimpleNamespace(
        booster=world["booster"], feature_params=world["fp"], columns=world["columns"], meta=meta
    )


def test_scores_flags_and_reasons(world) -> None:
    params = Params()
    new, history = world["new"], world["history"]
    before = (new.copy(), history.copy())
    out = score_transactions(_model(world, world["threshold"]), new, history, params)
    pd.testing.assert_frame_equal(new, before[0])  # inputs untouched
    pd.testing.assert_frame_equal(history, before[1])
    assert out["transaction_id"].tolist() == new["transaction_id"].tolist()
    head = ["transaction_id", "timestamp", "customer_id", "merchant_id", "amount"]
    assert list(out.columns[:5]) == head
    for col in ["score", "flag", "rank_in_day", "reason_1", "reason_2", "reason_3", "reasons"]:
        assert col in out
    # 35 days of history, trimmed to the 33-day look-back: all-history features are approximate
    specs = registry(world["fp"])
    assert out.attrs["approximate_features"] == [c for c in world["columns"] if specs[c].all_history]
    assert (out["flag"] == (out["score"] >= world["threshold"])).all()
    assert "threshold" in out.attrs["operating_point"]
    flagged = out[out["flag"]]
    assert len(flagged) > 0
    assert out.loc[~out["flag"], ["reason_1", "reasons"]].isna().all().all()
    assert flagged["reason_1"].notna().all()
    for text, blob in zip(flagged["reason_1"], flagged["reasons"], strict=True):
        reasons = json.loads(blob)
        assert reasons[0]["text"] == text
        assert all(r["contribution"] > 0 for r in reasons)
    feats = [c for c in out.columns if c.startswith(FEATURE_PREFIX)]
    assert [c.removeprefix(FEATURE_PREFIX) for c in feats] == world["columns"]


def test_look_back_features_equal_those_on_all_data(world) -> None:
    # time-correctness of the trimming: with the new rows' own labels (as in the data), every
    # feature that is not all-history equals the one computed on the whole simulated period
    out = score_transactions(_model(world, 0.5), world["labelled_new"], world["history"], Params())
    specs = registry(world["fp"])
    exact = [c for c in world["columns"] if not specs[c].all_history]
    got = out[[FEATURE_PREFIX + c for c in exact]].set_axis(exact, axis=1)
    want = world["day_features"][exact].set_axis(got.index)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # history that starts within the look-back is not trimmed: nothing is reported
    recent = world["history"][world["history"]["timestamp"] >= DAY - pd.Timedelta(days=10)]
    assert (
        score_transactions(_model(world, 0.5), world["new"], recent, Params()).attrs["approximate_features"]
        == []
    )


def test_approximate_features_by_hand() -> None:
    fp = FeatureParams(customer_windows=["1h"], merchant_windows=["1d"])
    cols = ["hour", "cust_count_1h", "cust_first_device", "merch_risk_1d", "mystery"]
    assert approximate_features(cols, fp, trimmed=False) == []
    assert approximate_features(cols, fp, trimmed=True) == ["cust_first_device"]
    assert approximate_features(cols, fp, trimmed=False, no_history=True) == [
        "cust_count_1h",
        "cust_first_device",
        "merch_risk_1d",
    ]


def test_top_k_without_threshold(world) -> None:
    params = Params().model_copy(update={"evaluate": Params().evaluate.model_copy(update={"k": 3})})
    out = score_transactions(_model(world), world["new"], world["history"], params)
    assert out.attrs["operating_point"] == "top 3 customers per day"
    assert out.loc[out["flag"], "customer_id"].nunique() == 3
    top3 = out.groupby("customer_id")["score"].max().nlargest(3).index
    assert set(out.loc[out["flag"], "customer_id"]) == set(top3)
    # asked for top-k although the model has a threshold
    forced = score_transactions(_model(world, 0.0), world["new"], world["history"], params, top_k=True)
    assert forced["flag"].tolist() == out["flag"].tolist()


def test_rings_first_scores_flag_and_rank_as_evaluation_does(world) -> None:
    from okml.config import params_from_dict
    from okml.evaluate.scoring import evaluate_test
    from okml.score import score_features

    params = params_from_dict(
        {"features": {"families": {"graph": True}}, "evaluate": {"k": 3, "rings_first": True}}
    )
    new, feats = world["labelled_new"], world["day_features"]
    scores = score_frame(world["booster"], feats, world["columns"])
    # the day's two least risky customers form a ring (a hard group of MIN_SIZE accounts)
    ring = pd.Series(scores, index=new.index).groupby(new["customer_id"]).max().nsmallest(2).index
    in_ring = new["customer_id"].isin(ring).to_numpy()
    feats = feats.assign(graph_group_size_7d=np.where(in_ring, 4.0, 1.0))
    trained = SimpleNamespace(
        booster=world["booster"],
        feature_params=world["fp"],
        columns=world["columns"],
        meta={"rings_first": True},
    )
    out = score_features(trained, new, feats, params)
    np.testing.assert_allclose(out["score"], scores)  # still the probability
    np.testing.assert_allclose(out["priority"], scores + in_ring)
    # the ring's payments are flagged and lead the day, below the budget of 3 customers
    assert out["flag"].to_numpy()[in_ring].all()
    assert out.loc[out["flag"], "customer_id"].nunique() == 3
    assert sorted(out.loc[in_ring, "rank_in_day"]) == list(range(1, int(in_ring.sum()) + 1))
    # the flags of okml score are the evaluated ones
    _, evaluated, threshold = evaluate_test(new, scores, params, feats)
    assert out["flag"].tolist() == evaluated["flag"].tolist()
    np.testing.assert_allclose(evaluated["priority"], out["priority"])
    # and at the training run's threshold (measured in the queue order) too
    trained.meta["threshold"] = threshold
    at_threshold = score_features(trained, new, feats, params)
    assert at_threshold["flag"].tolist() == (out["priority"] >= threshold).tolist()
    assert at_threshold["flag"].to_numpy()[in_ring].all()
    assert operating_point(trained, params).describe().endswith("(threshold chosen in training, rings first)")


def test_rings_first_without_the_graph_in_the_model_ranks_by_group_sizes_built_for_the_queue(world) -> None:
    """A model without the graph family, trained with rings first: okml score computes the
    group sizes from the history and the new payments (only earlier payments), as evaluation
    computes them over all the data."""
    from okml.evaluate.scoring import group_sizes, ranking_priority
    from okml.features.graph import MIN_SIZE

    assert not any(c.startswith("graph_") for c in world["columns"])
    # four accounts of the history share one phone in the week before the day: a ring
    tx = world["tx"].copy()
    ring = tx.loc[tx["timestamp"] < DAY, "customer_id"].drop_duplicates().iloc[:4]
    week = (tx["timestamp"] >= DAY - pd.Timedelta(days=5)) & (tx["timestamp"] < DAY)
    tx.loc[week & tx["customer_id"].isin(ring), "device_id"] = "D-RING"
    history = tx[tx["timestamp"] < DAY]
    new = tx[(tx["timestamp"] >= DAY) & (tx["timestamp"] < DAY + pd.Timedelta(days=1))].drop(columns=LABELS)
    model = _model(world)
    model.meta["rings_first"] = True
    out = score_transactions(model, new, history, Params())
    sizes = group_sizes(tx, world["fp"]).loc[out["transaction_id"]]
    in_ring = out["customer_id"].isin(ring).to_numpy()
    assert (sizes.iloc[:, 0].to_numpy()[in_ring] >= MIN_SIZE).all() and in_ring.any()
    np.testing.assert_allclose(out["priority"], ranking_priority(out["score"], sizes, world["fp"]))
    # the day's groups (this ring and the simulated ones) lead the queue and fill the budget
    grouped = out["priority"].to_numpy() > 1
    assert grouped[in_ring].all()
    assert sorted(out.loc[grouped, "rank_in_day"]) == list(range(1, int(grouped.sum()) + 1))
    assert out.loc[grouped, "customer_id"].nunique() >= Params().evaluate.k
    assert grouped[out["flag"].to_numpy()].all()
    assert out.attrs["operating_point"].endswith("rings first")


def test_operating_point_ignores_a_missing_or_nan_threshold() -> None:
    params = Params()
    assert operating_point(SimpleNamespace(meta={}), params).kind == "top_k"
    assert operating_point(SimpleNamespace(meta={"threshold": None}), params).kind == "top_k"
    assert operating_point(SimpleNamespace(meta={"threshold": float("nan")}), params).kind == "top_k"
    point = operating_point(SimpleNamespace(meta={"threshold": 0.7}), params)
    assert (point.kind, point.threshold) == ("threshold", 0.7)


def test_rank_in_day_by_hand() -> None:
    ts = pd.Series(
        pd.to_datetime(
            [
                "2026-01-01 09:00",
                "2026-01-01 10:00",
                "2026-01-01 23:59",
                "2026-01-02 00:00",
                "2026-01-01 11:00",
            ],
            utc=True,
        )
    )
    scores = np.array([0.2, 0.9, 0.5, 0.1, 0.5])
    # day 1: 0.9 -> 1, the two 0.5 -> 2 and 3 in row order, 0.2 -> 4; day 2 alone -> 1
    assert _rank_in_day(ts, scores).tolist() == [4, 1, 2, 1, 3]


def test_overlapping_ids_are_rejected(world) -> None:
    history = pd.concat([world["history"], world["tx"].loc[world["new"].index[:2]]])
    with pytest.raises(DataError, match=r"2 transaction id\(s\) appear in both"):
        score_transactions(_model(world, 0.5), world["new"], history, Params())


def test_no_history_and_no_labels_still_scores(world) -> None:
    out = score_transactions(_model(world, 0.5), world["new"], None, Params())
    assert len(out) == len(world["new"]) and out["score"].between(0, 1).all()
    assert "cust_known_frauds" in out.attrs["approximate_features"]
    # a reason told through an approximate feature says so, in the text and the JSON
    every = score_transactions(_model(world, 0.0), world["new"].iloc[:50], None, Params())
    approx = set(every.attrs["approximate_features"])
    told = [r for raw in every.loc[every["flag"], "reasons"] for r in json.loads(raw)]
    assert told and all(("(approximate:" in r["text"]) == (r["feature"] in approx) for r in told)


def test_bad_new_transactions_are_rejected(world) -> None:
    with pytest.raises(DataError, match="amount"):
        score_transactions(_model(world, 0.5), world["new"].assign(amount=-1.0), None, Params())
    with pytest.raises(DataError, match="no transactions"):
        score_transactions(_model(world, 0.5), world["new"].iloc[:0], None, Params())
    with pytest.raises(DataError, match="device_id"):  # the model needs device features
        score_transactions(
            _model(world, 0.5),
            world["new"].drop(columns="device_id"),
            world["history"].drop(columns="device_id"),
            Params(),
        )


# ------------------------------------------------------------------------------ CLI
def _save_model(world: dict[str, Any], folder: Path, threshold: float) -> Path:
    import mlflow.pyfunc

    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import FraudModel, write_model_files

    arts = write_model_files(
        XGBoostScorer(world["booster"], world["columns"]),
        world["fp"],
        folder / "files",
        extra={"threshold": threshold, "k": 100},
    )
    mlflow.pyfunc.save_model(
        str(folder / "model"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
    )
    return folder / "model"


def test_score_cli_writes_parquet(world, tmp_path: Path, capsys) -> None:
    model = _save_model(world, tmp_path, world["threshold"])
    new_file, hist_file = tmp_path / "new.parquet", tmp_path / "hist.parquet"
    world["new"].to_parquet(new_file)
    world["history"].to_parquet(hist_file)
    params = Params().model_copy(
        update={
            "explain": Params().explain.model_copy(
                update={"scored_dir": str(tmp_path / "scored"), "language": "zh"}
            )
        }
    )
    assert score_cli(params, str(new_file), str(hist_file), str(model), None, False) == 0
    out_file = tmp_path / "scored" / "new-2026-02-05.parquet"
    scored = pd.read_parquet(out_file)
    assert len(scored) == len(world["new"])
    printed = capsys.readouterr().out
    assert f"flagged {int(scored['flag'].sum())}" in printed and str(out_file) in printed
    assert scored["reason_1"].dropna().str.contains(r"[\u4e00-\u9fff]").all()
    direct = score_transactions(_model(world, world["threshold"]), world["new"], world["history"], Params())
    np.testing.assert_allclose(scored["score"], direct["score"])
    assert scored["flag"].tolist() == direct["flag"].tolist()


def test_score_cli_errors(world, tmp_path: Path) -> None:
    new_file = tmp_path / "new.parquet"
    world["new"].to_parquet(new_file)
    with pytest.raises(DataError, match="not found|does not exist|no such"):
        score_cli(Params(), str(tmp_path / "missing.parquet"), None, str(tmp_path), None, False)
    with pytest.raises(OkmlError, match="cannot load model"):
        score_cli(Params(), str(new_file), None, str(tmp_path / "nothing"), None, False)


# ------------------------------------------------------- hardening (issue 10, item 9)
def test_scored_file_records_model_and_flags_against_the_budget(world, tmp_path: Path, capsys) -> None:
    model = _save_model(world, tmp_path, world["threshold"])
    new_file, hist_file = tmp_path / "new.parquet", tmp_path / "hist.parquet"
    world["new"].to_parquet(new_file)
    world["history"].to_parquet(hist_file)
    out = tmp_path / "scored.parquet"
    assert score_cli(Params(), str(new_file), str(hist_file), str(model), str(out), False) == 0
    meta = pd.read_parquet(out).attrs
    assert meta["model_uri"] == str(model) and meta["model_version"] is None
    flags = meta["flags"]
    scored = pd.read_parquet(out)
    assert flags["payments"] == int(scored["flag"].sum()) and flags["budget_per_day"] == 10
    assert flags["customers_per_day"] == {"2026-02-05": scored.loc[scored["flag"], "customer_id"].nunique()}
    printed = capsys.readouterr().out
    assert "alert budget: 10 customers a day (evaluate.k), 10 over 1 day(s)" in printed
    assert "warning" not in printed


def test_a_day_with_no_flag_is_warned_about(world, tmp_path: Path, capsys) -> None:
    model = _save_model(world, tmp_path, threshold=1.0)  # no score reaches 1.0
    new_file = tmp_path / "new.parquet"
    world["new"].to_parquet(new_file)
    out = tmp_path / "scored.parquet"
    assert score_cli(Params(), str(new_file), None, str(model), str(out), False) == 0
    printed = capsys.readouterr().out
    assert "flagged 0 payments (0 customers)" in printed
    assert (
        "warning: 1 day(s) had no flagged payment (2026-02-05); the threshold may be too strict "
        "for this data: `--top-k` flags the top 10 customers of each day"
    ) in printed
    assert pd.read_parquet(out).attrs["flags"]["customers_per_day"] == {"2026-02-05": 0}


def test_registry_version_resolves_aliases(tmp_path: Path, world) -> None:
    import mlflow

    from okml.tracking import registry_version

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/m.db")
    try:
        model = _save_model(world, tmp_path, world["threshold"])
        exp = mlflow.create_experiment("e", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=exp):
            mlflow.log_artifacts(str(model), "model")
            uri = f"runs:/{mlflow.active_run().info.run_id}/model"
        for _ in range(2):
            mlflow.register_model(uri, "fraud")
        mlflow.MlflowClient().set_registered_model_alias("fraud", "champion", "1")
        assert registry_version("models:/fraud@champion") == "fraud/1"
        assert registry_version("models:/fraud/2") == "fraud/2"
        assert registry_version("models:/fraud@nobody") is None
        assert registry_version(str(model)) is None
    finally:
        mlflow.set_tracking_uri(None)


def test_scoring_uses_the_configured_amount_bounds(world) -> None:
    """Data that loads with raised bounds must also score (it was validated again with the
    defaults)."""
    new = world["new"].copy()
    new.loc[new.index[0], "amount"] = 2e9
    params = Params().model_copy(update={"data": Params().data.model_copy(update={"amount_max": 1e10})})
    scored = score_transactions(_model(world, world["threshold"]), new, world["history"], params)
    assert len(scored) == len(new)
    with pytest.raises(DataError, match="above data.amount_max"):
        score_transactions(_model(world, world["threshold"]), new, world["history"], Params())


def test_the_report_defaults_to_the_model_that_scored_the_file(tmp_path: Path) -> None:
    from okml.jobs.report import _scored_attrs

    frame = pd.DataFrame({"a": [1]})
    frame.attrs["model_version"] = "okpay-fraud/3"
    frame.to_parquet(tmp_path / "s.parquet")
    assert _scored_attrs(tmp_path / "s.parquet")["model_version"] == "okpay-fraud/3"
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    assert "model_version" not in _scored_attrs(tmp_path / "plain.parquet")
