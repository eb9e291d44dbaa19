"""Monitoring catches the new fraud pattern: which signal fires first, false alarms before it,
estimated against realised precision, and the time ``okml monitor`` takes for 30 days.

On the default data (``data.path``; ``make data`` writes it), in a temporary MLflow store:

1. ``okml retrain --as-of`` the day the simulator's new pattern starts (2026-05-01): the
   champion has never seen it (as ``bench/adaptation.py``; ``--champion-as-of`` an earlier
   day, so that fewer of the days before are days it was fitted on);
2. the champion is scored and explained once over the ``--before`` days before that day and
   the ``--after`` days from it; then ``okml.monitor.analyse`` runs as a daily cron job would:
   at go-live (labels known by 05-01) over the days before, then each night from 05-01 on
   with the labels known by then. An alarm whose first day is before 05-01 is a false
   alarm; the first whose first day is on or after it is the detection, dated by the night
   it was raised;
3. the precision estimated at the operating point (calibrated on the reference week with the
   labels known at the last night) against the realised one with every label the data holds;
4. ``okml monitor`` itself (papermill, page, MLflow) over the last 30 days, timed.

    .venv/bin/python bench/monitor.py [--before 60] [--after 10] [--page PATH]

Exit code 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from okml import tracking
from okml.config import load_params
from okml.data import load
from okml.jobs.monitor import build_inputs, write_monitor
from okml.jobs.train import retrain
from okml.monitor import Alarm, MonitorInputs, analyse
from okml.simulate import new_pattern_start

DAY = pd.Timedelta(days=1)


def until(inputs: MonitorInputs, last: pd.Timestamp) -> MonitorInputs:
    """The inputs of the days up to ``last`` (included): what a night's run would see."""
    keep = inputs.current["day"] <= last
    return dataclasses.replace(
        inputs,
        end=last + DAY,
        current=inputs.current.loc[keep].reset_index(drop=True),
        current_shap=inputs.current_shap.loc[inputs.current_shap["day"] <= last].reset_index(drop=True),
    )


