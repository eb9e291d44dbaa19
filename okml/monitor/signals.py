"""Daily monitoring signals of a live model, frames in and frames out.

:func:`analyse` takes :class:`MonitorInputs` (what :mod:`okml.jobs.monitor` builds: the
training window's features, the reference week and the monitored days, scored and explained
by the model) and returns a :class:`MonitorResult`: one row per UTC day of every signal, the
long frames behind the page's charts, and the :class:`Alarm` s that cross
``monitor.thresholds``. Nothing here loads data or a model.

Two windows are the baseline, both from the model's training run (its ``fold``):

* the **training window** for the data: what the model learnt from;
* the **reference week**, the run's test window, for the model's outputs (scores, alerts,
  explanations, calibration): on the rows it was fitted on a model is surer than on any
  other day (in-sample scores), so its outputs are compared with a week it never saw.

Labels count as known when ``label_time <= as_of`` (default: the end of the last monitored
day), except by the rolling calibration of estimated precision (``monitor.calibration:
rolling``), which on each day counts only the labels known before that day began.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from okml.config import MonitorParams
from okml.monitor import stats

DAY = pd.Timedelta(days=1)
#: the input columns watched beside the features (``new_device``: first payment from the
#: device for its customer, the feature ``cust_first_device``)
INPUT_COLUMNS = ("amount", "channel", "merchant_category", "new_device")
CATEGORICAL = ("channel", "merchant_category")
_FOLD = re.compile(
    r"train (\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2}), test (\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})"
)


# ------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Windows:
    """The model's baselines: UTC midnights, ends exclusive."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    reference_start: pd.Timestamp
    reference_end: pd.Timestamp

    @classmethod
    def from_fold(cls, name: str | None) -> Windows | None:
        """Parse a training run's fold (``fold 0 (train 2026-03-13..2026-04-09, test
        2026-04-17..2026-04-23)``; days inclusive); None when it is not one.

        >>> w = Windows.from_fold("fold 0 (train 2026-03-13..2026-04-09, test 2026-04-17..2026-04-23)")
        >>> w.train_end.date(), w.reference_start.date()
        (datetime.date(2026, 4, 10), datetime.date(2026, 4, 17))
        """
        m = _FOLD.search(name or "")
        if not m:
            return None
        a, b, c, d = (pd.Timestamp(x, tz="UTC") for x in m.groups())
        return cls(a, b + DAY, c, d + DAY)

    def describe(self) -> str:
        last = self.reference_end - DAY
        return (
            f"training window {self.train_start:%Y-%m-%d}..{self.train_end - DAY:%Y-%m-%d}, "
            f"reference week {self.reference_start:%Y-%m-%d}..{last:%Y-%m-%d}"
        )


# --------------------------------------------------------------------------- inputs
@dataclass
class MonitorInputs:
    """What the signals are computed from.

    ``train`` holds the training window's rows: ``day``, the input columns, the model's
    feature columns, the labels, and its (in-sample) ``score`` and ``flag``, whose frauds'
    label delays tell how late labels come. ``reference`` and ``current`` hold scored rows
    (the reference week and the monitored days): ``day, timestamp, customer_id, amount,
    score, flag`` (the model's operating point), optionally ``priority`` (the queue order the
    flags were chosen in: :func:`queue_order`), ``top_reason`` (the group of a flagged
    payment's first reason) and the labels (``is_fraud, label_time, fraud_type`` where the
    data has them); ``current`` also the input and feature columns. ``reference_shap`` and
    ``current_shap`` hold the SHAP contributions of sampled payments (one column per
    feature; ``current_shap`` with ``day``).
    """

    columns: list[str]
    windows: Windows
    start: pd.Timestamp
    end: pd.Timestamp
    train: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame
    reference_shap: pd.DataFrame
    current_shap: pd.DataFrame
    threshold: float | None = None
    k: int = 10

    @property
    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end - DAY, freq="D")

    @property
    def input_columns(self) -> list[str]:
        return [c for c in INPUT_COLUMNS if c in self.train and c in self.current]


def day_of(timestamps: pd.Series) -> pd.Series:
    """The UTC day (midnight) of each timestamp."""
    return pd.to_datetime(timestamps, utc=True).dt.floor("D")


def top_reason_group(reasons_json: Any) -> str | None:
    """The group of the first reason in a scored file's ``reasons`` JSON (None if none)."""
    if not isinstance(reasons_json, str) or not reasons_json:
        return None
    items = json.loads(reasons_json)
    return str(items[0]["group"]) if items else None


# --------------------------------------------------------------------------- alarms
@dataclass(frozen=True)
class Alarm:
    """A threshold crossed: which, from which day, on how many days, by how much."""

    signal: str
    first_day: pd.Timestamp
    days: int
    message: str

    def line(self) -> str:
        n = f"first of {self.days} days" if self.days > 1 else "1 day"
        return f"{self.message} from {self.first_day:%Y-%m-%d} ({n})"


