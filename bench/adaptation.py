"""Retraining adapts: recall on the simulator's late-starting fraud pattern, before and after.

Runs ``okml retrain`` twice on the default simulated data, in a temporary MLflow store:
once as of the day the new pattern starts (the champion has never seen it), then as of
``--days-after`` days later (its first labels have arrived). Prints both models' recall on
the new pattern and overall metrics on the same evaluation window, and the promotion decision.

    .venv/bin/python bench/adaptation.py [--days-after 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mlflow
import pandas as pd

from okml import tracking
from okml.config import load_params
from okml.jobs.train import retrain
from okml.simulate import new_pattern_start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--days-after", type=int, default=30, help="second retrain this many days after the pattern starts"
    )
    ap.add_argument("--params", default=None, help="params file (default: params.yaml)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        overrides = [
            f"mlflow.tracking_uri=sqlite:///{store / 'mlflow.db'}",
            f"mlflow.artifact_root={store / 'artifacts'}",
        ]
        params = load_params(args.params, overrides)
        start = new_pattern_start(params.simulate).floor("D")
        after = start + pd.Timedelta(days=args.days_after)
        runs = []
        for as_of in (start, after):
            t0 = time.perf_counter()
            retrain(params, as_of=as_of.strftime("%Y-%m-%d"), params_path=args.params, overrides=overrides)
            runs.append(time.perf_counter() - t0)
        tracking.configure(params.mlflow)
        client = mlflow.MlflowClient()
        name = params.mlflow.model_name
        first = client.get_model_version(name, "1")
        second = client.get_model_version(name, "2")
        m = client.get_run(second.run_id).data.metrics
        tags = client.get_run(second.run_id).data.tags
        print(
            f"\nnew pattern starts {start:%Y-%m-%d}; champion v1 trained as of {start:%Y-%m-%d}, "
            f"challenger v2 as of {after:%Y-%m-%d}"
        )
        print(
            f"evaluation window of the second retrain: {tags.get('fold')}; labels known by {after:%Y-%m-%d}\n"
        )
        rows = ["recall.new_pattern", "recall", "cp_at_k", "ap", "auc", "caught_amount", "missed_amount"]
        print(
            f"| metric (same window) | champion v{first.version} (before) | "
            f"challenger v{second.version} (after) |"
        )
        print("|---|---|---|")
        for r in rows:
            old, new = m.get(f"champion.{r}", float("nan")), m.get(r, float("nan"))
            fmt = "{:,.0f}" if r.endswith("amount") else "{:.3f}"
            print(f"| {r} | {fmt.format(old)} | {fmt.format(new)} |")
        print(f"\ndecision: {tags.get('promotion.reason')}")
        print(f"retrain wall times: {runs[0]:.1f} s, {runs[1]:.1f} s")


if __name__ == "__main__":
    main()
