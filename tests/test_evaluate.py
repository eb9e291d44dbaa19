"""evaluate_scores, plots, and run_evaluation end to end on tiny simulated data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# the hand-made frame of tests/test_metrics.py: day, hour, customer, score, fraud, amount, type
from test_metrics import ROWS, _ts  # noqa: E402

from okml.config import Params, params_from_dict
from okml.errors import ConfigError, DataError
from okml.evaluate import evaluate_scores, operating_flags, plots, ranking_priority, scored_frame
from okml.evaluate.metrics import cost_curve, daily_top_k
from okml.evaluate.splits import make_folds
from okml.features import build_features
from okml.jobs.data import load_transactions
from okml.jobs.evaluate import EvaluationResult, run_evaluation

PNG = b"\x89PNG\r\n\x1a\n"


def _test_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(ROWS))],
            "timestamp": [_ts(d, h) for d, h, *_ in ROWS],
            "customer_id": [r[2] for r in ROWS],
            "merchant_id": "m1",
            "amount": [r[5] for r in ROWS],
            "is_fraud": np.array([r[4] for r in ROWS], dtype="int8"),
            "fraud_type": pd.array([r[6] for r in ROWS], dtype="string"),
        }
    )


SCORES = np.array([r[3] for r in ROWS])


# ---------------------------------------------------------------------- evaluate_scores
def test_evaluate_scores_top_k_by_hand() -> None:
    params = params_from_dict({"evaluate": {"k": 2, "fpr": 0.25, "rings_first": False}})  # score order
    res = evaluate_scores(_test_frame(), SCORES, params)
    # the values of tests/test_metrics.py, gathered in one dict
    assert res["cp_at_k"] == pytest.approx(2 / 3)
    # perfect ranking: day 1 c1, c3 (2/2, both caught); day 2 c5 then c4 (1/2); day 3 c6 (1/1)
    assert res["cp_at_k_max"] == pytest.approx(2.5 / 3)
    assert res["caught_amount"] == 430 and res["missed_amount"] == 90
    assert res["alerts_per_day"] == pytest.approx(5 / 3)
    assert res["expected_cost"] == 5 * 5 + 2 * 2 + 90
    assert res["recall.ato"] == 1.0 and res["recall.card"] == pytest.approx(1 / 3)
    assert res["n_transactions"] == 10 and res["n_frauds"] == 6
    assert math.isnan(res["threshold"])
    # legit scores 0.8 0.6 0.2 0.1; frauds 0.95 0.9 0.7 0.6 0.3 0.1: AUC by pair counting
    # 0.95, 0.9: beat 4 each; 0.7: 3; 0.6: 2 + tie 0.5; 0.3: 2; 0.1: tie 0.5 -> 16/24
    assert res["auc"] == pytest.approx(16 / 24)
    # fpr 0.25 allows one false positive (0.8): threshold 0.7 catches 0.95, 0.9, 0.7
    assert res["recall_at_fpr"] == pytest.approx(3 / 6)
    assert set(res) >= {
        "ap",
        "alert_precision",
        "false_alerts_per_day",
        "compensation",
        "fraud_amount",
        "recall",
    }


def test_evaluate_scores_cost_operating_point() -> None:
    params = params_from_dict({"evaluate": {"operating_point": "cost", "k": 2, "rings_first": False}})
    res = evaluate_scores(_test_frame(), SCORES, params, threshold=0.65)
    assert res["threshold"] == 0.65
    assert res["caught_amount"] == 370 and res["expected_cost"] == 3 * 5 + 2 + 150
    with pytest.raises(ConfigError, match="pass the threshold"):
        evaluate_scores(_test_frame(), SCORES, params)


def test_evaluate_scores_accepts_the_evaluate_section_and_checks_length() -> None:
    params = params_from_dict({"evaluate": {"k": 2, "rings_first": False}})
    assert evaluate_scores(_test_frame(), SCORES, params.evaluate)["cp_at_k"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="9 scores for 10 transactions"):
        evaluate_scores(_test_frame(), SCORES[:9], params)


# -------------------------------------------------------------------------- rings first
RINGS = {"evaluate": {"k": 2, "rings_first": True}}  # the model need not have the graph family
# c3's day-1 payment (score 0.3) is in a hard group of 4 accounts; c3's day-2 payment in one
# of 3 (below MIN_SIZE); c4's day-1 payment has no device (NaN)
GROUP_SIZES = pd.DataFrame({"graph_group_size_7d": [1, 1, 2, 4, np.nan, 1, 3, 1, 1, 1]})


def test_ranking_priority_puts_ring_payments_first() -> None:
    params = params_from_dict(RINGS)
    bump = np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ranking_priority(SCORES, GROUP_SIZES, params.features), SCORES + bump)
    plain = ranking_priority(SCORES, None, params.features, rings_first=False)
    np.testing.assert_array_equal(plain, SCORES)


def test_rings_first_flags_a_ring_payment_above_a_higher_lone_one() -> None:
    frame = _test_frame()
    params = params_from_dict(RINGS)
    scored = scored_frame(frame, SCORES, ranking_priority(SCORES, GROUP_SIZES, params.features))
    # day 1: c3 (0.3 + 1) and c1 (0.9) alerted, c2 (0.8, lone) not; both caught. day 2: c4 and
    # c5 (tied 0.6, by id); day 3: c6. In score order c2 takes c3's place (tests/test_metrics.py)
    assert operating_flags(scored, params).tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 1, 1]
    assert operating_flags(scored.drop(columns="priority"), params).tolist() == [1, 0, 1, 0, 0, 0, 1, 1, 0, 1]
    res = evaluate_scores(frame, SCORES, params, features=GROUP_SIZES)
    plain = evaluate_scores(frame, SCORES, params_from_dict({"evaluate": {"k": 2, "rings_first": False}}))
    # card frauds: c3 day 1 flagged, c3 day 2 blocked, c5 flagged (score order: c3 day 2 only)
    assert res["recall.card"] == 1.0 and plain["recall.card"] == pytest.approx(1 / 3)
    assert res["recall"] == 1.0
    # day 1: c3, c1 both frauds; day 2: c4 legit, c5 fraud; day 3: c6 -> (1 + 0.5 + 1) / 3
    assert res["cp_at_k"] == pytest.approx(2.5 / 3) and plain["cp_at_k"] == pytest.approx(2 / 3)
    assert res["cp_at_k_max"] == plain["cp_at_k_max"]


def test_rings_first_needs_the_group_sizes() -> None:
    params = params_from_dict(RINGS)
    with pytest.raises(ConfigError, match="evaluate.rings_first: no graph_group_size_7d for the payments"):
        evaluate_scores(_test_frame(), SCORES, params)
    with pytest.raises(ConfigError, match="pass all the params"):
        evaluate_scores(_test_frame(), SCORES, params.evaluate, features=GROUP_SIZES)


# ------------------------------------------------------------------------------- plots
def test_plots_write_png_atomically(tmp_path: Path) -> None:
    frame = _test_frame().assign(score=SCORES)
    y = frame["is_fraud"].to_numpy()
    per_day, _ = daily_top_k(frame, 2)
    figures = {
        "roc": plots.roc_figure(y, SCORES),
        "pr": plots.precision_recall_figure(y, SCORES),
        "dist": plots.score_distribution_figure(y, SCORES),
        "cp": plots.cp_at_k_figure(per_day.assign(fold=0), 2),
        "cost": plots.cost_figure(cost_curve(frame, Params().evaluate.cost), chosen=0.65),
        "cal": plots.calibration_figure(y, SCORES),
    }
    for name, fig in figures.items():
        path = plots.save_figure(fig, tmp_path / "sub" / f"{name}.png")
        assert path.read_bytes()[:8] == PNG
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(
        f"{n}.png" for n in figures
    )  # no temporary files left behind


# ------------------------------------------------------------------------ end to end
TINY = {
    "simulate": {
        "seed": 1,
        "n_customers": 300,
        "n_merchants": 80,
        "n_days": 45,
        "start": "2026-01-01",
        "account_takeover": {"victims_per_1000_customers": 40},
        "fake_orders": {"rings": 2, "orders_per_ring": 40},
        "compromised_merchant": {"merchants": 2},
        "forged_identity": {"accounts": 10},
        "new_pattern": {"victims_per_1000_customers": 20},
    },
    "split": {"train_days": 14, "delay_days": 7, "test_days": 7, "n_folds": 2},
    "model": {"n_estimators": 20, "max_depth": 3, "n_jobs": 1},
    "evaluate": {
        "k": 5,
        "candidates": [
            {"kind": "xgboost", "imbalance": "class_weight"},
            {"kind": "logistic", "imbalance": "undersample", "name": "lr"},
        ],
    },
}


def tiny_params(tmp: Path, **sections: dict) -> Params:
    raw = {k: dict(v) for k, v in TINY.items()}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    raw["data"] = {"path": str(tmp / "tx.parquet"), **raw.get("data", {})}
    raw["simulate"]["output"] = str(tmp / "tx.parquet")
    raw["evaluate"]["output"] = str(tmp / "evaluation")
    return params_from_dict(raw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Params, EvaluationResult]:
    tmp = tmp_path_factory.mktemp("eval")
    params = tiny_params(tmp)
    return params, run_evaluation(params, progress=False)


def test_run_evaluation_writes_every_output(tiny) -> None:
    params, result = tiny
    out = Path(params.evaluate.output)
    assert result.output_dir == out
    expected = {
        "comparison.csv",
        "folds.csv",
        "comparison.md",
        "scores.parquet",
        "roc.png",
        "precision_recall.png",
        "score_distribution.png",
        "cp_at_k_by_day.png",
        "cost_threshold.png",
        "calibration.png",
    }
    assert {p.name for p in out.iterdir()} == expected
    assert {p.name for p in result.files} == expected
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == PNG
    # the data were simulated because the default path was missing
    assert Path(params.data.path).exists()


def test_run_evaluation_tables(tiny) -> None:
    params, result = tiny
    assert [f.index for f in result.folds] == [0, 1]
    assert len(result.fold_metrics) == 4
    assert result.fold_metrics["model"].tolist() == ["xgboost:class_weight", "lr"] * 2
    assert list(result.summary.index) == ["xgboost:class_weight", "lr"]
    assert (result.summary["n_folds"] == 2).all()
    m = result.fold_metrics
    assert m["auc"].between(0, 1).all() and m["cp_at_k"].between(0, 1).all()
    assert (m["alerts_per_day"] <= 5).all()
    assert result.best in {"xgboost:class_weight", "lr"}
    best_mean = result.summary["cp_at_k_mean"].max()
    assert result.summary.loc[result.best, "cp_at_k_mean"] == best_mean
    csv = pd.read_csv(Path(params.evaluate.output) / "comparison.csv")
    assert csv["model"].tolist() == ["xgboost:class_weight", "lr"]
    assert {"auc_mean", "auc_std", "cp_at_k_mean", "missed_amount_mean"} <= set(csv.columns)
    md = (Path(params.evaluate.output) / "comparison.md").read_text()
    assert "| model" in md and "CP@5" in md and "fold 1 (train" in md and " ± " in md


def test_run_evaluation_scores_match_test_rows(tiny) -> None:
    params, result = tiny
    scores = pd.read_parquet(Path(params.evaluate.output) / "scores.parquet")
    assert list(scores.columns) == ["transaction_id", "fold", "model", "score"]
    assert len(scores) == int(result.fold_metrics["n_transactions"].sum())
    assert not scores.duplicated(["transaction_id", "model"]).any()  # test windows disjoint
    assert scores["score"].between(0, 1).all()
    # every scored transaction lies in its fold's test window
    tx = pd.read_parquet(params.data.path)[["transaction_id", "timestamp"]]
    merged = scores.merge(tx, on="transaction_id")
    for f in result.folds:
        t = merged.loc[merged["fold"] == f.index, "timestamp"]
        assert t.min() >= f.test_start and t.max() < f.test_end


def test_run_evaluation_cost_operating_point(tiny, tmp_path: Path) -> None:
    params, _ = tiny
    tx = load_transactions(params, progress=False)
    cost = tiny_params(
        tmp_path,
        evaluate={
            "operating_point": "cost",
            "cost_validation_days": 5,
            "candidates": [{"kind": "xgboost", "imbalance": "none"}],
            "select_metric": "expected_cost",
        },
    )
    result = run_evaluation(cost, progress=False, transactions=tx)
    thresholds = result.fold_metrics["threshold"]
    assert thresholds.notna().all()
    assert result.best == "xgboost:none"


def test_run_evaluation_rings_first_without_the_graph_in_the_model(tiny, tmp_path: Path) -> None:
    """The queue reads group sizes computed for it alone: the model and its scores are those
    of the plain run, the metrics those of the queue order."""
    from okml.evaluate.scoring import group_sizes
    from okml.features.graph import MIN_SIZE

    params, _ = tiny
    tx = load_transactions(params, progress=False)
    rings = tiny_params(tmp_path, evaluate={"rings_first": True})
    assert not rings.features.families.graph
    # four accounts paying in the first test week share one phone there: a ring
    first = make_folds(tx["timestamp"], rings.split)[0]
    week = ((tx["timestamp"] >= first.test_start) & (tx["timestamp"] < first.test_end)).to_numpy()
    ring = tx.loc[week, "customer_id"].drop_duplicates().iloc[:4]
    tx = tx.assign(device_id=tx["device_id"].where(~(week & tx["customer_id"].isin(ring)), "D-RING"))
    result = run_evaluation(rings, progress=False, transactions=tx)
    scores = pd.read_parquet(Path(rings.evaluate.output) / "scores.parquet")
    assert list(scores.columns) == ["transaction_id", "fold", "model", "score", "priority"]
    sizes = group_sizes(tx, rings.features).loc[scores["transaction_id"]].iloc[:, 0].to_numpy()
    np.testing.assert_allclose(scores["priority"], scores["score"] + (sizes >= MIN_SIZE))
    assert (scores["priority"] > 1).any()  # the ring is found
    # each fold's metrics are of the queue order
    fold = result.folds[0]
    part = scores[(scores["fold"] == fold.index) & (scores["model"] == "xgboost:class_weight")]
    test = tx.set_index("transaction_id").loc[part["transaction_id"]].reset_index()
    queue = pd.DataFrame({"graph_group_size_7d": sizes[part.index]})
    want = evaluate_scores(test, part["score"].to_numpy(), rings, features=queue)
    got = result.fold_metrics.query("fold == @fold.index and model == 'xgboost:class_weight'").iloc[0]
    assert got["cp_at_k"] == pytest.approx(want["cp_at_k"]) and got["ap"] == pytest.approx(want["ap"])
    assert "rings first" in (Path(rings.evaluate.output) / "comparison.md").read_text()


def test_group_sizes_are_the_graph_feature_and_none_without_devices(tiny, caplog) -> None:
    from okml.evaluate.scoring import group_sizes, ring_feature_params

    params, _ = tiny
    tx = load_transactions(params, progress=False)
    with_graph = ring_feature_params(params.features)
    full = build_features(tx, with_graph)
    got = group_sizes(tx, params.features)
    pd.testing.assert_frame_equal(got, full[["graph_group_size_7d"]])
    assert group_sizes(tx, with_graph, full) is not full  # read from the model's table
    pd.testing.assert_frame_equal(group_sizes(tx, with_graph, full), got)

    with caplog.at_level("WARNING", logger="okml.evaluate.scoring"):
        none = group_sizes(tx.drop(columns="device_id"), params.features)
    assert none.iloc[:, 0].isna().all() and list(none.index) == list(tx["transaction_id"])
    assert "no device_id column" in caplog.text and "the queue is in score order" in caplog.text


def test_run_evaluation_rejects_bad_settings(tiny, tmp_path: Path) -> None:
    params, _ = tiny
    tx = load_transactions(params, progress=False)
    with pytest.raises(ConfigError, match="select_metric: unknown metric 'cp'"):
        run_evaluation(
            tiny_params(tmp_path, evaluate={"select_metric": "cp"}), progress=False, transactions=tx
        )
    with pytest.raises(ConfigError, match="needs data from"):
        run_evaluation(tiny_params(tmp_path, split={"n_folds": 5}), progress=False, transactions=tx)
    with pytest.raises(ConfigError, match="cost_validation_days .* shorter than"):
        run_evaluation(
            tiny_params(tmp_path, evaluate={"operating_point": "cost", "cost_validation_days": 14}),
            progress=False,
            transactions=tx,
        )
    with pytest.raises(DataError, match="fold 0 .*no fraud among"):
        run_evaluation(tiny_params(tmp_path), progress=False, transactions=_without_test_frauds(tx))
    with pytest.raises(DataError, match="feature table has 3 rows"):
        run_evaluation(
            tiny_params(tmp_path),
            progress=False,
            transactions=tx,
            features=pd.DataFrame({"a": [1.0, 2.0, 3.0]}),
        )
    assert not (tmp_path / "evaluation").exists()  # nothing written on errors


def _without_test_frauds(tx: pd.DataFrame) -> pd.DataFrame:
    """Frauds kept before Feb 1 only, so the test windows (from Feb 1) have none."""
    early = tx["timestamp"] < pd.Timestamp("2026-02-01", tz="UTC")
    return tx.assign(is_fraud=tx["is_fraud"].where(early, 0).astype("int8"))


def test_write_plots_without_folds(tmp_path: Path) -> None:
    from okml.evaluate.plots import PLOT_FILES, write_plots

    scored = _test_frame().assign(score=SCORES)
    params = params_from_dict({"evaluate": {"k": 2}})
    paths = write_plots(scored, params, tmp_path)
    assert [p.name for p in paths] == list(PLOT_FILES)
    assert all(p.read_bytes()[:8] == PNG for p in paths)
