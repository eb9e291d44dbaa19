"""notebooks/04_shap_explore.ipynb end to end: a champion and a challenger in a tmp store, the
notebook through papermill, the shap library's plots in its HTML."""

from __future__ import annotations

import nbformat
import pytest
import yaml

from okml import tracking
from okml.config import load_params
from okml.jobs.notebooks import export_html, run_notebook
from okml.jobs.train import train
from okml.simulate import simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("shap")
    raw = {
        "data": {"path": str(root / "tx.parquet")},
        "simulate": {
            "n_customers": 300,
            "n_merchants": 80,
            "n_days": 40,
            "seed": 3,
            "fake_orders": {"rings": 2},
            "forged_identity": {"accounts": 15},
        },
        "split": {"train_days": 10, "delay_days": 7, "test_days": 7},
        "model": {"n_estimators": 25, "max_depth": 4},
        "mlflow": {
            "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
            "artifact_root": str(root / "artifacts"),
        },
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    simulate(params.simulate).to_parquet(params.data.path, index=False)
    assert train(params, params_path=str(path), report=False) == 0  # v1: the champion
    other = load_params(path, ["model.kind=logistic", "model.imbalance=class_weight"])
    assert train(other, params_path=str(path), overrides=["model.kind=logistic"], report=False) == 0
    tracking.configure(params.mlflow)
    tracking.set_alias(params.mlflow, tracking.CHALLENGER, "2")
    return path


def test_shap_explore_runs_and_shows_the_shap_plots(store, tmp_path) -> None:
    out = run_notebook(
        "04_shap_explore.ipynb",
        tmp_path / "shap.ipynb",
        {"params_file": str(store), "n_rows": 300, "days": 5},
    )
    nb = nbformat.read(out, as_version=4)
    images = sum(
        "image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    # beeswarm, cohort bar, 3 scatters, 2-3 waterfalls, the challenger's beeswarm
    assert images >= 8, images
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "champion (v1)" in text and "challenger (v2)" in text
    html = export_html(out, tmp_path / "shap.html").read_text(encoding="utf-8")
    assert html.count("<img") >= 8 and "mean |SHAP|" in html