def show(value: float, spec: str = "{:.3f}") -> str:
    return spec.format(value) if value is not None and math.isfinite(value) else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=int, default=60, help="days monitored before the pattern starts")
    ap.add_argument("--after", type=int, default=10, help="days monitored from the pattern's start")
    ap.add_argument("--params", default=None, help="params file (default: params.yaml)")
    ap.add_argument("--page", default=None, help="keep the 30-day monitoring page here (HTML)")
    ap.add_argument(
        "--champion-as-of",
        default=None,
        metavar="DATE",
        help="retrain the champion as of this day instead (earlier: more of the days before are unseen)",
    )
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (run on an idle machine)")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        overrides = [
            f"mlflow.tracking_uri=sqlite:///{store / 'mlflow.db'}",
            f"mlflow.artifact_root={store / 'artifacts'}",
            f"explain.report_dir={store / 'reports'}",
        ]
        params = load_params(args.params, overrides)
        start = new_pattern_start(params.simulate).floor("D")
        as_of = pd.Timestamp(args.champion_as_of, tz="UTC") if args.champion_as_of else start
        t0 = time.perf_counter()
        retrain(params, as_of=f"{as_of:%Y-%m-%d}", params_path=args.params, overrides=overrides)
        print(f"champion retrained as of {as_of:%Y-%m-%d} in {time.perf_counter() - t0:.0f} s")
        uri = tracking.model_uri(params.mlflow, tracking.CHAMPION)
        model = tracking.load_model(uri, params.mlflow)
        tx = load(params.data.path, params=params.data)
        first, last = start - args.before * DAY, start + (args.after - 1) * DAY
        t0 = time.perf_counter()
        inputs = build_inputs(params, model, first, last + DAY, tx=tx)
        print(f"scored and explained {len(inputs.current):,} payments of {args.before + args.after} days "
              f"in {time.perf_counter() - t0:.0f} s; {inputs.windows.describe()}\n")  # fmt: skip
        mp = params.monitor
        w = inputs.windows
        # ------------------------------------------------------- alarms, night by night
        at_go_live = analyse(until(inputs, start - DAY), mp, start)
        false_alarms = {(a.signal, a.first_day): a for a in at_go_live.alarms}
        detections: dict[str, tuple[pd.Timestamp, Alarm]] = {}  # signal -> the first night it fired
        nights = []
        for night in pd.date_range(start, last, freq="D"):
            result = analyse(until(inputs, night), mp, night + DAY)
            nights.append(result)
            for a in result.alarms:
                if a.first_day < start:
                    false_alarms.setdefault((a.signal, a.first_day), a)
                else:
                    detections.setdefault(a.signal, (night, a))
        final = nights[-1]
        data_end = tx["timestamp"].max().floor("D") + DAY
        mature = analyse(inputs, mp, data_end + 60 * DAY)  # every label the data holds
        # ------------------------------------------------------------- per-day table
        d = final.daily
        real = mature.daily["precision"]
        drift = (
            final.feature_drift.sort_values("psi", ascending=False).drop_duplicates("day").set_index("day")
        )
        new = final.type_recall.groupby("day")["new_frauds"].max() if not final.type_recall.empty else None
        print("| day | in | payments | flagged | score PSI | top-feature PSI (feature) | top-reason TV | "
              "est. precision [90%] | realised | new-type frauds labelled |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for day, r in d.iterrows():
            where = (
                "train" if w.train_start <= day < w.train_end
                else "ref" if w.reference_start <= day < w.reference_end
                else "live" if day >= start else "-"
            )  # fmt: skip
            feat = drift.loc[day] if day in drift.index else None
            top = f"{show(feat['psi'])} ({feat['column']})" if feat is not None else "-"
            est = "{} [{}, {}]".format(
                *(show(r[c], "{:.2f}") for c in ("precision_est", "precision_low", "precision_high"))
            )
            cells = [
                f"{day:%Y-%m-%d}",
                where,
                f"{r['payments']:,.0f}",
                f"{r['alerts']:.0f}",
                show(r["score_psi"]),
                top,
                show(r["top_reason_tv"], "{:.2f}"),
                est,
                show(real.get(day, math.nan), "{:.2f}"),
                show(new.get(day, math.nan), "{:.0f}") if new is not None else "-",
            ]
            print("| " + " | ".join(cells) + " |")
        # ------------------------------------------------------------------- alarms
        print("\nalarms raised by the nightly runs (night = the labels and days known by its end):")
        for night, a in detections.values():
            print(f"  night of {night:%Y-%m-%d}: {a.line()}")
        print(f"false alarms (first day before {start:%Y-%m-%d}): {len(false_alarms)}")
        for a in false_alarms.values():
            print(f"  {a.line()}")
        deadline = start + 3 * DAY
        first_hit = min(detections.values(), key=lambda x: (x[0], x[1].first_day)) if detections else None
        detected = first_hit is not None and first_hit[0] + DAY <= deadline
        if first_hit:
            night, a = first_hit
            after = (night + DAY - start).days
            print(
                f"first signal: {a.signal} (from {a.first_day:%Y-%m-%d}), raised by the run after "
                f"{night:%Y-%m-%d} ends, {after} day(s) after the pattern starts"
            )
        # ------------------------------------------------------- estimated precision
        both = pd.DataFrame(
            {"est": d["precision_est"], "low": d["precision_low"], "high": d["precision_high"],
             "real": real, "flagged": d["alerts"]}
        ).dropna()  # fmt: skip
        in_train = (both.index >= w.train_start) & (both.index < w.train_end)
        err = (both["est"] - both["real"]).abs()
        inside = (both["real"] >= both["low"]) & (both["real"] <= both["high"])
        print(
            "\nestimated (labels known on the last night) against realised precision (every label), per day:"
        )
        print("| days | n | within 0.05 | mean abs error | realised inside the 90% interval |")
        print("|---|---|---|---|---|")
        groups = {
            "all with flags": np.ones(len(both), bool),
            "not in the training window": ~in_train,
            f"live (from {start:%Y-%m-%d})": (both.index >= start),
        }
        for name, m in groups.items():
            within, mae, cover = (err[m] <= 0.05).mean(), err[m].mean(), inside[m].mean()
            print(f"| {name} | {m.sum()} | {within:.0%} | {mae:.3f} | {cover:.0%} |")
        # pooled over 7 days (flag-weighted)
        pooled = both.assign(e=both["est"] * both["flagged"], r=both["real"] * both["flagged"])
        roll = pooled[["e", "r", "flagged"]].rolling(7, min_periods=7).sum().dropna()
        err7 = ((roll["e"] - roll["r"]) / roll["flagged"]).abs()
        oos7 = ~((roll.index >= w.train_start) & (roll.index < w.train_end + 6 * DAY))
        print(f"| trailing 7 days, out of sample | {int(oos7.sum())} | {(err7[oos7] <= 0.05).mean():.0%} | "
              f"{err7[oos7].mean():.3f} | |")  # fmt: skip
        share = float((err[~in_train] <= 0.05).mean())
        # ----------------------------------------------------------- the command, timed
        cmd_first = f"{last - 29 * DAY:%Y-%m-%d}"
        t0 = time.perf_counter()
        page, daily, alarms = write_monitor(params, uri, cmd_first, f"{last:%Y-%m-%d}", model_version=None)
        wall = time.perf_counter() - t0
        print(f"\nokml monitor --from {cmd_first} --to {last:%Y-%m-%d}: {wall:.1f} s, {len(daily)} days, "
              f"{len(alarms)} alarm(s): " + "; ".join(a.line() for a in alarms))  # fmt: skip
        if args.page:
            shutil.copyfile(page, args.page)
            print(f"page kept at {args.page}")
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    targets = [
        (f"new pattern flagged within 3 days of {start:%Y-%m-%d}", detected),
        (f"at most one false alarm in the {args.before} days before", len(false_alarms) <= 1),
        (
            f"estimated precision within 0.05 of realised on >= 80% of out-of-sample days ({share:.0%})",
            share >= 0.8,
        ),
        (f"30 days monitored in <= 60 s ({wall:.1f} s)", wall <= 60),
    ]
    print()
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
