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
3. the precision estimated at the operating point (``monitor.calibration``, the other way
   beside it: on the reference week with the labels known at the last night, or rolling, each
   day from the recent days' labels known before it) against the realised one with every
   label the data holds; and the noise bound: the share of days on which any estimate made
   without the day's labels could at best land within 0.05, since the realised precision of
   a dozen flags moves in steps of 1/n (Poisson binomial of the calibrated probabilities,
   or of the realised precision itself as if its mean were known);
4. ``okml monitor`` itself (papermill, page, MLflow) over the last 30 days, timed.

    .venv/bin/python bench/monitor.py [--before 60] [--after 10] [--page PATH] [--set KEY=VALUE]

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
from okml.config import MonitorParams, load_params
from okml.data import load
from okml.jobs.monitor import build_inputs, write_monitor
from okml.jobs.train import retrain
from okml.monitor import Alarm, MonitorInputs, Windows, analyse, stats
from okml.monitor.signals import calibration_delays, estimated_precision, flagged_probabilities
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


def precision_of(inputs: MonitorInputs, as_of: pd.Timestamp, mp: MonitorParams) -> pd.DataFrame:
    """The estimated precision of each day with the labels known at ``as_of``, as analyse
    computes it."""
    return estimated_precision(inputs, as_of, calibration_delays(inputs.train, as_of), mp)[0]


def precision_table(
    mode: str,
    est: pd.DataFrame,
    real: pd.Series,
    flagged: pd.Series,
    oos: pd.Series,
    w: Windows,
    start: pd.Timestamp,
) -> float:
    """Print the rows of one calibration (estimate against realised, per day and pooled
    over 7 days); return its share of out-of-sample days within 0.05."""
    both = pd.DataFrame(
        {"est": est["precision_est"], "low": est["precision_low"], "high": est["precision_high"],
         "real": real, "flagged": flagged}
    ).loc[real.notna()]  # fmt: skip
    err = (both["est"] - both["real"]).abs()
    inside = (both["real"] >= both["low"]) & (both["real"] <= both["high"])
    groups = {
        "all with flags": pd.Series(True, index=both.index),
        "not in the training window": oos.reindex(both.index, fill_value=False),
        f"live (from {start:%Y-%m-%d})": pd.Series(both.index >= start, index=both.index),
    }
    for name, m in groups.items():
        has = m & both["est"].notna()
        within = (err[m] <= 0.05).sum() / max(int(m.sum()), 1)  # NaN is a miss
        bias = (both["est"] - both["real"])[has].mean()
        print(f"| {mode} | {name} | {int(m.sum())} | {int(has.sum())} | {within:.0%} | "
              f"{err[has].mean():.3f} | {bias:+.3f} | {inside[has].mean():.0%} |")  # fmt: skip
    # pooled over 7 days (flag-weighted), out of sample, where every one of the 7 has an estimate
    pooled = both.assign(e=both["est"] * both["flagged"], r=both["real"] * both["flagged"])
    roll = pooled[["e", "r", "flagged"]].rolling(7, min_periods=7).sum().dropna()
    err7 = ((roll["e"] - roll["r"]) / roll["flagged"]).abs()
    oos7 = ~((roll.index >= w.train_start) & (roll.index < w.train_end + 6 * DAY))
    print(f"| {mode} | trailing 7 days, out of sample | {int(oos7.sum())} | {int(oos7.sum())} | "
          f"{(err7[oos7] <= 0.05).mean():.0%} | {err7[oos7].mean():.3f} | | |")  # fmt: skip
    m = groups["not in the training window"]
    return float((err[m] <= 0.05).sum() / max(int(m.sum()), 1))


def noise_bound(
    inputs: MonitorInputs,
    as_of: pd.Timestamp,
    mp: MonitorParams,
    real: pd.Series,
    flagged: pd.Series,
    oos: pd.Series,
) -> dict[str, tuple[float, float, str]]:
    """The best share of out-of-sample days any estimate without labels could land within
    0.05 of the realised precision, if each day's outcomes were the Poisson binomial of
    (a) the flagged payments' calibrated probabilities, (b) n draws of the realised
    precision itself (its mean known exactly); with the probability of reaching 80% of the
    days (a Poisson binomial over the days) and the estimate's own expected share."""
    probs, _ = flagged_probabilities(inputs, as_of, calibration_delays(inputs.train, as_of), mp)
    est = precision_of(inputs, as_of, mp)["precision_est"]
    days = list(real.index[oos])
    need = math.ceil(0.8 * len(days) - 1e-9)
    out = {}
    cal = [stats.best_window(probs[d])[1] if d in probs else 0.0 for d in days]
    own = [
        stats.within_probability(probs[d], float(est.get(d, math.nan))) if d in probs else 0.0 for d in days
    ]
    oracle = [stats.best_window(np.full(int(flagged[d]), float(real[d])))[1] for d in days]
    for name, p in ((f"calibrated probabilities ({mp.calibration})", cal), ("realised mean known", oracle)):
        tail = float(stats.poisson_binomial_pmf(np.nan_to_num(p))[need:].sum())
        out[name] = (float(np.mean(p)), tail, f"{np.nanmean(own):.0%}" if name.startswith("cal") else "")
    return out


def bound_hits(
    inputs: MonitorInputs, as_of: pd.Timestamp, mp: MonitorParams, real: pd.Series, oos: pd.Series
) -> float:
    """The share of out-of-sample days on which the centre of the day's most probable
    +-0.05 window lands within 0.05 of the realised precision (1e-9 of slack: the window's
    ends are k/n exactly)."""
    probs, _ = flagged_probabilities(inputs, as_of, calibration_delays(inputs.train, as_of), mp)
    days = list(real.index[oos])
    hits = [d in probs and abs(stats.best_window(probs[d])[0] - float(real[d])) <= 0.05 + 1e-9 for d in days]
    return float(np.mean(hits))


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
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter, as okml --set does (e.g. evaluate.rings_first=true)",
    )
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (run on an idle machine)")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        overrides = [
            f"mlflow.tracking_uri=sqlite:///{store / 'mlflow.db'}",
            f"mlflow.artifact_root={store / 'artifacts'}",
            f"explain.report_dir={store / 'reports'}",
            *args.sets,
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
        print(
            "\nestimated (labels known on the last night) against realised precision (every label), per day"
            " (a day without an estimate counts as a miss):"
        )
        print("| calibration | days | n | estimated | within 0.05 | mean abs error | bias | "
              "realised inside the 90% interval |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        flagged = d["alerts"]
        seen = until(inputs, last)  # what the last night's run sees
        oos = real.notna() & ~((real.index >= w.train_start) & (real.index < w.train_end))
        shares = {}
        for mode in ("reference", "rolling"):
            mp_mode = mp.model_copy(update={"calibration": mode})
            est = d if mode == mp.calibration else precision_of(seen, last + DAY, mp_mode)
            shares[mode] = precision_table(mode, est, real, flagged, oos, w, start)
        share = shares[mp.calibration]
        # ------------------------------------------------------------------- noise bound
        bound = noise_bound(seen, last + DAY, mp, real, flagged, oos)
        print(
            f"\nnoise bound ({int(oos.sum())} out-of-sample days with flags, {flagged[oos].mean():.1f} "
            "flagged a day): the realised precision of n flags only takes the values k/n, so no estimate "
            "made without the day's labels lands within 0.05 of it more often than the most probable "
            "+-0.05 window holds (Poisson binomial, independent payments)"
        )
        print("| outcomes drawn from | best possible share of days within 0.05 | "
              "P(>= 80% of the days) | the estimate's own expected share |")  # fmt: skip
        print("|---|---|---|---|")
        for name, row in bound.items():
            print(f"| {name} | {row[0]:.0%} | {row[1]:.1e} | {row[2]} |")
        print(
            f"the centre of each day's best window (the estimator the bound assumes, {mp.calibration} "
            f"calibration) realised: {bound_hits(seen, last + DAY, mp, real, oos):.0%} of the days"
        )
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
