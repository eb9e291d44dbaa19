"""Regenerate notebooks/01_explore.ipynb and 02_train.ipynb from the cells below.

The notebooks are committed without outputs; edit them in JupyterLab or here, then run
``.venv/bin/python tools/make_notebooks.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python (okml)", "language": "python", "name": "okml"}


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:02d}"
    return nb


def params_cell(src: str):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


EXPLORE = notebook([
    new_markdown_cell(
        "# The dataset at a glance\n\n"
        "Volume and fraud over time, amounts by class and fraud type, how active customers and "
        "merchants are, how late labels and user reports arrive, and how features differ "
        "between fraud and legitimate payments.\n\n"
        "Parameters (papermill `-p`): `data_path` (default: `data.path` in params.yaml), "
        "`preset`, `start` / `end` (UTC dates, optional), `params_file`, `overrides`."),
    params_cell('params_file = None\noverrides = []\ndata_path = None\npreset = None\n'
                'start = None\nend = None\nsample_features = 200_000'),
    new_code_cell(
        "%matplotlib inline\n"
        "import pandas as pd\n\n"
        "from okml import explore\n"
        "from okml.config import load_params\n"
        "from okml.data import load, print_validation_summary\n"
        "from okml.features import build_features, describe\n\n"
        "params = load_params(params_file, overrides)\n"
        "path = data_path or params.data.path\n"
        "tx = load(path, preset=preset, params=params.data)\n"
        "if start:\n    tx = tx[tx['timestamp'] >= pd.Timestamp(start, tz='UTC')]\n"
        "if end:\n    tx = tx[tx['timestamp'] < pd.Timestamp(end, tz='UTC')]\n"
        "print_validation_summary(tx, source=path)"),
    new_markdown_cell("## Volume and fraud rate over time"),
    new_code_cell("explore.volume_figure(tx)"),
    new_markdown_cell("## Amounts by class and fraud type"),
    new_code_cell("explore.amount_figure(tx)"),
    new_markdown_cell("## Activity of customers and merchants"),
    new_code_cell("explore.activity_figure(tx)"),
    new_markdown_cell("## Label delay and user-report delay\n\nTraining at a date can only use "
                      "labels known by then; this is why splits leave a gap (`split.delay_days`)."),
    new_code_cell("explore.delay_figure(tx)"),
    new_markdown_cell("## Feature distributions by class\n\nOn a sample of the payments (features "
                      "are computed on the full history, then sampled)."),
    new_code_cell(
        "feats = build_features(tx, params.features)\n"
        "sample = feats.reset_index(drop=True).sample(min(sample_features, len(feats)), random_state=0)\n"
        "y = tx['is_fraud'].to_numpy()[sample.index] if 'is_fraud' in tx else None\n"
        "shown = [c for c in ['cust_count_1h', 'cust_amount_ratio_30d', 'seconds_since_prev',\n"
        "                     'merchant_risk_7d', 'device_customers_7d', 'first_merchant']\n"
        "         if c in sample.columns] or list(sample.columns[:6])\n"
        "explore.feature_figure(sample, y, shown) if y is not None else None"),
    new_code_cell("pd.DataFrame({'feature': shown, 'meaning': [describe(c) for c in shown]})"),
])

TRAIN = notebook([
    new_markdown_cell(
        "# Training run\n\n"
        "Run by `okml train` / `okml retrain` through papermill inside an MLflow run "
        "(`run_id`); it can also be run by hand in JupyterLab (nothing is logged then). "
        "It loads the data, builds point-in-time features, trains on the training window "
        "(labels known at go-live only), evaluates on the later test window and logs metrics, "
        "plots and the model."),
    params_cell("params_file = None\noverrides = []\nrun_id = None\ntracking_uri = None\n"
                "as_of = None\ncompare_with = None"),
    new_code_cell(
        "%matplotlib inline\n"
        "import time\n\n"
        "import pandas as pd\n\n"
        "from okml import train\n"
        "from okml.config import load_params\n"
        "from okml.evaluate import plots\n"
        "from okml.evaluate.compare import feature_matrix, load_transactions\n\n"
        "params = train.with_tracking_uri(load_params(params_file, overrides), tracking_uri)\n"
        "t0 = time.perf_counter()\n"
        "tx = load_transactions(params, progress=False)\n"
        "load_s = time.perf_counter() - t0\n"
        "print(train.describe_data(tx), f'(loaded in {load_s:.1f} s)')"),
    new_markdown_cell("## Features and training"),
    new_code_cell(
        "t0 = time.perf_counter()\n"
        "X = feature_matrix(tx, params, progress=False)\n"
        "features_s = time.perf_counter() - t0\n"
        "result = train.train_model(tx, params, as_of=as_of, features=X)\n"
        "result.timings.update(load_s=load_s, features_s=features_s)\n"
        "print(result.fold.name)\n"
        "pd.Series(result.timings).round(2)"),
    new_markdown_cell("## Metrics on the test window"),
    new_code_cell("train.metrics_table(result.metrics)"),
    new_code_cell("train.recall_by_type_table(result.metrics)"),
    new_markdown_cell("## Plots"),
    new_code_cell("y, s = result.scored['is_fraud'], result.scored['score']\n"
                  "plots.roc_figure(y, s)"),
    new_code_cell("plots.precision_recall_figure(y, s)"),
    new_code_cell("plots.score_distribution_figure(y, s)"),
    new_code_cell("train.cp_at_k_by_day_figure(result, params)"),
    new_markdown_cell("## Champion on the same window (retrain only)"),
    new_code_cell(
        "champion_metrics = {}\n"
        "if compare_with:\n"
        "    champion_metrics = train.compare_champion(result, tx, X, compare_with, params)\n"
        "    display(train.challenger_vs_champion(result.metrics, champion_metrics))"),
    new_markdown_cell("## Log to MLflow"),
    new_code_cell(
        "if run_id:\n"
        "    t0 = time.perf_counter()\n"
        "    model_uri = train.log_result(result, params, tx, run_id, extra_metrics=champion_metrics)\n"
        "    print(f'logged {model_uri} to run {run_id} ({time.perf_counter() - t0:.1f} s)')\n"
        "else:\n"
        "    print('no run_id: nothing logged (run `okml train` to track and register)')"),
])

if __name__ == "__main__":
    for name, nb in (("01_explore.ipynb", EXPLORE), ("02_train.ipynb", TRAIN)):
        nbformat.write(nb, ROOT / "notebooks" / name)
        print("wrote", name)
