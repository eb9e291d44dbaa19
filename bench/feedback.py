"""Alert feedback: Card Precision@k without and with feedback, pooled model and F+D ensemble.

In production the top k customers of each day are investigated and their labels are known
that same day (Dal Pozzolo et al., IEEE TNNLS 2017). ``okml evaluate`` with
``split.feedback: true`` walks each fold's test window day by day, gives the day's top-k
customers' payments their true label at the end of the day, and lets later days' features
see it (``okml.evaluate.feedback``). This script runs it with two candidates, the pooled
XGBoost model (``model`` of the params file) and the paper's learning strategy beside it
(``strategy: feedback_ensemble``: the same model averaged with one trained on the alerts of
the ``split.delay_days`` before each test day), on

1. the default OKPay data (``params.yaml``; simulated into ``data/raw/transactions.parquet``
   when missing): CP@10 without and with feedback, and recall at the daily top 10 per fraud
   type without and with it (compromised merchants should gain most: one confirmed case
   reveals the merchant);
2. the Fraud Detection Handbook's protocol (``params/handbook.yaml``; the data regenerated
   into ``data/handbook`` when missing, as ``bench/handbook.py`` does): the same rows at
   CP@100.

Mean ± standard deviation over the folds, then the wall time of each part.

    .venv/bin/python bench/feedback.py                      # both (about 6 minutes here)
    .venv/bin/python bench/feedback.py --protocol handbook
    .venv/bin/python bench/feedback.py --set model.n_estimators=100

The evaluations' files go to ``data/evaluation/feedback/<protocol>/``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import pandas as pd

from okml.config import Params, load_params

PROTOCOLS = {"default": None, "handbook": "params/handbook.yaml"}
STRATEGIES = {"pooled": "pooled", "feedback_ensemble": "F+D"}


def _params(protocol: str, overrides: list[str]) -> Params:
    candidates = (
        'evaluate.candidates=[{"kind": "xgboost", "imbalance": "none"}, '
        '{"kind": "xgboost", "imbalance": "none", "strategy": "feedback_ensemble"}]'
    )
    return load_params(
        PROTOCOLS[protocol],
        [
            "split.feedback=true",
            candidates,
            f"evaluate.output=data/evaluation/feedback/{protocol}",
            *overrides,
        ],
    )


def _ensure(protocol: str, params: Params) -> None:
    if protocol == "handbook":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from handbook import ensure_data  # bench/handbook.py

        ensure_data(params)


def _cell(row: pd.Series, metric: str) -> str:
    mean, std = row.get(f"{metric}_mean", math.nan), row.get(f"{metric}_std", math.nan)
    if mean is None or math.isnan(mean):
        return "n/a"
    return f"{mean:.3f}" + ("" if math.isnan(std) else f" ± {std:.3f}")


def report(summary: pd.DataFrame, k: int) -> str:
    """The CP@k table (without, with, gain) and recall by fraud type (without -> with)."""
    lines = [f"| model | CP@{k} | CP@{k} with feedback | gain |", "|---|---|---|---|"]
    for model, row in summary.iterrows():
        gain = row["cp_at_k_feedback_mean"] - row["cp_at_k_mean"]
        lines.append(
            f"| {model} | {_cell(row, 'cp_at_k')} | {_cell(row, 'cp_at_k_feedback')} | {gain:+.3f} |"
        )
    types = sorted(
        c[len("recall.") : -len("_mean")] for c in summary if c.startswith("recall.") and c.endswith("_mean")
    )
    lines += [
        "",
        f"recall at the daily top {k} by fraud type, without -> with feedback (mean over folds):",
        "",
    ]
    lines += [
        "| fraud type | " + " | ".join(map(str, summary.index)) + " |",
        "|---" * (len(summary) + 1) + "|",
    ]
    for t in [*types, None]:
        key, fb = (f"recall.{t}", f"recall_feedback.{t}") if t else ("recall", "recall_feedback")
        cells = [
            f"{row.get(f'{key}_mean', math.nan):.3f} -> {row.get(f'{fb}_mean', math.nan):.3f}"
            for _, row in summary.iterrows()
        ]
        lines.append(f"| {t or 'all frauds'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(protocol: str, overrides: list[str]) -> float:
    """Evaluate one protocol, print its tables; returns the wall time."""
    from okml.features import feature_matrix
    from okml.jobs.data import load_transactions
    from okml.jobs.evaluate import run_evaluation

    params = _params(protocol, overrides)
    started = time.perf_counter()
    _ensure(protocol, params)
    tx = load_transactions(params, progress=False)
    loaded = time.perf_counter()
    features = feature_matrix(tx, params.features, progress=False)
    built = time.perf_counter()
    result = run_evaluation(params, progress=False, transactions=tx, features=features)
    done = time.perf_counter()
    split = params.split
    print(
        f"\n== alert feedback, {protocol} protocol ({PROTOCOLS[protocol] or 'params.yaml'}): "
        f"{len(result.folds)} folds of {split.train_days} training / {split.delay_days} delay / "
        f"{split.test_days} test days, k = {params.evaluate.k}; {len(tx):,} transactions; "
        f"model.n_jobs={params.model.n_jobs}. Mean ± standard deviation over the folds.\n"
    )
    print(report(result.summary, params.evaluate.k))
    fm = result.fold_metrics.groupby("model", sort=False)[["fit_seconds", "feedback_seconds"]].sum()
    print(
        f"\ntime: {done - started:.0f} s (loading {loaded - started:.1f} s, features {built - loaded:.1f} s, "
        f"evaluation {done - built:.0f} s: "
        + ", ".join(
            f"{m} fit {r.fit_seconds:.0f} s + feedback walk {r.feedback_seconds:.0f} s"
            for m, r in fm.iterrows()
        )
        + ")"
    )
    return done - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--protocol", choices=[*PROTOCOLS, "both"], default="both", help="which data (default both)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter of both protocols, e.g. model.n_estimators=100",
    )
    args = parser.parse_args(argv)
    protocols = list(PROTOCOLS) if args.protocol == "both" else [args.protocol]
    walls = {p: run(p, args.overrides) for p in protocols}
    print(
        "\nwall time: "
        + ", ".join(f"{p} {s:.0f} s" for p, s in walls.items())
        + f"; total {sum(walls.values()):.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
