"""Benchmark ``okml.features.build_features`` against a plain pandas reference.

1. Simulates about 1.75 M transactions with ``okml.simulate`` (the default world with more
   customers) and times the full default feature set: seconds, rows/s, peak memory.
2. Times the way most people write the same windows in pandas: per customer and per
   merchant ``groupby(...).rolling(window, on="timestamp", closed="left")`` count and sum,
   for the windows both compute, and checks that the shared features agree.
3. Times the engine at 0.5 M, 1 M and 2 M rows (more customers, same period) to show that
   the cost grows linearly.
4. Prints the seconds each feature family takes in the full default set (best of the
   runs), and one line per target with PASS or FAIL and the measured figures: at least
   10x faster than the reference like for like, the full default set in at most a quarter
   of the reference's time (both measured in the same run), the full default set for
   1.75 M rows in under 10 s, peak memory under 4 GB, and linear growth (seconds per
   million rows at the largest size at most 1.25 times those at the smallest).

Each measurement runs in a fresh Python process reading the data from a Parquet file, so
its peak resident memory (VmHWM, after resetting it once the input is loaded) is its own.

The two definitions differ on purpose at the edges: okml's window at ``t`` is
``(t - w, t]`` plus earlier rows at the same instant (ordered by transaction id), pandas'
``closed="left"`` is ``[t - w, t)``. Simulated times are whole seconds, so ties and rows
exactly ``w`` apart happen; for the agreement check every timestamp gets a random
sub-second offset (same order, no ties), where the two definitions coincide.

    .venv/bin/python bench/features.py                    # everything (a few minutes)
    .venv/bin/python bench/features.py --no-reference --sizes 0.5 1

Run it alone: it measures wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from okml.config import FeatureParams, SimulateParams, format_duration, parse_duration

ROWS_PER_CUSTOMER = 332  # default world: 5000 customers -> about 1.66 M rows in 180 days

# targets
MIN_SPEEDUP = 10.0  # like for like, over the pandas groupby().rolling() reference
MAX_FULL_SHARE = 0.25  # the full default set, as a share of the reference's time
MAX_SECONDS = 10.0  # full default set at the main size (1.75 M rows)
MAX_PEAK_GB = 4.0  # peak resident memory of the full default set
MAX_GROWTH = 1.25  # seconds per M rows, largest size / smallest size


# ---------------------------------------------------------------------------- workers
def _rss_reset() -> int:
    """Current resident memory in bytes, and reset the high-water mark (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status("VmRSS")


def _status(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _windows(params: FeatureParams) -> list[tuple[str, str, list[tuple[str, pd.Timedelta]]]]:
    return [
        (
            key,
            prefix,
            [(format_duration(parse_duration(w)), pd.Timedelta(seconds=parse_duration(w))) for w in windows],
        )
        for key, prefix, windows in (
            ("customer_id", "cust", params.customer_windows),
            ("merchant_id", "merch", params.merchant_windows),
        )
    ]


def reference(tx: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Customer and merchant count/sum windows the usual vectorized pandas way."""
    out = pd.DataFrame(index=tx.index)
    for key, prefix, windows in _windows(params):
        d = tx[[key, "timestamp", "amount"]].sort_values([key, "timestamp"])
        for name, window in windows:
            roll = d.groupby(key).rolling(window, on="timestamp", closed="left")["amount"]
            # results come indexed (key, timestamp) in d's order: align by position
            for stat in ("count", "sum"):
                values = getattr(roll, stat)().fillna(0).to_numpy()
                out[f"{prefix}_{stat}_{name}"] = pd.Series(values, index=d.index)
    out.index = tx["transaction_id"].to_numpy()
    return out


def reference_apply(tx: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """The same windows written as the Fraud Detection Handbook does: ``groupby().apply``
    of a function that rolls over one customer's (merchant's) time-indexed payments."""
    parts = []
    for key, prefix, windows in _windows(params):

        def per_group(g: pd.DataFrame, prefix=prefix, windows=windows) -> pd.DataFrame:
            g = g.sort_values("timestamp")
            r = g.set_index("timestamp")["amount"]
            cols = {}
            for name, window in windows:
                roll = r.rolling(window, closed="left")
                cols[f"{prefix}_count_{name}"] = roll.count().fillna(0).to_numpy()
                cols[f"{prefix}_sum_{name}"] = roll.sum().fillna(0).to_numpy()
            return pd.DataFrame(cols, index=g.index)

        parts.append(tx.groupby(key, group_keys=False)[["timestamp", "amount"]].apply(per_group))
    out = pd.concat(parts, axis=1).loc[tx.index]
    out.index = tx["transaction_id"].to_numpy()
    return out


def worker(kind: str, path: str, out: str | None, repeat: int) -> dict:
    from okml.config import FeatureFamilies
    from okml.features import FAMILIES, build_features, engine

    tx = pd.read_parquet(path)
    params = FeatureParams()
    if kind == "engine_shared":  # only the families with the reference's windows
        only = {f: f in ("customer_velocity", "merchant") for f in FAMILIES}
        params = params.model_copy(update={"families": FeatureFamilies(**only)})
    compute = {"reference": reference, "apply": reference_apply}.get(kind, build_features)
    family_seconds: dict[str, list[float]] = {}
    if compute is build_features:
        _time_families(engine, family_seconds)
    base = _rss_reset()
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        feats = compute(tx, params)
        seconds.append(time.perf_counter() - t0)
        if len(seconds) < repeat:
            del feats
    peak = _status("VmHWM")
    if out:
        feats.to_parquet(out)
    return {
        "rows": len(tx),
        "features": feats.shape[1],
        "cold": seconds[0],  # first run in a fresh process: memory pages are new
        "seconds": min(seconds),
        "input_mb": base / 2**20,
        "peak_mb": peak / 2**20,
        "extra_mb": (peak - base) / 2**20,
        # per family, the run that was fastest overall (cold ones included in the list)
        "families": {f: s[seconds.index(min(seconds))] for f, s in family_seconds.items()},
    }


def _time_families(engine, seconds: dict[str, list[float]]) -> None:
    """Wrap each family function of the engine with a timer (this process only)."""
    for family, compute in list(engine._FAMILY.items()):

        def timed(ctx, want, family=family, compute=compute):
            t0 = time.perf_counter()
            out = compute(ctx, want)
            seconds.setdefault(family, []).append(time.perf_counter() - t0)
            return out

        engine._FAMILY[family] = timed


def run(kind: str, path: Path, repeat: int, out: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, str(path), "--repeat", str(repeat)]
    if out is not None:
        cmd += ["--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- main
def simulated(rows: float, folder: Path, jitter: bool = False) -> tuple[Path, int]:
    from okml.simulate import simulate

    customers = max(1, round(rows / ROWS_PER_CUSTOMER))
    tx = simulate(SimulateParams(n_customers=customers))
    if jitter:  # random sub-second offsets: same order of seconds, no ties
        rng = np.random.default_rng(0)
        offset = pd.to_timedelta(rng.integers(1, 999_999_999, len(tx)), unit="ns")
        tx = tx.assign(timestamp=tx["timestamp"] + offset)
    path = folder / f"tx_{rows:.0f}{'_jitter' if jitter else ''}.parquet"
    tx.to_parquet(path)
    return path, len(tx)


def line(label: str, r: dict) -> str:
    return (
        f"{label:<30}{r['rows']:>10,} {r['features']:>4} {r['cold']:>8.2f} {r['seconds']:>8.2f} "
        f"{r['rows'] / r['seconds']:>11,.0f} {r['peak_mb']:>8,.0f} {r['extra_mb']:>8,.0f}"
    )


HEADER = (
    f"{'':<30}{'rows':>10} {'feat':>4} {'cold s':>8} {'best s':>8} {'rows/s':>11} {'peak MB':>8} {'+MB':>8}"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1.75e6, help="main size (default 1.75e6)")
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="*",
        default=[0.5, 1.0, 2.0],
        help="scaling sizes in millions of rows (default 0.5 1 2)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--no-reference", action="store_true", help="skip the pandas reference")
    parser.add_argument(
        "--apply", action="store_true", help="also time the Handbook-style groupby().apply() version"
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.out, args.repeat)))
        return 0

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("cold: first run in a fresh process; best: fastest of --repeat runs; rows/s from best;")
    print("peak: resident memory high-water mark; +MB: over the loaded input\n")
    print(HEADER)
    verdicts: list[tuple[str, bool, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, n = simulated(args.rows, folder)
        main_run = run("engine", path, args.repeat)
        print(line("okml engine (default set)", main_run))
        verdicts.append(
            (
                f"full default set, {main_run['rows'] / 1e6:.2f} M rows, under {MAX_SECONDS:g} s",
                main_run["seconds"] < MAX_SECONDS,
                f"{main_run['seconds']:.2f} s best, {main_run['cold']:.2f} s cold "
                f"({main_run['features']} features)",
            )
        )
        verdicts.append(
            (
                f"peak memory under {MAX_PEAK_GB:g} GB",
                main_run["peak_mb"] < MAX_PEAK_GB * 1024,
                f"{main_run['peak_mb'] / 1024:.2f} GB peak ({main_run['extra_mb'] / 1024:.2f} GB over "
                "the loaded input)",
            )
        )

        if not args.no_reference:
            jittered, _ = simulated(args.rows, folder, jitter=True)
            ours = run("engine", jittered, args.repeat, folder / "ours.parquet")
            same = run("engine_shared", jittered, args.repeat)
            ref = run("reference", jittered, args.repeat, folder / "ref.parquet")
            print(line("okml engine, jittered times", ours))
            print(line("okml velocity+merchant only", same))
            print(line("pandas groupby().rolling()", ref))
            refs = [("groupby().rolling()", ref)]
            if args.apply:
                app = run("apply", jittered, 1, folder / "apply.parquet")
                print(line("pandas groupby().apply()", app))
                refs.append(("groupby().apply()", app))
            a = pd.read_parquet(folder / "ours.parquet")
            for label, _ in refs:
                b = pd.read_parquet(
                    folder / ("ref.parquet" if label.endswith("rolling()") else "apply.parquet")
                )
                diff = (a.loc[b.index, b.columns] - b).abs()
                print(
                    f"\n{label}: {b.shape[1]} shared features ({', '.join(b.columns)}); max abs diff "
                    f"counts {diff.filter(like='_count_').to_numpy().max():g}, "
                    f"sums {diff.filter(like='_sum_').to_numpy().max():.3g} CNY"
                )
            for label, r in refs:
                print(
                    f"speed-up over {label} (best s / best s): {r['seconds'] / same['seconds']:.1f}x like "
                    f"for like ({same['features']} features vs {r['features']}), "
                    f"{r['seconds'] / ours['seconds']:.1f}x with the engine computing all {ours['features']}"
                )
            speedup = ref["seconds"] / same["seconds"]
            share = ours["seconds"] / ref["seconds"]
            extra = same["features"] - ref["features"]
            verdicts.append(
                (
                    f"at least {MIN_SPEEDUP:g}x the pandas reference, like for like",
                    speedup >= MIN_SPEEDUP,
                    f"{speedup:.1f}x ({ref['seconds']:.2f} s / {same['seconds']:.2f} s; the engine's "
                    f"{same['features']} velocity and merchant features include {extra} means the "
                    "reference does not compute)",
                )
            )
            verdicts.append(
                (
                    f"full default set in at most 1/{1 / MAX_FULL_SHARE:g} of the pandas reference's "
                    "time (same run)",
                    share <= MAX_FULL_SHARE,
                    f"{ours['seconds']:.2f} s for all {ours['features']} features vs {ref['seconds']:.2f} s "
                    f"for the reference's {ref['features']} ({share:.2f} of it; best of {args.repeat} each, "
                    "jittered times)",
                )
            )
            print()

        per_m = []
        for size in args.sizes:
            p, _ = simulated(size * 1e6, folder)
            r = run("engine", p, args.repeat)
            per_m.append((r["rows"], r["seconds"] / r["rows"] * 1e6))
            print(line(f"scaling {size:g} M", r) + f"   {per_m[-1][1]:.2f} s per M rows")
            p.unlink()
        if len(per_m) >= 2:
            (small, a), (large, b) = min(per_m), max(per_m)
            verdicts.append(
                (
                    f"linear growth (s per M rows at {large / 1e6:.2f} M over {small / 1e6:.2f} M "
                    f"at most {MAX_GROWTH:g})",
                    b / a <= MAX_GROWTH,
                    f"{b / a:.2f} ({a:.2f} -> {b:.2f} s per M rows)",
                )
            )
    families = main_run["families"]
    print(f"\nfull default set by family ({main_run['rows'] / 1e6:.2f} M rows, seconds in the fastest run):")
    for family, seconds in families.items():
        print(f"  {family:<26}{seconds:>6.2f}")
    outside = main_run["seconds"] - sum(families.values())
    print(f"  {'outside the families':<26}{outside:>6.2f}  (ordering, checks, the table)")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print("\ntargets:")
    for label, ok, figure in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}: {figure}")
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
