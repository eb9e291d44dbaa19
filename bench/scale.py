"""Benchmark okml at OKPay's volume: the local engine and the dask engine side by side.

For each size (a multiple of the default 5000 customers: 1x is about 1.66 M payments, 20x
about 33 M) it simulates a sharded dataset (``simulate.shards``, in bounded memory), then
for each engine times, in a fresh process each:

* ``features``: the full default feature table, written as Parquet;
* ``train``: what ``okml train`` fits and evaluates (the latest fold; XGBoost with the
  default parameters; ``xgboost.dask`` on the dask engine);
* ``score``: the last week of the data scored with its history (local: the look-back of
  ``okml score``; dask: the whole history, on the cluster).

Each row gives rows, seconds, seconds per million payments, and the peak resident memory of
the step's whole process tree (this process's child plus the Dask scheduler, nannies and
workers, summed, sampled every 0.2 s). A step whose tree passes ``--memory-cap`` GiB is
stopped and reported as out of memory, so the machine never swaps. The LocalCluster is
sized from the machine (one worker per two cores); worker memory limits and spilling are
Dask's defaults under ``compute.dask``.

Targets (issue 12), printed as PASS/FAIL at the end:

* 20x completes end to end with the dask engine, where the local engine cannot;
* the dask engine's seconds per million payments grow by at most 1.3x from 1x to 20x;
* at 1x the dask engine takes at most 2x the local engine's time, with equal features;
* at 1x both engines train models whose AP differs by at most 0.01.

    .venv/bin/python bench/scale.py                       # 1x, 4x, 20x (about an hour here)
    .venv/bin/python bench/scale.py --sizes 1 --engines local dask

Run it alone: it measures wall time and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

CUSTOMERS = 5000  # the default world
ROWS_PER_SHARD = 800_000  # about 0.8 M payments per simulated shard
STEPS = ("features", "train", "score")


# ------------------------------------------------------------------------ the steps
def _params(data: Path, engine: str, work: Path):
    from okml.config import load_params

    return load_params(
        None,
        [
            f"data.path={data}",
            f"compute.engine={engine}",
            f"compute.dask.spill_dir={work / 'spill'}",
            f"explain.scored_dir={work / 'scored'}",
        ],
    )


def step_simulate(size: float, data: Path) -> dict:
    from okml.config import SimulateParams
    from okml.simulate import write_shards

    customers = round(CUSTOMERS * size)
    shards = max(1, round(customers * 332 / ROWS_PER_SHARD))
    _, summary = write_shards(SimulateParams(n_customers=customers), str(data), shards=shards, progress=False)
    return {"rows": len(summary), "shards": shards}


def step_features(engine: str, data: Path, work: Path) -> dict:
    params = _params(data, engine, work)
    out = work / f"features-{engine}"
    if engine == "dask":
        from okml.jobs.distributed import features_job

        rows, n = features_job(params, str(data), out, quiet=True)
        return {"rows": rows, "features": n}
    from okml.data import load
    from okml.features import build_features
    from okml.io import write_parquet

    tx = load(data, params=params.data)
    feats = build_features(tx, params.features)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(feats.reset_index(), out / "features.parquet")
    return {"rows": len(feats), "features": feats.shape[1]}


def step_train(engine: str, data: Path, work: Path) -> dict:
    from okml.jobs.train import fit_and_evaluate
    from okml.models import fraud_scorer

    params = _params(data, engine, work)
    run = fit_and_evaluate(params)
    r = run.result
    model = SimpleNamespace(
        scorer=fraud_scorer(r.estimator, r.feature_columns),
        feature_params=params.features,
        columns=r.feature_columns,
        meta={"threshold": r.threshold, "k": params.evaluate.k},
    )
    (work / f"model-{engine}.pkl").write_bytes(pickle.dumps(model))
    rows = (run.provenance or {}).get("data.rows", len(run.tx))
    m = r.metrics
    return {"rows": rows, "ap": m["ap"], "auc": m["auc"], "cp_at_k": m["cp_at_k"], **r.timings}


def step_score(engine: str, data: Path, work: Path) -> dict:
    import pandas as pd

    params = _params(data, engine, work)
    model = pickle.loads((work / f"model-{engine}.pkl").read_bytes())
    if engine == "dask":
        from okml.jobs.distributed import count_rows, dataset, score_window_dask

        ddf = dataset(params, columns=["timestamp"])
        end = pd.Timestamp(ddf["timestamp"].max().compute()).floor("D") + pd.Timedelta(days=1)
        scored = score_window_dask(params, model, end - pd.Timedelta(days=7), end)
        return {"rows": count_rows(data, params), "scored": len(scored), "flagged": int(scored["flag"].sum())}
    from okml.data import load
    from okml.score import score_transactions

    tx = load(data, params=params.data)
    start = tx["timestamp"].max().floor("D") - pd.Timedelta(days=6)
    new, history = tx[tx["timestamp"] >= start], tx[tx["timestamp"] < start]
    scored = score_transactions(model, new, history, params)
    return {"rows": len(tx), "scored": len(scored), "flagged": int(scored["flag"].sum())}


# ----------------------------------------------------------------------- measuring
def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(args: list[str], cap_gib: float, timeout: float) -> dict:
    """Run ``bench/scale.py --worker ARGS`` and sample its process tree's memory."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    peak, killed = 0, None
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, killed
        while not done.is_set():
            rss = _tree_rss(proc.pid)
            peak = max(peak, rss)
            if rss > cap_gib * 2**30 and killed is None:
                killed = f"out of memory: the process tree passed {cap_gib:g} GiB"
                for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
            done.wait(0.2)

    t0 = time.perf_counter()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        killed = f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    result: dict = {"seconds": seconds, "peak_gb": peak / 2**30}
    if killed or proc.returncode != 0:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        result["error"] = killed or (lines[-1] if lines else f"exit {proc.returncode}")
        return result
    result.update(json.loads(out.strip().splitlines()[-1]))
    return result