@dataclass
class MonitorResult:
    """Everything the page shows and MLflow records.

    ``daily`` is indexed by day; its numeric columns are the per-day metrics (names as
    logged, without the ``monitor.`` prefix). The long frames are the charts' data.
    """

    daily: pd.DataFrame
    feature_drift: pd.DataFrame
    input_drift: pd.DataFrame
    reasons: pd.DataFrame
    reference_reasons: pd.Series
    shap: pd.DataFrame
    type_recall: pd.DataFrame
    by_type: pd.DataFrame
    alarms: list[Alarm]
    top_features: list[str]
    reference: dict[str, float] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None

    def alarm_line(self) -> str:
        """One line naming every alarm, the earliest first (``""`` when none)."""
        ordered = sorted(self.alarms, key=lambda a: (a.first_day, a.signal))
        return "; also ".join(a.line() for a in ordered)


# ------------------------------------------------------------------------ data drift
def _day_positions(frame: pd.DataFrame) -> dict[pd.Timestamp, np.ndarray]:
    """Row positions of each day of ``frame`` (its ``day`` column), in day order."""
    return dict(sorted(frame.groupby("day", sort=True).indices.items()))


def _column_counts(
    reference: pd.Series,
    current: pd.Series,
    current_days: dict[pd.Timestamp, np.ndarray],
    train_days: dict[pd.Timestamp, np.ndarray],
    bins: int,
) -> tuple[np.ndarray, dict[Any, np.ndarray], dict[Any, np.ndarray]]:
    """The reference histogram of one column, and one per current day and per training day."""
    if reference.name in CATEGORICAL:
        cats = list(reference.astype("object").dropna().value_counts().index)

        def counts(values: Any) -> np.ndarray:
            return stats.category_counts(values, cats)

        ref_values, cur_values = reference.astype("object").to_numpy(), current.astype("object").to_numpy()
    else:
        ref_values = reference.to_numpy(dtype=np.float64)
        cur_values = current.to_numpy(dtype=np.float64)
        edges = stats.bin_edges(ref_values, bins)

        def counts(values: Any) -> np.ndarray:
            return stats.bin_counts(values, edges)

    cur = {d: counts(cur_values[pos]) for d, pos in current_days.items()}
    own = {d: counts(ref_values[pos]) for d, pos in train_days.items()}
    return counts(ref_values), cur, own


def drift(
    train: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str], params: MonitorParams
) -> pd.DataFrame:
    """PSI and Jensen-Shannon distance of each column, each current day against the whole
    training window, with the column's own day-to-day band: the PSI of each training day
    against the whole window (mean and sd), since a day is never the mixture of a month
    (a flag of the day, the days since a merchant's latest known fraud, ...).

    Returns a long frame: ``day, column, psi, js, band`` where ``band`` is the mean +
    ``band_sd`` x sd of the training days' own PSI; :func:`alarms` counts a day as drifted
    above the larger of it and the threshold (``thresholds.feature_psi`` or ``input_psi``).
    """
    rows = []
    cur_days, train_days = _day_positions(current), _day_positions(train)
    for col in columns:
        ref, cur, own = _column_counts(train[col], current[col], cur_days, train_days, params.bins)
        own_psi = np.array([stats.psi_counts(ref, c) for c in own.values()])
        own_psi = own_psi[np.isfinite(own_psi)]
        band = float(own_psi.mean() + params.band_sd * own_psi.std()) if len(own_psi) > 1 else 0.0
        for day, counts in cur.items():
            rows.append((day, col, stats.psi_counts(ref, counts), stats.js_counts(ref, counts), band))
    return pd.DataFrame(rows, columns=["day", "column", "psi", "js", "band"])


def mean_abs_shap(contributions: pd.DataFrame) -> pd.Series:
    """Mean |SHAP| per feature (the model's global importance on these rows)."""
    return contributions.abs().mean().sort_values(ascending=False, kind="stable")


def top_features(reference_shap: pd.DataFrame, columns: Sequence[str], n: int) -> list[str]:
    """The ``n`` features with the largest mean |SHAP| on the reference week."""
    imp = mean_abs_shap(reference_shap[list(columns)])
    return list(imp.index[:n])


# ----------------------------------------------------------------------- score drift
def score_drift(reference: pd.DataFrame, current: pd.DataFrame, params: MonitorParams) -> pd.DataFrame:
    """Per day: PSI and JS distance of the scores against the reference week (its
    quantile bins), score quantiles, flagged payments (``alerts``), alerted customers and
    the alert volume against the reference's daily mean over the trailing
    ``monitor.window_days`` (``alert_ratio``, with its Poisson ``alert_p``)."""
    edges = stats.bin_edges(reference["score"].to_numpy(), params.score_bins)
    ref_counts = stats.bin_counts(reference["score"].to_numpy(), edges)
    ref_days = max(reference["day"].nunique(), 1)
    ref_alerts = float(reference["flag"].sum()) / ref_days
    out = []
    for day, rows in current.groupby("day", sort=True):
        s = rows["score"].to_numpy(dtype=np.float64)
        counts = stats.bin_counts(s, edges)
        out.append(
            {
                "day": day,
                "payments": float(len(rows)),
                "score_psi": stats.psi_counts(ref_counts, counts),
                "score_js": stats.js_counts(ref_counts, counts),
                "score_p50": float(np.quantile(s, 0.5)),
                "score_p90": float(np.quantile(s, 0.9)),
                "score_p99": float(np.quantile(s, 0.99)),
                "score_p999": float(np.quantile(s, 0.999)),
                "alerts": float(rows["flag"].sum()),
                "alerted_customers": float(rows.loc[rows["flag"], "customer_id"].nunique()),
            }
        )
    frame = pd.DataFrame(out).set_index("day")
    window = frame["alerts"].rolling(params.window_days, min_periods=1).sum()
    n = frame["alerts"].rolling(params.window_days, min_periods=1).count()
    expected = ref_alerts * n
    frame["alert_ratio"] = (window / expected).where(expected > 0)
    frame["alert_p"] = [
        stats.poisson_two_sided_p(int(c), float(e)) for c, e in zip(window, expected, strict=True)
    ]
    return frame


