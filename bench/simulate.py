"""Benchmark ``okml.simulate``: rows, seconds, rows/s and peak memory per size.

Each size runs in a fresh Python process, so that its peak resident memory (``ru_maxrss``
of the child) is its own. Sizes multiply the default number of customers (or ``--customers``
gives them); the other defaults (merchants, days, fraud knobs) stay as in ``SimulateParams()``.
With ``--shards N`` each size is simulated as a sharded data set (``simulate.shards``) written
to a temporary folder, shard by shard; its time includes writing the files.

    .venv/bin/python bench/simulate.py               # default size and 4x customers
    .venv/bin/python bench/simulate.py --sizes 1 --write
    .venv/bin/python bench/simulate.py --customers 100000 --shards 20 --shares

Run it alone: it measures wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path

from okml.config import SimulateParams
from okml.io import write_parquet
from okml.simulate import Summary, simulate, write_shards

customers, write, shards = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
params = SimulateParams(n_customers=customers)
write_s = None
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    if shards:
        _, summary = write_shards(params, str(Path(tmp) / "tx"), shards=shards, progress=False)
        seconds = time.perf_counter() - t0
    else:
        df = simulate(params)
        seconds = time.perf_counter() - t0
        if write:
            t1 = time.perf_counter()
            write_parquet(df, Path(tmp) / "tx.parquet")
            write_s = time.perf_counter() - t1
        summary = Summary.of(df)
kinds = summary.kinds
print(json.dumps({
    "customers": params.n_customers,
    "rows": len(summary),
    "fraud_rate": float(kinds["count"].sum() / len(summary)),
    "shares": {k: float(v) / len(summary) for k, v in kinds["count"].items()},
    "seconds": seconds,
    "write_seconds": write_s,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
}))
"""


def run_size(customers: int, write: bool, shards: int = 0) -> dict:
    """Simulate ``customers`` in a child process (sharded when ``shards``); its measurements."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(customers), "1" if write else "0", str(shards)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1,4", help="comma-separated multiples of the default customers (default: 1,4)"
    )
    parser.add_argument("--customers", help="comma-separated numbers of customers (instead of --sizes)")
    parser.add_argument("--write", action="store_true", help="also time writing the Parquet file")
    parser.add_argument(
        "--shards", type=int, default=0, help="write a sharded data set of this many files (simulate.shards)"
    )
    parser.add_argument("--shares", action="store_true", help="also print the share of each fraud type")
    args = parser.parse_args(argv)
    from okml.config import SimulateParams

    base = SimulateParams().n_customers
    if args.customers:
        counts = [int(c) for c in args.customers.split(",") if c.strip()]
    else:
        counts = [max(1, round(base * float(s))) for s in args.sizes.split(",") if s.strip()]
    write = args.write and not args.shards

    header = f"{'size':>5} {'customers':>9} {'rows':>11} {'fraud':>7} {'seconds':>8} {'rows/s':>10}"
    header += f" {'write s':>8}" if write else ""
    print(header + f" {'peak MB':>8}" + (f"  (sharded: {args.shards} files)" if args.shards else ""))
    for customers in counts:
        r = run_size(customers, write, args.shards)
        line = (
            f"{customers / base:>4g}x {r['customers']:>9,} {r['rows']:>11,} {r['fraud_rate']:>7.3%} "
            f"{r['seconds']:>8.2f} {r['rows'] / r['seconds']:>10,.0f}"
        )
        line += f" {r['write_seconds']:>8.2f}" if write else ""
        print(line + f" {r['peak_mb']:>8,.0f}", flush=True)
        if args.shares:
            print("      " + ", ".join(f"{k} {v:.3%}" for k, v in sorted(r["shares"].items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
