"""Building the feature table: one function per family on a shared, sorted context.

Definitions (each one tested on hand-made frames in ``tests/test_features.py`` and against
a row-by-row implementation in ``tests/test_features_props.py``):

Order
    Transactions are ordered by (timestamp, transaction_id); "earlier" means earlier in
    that order, so of two payments at the same instant the one with the smaller id is
    earlier (ids compare as numbers when they are integers, as text when strings). A
    transaction never sees itself or anything after it.
Trailing window ``w`` at time ``t``
    The earlier transactions with timestamp in ``(t - w, t]``: a payment exactly ``w``
    before is outside, one at the same instant with a smaller id is inside.
Known fraud at ``t``
    ``is_fraud == 1`` and ``label_time < t`` (strictly). A missing ``label_time`` is never
    known. Legitimate rows carry no label event: nothing waits for them to be "known".

Families (names for the default windows; see :mod:`okml.features.registry` for all):

calendar
    ``hour`` (0-23), ``is_night`` (hour < 6), ``is_weekend`` (Saturday, Sunday), all in
    ``features.timezone``; ``cust_secs_since_prev``: seconds since the customer's previous
    payment (0 for a tie, NaN for the first).
customer_velocity
    ``cust_count_w``, ``cust_sum_w``, ``cust_mean_w``: the customer's payments in each
    window (mean NaN when there are none).
customer_history
    ``cust_amount_ratio_w``: amount / the customer's mean in ``history_window`` (NaN with
    no payment there); ``cust_amount_z_w``: (amount - mean) / spread, where spread is the
    population standard deviation floored at 1% of the mean (NaN with fewer than 2
    payments); ``_all`` versions over all earlier payments; ``cust_first_merchant``,
    ``cust_first_device``, ``cust_new_region``: 1 if the customer never paid this
    merchant / from this device / region before (NaN when device or region is missing);
    ``cust_hour_share_w``: share of the customer's payments in ``history_window`` whose
    hour of day is within one hour of this one (23 and 0 are neighbours; NaN with none);
    ``cust_amount_median_ratio_w``: amount / the median amount of the customer's latest
    ``median_payments`` payments in ``history_window`` (the mean of the two middle ones for
    an even count; NaN with none), a baseline that a few large frauds barely move;
    ``cust_max_median_ratio_w``: the customer's largest payment in ``burst_window`` / that
    same median (NaN with no payment in either);
    ``account_age_days``.
merchant
    ``merch_count_w``, ``merch_sum_w``.
merchant_risk
    ``merch_risk_w = (k + a * g) / (n + a)``: ``n`` earlier payments of the merchant in the
    window, ``k`` of them known fraud at ``t``, ``a = risk_smoothing``, ``g`` the same
    share over all merchants in the window (0 when the window is empty). A new merchant
    gets ``g``; with ``a = 0`` it is NaN.
customer_fraud_history
    ``cust_known_frauds``: the customer's earlier payments known to be fraud at ``t``;
    ``cust_days_since_known_fraud``: days since the latest of them (by payment time).
merchant_fraud_history
    For merchants, whose labels arrive late (a compromised terminal's frauds become known
    ``label_delay`` after they happen, so a window of the last ``label_delay`` holds no
    known fraud): ``merch_known_frauds_w``: the merchant's earlier payments in the window
    known to be fraud at ``t``; ``merch_days_since_known_fraud`` and
    ``merch_days_since_first_known_fraud``: days since the payment time of the latest and
    of the earliest of all of them; ``merch_delayed_risk_w``: among the merchant's
    payments in ``(t - label_delay - w, t - label_delay]``, the share known to be fraud at
    ``t`` (NaN with none), the Fraud Detection Handbook's delayed terminal risk.
    The merchant's *settled* payments are its earlier payments made at least
    ``label_delay`` before ``t`` (their labels should be in). ``merch_fraud_streak``: how
    many of the latest settled payments are known frauds at ``t``, counted back to the
    latest one that is not (a fraud whose label is not in yet, or never comes, ends the
    run too); ``merch_fraud_streak_days``: days since the first payment of that run (NaN
    with no run); ``merch_days_since_clean_payment``: days since that latest settled
    payment not known as fraud (NaN with none). ``merch_known_fraud_amount_ratio_w``
    (``w = merchant_fraud_profile_window``): over the merchant's payments in the window
    known to be fraud at ``t``, the mean of each one's ``cust_amount_median_ratio`` at its
    own time (frauds without one, a customer's first payment, are left out; NaN with none).
ring
    ``device_customers_w``: distinct *other* customers with a payment on this device in
    ``device_window`` (NaN without a device); ``pair_count_w``: this customer's payments to
    this merchant in ``pair_window``; ``is_round_amount``: a whole multiple of 10 (to half a
    cent).
amount
    ``amount``: the payment's amount.
graph, compromise
    The entity graph (groups of accounts linked by shared devices and by paying one
    merchant together, hubs damped) and the common point of compromise (a merchant's recent
    customers later confirmed as victims): see :mod:`okml.features.graph`. Off by default;
    the online and dask paths refuse them.

Slicing: with :func:`~okml.features.registry.lookback` of history before a slice, every
feature whose registry entry has ``all_history=False`` is the same as over all data; the
``all_history`` ones (``cust_secs_since_prev``, ``cust_amount_ratio_all``,
``cust_amount_z_all``, ``cust_first_merchant``, ``cust_first_device``, ``cust_new_region``,
``cust_known_frauds``, ``cust_days_since_known_fraud``, ``merch_days_since_known_fraud``,
``merch_days_since_first_known_fraud``, ``merch_fraud_streak``, ``merch_fraud_streak_days``,
``merch_days_since_clean_payment``) describe the slice's history only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd
from tqdm import tqdm

from okml.config import FeatureParams, format_duration, parse_duration
from okml.errors import DataError, FeatureError
from okml.features._timeline import (
    NS,
    Keyed,
    Timeline,
    codes_of,
    interval_count,
    interval_share,
    interval_sum,
    kernels,
    started_extremes,
    time_ns,
)
from okml.features.graph import compromise_family, graph_family
from okml.features.registry import FAMILIES, feature_names, registry
from okml.schema import REQUIRED

_DAY = 86400 * NS
# z-scores divide by the customer's standard deviation, floored at this share of their mean:
# a customer who always pays the same amount gets a large, finite z instead of x / 0
_STD_FLOOR = 0.01
# "round" amounts are whole multiples of 10 up to half a cent of float noise
_ROUND_TO, _ROUND_TOL = 10.0, 0.005

Columns = dict[str, np.ndarray]


class _Context:
    """Arrays shared by the families, all in ``pos`` order, each built once on demand."""

    def __init__(
        self, tx: pd.DataFrame, params: FeatureParams, given: dict[str, np.ndarray] | None = None
    ) -> None:
        self.tx, self.params = tx, params
        # intermediates computed elsewhere (input order): another partition of the data holds
        # what they need (see okml.features.distributed)
        self.given = given or {}
        t_ns, _ = time_ns(tx["timestamp"])
        self.tl = Timeline(t_ns, tx["transaction_id"])
        self.t = self.tl.t
        self.amount = np.ascontiguousarray(
            self.tl.in_pos_order(tx["amount"].to_numpy(dtype=np.float64)), dtype=np.float64
        )
        self._codes: dict[str, np.ndarray] = {}
        self._keyed: dict[str, Keyed] = {}
        self._merchant_known: dict[int, np.ndarray] = {}
        self._global_rate: dict[int, np.ndarray] = {}
        self._table: tuple[np.ndarray, dict[str, int]] | None = None
        self._placed: dict[str, np.ndarray] = {}

    def place(self, table: np.ndarray, slot: dict[str, int]) -> None:
        """Compute features straight into their rows of ``table`` (``table[slot[name]]``,
        ``pos`` order)."""
        self._table = table, slot

    def column(self, name: str) -> np.ndarray:
        """An array to compute feature ``name`` into: its row of the placed table when it
        has one (the family's result then needs no copy), else a new one."""
        if self._table is not None and name in self._table[1]:
            table, slot = self._table
            self._placed[name] = table[slot[name]]
            return self._placed[name]
        return np.empty(self.tl.n)

    def in_place(self, name: str, values: np.ndarray) -> bool:
        """Whether ``values`` is feature ``name``'s row of the placed table."""
        return self._placed.get(name) is values

    def _given(self, name: str) -> np.ndarray:
        """A given intermediate (input order, one value per row) in ``pos`` order."""
        values = np.ascontiguousarray(self.given[name], dtype=np.float64)
        if values.shape != (self.tl.n,):
            raise FeatureError(
                f"given {name} has shape {values.shape} for {self.tl.n:,} transactions; this is a bug in okml"
            )
        return self.tl.in_pos_order(values)

    def codes(self, column: str) -> np.ndarray:
        if column not in self._codes:
            self._codes[column] = self.tl.in_pos_order(codes_of(self.tx[column]))
        return self._codes[column]

    def keyed(self, column: str) -> Keyed:
        """Rows grouped by one column."""
        if column not in self._keyed:
            self._keyed[column] = Keyed(self.codes(column), self.tl)
        return self._keyed[column]

    def keyed_pair(self, a: str, b: str) -> Keyed:
        """Rows grouped by the pair of two key columns."""
        name = f"{a}|{b}"
        if name not in self._keyed:
            ka, kb = self.codes(a), self.codes(b)
            pair = ka * np.int64(max(int(kb.max(initial=-1)) + 2, 1)) + (kb + 1)
            self._keyed[name] = Keyed(codes_of(pd.Series(pair)), self.tl)
        return self._keyed[name]

    def time_column(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        values, missing = time_ns(self.tx[column])
        return self.tl.in_pos_order(values), self.tl.in_pos_order(missing)

    @cached_property
    def local(self) -> tuple[np.ndarray, np.ndarray]:
        """Hour of day and day of week (Monday 0) in ``params.timezone``."""
        idx = pd.DatetimeIndex(self.t.view("datetime64[ns]")).tz_localize("UTC")
        wall = idx.tz_convert(self.params.timezone).tz_localize(None).asi8
        hour, dow = np.empty(self.tl.n, dtype=np.int64), np.empty(self.tl.n, dtype=np.int64)
        kernels().calendar(np.ascontiguousarray(wall, dtype=np.int64), hour, dow)
        return hour, dow

    @cached_property
    def customer_median(self) -> np.ndarray:
        """Median amount of the customer's latest ``median_payments`` earlier payments in
        ``history_window`` (``pos`` order, NaN with none)."""
        ((hw, _),) = _windows(self.params.history_window)
        cust = self.keyed("customer_id")
        return cust.recent_median(self.amount, hw, self.params.median_payments, name="amount")

    @cached_property
    def median_ratio(self) -> np.ndarray:
        """Amount / :attr:`customer_median` (``pos`` order, NaN with no median)."""
        if "median_ratio" in self.given:
            return self._given("median_ratio")
        return self.amount / self.customer_median

    def global_rate(self, seconds: int) -> np.ndarray:
        """Per transaction (``pos`` order), the share of all earlier payments in ``(t - w, t]``
        (every merchant) that are known fraud at ``t``; 0 when there are none."""
        name = f"global_rate_{seconds}"
        if name in self.given:
            return self._given(name)
        if seconds not in self._global_rate:
            pos, known_from = self.frauds
            until = self.tl.first_at_or_after(self.t[pos] + seconds * NS)
            # nothing earlier in the window: no known fraud (0)
            self._global_rate[seconds] = interval_share(self.tl, seconds, known_from, until)
        return self._global_rate[seconds]

    @cached_property
    def frauds(self) -> tuple[np.ndarray, np.ndarray]:
        """``pos`` of frauds that ever get a label, and the first ``pos`` that knows each.

        A label is known to transactions strictly after ``label_time``.
        """
        label_ns, unlabelled = self.time_column("label_time")
        is_fraud = self.tl.in_pos_order(self.tx["is_fraud"].to_numpy()) == 1
        pos = np.flatnonzero(is_fraud & ~unlabelled)
        return pos, self.tl.first_after(label_ns[pos])

    def merchant_known(self, seconds: int, out: np.ndarray | None = None) -> np.ndarray:
        """Per transaction (``pos`` order), the merchant's earlier payments with time in
        ``(t - seconds, t]`` whose fraud label is known at ``t`` (into ``out`` unless
        already known)."""
        if seconds not in self._merchant_known:
            merch, (pos, known_from) = self.keyed("merchant_id"), self.frauds
            # a fraud at t_j counts for queries in (label_time_j, t_j + seconds)
            until = self.tl.first_at_or_after(self.t[pos] + seconds * NS)
            self._merchant_known[seconds] = interval_count(
                merch.codes, merch.codes[pos], known_from, until, out
            )
        return self._merchant_known[seconds]


def _div(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a / b, NaN where b is 0 (into ``out`` when given)."""
    if a.dtype == b.dtype == np.float64 and a.ndim == b.ndim == 1 and len(a) == len(b):
        out = np.empty(len(a)) if out is None else out
        kernels().divide(np.ascontiguousarray(a), np.ascontiguousarray(b), out)  # one pass
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.true_divide(a, b)
    ratio[np.broadcast_to(b == 0, ratio.shape)] = np.nan
    if out is None:
        return ratio
    out[...] = ratio
    return out


def _days_since(ctx: _Context, at: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Days since the payment at pos ``at`` (NaN where ``at`` is -1), into ``out``."""
    kernels().days_since(ctx.t, np.ascontiguousarray(at, dtype=np.int64), _DAY, out)
    return out


def _windows(values: list[str | int] | str | int) -> list[tuple[int, str]]:
    """(seconds, name suffix) of each window, e.g. (3600, "1h"), as the registry names them."""
    seconds = [parse_duration(v) for v in (values if isinstance(values, list) else [values])]
    return [(s, format_duration(s)) for s in seconds]


# ------------------------------------------------------------------------------ families
# Each family computes its features into ctx.column(name), the feature's row of the output
# table (in pos order until the end), so nothing is copied afterwards.
def _columns(ctx: _Context, *names: str) -> Columns:
    return {name: ctx.column(name) for name in names}


def _calendar(ctx: _Context, want: set[str]) -> Columns:
    hour, dow = ctx.local
    out = _columns(ctx, "hour", "is_night", "is_weekend", "cust_secs_since_prev")
    np.copyto(out["hour"], hour)
    np.less(hour, 6, out=out["is_night"])
    np.greater_equal(dow, 5, out=out["is_weekend"])
    ctx.keyed("customer_id").secs_since_prev(out["cust_secs_since_prev"])
    return out


def _customer_velocity(ctx: _Context, want: set[str]) -> Columns:
    cust, out = ctx.keyed("customer_id"), Columns()
    for w, suffix in _windows(ctx.params.customer_windows):
        count, total, mean = (f"cust_{kind}_{suffix}" for kind in ("count", "sum", "mean"))
        n, s = cust.count_sum(w, "amount", ctx.amount, ctx.column(count), ctx.column(total))
        out |= {count: n, total: s, mean: _div(s, n, ctx.column(mean))}
    return out


def _customer_history(ctx: _Context, want: set[str]) -> Columns:
    p = ctx.params
    cust = ctx.keyed("customer_id")
    ((hw, suffix),) = _windows(p.history_window)
    names = [
        f"cust_amount_ratio_{suffix}",
        f"cust_amount_z_{suffix}",
        "cust_amount_ratio_all",
        "cust_amount_z_all",
    ]
    columns = [ctx.column(name) for name in names]
    out = dict(zip(names, cust.ratio_z("amount", ctx.amount, hw, _STD_FLOOR, columns), strict=True))
    ((bw, bsuffix),) = _windows(p.burst_window)
    if f"cust_amount_median_ratio_{suffix}" in want or f"cust_max_median_ratio_{bsuffix}" in want:
        out[f"cust_amount_median_ratio_{suffix}"] = ctx.median_ratio
        largest = cust.window_max(ctx.amount, bw, ctx.column(f"cust_max_median_ratio_{bsuffix}"), "amount")
        out[f"cust_max_median_ratio_{bsuffix}"] = np.divide(largest, ctx.customer_median, out=largest)

    for name, column in (
        ("cust_first_merchant", "merchant_id"),
        ("cust_first_device", "device_id"),
        ("cust_new_region", "region"),
    ):
        if name in want:
            out[name] = cust.first_seen(ctx.codes(column), ctx.column(name))

    # unusual hour: share of the window's payments within one hour of this time of day
    hour, _ = ctx.local
    name = f"cust_hour_share_{suffix}"
    out[name] = cust.near_hour_share(hour, hw, ctx.column(name))

    if "account_age_days" in want:
        created, missing = ctx.time_column("account_created_at")
        age = np.divide(ctx.t - created, _DAY, out=ctx.column("account_age_days"))
        age[missing] = np.nan
        out["account_age_days"] = age
    return out


def _merchant(ctx: _Context, want: set[str]) -> Columns:
    merch, out = ctx.keyed("merchant_id"), {}
    for w, suffix in _windows(ctx.params.merchant_windows):
        count, total = f"merch_count_{suffix}", f"merch_sum_{suffix}"
        out[count], out[total] = merch.count_sum(
            w, "amount", ctx.amount, ctx.column(count), ctx.column(total)
        )
    return out


def _merchant_risk(ctx: _Context, want: set[str]) -> Columns:
    """(known frauds + a * rate) / (payments + a) over the window, rate = the same share
    over all merchants in the same window (so it too uses only what was known)."""
    merch, a = ctx.keyed("merchant_id"), ctx.params.risk_smoothing
    out = {}
    for w, suffix in _windows(ctx.params.merchant_windows):
        name = f"merch_risk_{suffix}"
        out[name] = ctx.column(name)
        kernels().smoothed_share(ctx.merchant_known(w), ctx.global_rate(w), merch.count(w), a, out[name])
    return out


def _customer_fraud_history(ctx: _Context, want: set[str]) -> Columns:
    cust = ctx.keyed("customer_id")
    pos, known_from = ctx.frauds
    out = _columns(ctx, "cust_known_frauds", "cust_days_since_known_fraud")
    _, last, _ = started_extremes(cust.codes, cust.codes[pos], known_from, pos, out["cust_known_frauds"])
    _days_since(ctx, last, out["cust_days_since_known_fraud"])
    return out


def _merchant_fraud_history(ctx: _Context, want: set[str]) -> Columns:
    p, tl, merch = ctx.params, ctx.tl, ctx.keyed("merchant_id")
    out = {}
    for w, suffix in _windows(p.merchant_fraud_windows):
        name = f"merch_known_frauds_{suffix}"
        out[name] = ctx.merchant_known(w, ctx.column(name))
    pos, known_from = ctx.frauds
    _, latest, earliest = started_extremes(merch.codes, merch.codes[pos], known_from, pos)
    for name, at in (
        ("merch_days_since_known_fraud", latest),
        ("merch_days_since_first_known_fraud", earliest),
    ):
        out[name] = _days_since(ctx, at, ctx.column(name))
    # (t - d - w, t - d] is the window d + w less the window d, for payments and frauds alike
    d = parse_duration(p.label_delay)
    for w, suffix in _windows(p.delayed_risk_windows):
        frauds = ctx.merchant_known(d + w) - ctx.merchant_known(d)
        name = f"merch_delayed_risk_{suffix}"
        out[name] = _div(frauds, merch.count(d + w) - merch.count(d), ctx.column(name))
    if {"merch_fraud_streak", "merch_fraud_streak_days", "merch_days_since_clean_payment"} & want:
        out.update(_fraud_streak(ctx, d))
    ((w, suffix),) = _windows(p.merchant_fraud_profile_window)
    name = f"merch_known_fraud_amount_ratio_{suffix}"
    if name in want:
        # each known fraud's amount / its customer's median then, averaged over the frauds
        # in the window that have such a median (a customer's first payment has none)
        ratio = ctx.median_ratio[pos]
        ok = np.isfinite(ratio)
        fpos, start = pos[ok], known_from[ok]
        until = tl.first_at_or_after(ctx.t[fpos] + w * NS)
        total, count = interval_sum(merch.codes, merch.codes[fpos], start, until, ratio[ok])
        out[name] = _div(total, count, ctx.column(name))
    return out


def _fraud_streak(ctx: _Context, delay: int) -> Columns:
    """The merchant's run of known frauds among its *settled* payments (paid at least
    ``delay`` before, so their labels should be in): its length, the days since its first
    payment, and the days since the latest settled payment not known to be fraud.

    Works in (merchant, pos) order (see ``_kernels.fraud_streak``). A settled payment
    breaks the run at query ``pos`` q unless it is a fraud whose label is known there
    (``known_from <= q``); payments that are never known frauds break every run.
    """
    tl, merch = ctx.tl, ctx.keyed("merchant_id")
    never = tl.n + 1
    fpos, known_from = ctx.frauds
    known = np.full(tl.n, never, dtype=np.int64)  # pos order: known as fraud from this pos
    known[fpos] = known_from
    streak, run_days, clean_days = (np.empty(tl.n) for _ in range(3))
    kernels().fraud_streak(
        merch.off, merch.starts(delay), merch.t_s, merch.perm, merch.in_key_order(known), never, _DAY,
        streak, run_days, clean_days,
    )  # fmt: skip
    names = ("merch_fraud_streak", "merch_fraud_streak_days", "merch_days_since_clean_payment")
    return {
        name: merch.to_pos(values, ctx.column(name))
        for name, values in zip(names, (streak, run_days, clean_days), strict=True)
    }


def _ring(ctx: _Context, want: set[str]) -> Columns:
    p, out = ctx.params, {}
    if any(n.startswith("device_customers_") for n in want):
        ((dw, dsuffix),) = _windows(p.device_window)
        device = ctx.keyed("device_id")
        name = f"device_customers_{dsuffix}"
        out[name] = device.distinct_others(ctx.codes("customer_id"), dw, ctx.column(name))
        out[name][device.missing] = np.nan
    ((pw, psuffix),) = _windows(p.pair_window)
    name = f"pair_count_{psuffix}"
    out[name] = ctx.keyed("customer_id").count_same(ctx.codes("merchant_id"), pw, ctx.column(name))
    off = np.abs(ctx.amount - _ROUND_TO * np.round(ctx.amount / _ROUND_TO))
    out["is_round_amount"] = np.less(off, _ROUND_TOL, out=ctx.column("is_round_amount"))
    return out


_FAMILY: dict[str, Callable[[_Context, set[str]], Columns]] = {
    "calendar": _calendar,
    "customer_velocity": _customer_velocity,
    "customer_history": _customer_history,
    "merchant": _merchant,
    "merchant_risk": _merchant_risk,
    "customer_fraud_history": _customer_fraud_history,
    "merchant_fraud_history": _merchant_fraud_history,
    "ring": _ring,
    "graph": graph_family,
    "compromise": compromise_family,
    "amount": lambda ctx, want: {"amount": ctx.amount},
}


def _check(tx: pd.DataFrame) -> None:
    """Catch frames that skipped :func:`okml.schema.validate` before they give odd numbers."""
    missing = [c for c in REQUIRED if c not in tx.columns]
    if missing:
        raise DataError(f"missing required column(s) {', '.join(missing)}", column=missing[0])
    for column in ("timestamp", "account_created_at", "label_time"):
        if column in tx.columns and not isinstance(tx[column].dtype, pd.DatetimeTZDtype):
            raise DataError(
                f"expected timezone-aware datetimes, found {tx[column].dtype}; "
                "pass transactions through okml.schema.validate (or okml.data.load) first",
                column=column,
            )
    if not pd.api.types.is_numeric_dtype(tx["amount"].dtype):
        raise DataError(f"amount must be numeric, found {tx['amount'].dtype}", column="amount")


def build_features(
    tx: pd.DataFrame,
    params: FeatureParams,
    progress: bool = False,
    *,
    names: list[str] | None = None,
    given: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every transaction.

    Each row's features use only transactions earlier in the order (timestamp,
    transaction_id) and fraud labels whose ``label_time`` is strictly before its timestamp.
    See the module docstring for the exact window definition, and
    :func:`~okml.features.registry.lookback` for the history a slice needs.

    Parameters
    ----------
    tx:
        Canonical transactions (validated), in any order. Not modified.
    params:
        The ``features`` section of the parameters.
    progress:
        Show a progress bar over families.
    names:
        Compute only these features (default: all of
        :func:`~okml.features.registry.feature_names`), in that order.
    given:
        Intermediates computed elsewhere, each an array in ``tx``'s row order (see
        :func:`intermediates`): ``median_ratio`` (each payment's amount over its customer's
        recent median) and ``global_rate_S`` (the share of known fraud among all payments
        in the trailing ``S`` seconds). With them, a partition of the data holding whole
        merchants computes the merchant features exactly as over all data.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per input row in input order, indexed by ``transaction_id``;
        columns :func:`~okml.features.registry.feature_names`, all float64 (flags 0/1),
        NaN where undefined (e.g. no earlier payment).

    Raises
    ------
    DataError
        A required column is missing, or time columns are not timezone-aware datetimes
        (the frame was not validated).
    """
    _check(tx)
    every = feature_names(params, tx.columns)
    if names is None:
        names = every
    else:
        unknown = [n for n in names if n not in every]
        if unknown:
            raise FeatureError(f"unknown or disabled feature(s) {', '.join(unknown[:5])}")
    index = pd.Index(tx["transaction_id"], name="transaction_id")
    # one float64 block, filled column by column: no second copy when the frame is built.
    # Not initialised: every column is written below or the call fails (unwritten names are
    # an error), so stale memory never gets out, and fresh pages are touched only once
    block = np.empty((len(names), len(tx)), dtype=np.float64)
    if len(tx) == 0:
        return pd.DataFrame(block.T, index=index, columns=names, copy=False)
    ctx = _Context(tx, params, given)
    row = ctx.tl.input_rows()  # row[i] = pos of input row i, or None when already sorted
    want = set(names)
    slot = {name: i for i, name in enumerate(names)}
    # families fill the table's rows directly, in pos order; rows of input not in that
    # order are put in input order at the end
    ctx.place(block, slot)
    specs = registry(params)
    families = [f for f in FAMILIES if any(specs[n].family == f for n in names)]
    bar = tqdm(families, desc="features", unit="family", disable=not progress)
    written: dict[str, str] = {}
    for family in bar:
        bar.set_postfix_str(family)
        for name, values in _FAMILY[family](ctx, want).items():
            _check_emitted(name, family, specs, written)
            if name in slot:
                if not ctx.in_place(name, values):  # computed elsewhere: copy it in
                    block[slot[name]] = values
                written[name] = family
    unwritten = [n for n in names if n not in written]
    if unwritten:
        raise FeatureError(
            f"registered feature(s) {', '.join(unwritten[:5])} were computed by no "
            f"family (family {specs[unwritten[0]].family!r} should emit them); "
            "this is a bug in okml"
        )
    if row is not None:
        _to_input_order(block, row)
    _check_finite(block, names, index)
    return pd.DataFrame(block.T, index=index, columns=names, copy=False)


def _to_input_order(block: np.ndarray, row: np.ndarray) -> None:
    """Reorder each row of ``block`` from ``pos`` order to input order (``row[i]``: the pos
    of input row ``i``), in place through one scratch row."""
    scratch = np.empty(block.shape[1])
    for values in block:
        np.copyto(scratch, values)
        np.take(scratch, row, out=values, mode="clip")  # "clip": no buffering; rows are valid


def _check_emitted(name: str, family: str, specs: dict, written: dict[str, str]) -> None:
    """A family may emit only names the registry gives it, each once: a misspelled or
    foreign name would otherwise be dropped without a word."""
    spec = specs.get(name)
    if spec is None or spec.family != family:
        owner = f"registered to family {spec.family!r}" if spec is not None else "not registered"
        raise FeatureError(
            f"family {family!r} computed feature {name!r}, which is {owner}; this is a bug in okml"
        )
    if name in written:
        raise FeatureError(
            f"feature {name!r} was computed twice (families {written[name]!r} and "
            f"{family!r}); this is a bug in okml"
        )


def _check_finite(block: np.ndarray, names: list[str], index: pd.Index) -> None:
    """No feature is ever +-inf: validated amounts are bounded (``data.amount_min`` ..
    ``data.amount_max``), so an infinity is a defect here, never a value to hand a model."""
    if not kernels().any_infinite(np.ascontiguousarray(block, dtype=np.float64)):
        return
    inf = np.isinf(block)
    if inf.any():
        col, row = (int(i[0]) for i in np.nonzero(inf))
        raise FeatureError(
            f"feature {names[col]} is infinite for {int(inf[col].sum())} transaction(s) "
            f"(e.g. {index[row]!r}); this is a bug in okml: please report it with those rows"
        )


def rate_windows(params: FeatureParams) -> list[int]:
    """The windows (seconds) whose all-merchant fraud share ``merch_risk_w`` smooths with."""
    return [w for w, _ in _windows(params.merchant_windows)]


def intermediates(tx: pd.DataFrame, params: FeatureParams, which: list[str]) -> pd.DataFrame:
    """Quantities that :func:`build_features` takes as ``given``, in ``tx``'s row order and
    indexed by ``transaction_id``: ``median_ratio`` needs whole customers in ``tx``,
    ``global_rate_S`` every payment of the trailing ``S`` seconds before the rows it is
    read for (a slice of time with that much history before it)."""
    _check(tx)
    index = pd.Index(tx["transaction_id"], name="transaction_id")
    if len(tx) == 0:
        return pd.DataFrame({w: np.zeros(0) for w in which}, index=index)
    ctx = _Context(tx, params)
    row = ctx.tl.input_rows()
    out = {}
    for name in which:
        if name == "median_ratio":
            values = ctx.median_ratio
        elif name.startswith("global_rate_"):
            values = ctx.global_rate(int(name.removeprefix("global_rate_")))
        else:
            raise FeatureError(f"unknown intermediate {name!r}; this is a bug in okml")
        out[name] = values if row is None else values[row]
    return pd.DataFrame(out, index=index)


def feature_matrix(tx: pd.DataFrame, params: FeatureParams, progress: bool = False) -> pd.DataFrame:
    """Point-in-time features of ``tx`` as float64 columns, one row per transaction in ``tx``'s
    order (a RangeIndex): what models are fitted on and score."""
    return check_feature_matrix(build_features(tx, params, progress=progress), tx)


def check_feature_matrix(feats: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    """A feature table given for ``tx`` (built here or elsewhere) as the float64 matrix.

    Raises
    ------
    DataError
        Rows that are not one per transaction in order, or a non-numeric feature.
    """
    if len(feats) != len(tx):
        raise DataError(f"feature table has {len(feats):,} rows for {len(tx):,} transactions")
    if feats.index.name == "transaction_id" and not np.array_equal(
        feats.index.to_numpy(), tx["transaction_id"].to_numpy()
    ):
        raise DataError("feature rows are not in transaction order")
    bad = [
        c
        for c in feats.columns
        if not (pd.api.types.is_numeric_dtype(feats[c]) or pd.api.types.is_bool_dtype(feats[c]))
    ]
    if bad:
        raise DataError(f"features must be numeric; not: {', '.join(map(str, bad[:5]))}")
    return feats.reset_index(drop=True).astype("float64")