# ------------------------------------------------------------------ explanation drift
def reason_shares(frame: pd.DataFrame) -> pd.Series:
    """Share of flagged payments whose top reason is each group (``none``: no reason), of
    those the model flagged (:func:`model_flags`: a ring's payments flagged for the ring are
    left out)."""
    top = frame.loc[model_flags(frame), "top_reason"].astype("object").fillna("none")
    return top.value_counts(normalize=True).sort_values(ascending=False, kind="stable")


def explanation_drift(
    inputs: MonitorInputs, top: Sequence[str], params: MonitorParams
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]:
    """The top-reason shares of flagged payments per day and the total variation distance
    of those of the trailing ``window_days`` from the reference week's (when they hold at
    least ``min_flagged``), and the mean
    |SHAP| of the ``top`` features per day against the reference's, with how many of the
    reference's top 3 are not the day's top 3 ("did the top-3 factors flip?").

    Returns ``(reasons long frame: day, group, share; reference shares; shap long frame:
    day, feature, mean_abs, reference, ratio; per-day frame)``.
    """
    ref_shares = reason_shares(inputs.reference)
    groups = list(ref_shares.index)
    rows, per_day = [], []
    imp_ref = mean_abs_shap(inputs.reference_shap[inputs.columns])
    top3 = list(imp_ref.index[:3])
    shap_rows = []
    by_day = dict(tuple(inputs.current_shap.groupby("day", sort=True)))
    flagged = inputs.current.loc[model_flags(inputs.current), ["day", "flag", "top_reason"]]
    for day, frame in inputs.current.groupby("day", sort=True):
        shares = reason_shares(frame)
        for g, v in shares.items():
            rows.append((day, g, float(v)))
        # the shares of one day's dozen flagged payments are mostly chance: pool the window
        window = flagged[(flagged["day"] > day - params.window_days * DAY) & (flagged["day"] <= day)]
        pooled = reason_shares(window)
        union = list(dict.fromkeys([*groups, *pooled.index]))
        tv = (
            stats.total_variation(
                ref_shares.reindex(union, fill_value=0.0), pooled.reindex(union, fill_value=0.0)
            )
            if len(window) >= params.min_flagged and len(ref_shares)
            else math.nan
        )
        entry: dict[str, Any] = {"day": day, "top_reason_tv": tv}
        sample = by_day.get(day)
        if sample is not None and len(sample):
            imp = mean_abs_shap(sample[inputs.columns])
            entry["top_factors_changed"] = float(len(set(top3) - set(imp.index[:3])))
            for f in top:
                ref_v = float(imp_ref[f])
                shap_rows.append(
                    (day, f, float(imp[f]), ref_v, float(imp[f]) / ref_v if ref_v > 0 else math.nan)
                )
        per_day.append(entry)
    reasons = pd.DataFrame(rows, columns=["day", "group", "share"])
    shap = pd.DataFrame(shap_rows, columns=["day", "feature", "mean_abs", "reference", "ratio"])
    return reasons, ref_shares, shap, pd.DataFrame(per_day).set_index("day")


# ---------------------------------------------------------------------- performance
def queue_order(frame: pd.DataFrame) -> pd.Series:
    """What a frame's payments were ranked by: its ``priority`` (``okml score``'s queue order,
    rings first with ``evaluate.rings_first``) when it has one, else its ``score``. The
    ranking signals (CP@k, AP) and the calibration of estimated precision read it: a ring's
    payments are flagged for the ring, whatever their score, and their precision is the
    rings'."""
    return frame["priority"] if "priority" in frame else frame["score"]


def model_flags(frame: pd.DataFrame) -> np.ndarray:
    """The flagged payments the model itself put in the queue: all of them, less those the
    queue put first for their ring (``evaluate.rings_first``: a priority of the score plus 1).
    A ring day flags its members beside the model's usual alerts, so the baselines of the
    model's explanations and precision (``top_reason_shift``, ``precision_drop``) read these."""
    from okml.evaluate.scoring import ring_payments

    return frame["flag"].to_numpy(dtype=bool) & ~ring_payments(frame)


