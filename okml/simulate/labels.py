"""Late labels: chargebacks days to weeks after a payment, victims' reports of a whole incident
within hours, and fraud that is never labelled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from okml.config import SimulateParams
from okml.simulate.rows import Rows
from okml.simulate.tables import DAY, HOUR


@dataclass(frozen=True)
class LabelArrays:
    label_time: np.ndarray  # int64 seconds, NaT sentinel where unknown
    reported: np.ndarray  # bool
    report_time: np.ndarray  # int64 seconds, NaT sentinel where none

    def take(self, idx: np.ndarray) -> LabelArrays:
        return LabelArrays(self.label_time[idx], self.reported[idx], self.report_time[idx])


NAT = np.iinfo(np.int64).min  # numpy's NaT when viewed as datetime64


def draw_labels(
    p: SimulateParams, rows: Rows, reportable: np.ndarray, rng: np.random.Generator
) -> LabelArrays:
    """Label time, report flag and report time of every row.

    ``reportable[code]`` says whether victims of the fraud with that code report it (only real
    people do); legitimate rows (code 0) get no label.
    """
    q = p.labels
    n = len(rows)
    label_time = np.full(n, NAT, dtype=np.int64)
    reported = np.zeros(n, dtype=bool)
    report_time = np.full(n, NAT, dtype=np.int64)
    fraud = np.flatnonzero(rows.ftype > 0)
    if len(fraud) == 0:
        return LabelArrays(label_time, reported, report_time)
    ts, ftype = rows.ts[fraud], rows.ftype[fraud]
    # victims report a whole incident, some hours after its last payment
    key = ftype.astype(np.int64) * (np.int64(1) << 40) + rows.incident[fraud]
    incidents, inc = np.unique(key, return_inverse=True)
    last = np.full(len(incidents), np.iinfo(np.int64).min)
    np.maximum.at(last, inc, ts)
    inc_type = (incidents >> 40).astype(np.int8)
    reports = reportable[inc_type] & (rng.random(len(incidents)) < q.report_share)
    after = rng.lognormal(np.log(q.report_hours_median), 0.8, len(incidents)) * HOUR
    inc_report = last + after.astype(np.int64)
    rep = reports[inc]
    r_time = inc_report[inc]
    review = (rng.lognormal(np.log(3.0), 0.6, len(fraud)) * HOUR).astype(np.int64)
    # the rest wait for chargebacks and reviews: days to weeks, capped
    delay_days = np.minimum(rng.lognormal(np.log(q.delay_days_median), 0.6, len(fraud)), q.delay_days_max)
    delay = np.maximum(delay_days * DAY, HOUR).astype(np.int64)
    lt = np.where(rep, r_time + review, ts + delay)
    # never-labelled fraud comes from the unreported, sized so the overall share is as set
    share = q.never_labelled_share * len(fraud) / max(int((~rep).sum()), 1)
    never = ~rep & (rng.random(len(fraud)) < share)
    label_time[fraud] = np.where(never, NAT, lt)
    reported[fraud] = rep
    report_time[fraud] = np.where(rep, r_time, NAT)
    return LabelArrays(label_time, reported, report_time)