def _dataset_rows(data: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in data.glob("*.parquet"))


def _compare_features(work: Path) -> float:
    """Largest relative difference between the engines' feature tables (inf if NaNs differ)."""
    import numpy as np
    import pandas as pd

    local = pd.read_parquet(work / "features-local" / "features.parquet").set_index("transaction_id")
    files = sorted((work / "features-dask").glob("*.parquet"))
    dask = pd.concat([pd.read_parquet(f) for f in files]).set_index("transaction_id")
    dask = dask.loc[local.index, list(local.columns)]
    a, b = local.to_numpy(), dask.to_numpy()
    if not (np.isnan(a) == np.isnan(b)).all():
        return float("inf")
    return float(np.nanmax(np.abs(a - b) / np.maximum(1.0, np.abs(a))))


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4, 20], help="x default customers")
    parser.add_argument("--engines", nargs="+", default=["local", "dask"], choices=["local", "dask"])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--memory-cap", type=float, default=21.0, help="GiB per step's process tree")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per step")
    parser.add_argument("--work", help="folder for the data (default: a temporary one, removed)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "simulate":
            out = step_simulate(float(rest[0]), Path(rest[1]))
        else:
            fn = {"features": step_features, "train": step_train, "score": step_score}[kind]
            out = fn(rest[0], Path(rest[1]), Path(rest[2]))
        print(json.dumps(out, default=float))
        return 0

    root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="okml-scale-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; work in {root}")
    head = f"{'size':>5} {'engine':<6} {'step':<9}{'rows':>12} {'seconds':>9} {'s/M rows':>9} {'peak GB':>8}"
    print(head + "  note")
    results: list[dict] = []

    def show(size: float, engine: str, step: str, r: dict) -> None:
        rows = r.get("rows") or 0
        per_m = r["seconds"] / (rows / 1e6) if rows else float("nan")
        note = r.get("error", "")
        if step == "train" and "ap" in r:
            note = f"AP {r['ap']:.3f}, AUC {r['auc']:.3f}, CP@10 {r['cp_at_k']:.3f}"
        print(
            f"{size:>4g}x {engine:<6} {step:<9}{rows:>12,} {r['seconds']:>9.1f} {per_m:>9.2f} "
            f"{r['peak_gb']:>8.2f}  {note}",
            flush=True,
        )
        results.append({"size": size, "engine": engine, "step": step, **r})
        (root / "results.json").write_text(json.dumps(results, indent=1, default=float))

    diffs: dict[float, float] = {}
    try:
        for size in args.sizes:
            work = root / f"x{size:g}"
            data = work / "tx"
            work.mkdir(parents=True, exist_ok=True)
            if not data.exists():
                show(
                    size,
                    "-",
                    "simulate",
                    measure(["simulate", str(size), str(data)], args.memory_cap, args.timeout),
                )
            rows = _dataset_rows(data) if data.exists() else None
            for engine in args.engines:
                failed = False
                for step in args.steps:
                    if failed:
                        break
                    r = measure([step, engine, str(data), str(work)], args.memory_cap, args.timeout)
                    if rows and not r.get("rows"):
                        r["rows"] = rows
                    show(size, engine, step, r)
                    failed = "error" in r
            if {"local", "dask"} <= set(args.engines) and "features" in args.steps:
                if (work / "features-local").exists() and (work / "features-dask").exists():
                    diffs[size] = _compare_features(work)
                    print(f"{size:>4g}x features, dask vs local: max relative difference {diffs[size]:.3g}")
            for name in ("features-local", "features-dask", "scored", "spill"):
                shutil.rmtree(work / name, ignore_errors=True)
    finally:
        if not args.work:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    _verdicts(results, diffs)
    return 0


