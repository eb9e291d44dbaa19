"""Every model kind end to end: `okml train --set model.kind=...` registers a model whose
pyfunc scores raw transactions and whose report shows additive SHAP reasons."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from okml import tracking
from okml.cli import main
from okml.config import load_params
from okml.models.scorers import TOLERANCE
from okml.simulate import simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    data = root / "tx.parquet"
    sim = {
        "n_customers": 400,
        "n_merchants": 100,
        "n_days": 45,
        "seed": 11,
        "output": str(data),
        "fake_orders": {"rings": 2},
        "forged_identity": {"accounts": 20},
    }
    from okml.config import SimulateParams

    simulate(SimulateParams.model_validate(sim)).to_parquet(data, index=False)
    return root


def _project(root: Path, kind: str, imbalance: str) -> Path:
    store = root / kind
    raw = {
        "data": {"path": str(root / "tx.parquet")},
        "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
        "model": {"kind": kind, "imbalance": imbalance, "n_estimators": 30, "max_depth": 5},
        "explain": {"n_cases": 3, "report_dir": str(store / "reports"), "scored_dir": str(store / "scored")},
        "mlflow": {
            "tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
            "artifact_root": str(store / "artifacts"),
        },
    }
    path = store / "params.yaml"
    store.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("kind", "imbalance"), [("random_forest", "undersample"), ("logistic", "class_weight")]
)
def test_train_registers_every_kind_with_a_pyfunc_and_additive_reasons(world, kind, imbalance) -> None:
    project = _project(world, kind, imbalance)
    assert main(["train", "--params", str(project), "-q"]) == 0
    params = load_params(project)
    tracking.configure(params.mlflow)
    uri = f"models:/{params.mlflow.model_name}@champion"

    # the logged pyfunc scores raw canonical transactions, as the in-process scorer does
    tx = pd.read_parquet(params.data.path)
    scored = mlflow.pyfunc.load_model(uri).predict(tx)
    assert list(scored.columns) == ["transaction_id", "score"]
    assert scored["score"].between(0, 1).all() and scored["score"].std() > 0
    model = tracking.load_model(uri, params.mlflow)
    assert model.scorer.kind == kind

    # the run's report: reasons explained by the model's own, additive contributions
    reports = list(Path(params.explain.report_dir).glob("store-*/report-*.html"))
    assert len(reports) == 1
    page = reports[0].read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    space = "probability" if kind == "random_forest" else "log-odds"
    assert f"Contributions are in {space}" in page
    files = sorted(Path(params.explain.scored_dir).glob("*.parquet"))
    day = pd.read_parquet(files[-1])
    flagged = day[day["flag"]]
    assert len(flagged) and flagged["reason_1"].notna().any()
    reasons = [json.loads(r) for r in flagged["reasons"]]
    assert all(r["contribution"] > 0 for rs in reasons for r in rs)

    # additivity on the scored rows, checked again from the outside
    feats = day[[c for c in day if c.startswith("feat_")]].rename(columns=lambda c: c[5:])
    contrib, base, output = model.scorer.contributions(feats[model.columns])
    np.testing.assert_allclose(base + contrib.sum(axis=1), output, atol=TOLERANCE)
