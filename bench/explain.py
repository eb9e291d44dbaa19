"""Speed of scoring with reason codes, of SHAP + reason codes, and of the reviewers' report.

Simulates the default OKPay world (5,000 customers, ~10k payments a day) over a shorter
period, trains a quick XGBoost model on the first four weeks, then times:

1. ``score_transactions`` for one day and for one week (features from a 30-day look-back
   of history, score, flag at the threshold, rank, reasons for the flagged payments);
2. ``explain`` (TreeSHAP + grouped reason codes) for 1,000 payments      target < 2 s;
3. ``write_report`` for 50 cases (papermill on the okml kernel, HTML)    target < 60 s.

Usage::

    .venv/bin/python bench/explain.py                  # default world, 45 days
    .venv/bin/python bench/explain.py --customers 1000 --days 40 --trees 50

Wall times on a shared machine vary with its load; run it alone for stable figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd


def _timed(label: str, fn, results: dict[str, float]):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    out = fn()
    results[label] = time.perf_counter() - start
    print(f"  {label:<48} {results[label]:8.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=45, help="simulated days (>= 40)")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2, help="xgboost threads")
    parser.add_argument("--cases", type=int, default=50, help="cases in the report")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args(argv)
    if args.days < 40:
        parser.error("--days must be at least 40 (4 weeks of training, then a week to score)")

    import mlflow.pyfunc

    from okml.config import ModelParams, Params, SimulateParams
    from okml.evaluate import operating_threshold
    from okml.explain import explain
    from okml.features import build_features
    from okml.jobs.report import write_report
    from okml.models import build_estimator, final_booster, score_frame
    from okml.models.scorers import XGBoostScorer
    from okml.pyfunc import FraudModel, write_model_files
    from okml.score import FEATURE_PREFIX, score_transactions
    from okml.simulate import simulate

    results: dict[str, float] = {}
    params = Params()
    sim = SimulateParams(
        n_customers=args.customers, n_merchants=max(args.customers // 2.5, 10), n_days=args.days
    )
    print(f"setup ({args.customers:,} customers, {args.days} days, {args.trees} trees, n_jobs={args.jobs})")
    tx = _timed("simulate", lambda: simulate(sim), results)
    start = tx["timestamp"].min().floor("D")
    day = lambda n: start + pd.Timedelta(days=n)  # noqa: E731
    feats = _timed("features, whole period", lambda: build_features(tx, params.features), results)
    train = (tx["timestamp"] < day(28)).to_numpy()
    model_params = ModelParams(n_estimators=args.trees, n_jobs=args.jobs)
    est = _timed(
        "fit",
        lambda: build_estimator(model_params).fit(feats[train], tx["is_fraud"].to_numpy()[train]),
        results,
    )
    booster = final_booster(est)
    columns = list(feats.columns)
    valid = ((tx["timestamp"] >= day(28)) & (tx["timestamp"] < day(35))).to_numpy()
    held = tx.loc[valid, ["timestamp", "customer_id"]].assign(
        score=score_frame(booster, feats[valid], columns)
    )
    threshold = operating_threshold(held, params.evaluate.k)
    model = SimpleNamespace(
        booster=booster, feature_params=params.features, columns=columns, meta={"threshold": threshold}
    )
    print(f"  threshold for top {params.evaluate.k} customers a day: {threshold:.4f}")

    labels = ["is_fraud", "fraud_type", "label_time", "reported_by_user", "report_time"]
    last = args.days - 1
    one_day = (tx["timestamp"] >= day(last)) & (tx["timestamp"] < day(last + 1))
    week = tx["timestamp"] >= day(last - 6)
    print("\nscoring with reason codes")
    scored_day = _timed(
        f"one day ({int(one_day.sum()):,} payments)",
        lambda: score_transactions(
            model, tx[one_day].drop(columns=labels), tx[tx["timestamp"] < day(last)], params
        ),
        results,
    )
    scored_week = _timed(
        f"one week ({int(week.sum()):,} payments)",
        lambda: score_transactions(
            model, tx[week].drop(columns=labels), tx[tx["timestamp"] < day(last - 6)], params
        ),
        results,
    )
    print(
        f"  flagged: {int(scored_day['flag'].sum()):,} in the day, "
        f"{int(scored_week['flag'].sum()):,} in the week"
    )

    print("\nSHAP and reason codes")
    top = scored_week.sort_values("score", ascending=False).head(1000)
    cases = top[[FEATURE_PREFIX + c for c in columns]].set_axis(columns, axis=1)
    explained = _timed(
        f"{len(cases):,} payments, en (target < 2 s)",
        lambda: explain(booster, cases, columns, params.features, "en", 3, transactions=top["amount"]),
        results,
    )
    _timed(
        f"{len(cases):,} payments, zh",
        lambda: explain(booster, cases, columns, params.features, "zh", 3, transactions=top["amount"]),
        results,
    )
    print(f"  e.g. {explained.reasons.iloc[0][0].text if explained.reasons.iloc[0] else '-'}")

    if not args.skip_report:
        print("\nreviewers' report")
        with tempfile.TemporaryDirectory(prefix="okml-bench-") as tmp:
            folder = Path(tmp)
            arts = write_model_files(
                XGBoostScorer(booster, columns),
                params.features,
                folder / "files",
                extra={"threshold": threshold, "k": params.evaluate.k},
            )
            mlflow.pyfunc.save_model(
                str(folder / "model"), python_model=FraudModel(), artifacts=arts, pip_requirements=["xgboost"]
            )
            scored_file = folder / "scored.parquet"
            # the week: a day flags too few payments to fill a report of args.cases cases
            scored_week.to_parquet(scored_file, index=False)
            n_cases = min(args.cases, int(scored_week["flag"].sum()))
            rparams = params.model_copy(
                update={"explain": params.explain.model_copy(update={"n_cases": args.cases})}
            )
            out = _timed(
                f"{n_cases} cases (target < 60 s)",
                lambda: write_report(
                    rparams, scored_file, str(folder / "model"), None, folder / "report.html"
                ),
                results,
            )
            print(f"  HTML size: {out.stat().st_size / 1e6:.1f} MB")

    print("\nsummary (seconds; measured on a shared machine, so under load):")
    for label, seconds in results.items():
        print(f"  {label:<48} {seconds:8.2f}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
