"""Benchmark ``okml.simulate``: rows, seconds, rows/s and peak memory per size.

Each size runs in a fresh Python process, so that its peak resident memory (``ru_maxrss``
of the child) is its own. Sizes multiply the default number of customers; the other
defaults (merchants, days, fraud knobs) stay as in ``SimulateParams()``.

    .venv/bin/python bench/simulate.py               # default size and 4x customers
    .venv/bin/python bench/simulate.py --sizes 1 --write

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
from okml.simulate import simulate

scale, write = float(sys.argv[1]), sys.argv[2] == "1"
base = SimulateParams().model_dump()
params = SimulateParams(**{**base, "n_customers": max(1, round(base["n_customers"] * scale))})
t0 = time.perf_counter()
df = simulate(params)
seconds = time.perf_counter() - t0
write_s = None
if write:
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        write_parquet(df, Path(tmp) / "tx.parquet")
        write_s = time.perf_counter() - t1
print(json.dumps({
    "customers": params.n_customers,
    "rows": len(df),
    "fraud_rate": float(df["is_fraud"].mean()),
    "seconds": seconds,
    "write_seconds": write_s,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
}))
"""


def run_size(scale: float, write: bool) -> dict:
    """Simulate ``scale`` times the default customers in a child process; its measurements."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scale), "1" if write else "0"],
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
    parser.add_argument("--write", action="store_true", help="also time writing the Parquet file")
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]

    header = f"{'size':>5} {'customers':>9} {'rows':>11} {'fraud':>7} {'seconds':>8} {'rows/s':>10}"
    header += f" {'write s':>8}" if args.write else ""
    print(header + f" {'peak MB':>8}")
    for scale in sizes:
        r = run_size(scale, args.write)
        line = (
            f"{scale:>4g}x {r['customers']:>9,} {r['rows']:>11,} {r['fraud_rate']:>7.3%} "
            f"{r['seconds']:>8.2f} {r['rows'] / r['seconds']:>10,.0f}"
        )
        line += f" {r['write_seconds']:>8.2f}" if args.write else ""
        print(line + f" {r['peak_mb']:>8,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