def _done(seconds: float | None) -> str:
    return f"done in {seconds:.0f} s" if seconds else "failed"


def _verdicts(results: list[dict], diffs: dict[float, float]) -> None:
    def total(size: float, engine: str) -> float | None:
        rows = [r for r in results if r["size"] == size and r["engine"] == engine]
        if not rows or any("error" in r for r in rows):
            return None
        return sum(r["seconds"] for r in rows)

    def get(size: float, engine: str, step: str) -> dict | None:
        return next((r for r in results if (r["size"], r["engine"], r["step"]) == (size, engine, step)), None)

    sizes = sorted({r["size"] for r in results})
    lines = []
    if sizes:
        big, small = max(sizes), min(sizes)
        dask_big, local_big = total(big, "dask"), total(big, "local")
        lines.append(
            (
                f"{big:g}x completes with the dask engine where the local one cannot",
                dask_big is not None and local_big is None,
                f"dask {_done(dask_big)}; local {_done(local_big)}",
            )
        )
        if big != small and dask_big and total(small, "dask"):
            rows_of = {s: next((r["rows"] for r in results if r["size"] == s and r.get("rows")), None)
                       for s in (small, big)}  # fmt: skip
            if rows_of[small] and rows_of[big]:
                a = total(small, "dask") / (rows_of[small] / 1e6)
                b = dask_big / (rows_of[big] / 1e6)
                lines.append((f"dask s per M rows grow at most 1.3x ({small:g}x -> {big:g}x)", b / a <= 1.3,
                              f"{a:.1f} -> {b:.1f} s per M rows ({b / a:.2f}x)"))  # fmt: skip
        if total(small, "dask") and total(small, "local"):
            d, loc = total(small, "dask") or 0.0, total(small, "local") or 1.0
            lines.append((f"at {small:g}x dask at most 2x the local time", d / loc <= 2,
                          f"{d:.0f} s vs {loc:.0f} s ({d / loc:.2f}x)"))  # fmt: skip
        if small in diffs:
            lines.append(
                (f"at {small:g}x features equal (1e-9)", diffs[small] <= 1e-9, f"max diff {diffs[small]:.3g}")
            )
        a, b = get(small, "local", "train"), get(small, "dask", "train")
        if a and b and "ap" in a and "ap" in b:
            lines.append((f"at {small:g}x AP within 0.01", abs(a["ap"] - b["ap"]) <= 0.01,
                          f"local {a['ap']:.3f}, dask {b['ap']:.3f}"))  # fmt: skip
    print("\ntargets:")
    for label, ok, figure in lines:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}: {figure}")


if __name__ == "__main__":
    sys.exit(main())