def known_labels(frame: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """1 for a fraud whose label is known at ``as_of`` (``label_time <= as_of``)."""
    if "is_fraud" not in frame:
        return np.zeros(len(frame), dtype=np.int8)
    fraud = frame["is_fraud"].to_numpy() == 1
    if "label_time" in frame:
        lt = pd.to_datetime(frame["label_time"], utc=True)
        fraud &= (lt <= as_of).fillna(False).to_numpy(dtype=bool)
    return fraud.astype(np.int8)


def delay_days(frame: pd.DataFrame, as_of: pd.Timestamp, flagged_only: bool = False) -> np.ndarray:
    """Label delays (days) of the frauds of ``frame`` known at ``as_of``."""
    known = known_labels(frame, as_of).astype(bool)
    if flagged_only:
        known &= frame["flag"].to_numpy(dtype=bool)
    if "label_time" not in frame or not known.any():
        return np.zeros(0)
    gap = pd.to_datetime(frame["label_time"], utc=True) - pd.to_datetime(frame["timestamp"], utc=True)
    return (gap[known].dt.total_seconds() / 86400).to_numpy(dtype=np.float64)


def _ages(days: Sequence[pd.Timestamp], as_of: pd.Timestamp) -> np.ndarray:
    """Days from the middle of each day to ``as_of``."""
    return np.array([(as_of - (d + DAY / 2)).total_seconds() / 86400 for d in days])


def performance(
    inputs: MonitorInputs, as_of: pd.Timestamp, delays: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per day, with the labels known at ``as_of``: frauds known, the expected share of
    labels still to come (from the label delays of older frauds), realised precision at the
    operating point, CP@k, AP and recall; and recall by fraud type (long frame)."""
    from okml.evaluate import metrics

    cur = inputs.current.assign(is_fraud=known_labels(inputs.current, as_of))
    days = sorted(cur["day"].unique())
    completeness = dict(zip(days, stats.label_completeness(delays, _ages(days, as_of)), strict=True))
    ranked = cur[["day", "customer_id", "is_fraud"]].assign(score=queue_order(cur).to_numpy())
    per_day_k, _ = metrics.daily_top_k(ranked, inputs.k)
    cp = per_day_k.set_index("day")["precision"]
    caught = metrics.outcome(cur, cur["flag"].to_numpy())["caught"].to_numpy()
    cur = cur.assign(_caught=caught)
    rows, types = [], []
    for day, f in cur.groupby("day", sort=True):
        y = f["is_fraud"].to_numpy()
        flagged = f["flag"].to_numpy(dtype=bool)
        frauds = int(y.sum())
        rows.append(
            {
                "day": day,
                "known_frauds": float(frauds),
                "label_completeness": float(completeness[day]),
                "precision": float(y[flagged].mean()) if flagged.any() else math.nan,
                "cp_at_k": float(cp.get(day, math.nan)),
                "ap": metrics.average_precision(y, queue_order(f).to_numpy()),
                "recall": float(f["_caught"][y == 1].mean()) if frauds else math.nan,
            }
        )
        if "fraud_type" in f and frauds:
            fr = f.loc[y == 1]
            for t, g in fr.groupby(fr["fraud_type"].astype("string").fillna("unknown"), sort=True):
                types.append((day, str(t), float(len(g)), float(g["_caught"].sum())))
    by_type = pd.DataFrame(types, columns=["day", "fraud_type", "frauds", "caught"])
    by_type["recall"] = by_type["caught"] / by_type["frauds"]
    return pd.DataFrame(rows).set_index("day"), by_type


def _known_frauds(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The frauds of ``frame`` known at ``as_of``: ``day, customer_id, type, caught`` (at the
    operating point, :func:`okml.evaluate.metrics.outcome`: flagged, or blocked after a true
    alert); ``type`` is ``all`` without a ``fraud_type`` column."""
    from okml.evaluate import metrics

    f = frame.assign(is_fraud=known_labels(frame, as_of))
    caught = metrics.outcome(f, f["flag"].to_numpy())["caught"].to_numpy()
    kind = f["fraud_type"].astype("string").fillna("unknown").to_numpy() if "fraud_type" in f else "all"
    out = pd.DataFrame({"day": f["day"], "customer_id": f["customer_id"], "type": kind, "caught": caught})
    return out[f["is_fraud"].to_numpy() == 1]


def _victims(frauds: pd.DataFrame) -> pd.DataFrame:
    """One row per defrauded customer-day and type: caught when any of its frauds was."""
    return frauds.groupby(["day", "customer_id", "type"], as_index=False, sort=True)["caught"].max()


def type_recall_test(
    inputs: MonitorInputs, as_of: pd.Timestamp, params: MonitorParams
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Two label signals per fraud type (labels known at ``as_of``):

    * the recall at the operating point of the type's victims (defrauded customer-days: one
      victim's burst of payments is one incident, not many independent chances) over the
      trailing ``window_days``, against the type's recall on the reference week: the
      one-sided binomial p-value of catching so few (``p``); a type the reference week has
      fewer than ``min_frauds`` victims of is compared with its recall over all types;
    * for a type that neither the training window nor the reference week had a known fraud
      of (the model never met it), its labelled frauds and how many were caught since the
      first monitored day (``new_frauds``, ``new_caught``).

    Returns the long frame ``day, fraud_type, victims, caught, recall, reference, p,
    new_frauds, new_caught`` and the reference recalls (``all``: every type together).
    """
    ref = _victims(_known_frauds(inputs.reference, as_of))
    overall = float(ref["caught"].mean()) if len(ref) else math.nan
    ref_rate = {"all": overall}
    for t, g in ref.groupby("type", sort=True):
        if len(g) >= params.min_frauds:
            ref_rate[str(t)] = float(g["caught"].mean())
    seen = (
        set(ref["type"]) | set(_known_frauds(inputs.train, as_of)["type"])
        if "flag" in inputs.train
        else set()
    )
    frauds = _known_frauds(inputs.current, as_of)
    victims = _victims(frauds)
    rows = []
    for day in inputs.days:
        window = victims[(victims["day"] > day - params.window_days * DAY) & (victims["day"] <= day)]
        so_far = frauds[frauds["day"] <= day]
        for t in sorted(set(window["type"]) | (set(so_far["type"]) - seen)):
            g = window[window["type"] == t]
            n, c = len(g), int(g["caught"].sum())
            r0 = ref_rate.get(str(t), overall)
            p = stats.binomial_low_p(c, n, r0) if n and math.isfinite(r0) else 1.0
            new = so_far[so_far["type"] == t] if t not in seen else so_far.iloc[:0]
            rows.append(
                (
                    day,
                    str(t),
                    float(n),
                    float(c),
                    c / n if n else math.nan,
                    r0,
                    p,
                    float(len(new)),
                    float(new["caught"].sum()),
                )
            )
    cols = ["day", "fraud_type", "victims", "caught", "recall", "reference", "p", "new_frauds", "new_caught"]
    return pd.DataFrame(rows, columns=cols), ref_rate


# ------------------------------------------------------------ estimated performance
#: a rolling calibration needs this many known frauds on its days, else its day has no estimate
MIN_CALIBRATION_FRAUDS = 10
#: label delays of the training window's flagged frauds count when it has this many
MIN_FLAGGED_DELAYS = 20


def calibration_delays(train: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """The label delays (days) that tell how complete a day's labels are: those of the
    training window's flagged frauds known at ``as_of`` when there are
    :data:`MIN_FLAGGED_DELAYS` of them (an alert's fraud may be labelled sooner), else
    those of all its known frauds."""
    delays = delay_days(train, as_of)
    if "flag" not in train:
        return delays
    flagged = delay_days(train, as_of, flagged_only=True)
    return flagged if len(flagged) >= MIN_FLAGGED_DELAYS else delays


def _naive(ts: Any) -> Any:
    """UTC datetime64[ns] values without a time zone (fast comparisons) of a timestamp or a series."""
    if isinstance(ts, pd.Series):
        return pd.to_datetime(ts, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")
    return pd.Timestamp(ts).tz_convert("UTC").tz_localize(None).to_datetime64()


def _days(span: Any) -> Any:
    return span / np.timedelta64(1, "s") / 86400


@dataclass(frozen=True)
class CalibrationPool:
    """What a rolling calibration learns from, as arrays (UTC ``datetime64[ns]``).

    The scored rows of the reference week and the monitored days, one copy of each day,
    less the training window's days (whose scores are in-sample, surer than any other
    day's): ``day, score, fraud, label_time`` (NaT: no label; a data set without label
    times: a fraud's label is known from its payment on). And every fraud with a label time
    of the training window and of those days (``fraud_*``: when it was paid and labelled,
    whether it was flagged), whose label delays tell how complete a day's labels are.
    """

    day: np.ndarray
    score: np.ndarray
    fraud: np.ndarray
    label_time: np.ndarray
    fraud_paid: np.ndarray
    fraud_labelled: np.ndarray
    fraud_flagged: np.ndarray

    @classmethod
    def from_inputs(cls, inputs: MonitorInputs) -> CalibrationPool:
        cur = inputs.current
        ref = inputs.reference[~inputs.reference["day"].isin(cur["day"].unique())]
        f = pd.concat([ref, cur], ignore_index=True)
        w = inputs.windows
        f = f.loc[~((f["day"] >= w.train_start) & (f["day"] < w.train_end)).to_numpy()]
        f = f.assign(label_time=f["label_time"] if "label_time" in f else f["timestamp"])
        t = inputs.train
        t = t.assign(label_time=t["label_time"] if "label_time" in t else t["timestamp"])
        t = t if "flag" in t else t.assign(flag=True)  # no flags: every fraud's delay counts
        cols = ["timestamp", "label_time", "flag"]
        labelled = [g.loc[g["is_fraud"].to_numpy() == 1, cols] for g in (t, f) if "is_fraud" in g]
        # no labels at all: no fraud, so no day gets a rolling calibration
        frauds = (pd.concat(labelled, ignore_index=True) if labelled else t.iloc[:0]).reindex(columns=cols)
        frauds = frauds.loc[frauds["label_time"].notna().to_numpy()]
        return cls(
            day=_naive(f["day"]),
            score=queue_order(f).to_numpy(dtype=np.float64),
            fraud=f["is_fraud"].to_numpy() == 1 if "is_fraud" in f else np.zeros(len(f), dtype=bool),
            label_time=_naive(f["label_time"]),
            fraud_paid=_naive(frauds["timestamp"]),
            fraud_labelled=_naive(frauds["label_time"]),
            fraud_flagged=frauds["flag"].to_numpy(dtype=bool),
        )

    def delays(self, cutoff: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """The label delays (days) of the frauds labelled before ``cutoff`` (the flagged ones
        when there are :data:`MIN_FLAGGED_DELAYS`), and the days from each one's payment to
        ``cutoff``: the longest delay it could have shown."""
        known = self.fraud_labelled < _naive(cutoff)
        flagged = known & self.fraud_flagged
        pick = flagged if flagged.sum() >= MIN_FLAGGED_DELAYS else known
        paid = self.fraud_paid[pick]
        return _days(self.fraud_labelled[pick] - paid), _days(_naive(cutoff) - paid)


def rolling_calibrator(
    pool: CalibrationPool, day: pd.Timestamp, as_of: pd.Timestamp, params: MonitorParams
) -> Any | None:
    """The calibrator of ``day``'s scores: an isotonic regression fitted on the days of
    ``pool`` among the ``calibration_days`` ending ``calibration_lag_days`` before ``day``,
    with only the labels known before ``day`` starts (and by ``as_of``): nothing known
    after the day is used. Each label is corrected by the expected share of
    its day's labels in by then (:func:`okml.monitor.stats.truncated_completeness` of the
    label delays known by then: those of recent frauds are short because only the short
    ones are in). None when those days hold fewer than
    :data:`MIN_CALIBRATION_FRAUDS` known frauds, when fewer than :data:`MIN_FLAGGED_DELAYS`
    frauds were labelled by then, or when none of those was paid twice as long before as the
    oldest calibration day (the delays cannot tell how many of its labels are still to
    come)."""
    cutoff = min(day, as_of)
    last = day - params.calibration_lag_days * DAY
    rows = np.flatnonzero(
        (pool.day > _naive(last - params.calibration_days * DAY)) & (pool.day <= _naive(last))
    )
    use = np.unique(pool.day[rows])
    known = pool.fraud[rows] & (pool.label_time[rows] < _naive(cutoff))
    if int(known.sum()) < MIN_CALIBRATION_FRAUDS:
        return None
    delays, windows = pool.delays(cutoff)
    ages = _days(_naive(cutoff) - (use + np.timedelta64(12, "h")))  # from the middle of each day
    # the delays tell of completeness up to the longest delay they could have shown, so they
    # must reach well beyond the oldest calibration day (twice its age: a rule of thumb)
    if len(delays) < MIN_FLAGGED_DELAYS or windows.max() < 2 * ages.max():
        return None
    shares = stats.truncated_completeness(delays, windows, ages)
    completeness = shares[np.searchsorted(use, pool.day[rows])]
    fit = completeness > 0  # a day none of whose labels can be in yet tells nothing
    y = known[fit]
    if int(y.sum()) < MIN_CALIBRATION_FRAUDS or y.all():
        return None
    return stats.fit_calibrator(pool.score[rows][fit], y, completeness[fit])


def estimated_precision(
    inputs: MonitorInputs, as_of: pd.Timestamp, delays: np.ndarray, params: MonitorParams
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Precision at the operating point estimated from calibrated probabilities (CBPE).

    Per day: the mean calibrated probability of the flagged payments and the
    ``monitor.interval`` interval of the realised precision (Poisson binomial), from
    :func:`flagged_probabilities`; ``info`` holds the reference week's completeness and
    estimated precision (the baseline of the ``precision_drop`` alarm). When the queue put
    rings first (:func:`model_flags`), ``precision_est_model`` and
    ``info["reference_precision_model"]`` are those of the payments the model flagged, which
    the alarm compares instead: a ring day's precision is the ring's.
    """
    probs, info = flagged_probabilities(inputs, as_of, delays, params)
    frames = (inputs.reference, inputs.current)
    rings = any((model_flags(f) != f["flag"].to_numpy(dtype=bool)).any() for f in frames)
    own: dict[pd.Timestamp, np.ndarray] = {}
    if rings:  # rings first: the alarm's baseline is of the model's own flags
        own, own_info = flagged_probabilities(inputs, as_of, delays, params, model_only=True)
        if "reference_precision" in own_info:
            info["reference_precision_model"] = own_info["reference_precision"]
    rows = []
    for day in sorted(inputs.current["day"].unique()):
        p = probs.get(day)
        est, low, high = stats.estimate_precision(p, params.interval) if p is not None else (math.nan,) * 3
        row = {"day": day, "precision_est": est, "precision_low": low, "precision_high": high}
        if rings:
            m = own.get(day)
            row["precision_est_model"] = float(m.mean()) if m is not None and len(m) else math.nan
        rows.append(row)
    cols = ["precision_est", "precision_low", "precision_high"] + (["precision_est_model"] if rings else [])
    if not rows:
        return pd.DataFrame(index=pd.Index(inputs.days, name="day"), columns=cols).astype(float), info
    return pd.DataFrame(rows).set_index("day")[cols], info


def flagged_probabilities(
    inputs: MonitorInputs,
    as_of: pd.Timestamp,
    delays: np.ndarray,
    params: MonitorParams,
    model_only: bool = False,
) -> tuple[dict[pd.Timestamp, np.ndarray], dict[str, float]]:
    """The calibrated probability of fraud of each monitored day's flagged payments (a day
    without a calibrator is left out), and the reference week's figures; with ``model_only``
    of the payments the model flagged (:func:`model_flags`), in the reference week too.

    ``monitor.calibration``:

    * ``reference``: one calibrator (:func:`okml.monitor.stats.fit_calibrator`) fitted on
      the reference week's scores and the labels known at ``as_of``; a fraud not labelled
      yet looks legitimate there, so its probabilities are divided by the expected share of
      the reference's labels already in (from ``delays``, the label delays of older
      frauds). It cannot see the model's precision change after its reference week, and
      for a day before ``as_of`` it uses labels known after the day;
    * ``rolling``: each day its own (:func:`rolling_calibrator`), from the recent days
      whose labels have matured by the day, with only the labels known before it.
    """
    ref = inputs.reference
    y = known_labels(ref, as_of)
    info: dict[str, float] = {}
    calibrator = None
    completeness = 1.0
    if len(ref) and y.min() != y.max():
        ref_days = sorted(ref["day"].unique())
        completeness = float(np.mean(stats.label_completeness(delays, _ages(ref_days, as_of))))
        completeness = completeness if completeness > 0 else 1.0
        calibrator = stats.fit_calibrator(queue_order(ref).to_numpy(), y)

    def probs(cal: Any, scores: Any, share: float = 1.0) -> np.ndarray:
        if len(scores) == 0:
            return np.zeros(0)
        return np.clip(cal.predict(np.asarray(scores, dtype=np.float64)) / share, 0.0, 1.0)

    picked = model_flags if model_only else (lambda frame: frame["flag"].to_numpy(dtype=bool))
    if calibrator is not None:
        flagged = picked(ref)
        info["reference_completeness"] = completeness
        info["reference_precision"] = (
            float(probs(calibrator, queue_order(ref).loc[flagged], completeness).mean())
            if flagged.any()
            else math.nan
        )
    out: dict[pd.Timestamp, np.ndarray] = {}
    pool = CalibrationPool.from_inputs(inputs) if params.calibration == "rolling" else None
    for day, f in inputs.current.groupby("day", sort=True):
        scores = queue_order(f).loc[picked(f)]
        if pool is not None:
            own = rolling_calibrator(pool, day, as_of, params) if len(scores) else None
            if own is not None or not len(scores):
                out[day] = probs(own, scores)
        elif calibrator is not None:
            out[day] = probs(calibrator, scores, completeness)
    return out, info


# ---------------------------------------------------------------------------- alarms
def _runs(days: pd.Series) -> tuple[pd.Timestamp, int] | None:
    """The first day a boolean per-day series is true and on how many days it is."""
    hit = days[days.fillna(False).astype(bool)]
    return (pd.Timestamp(hit.index[0]), int(len(hit))) if len(hit) else None


def alarms(
    daily: pd.DataFrame,
    feature_drift: pd.DataFrame,
    input_drift: pd.DataFrame,
    type_recall: pd.DataFrame,
    reference: dict[str, float],
    top: Sequence[str],
    params: MonitorParams,
) -> list[Alarm]:
    """The thresholds of ``monitor.thresholds`` crossed on some day (None switches one off)."""
    th = params.thresholds
    out: list[Alarm] = []

    def add(signal: str, hits: pd.Series, message: str) -> None:
        run = _runs(hits)
        if run:
            out.append(Alarm(signal, run[0], run[1], message))

    for key, frame, limit, what in (
        ("feature_psi", feature_drift[feature_drift["column"].isin(top)], th.feature_psi, "feature"),
        ("input_psi", input_drift, th.input_psi, "input column"),
    ):
        if limit is None or frame.empty:
            continue
        cut = frame["band"].clip(lower=limit)
        hit = frame[frame["psi"] > cut].sort_values(["day", "psi"], ascending=[True, False])
        if hit.empty:
            continue
        first = hit.iloc[0]
        per_day = hit.groupby("day").size() > 0
        add(
            key,
            per_day,
            f"{what} drift: PSI of {first['column']} {first['psi']:.2f} > {max(first['band'], limit):.2f}",
        )
    if th.score_psi is not None and "score_psi" in daily:
        hits = daily["score_psi"] > th.score_psi
        if hits.any():
            v = daily.loc[hits, "score_psi"].iloc[0]
            add("score_psi", hits, f"score drift PSI {v:.2f} > {th.score_psi:g}")
    if th.alert_ratio is not None and "alert_ratio" in daily:
        r = daily["alert_ratio"]
        # more alerts than the team can review; fewer is mostly fewer frauds (and a model gone
        # quiet shows in its score drift)
        hits = (r > th.alert_ratio) & (daily["alert_p"] < params.alert_p)
        if hits.any():
            v = r[hits].iloc[0]
            add(
                "alert_ratio", hits, f"alert volume {v:.2f}x the reference week's (limit {th.alert_ratio:g}x)"
            )
    if th.top_reason_shift is not None and "top_reason_tv" in daily:
        hits = daily["top_reason_tv"] > th.top_reason_shift
        if hits.any():
            v = daily.loc[hits, "top_reason_tv"].iloc[0]
            add(
                "top_reason_shift",
                hits,
                f"top reasons of flagged payments moved {v:.2f} > {th.top_reason_shift:g}",
            )
    if th.top_factors_changed is not None and "top_factors_changed" in daily:
        hits = daily["top_factors_changed"] >= th.top_factors_changed
        if hits.any():
            v = daily.loc[hits, "top_factors_changed"].iloc[0]
            add("top_factors_changed", hits, f"{v:.0f} of the reference's top-3 factors left the top 3")
    # rings first: the model's own flags, since a ring day's precision is the ring's
    own = "precision_est_model" in daily and "reference_precision_model" in reference
    est_col = "precision_est_model" if own else "precision_est"
    ref_p = reference.get("reference_precision_model" if own else "reference_precision", math.nan)
    if th.precision_drop is not None and est_col in daily and math.isfinite(ref_p):
        hits = daily[est_col] < ref_p - th.precision_drop
        if hits.any():
            v = daily.loc[hits, est_col].iloc[0]
            what = "estimated precision of the model's own flags" if own else "estimated precision"
            add(
                "precision_drop",
                hits,
                f"{what} {v:.2f} < reference {ref_p:.2f} - {th.precision_drop:g}",
            )
    tr = type_recall
    if th.type_recall_p is not None and not tr.empty:
        hit = tr[
            (tr["victims"] >= params.min_frauds)
            & (tr["p"] < th.type_recall_p)
            & (tr["reference"] - tr["recall"] >= params.recall_drop)
        ].sort_values(["day", "p"])
        if not hit.empty:
            first = hit.iloc[0]
            add(
                "type_recall_p",
                hit.groupby("day").size() > 0,
                f"recall of {first['fraud_type']} victims {first['recall']:.2f} ({first['caught']:.0f} of "
                f"{first['victims']:.0f} labelled) < reference {first['reference']:.2f} (p {first['p']:.0e} "
                f"< {th.type_recall_p:g})",
            )
    if th.new_type_frauds is not None and not tr.empty:
        recall = tr["new_caught"] / tr["new_frauds"].where(tr["new_frauds"] > 0)
        hit = tr[(tr["new_frauds"] >= th.new_type_frauds) & (recall < params.new_type_recall)].sort_values(
            "day"
        )
        if not hit.empty:
            first = hit.iloc[0]
            add(
                "new_type_frauds",
                hit.groupby("day").size() > 0,
                f"{first['new_frauds']:.0f} labelled {first['fraud_type']} frauds, a type the model's "
                f"windows never had, {first['new_caught']:.0f} caught",
            )
    return sorted(out, key=lambda a: (a.first_day, a.signal))


# --------------------------------------------------------------------------- analyse
def analyse(inputs: MonitorInputs, params: MonitorParams, as_of: pd.Timestamp | None = None) -> MonitorResult:
    """Every signal of every monitored day, and the alarms (see the module docstring).

    ``as_of``: when labels count as known (default: the end of the last monitored day).
    """
    as_of = as_of if as_of is not None else inputs.end
    top = top_features(inputs.reference_shap, inputs.columns, params.top_features)
    feature_drift = drift(inputs.train, inputs.current, top, params)
    input_drift = drift(inputs.train, inputs.current, inputs.input_columns, params)
    daily = score_drift(inputs.reference, inputs.current, params)
    reasons, ref_reasons, shap, expl = explanation_drift(inputs, top, params)
    # how late labels come, from the training window's frauds (older than the reference week)
    delays = delay_days(inputs.train, as_of)
    perf, by_type = performance(inputs, as_of, delays)
    est, info = estimated_precision(inputs, as_of, calibration_delays(inputs.train, as_of), params)
    recall_test, ref_rates = type_recall_test(inputs, as_of, params)
    daily = daily.join(expl, how="left").join(perf, how="left").join(est, how="left")
    for frame, key, name in ((feature_drift, "column", "feature_psi"), (input_drift, "column", "input_psi")):
        if not frame.empty:
            wide = frame.pivot(index="day", columns=key, values="psi").add_prefix(f"{name}.")
            daily = daily.join(wide, how="left")
    if not feature_drift.empty:
        daily["feature_psi_max"] = feature_drift.groupby("day")["psi"].max()
    if not reasons.empty:
        daily = daily.join(
            reasons.pivot(index="day", columns="group", values="share").add_prefix("reason_share.")
        )
    if not shap.empty:
        daily = daily.join(
            shap.pivot(index="day", columns="feature", values="mean_abs").add_prefix("mean_abs_shap.")
        )
    if not by_type.empty:
        daily = daily.join(
            by_type.pivot(index="day", columns="fraud_type", values="recall").add_prefix("recall.")
        )
    reference = {**info, **{f"reference_recall.{t}": v for t, v in ref_rates.items()}}
    ref_frauds = _known_frauds(inputs.reference, as_of)
    for t, v in ref_frauds.groupby("type", sort=True)["caught"].mean().items():
        reference[f"reference_payment_recall.{t}"] = float(v)
    reference["reference_alerts_per_day"] = float(inputs.reference["flag"].sum()) / max(
        inputs.reference["day"].nunique(), 1
    )
    found = alarms(daily, feature_drift, input_drift, recall_test, reference, top, params)
    return MonitorResult(
        daily=daily.sort_index(),
        feature_drift=feature_drift,
        input_drift=input_drift,
        reasons=reasons,
        reference_reasons=ref_reasons,
        shap=shap,
        type_recall=recall_test,
        by_type=by_type,
        alarms=found,
        top_features=top,
        reference=reference,
        as_of=as_of,
    )
